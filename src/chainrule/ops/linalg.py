"""Matrix products: ``matmul`` (NumPy's rules: 1-D, 2-D, batched with broadcast
batch dims) and the lesson's ``Linear`` (k·x + b, or x @ k + b for matrices)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtype import PROMOTE
from ..op import Op
from .shape import squeeze, unsqueeze
from .threads import product


def matmul_vjp(g: Any, a: Any, b: Any, need_a: bool = True, need_b: bool = True) -> tuple:
    """Gradients of ``a @ b`` for every case of ``np.matmul``: ga = g @ bᵀ, gb = aᵀ @ g.

    A 1-D operand was promoted to a matrix by matmul and the added axis
    removed from the result, so its gradient gets that axis back (and then
    loses it again). Broadcast batch dimensions are summed by the engine.
    """
    a_vec, b_vec = a.ndim == 1, b.ndim == 1  # ndarrays and nodes both have .ndim
    if a_vec and b_vec:  # inner product: a scalar
        return (g * b if need_a else None, g * a if need_b else None)
    if a_vec:  # (n,) @ (..., n, m) -> (..., m)
        ga = squeeze(unsqueeze(g, -2) @ b.mT, -2) if need_a else None
        gb = unsqueeze(a, -1) * unsqueeze(g, -2) if need_b else None
        return (ga, gb)
    if b_vec:  # (..., k, n) @ (n,) -> (..., k)
        ga = unsqueeze(g, -1) * b if need_a else None
        gb = squeeze(a.mT @ unsqueeze(g, -1), -1) if need_b else None
        return (ga, gb)
    # .mT (the last two axes swapped) is a view on arrays and a SwapAxes node on nodes
    return (product(g, b.mT) if need_a else None, product(a.mT, g) if need_b else None)


class MatMul(Op):
    """a @ b; ∂/∂a = g @ bᵀ, ∂/∂b = aᵀ @ g."""

    vjp_reads = ("inputs",)
    dtypes = PROMOTE
    formula = "{0} @ {1}"
    derivatives = ("· {1}ᵀ", "{0}ᵀ ·")

    def forward(self, a: Any, b: Any) -> Any:
        return product(a, b)

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return matmul_vjp(g, a, b, self.inputs[0].requires_grad, self.inputs[1].requires_grad)


class Linear(Op):
    """The lesson's node: k·x + b for scalars (or elementwise), x @ k + b when x and k
    are both at least 1-D matrices/vectors. ∂/∂x = k, ∂/∂k = x, ∂/∂b = 1.

    One fused node instead of a product and a sum: the common layer costs one step.
    """

    vjp_reads = (0, 1)  # x and k: the bias gets g as it is
    dtypes = PROMOTE

    @property
    def formula(self) -> str:
        return "{0} @ {1} + {2}" if self._matrix_mode() else "{1}·{0} + {2}"

    @property
    def derivatives(self) -> tuple:
        return ("· {1}ᵀ", "{0}ᵀ ·", "1") if self._matrix_mode() else ("{1}", "{0}", "1")

    def _matrix_mode(self) -> bool:
        x, k = (n.value for n in self.inputs[:2])
        return self._is_matrix(x, k)

    @staticmethod
    def _is_matrix(x: Any, k: Any) -> bool:
        # getattr rather than np.ndim: this runs on every scalar step of the lesson's graph
        return getattr(k, "ndim", 0) >= 2 and getattr(x, "ndim", 0) >= 1

    def forward(self, x: Any, k: Any, b: Any) -> Any:
        if self._is_matrix(x, k):
            out = product(x, k)
            try:  # in place on the fresh product: one pass, no temporary
                return np.add(out, b, out=out)
            except ValueError:  # b broadcasts to a bigger shape than the product
                return out + b
        return k * x + b

    def vjp(self, g: Any, out: Any, x: Any, k: Any, b: Any) -> tuple[Any, ...]:
        need_x, need_k = self.inputs[0].requires_grad, self.inputs[1].requires_grad
        if self._is_matrix(x, k):
            return (*matmul_vjp(g, x, k, need_x, need_k), g)
        return (g * k if need_x else None, g * x if need_k else None, g)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product with NumPy's rules (1-D, 2-D, batched, broadcast batch dims)."""
    return MatMul.apply(a, b)


def linear(x: Any, k: Any, b: Any) -> Any:
    """The lesson's linear node: ``x @ k + b`` for matrices, ``k*x + b`` for scalars.

    Note the weight layout: ``k`` is (in, out), so this is ``x @ k``; PyTorch's
    ``F.linear(x, W, b)`` is ``x @ W.T + b`` with W of shape (out, in).
    """
    return Linear.apply(x, k, b)
