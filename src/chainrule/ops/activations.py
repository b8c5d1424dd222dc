"""Activation functions, each written to stay finite at |x| = 1e4 with no NumPy warnings."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..dtype import FLOAT
from ..node import Node, value_of
from ..op import Op
from .axes import normalize_axis, numpy_names
from .elementwise import exp, minimum, quiet_if_special, where
from .reduce import sum as reduce_sum
from .special import erf, erf_array
from .threads import elementwise, zero_block

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def check_real(op: Op, option: str, positive: bool = False) -> None:
    """``option`` must be a real number (and > 0 with ``positive``)."""
    value = getattr(op, option)
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or (positive and not value > 0):
        raise op.option_error(option, "is not a positive number" if positive else "is not a real number")


class Sigmoid(Op):
    """σ(x) = 1 / (1 + e⁻ˣ); dσ/dx = σ(1 - σ)."""

    dtypes = FLOAT
    formula = "σ({0})"
    derivatives = ("σ(1-σ)",)
    vjp_reads = ("output",)

    def forward(self: Op, x: Any) -> Any:  # any op may use this math (SiLU does)
        # 1/(1+e^-|x|) never overflows; for x < 0 use σ(x) = e^x/(1+e^x) = e^-|x|·σ(|x|).
        # For x >= 0 this is the textbook formula to the last digit (the lesson's numbers).
        z = np.exp(-np.abs(x))
        out = 1.0 / (1.0 + z)
        if isinstance(out, np.ndarray):
            return np.multiply(out, z, out=out, where=x < 0)
        return out * z if x < 0 else out

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * out * (1 - out),)


class Tanh(Op):
    """tanh x; d/dx = 1 - tanh²x."""

    dtypes = FLOAT
    formula = "tanh({0})"
    derivatives = ("1-tanh²",)
    vjp_reads = ("output",)

    def forward(self, x: Any) -> Any:
        return np.tanh(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * (1 - out * out),)


class ReLU(Op):
    """max(x, 0); d/dx = [x > 0] = [max(x, 0) > 0]: read from the output, as PyTorch does, so
    that x itself (a layer's pre-activation, say) need not be kept for backward. Where the
    output is NaN the gradient passes (PyTorch's rule: it stops only where the output is <= 0)."""

    formula = "relu({0})"
    derivatives = ("[{0} > 0]",)
    vjp_reads = ("output",)

    def forward(self, x: Any) -> Any:
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":  # big arrays: on every thread BLAS has (threads.py)
            return elementwise(relu_kernel, x)
        return np.maximum(x, 0)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        if isinstance(g, np.ndarray) and isinstance(out, np.ndarray) and g.shape == out.shape and g.dtype.kind == "f":
            return (elementwise(relu_grad_kernel, g, out),)
        if isinstance(g, Node) or isinstance(out, Node):  # create_graph: the gradient as an op
            return (where(out <= 0, 0, g),)
        return (g * (out != 0),)  # (as relu_grad_kernel; NumPy scalars stay scalars)


def relu_kernel(x: np.ndarray, out: np.ndarray) -> None:
    """max(x, 0) into ``out``, as flat runs against a block of zeros, not the number 0: NumPy's
    maximum takes its fast (SIMD) loop only for two arrays (NumPy 2.4, float32: 8 against 25 µs
    for 65,536 elements; the same bits, NaN and -0.0 included)."""
    if x.ndim != 1:
        if x.strides != out.strides:  # (``out`` is dense: x is too when their strides agree)
            np.maximum(x, 0, out=out)
            return
        x, out = (x.reshape(-1), out.reshape(-1)) if x.flags.c_contiguous else (x.ravel("K"), out.ravel("K"))
    zeros = zero_block(x.dtype)
    for a in range(0, x.size, zeros.size):
        b = min(a + zeros.size, x.size)
        np.maximum(x[a:b], zeros[: b - a], out=out[a:b])


def relu_grad_kernel(g: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """g·[not relu(x) <= 0]: where the output is NaN the gradient passes, as in PyTorch. On
    y = relu(x), which is >= 0 or NaN, that test is y != 0 (one comparison)."""
    np.multiply(g, y != 0, out=out)


class LeakyReLU(Op):
    """x if x > 0 else slope·x; d/dx = 1 or slope."""

    negative_slope = 0.01
    formula = "leaky_relu({0})"
    derivatives = ("1 or slope",)

    def check_options(self) -> None:
        check_real(self, "negative_slope")

    def forward(self, x: Any) -> Any:
        return np.where(x > 0, x, x * self.negative_slope)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (where(x > 0, g, g * self.negative_slope),)


class Softplus(Op):
    """(1/β)·ln(1 + e^(βx)), computed as logaddexp(0, βx)/β, and x itself where βx > threshold
    (``torch.nn.functional.softplus(x, beta, threshold)``); d/dx = σ(βx) (1 past the threshold)."""

    dtypes = FLOAT
    beta = 1.0
    threshold = 20.0
    formula = "softplus({0})"
    derivatives = ("σ(β{0})",)

    def check_options(self) -> None:
        check_real(self, "beta", positive=True)
        check_real(self, "threshold")

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # NaN and ±inf computed silently, as PyTorch does
            bx = x * self.beta if self.beta != 1 else x
            soft = np.logaddexp(0.0, bx)
            if self.beta != 1:
                soft /= self.beta
            return np.where(bx > self.threshold, x, soft)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet_if_special(x):
            bx = x * self.beta if self.beta != 1 else x
            return (where(bx > self.threshold, g, g * sigmoid(bx)),)


class GELU(Op):
    """x·Φ(x), Φ the standard normal CDF: exact, 0.5x(1 + erf(x/√2)), by default;
    ``approximate="tanh"``: 0.5x(1 + tanh u), u = √(2/π)(x + 0.044715x³) (as PyTorch).
    exact: d/dx = Φ(x) + x·φ(x), φ(x) = e^(-x²/2)/√(2π);
    tanh: d/dx = 0.5(1 + tanh u) + 0.5x(1 - tanh²u)·√(2/π)(1 + 3·0.044715x²).
    The attribute is ``approximate``, PyTorch's and ONNX's name."""

    dtypes = FLOAT
    approximate = "none"
    formula = "gelu({0})"

    @property
    def derivatives(self) -> tuple:
        return ("Φ(x) + x·φ(x)",) if self.approximate == "none" else ("0.5(1+tanh u) + 0.5x(1-tanh²u)u'",)

    def check_options(self) -> None:
        self.check_choice("approximate", ("none", "tanh"))

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # -inf·0 = NaN at x = -inf, silently, as PyTorch
            if self.approximate == "none":
                return 0.5 * x * (1 + erf_array(x * _SQRT_HALF))
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet_if_special(x):
            if self.approximate == "none":
                cdf = 0.5 * (1 + erf(x * _SQRT_HALF))
                return (g * (cdf + x * exp(-0.5 * (x * x)) * _INV_SQRT_2PI),)
            t = tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du),)


class SiLU(Op):
    """x·σ(x) (swish); d/dx = σ(x)·(1 + x(1 - σ(x)))."""

    dtypes = FLOAT
    formula = "silu({0})"
    derivatives = ("σ(1 + x(1-σ))",)

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # -inf·0 = NaN at x = -inf, silently, as PyTorch
            return x * Sigmoid.forward(self, x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet_if_special(x):
            s = sigmoid(x)
            return (g * s * (1 + x * (1 - s)),)


class ELU(Op):
    """x for x > 0, else α(eˣ - 1); d/dx = 1 for x > 0, else α·eˣ (α at 0, as PyTorch; and at
    NaN the gradient passes, as PyTorch's, which takes the α·eˣ branch only where x <= 0)."""

    dtypes = FLOAT
    alpha = 1.0
    formula = "elu({0})"
    derivatives = ("1 or α·eˣ",)

    def check_options(self) -> None:
        check_real(self, "alpha")

    def forward(self, x: Any) -> Any:
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (where(x <= 0, g * self.alpha * exp(minimum(x, 0.0)), g),)


class Mish(Op):
    """x·tanh(softplus(x)); d/dx = tanh(sp) + x·(1 - tanh²(sp))·σ(x)."""

    dtypes = FLOAT
    formula = "mish({0})"
    derivatives = ("tanh(sp) + x(1-tanh²(sp))σ(x)",)

    def forward(self, x: Any) -> Any:
        with quiet_if_special(x):  # NaN and ±inf computed silently, as PyTorch does
            return x * np.tanh(np.logaddexp(0.0, x))

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with quiet_if_special(x):
            t = tanh(softplus(x))
            return (g * (t + x * (1 - t * t) * sigmoid(x)),)


class Hardtanh(Op):
    """x limited to [min_val, max_val]; d/dx = 1 strictly inside, 0 at and beyond the ends
    (PyTorch's rule for hardtanh, unlike clamp's)."""

    min_val = -1.0
    max_val = 1.0
    formula = "hardtanh({0})"
    derivatives = ("[min < {0} < max]",)

    def check_options(self) -> None:
        check_real(self, "min_val")
        check_real(self, "max_val")
        if self.min_val > self.max_val:
            raise self.option_error("max_val", f"is below min_val={self.min_val!r}")

    def forward(self, x: Any) -> Any:
        return np.clip(x, self.min_val, self.max_val)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        v = np.asarray(value_of(x))  # where it is strictly inside: data, no gradient through it
        return (where((v > self.min_val) & (v < self.max_val), g, 0.0),)


def softmax_parts(x: np.ndarray, along: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of softmax along ``along`` of a non-empty array: ``x - max`` (so exp never
    overflows), its exp, and the exp's sum (axis kept). softmax is ``exp / sum``, log softmax
    ``(x - max) - log(sum)``. (The ufuncs' own reduce: np.max and np.sum add a Python wrapper
    that costs more than the arithmetic on a batch of logits.)"""
    top = np.maximum.reduce(x, axis=along, keepdims=True)
    with quiet_if_special(top):
        shifted = x - top
        e = np.exp(shifted)
        return shifted, e, np.add.reduce(e, axis=along, keepdims=True)


def softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax of an array (``softmax_parts``). Empty stays empty; a row with +inf or only
    -inf gives NaN, silently, as in PyTorch."""
    x = np.asarray(x)
    if not x.size:
        return np.exp(x)
    _, e, total = softmax_parts(x, normalize_axis(axis, x.ndim))  # (None for a 0-d value: over everything)
    e /= total
    return e


def log_softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """x - log Σ eˣ along ``axis`` (log-sum-exp, ``softmax_parts``); as ``softmax_array``
    for empty values and infinities."""
    x = np.asarray(x)
    if not x.size:
        return x + 0
    shifted, _, total = softmax_parts(x, normalize_axis(axis, x.ndim))
    shifted -= np.log(total)
    return shifted


class _AlongAxis(Op):
    """An op along one ``axis`` (an int)."""

    dtypes = FLOAT
    axis = -1

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)


class Softmax(_AlongAxis):
    """eˣⁱ / Σⱼ eˣʲ along ``axis``; vjp: s ⊙ (g - Σ g⊙s)."""

    formula = "softmax({0})"
    derivatives = ("diag(s) - s sᵀ",)
    vjp_reads = ("output",)

    def forward(self, x: Any) -> Any:
        return softmax_array(x, self.axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (out * (g - reduce_sum(g * out, axis=self.axis, keepdims=True)),)


class LogSoftmax(_AlongAxis):
    """xᵢ - log Σⱼ eˣʲ along ``axis`` (log-sum-exp shifted by the max); vjp: g - softmax·Σg."""

    formula = "log_softmax({0})"
    derivatives = ("I - softmax",)
    vjp_reads = ("output",)

    def forward(self, x: Any) -> Any:
        return log_softmax_array(x, self.axis)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
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


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """(1/β)·ln(1 + e^(βx)), stable for any x; x itself where βx > threshold (as PyTorch)."""
    return Softplus.apply(x, beta=beta, threshold=threshold)


def gelu(x: Any, approximate: str = "none") -> Any:
    """GELU x·Φ(x): exact (erf) by default, ``approximate="tanh"`` for the tanh form
    (``torch.nn.functional.gelu``)."""
    return GELU.apply(x, approximate=approximate)


def silu(x: Any) -> Any:
    """x·σ(x) (``torch.nn.functional.silu``)."""
    return SiLU.apply(x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, else α(eˣ - 1) (``torch.nn.functional.elu``)."""
    return ELU.apply(x, alpha=alpha)


def mish(x: Any) -> Any:
    """x·tanh(softplus(x)) (``torch.nn.functional.mish``)."""
    return Mish.apply(x)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """x limited to [min_val, max_val]; gradient 1 strictly inside (``F.hardtanh``)."""
    return Hardtanh.apply(x, min_val=min_val, max_val=max_val)


@numpy_names
def softmax(x: Any, axis: int = -1) -> Any:
    """Softmax along ``axis`` (shifted by the max: no overflow)."""
    return Softmax.apply(x, axis=axis)


@numpy_names
def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along ``axis`` via log-sum-exp."""
    return LogSoftmax.apply(x, axis=axis)
