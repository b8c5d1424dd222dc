"""Special functions: erf (to float64 precision with NumPy alone), log1p and expm1.

``erf_array`` is a rational approximation, the one of S. L. Moshier's Cephes
library (``ndtr.c``; the coefficients are from his *Methods and Programs for
Mathematical Functions*, 1989), evaluated on whole arrays:

- |x| < 1:      erf(x)  = x · T(x²) / U(x²)              (peak relative error 3.7e-16)
- 1 ≤ |x| < 8:  erfc(x) = e^(-x²) · P(|x|) / Q(|x|)
- |x| ≥ 8:      erfc(x) = e^(-x²) · R(|x|) / S(|x|)      (erf = 1 - erfc = ±1 to float64)

Against ``math.erf`` its error is at most a few units in the last place over
[-10, 10] (``tests/test_ops_special.py`` checks 2·10⁻¹⁶ absolute). In float32
it is computed the same way in float32.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..dtype import FLOAT
from ..op import Op
from .elementwise import exp

_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_U = (
    1.0,
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_Q = (
    1.0,
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_S = (
    1.0,
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _poly(coefficients: tuple, x: np.ndarray) -> np.ndarray:
    """c₀xⁿ + c₁xⁿ⁻¹ + ... + cₙ by Horner's rule."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out *= x
        out += c
    return out


def erf_array(x: Any) -> np.ndarray:
    """erf of an array (or scalar), in its floating dtype; NaN stays NaN, ±inf gives ±1.
    float16 is computed in float32 (the polynomials' terms overflow float16) and rounded back."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if x.dtype.itemsize < 4:
        return erf_array(x.astype(np.float32)).astype(x.dtype)
    a = np.abs(x)
    small = a < 1.0
    out = np.empty_like(x)
    z = x[small]
    out[small] = z * _poly(_T, z * z) / _poly(_U, z * z)
    big = ~small & ~np.isnan(x)
    b = np.minimum(a[big], 30.0)  # e^(-30²) is 0 in float64 already: the tail is exactly ±1
    mid = b < 8.0
    ratio = np.where(mid, _poly(_P, b) / _poly(_Q, b), _poly(_R, b) / _poly(_S, b))
    out[big] = np.copysign(1.0 - np.exp(-b * b) * ratio, x[big])
    out[np.isnan(x)] = np.nan
    return out[()] if out.ndim == 0 else out


class Erf(Op):
    """erf(x) = 2/√π ∫₀ˣ e^(-t²) dt; ∂/∂x = 2/√π · e^(-x²)."""

    dtypes = FLOAT
    formula = "erf({0})"
    derivatives = ("2/√π·e^(-{0}²)",)

    def forward(self, x: Any) -> Any:
        return erf_array(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * TWO_OVER_SQRT_PI * exp(-(x * x)),)


class Log1p(Op):
    """ln(1 + x), exact for tiny x; ∂/∂x = 1/(1 + x). ln 0 = -inf and ln of a negative
    number = NaN come silently, as in PyTorch."""

    dtypes = FLOAT
    formula = "ln(1+{0})"
    derivatives = ("1/(1+{0})",)

    def forward(self, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        with np.errstate(divide="ignore", invalid="ignore"):  # inf at x = -1, as in PyTorch
            return (g / (1 + x),)


class Expm1(Op):
    """eˣ - 1, exact for tiny x; ∂/∂x = eˣ = out + 1."""

    dtypes = FLOAT
    formula = "exp({0})-1"
    derivatives = ("exp({0})",)

    def forward(self, x: Any) -> Any:
        with np.errstate(over="ignore"):
            return np.expm1(x)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * (out + 1),)


def erf(x: Any) -> Any:
    """The error function, to float64 precision (``torch.erf``)."""
    return Erf.apply(x)


def log1p(x: Any) -> Any:
    """ln(1 + x), accurate near 0 (``torch.log1p``)."""
    return Log1p.apply(x)


def expm1(x: Any) -> Any:
    """eˣ - 1, accurate near 0 (``torch.expm1``)."""
    return Expm1.apply(x)
