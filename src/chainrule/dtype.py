"""The default floating dtype and the one place data becomes an ndarray.

Like PyTorch the default is float32; ``set_default_dtype("float64")`` switches
it (the lesson does, to print its digits). Floating arrays keep their dtype;
Python numbers and integer data become the default float where they must be
differentiable.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_default = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python numbers and integer data become."""
    global _default
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default = dt


def get_default_dtype() -> np.dtype:
    """The float dtype that Python numbers and integer data become."""
    return _default


def as_array(data: Any, dtype: Any = None, float_only: bool = True) -> np.ndarray:
    """``data`` as an ndarray: floats keep their dtype, the rest becomes the default
    float (or stays integer/bool when ``float_only`` is False, e.g. class labels)."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if type(data) is np.ndarray and data.dtype.kind == "f":
        return data  # the common case, first: a float array keeps its precision
    arr = np.asarray(data)
    if arr.dtype.kind == "f" and isinstance(data, (np.ndarray, np.generic)):
        return arr  # an array the user made keeps its precision, like torch.tensor
    if arr.dtype.kind == "f":
        return arr.astype(_default, copy=False)  # Python floats and lists of them
    if float_only or arr.dtype.kind not in "iub":
        return arr.astype(_default)
    return arr


def match_floats(a: Any, b: Any) -> tuple:
    """The operands of a binary op, converted so that neither widens the other.

    PyTorch's promotion rule rather than NumPy 2's: an integer or bool operand
    takes the float operand's dtype (NumPy turns float32 ⊕ int64 into float64),
    and a 0-d float (a scalar constant, say ``0.5`` lifted before the graph
    had values) takes the dtype of a float array it meets (NumPy turns float32
    array ⊕ float64 0-d array into float64). Works on ndarrays, NumPy scalars
    and nodes (``.astype``); Python numbers are left to NumPy's weak promotion.
    """
    da = getattr(a, "dtype", None)
    db = getattr(b, "dtype", None)
    if da is None or db is None or da == db:
        return a, b
    if da.kind == "f":
        if db.kind in "iu" or (db.kind == "f" and b.ndim == 0 and a.ndim > 0):
            return a, b.astype(da)
    if db.kind == "f":
        if da.kind in "iu" or (da.kind == "f" and a.ndim == 0 and b.ndim > 0):
            return a.astype(db), b
    return a, b
