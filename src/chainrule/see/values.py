"""How chainrule writes numbers, tensors, counts and axes in its sentences and pictures.

Scalars in text are written at full precision (``0.18583185743835806``: the
lesson's digits appear exactly); pictures use 6 significant digits. Tensors
show their shape and a few leading entries, like NumPy's summarised repr
(``[[0.1, -0.2, 0.3], [0.4, 0.5, 0.6], …]``), plus their range when not every
entry is shown. ``Count`` and ``Axes`` write plurals correctly in English
(``1 path``, ``3 paths``) and as Chinese wants them, through format specs in
the phrase table (``{count:path|paths}``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

LEADING = 3  # entries shown along each axis of a tensor
SMALL = 6  # tensors with at most this many elements are shown in full


class Count(int):
    """An integer that writes its noun: ``format(Count(1), "path|paths")`` is ``1 path``."""

    def __format__(self, spec: str) -> str:
        if "|" in spec:
            one, many = spec.split("|", 1)
            return f"{int(self)} {one if self == 1 else many}"
        return format(int(self), spec)


class Axes(tuple):
    """Axes as a sentence wants them: ``{axes:en}`` is ``axis 0`` or ``axes 0 and 2``,
    ``{axes:zh}`` is ``第 0 轴`` or ``第 0、2 轴``."""

    def __format__(self, spec: str) -> str:
        numbers = [str(a) for a in self]
        if spec == "zh":
            return f"第 {'、'.join(numbers)} 轴"
        if len(numbers) == 1:
            return f"axis {numbers[0]}"
        return f"axes {', '.join(numbers[:-1])} and {numbers[-1]}"


def shape_text(shape: tuple) -> str:
    """``(3, 2)``; a scalar's shape is ``()``."""
    return str(tuple(int(d) for d in shape))


def number(value: Any) -> str:
    """One number at full precision: the shortest digits that read back to it in its own dtype
    (float32 0.1 is ``0.1``; float64 keeps all 17 digits when they matter)."""
    arr = np.asarray(value)
    return str(arr.reshape(-1)[0]) if arr.size else EMPTY


EMPTY = "[]"  # what an empty tensor shows where a number would be


def short(value: Any, digits: int = 6) -> str:
    """A number with ``digits`` significant digits (pictures, summaries)."""
    arr = np.asarray(value)
    if not arr.size:
        return EMPTY
    x = arr.reshape(-1)[0]
    if np.asarray(x).dtype.kind in "iub":
        return str(x)
    return f"{float(x):.{digits}g}"


def entries(arr: np.ndarray, digits: int = 4) -> tuple[str, bool]:
    """A tensor's leading entries, nested like NumPy's repr, and whether all are shown."""
    complete = arr.size <= SMALL or all(n <= LEADING for n in arr.shape)

    def write(a: np.ndarray) -> str:
        if a.ndim == 0:
            return short(a, digits)
        shown = a.shape[0] if complete else min(a.shape[0], LEADING)
        parts = [write(a[i]) for i in range(shown)]
        if shown < a.shape[0]:
            parts.append("…")
        return "[" + ", ".join(parts) + "]"

    return write(arr), complete


def is_finite(value: Any) -> bool:
    """No NaN and no infinity (anything not floating counts as finite)."""
    arr = np.asarray(value)
    return arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all())


def display_width(text: str) -> int:
    """Columns on a terminal: CJK characters take two (so rows and rules line up)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
