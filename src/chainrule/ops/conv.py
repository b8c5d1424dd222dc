"""Convolution and pooling on NCHW images, by im2col: no Python loop over pixels.

``im2col`` turns an image batch (N, C, H, W) into its windows as columns
(C, kh, kw, N, OH, OW), one column per output pixel, so a 2-D convolution is
one matrix product of the flattened kernels with those columns. It is filled
by a loop over the kh·kw kernel offsets, each one a strided view of the whole
batch copied as a block (much faster than copying a 6-D stride-tricks view);
pooling takes the max or mean over the same offset views.

``col2im`` is its adjoint: it adds every window back into the image it came
from, offset by offset. The two are each other's vjp, so every rule here is
written with ops and works on arrays (an ordinary backward) and on nodes
(``create_graph=True``: convolutions can be differentiated twice).

Small images (output rows shorter than ``SHORT_ROWS``), where a strided row
copy is mostly loop overhead, gather and scatter through one cached index
array instead (``np.take``, ``np.add.at``).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..node import value_of
from ..op import Op
from .indexing import scatter_add
from .linalg import matmul
from .reduce import sum as reduce_sum
from .shape import broadcast_to, reshape, transpose

IntPair = int | tuple[int, int]


def _pair(value: IntPair, what: str) -> tuple[int, int]:
    """``3`` -> (3, 3); ``(3, 2)`` stays; anything else is an error naming ``what``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_geometry(op: str, shape: tuple, kernel: tuple, stride: tuple, padding: tuple) -> None:
    """The input must be NCHW and the (padded) image at least one window big."""
    if len(shape) != 4:
        raise ShapeError(f"{op} expects an NCHW input (4-D: batch, channels, height, width), got shape {shape}")
    if min(stride) < 1 or min(kernel) < 1 or min(padding) < 0:
        raise ShapeError(f"{op}: kernel {kernel} and stride {stride} must be >= 1, padding {padding} >= 0")
    for name, n, k, p in (("height", shape[2], kernel[0], padding[0]), ("width", shape[3], kernel[1], padding[1])):
        if n + 2 * p < k:
            raise ShapeError(f"{op}: input {name} {n} (+2·padding {p}) is smaller than the kernel {k}; "
                             f"input shape {shape}")


def _padded(x: np.ndarray, padding: tuple, fill: float = 0.0) -> np.ndarray:
    (ph, pw) = padding
    if not (ph or pw):
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def out_size(shape: tuple, kernel: tuple, stride: tuple, padding: tuple) -> tuple[int, int]:
    """The output height and width of a convolution or pooling of an NCHW ``shape``."""
    return ((shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1,
            (shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1)


def offsets(x: np.ndarray, kernel: tuple, stride: tuple, out_hw: tuple):
    """For each kernel offset (i, j): the (N, C, OH, OW) strided view of the (padded)
    image ``x`` that the offset sees in every window. A loop over kh·kw offsets, never pixels."""
    (sh, sw), (oh, ow) = stride, out_hw
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


# Below this output width an image row is too short for strided block copies to pay:
# gather and scatter every element through one precomputed index instead.
SHORT_ROWS = 16


@functools.lru_cache(maxsize=16)
def window_index(shape: tuple, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """For every element of the columns (C, kh, kw, N, OH, OW) of an NCHW ``shape``, its
    flat index in the padded image (N, C, H + 2ph, W + 2pw). Cached per geometry."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    hp, wp = h + 2 * ph, w + 2 * pw
    oh, ow = out_size(shape, kernel, stride, padding)
    axes = [np.arange(c) * (hp * wp), np.arange(kh) * wp, np.arange(kw), np.arange(n) * (c * hp * wp),
            np.arange(oh) * (sh * wp), np.arange(ow) * sw]
    index = sum(a.reshape([-1 if d == k else 1 for d in range(6)]) for k, a in enumerate(axes))
    index = index.ravel()
    index.flags.writeable = False
    return index


class _Windowed(Op):
    """An op over sliding windows: its ``kernel``, ``stride`` and ``padding`` (pairs)."""

    kernel = (1, 1)
    stride = (1, 1)
    padding = (0, 0)


class Im2Col(_Windowed):
    """The sliding windows of an NCHW batch as columns: (C, kh, kw, N, OH, OW), one column
    of C·kh·kw numbers per output pixel (a contiguous copy, ready for one matmul; this
    layout makes every copy here a block copy of whole image rows); vjp: col2im."""

    formula = "im2col({0})"
    derivatives = ("col2im",)

    def forward(self, x):
        _check_geometry("im2col", np.shape(x), self.kernel, self.stride, self.padding)
        n, c = x.shape[:2]
        oh, ow = out_size(x.shape, self.kernel, self.stride, self.padding)
        shape = (c,) + self.kernel + (n, oh, ow)
        padded = _padded(x, self.padding)
        if ow < SHORT_ROWS:
            index = window_index(x.shape, self.kernel, self.stride, self.padding)
            return np.ascontiguousarray(padded).ravel().take(index).reshape(shape)
        cols = np.empty(shape, dtype=x.dtype)
        for i, j, view in offsets(padded, self.kernel, self.stride, (oh, ow)):
            cols[:, i, j] = view.transpose(1, 0, 2, 3)
        return cols

    def vjp(self, g, out, x):
        return (col2im(g, np.shape(x), self.kernel, self.stride, self.padding),)


class Col2Im(_Windowed):
    """Columns (C, kh, kw, N, OH, OW) added back into an NCHW image of ``shape_`` (overlapping
    windows sum); the adjoint of im2col, so its vjp is im2col."""

    shape_ = ()
    formula = "col2im({0})"
    derivatives = ("im2col",)

    def forward(self, cols):
        n, c, h, w = self.shape_
        ph, pw = self.padding
        if cols.shape[-1] < SHORT_ROWS:
            image = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
            np.add.at(image.reshape(-1), window_index(self.shape_, self.kernel, self.stride, self.padding),
                      np.ravel(cols))
            return np.ascontiguousarray(image[:, :, ph:ph + h, pw:pw + w])
        image = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)  # channel-major, like cols
        for i, j, view in offsets(image, self.kernel, self.stride, cols.shape[-2:]):
            view += cols[:, i, j]
        return np.ascontiguousarray(image[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))

    def vjp(self, g, out, cols):
        return (im2col(g, self.kernel, self.stride, self.padding),)


def im2col(x: Any, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """The windows of an NCHW batch as columns (C, kh, kw, N, OH, OW)."""
    return Im2Col.apply(x, kernel=_pair(kernel_size, "kernel_size"), stride=_pair(stride, "stride"),
                        padding=_pair(padding, "padding"))


def col2im(cols: Any, shape: tuple, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """The adjoint of ``im2col``: add columns (C, kh, kw, N, OH, OW) back into an NCHW array of ``shape``."""
    return Col2Im.apply(cols, shape_=tuple(int(n) for n in shape), kernel=_pair(kernel_size, "kernel_size"),
                        stride=_pair(stride, "stride"), padding=_pair(padding, "padding"))


class Conv2D(Op):
    """2-D cross-correlation (what deep learning calls convolution), NCHW, like
    ``torch.nn.functional.conv2d``: out[n,o] = Σ_c,i,j x[n,c,s·y+i,s·x+j]·w[o,c,i,j] + b[o].

    Forward: the flattened kernels times the im2col columns, one matrix product.
    ∂/∂x = col2im(Wᵀ · g) (a transposed convolution), ∂/∂W = g · im2col(x)ᵀ, ∂/∂b = Σ g.
    """

    stride = (1, 1)
    padding = (0, 0)
    formula = "conv2d({0}, {1})"
    derivatives = ("col2im(Wᵀ·g)", "g·im2col(x)ᵀ", "Σg")

    def forward(self, x, w, b=None):
        if np.ndim(x) != 4 or np.ndim(w) != 4 or np.shape(w)[1] != np.shape(x)[1]:
            raise ShapeError(f"conv2d: input must be NCHW and weight (out_channels, in_channels, kh, kw) "
                             f"with matching channels, got input {np.shape(x)} and weight {np.shape(w)}")
        if b is not None and np.shape(b) != (np.shape(w)[0],):
            raise ShapeError(f"conv2d: bias must have shape ({np.shape(w)[0]},), got {np.shape(b)}")
        o = w.shape[0]
        cols = im2col(x, w.shape[2:4], self.stride, self.padding)  # (C, kh, kw, N, OH, OW)
        out = w.reshape(o, -1) @ cols.reshape(w[0].size, -1)  # one matmul: (O, N·OH·OW)
        if b is not None:
            out += b.reshape(o, 1)
        return np.ascontiguousarray(out.reshape((o,) + cols.shape[3:]).transpose(1, 0, 2, 3))

    def vjp(self, g, out, x, w, b=None):
        need = [node.requires_grad for node in self.inputs]
        n, c = np.shape(x)[:2]
        o, _, kh, kw = np.shape(w)
        oh, ow = np.shape(g)[2:4]
        g_cols = reshape(transpose(g, (1, 0, 2, 3)), (o, n * oh * ow))  # one column per output pixel
        gx = gw = None
        if need[0]:
            x_cols = reshape(matmul(transpose(reshape(w, (o, c * kh * kw))), g_cols), (c, kh, kw, n, oh, ow))
            gx = col2im(x_cols, np.shape(x), (kh, kw), self.stride, self.padding)
        if need[1]:
            cols = reshape(im2col(x, (kh, kw), self.stride, self.padding), (c * kh * kw, n * oh * ow))
            gw = reshape(matmul(g_cols, transpose(cols)), np.shape(w))
        if b is None:
            return (gx, gw)
        return (gx, gw, reduce_sum(g, axis=(0, 2, 3)) if need[2] else None)


class _Pool(_Windowed):
    """Shared geometry of the pooling ops: ``kernel``, ``stride`` and ``padding`` pairs."""

    kernel = (2, 2)
    stride = (2, 2)
    padding = (0, 0)
    fill = 0.0  # what the padding holds

    def _offsets(self, x: np.ndarray):
        out_hw = out_size(x.shape, self.kernel, self.stride, self.padding)
        return offsets(_padded(x, self.padding, self.fill), self.kernel, self.stride, out_hw)


class MaxPool2D(_Pool):
    """Max over each window (padding counts as -∞, like PyTorch); the gradient goes to
    the first maximal element of each window (PyTorch's choice on ties)."""

    fill = -np.inf
    formula = "maxpool({0})"
    derivatives = ("[x = window max]",)

    def forward(self, x):
        _check_geometry("max_pool2d", np.shape(x), self.kernel, self.stride, self.padding)
        if 2 * max(self.padding[0] / self.kernel[0], self.padding[1] / self.kernel[1]) > 1:
            raise ShapeError(f"max_pool2d: padding {self.padding} must be at most half the kernel {self.kernel}")
        best = None
        for _, _, view in self._offsets(x):
            best = view.copy() if best is None else np.maximum(best, view, out=best)
        return best

    def flat_argmax(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """For each output element (the window maxima ``out``), the flat index into ``x``
        of its window's first maximum."""
        n, c, h, w = x.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        offset = np.zeros(out.shape, np.intp)  # flat index of the offset (i, j) in the padded image
        for i, j, view in reversed(list(self._offsets(x))):  # the first maximum is written last
            np.putmask(offset, view == out, i * (w + 2 * pw) + j)
        row, col = np.divmod(offset, w + 2 * pw)
        rows = np.arange(out.shape[2])[:, None] * sh + row - ph
        cols = np.arange(out.shape[3])[None, :] * sw + col - pw
        planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
        return (planes + rows * w + cols).ravel()

    def vjp(self, g, out, x):
        shape = np.shape(x)
        flat = self.flat_argmax(np.asarray(value_of(x)), np.asarray(value_of(out)))
        return (reshape(scatter_add(reshape(g, (-1,)), flat, (int(np.prod(shape)),)), shape),)


class AvgPool2D(_Pool):
    """Mean over each window (zero padding counted, PyTorch's default ``count_include_pad``);
    vjp: g/(kh·kw) spread back over every window (col2im)."""

    formula = "avgpool({0})"
    derivatives = ("1/(kh·kw)",)

    def forward(self, x):
        _check_geometry("avg_pool2d", np.shape(x), self.kernel, self.stride, self.padding)
        total = None
        for _, _, view in self._offsets(x):
            total = view.copy() if total is None else np.add(total, view, out=total)
        return total * total.dtype.type(1.0 / (self.kernel[0] * self.kernel[1]))

    def vjp(self, g, out, x):
        (kh, kw), (n, c, oh, ow) = self.kernel, np.shape(g)
        cols = reshape(transpose(g * (1.0 / (kh * kw)), (1, 0, 2, 3)), (c, 1, 1, n, oh, ow))
        spread = broadcast_to(cols, (c, kh, kw, n, oh, ow))
        return (col2im(spread, np.shape(x), self.kernel, self.stride, self.padding),)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """2-D convolution of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw) plus ``bias`` (O,)
    (``torch.nn.functional.conv2d`` without dilation or groups)."""
    attrs = dict(stride=_pair(stride, "stride"), padding=_pair(padding, "padding"))
    if bias is None:
        return Conv2D.apply(x, weight, **attrs)
    return Conv2D.apply(x, weight, bias, **attrs)


def _pool_attrs(kernel_size: IntPair, stride: IntPair | None, padding: IntPair) -> dict:
    kernel = _pair(kernel_size, "kernel_size")
    return dict(kernel=kernel, stride=kernel if stride is None else _pair(stride, "stride"),
                padding=_pair(padding, "padding"))


def max_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Any:
    """Max pooling over NCHW windows; ``stride`` defaults to the kernel size (as in PyTorch)."""
    return MaxPool2D.apply(x, **_pool_attrs(kernel_size, stride, padding))


def avg_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Any:
    """Average pooling over NCHW windows (zero padding counted); ``stride`` defaults to the kernel size."""
    return AvgPool2D.apply(x, **_pool_attrs(kernel_size, stride, padding))
