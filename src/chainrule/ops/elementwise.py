"""Elementwise functions of one or more arrays: exp, log, sqrt, sin, cos,
maximum, minimum, where, clip, sign, and the comparisons."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..dtype import match_floats
from ..op import Op


class Exp(Op):
    """eˣ; ∂/∂x = eˣ = out."""

    formula = "exp({0})"
    derivatives = ("exp({0})",)

    def forward(self, x):
        return np.exp(x)

    def vjp(self, g, out, x):
        return (g * out,)


class Log(Op):
    """ln x; ∂/∂x = 1/x."""

    formula = "ln({0})"
    derivatives = ("1/{0}",)

    def forward(self, x):
        return np.log(x)

    def vjp(self, g, out, x):
        return (g / x,)


class Sqrt(Op):
    """√x; ∂/∂x = 1/(2√x)."""

    formula = "√{0}"
    derivatives = ("1/(2√{0})",)

    def forward(self, x):
        return np.sqrt(x)

    def vjp(self, g, out, x):
        return (g / (2 * out),)


class Sin(Op):
    """sin x; ∂/∂x = cos x."""

    formula = "sin({0})"
    derivatives = ("cos({0})",)

    def forward(self, x):
        return np.sin(x)

    def vjp(self, g, out, x):
        return (g * cos(x),)


class Cos(Op):
    """cos x; ∂/∂x = -sin x."""

    formula = "cos({0})"
    derivatives = ("-sin({0})",)

    def forward(self, x):
        return np.cos(x)

    def vjp(self, g, out, x):
        return (-g * sin(x),)


class Sign(Op):
    """sign(x) ∈ {-1, 0, 1}: piecewise constant, so it passes no gradient."""

    formula = "sign({0})"
    differentiable = False

    def forward(self, x):
        return np.sign(x)


class Cast(Op):
    """x converted to ``dtype_``; the gradient is cast back to x's dtype."""

    dtype_ = None
    formula = "{0}"
    derivatives = ("1",)

    def forward(self, x):
        return np.asarray(x).astype(self.dtype_, copy=False)

    def vjp(self, g, out, x):
        return (astype(g, x.dtype),)


def astype(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` (no copy when it already is)."""
    if getattr(x, "dtype", None) == dtype:  # ndarrays and nodes both carry .dtype
        return x
    return Cast.apply(x, dtype_=np.dtype(dtype))


class Compare(Op):
    """a < b, a == b, ...: a boolean result, not differentiable."""

    relation = "<"
    _ufuncs = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
               "==": np.equal, "!=": np.not_equal}
    differentiable = False

    @property
    def formula(self) -> str:
        return "{0} " + self.relation + " {1}"

    def forward(self, a, b):
        return self._ufuncs[self.relation](a, b)


def compare(a: Any, b: Any, relation: str) -> Any:
    """Elementwise ``a <relation> b`` for relation in < <= > >= == !=."""
    if relation not in Compare._ufuncs:
        raise ValueError(f"compare: unknown relation {relation!r}; use one of {sorted(Compare._ufuncs)}")
    return Compare.apply(a, b, relation=relation)


class Maximum(Op):
    """max(a, b) elementwise; the gradient goes to the larger input (half each on ties, as in PyTorch)."""

    formula = "max({0}, {1})"
    derivatives = ("[{0} > {1}]", "[{1} > {0}]")

    def forward(self, a, b):
        return np.maximum(*match_floats(a, b))

    def vjp(self, g, out, a, b):
        ga = where(a > b, g, where(a == b, 0.5 * g, 0.0))  # built from g: keeps its dtype
        return (ga, g - ga)


class Minimum(Op):
    """min(a, b) elementwise; the gradient goes to the smaller input (half each on ties)."""

    formula = "min({0}, {1})"
    derivatives = ("[{0} < {1}]", "[{1} < {0}]")

    def forward(self, a, b):
        return np.minimum(*match_floats(a, b))

    def vjp(self, g, out, a, b):
        ga = where(a < b, g, where(a == b, 0.5 * g, 0.0))
        return (ga, g - ga)


class Where(Op):
    """cond ? a : b elementwise; the gradient flows to whichever input was chosen."""

    formula = "where({0}, {1}, {2})"
    derivatives = ("", "[{0}]", "[not {0}]")

    def forward(self, cond, a, b):
        return np.where(cond, *match_floats(a, b))

    def vjp(self, g, out, cond, a, b):
        return (None, where(cond, g, 0.0), where(cond, 0.0, g))


class Clip(Op):
    """x limited to [low, high]; ∂/∂x = 1 inside the interval (ends included), 0 outside."""

    low = None
    high = None
    formula = "clip({0})"
    derivatives = ("[low ≤ {0} ≤ high]",)

    def forward(self, x):
        out = np.clip(x, self.low, self.high)
        dt = np.asarray(x).dtype
        return out.astype(dt, copy=False) if dt.kind == "f" else out  # float64 bounds must not widen x

    def vjp(self, g, out, x):
        if self.low is not None:
            g = where(x >= self.low, g, 0.0)
        if self.high is not None:
            g = where(x <= self.high, g, 0.0)
        return (g,)


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
    """``x`` limited to [low, high] (either may be None)."""
    if low is None and high is None:
        raise ValueError("clip: give low, high or both")
    return Clip.apply(x, low=low, high=high)
