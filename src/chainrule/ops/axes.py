"""Axes, one rule for every op that takes them (PyTorch's), and NumPy's keyword names.

- A negative axis counts from the end: ``-1`` is the last axis of the value the
  op gets (worked out when it runs, so a define-then-run graph may be fed any
  rank).
- A 0-d tensor accepts axis ``0`` and ``-1`` (as if it had one axis of length 1):
  ``sum(s, axis=0)``, ``softmax(s, axis=-1)``, ``squeeze(s, (0,))``,
  ``swapaxes(s, 0, -1)`` all work and reduce or move nothing.
- Anything else out of range raises NumPy's ``AxisError``, which the engine
  turns into an ``OptionError`` naming the op and its input.

Keywords follow NumPy (``axis=``, ``keepdims=``). PyTorch's ``dim=`` and
``keepdim=`` raise a ``TypeError`` that says which name to use
(``numpy_names``): a silent alias would invite ``cr.max(x, dim=1)`` to be read
as torch's (values, indices) pair.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

AxisError = np.exceptions.AxisError


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, bool)


def axis_index(axis: int, ndim: int) -> int:
    """``axis`` as a non-negative index into ``ndim`` axes (a 0-d value has one: index 0)."""
    size = ndim or 1
    if not -size <= axis < size:
        raise AxisError(f"axis {axis} is out of bounds for a value with {ndim} dimension(s)")
    return axis % size


def normalize_axes(axis: Any, ndim: int) -> tuple:
    """``axis`` (None for all, an int, or a tuple) as a sorted tuple of distinct
    non-negative axes of an ``ndim``-dimensional value; () for a 0-d value."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = sorted({axis_index(int(a), ndim) for a in items})
    if len(axes) != len(items):
        raise AxisError(f"axis {axis} repeats an axis")
    return tuple(axes) if ndim else ()


def normalize_axis(axis: int, ndim: int) -> int | None:
    """One axis as a non-negative index, or None for a 0-d value (nothing to act on)."""
    index = axis_index(int(axis), ndim)
    return index if ndim else None


_RENAMED = {"dim": "axis", "keepdim": "keepdims"}


def numpy_names(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make ``fn(..., dim=1)`` and ``fn(..., keepdim=True)`` raise a TypeError naming
    NumPy's keyword (``axis=``, ``keepdims=``) instead of Python's bare complaint."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for torch_name, numpy_name in _RENAMED.items():
            if torch_name in kwargs:
                raise TypeError(
                    f"{fn.__name__}() takes NumPy's keyword names: use {numpy_name}= "
                    f"instead of {torch_name}= (got {torch_name}={kwargs[torch_name]!r})"
                )
        return fn(*args, **kwargs)

    return wrapper
