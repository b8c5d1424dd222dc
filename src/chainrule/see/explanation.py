"""What an explanation of a gradient is made of: ``Explanation``, ``Path``, ``Factor``, ``EdgeGroup``.

``explain.py`` (and ``element.py``, ``slogans.py``) build these; ``render.py``
writes them as text in English or Chinese; the drawing highlights their
paths; the HTML explorer reads them. They hold the nodes themselves, the
formulas as ``symbols.Sym`` (whose ``.text`` parses back with ``chainrule
explain``'s parser), the numbers as NumPy values, and notes as (phrase key,
fields) pairs so that any language can word them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..node import Node
from .chain import is_scalar
from .phrases import check_lang
from .render import render
from .symbols import Sym

__all__ = ["EdgeGroup", "Explanation", "Factor", "Path", "MAX_PATHS", "bounded_groups"]

MAX_PATHS = 64


@dataclass(frozen=True, eq=False)
class Factor:
    """One edge on a path: the local derivative ∂op/∂input.

    ``op``, ``index``: the edge ``op.inputs[index] → op``. ``symbol``: ``∂linear/∂k``.
    ``form``: its formula as a ``symbols.Sym`` (``local`` is its text): the local
    derivative when the op's output is one element, else the vjp of ``g``, the
    gradient from the step above; it parses back with ``chainrule explain``'s
    parser; None for an op that gives none. ``value``: the local derivative
    as a number when both ends are one element, else None. ``gradient``: this
    path's gradient after the step (its share of ∂output/∂input), None before
    any forward pass. ``summed``: the axes summed to undo broadcasting.
    ``notes``: (phrase key, fields) for the counts and rules the formula uses.
    ``out_index``, ``in_index``: the elements, when following one element.
    """

    op: Node
    index: int
    symbol: str
    form: Sym | None
    value: Any
    out_shape: tuple
    in_shape: tuple
    gradient: np.ndarray | None = None
    summed: tuple = ()
    notes: tuple = ()
    out_index: tuple | None = None
    in_index: tuple | None = None

    @property
    def input(self) -> Node:
        return self.op.inputs[self.index]

    @property
    def local(self) -> str | None:
        return None if self.form is None else self.form.text


@dataclass(frozen=True, eq=False)
class Path:
    """One path from the output down to the node: its factors (output side first), its
    share of the gradient, and its whole formula (the factors' forms composed)."""

    factors: tuple[Factor, ...]
    contribution: np.ndarray | None
    formula: Sym | None = None

    @property
    def value(self) -> float | None:
        """The path's product as a number (scalars only)."""
        contribution = self.contribution
        return float(contribution) if contribution is not None and is_scalar(contribution) else None

    @property
    def nodes(self) -> list[Node]:
        """The nodes along the path, from the output down to the node."""
        if not self.factors:
            return []
        return [self.factors[0].op] + [f.input for f in self.factors]


@dataclass(frozen=True, eq=False)
class EdgeGroup:
    """All paths whose last step is one edge ``op.inputs[index] → op`` into the node (the
    summary form): ``count`` paths adding up to ``contribution`` (None in the symbols stage).
    The last group of a long summary stands for the ``edges`` smallest ones together; its
    ``op`` is None."""

    op: Node | None
    index: int
    symbol: str
    count: int
    contribution: np.ndarray | None
    edges: int = 1


GROUPS = 6  # a summary lists the biggest groups, then one group for all the rest


def bounded_groups(
    edges: list[tuple[Node, int, int]], symbol: Any, contribution: Any, total: Any
) -> tuple[EdgeGroup, ...]:
    """The ``GROUPS`` biggest of ``edges`` (op, input index, path count) with their symbols
    (``symbol(op, index)``) and contributions (``contribution(op, index)``), and one group
    for the rest, which adds up to ``total`` minus the ones shown (None when there are no
    numbers yet). Only the groups shown are worked out: a 500,000-edge sum costs six."""
    ranked = sorted(edges, key=lambda e: -e[2])
    shown = [
        EdgeGroup(op, i, symbol(op, i), count, None if total is None else contribution(op, i))
        for op, i, count in ranked[:GROUPS]
    ]
    rest = ranked[GROUPS:]
    if rest:
        # with a total every group shown has its contribution
        remainder = (
            None
            if total is None
            else np.asarray(total) - sum(g.contribution for g in shown if g.contribution is not None)
        )
        shown.append(EdgeGroup(None, -1, "", sum(e[2] for e in rest), remainder, len(rest)))
    return tuple(shown)


@dataclass(eq=False)
class Explanation:
    """∂output/∂node by the chain rule. ``str()`` writes it out; the fields are the data.

    ``paths`` lists every path (empty when there are more than ``max_paths``,
    then ``groups`` summarises them by their last edge); ``n_paths`` counts
    them exactly; ``gradient`` is ∂output/∂node from backpropagation, which
    equals the sum of the paths' contributions (None in the symbols stage:
    ``symbolic`` is True before any forward pass). ``element``: the element
    followed, if any (then ``gradient`` is that element's). ``flags``:
    (phrase key, fields) for each NaN or infinity and where it appeared.
    """

    output: Node
    node: Node
    paths: tuple[Path, ...]
    n_paths: int
    gradient: np.ndarray | None
    max_paths: int = MAX_PATHS
    groups: tuple[EdgeGroup, ...] = field(default=())
    lang: str = "en"
    element: tuple | None = None
    flags: tuple = ()
    symbolic: bool = False

    @property
    def summarised(self) -> bool:
        return self.n_paths > self.max_paths

    @property
    def value(self) -> float | None:
        """The gradient as a number (scalars only)."""
        gradient = self.gradient
        return float(gradient) if gradient is not None and is_scalar(gradient) else None

    @property
    def wrt(self) -> str:
        """The name of what is differentiated: ``W1``, or ``W1[0, 2]`` for one element."""
        if self.element is None:
            return self.node.name
        return f"{self.node.name}[{', '.join(map(str, self.element))}]"

    def render(self, lang: str | None = None) -> str:
        """The explanation as text in ``lang`` ("en" or "zh"; default: the one it was made with)."""
        return render(self, check_lang(lang or self.lang))

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"<Explanation ∂{self.output.name}/∂{self.wrt}: {self.n_paths} path(s)>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.render())}</pre>"
