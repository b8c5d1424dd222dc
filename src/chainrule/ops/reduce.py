"""Reductions along axes: sum, mean, max, min, prod, argmax, argmin, and the scan cumsum.

``axis`` is None (all axes), an int or a tuple, negative counting from the end,
resolved on the value the op gets (``axes.py``: a 0-d value accepts 0 and -1).
Sums are pairwise (``broadcast.accurate_sum``); a mean over nothing is NaN and
a sum 0, silently, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..broadcast import accurate_sum
from ..node import value_of
from ..op import Op
from .arithmetic import div
from .axes import normalize_axes, normalize_axis, numpy_names
from .elementwise import where
from .shape import broadcast_to, flip, reshape


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` kept as length 1 (what keepdims=True gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape: tuple, axes: tuple) -> int:
    """How many elements each output element of a reduction over ``axes`` gathers."""
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def spread(g: Any, x: Any, axes: tuple) -> Any:
    """A reduced gradient put back on every element it came from (keepdims, then broadcast)."""
    shape = np.shape(x)
    return broadcast_to(reshape(g, kept_shape(shape, axes)), shape)


def stable_mean(x: np.ndarray, axes: tuple) -> np.ndarray:
    """The mean over ``axes`` (kept as length 1), corrected once: m + mean(x - m). Rows of
    one constant give exactly that constant (float32 rows of 1e4 + 0.1 normalise to 0, as
    in PyTorch); a mean over nothing is NaN."""
    n = count(np.shape(x), axes)
    if n == 0:
        return np.full(kept_shape(np.shape(x), axes), np.nan, dtype=np.result_type(x, np.float32))
    m = accurate_sum(x, axes, keepdims=True) / n
    if x.dtype.kind != "f":
        return m
    with np.errstate(invalid="ignore", over="ignore"):
        corrected = m + accurate_sum(x - m, axes, keepdims=True) / n
    return np.where(np.isfinite(corrected), corrected, m)


class Reduction(Op):
    """A reduction over ``axis`` (None for all, an int or a tuple), keeping the reduced
    axes as length 1 with ``keepdims``. ``axes(x)``: the axes it reduces on this value."""

    axis = None
    keepdims = False

    def check_options(self) -> None:
        self.check_axis("axis")
        self.check_choice("keepdims", (False, True))

    def axes(self, x: Any) -> tuple:
        return normalize_axes(self.axis, np.ndim(x))

    def finish(self, kept: Any, x: Any, axes: tuple) -> Any:
        """A result computed with the reduced axes kept, shaped as ``keepdims`` asks."""
        return kept if self.keepdims else np.reshape(kept, [n for i, n in enumerate(np.shape(x)) if i not in axes])


class Sum(Reduction):
    """Σ x over ``axis``; ∂/∂xᵢ = 1, so the gradient is spread back over the summed axes."""

    formula = "Σ{0}"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        return accurate_sum(x, self.axes(x), self.keepdims)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (spread(g, x, self.axes(x)),)


class Mean(Reduction):
    """mean of x over ``axis``; ∂/∂xᵢ = 1/n. NaN over an empty axis, silently."""

    formula = "mean({0})"
    derivatives = ("1/n",)

    def forward(self, x: Any) -> Any:
        axes = self.axes(x)
        return self.finish(stable_mean(np.asarray(x), axes), x, axes)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        n = count(np.shape(x), axes)
        return (spread(g / n if n else g, x, axes),)


class Max(Reduction):
    """max of x over ``axis``; the gradient goes to the maximal elements (split evenly on
    ties, as ``torch.amax``). Over an empty axis it is an error, as in PyTorch."""

    formula = "max({0})"
    derivatives = ("[xᵢ = max]",)
    _pick = staticmethod(np.maximum.reduce)

    def forward(self, x: Any) -> Any:
        axes = self.axes(x)
        return self._pick(x, axis=axes, keepdims=self.keepdims) if axes else x  # type: ignore[arg-type]  # numpy's stubs take keepdims only as a literal

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        hit = x == spread(out, x, axes)
        share = spread(g, x, axes) * hit
        ties = spread(sum(hit, axis=axes, keepdims=True), x, axes)
        return (div(share, ties),)  # chainrule's div: an integer count takes the gradient's dtype


class Min(Max):
    """min of x over ``axis``; the gradient goes to the minimal elements (split evenly on ties)."""

    formula = "min({0})"
    derivatives = ("[xᵢ = min]",)
    _pick = staticmethod(np.minimum.reduce)


class Prod(Reduction):
    """Π x over ``axis``; ∂/∂xᵢ = Π_{j≠i} xⱼ, computed without dividing by zero: with no
    zero it is out/xᵢ, with one zero only that element gets the product of the others,
    with two or more every gradient is 0. (Second order is exact where no element is 0.)"""

    formula = "Π{0}"
    derivatives = ("Π_{j≠i} xⱼ",)

    def forward(self, x: Any) -> Any:
        return np.multiply.reduce(x, axis=self.axes(x), keepdims=self.keepdims)  # type: ignore[call-overload]  # numpy's stubs take keepdims only as a literal

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        zero = np.asarray(value_of(x)) == 0  # where the zeros are: data, no gradient through it
        others = prod(where(zero, 1.0, x), axis=axes, keepdims=True)  # product of the non-zeros
        zeros = np.add.reduce(zero, axis=axes, keepdims=True)
        local = where(zeros == 0, others / where(zero, 1.0, x), where((zeros == 1) & zero, others, 0.0))
        return (spread(g, x, axes) * local,)


class ArgMax(Reduction):
    """The index of the largest element over ``axis`` (None: of the flattened value), as
    int64; the first one on ties. Not differentiable (an index has no gradient)."""

    formula = "argmax({0})"
    differentiable = False
    _pick = staticmethod(np.argmax)

    def check_options(self) -> None:
        self.check_axis("axis", many=False)
        self.check_choice("keepdims", (False, True))

    def forward(self, x: Any) -> Any:
        if self.axis is None or np.ndim(x) == 0:
            index = self._pick(x)
            return np.reshape(index, (1,) * np.ndim(x)) if self.keepdims else np.asarray(index)
        return self._pick(x, axis=normalize_axis(self.axis, np.ndim(x)), keepdims=self.keepdims)


class ArgMin(ArgMax):
    """The index of the smallest element over ``axis`` (int64, not differentiable)."""

    formula = "argmin({0})"
    _pick = staticmethod(np.argmin)


class CumSum(Op):
    """Running sums along ``axis``; ∂/∂xᵢ = Σ_{j≥i} gⱼ: the reversed running sum of g."""

    axis = 0
    formula = "cumsum({0})"
    derivatives = ("Σ_{j≥i} gⱼ",)

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)

    def forward(self, x: Any) -> Any:
        axis = normalize_axis(self.axis, np.ndim(x))
        return x + 0 if axis is None else np.cumsum(x, axis=axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axis = normalize_axis(self.axis, np.ndim(x))
        if axis is None:
            return (g,)
        return (flip(cumsum(flip(g, axis), axis), axis),)


@numpy_names
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``axis`` (int, tuple or None for all), pairwise."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis``."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis`` (like ``np.max`` / ``torch.amax``)."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``."""
    return Min.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``; its gradient handles zeros (``torch.prod``)."""
    return Prod.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum over ``axis`` (of the flattened value for None); not differentiable."""
    return ArgMax.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum over ``axis`` (of the flattened value for None); not differentiable."""
    return ArgMin.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def cumsum(x: Any, axis: int) -> Any:
    """Running sum along ``axis`` (``torch.cumsum(x, dim)``)."""
    return CumSum.apply(x, axis=axis)
