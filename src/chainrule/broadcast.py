"""Fitting a gradient to its input: the one place broadcasting and promotion are undone.

If ``a`` of shape (3, 1) was broadcast against (3, 4), ∂/∂a is the upstream
gradient summed over the axis it was stretched along; if a float32 ``a`` met a
float64 partner, the sum comes back as float32. The engine calls
``fit_gradient`` on every gradient a vjp returns; op rules never do it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtype import get_default_dtype


def broadcast_axes(grad_shape: tuple, shape: tuple) -> tuple:
    """The axes of ``grad_shape`` to sum so that the result has ``shape``'s size."""
    lead = len(grad_shape) - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad_shape[lead + i] != 1)
    return tuple(range(lead)) + stretched


def unbroadcast(grad: np.ndarray | np.generic, shape: tuple) -> np.ndarray | np.generic:
    """Sum ``grad`` down to ``shape`` (a no-op when the shapes already match)."""
    grad_shape = grad.shape  # (arrays and NumPy scalars alike: np.shape's wrapper costs more)
    if grad_shape == shape:
        return grad
    axes = broadcast_axes(grad_shape, shape)
    if axes:  # summed pairwise: a bias gradient over 10⁶ rows keeps float32 precision
        grad = accurate_sum(grad, axes, keepdims=len(grad_shape) == len(shape))
    return grad if grad.shape == shape else grad.reshape(shape)


def fit_gradient(part: Any, value: Any) -> Any:
    """``part`` (a gradient for an input whose value is ``value``) summed over the axes
    the input was broadcast along and in the input's dtype.

    ``part`` is an array in an ordinary backward pass, or a node when the pass
    builds a graph (``create_graph=True``); nodes carry ``sum_to_size`` and
    ``astype`` (installed by ``ops/``), so the same two steps work on both.
    """
    if not hasattr(value, "shape"):  # a Python number a learner's node computed, or set (x.value = 3)
        # a number is floating whatever its Python type, in the default dtype, as a feed makes it
        value = np.asarray(value, dtype=get_default_dtype() if isinstance(value, (int, float)) else None)
    shape, dtype = value.shape, value.dtype
    if part.shape != shape:
        part = unbroadcast(part, shape) if isinstance(part, (np.ndarray, np.generic)) else part.sum_to_size(shape)
    if part.dtype != dtype:
        part = part.astype(dtype)
    return part


PAIRWISE_FROM = 4096  # below this many terms per output element, NumPy's own loop is accurate enough


def needs_pairwise(terms: int, dtype: np.dtype) -> bool:
    """Whether a sum of ``terms`` terms per total (of ``dtype``) takes ``accurate_sum``'s pairwise
    way; below ``PAIRWISE_FROM`` terms, or for integers, NumPy's own loop is exact enough."""
    return terms >= PAIRWISE_FROM and dtype.kind == "f"


def accurate_sum(x: Any, axes: tuple, keepdims: bool = False) -> Any:
    """Σ over ``axes`` with O(log n) rounding error, like NumPy's sum along a contiguous
    last axis and PyTorch's reductions.

    NumPy sums a strided axis (axis 0 of a C-ordered array, say: the bias gradient of a
    batch) one row after another, whose float32 error grows with the number of rows
    (1.6e-4 relative over 10⁶ rows). Here the reduced axes go first and the rows are
    added in halves, pairwise, down to a few: the error of a tree of depth log₂ n.
    """
    x = np.asarray(x)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if not needs_pairwise(n, x.dtype):
        return np.add.reduce(x, axis=axes, keepdims=keepdims)  # type: ignore[call-overload]  # numpy's stubs take only a literal keepdims
    kept = [a for a in range(x.ndim) if a not in axes]
    runs = np.transpose(x, kept + list(axes))
    if runs.flags.c_contiguous:  # each total's terms lie in one run (a channel-major bias gradient):
        total = np.add.reduce(runs.reshape(runs.shape[: len(kept)] + (n,)), axis=-1)  # NumPy sums it pairwise
    else:
        total = _folded_sum(np.transpose(x, list(axes) + kept).reshape((n,) + runs.shape[: len(kept)]))
    if keepdims:
        total = np.reshape(total, tuple(1 if a in axes else x.shape[a] for a in range(x.ndim)))
    return total


def _folded_sum(rows: np.ndarray) -> np.ndarray:
    """Σ over axis 0, the rows added in halves, pairwise, down to a few."""
    while len(rows) > 8:
        half = len(rows) // 2
        folded = rows[:half] + rows[half : 2 * half]
        if len(rows) % 2:
            folded[0] += rows[-1]
        rows = folded
    return np.add.reduce(rows, axis=0)
