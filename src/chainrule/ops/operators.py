"""Python's operators and the familiar tensor methods, installed on ``Node``.

They live here rather than in ``node.py`` because each one builds an op node,
and ``ops/`` sits above ``node.py``. ``a + 1`` and ``1 + a``, ``a @ W`` and
``X @ W`` with an ndarray X all work; Python numbers take the node's dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import describe
from ..node import Node, as_node
from . import activations as act
from . import arithmetic as ar
from . import elementwise as el
from . import indexing as ix
from . import linalg as la
from . import reduce as rd
from . import select as sel
from . import shape as sh
from . import special as sp
from . import stats as st


def _binary(op: Any) -> tuple:
    # Lift the other operand here, where the node to take the dtype from is known:
    # the op then gets two nodes and skips its general lifting.
    def forward(self: Node, other: Any) -> Node:
        return op(self, other if isinstance(other, Node) else as_node(other, self))

    def reflected(self: Node, other: Any) -> Node:
        return op(as_node(other, self), self)

    return forward, reflected


def _comparison(relation: str) -> Any:
    def compare(self: Node, other: Any) -> Node:
        return el.Compare(self, other, relation=relation)

    return compare


# the tensor methods: node.sum(axis=1) is cr.sum(node, axis=1), and so on
METHODS: dict[str, Callable[..., Any]] = {
    "sum": rd.sum,
    "mean": rd.mean,
    "max": rd.max,
    "min": rd.min,
    "prod": rd.prod,
    "argmax": rd.argmax,
    "argmin": rd.argmin,
    "cumsum": rd.cumsum,
    "var": st.var,
    "std": st.std,
    "logsumexp": st.logsumexp,
    "norm": st.norm,
    "exp": el.exp,
    "log": el.log,
    "sqrt": el.sqrt,
    "sin": el.sin,
    "cos": el.cos,
    "abs": ar.abs,
    "log1p": sp.log1p,
    "expm1": sp.expm1,
    "erf": sp.erf,
    "clip": el.clip,
    "astype": el.astype,
    "sigmoid": act.sigmoid,
    "tanh": act.tanh,
    "relu": act.relu,
    "softmax": act.softmax,
    "log_softmax": act.log_softmax,
    "flip": sh.flip,
    "masked_fill": sel.masked_fill,
    "tril": sel.tril,
    "triu": sel.triu,
    "split": sel.split,
    "chunk": sel.chunk,
    "gather": sel.gather,
    "reshape": sh.reshape,
    "transpose": sh.transpose,
    "permute": sh.permute,
    "swapaxes": sh.swapaxes,
    "squeeze": sh.squeeze,
    "unsqueeze": sh.unsqueeze,
    "expand": sh.expand,
    "broadcast_to": sh.broadcast_to,
    "matmul": la.matmul,
    "sum_to_size": sh.sum_to_shape,
}

BINARY = {
    "add": ar.Add,
    "sub": ar.Sub,
    "mul": ar.Mul,
    "truediv": ar.Div,
    "floordiv": ar.FloorDivide,
    "mod": ar.Remainder,
    "pow": ar.Pow,
    "matmul": la.MatMul,
}
COMPARISONS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def _neg(self: Node) -> Node:
    return ar.Neg(self)


def _pos(self: Node) -> Node:
    return self


def _abs(self: Node) -> Node:
    return ar.Abs(self)


def _getitem(self: Node, index: Any) -> Node:
    return ix.getitem(self, index)


def _iter(self: Node) -> Iterator[Node]:
    """The rows along the first axis, each a ``self[i]`` node (``for row in x``, ``list(x)``,
    unpacking); a 0-d node is not iterable, as in PyTorch and NumPy."""
    if self.value is None or np.ndim(self.value) == 0:
        what = "has no value yet" if self.value is None else "is 0-d"
        raise TypeError(f"iteration over {describe(self)}, which {what}")
    return (ix.getitem(self, i) for i in range(len(self.value)))


# the unary operators, indexing and the transposes
SPECIAL: dict[str, Any] = {
    "__neg__": _neg,
    "__pos__": _pos,
    "__abs__": _abs,
    "__getitem__": _getitem,
    "__iter__": _iter,
    "T": property(lambda self: sh.transpose(self)),
    "mT": property(lambda self: sh.swapaxes(self, -1, -2)),  # NumPy 2's matrix transpose
}


def install() -> None:
    """Attach operators and methods to ``Node`` (idempotent; they are declared for type
    checkers in ``arraylike.py``)."""
    for name, op in BINARY.items():
        forward, reflected = _binary(op)
        setattr(Node, f"__{name}__", forward)
        setattr(Node, f"__r{name}__", reflected)
    for name, relation in COMPARISONS.items():
        setattr(Node, f"__{name}__", _comparison(relation))
    for name, fn in {**SPECIAL, **METHODS}.items():
        setattr(Node, name, fn)
