"""Pooling, 1-D and 2-D, as ``torch.nn.functional``: what every pooling op shares (its
options, checked when a node is built) and max pooling (``dilation``, ``ceil_mode``,
``return_indices``); average pooling is in ``avgpool.py``.

Forward passes take the max or the sum over the kh·kw offset views of the
padded input (``windows.py``): one pass per offset over the output, never a
loop over pixels. Max pooling's gradient goes to the first maximal element of
each window (PyTorch's choice on ties; the last NaN, if any): the forward pass
of a node that needs a gradient notes, per window, the offset of that element
(one byte per output), and backward writes each offset's share of the
gradient into its strided view of the input, so the whole input is written
once. That scatter (``PoolScatter``) and the gather that reads the same
elements (``PoolGather``) are each other's vjp.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any, Literal, overload

import numpy as np

from ..errors import option_error
from ..node import value_of
from ..op import Op
from .threads import each, ranges
from .windows import (
    Fail,
    PlaneSwap,
    Window,
    check_rank,
    flag_option,
    from_nchw,
    gathers,
    ints_option,
    nchw_shape,
    pair,
    planes_first,
    scratch,
    symmetric,
    tap_offsets,
    to_nchw,
)

LAYOUT = {1: "NCL", 2: "NCHW"}


def pool_options(spatial: int, options: dict, fail: Fail) -> dict:
    """``kernel_size``, ``stride``, ``padding``, ``dilation`` and ``ceil_mode`` as the ops hold them
    (tuples of ``spatial`` ints; ``stride`` None means the kernel), or raise ``fail(option,
    allowed)`` for what PyTorch refuses, padding above half the kernel among it."""
    kernel = ints_option(options, "kernel_size", spatial, 1, fail)
    stride = options["stride"]
    stride = kernel if stride is None or stride in ((), []) else ints_option(options, "stride", spatial, 1, fail)
    padding = ints_option(options, "padding", spatial, 0, fail)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise fail("padding", f"is not an int from 0 to half the kernel size {options['kernel_size']!r}")
    return dict(
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=ints_option(options, "dilation", spatial, 1, fail),
        ceil_mode=flag_option(options, "ceil_mode", fail),
    )


POOL_OPTIONS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


class _Pool(Op):
    """A pooling op: its options (``spatial`` ints each) and the window they make."""

    spatial = 2
    kernel_size: tuple = (2, 2)
    stride: Any = None  # None: the kernel size
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    ceil_mode = False
    label = "pool"  # the function's name without "1d"/"2d", for messages

    def check_options(self) -> None:
        self.__dict__.update(pool_options(self.spatial, {k: getattr(self, k) for k in POOL_OPTIONS}, self.option_error))

    @property
    def window(self) -> Window:
        win = self.__dict__.get("_window")
        if win is None:
            win = self._window = Window(
                pair(self.kernel_size, 1),
                pair(self.stride, 1),
                pair(self.dilation, 1),
                symmetric(pair(self.padding, 0)),
                self.ceil_mode,
            )
        return win

    @property
    def op_name(self) -> str:
        return f"{self.label}{self.spatial}d"

    def _image(self, x: Any) -> np.ndarray:
        check_rank(self.op_name, np.shape(x), self.spatial, LAYOUT[self.spatial])
        x4 = to_nchw(x, self.spatial)
        self.window.check(self.op_name, x4.shape, np.shape(x))
        return x4


# ---------------------------------------------------------------- max pooling


@functools.lru_cache(maxsize=8)
def tap_index(shape4: tuple, win: Window, channel_major: bool = False) -> np.ndarray:
    """(taps, N·C·OH·OW): for each kernel offset, the flat index of the pixel it sees in every
    window, the windows in (N, C, OH, OW) order, in the padded image laid out as (N, C, Hp, Wp),
    or as (C, N, Hp, Wp) when ``channel_major`` (as convolutions return their results). Cached
    per shape, window and layout."""
    n, c, h, w = shape4
    (hp, wp), (oh, ow) = win.padded_size(h, w), win.out_size(h, w)
    (sh, sw) = win.stride
    plane = np.arange(c) * n + np.arange(n).reshape(-1, 1) if channel_major else np.arange(n * c).reshape(n, c)
    rows, columns = np.arange(oh).reshape(-1, 1) * (sh * wp), np.arange(ow) * sw
    base = (plane.reshape(n, c, 1, 1) * (hp * wp) + rows + columns).reshape(1, -1)
    index = base + tap_offsets(win, wp).reshape(-1, 1)
    index.flags.writeable = False
    return index


def _short(win: Window, shape4: tuple) -> bool:
    oh, ow = win.out_size(*shape4[2:])
    return gathers(ow, win.taps * shape4[0] * shape4[1] * oh * ow)


def _lowest(dtype: np.dtype) -> Any:
    """What padding holds for max pooling: -∞, or an integer dtype's least value (as PyTorch
    pools int64 tensors)."""
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def _code_dtype(win: Window) -> np.dtype:
    return np.dtype(np.uint8 if win.taps <= 255 else np.intp)


@overload
def window_max(x4: np.ndarray, win: Window, argmax: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def window_max(x4: np.ndarray, win: Window, argmax: bool = False) -> tuple[np.ndarray, np.ndarray | None]: ...
def window_max(x4: np.ndarray, win: Window, argmax: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The max over each window, and with ``argmax`` the offset k = i·kw + j of each window's
    first maximal element (of its last NaN, as PyTorch), one byte per window. Long rows work
    in the input's memory order, a few planes per thread (``threads.py``), and the results
    have its layout; short rows go through ``tap_index`` (``_max_gathered``)."""
    if _short(win, x4.shape):
        return _max_gathered(x4, win, argmax)
    x4, swap = planes_first(x4)
    best = np.empty(x4.shape[:2] + win.out_size(*x4.shape[2:]), dtype=x4.dtype)
    code = np.zeros(best.shape, dtype=_code_dtype(win)) if argmax else None

    def planes(bounds: tuple[int, int]) -> None:
        a, b = bounds
        _max_into(x4[a:b], win, best[a:b], None if code is None else code[a:b])

    each(planes, ranges(x4.shape[0], x4.nbytes), x4.nbytes)
    return swap(best), None if code is None else swap(code)


def _max_gathered(x4: np.ndarray, win: Window, argmax: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``window_max`` for short rows: every offset's pixels gathered by one ``take`` into a
    (taps, windows) block, then compared over whole contiguous rows. The windows come out in
    (N, C, OH, OW) order whatever the input's layout, so the results are C-ordered (a Flatten
    after the pooling of a convolution's channel-major output reads them without a copy)."""
    planes, swap = planes_first(x4)
    flat = np.ascontiguousarray(win.pad_into(planes, _lowest(x4.dtype))).ravel()
    index = tap_index(x4.shape, win, swap.on)
    taps = scratch("taps", index.shape, x4.dtype)
    np.take(flat, index, out=taps, mode="clip")  # (mode="clip": see columns.Columns.chunk_columns)
    shape = x4.shape[:2] + win.out_size(*x4.shape[2:])
    if not argmax:
        return np.maximum.reduce(taps, axis=0).reshape(shape), None
    best, code = taps[0].copy(), np.zeros(index.shape[1], dtype=_code_dtype(win))
    rows = list(enumerate(taps))
    _first_max(best, code, rows[1:], rows)
    return best.reshape(shape), code.reshape(shape)


def _max_into(x4: np.ndarray, win: Window, best: np.ndarray, code: np.ndarray | None) -> None:
    """``window_max`` of some planes, into ``best`` and ``code`` (zeros). Each offset's pixels are
    copied once into a contiguous buffer: the comparisons then run over whole arrays instead
    of NumPy's short rows (one call per 16-pixel row otherwise)."""
    views = list(win.views(win.pad_into(x4, _lowest(x4.dtype)), win.out_size(*x4.shape[2:])))
    np.copyto(best, views[0][1])
    if code is None:
        for _, view in views[1:]:
            np.maximum(best, view, out=best)
        return
    tap = scratch("tap", best.shape, best.dtype)

    def copied() -> Iterator[tuple[int, np.ndarray]]:  # (the first is in ``best`` already)
        for k, view in views[1:]:
            np.copyto(tap, view)
            yield k, tap

    _first_max(best, code, copied(), views)


def _first_max(best: np.ndarray, code: np.ndarray, taps: Iterable, originals: Iterable) -> None:
    """Fold the offsets' pixels ``taps`` ((k, array) for k = 1, 2, ...: offset 0's are in
    ``best`` already) into each window's max ``best`` and the offset ``code`` of its first
    maximum; then, where a window holds NaN, the offset of its last NaN (PyTorch's), read
    from ``originals`` (every offset's pixels, again)."""
    later, raised = scratch("later", best.shape, bool), scratch("raised", best.shape, code.dtype)
    for k, tap in taps:
        np.greater(tap, best, out=later)  # strictly: on ties the first maximum stays
        np.multiply(later, code.dtype.type(k), out=raised)
        np.maximum(code, raised, out=code)  # k grows, so the last raise wins
        np.maximum(best, tap, out=best)
    nan = np.isnan(best)
    if np.logical_or.reduce(nan, axis=None):
        for k, original in originals:
            code[nan & np.isnan(original)] = k


def scatter_array(
    g4: np.ndarray, code: np.ndarray, win: Window, shape4: tuple, channel_major: bool = False
) -> np.ndarray:
    """An array of ``shape4``, zero but for each window's g at the element its ``code`` names,
    laid out channel-major (as a convolution's output) or not, as its input was."""
    n, c, h, w = shape4
    swap = PlaneSwap(channel_major)
    padded = swap.shape((n, c) + win.padded_size(h, w))  # the image as laid out in memory
    if _short(win, shape4):  # each window's element, through the flat index
        image = np.zeros(padded, dtype=g4.dtype)
        where = tap_index(shape4, win, channel_major)[0] + tap_offsets(win, padded[3]).take(code.ravel())
        if win.disjoint:
            image.ravel()[where] = g4.ravel()
        else:
            np.add.at(image.ravel(), where, g4.ravel())
    else:
        image = (np.empty if win.tiles(h, w) else np.zeros)(padded, dtype=g4.dtype)  # tiling windows write all
        g4, code = swap(g4), swap(code)

        def planes(bounds: tuple[int, int]) -> None:
            a, b = bounds
            _scatter_into(g4[a:b], code[a:b], win, image[a:b])

        each(planes, ranges(padded[0], image.nbytes), image.nbytes)
    return swap(image if image.shape[2:] == (h, w) else np.ascontiguousarray(win.crop(image, h, w)))


def _scatter_into(g4: np.ndarray, code: np.ndarray, win: Window, image: np.ndarray) -> None:
    """``scatter_array`` of some planes into their padded ``image`` (zeros unless the windows tile
    it): each offset's share written into its strided view, the whole image once."""
    hit = scratch("hit", code.shape, bool)
    for k, view in win.views(image, code.shape[2:]):
        np.equal(code, k, out=hit)
        if win.disjoint:
            np.multiply(g4, hit, out=view)
        else:
            view += g4 * hit


def gather_array(x4: np.ndarray, code: np.ndarray, win: Window) -> np.ndarray:
    """Each window's element at the offset its ``code`` names."""
    out = np.zeros(code.shape, dtype=x4.dtype)
    for k, view in win.views(win.pad_into(x4), code.shape[2:]):
        np.copyto(out, view, where=code == k)
    return out


class PoolScatter(Op):
    """g (one value per window) put at the element each window's ``code`` names, in an array
    of ``shape_``, zeros elsewhere (max pooling's backward); vjp: PoolGather."""

    spatial = 2
    window = Window((2, 2), (2, 2))  # canonical
    code: Any = None  # (N, C, OH, OW) offsets, from window_max (always given)
    shape_ = ()
    channel_major = False  # the layout of the result: as the pooling's input was (only speed differs)
    formula = "scatter({0})"
    derivatives = ("[at the window max]",)

    def forward(self, g: Any) -> Any:
        shape4 = nchw_shape(self.shape_, self.spatial)
        g4 = to_nchw(g, self.spatial)
        return scatter_array(g4, self.code, self.window, shape4, self.channel_major).reshape(self.shape_)

    def vjp(self, v: Any, out: Any, g: Any) -> tuple[Any, ...]:
        return (PoolGather.apply(v, spatial=self.spatial, window=self.window, code=self.code),)


class PoolGather(Op):
    """From each window, the element its ``code`` names; vjp: PoolScatter."""

    spatial = 2
    window = Window((2, 2), (2, 2))
    code: Any = None
    formula = "gather({0})"
    derivatives = ("[at the window max]",)

    def forward(self, x: Any) -> Any:
        return from_nchw(gather_array(to_nchw(x, self.spatial), self.code, self.window), np.shape(x), self.spatial)

    def vjp(self, v: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (PoolScatter.apply(v, spatial=self.spatial, window=self.window, code=self.code, shape_=np.shape(x)),)


class MaxPool2D(_Pool):
    """Max over each window of (N, C, H, W) or (C, H, W) (padding counts as -∞); the gradient
    goes to each window's first maximal element, as in PyTorch. A node that needs a gradient
    keeps, from its forward pass to its vjp, which element that is (a byte per window)."""

    label = "max_pool"
    formula = "maxpool({0})"
    derivatives = ("[x = window max]",)
    _saved = None  # (input, output, argmax offsets): released by the vjp that uses them

    def forward(self, x: Any) -> Any:
        x4 = self._image(x)
        keep = getattr(self, "requires_grad", False)  # False on the array fast path
        out, code = window_max(x4, self.window, argmax=keep)
        out = from_nchw(out, np.shape(x), self.spatial)
        self._saved = (x, out, code) if keep else None
        return out

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        saved, self._saved = self._saved, None
        xv, outv = value_of(x), value_of(out)
        if saved is not None and saved[0] is xv and saved[1] is outv:
            code = saved[2]
        else:  # a second backward, or values given from elsewhere: find the maxima again
            code = window_max(to_nchw(xv, self.spatial), self.window, argmax=True)[1]
        channel_major = planes_first(to_nchw(xv, self.spatial))[1].on  # the gradient's layout: x's
        options = dict(spatial=self.spatial, window=self.window, code=code, shape_=np.shape(x))
        return (PoolScatter.apply(g, channel_major=channel_major, **options),)


class MaxPool1D(MaxPool2D):
    """Max over each window of (N, C, L) or (C, L)."""

    spatial = 1
    kernel_size, padding, dilation = (2,), (0,), (1,)


class MaxPoolIndices(_Pool):
    """Where each window's maximum is: its flat index in the input's (H, W) plane (in L for
    1-D), as ``return_indices=True`` gives in PyTorch. Integers, not differentiable."""

    differentiable = False
    label = "max_pool"
    formula = "argmax({0})"

    def forward(self, x: Any) -> Any:
        x4 = self._image(x)
        code = window_max(x4, self.window, argmax=True)[1].astype(np.int64)
        (_, kw), (sh, sw), (dh, dw) = self.window.kernel, self.window.stride, self.window.dilation
        (top, _), (left, _) = self.window.pad
        oh, ow = code.shape[2:]
        rows = np.arange(oh).reshape(-1, 1) * sh + code // kw * dh - top
        cols = np.arange(ow) * sw + code % kw * dw - left
        return from_nchw(rows * x4.shape[3] + cols, np.shape(x), self.spatial)


# ---------------------------------------------------------------- the public functions
def _max_pool(
    spatial: int,
    x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    return_indices: Any,
) -> Any:
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    out = (MaxPool2D if spatial == 2 else MaxPool1D).apply(x, **options)
    if not flag_option(
        {"return_indices": return_indices},
        "return_indices",
        lambda o, a: option_error(f"max_pool{spatial}d", o, return_indices, a),
    ):
        return out
    return out, MaxPoolIndices.apply(x, spatial=spatial, **options)


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.max_pool2d``;
    ``stride`` defaults to the kernel size; with ``return_indices`` also each maximum's flat
    index in its (H, W) plane (int64)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over (N, C, L) or (C, L), as ``torch.nn.functional.max_pool1d``."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
