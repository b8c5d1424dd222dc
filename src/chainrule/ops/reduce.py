"""Reductions along axes: sum, mean, max, min, var (``axis`` int or tuple, ``keepdims``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..op import Op
from .arithmetic import div
from .shape import broadcast_to, reshape


def _axes(axis: Any, ndim: int) -> tuple:
    """``axis`` as a tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(int(a) % ndim if ndim else 0 for a in axis)


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    """``shape`` with the reduced axes kept as length 1 (what keepdims=True gives)."""
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple, axis: Any) -> int:
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))], dtype=np.int64))


def _spread(g: Any, x: Any, axis: Any) -> Any:
    """A reduced gradient put back on every element it came from (keepdims, then broadcast)."""
    shape = np.shape(x)
    return broadcast_to(reshape(g, _kept_shape(shape, axis)), shape)


class _Reduction(Op):
    """A reduction over ``axis`` (None for all, an int or a tuple), keeping the reduced
    axes as length 1 with ``keepdims``."""

    axis = None
    keepdims = False

    def check_options(self) -> None:
        self.check_axis("axis")
        self.check_choice("keepdims", (False, True))


class Sum(_Reduction):
    """Σ x over ``axis``; ∂/∂xᵢ = 1, so the gradient is spread back over the summed axes."""

    formula = "Σ{0}"
    derivatives = ("1",)

    def forward(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, g, out, x):
        return (_spread(g, x, self.axis),)


class Mean(_Reduction):
    """mean of x over ``axis``; ∂/∂xᵢ = 1/n."""

    formula = "mean({0})"
    derivatives = ("1/n",)

    def forward(self, x):
        return np.mean(x, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, g, out, x):
        return (_spread(g / _count(np.shape(x), self.axis), x, self.axis),)


class Max(_Reduction):
    """max of x over ``axis``; the gradient goes to the maximal elements (split evenly on ties)."""

    formula = "max({0})"
    derivatives = ("[xᵢ = max]",)
    _pick = staticmethod(np.max)

    def forward(self, x):
        return self._pick(x, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, g, out, x):
        hit = x == _spread(out, x, self.axis)
        share = _spread(g, x, self.axis) * hit
        ties = _spread(sum(hit, axis=self.axis, keepdims=True), x, self.axis)
        return (div(share, ties),)  # chainrule's div: an integer count takes the gradient's dtype


class Min(Max):
    """min of x over ``axis``; the gradient goes to the minimal elements (split evenly on ties)."""

    formula = "min({0})"
    derivatives = ("[xᵢ = min]",)
    _pick = staticmethod(np.min)


class Var(_Reduction):
    """Variance over ``axis`` with ``ddof`` (NumPy's default 0); ∂/∂xᵢ = 2(xᵢ - x̄)/(n - ddof)."""

    ddof = 0
    formula = "var({0})"
    derivatives = ("2(x-x̄)/(n-ddof)",)

    def check_options(self) -> None:
        super().check_options()
        if not (isinstance(self.ddof, (int, np.integer)) and self.ddof >= 0):
            raise self.option_error("ddof", "is not an int >= 0")

    def forward(self, x):
        return np.var(x, axis=self.axis, keepdims=self.keepdims, ddof=self.ddof)

    def vjp(self, g, out, x):
        centred = x - mean(x, axis=self.axis, keepdims=True)
        scale = 2.0 / (_count(np.shape(x), self.axis) - self.ddof)
        return (_spread(g, x, self.axis) * centred * scale,)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``axis`` (int, tuple or None for all)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis``."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis`` (like ``np.max`` / ``torch.amax``)."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``."""
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over ``axis`` (``ddof=1`` for the unbiased estimate, torch's default)."""
    return Var.apply(x, axis=axis, keepdims=keepdims, ddof=ddof)
