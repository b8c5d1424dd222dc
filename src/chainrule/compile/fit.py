"""Fitting a gradient to its input, decided once for the example's shapes and dtypes.

The engine's ``fit_gradient`` works out, on every call, which axes a gradient was
broadcast along, whether the sum needs the pairwise fold, whether the result needs
a reshape and a cast. A compiled program runs for one set of shapes and dtypes
(another set recompiles it), so all of that is known when it is written: what is
left is one reduction, and a reshape or a cast only where the example needs one.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ..broadcast import accurate_sum, broadcast_axes, fit_gradient, needs_pairwise


class Fitting(NamedTuple):
    """What fitting one gradient comes to: Σ over ``axes`` (``pairwise``: with the fold), then
    maybe a reshape to ``shape`` and a cast to ``dtype`` (None where not needed)."""

    axes: tuple
    keepdims: bool
    pairwise: bool
    shape: tuple | None
    dtype: np.dtype | None

    def apply(self, part: np.ndarray) -> Any:
        """The fitting done on an array, as the program's text will do it."""
        total = accurate_sum(part, self.axes, self.keepdims)  # (np.add.reduce itself, unless pairwise)
        total = total if self.shape is None else np.reshape(total, self.shape)
        return total if self.dtype is None else total.astype(self.dtype)


def fitting(part: Any, value: Any) -> Fitting | None:
    """The fitting of ``part`` to ``value``'s shape and dtype, decided now; None where it
    cannot be (not arrays, nothing to sum), or where doing it so would not give exactly
    what ``fit_gradient`` gives on the example."""
    if type(part) is not np.ndarray or type(value) is not np.ndarray or part.ndim < value.ndim:
        return None
    axes = broadcast_axes(part.shape, value.shape)
    if not axes:
        return None
    keepdims = part.ndim == value.ndim
    plan = Fitting(axes, keepdims, needs_pairwise(math.prod(part.shape[a] for a in axes), part.dtype), None, None)
    total = plan.apply(part)  # the reduction alone: what it leaves says whether a reshape or a cast follows
    plan = plan._replace(
        shape=None if total.shape == value.shape else value.shape,
        dtype=None if total.dtype == value.dtype else value.dtype,
    )
    expected, got = fit_gradient(part, value), plan.apply(part)
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return None
    return plan if np.array_equal(got, expected, equal_nan=got.dtype.kind in "fc") else None
