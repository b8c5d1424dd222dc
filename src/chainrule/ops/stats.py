"""Statistics over axes: var, std, logsumexp and the vector norm.

Each is a ``Reduction`` (``axis`` None, int or tuple; ``keepdims``; PyTorch's
axis rule). Variance is two-pass around a corrected mean, so float32 rows of a
constant 1e4 + 0.1 have variance exactly 0 (layer and batch normalisation
depend on it). Degenerate points give PyTorch's values, silently: the variance
of one element with ``ddof=1`` is NaN; the gradient of ``std`` and ``norm`` at
a constant (zero) input is 0; ``logsumexp`` over nothing is -inf.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..broadcast import accurate_sum
from ..dtype import FLOAT
from .arithmetic import abs as absolute
from .axes import numpy_names
from .elementwise import exp, quiet, quiet_if_special, sign, where
from .reduce import Reduction, count, kept_shape, mean, spread, stable_mean
from .reduce import sum as reduce_sum


def _dof(x: Any, axes: tuple, ddof: int) -> int:
    """n - ddof, never below 0 (PyTorch's rule: then the variance is NaN or inf)."""
    return max(count(np.shape(x), axes) - ddof, 0)


class _Spread(Reduction):
    """A statistic with ``ddof`` (NumPy's name; PyTorch's ``correction``), 0 by default as
    in NumPy (pass ``ddof=1`` for PyTorch's default, the unbiased estimate)."""

    ddof = 0

    def check_options(self) -> None:
        super().check_options()
        if not (isinstance(self.ddof, (int, np.integer)) and not isinstance(self.ddof, bool) and self.ddof >= 0):
            raise self.option_error("ddof", "is not an int >= 0")

    def variance(self, x: np.ndarray, axes: tuple) -> np.ndarray:
        """Σ(x - x̄)²/(n - ddof) with the reduced axes kept."""
        centred = x - stable_mean(x, axes)
        squares = accurate_sum(centred * centred, axes, keepdims=True)
        dof = _dof(x, axes, self.ddof)
        if dof:
            return squares / dof
        with quiet():  # 0/0 = NaN (one element, ddof=1), as in PyTorch
            return squares / np.asarray(dof, squares.dtype)


class Var(_Spread):
    """Variance over ``axis`` with ``ddof``; ∂/∂xᵢ = 2(xᵢ - x̄)/(n - ddof) (NaN when n ≤ ddof)."""

    formula = "var({0})"
    derivatives = ("2(x-x̄)/(n-ddof)",)

    def forward(self, x: Any) -> Any:
        axes = self.axes(x)
        return self.finish(self.variance(np.asarray(x), axes), x, axes)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        dof = _dof(x, axes, self.ddof)
        centred = x - mean(x, axis=axes, keepdims=True)
        return (spread(g, x, axes) * centred * (2.0 / dof if dof else math.nan),)


class Std(_Spread):
    """Standard deviation √var over ``axis`` with ``ddof``; ∂/∂xᵢ = (xᵢ - x̄)/((n - ddof)·std),
    0 where std = 0 (a constant input, as ``torch.std``)."""

    formula = "std({0})"
    derivatives = ("(x-x̄)/((n-ddof)·std)",)

    def forward(self, x: Any) -> Any:
        axes = self.axes(x)
        return self.finish(np.sqrt(self.variance(np.asarray(x), axes)), x, axes)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        dof = _dof(x, axes, self.ddof)
        if not dof:
            return (spread(g, x, axes) * math.nan,)
        std = spread(out, x, axes)
        positive = std > 0
        centred = x - mean(x, axis=axes, keepdims=True)
        return (spread(g, x, axes) * where(positive, centred / (dof * where(positive, std, 1.0)), 0.0),)


class LogSumExp(Reduction):
    """log Σ eˣ over ``axis``, shifted by the max (no overflow); ∂/∂xᵢ = e^(xᵢ - out), the
    softmax. -inf over nothing; with +inf or only -inf inputs PyTorch's values (inf, -inf,
    and NaN gradients), silently."""

    dtypes = FLOAT
    formula = "logsumexp({0})"
    derivatives = ("softmax({0})",)

    def forward(self, x: Any) -> Any:
        x = np.asarray(x)
        axes = self.axes(x)
        if not count(x.shape, axes):
            return self.finish(np.full(kept_shape(x.shape, axes), -np.inf, dtype=x.dtype), x, axes)
        top = np.maximum.reduce(x, axis=axes, keepdims=True) if axes else x
        with quiet_if_special(top):
            top = np.where(np.isfinite(top), top, 0)
            out = np.log(accurate_sum(np.exp(x - top), axes, keepdims=True)) + top
        return self.finish(out, x, axes)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(x)
        with quiet_if_special(out):
            return (spread(g, x, axes) * exp(x - spread(out, x, axes)),)


class Norm(Reduction):
    """The vector norm (Σ|x|^ord)^(1/ord) over ``axis`` (``torch.linalg.vector_norm``):
    ``ord`` 2 (default), 1, any p > 0, inf (max |x|), -inf (min |x|) or 0 (the number of
    non-zeros). ∂/∂x = sign(x)·|x|^(p-1)/norm^(p-1): x/norm for 2, sign(x) for 1, sign(x)
    shared among the extreme elements for ±inf; 0 at a zero norm, as PyTorch."""

    ord = 2
    formula = "‖{0}‖"
    derivatives = ("sign(x)|x|^(p-1)/‖x‖^(p-1)",)

    def check_options(self) -> None:
        super().check_options()
        p = self.ord
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or math.isnan(p) or (p < 0 and p != -math.inf):
            raise self.option_error("ord", "is not a number >= 0 or ±inf")

    def forward(self, x: Any) -> Any:
        axes, p, a = self.axes(x), self.ord, np.abs(x)
        if p == 2:
            return np.sqrt(accurate_sum(a * a, axes, self.keepdims))
        if p == 1:
            return accurate_sum(a, axes, self.keepdims)
        if math.isinf(p):
            pick = np.maximum.reduce if p > 0 else np.minimum.reduce
            return pick(a, axis=axes, keepdims=self.keepdims) if axes else a  # type: ignore[call-overload]  # numpy's stubs take keepdims only as a literal
        if p == 0:
            return accurate_sum((a != 0).astype(a.dtype), axes, self.keepdims)
        with quiet():
            return accurate_sum(a**p, axes, self.keepdims) ** (1.0 / p)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes, p = self.axes(x), self.ord
        up = spread(g, x, axes)
        if p == 1:
            return (up * sign(x),)
        if p == 0:
            return (up * 0.0,)
        norm = spread(out, x, axes)
        safe = where(norm > 0, norm, 1.0)
        if p == 2:
            return (up * x / safe,)
        if math.isinf(p):
            hit = absolute(x) == norm
            ties = spread(reduce_sum(hit, axis=axes, keepdims=True), x, axes)
            return (up * sign(x) * hit / ties,)
        a = absolute(x)
        powered = where(a > 0, a, 1.0) ** (p - 1) * (a > 0)
        return (up * sign(x) * powered / safe ** (p - 1),)


@numpy_names
def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over ``axis`` (``ddof=1`` for the unbiased estimate, torch's default)."""
    return Var.apply(x, axis=axis, keepdims=keepdims, ddof=ddof)


@numpy_names
def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over ``axis`` (``ddof=1`` for torch's default); gradient 0 at a constant."""
    return Std.apply(x, axis=axis, keepdims=keepdims, ddof=ddof)


@numpy_names
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log Σ eˣ over ``axis``, without overflow (``torch.logsumexp``)."""
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


@numpy_names
def norm(x: Any, ord: float = 2, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002 - NumPy's name
    """The vector norm over ``axis`` (all elements for None), ``ord`` 2, 1, p, inf, -inf or 0
    (``torch.linalg.vector_norm``, ``np.linalg.norm`` of a vector)."""
    return Norm.apply(x, ord=ord, axis=axis, keepdims=keepdims)
