"""Activation functions, each written to stay finite at |x| = 1e4 with no NumPy warnings."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..op import Op
from .elementwise import exp, where
from .reduce import sum as reduce_sum

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


class Sigmoid(Op):
    """σ(x) = 1 / (1 + e⁻ˣ); dσ/dx = σ(1 - σ)."""

    formula = "σ({0})"
    derivatives = ("σ(1-σ)",)

    def forward(self, x):
        # 1/(1+e^-|x|) never overflows; for x < 0 use σ(x) = e^x/(1+e^x) = e^-|x|·σ(|x|).
        # For x >= 0 this is the textbook formula to the last digit (the lesson's numbers).
        z = np.exp(-np.abs(x))
        out = 1.0 / (1.0 + z)
        if isinstance(out, np.ndarray):
            return np.multiply(out, z, out=out, where=x < 0)
        return out * z if x < 0 else out

    def vjp(self, g, out, x):
        return (g * out * (1 - out),)


class Tanh(Op):
    """tanh x; d/dx = 1 - tanh²x."""

    formula = "tanh({0})"
    derivatives = ("1-tanh²",)

    def forward(self, x):
        return np.tanh(x)

    def vjp(self, g, out, x):
        return (g * (1 - out * out),)


class ReLU(Op):
    """max(x, 0); d/dx = [x > 0]."""

    formula = "relu({0})"
    derivatives = ("[{0} > 0]",)

    def forward(self, x):
        return np.maximum(x, 0)

    def vjp(self, g, out, x):
        return (g * (x > 0),)


class LeakyReLU(Op):
    """x if x > 0 else slope·x; d/dx = 1 or slope."""

    negative_slope = 0.01
    formula = "leaky_relu({0})"
    derivatives = ("1 or slope",)

    def check_options(self) -> None:
        if not isinstance(self.negative_slope, numbers.Real) or isinstance(self.negative_slope, bool):
            raise self.option_error("negative_slope", "is not a real number")

    def forward(self, x):
        return np.where(x > 0, x, x * self.negative_slope)

    def vjp(self, g, out, x):
        return (where(x > 0, g, g * self.negative_slope),)


class Softplus(Op):
    """ln(1 + eˣ), computed as logaddexp(0, x); d/dx = σ(x)."""

    formula = "softplus({0})"
    derivatives = ("σ({0})",)

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def vjp(self, g, out, x):
        return (g * sigmoid(x),)


class GELU(Op):
    """x·Φ(x) with the tanh approximation (``torch.nn.GELU(approximate='tanh')``):
    0.5x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³);
    d/dx = 0.5(1 + tanh u) + 0.5x(1 - tanh²u)·√(2/π)(1 + 3·0.044715x²)."""

    formula = "gelu({0})"
    derivatives = ("0.5(1+tanh u) + 0.5x(1-tanh²u)u'",)

    def forward(self, x):
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))

    def vjp(self, g, out, x):
        t = tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du),)


def softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax of an array, shifted by the max so exp never overflows. (The ufuncs'
    own reduce: np.max and np.sum add a Python wrapper that costs more than the
    arithmetic on a batch of logits.)"""
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def log_softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """x - log Σ eˣ along ``axis`` (log-sum-exp, shifted by the max)."""
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    shifted -= np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
    return shifted


class _AlongAxis(Op):
    """An op along one ``axis`` (an int)."""

    axis = -1

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)


class Softmax(_AlongAxis):
    """eˣⁱ / Σⱼ eˣʲ along ``axis``; vjp: s ⊙ (g - Σ g⊙s)."""

    formula = "softmax({0})"
    derivatives = ("diag(s) - s sᵀ",)

    def forward(self, x):
        return softmax_array(x, self.axis)

    def vjp(self, g, out, x):
        return (out * (g - reduce_sum(g * out, axis=self.axis, keepdims=True)),)


class LogSoftmax(_AlongAxis):
    """xᵢ - log Σⱼ eˣʲ along ``axis`` (log-sum-exp shifted by the max); vjp: g - softmax·Σg."""

    formula = "log_softmax({0})"
    derivatives = ("I - softmax",)

    def forward(self, x):
        return log_softmax_array(x, self.axis)

    def vjp(self, g, out, x):
        return (g - exp(out) * reduce_sum(g, axis=self.axis, keepdims=True),)


def sigmoid(x: Any) -> Any:
    """The logistic function 1 / (1 + e⁻ˣ), stable for any x."""
    return Sigmoid.apply(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return Tanh.apply(x)


def relu(x: Any) -> Any:
    """max(x, 0)."""
    return ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x for x > 0, else negative_slope·x."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def softplus(x: Any) -> Any:
    """ln(1 + eˣ), stable for any x."""
    return Softplus.apply(x)


def gelu(x: Any) -> Any:
    """GELU, tanh approximation (as ``torch.nn.functional.gelu(x, approximate='tanh')``)."""
    return GELU.apply(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """Softmax along ``axis`` (shifted by the max: no overflow)."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along ``axis`` via log-sum-exp."""
    return LogSoftmax.apply(x, axis=axis)
