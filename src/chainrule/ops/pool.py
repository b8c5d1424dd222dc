"""Pooling, 1-D and 2-D, as ``torch.nn.functional``: max pooling (``dilation``,
``ceil_mode``, ``return_indices``), average pooling (``ceil_mode``,
``count_include_pad``, ``divisor_override``) and adaptive average pooling.

Forward passes take the max or the sum over the kh·kw offset views of the
padded input (``windows.py``): one pass per offset over the output, never a
loop over pixels. Max pooling's gradient goes to the first maximal element of
each window (PyTorch's choice on ties; the last NaN, if any): backward finds,
per window, the offset of that element (one byte per output), then writes
each offset's share of the gradient into its strided view of the input, so
the whole input is written once. That scatter (``PoolScatter``) and the gather
that reads the same elements (``PoolGather``) are each other's vjp.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import OptionError
from ..node import Node
from ..op import Op
from .columns import Col2Im
from .linalg import matmul
from .shape import broadcast_to, reshape
from .windows import (Window, check_rank, flag, from_nchw, inputs_note, int_tuple, nchw_shape, planes_first, scratch,
                      symmetric, to_nchw)

LAYOUT = {1: "NCL", 2: "NCHW"}


def _value(x: Any) -> np.ndarray:
    return np.asarray(x.value if isinstance(x, Node) else x)


class _Pool(Op):
    """A pooling op: its ``window`` (canonical pairs: a 1-D op has (1, k) kernels) and ``spatial``."""

    spatial = 2
    window = Window((2, 2), (2, 2))
    label = "pool"  # the function's name without "1d"/"2d", for messages

    @property
    def op_name(self) -> str:
        return f"{self.label}{self.spatial}d"

    def _image(self, x: Any) -> np.ndarray:
        check_rank(self.op_name, np.shape(x), self.spatial, LAYOUT[self.spatial])
        x4 = to_nchw(x, self.spatial)
        self.window.check(self.op_name, x4.shape, np.shape(x))
        return x4


# ---------------------------------------------------------------- max pooling
def window_max(x4: np.ndarray, win: Window, argmax: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The max over each window, and with ``argmax`` the offset k = i·kw + j of each window's
    first maximal element (of its last NaN, as PyTorch), one byte per window. Each offset's
    strided view is copied once into a contiguous buffer: the comparisons then run over
    whole arrays instead of NumPy's short rows (one call per 16-pixel row otherwise). Works
    in the input's memory order; the results have its layout."""
    x4, flip = planes_first(x4)
    views = list(win.views(win.pad_into(x4, -np.inf), win.out_size(*x4.shape[2:])))
    best = np.array(views[0][1])
    if not argmax:
        for _, view in views[1:]:
            np.maximum(best, view, out=best)
        return flip(best), None
    code = np.zeros(best.shape, dtype=np.uint8 if win.taps <= 255 else np.intp)
    tap, later = scratch("tap", best.shape, best.dtype), scratch("later", best.shape, bool)
    raised = scratch("raised", best.shape, code.dtype)
    for k, view in views[1:]:
        np.copyto(tap, view)
        np.greater(tap, best, out=later)  # strictly: on ties the first maximum stays
        np.multiply(later, code.dtype.type(k), out=raised)
        np.maximum(code, raised, out=code)  # k grows, so the last raise wins
        np.maximum(best, tap, out=best)
    nan = np.isnan(best)
    if nan.any():
        for k, view in views:
            code[nan & np.isnan(view)] = k
    return flip(best), flip(code)


def scatter_array(g4: np.ndarray, code: np.ndarray, win: Window, shape4: tuple) -> np.ndarray:
    """An array of ``shape4``, zero but for each window's g at the element its ``code`` names
    (in the memory order of ``code``, which is the input's)."""
    code, flip = planes_first(code)
    g4, (n, c, h, w) = flip(g4), flip.shape(shape4)
    image = np.zeros((n, c) + win.padded_size(h, w), dtype=g4.dtype)
    hit = scratch("hit", code.shape, bool)
    for k, view in win.views(image, code.shape[2:]):
        np.equal(code, k, out=hit)
        if win.disjoint:
            np.multiply(g4, hit, out=view)
        else:
            view += g4 * hit
    return flip(image if image.shape[2:] == (h, w) else np.ascontiguousarray(win.crop(image, h, w)))


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
    window = Window((2, 2), (2, 2))
    code = None  # (N, C, OH, OW) offsets, from window_max
    shape_ = ()
    formula = "scatter({0})"
    derivatives = ("[at the window max]",)

    def forward(self, g):
        shape4 = nchw_shape(self.shape_, self.spatial)
        return scatter_array(to_nchw(g, self.spatial), self.code, self.window, shape4).reshape(self.shape_)

    def vjp(self, v, out, g):
        return (PoolGather.apply(v, spatial=self.spatial, window=self.window, code=self.code),)


class PoolGather(Op):
    """From each window, the element its ``code`` names; vjp: PoolScatter."""

    spatial = 2
    window = Window((2, 2), (2, 2))
    code = None
    formula = "gather({0})"
    derivatives = ("[at the window max]",)

    def forward(self, x):
        return from_nchw(gather_array(to_nchw(x, self.spatial), self.code, self.window), np.shape(x), self.spatial)

    def vjp(self, v, out, x):
        return (PoolScatter.apply(v, spatial=self.spatial, window=self.window, code=self.code,
                                  shape_=np.shape(x)),)


class MaxPool2D(_Pool):
    """Max over each window of (N, C, H, W) or (C, H, W) (padding counts as -∞); the gradient
    goes to each window's first maximal element, as in PyTorch. A node that needs a gradient
    keeps, from its forward pass to its vjp, which element that is (a byte per window)."""

    label = "max_pool"
    formula = "maxpool({0})"
    derivatives = ("[x = window max]",)
    _saved = None  # (input, output, argmax offsets): released by the vjp that uses them

    def forward(self, x):
        x4 = self._image(x)
        keep = getattr(self, "requires_grad", False)  # False on the array fast path
        out, code = window_max(x4, self.window, argmax=keep)
        out = from_nchw(out, np.shape(x), self.spatial)
        self._saved = (x, out, code) if keep else None
        return out

    def vjp(self, g, out, x):
        saved, self._saved = self._saved, None
        xv, outv = _value(x), _value(out)
        if saved is not None and saved[0] is xv and saved[1] is outv:
            code = saved[2]
        else:  # a second backward, or values given from elsewhere: find the maxima again
            code = window_max(to_nchw(xv, self.spatial), self.window, argmax=True)[1]
        return (PoolScatter.apply(g, spatial=self.spatial, window=self.window, code=code, shape_=np.shape(x)),)


class MaxPool1D(MaxPool2D):
    """Max over each window of (N, C, L) or (C, L)."""

    spatial = 1


class MaxPoolIndices(_Pool):
    """Where each window's maximum is: its flat index in the input's (H, W) plane (in L for
    1-D), as ``return_indices=True`` gives in PyTorch. Integers, not differentiable."""

    differentiable = False
    label = "max_pool"
    formula = "argmax({0})"

    def forward(self, x):
        x4 = self._image(x)
        code = window_max(x4, self.window, argmax=True)[1].astype(np.int64)
        (kh, kw), (sh, sw), (dh, dw) = self.window.kernel, self.window.stride, self.window.dilation
        (top, _), (left, _) = self.window.pad
        oh, ow = code.shape[2:]
        rows = np.arange(oh).reshape(-1, 1) * sh + code // kw * dh - top
        cols = np.arange(ow) * sw + code % kw * dw - left
        return from_nchw(rows * x4.shape[3] + cols, np.shape(x), self.spatial)


# ---------------------------------------------------------------- average pooling
def _window_sizes(n: int, k: int, s: int, pad: tuple, out: int, include_pad: bool) -> np.ndarray:
    """How many elements each window along one axis divides by (PyTorch's rule: the window
    clipped to the padded input, or with count_include_pad=False to the input itself)."""
    start = np.arange(out) * s - pad[0]
    end = np.minimum(start + k, n + pad[1])
    return end - start if include_pad else np.minimum(end, n) - np.maximum(start, 0)


class AvgPool2D(_Pool):
    """Mean over each window of (N, C, H, W) or (C, H, W), dividing by the window size counting
    zero padding (``count_include_pad``), or not, or by ``divisor_override``; vjp: g / divisor
    spread back over every window (col2im)."""

    count_include_pad = True
    divisor_override = None
    label = "avg_pool"
    formula = "avgpool({0})"
    derivatives = ("1/(kh·kw)",)

    def divisor(self, h: int, w: int, dtype: np.dtype) -> Any:
        """A number, or one per output position (OH, OW) where windows hold different counts."""
        if self.divisor_override is not None:
            return dtype.type(self.divisor_override)
        win = self.window
        sizes = [_window_sizes(n, k, s, p, o, self.count_include_pad)
                 for n, k, s, p, o in zip((h, w), win.kernel, win.stride, win.pad, win.out_size(h, w))]
        if sizes[0].min(initial=0) == sizes[0].max(initial=0) and sizes[1].min(initial=0) == sizes[1].max(initial=0):
            return dtype.type(sizes[0].max(initial=1) * sizes[1].max(initial=1))
        return np.outer(sizes[0], sizes[1]).astype(dtype)

    def forward(self, x):
        x4, flip = planes_first(self._image(x))
        total = None
        for _, view in self.window.views(self.window.pad_into(x4), self.window.out_size(*x4.shape[2:])):
            total = np.array(view) if total is None else np.add(total, view, out=total)
        total /= self.divisor(*x4.shape[2:], total.dtype)
        return from_nchw(flip(total), np.shape(x), self.spatial)

    def vjp(self, g, out, x):
        shape4 = nchw_shape(np.shape(x), self.spatial)
        div = self.divisor(*shape4[2:], _value(g).dtype)
        n, c, oh, ow = nchw_shape(np.shape(g), self.spatial)
        share = reshape(g / div, (n, c, 1, 1, oh, ow))  # div: a number or (OH, OW), which broadcasts
        spread = broadcast_to(share, (n, c) + self.window.kernel + (oh, ow))
        gx = Col2Im.apply(spread, window=self.window, shape_=shape4)
        return (gx if shape4 == np.shape(x) else reshape(gx, np.shape(x)),)


class AvgPool1D(AvgPool2D):
    """Mean over each window of (N, C, L) or (C, L)."""

    spatial = 1


# ---------------------------------------------------------------- adaptive average pooling
@functools.lru_cache(maxsize=64)
def _bins(n_in: int, n_out: int, dtype: str) -> np.ndarray:
    """(n_out, n_in): row i averages PyTorch's bin i, [⌊i·n_in/n_out⌋, ⌈(i+1)·n_in/n_out⌉)."""
    matrix = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        matrix[i, start:end] = 1.0 / (end - start)
    matrix.flags.writeable = False
    return matrix


class AdaptiveAvgPool2D(_Pool):
    """Average over ``output_size`` bins that cover the input (PyTorch's bins), as
    A_h · x · A_wᵀ with constant averaging matrices; vjp: A_hᵀ · g · A_w."""

    output_size: tuple = (1, 1)  # None: that axis keeps the input's size
    label = "adaptive_avg_pool"
    formula = "adaptive_avgpool({0})"
    derivatives = ("A_h·g·A_wᵀ",)

    def matrices(self, h: int, w: int, dtype: np.dtype) -> tuple:
        oh, ow = (o if o is not None else n for o, n in zip(self.output_size, (h, w)))
        return _bins(h, oh, dtype.str), _bins(w, ow, dtype.str)

    def forward(self, x):
        check_rank(self.op_name, np.shape(x), self.spatial, LAYOUT[self.spatial])
        x4 = to_nchw(x, self.spatial)
        a_h, a_w = self.matrices(*x4.shape[2:], x4.dtype)
        return from_nchw(a_h @ x4 @ a_w.T, np.shape(x), self.spatial)

    def vjp(self, g, out, x):
        shape4 = nchw_shape(np.shape(x), self.spatial)
        a_h, a_w = self.matrices(*shape4[2:], _value(g).dtype)
        g4 = reshape(g, nchw_shape(np.shape(g), self.spatial))
        return (reshape(matmul(matmul(a_h.T, g4), a_w), np.shape(x)),)


class AdaptiveAvgPool1D(AdaptiveAvgPool2D):
    """Average over ``output_size`` bins of (N, C, L) or (C, L)."""

    spatial = 1


# ---------------------------------------------------------------- options and the public functions
def pool_window(op: str, spatial: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                ceil_mode: Any) -> Window:
    """The window of a pooling op; OptionError for what PyTorch refuses (among it, padding above
    half the kernel size)."""
    kernel = int_tuple(op, "kernel_size", kernel_size, spatial, 1)
    stride = kernel if stride is None or stride == () or stride == [] else int_tuple(op, "stride", stride, spatial, 1)
    win = Window(kernel, stride, int_tuple(op, "dilation", dilation, spatial, 1),
                 symmetric(int_tuple(op, "padding", padding, spatial, 0)), flag(op, "ceil_mode", ceil_mode))
    if any(2 * p[0] > k for p, k in zip(win.pad, win.kernel)):
        given = tuple(padding) if isinstance(padding, list) else padding
        raise OptionError(f"{op}: padding={given!r} is not allowed; padding takes ints from 0 to half the "
                          f"kernel size {kernel_size!r}")
    return win


def max_pool_options(op: str, spatial: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                     ceil_mode: Any, return_indices: Any) -> dict:
    """max_pool1d/2d's options as the op holds them (``window``), plus ``return_indices``."""
    return dict(window=pool_window(op, spatial, kernel_size, stride, padding, dilation, ceil_mode),
                return_indices=flag(op, "return_indices", return_indices))


def avg_pool_options(op: str, spatial: int, kernel_size: Any, stride: Any, padding: Any, ceil_mode: Any,
                     count_include_pad: Any, divisor_override: Any) -> dict:
    """avg_pool1d/2d's options as the op holds them."""
    win = pool_window(op, spatial, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0):
        raise OptionError(f"{op}: divisor_override={divisor_override!r} is not allowed; it takes None or a "
                          "non-zero int")
    return dict(window=win, count_include_pad=flag(op, "count_include_pad", count_include_pad),
                divisor_override=None if divisor_override is None else int(divisor_override))


def _max_pool(spatial: int, x: Any, *options: Any) -> Any:
    attrs = max_pool_options(f"max_pool{spatial}d" + inputs_note(x), spatial, *options)
    out = (MaxPool2D if spatial == 2 else MaxPool1D).apply(x, window=attrs["window"])
    if not attrs["return_indices"]:
        return out
    return out, MaxPoolIndices.apply(x, window=attrs["window"], spatial=spatial)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.max_pool2d``;
    ``stride`` defaults to the kernel size; with ``return_indices`` also each maximum's flat
    index in its (H, W) plane (int64)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over (N, C, L) or (C, L), as ``torch.nn.functional.max_pool1d``."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Any:
    """Average pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.avg_pool2d``."""
    return AvgPool2D.apply(input, **avg_pool_options("avg_pool2d" + inputs_note(input), 2, kernel_size, stride,
                                                     padding, ceil_mode, count_include_pad, divisor_override))


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Any:
    """Average pooling over (N, C, L) or (C, L), as ``torch.nn.functional.avg_pool1d``."""
    return AvgPool1D.apply(input, **avg_pool_options("avg_pool1d" + inputs_note(input), 1, kernel_size, stride,
                                                     padding, ceil_mode, count_include_pad, None))


def output_size_option(op: str, spatial: int, output_size: Any) -> tuple:
    """adaptive pooling's ``output_size`` as a canonical pair (None: keep that axis)."""
    items = (output_size,) * spatial if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    if len(items) != spatial or not all(v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                      and v >= 1) for v in items):
        raise OptionError(f"{op}: output_size={output_size!r} is not allowed; it takes an int >= 1"
                          + (" (or None: keep the input's size)" if spatial == 1 else
                             " or a pair of them (None keeps that axis's size)"))
    pair = tuple(None if v is None else int(v) for v in items)
    return (1,) + pair if spatial == 1 else pair


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average pooling to a fixed ``output_size`` (an int, a pair, None keeps an axis), as
    ``torch.nn.functional.adaptive_avg_pool2d``; ``1`` is global average pooling."""
    return AdaptiveAvgPool2D.apply(input, output_size=output_size_option("adaptive_avg_pool2d" + inputs_note(input), 2,
                                                                   output_size))


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` bins."""
    return AdaptiveAvgPool1D.apply(input, output_size=output_size_option("adaptive_avg_pool1d" + inputs_note(input), 1, output_size))
