"""The default floating dtype and the one place data becomes an ndarray.

Like PyTorch the default is float32; ``set_default_dtype("float64")`` switches
it (the lesson does, to print its digits). Floating arrays keep their dtype;
Python numbers and integer data become the default float where they must be
differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from .errors import DTypeError

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


_KINDS = {
    "U": "text",
    "S": "bytes",
    "O": "Python objects",
    "c": "complex numbers",
    "M": "dates",
    "m": "time spans",
    "V": "raw records",
}


def not_numbers(data: Any, arr: np.ndarray) -> DTypeError:
    """The error for data that is not real numbers, naming what was given."""
    shown = repr(data) if len(repr(data)) < 60 else repr(data)[:57] + "..."
    what = "None" if data is None else f"{type(data).__name__} {shown}"
    hint = {
        "U": "convert it first, e.g. float(s) or np.asarray(data, dtype=float)",
        "c": "chainrule does not support complex values: pass the real and imaginary parts as two "
        "real arrays (z.real, z.imag)",
    }.get(arr.dtype.kind, "pass numbers (an int, float or bool array)")
    return DTypeError(
        f"chainrule computes on real numbers, but got {what} ({_KINDS.get(arr.dtype.kind, arr.dtype)}, "
        f"dtype {arr.dtype}): {hint}"
    )


def as_array(data: Any, dtype: Any = None, float_only: bool = True) -> np.ndarray:
    """``data`` as an ndarray: floats keep their dtype, the rest becomes the default
    float (or stays integer/bool when ``float_only`` is False, e.g. class labels).
    Strings, None, objects, complex and date-time data raise ``DTypeError``: nothing
    is converted silently (``"3.5"`` is not 3.5, None is not NaN, 1+2j is not 1)."""
    if type(data) is np.ndarray and data.dtype.kind == "f" and dtype is None:
        return data  # the common case, first: a float array keeps its precision
    arr = np.asarray(data)
    if arr.dtype.kind not in "fiub":
        raise not_numbers(data, arr)
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind not in "fiub":
            raise not_numbers(np.zeros((), dt), np.zeros((), dt))
        return arr.astype(dt, copy=False)
    if arr.dtype.kind == "f" and isinstance(data, (np.ndarray, np.generic)):
        return arr  # an array the user made keeps its precision, like torch.tensor
    if arr.dtype.kind == "f":
        return arr.astype(_default, copy=False)  # Python floats and lists of them
    if float_only or arr.dtype.kind not in "iub":
        return arr.astype(_default)
    return arr


PROMOTE = "promote"  # arithmetic: PyTorch's promotion (see ``reconcile``)
NARROW = "narrow"  # losses: the narrowest floating dtype among the inputs
FLOAT = "float"  # ops whose results are real numbers (exp, sigmoid, a / b): PROMOTE, ints and bools alone float


@overload
def reconcile(values: list[Any], policy: str, keep: Sequence[int] = ()) -> list[Any]: ...
@overload
def reconcile(values: Sequence[Any], policy: str, keep: Sequence[int] = ()) -> Sequence[Any]: ...
def reconcile(values: Sequence[Any], policy: str, keep: Sequence[int] = ()) -> Sequence[Any]:
    """An op's input values in the dtypes it computes in: the engine calls this once,
    before the op's ``forward`` and its ``vjp``, for every op that declares a ``policy``
    (op bodies never cast). ``keep``: positions left as they are (labels, conditions).

    - ``PROMOTE`` (PyTorch's rule, not NumPy 2's): integers and bools take the
      floating dtype of their partners, and so do floating 0-d values (a Python
      number lifted to a constant, a scalar parameter) next to floating arrays,
      so ``float32 array * 2.0`` and ``float32 array + int labels`` stay float32;
      floating arrays of different widths meet in the wider one.
    - ``NARROW`` (losses): every floating or integer input takes the narrowest
      floating dtype among them, so float64 targets from NumPy never turn a
      float32 model's loss into float64.
    - ``FLOAT`` (ops whose results are real numbers: exp, sigmoid, true division):
      ``PROMOTE``, and integers and bools with no floating partner take the default
      dtype (PyTorch's rule; NumPy's would make float64 of int64 and float16 of bool),
      so ``cr.exp(cr.tensor([1, 2]))`` is float32 in a float32 session.

    Works on arrays, NumPy scalars and nodes (``.dtype``, ``.ndim``, ``.astype``);
    Python numbers are left to NumPy, which treats them as weak.
    """
    if policy == FLOAT:
        only = getattr(values[0], "dtype", None) if len(values) == 1 else None
        if only is not None and only.kind == "f":
            return values  # (the usual case for exp, sigmoid and the others: nothing to change)
        if any(getattr(v, "dtype", None) is not None and v.dtype.kind == "f" for v in values):
            policy = PROMOTE
        else:  # integers, bools and Python numbers alone: the default float
            return [_as_default_float(v) for v in values]
    try:  # the common case, first: every input already has one dtype (runs once per op)
        first = values[0].dtype
        for v in values:
            if v.dtype is not first:
                break
        else:
            return values
    except AttributeError:  # a Python number among them
        pass
    target = _target(values, policy)
    if target is None:
        if policy == NARROW and not any(hasattr(v, "dtype") for v in values):  # Python numbers alone
            return [_as_default_float(v) for v in values]  # (cr.mse(2.0, 3.0), as NumPy takes them)
        return values
    return [
        v
        if getattr(v, "dtype", target) == target or v.dtype.kind not in "fiub" or (i in keep and v.dtype.kind != "f")
        else v.astype(target)
        for i, v in enumerate(values)
    ]


def _as_default_float(v: Any) -> Any:
    """An integer or bool value (array, NumPy scalar or Python number) in the default dtype."""
    dtype = getattr(v, "dtype", None)
    if dtype is not None:
        return v.astype(_default) if dtype.kind in "iub" else v
    return np.asarray(v, dtype=_default) if isinstance(v, (int, float)) else v


def _target(values: Sequence[Any], policy: str) -> np.dtype | None:
    """The floating dtype ``reconcile`` converts to, or None when there is nothing to do."""
    floats = [v for v in values if getattr(v, "dtype", None) is not None and v.dtype.kind == "f"]
    if not floats:
        return None  # integer arithmetic: NumPy's own rules
    if policy == NARROW:
        return min((v.dtype for v in floats), key=lambda d: d.itemsize)
    arrays = [v.dtype for v in floats if v.ndim > 0]
    return np.result_type(*(arrays or [v.dtype for v in floats]))
