"""The arithmetic operators: + - * / ** % // unary minus and abs.

Each vjp returns the gradient for every input at the broadcast shape of the
output; the engine sums it back down to the input's own shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtype import FLOAT, PROMOTE
from ..op import Op
from .elementwise import log, sign, where


class Add(Op):
    """a + b; ∂/∂a = 1, ∂/∂b = 1."""

    vjp_reads = ()  # shape and dtype only
    dtypes = PROMOTE
    formula = "{0} + {1}"
    derivatives = ("1", "1")

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return (g, g)


class Sub(Op):
    """a - b; ∂/∂a = 1, ∂/∂b = -1."""

    vjp_reads = ()  # shape and dtype only
    dtypes = PROMOTE
    formula = "{0} - {1}"
    derivatives = ("1", "-1")

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        return (g, -g)


class Mul(Op):
    """a · b; ∂/∂a = b, ∂/∂b = a."""

    vjp_reads = ("inputs",)
    dtypes = PROMOTE
    formula = "{0} · {1}"
    derivatives = ("{1}", "{0}")

    def forward(self, a: Any, b: Any) -> Any:
        return a * b

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # skip the product nobody needs: in h * 1.0001 the constant takes no gradient
        need_a, need_b = self.inputs[0].requires_grad, self.inputs[1].requires_grad
        return (g * b if need_a else None, g * a if need_b else None)


class Div(Op):
    """a / b; ∂/∂a = 1/b, ∂/∂b = -a/b² = -out/b."""

    dtypes = FLOAT  # (int / int is a real number: the default float, as in PyTorch)
    formula = "{0} / {1}"
    derivatives = ("1/{1}", "-{0}/{1}²")

    def forward(self, a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0 = ±inf, 0/0 = NaN, as in PyTorch
            return a / b

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        with np.errstate(divide="ignore", invalid="ignore"):  # b = 0: ±inf and NaN, as in PyTorch
            ga = g / b
            return (ga, -ga * out if self.inputs[1].requires_grad else None)


class FloorDivide(Op):
    """⌊a / b⌋ (Python's and NumPy's ``//``, ``torch.floor_divide``): piecewise constant, so it
    passes no gradient. x // 0 is ±inf (NaN for 0 // 0) in floats, as in PyTorch."""

    differentiable = False
    dtypes = PROMOTE
    formula = "⌊{0} / {1}⌋"

    def forward(self, a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.floor_divide(a, b)


class Remainder(Op):
    """a mod b = a - ⌊a/b⌋·b, with the sign of b (Python's and NumPy's ``%``,
    ``torch.remainder``); ∂/∂a = 1, ∂/∂b = -⌊a/b⌋ (the floor's steps are left out, as
    PyTorch leaves them). x % 0 is NaN in floats, as in PyTorch."""

    dtypes = PROMOTE
    formula = "{0} mod {1}"
    derivatives = ("1", "-⌊{0}/{1}⌋")

    def forward(self, a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.remainder(a, b)

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        gb = -g * FloorDivide.apply(a, b) if self.inputs[1].requires_grad else None
        return (g, gb)


class Neg(Op):
    """-a; ∂/∂a = -1."""

    vjp_reads = ()
    formula = "-{0}"
    derivatives = ("-1",)

    def forward(self, a: Any) -> Any:
        return -a

    def vjp(self, g: Any, out: Any, a: Any) -> tuple[Any, ...]:
        return (-g,)


class Pow(Op):
    """a ** b; ∂/∂a = b·a^(b-1) (0 where b = 0, also at a = 0, as PyTorch), ∂/∂b = a^b·ln a.

    ∂/∂b exists only for a > 0; it is taken as 0 elsewhere (PyTorch agrees at
    a = 0, and gives NaN for a < 0, where aᵇ is not a smooth function of b).
    0 ** -1 = inf and (-1) ** 0.5 = NaN come silently, as in PyTorch."""

    dtypes = PROMOTE
    formula = "{0}^{1}"
    derivatives = ("{1}·{0}^({1}-1)", "{0}^{1}·ln {0}")

    def forward(self, a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return a**b

    def vjp(self, g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
        # b = 0: a^(b-1) would be 1/0 at a = 0; the factor b makes the term 0 anyway
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 0^-2 = inf, as in PyTorch
            ga = g * b * a ** where(b == 0, 1, b - 1) if self.inputs[0].requires_grad else None
            gb = None
            if self.inputs[1].requires_grad:
                positive = a > 0
                gb = g * out * where(positive, log(where(positive, a, 1.0)), 0.0)
        return (ga, gb)


class Abs(Op):
    """|a|; ∂/∂a = sign(a) (0 at 0, as in PyTorch)."""

    formula = "|{0}|"
    derivatives = ("sign({0})",)

    def forward(self, a: Any) -> Any:
        return np.abs(a)

    def vjp(self, g: Any, out: Any, a: Any) -> tuple[Any, ...]:
        return (g * sign(a),)


def add(a: Any, b: Any) -> Any:
    """a + b with broadcasting."""
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Any:
    """a - b with broadcasting."""
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Any:
    """a * b elementwise, with broadcasting."""
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Any:
    """a / b elementwise, with broadcasting."""
    return Div.apply(a, b)


def floor_divide(a: Any, b: Any) -> Any:
    """⌊a / b⌋, elementwise with broadcasting (``a // b``; no gradient)."""
    return FloorDivide.apply(a, b)


def remainder(a: Any, b: Any) -> Any:
    """a mod b with the sign of b, elementwise with broadcasting (``a % b``)."""
    return Remainder.apply(a, b)


def neg(a: Any) -> Any:
    """-a."""
    return Neg.apply(a)


def pow(a: Any, b: Any) -> Any:  # noqa: A001 - the name users expect
    """a ** b elementwise; b may be a node (its gradient is a^b·ln a where a > 0)."""
    return Pow.apply(a, b)


def abs(a: Any) -> Any:  # noqa: A001
    """|a| elementwise."""
    return Abs.apply(a)
