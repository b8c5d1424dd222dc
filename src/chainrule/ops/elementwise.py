"""Elementwise functions of one or more arrays: exp, log, sqrt, sin, cos,
maximum, minimum, where, clip, sign, and the comparisons.

IEEE special values come silently, as in PyTorch: ln 0 = -inf, √-1 = NaN,
e⁸⁹ = inf in float32 are results, not NumPy RuntimeWarnings.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..dtype import FLOAT, PROMOTE
from ..errors import option_error
from ..node import value_of
from ..op import Op


def quiet() -> np.errstate:
    """NumPy computing IEEE infinities and NaNs without a RuntimeWarning (PyTorch is silent)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def quiet_if_special(*arrays: Any) -> Any:
    """``quiet()`` when an array (or a node's value: a vjp building the gradient as ops)
    holds an infinity or NaN, else nothing (cheaper than entering np.errstate on every call)."""
    for a in arrays:  # (the ufuncs themselves: ndarray.all's Python wrapper costs more than the test)
        if a is not None and not np.logical_and.reduce(np.isfinite(value_of(a)), axis=None):
            return quiet()
    return contextlib.nullcontext()


class Exp(Op):
    """eˣ; ∂/∂x = eˣ = out."""

    dtypes = FLOAT
    formula = "exp({0})"
    derivatives = ("exp({0})",)

    def forward(self, x: Any) -> Any:
        with np.errstate(over="ignore"):
            return np.exp(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * out,)


class Log(Op):
    """ln x; ∂/∂x = 1/x."""

    dtypes = FLOAT
    formula = "ln({0})"
    derivatives = ("1/{0}",)

    def forward(self, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet():  # 1/0 = inf at x = 0, as in PyTorch
            return (g / x,)


class Sqrt(Op):
    """√x; ∂/∂x = 1/(2√x)."""

    dtypes = FLOAT
    formula = "√{0}"
    derivatives = ("1/(2√{0})",)

    def forward(self, x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet():  # inf at 0, as in PyTorch
            return (g / (2 * out),)


class Sin(Op):
    """sin x; ∂/∂x = cos x."""

    dtypes = FLOAT
    formula = "sin({0})"
    derivatives = ("cos({0})",)

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # sin(±inf) = NaN, silently, as in PyTorch
            return np.sin(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * cos(x),)


class Cos(Op):
    """cos x; ∂/∂x = -sin x."""

    dtypes = FLOAT
    formula = "cos({0})"
    derivatives = ("-sin({0})",)

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # cos(±inf) = NaN, silently, as in PyTorch
            return np.cos(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (-g * sin(x),)


class Sign(Op):
    """sign(x) ∈ {-1, 0, 1}: piecewise constant, so it passes no gradient."""

    formula = "sign({0})"
    differentiable = False

    def forward(self, x: Any) -> Any:
        return np.sign(x)


class Cast(Op):
    """x converted to ``dtype_``; ∂/∂x = 1 (the engine casts the gradient back to x's dtype,
    as it does for every gradient)."""

    vjp_reads = ()
    dtype_ = None
    formula = "{0}"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        return np.asarray(x).astype(self.dtype_, copy=False)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g,)


def astype(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` (no copy when it already is)."""
    if getattr(x, "dtype", None) == dtype:  # ndarrays and nodes both carry .dtype
        return x
    return Cast.apply(x, dtype_=np.dtype(dtype))


class Compare(Op):
    """a < b, a == b, ...: a boolean result, not differentiable."""

    relation = "<"
    _ufuncs = {
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
        "==": np.equal,
        "!=": np.not_equal,
    }
    differentiable = False

    @property
    def formula(self) -> str:
        return "{0} " + self.relation + " {1}"

    def forward(self, a: Any, b: Any) -> Any:
        return self._ufuncs[self.relation](a, b)


def compare(a: Any, b: Any, relation: str) -> Any:
    """Elementwise ``a <relation> b`` for relation in < <= > >= == !=."""
    if relation not in Compare._ufuncs:
        raise option_error("compare", "relation", relation, f"is not one of {', '.join(Compare._ufuncs)}")
    return Compare.apply(a, b, relation=relation)


class Maximum(Op):
    """max(a, b) elementwise; the gradient goes to the larger input (half each on ties, as in PyTorch)."""

    dtypes = PROMOTE
    formula = "max({0}, {1})"
    derivatives = ("[{0} > {1}]", "[{1} > {0}]")

    def forward(self, a: Any, b: Any) -> Any:
        return np.maximum(a, b)

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        ga = where(a > b, g, where(a == b, 0.5 * g, 0.0))  # built from g: keeps its dtype
        return (ga, g - ga)


class Minimum(Op):
    """min(a, b) elementwise; the gradient goes to the smaller input (half each on ties)."""

    dtypes = PROMOTE
    formula = "min({0}, {1})"
    derivatives = ("[{0} < {1}]", "[{1} < {0}]")

    def forward(self, a: Any, b: Any) -> Any:
        return np.minimum(a, b)

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        ga = where(a < b, g, where(a == b, 0.5 * g, 0.0))
        return (ga, g - ga)


class Where(Op):
    """cond ? a : b elementwise; the gradient flows to whichever input was chosen."""

    dtypes = PROMOTE
    dtype_keep = (0,)  # the condition stays boolean
    formula = "where({0}, {1}, {2})"
    derivatives = ("", "[{0}]", "[not {0}]")

    def forward(self, cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)

    def vjp(self, g: Any, out: Any, cond: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return (None, where(cond, g, 0.0), where(cond, 0.0, g))


class Clip(Op):
    """x limited to [low, high]; either bound may be left out, and a bound may be a node
    (an input of the graph like any other). ∂/∂x = 1 inside the interval, ends included;
    ∂/∂low = [x < low], ∂/∂high = [x > high] (PyTorch's rule, which also covers
    low > high, where the result is high)."""

    has_low = True
    has_high = True
    dtypes = PROMOTE
    formula = "clip({0})"

    @property
    def derivatives(self) -> tuple:
        return ("[low ≤ {0} ≤ high]",) + ("[{0} < low]",) * self.has_low + ("[{0} > high]",) * self.has_high

    def _bounds(self, bounds: tuple) -> tuple:
        given = list(bounds)
        low = given.pop(0) if self.has_low else None
        high = given.pop(0) if self.has_high else None
        return low, high

    def forward(self, x: Any, *bounds: Any) -> Any:
        return np.clip(x, *self._bounds(bounds))

    def vjp(self, g: Any, out: Any, x: Any, *bounds: Any) -> tuple[Any, ...]:
        low, high = self._bounds(bounds)
        gx = g
        if low is not None:
            gx = where(x >= low, gx, 0.0)
        if high is not None:
            gx = where(x <= high, gx, 0.0)
        grads = [gx]
        if low is not None:
            below = where(x < low, g, 0.0)
            grads.append(below if high is None else where(low < high, below, 0.0))
        if high is not None:
            above = where(x > high, g, 0.0)
            grads.append(above if low is None else where(high < low, g, above))
        return tuple(grads)


def exp(x: Any) -> Any:
    """eˣ elementwise."""
    return Exp.apply(x)


def log(x: Any) -> Any:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x: Any) -> Any:
    """Square root elementwise."""
    return Sqrt.apply(x)


def sin(x: Any) -> Any:
    """Sine elementwise."""
    return Sin.apply(x)


def cos(x: Any) -> Any:
    """Cosine elementwise."""
    return Cos.apply(x)


def sign(x: Any) -> Any:
    """-1, 0 or 1 elementwise (no gradient)."""
    return Sign.apply(x)


def maximum(a: Any, b: Any) -> Any:
    """Elementwise maximum with broadcasting."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Any:
    """Elementwise minimum with broadcasting."""
    return Minimum.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` is true, else ``b`` (``np.where``)."""
    return Where.apply(cond, a, b)


def clip(x: Any, low: Any = None, high: Any = None) -> Any:
    """``x`` limited to [low, high] (either may be None; either may be a node)."""
    if low is None and high is None:
        raise option_error("clip", "low, high", (low, high), "must not both be None")
    bounds = [b for b in (low, high) if b is not None]
    return Clip.apply(x, *bounds, has_low=low is not None, has_high=high is not None)
