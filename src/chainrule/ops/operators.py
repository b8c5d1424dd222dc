"""Python's operators and the familiar tensor methods, installed on ``Node``.

They live here rather than in ``node.py`` because each one builds an op node,
and ``ops/`` sits above ``node.py``. ``a + 1`` and ``1 + a``, ``a @ W`` and
``X @ W`` with an ndarray X all work; Python numbers take the node's dtype.
"""

from __future__ import annotations

from typing import Any

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


def install() -> None:
    """Attach operators and methods to ``Node`` (idempotent)."""
    for name, op in (
        ("add", ar.Add),
        ("sub", ar.Sub),
        ("mul", ar.Mul),
        ("truediv", ar.Div),
        ("pow", ar.Pow),
        ("matmul", la.MatMul),
    ):
        forward, reflected = _binary(op)
        setattr(Node, f"__{name}__", forward)
        setattr(Node, f"__r{name}__", reflected)
    for name, relation in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")):
        setattr(Node, f"__{name}__", _comparison(relation))
    Node.__neg__ = lambda self: ar.Neg(self)
    Node.__pos__ = lambda self: self
    Node.__abs__ = lambda self: ar.Abs(self)
    Node.__getitem__ = lambda self, index: ix.getitem(self, index)

    methods = {
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
    for name, fn in methods.items():
        setattr(Node, name, fn)
    Node.T = property(lambda self: sh.transpose(self))
    Node.mT = property(lambda self: sh.swapaxes(self, -1, -2))  # NumPy 2's matrix transpose
