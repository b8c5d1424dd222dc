"""The ops layers need whose work depends on values known only when a graph runs.

A layer built on a ``Placeholder`` (define-then-run) has no input value yet:
its shape checks, the axes it normalises over, the size of a dropout mask, all
wait until ``Graph.forward`` feeds one, and then happen on every run, with the
batch size of that run. Eagerly they happen at once. Either way the numbers
are the same.

- ``InputCheck``: a layer's checks on its input, and the cast of floating
  input to the layer's dtype (``checked``).
- ``Standardize``: (x - μ) / √(σ² + ε) over the last axes, statistics
  accumulated in float64 (LayerNorm, BatchNorm).
- ``Dropout``: a fresh mask on every run.
- ``Flatten`` / ``Unflatten``: merge or split axes of whatever shape arrives.
- ``AdditiveMask``: an attention mask, boolean or float, as a term added to the scores.
- ``MatchTarget``: an elementwise loss's target fitted to the output (``target_for``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..dtype import get_default_dtype
from ..errors import ChainruleError, ShapeError
from ..node import Node, Placeholder
from ..op import Op
from ..ops import astype, mean, reshape, sqrt, var
from ..ops.shape import _Regroup
from . import init

__all__ = [
    "AdditiveMask",
    "Dropout",
    "Flatten",
    "InputCheck",
    "MatchTarget",
    "Standardize",
    "Unflatten",
    "additive_mask",
    "checked",
    "dropout_mask",
    "flatten",
    "standardize",
    "target_for",
    "unflatten",
]

Check = Callable[[np.ndarray], None]


class InputCheck(Op):
    """A layer's input once it has a value: each of ``checks`` (raising ShapeError) runs on it,
    and floating values become ``dtype_`` (None: left as they are). ∂/∂x = 1."""

    vjp_reads = ()
    checks: tuple = ()
    dtype_ = None
    formula = "{0}"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        for check in self.checks:
            check(np.asarray(x))
        if self.dtype_ is not None and np.asarray(x).dtype.kind == "f":
            return np.asarray(x).astype(self.dtype_, copy=False)  # this op's job, like Cast's
        return x

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g,)

    def input_error(self, exc: Exception, values: Sequence[Any]) -> ChainruleError:
        if isinstance(exc, ChainruleError):  # a check's own message names the layer and the shapes
            return type(exc)(str(exc))
        return super().input_error(exc, values)


def checked(x: Any, check: Check | None = None, dtype: Any = None) -> Any:
    """``x`` after ``check(value)`` and, for floating values, a cast to ``dtype``. On an array or
    a computed node, now; on a placeholder or a node without a value yet, in an ``InputCheck``
    node that does both whenever the graph runs, with what was fed that time (and now too, if
    there is a value). A second check on such a node joins it rather than stacking another."""
    checks = (check,) if check is not None else ()
    if type(x) is InputCheck:
        return InputCheck(x.inputs[0], checks=x.checks + checks, dtype_=x.dtype_ if dtype is None else np.dtype(dtype))
    value = x.value if isinstance(x, Node) else x
    if value is None or isinstance(x, Placeholder):
        return InputCheck(x, checks=checks, dtype_=None if dtype is None else np.dtype(dtype))
    if check is not None:
        check(np.asarray(value))
    if dtype is not None and np.asarray(value).dtype.kind == "f" and np.asarray(value).dtype != dtype:
        return astype(x, dtype) if isinstance(x, Node) else np.asarray(x).astype(dtype)
    return x


def _float_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else get_default_dtype()


class Standardize(Op):
    """y = (x - μ) / √(σ² + ε), μ and σ² (biased) over the last ``count`` axes, or (``count``
    None) over every axis but the last. Accumulated in float64, so a constant row gives exactly
    0, as in PyTorch. ``on_stats(μ, σ², n)``, if set, gets each run's statistics (batch norm's
    running estimates). ∂/∂x · g = (g - mean(g) - y·mean(g·y)) / √(σ² + ε)."""

    count: int | None = 1
    eps = 1e-5
    on_stats: Callable[[np.ndarray, np.ndarray, int], None] | None = None
    formula = "standardize({0})"
    derivatives = ("(I - 1/n - y·yᵀ/n)/σ",)

    def axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim - 1) if self.count is None else range(ndim - self.count, ndim))

    def moments(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """μ (in x's float dtype) and σ², both accumulated in float64, and how many values each covers."""
        axes = self.axes(np.ndim(x))
        mu = np.mean(x, axis=axes, keepdims=True, dtype=np.float64).astype(_float_dtype(x))
        variance = np.mean(np.square(x - mu), axis=axes, keepdims=True, dtype=np.float64)
        n = int(np.prod([np.shape(x)[a] for a in axes]))
        return mu, variance, n  # type: ignore[return-value]  # keepdims=True: arrays, which numpy's stubs do not see

    def forward(self, x: Any) -> Any:
        mu, variance, n = self.moments(x)
        if self.on_stats is not None:
            self.on_stats(mu, variance, n)
        return (x - mu) / np.sqrt(variance + self.eps).astype(mu.dtype)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        axes = self.axes(np.ndim(x))
        if isinstance(x, Node):  # building the backward pass as a graph: σ as a function of x
            sd = sqrt(var(x, axis=axes, keepdims=True) + self.eps)
        else:
            sd = np.sqrt(self.moments(x)[1] + self.eps).astype(_float_dtype(x))
        return ((g - mean(g, axis=axes, keepdims=True) - out * mean(g * out, axis=axes, keepdims=True)) / sd,)


def standardize(
    x: Any,
    count: int | None = 1,
    eps: float = 1e-5,
    on_stats: Callable[[np.ndarray, np.ndarray, int], None] | None = None,
) -> Any:
    """(x - μ) / √(σ² + ε) over the last ``count`` axes (None: all but the last)."""
    return Standardize.apply(x, count=count, eps=eps, on_stats=on_stats)


class Dropout(Op):
    """x·mask/(1-p) with a fresh mask (each element kept with probability 1-p) every time it
    computes; ∂/∂x = mask/(1-p), the mask of the last run."""

    p = 0.5
    rng = None
    formula = "dropout({0})"
    derivatives = ("mask/(1-p)",)

    def forward(self, x: Any) -> Any:
        dt = _float_dtype(np.asarray(x))
        keep = (self.rng or init.generator()).random(np.shape(x)) >= self.p
        self._scale = keep * dt.type(1.0 / (1.0 - self.p)) if self.p < 1 else np.zeros(np.shape(x), dt)
        return x * self._scale

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g * self._scale,)


def dropout_mask(x: Any, p: float, rng: np.random.Generator | None = None) -> Any:
    return Dropout.apply(x, p=p, rng=rng)


def _axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{what}: dimension {axis} is out of range for an input with {ndim} axes")
    return axis % ndim


class Flatten(_Regroup):
    """Axes ``start_dim``..``end_dim`` merged into one (``torch.flatten``)."""

    start_dim = 1
    end_dim = -1
    formula = "flatten({0})"

    def forward(self, x: Any) -> Any:
        shape = np.shape(x)
        if not shape:
            return np.reshape(x, (1,))
        ndim, start, end = len(shape), self.start_dim % len(shape), self.end_dim % len(shape)
        if -ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim and start <= end:
            return np.reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])
        # the message only when it is needed: every training step runs the lines above
        what = f"flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) of shape {shape}"
        _axis(self.start_dim, ndim, what), _axis(self.end_dim, ndim, what)
        raise ShapeError(f"{what}: start_dim comes after end_dim")


class Unflatten(_Regroup):
    """Axis ``dim`` split into ``sizes`` (one may be -1), as ``torch.unflatten``."""

    dim = 0
    sizes: tuple = ()
    formula = "unflatten({0})"

    def forward(self, x: Any) -> Any:
        shape = np.shape(x)
        what = f"unflatten(dim={self.dim}, sizes={self.sizes}) of shape {shape}"
        d = _axis(self.dim, len(shape), what)
        known = int(np.prod([s for s in self.sizes if s != -1]))
        if (-1 not in self.sizes and known != shape[d]) or (-1 in self.sizes and (known == 0 or shape[d] % known)):
            raise ShapeError(f"{what}: sizes {self.sizes} do not multiply to {shape[d]}")
        return np.reshape(x, shape[:d] + tuple(self.sizes) + shape[d + 1 :])


class AdditiveMask(_Regroup):
    """An attention mask as a term to add to the scores (N, H, L, S): a boolean mask's True (not
    allowed) becomes -inf and False 0 (in ``dtype_``); a float mask is added as it is. A
    ``key_padding`` mask (N, S) becomes (N, 1, 1, S); an attention mask (N·H, L, S), (N, H, L, S)."""

    dtype_ = None
    heads = 1
    key_padding = False
    formula = "mask({0})"

    def forward(self, m: Any) -> Any:
        m = np.asarray(m)
        out = np.where(m, -np.inf, 0.0).astype(self.dtype_) if m.dtype == np.bool_ else m
        if self.key_padding:
            return np.reshape(out, out.shape[:-1] + (1, 1) + out.shape[-1:])
        return np.reshape(out, (-1, self.heads) + out.shape[1:]) if out.ndim == 3 else out


def additive_mask(mask: Any, dtype: Any, heads: int = 1, key_padding: bool = False) -> Any:
    """``mask`` as a term added to attention scores (see ``AdditiveMask``)."""
    return AdditiveMask.apply(mask, dtype_=np.dtype(dtype), heads=heads, key_padding=key_padding)


def target_for(out_shape: tuple, out_dtype: np.dtype, target: Any) -> Any:
    """``target`` fitted to an elementwise loss's output: (N,) -> (N, 1) for a one-column output,
    integers and bools -> the output's float dtype; any other shape than the output's is a
    ShapeError (NumPy would broadcast it into a loss over every output and every target).
    Works on arrays and nodes."""
    t_shape = np.shape(target.value if isinstance(target, Node) else target)
    if t_shape != out_shape:
        if len(out_shape) == len(t_shape) + 1 and out_shape[-1] == 1 and out_shape[:-1] == t_shape:
            target = reshape(target, out_shape)
        else:
            raise ShapeError(f"loss: output shape {out_shape} and target shape {t_shape} do not match")
    t_dtype = np.asarray(target.value if isinstance(target, Node) else target).dtype
    return astype(target, out_dtype) if t_dtype != out_dtype else target


class MatchTarget(Op):
    """``target_for`` once the graph runs: the target (input 1) fitted to the output's (input 0)
    shape and dtype, read from the values fed that time. ∂/∂target = g, back in its shape."""

    vjp_reads = ()  # the shapes and dtypes only
    formula = "{1}"
    derivatives = ("", "1")

    def forward(self, output: Any, target: Any) -> Any:
        return target_for(np.shape(output), np.asarray(output).dtype, np.asarray(target))

    def vjp(self, g: Any, out: Any, output: Any, target: Any) -> tuple[Any, ...]:
        return (None, reshape(g, np.shape(target)))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """``torch.flatten``: merge axes ``start_dim``..``end_dim`` (all of them by default)."""
    return Flatten.apply(x, start_dim=start_dim, end_dim=end_dim)


def unflatten(x: Any, dim: int, sizes: Sequence[int]) -> Any:
    """``torch.unflatten``: split axis ``dim`` into ``sizes``."""
    return Unflatten.apply(x, dim=dim, sizes=tuple(sizes))
