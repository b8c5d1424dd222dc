"""Sliding windows: the geometry that convolution and pooling share.

Every op here works on a canonical (N, C, H, W) array: a 1-D op (N, C, L)
is the 2-D op on (N, C, 1, L), and an unbatched input (C, H, W) or (C, L) is
a batch of one. ``Window`` holds the kernel, stride, dilation and padding of
the two spatial axes (padding as (before, after) pairs, so ``padding="same"``
with an even kernel and pooling's ``ceil_mode`` fit too) and yields, for each
kernel offset, the strided view of the padded image that this offset sees in
every window: a loop over kh·kw offsets, never over pixels.

The option parsers at the bottom turn what a user types (``3``, ``(3, 2)``)
into tuples, and give the error to raise for anything else (``OptionError``,
from the op's ``check_options`` or the layer that checks it when built).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError

Pair = tuple[int, int]


@dataclass(frozen=True)
class Window:
    """kh×kw windows moved by ``stride``, their taps ``dilation`` apart, over an image
    padded by ``pad`` ((top, bottom), (left, right)). With ``ceil_mode`` (pooling) a
    last, partial window is kept when it starts inside the image or its left padding."""

    kernel: Pair
    stride: Pair = (1, 1)
    dilation: Pair = (1, 1)
    pad: tuple[Pair, Pair] = ((0, 0), (0, 0))
    ceil_mode: bool = False

    @property
    def reach(self) -> Pair:
        """The extent of one window on the image: d·(k-1) + 1 along each axis."""
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        return dh * (kh - 1) + 1, dw * (kw - 1) + 1

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def disjoint(self) -> bool:
        """Whether no two windows share a pixel (each pixel feeds at most one window)."""
        return all(s >= r for s, r in zip(self.stride, self.reach))

    def tiles(self, h: int, w: int) -> bool:
        """Whether the windows cover the (unpadded) h×w image exactly once: every pixel in one window."""
        return (
            self.stride == self.kernel
            and self.dilation == (1, 1)
            and self.pad == ((0, 0), (0, 0))
            and all(n % k == 0 for n, k in zip((h, w), self.kernel))
        )

    def out_size(self, h: int, w: int) -> Pair:
        """The output height and width for an h×w image (PyTorch's formula, ceil_mode included)."""
        (rh, rw), (sh, sw), (ph, pw) = self.reach, self.stride, self.pad
        return self._out(h, rh, sh, ph), self._out(w, rw, sw, pw)

    def _out(self, n: int, reach: int, stride: int, pad: Pair) -> int:
        span = n + pad[0] + pad[1] - reach
        if span < 0:
            return 0
        if not self.ceil_mode:
            return span // stride + 1
        out = -(-span // stride) + 1
        return out - 1 if (out - 1) * stride >= n + pad[0] else out

    def padded_size(self, h: int, w: int) -> Pair:
        """The height and width of the padded image the windows run over (with ceil_mode's
        overhang: the last window may reach past the padding)."""
        (oh, ow), (rh, rw), (sh, sw), (ph, pw) = self.out_size(h, w), self.reach, self.stride, self.pad
        return max(h + ph[0] + ph[1], (oh - 1) * sh + rh), max(w + pw[0] + pw[1], (ow - 1) * sw + rw)

    def check(self, op: str, shape4: tuple, given: tuple) -> None:
        """A window must fit the canonical input ``shape4``: ShapeError naming the op, the input
        shape as ``given`` and the window."""
        if min(self.out_size(*shape4[2:])) < 1:
            raise ShapeError(
                f"{op}: the input of shape {given}, padded by {self.pad}, is smaller than the "
                f"kernel {self.kernel} (dilation {self.dilation}, so it covers {self.reach})"
            )

    def pad_into(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """``x`` (N, C, H, W) inside a new array of the padded size, the border set to ``fill``."""
        n, c, h, w = x.shape
        (top, _), (left, _) = self.pad
        hp, wp = self.padded_size(h, w)
        if (hp, wp) == (h, w):
            return x
        out = np.empty((n, c, hp, wp), dtype=x.dtype)
        for region in border(hp, wp, top, left, h, w):
            out[(slice(None), slice(None)) + region] = fill
        out[:, :, top : top + h, left : left + w] = x
        return out

    def views(self, xp: np.ndarray, out_hw: Pair) -> Iterator[tuple[int, np.ndarray]]:
        """For each kernel offset k = i·kw + j: the (N, C, OH, OW) strided view of the padded
        image ``xp`` holding the pixel that tap (i, j) sees in every window."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, out_hw
        for i in range(kh):
            for j in range(kw):
                yield (
                    i * kw + j,
                    xp[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw],
                )

    def image_views(self, x: np.ndarray, out_hw: Pair) -> Iterator[tuple[int, np.ndarray, tuple[slice, slice]]]:
        """``views`` without the padding: for each kernel offset k, the strided view of the
        unpadded image ``x`` (N, C, H, W) holding the pixels tap k sees, and the (rows, columns)
        of the output whose windows see them there (the others see padding)."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        (top, _), (left, _) = self.pad
        along_h = [_inside(i * dh - top, sh, x.shape[2], out_hw[0]) for i in range(kh)]
        along_w = [_inside(j * dw - left, sw, x.shape[3], out_hw[1]) for j in range(kw)]
        for i, (rows, y0) in enumerate(along_h):
            for j, (cols, x0) in enumerate(along_w):
                if rows.stop > rows.start and cols.stop > cols.start:
                    y1, x1 = y0 + sh * (rows.stop - rows.start - 1) + 1, x0 + sw * (cols.stop - cols.start - 1) + 1
                    yield i * kw + j, x[:, :, y0:y1:sh, x0:x1:sw], (rows, cols)

    def crop(self, xp: np.ndarray, h: int, w: int) -> np.ndarray:
        """The image part of a padded array (a view)."""
        (top, _), (left, _) = self.pad
        return xp[:, :, top : top + h, left : left + w]


def _inside(offset: int, stride: int, n: int, out: int) -> tuple[slice, int]:
    """Along one axis, a tap ``offset`` from each window's start (padding included) at windows
    ``stride`` apart: the outputs o whose pixel offset + o·stride lies in the image [0, n), and
    the first such pixel."""
    lo = -(offset // stride) if offset < 0 else 0  # ⌈-offset / stride⌉
    hi = min(out, (n - 1 - offset) // stride + 1)
    return slice(lo, max(lo, hi)), offset + lo * stride


# Below this output width a strided view costs mostly NumPy's per-row work (one inner loop per
# row of pixels): im2col and max pooling gather through a cached flat index instead, while
# that index (8 bytes an element) stays small.
SHORT_ROWS, INDEX_BYTES = 8, 1 << 20


def gathers(out_width: int, elements: int) -> bool:
    """Whether ``elements`` pixels in output rows ``out_width`` wide are gathered through a flat
    index rather than copied from strided views, row by row."""
    return out_width < SHORT_ROWS and elements * 8 <= INDEX_BYTES


def tap_offsets(win: Window, wp: int) -> np.ndarray:
    """Where each kernel offset's pixel lies from its window's first, in an image Wp wide, flat."""
    (kh, kw), (dh, dw) = win.kernel, win.dilation
    return np.array([i * dh * wp + j * dw for i in range(kh) for j in range(kw)])


def border(hp: int, wp: int, top: int, left: int, h: int, w: int) -> list[tuple[slice, slice]]:
    """The (row, column) slices of an hp×wp array outside its h×w interior at (top, left)."""
    regions = [
        (slice(0, top), slice(0, wp)),
        (slice(top + h, hp), slice(0, wp)),
        (slice(top, top + h), slice(0, left)),
        (slice(top, top + h), slice(left + w, wp)),
    ]
    return [(r, c) for r, c in regions if r.stop != r.start and c.stop != c.start]


# ---------------------------------------------------------------- scratch memory
SCRATCH_BYTES = 4 << 20  # the largest scratch array kept between calls (a chunk of columns is 2 MiB)


class _Scratch(threading.local):
    """Per-thread scratch arrays, one per use, kept between calls up to ``SCRATCH_BYTES`` each
    (8 MiB in all after a W9 step), so that convolution and pooling mostly allocate no
    temporary memory: where freed memory is not reused (see ``allocation.py``) fresh memory
    costs page faults."""

    def __init__(self) -> None:
        self.arrays: dict[tuple, np.ndarray] = {}


_scratch = _Scratch()


def scratch(name: str, shape: tuple, dtype: Any) -> np.ndarray:
    """A contiguous array of ``shape`` for temporary use (contents undefined), reused across
    calls when it is small enough to keep."""
    size, dtype = math.prod(shape), np.dtype(dtype)
    if size * dtype.itemsize > SCRATCH_BYTES:
        return np.empty(shape, dtype=dtype)
    key = (name, dtype)
    buf = _scratch.arrays.get(key)
    if buf is None or buf.size < size:
        buf = _scratch.arrays[key] = np.empty(max(size, 1), dtype=dtype)
    return buf[:size].reshape(shape)


# ---------------------------------------------------------------- canonical (N, C, H, W) form
def nchw_shape(shape: tuple, spatial: int) -> tuple:
    """The canonical (N, C, H, W) shape of a batched or unbatched 1-D or 2-D input shape."""
    n, c = shape[:2] if len(shape) == spatial + 2 else (1, shape[0])
    h, w = (1, shape[-1]) if spatial == 1 else shape[-2:]
    return (n, c, h, w)


class PlaneSwap:
    """Swaps the two plane axes (N and C) of 4-D arrays and shapes, or does nothing."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return a.transpose(1, 0, 2, 3) if self.on else a

    def shape(self, shape: tuple) -> tuple:
        return (shape[1], shape[0]) + tuple(shape[2:]) if self.on else tuple(shape)


def planes_first(a: np.ndarray) -> tuple[np.ndarray, PlaneSwap]:
    """An (N, C, H, W) array as laid out in memory: itself, or the (C, N, H, W) view of a
    channel-major one (convolutions return those). Pooling treats N and C alike, so it
    works on that view and puts its results back with the returned flip."""
    flipped = a.transpose(1, 0, 2, 3)
    on = not a.flags.c_contiguous and flipped.flags.c_contiguous
    return (flipped if on else a), PlaneSwap(on)


def to_nchw(x: np.ndarray, spatial: int) -> np.ndarray:
    """The canonical 4-D view of a batched or unbatched 1-D or 2-D input (no copy)."""
    return np.reshape(x, nchw_shape(np.shape(x), spatial))


def from_nchw(y: np.ndarray, like: tuple, spatial: int) -> np.ndarray:
    """A canonical result back in the layout of an input of shape ``like``."""
    batched = len(like) == spatial + 2
    lead = y.shape[:2] if batched else y.shape[1:2]
    tail = y.shape[3:] if spatial == 1 else y.shape[2:]
    return y.reshape(lead + tail)


def check_rank(op: str, shape: tuple, spatial: int, layout: str) -> None:
    """The input must be batched or unbatched ``layout`` (``"NCHW"`` or ``"NCL"``)."""
    if len(shape) not in (spatial + 1, spatial + 2):
        raise ShapeError(
            f"{op} expects a {layout} input ({spatial + 2}-D, or {spatial + 1}-D without the batch "
            f"axis), got shape {shape}"
        )


# ---------------------------------------------------------------- options, as users type them
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


Fail = Callable[[str, str], Exception]  # (option, what is allowed) -> the error to raise


def ints(value: Any, count: int, minimum: int) -> tuple | None:
    """An int or ``count`` ints (a tuple or list), each >= ``minimum``, as a tuple of ``count``
    ints; None when it is anything else."""
    items = (value,) * count if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) != count or not all(_is_int(v) and v >= minimum for v in items):
        return None
    return tuple(int(v) for v in items)


def ints_option(options: dict, option: str, count: int, minimum: int, fail: Fail) -> tuple:
    """``options[option]`` as ``count`` ints >= ``minimum`` (see ``ints``), or raise ``fail(...)``."""
    parsed = ints(options[option], count, minimum)
    if parsed is None:
        raise fail(option, f"is not an int >= {minimum}" + ("" if count == 1 else f" or {count} of them"))
    return parsed


def flag_option(options: dict, option: str, fail: Fail) -> bool:
    """A yes/no option: True or False (or 1 or 0, which Python treats as those)."""
    value = options[option]
    if not (isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1))):
        raise fail(option, "is not True or False")
    return bool(value)


def pair(values: tuple, fill: int) -> Pair:
    """A 1-D option (v,) as the canonical pair (fill, v) (kernel, stride, dilation 1 and padding 0
    along the dummy height axis); a 2-D pair stays."""
    return (fill, values[0]) if len(values) == 1 else tuple(values)


def symmetric(pad: Pair) -> tuple[Pair, Pair]:
    """(ph, pw) as ((ph, ph), (pw, pw))."""
    return ((pad[0], pad[0]), (pad[1], pad[1]))
