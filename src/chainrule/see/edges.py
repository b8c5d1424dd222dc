"""An edge of the graph as its formula sees it, and the registry of each op's formula.

``Edge(op, index, g)`` is the edge ``op.inputs[index] → op``: it names the
input, the op and the upstream gradient ``g`` as ``symbols.Sym`` pieces, and
collects notes on the counts and rules a formula uses. ``FORMS`` maps each op
class to its rule (``forms_elementwise.py``, ``forms_tensor.py``); ``forms.py``
looks the rule up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np

from ..node import Constant, Node
from . import symbols as s
from .symbols import Sym

Note = tuple[str, dict[str, Any]]  # (phrase key, fields): phrases.py words it
OpT = TypeVar("OpT", bound=Node, covariant=True)


class Edge(Generic[OpT]):
    """One edge ``input → op`` seen from the op, with the names its formula uses.

    ``Edge[ops.Softmax]``: an edge into a softmax, whose formula reads its options
    (``e.op.axis``). ``g``: the symbol of the upstream gradient (``symbols.ONE`` for a local
    derivative). ``notes`` collects (phrase key, fields) pairs that explain
    the counts and rules the formula uses; ``phrases.py`` words them.
    Subclasses change how nodes are named (one element: ``W1[0, 2]``).
    """

    def __init__(self, op: OpT, index: int, g: Sym = s.ONE) -> None:
        self.op, self.index, self.g = op, index, g
        self.notes: list[Note] = []

    def value(self, i: int) -> Any:
        """Input ``i``'s value where the formula is read (all of it here; one element in ``element.py``)."""
        return self.op.inputs[i].value

    def whole(self, i: int) -> Any:
        """Input ``i``'s whole value (for counts and shapes)."""
        return self.op.inputs[i].value

    def size(self) -> int:
        """How many elements the op's inputs broadcast to (what a loss averages over)."""
        return int(np.broadcast(*[np.asarray(n.value) for n in self.op.inputs]).size)

    def x(self, i: int) -> Sym:
        """Input ``i`` as a symbol (a number constant as it was written)."""
        node = self.op.inputs[i]
        if isinstance(node, Constant) and np.size(node.value) == 1 and not _named(node):
            return s.name(node.name)  # a number as it was written: 2, -2, 0.5
        return s.name(node.name, scalar=np.size(node.value) == 1)

    @property
    def out(self) -> Sym:
        return s.name(self.op.name, scalar=np.size(self.op.value) == 1)

    def count(self, n: int, examples: bool = False) -> Sym:
        """The symbol ``n`` for a count that the op divides by (elements, or examples of a
        classification loss), with a note giving its value."""
        taken = {node.name for node in self.op.inputs} | {self.op.name}
        symbol = next(c for c in ("n", "N", "n₁", "n₂") if c not in taken)
        self.note("note.count_examples" if examples else "note.count_elements", n=symbol, value=n, op=self.op.name)
        return Sym(symbol)

    def constant(self, name: str, value: float) -> Sym:
        """A constant the parser knows (``pi``) by its name, or by its number when a node here
        takes that name."""
        taken = {node.name for node in self.op.inputs} | {self.op.name}
        return Sym(name) if name not in taken else s.number(value)

    def note(self, key: str, **fields: Any) -> None:
        if (key, fields) not in self.notes:
            self.notes.append((key, fields))

    def where(self, mask: Any) -> int:
        """How many elements ``mask`` holds (the rule's special case applies to them)."""
        return int(np.count_nonzero(mask))


def _named(node: Node) -> bool:
    """A constant the user named (not a number literal written in a formula)."""
    try:
        float(node.name)
        return False
    except ValueError:
        return True


# An op's formula: its edge in, the vjp along it out (None when nothing flows). Each rule
# names the op class it reads in its edge's type (``Edge[ops.Sum]``); FORMS finds it by class.
Rule = Callable[[Edge[Any]], "Sym | None"]
FORMS: dict[type[Node], Rule] = {}
R = TypeVar("R", bound=Rule)


def rule(*classes: type[Node]) -> Callable[[R], R]:
    """Register the decorated formula for the op ``classes`` (and their subclasses)."""

    def register(function: R) -> R:
        for cls in classes:
            FORMS[cls] = function
        return function

    return register


def plain_number(value: Any) -> Sym:
    """A number, whole ones without ".0" (an exponent of 2 - 1 is written 1)."""
    if not float(value).is_integer():
        return s.number(value)
    return Sym(str(int(value)), s.ATOM if value >= 0 else s.UNARY, one=value == 1)
