"""im2col: the windows of an image batch as the columns of a matrix, so that a
convolution is a matrix product.

``Im2Col`` turns (N, C, H, W) into (N, C, kh, kw, OH, OW): for each image, a
(C·kh·kw) × (OH·OW) matrix with one column per output pixel. ``Col2Im`` is its
adjoint (it adds every column back where its window came from); the two are
each other's vjp. Both run as one block copy (or add) per kernel offset.

``Columns`` is the same machinery as the convolution kernels use it, tuned for
speed and memory (measured on the CIFAR-sized step of benchmark W9):

- **chunks**: the batch is processed a few images at a time, so each block of
  columns (about ``CHUNK_BYTES``) stays in cache between being written and
  being multiplied, and no full-batch column matrix (9× the image) is ever
  held;
- **wide rows** (stride 1): in a padded image flattened per channel, the pixels
  that tap (i, j) sees are one contiguous range starting at i·Wp + j, if each
  output row is taken Wp wide instead of OW (the extra Wp - OW "garbage"
  columns are dropped when the result is cropped). Each copy is then one long
  run per channel instead of OH short rows (NumPy's cost is per row: 16-pixel
  rows made im2col and col2im 3-6× slower). Used when the columns have more
  rows (C·kh·kw) than the output has channels, where the crop is cheaper than
  the short-row copies it saves;
- **1×1 kernels** (stride 1, no padding): the columns are the image itself.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..op import Op
from .windows import Window, int_tuple, symmetric

CHUNK_BYTES = 1 << 21  # a block of columns of about 2 MiB: measured best between 1 and 8 MiB


def im2col_array(x: np.ndarray, win: Window) -> np.ndarray:
    """All columns (N, C, kh, kw, OH, OW) of an (N, C, H, W) array, zero-padded."""
    n, c, h, w = x.shape
    out_hw = win.out_size(h, w)
    cols = np.empty((n, c) + win.kernel + out_hw, dtype=x.dtype)
    flat = cols.reshape((n, c, win.taps) + out_hw)
    for k, view in win.views(win.pad_into(x), out_hw):
        flat[:, :, k] = view
    return cols


def col2im_array(cols: np.ndarray, shape: tuple, win: Window) -> np.ndarray:
    """Columns (N, C, kh, kw, OH, OW) added back into an (N, C, H, W) array (overlaps sum)."""
    n, c, h, w = shape
    image = np.zeros((n, c) + win.padded_size(h, w), dtype=cols.dtype)
    flat = np.reshape(cols, (n, c, win.taps) + np.shape(cols)[-2:])
    for k, view in win.views(image, np.shape(cols)[-2:]):
        view += flat[:, :, k]
    return np.ascontiguousarray(win.crop(image, h, w))


class Columns:
    """The column layout of one convolution's input (N, C, H, W) with ``out_channels``
    outputs: buffers of (nb, C·kh·kw, P) columns for chunks of nb images, P = OH·row,
    where ``row`` is OW, or the padded width Wp in the wide layout."""

    def __init__(self, shape: tuple, win: Window, out_channels: int, dtype: np.dtype) -> None:
        self.shape, self.win, self.dtype = shape, win, np.dtype(dtype)
        n, c, h, w = shape
        self.oh, self.ow = win.out_size(h, w)
        self.hp, self.wp = win.padded_size(h, w)
        self.same = win.kernel == (1, 1) and win.stride == (1, 1) and (self.hp, self.wp) == (h, w)
        self.wide = not self.same and win.stride == (1, 1) and c * win.taps > out_channels
        self.row = self.wp if self.wide else self.ow
        self.k, self.p = c * win.taps, self.oh * self.row
        self.nb = int(max(1, min(n, CHUNK_BYTES // max(1, self.k * self.p * self.dtype.itemsize))))

    def chunks(self) -> Iterator[tuple[int, int]]:
        n = self.shape[0]
        for n0 in range(0, n, self.nb):
            yield n0, min(n, n0 + self.nb)

    # ------------------------------------------------------------ image -> columns
    def columns(self, x: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
        """For each chunk: (n0, n1, its columns (n1-n0, C·kh·kw, P)); the buffer is reused."""
        if self.same:
            flat = x.reshape(x.shape[0], self.k, self.p)
            for n0, n1 in self.chunks():
                yield n0, n1, flat[n0:n1]
            return
        buf = np.empty((self.nb, self.shape[1], self.win.taps) + self._tap_shape(), dtype=self.dtype)
        padded = self._padded_buffer()
        for n0, n1 in self.chunks():
            m = n1 - n0
            self._fill(padded[:m], x[n0:n1])
            cols = buf[:m]
            for k, view in self._tap_views(padded[:m]):
                cols[:, :, k] = view
            yield n0, n1, cols.reshape(m, self.k, self.p)

    def _tap_shape(self) -> tuple:
        """What one kernel offset contributes per image and channel: (P,) wide, (OH, OW) narrow."""
        return (self.p,) if self.wide else (self.oh, self.ow)

    def _padded_buffer(self) -> np.ndarray:
        """A chunk-sized padded image, its border zero (the wide layout has one spare row:
        the last taps' ranges run Wp·OH long from up to (kh-1)·dh·Wp + (kw-1)·dw)."""
        extra = 1 if self.wide else 0
        return np.zeros((self.nb, self.shape[1], self.hp + extra, self.wp), dtype=self.dtype)

    def _fill(self, padded: np.ndarray, x: np.ndarray) -> None:
        (top, _), (left, _) = self.win.pad
        h, w = self.shape[2:]
        padded[:, :, top:top + h, left:left + w] = x

    def _tap_views(self, padded: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Per kernel offset, the (m, C, P) or (m, C, OH, OW) pixels it sees in a padded chunk."""
        if not self.wide:
            yield from ((k, v) for k, v in self.win.views(padded, (self.oh, self.ow)))
            return
        m, c = padded.shape[:2]
        flat = padded.reshape(m, c, -1)
        (kh, kw), (dh, dw) = self.win.kernel, self.win.dilation
        for i in range(kh):
            for j in range(kw):
                start = i * dh * self.wp + j * dw
                yield i * kw + j, flat[:, :, start:start + self.p]

    # ------------------------------------------------------------ outputs <-> column products
    def rows(self, g: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
        """An output-shaped chunk (m, O, OH, OW) as (m, O, P) products: a view, or (wide)
        a copy into ``buf`` whose garbage columns are zero."""
        m, o = g.shape[:2]
        if not self.wide:
            return g.reshape(m, o, self.p)
        buf[..., self.ow:] = 0
        buf[..., :self.ow] = g
        return buf.reshape(m, o, self.p)

    def rows_buffer(self, out_channels: int) -> np.ndarray | None:
        """The buffer ``rows`` and ``emit`` need (None in the narrow layout)."""
        return np.empty((self.nb, out_channels, self.oh, self.row), dtype=self.dtype) if self.wide else None

    def finish(self, prod: np.ndarray, out: np.ndarray, bias: np.ndarray | None) -> None:
        """Products (m, O, OH, row) into the output chunk ``out`` (m, O, OH, OW), plus ``bias``:
        the narrow layout's products are ``out`` itself (the bias is added in place); the
        wide one's are cropped into it, the bias added in the same pass."""
        if prod is out:
            if bias is not None:
                out += bias.reshape(-1, 1, 1)
        elif bias is None:
            out[...] = prod[..., :self.ow]
        else:
            np.add(prod[..., :self.ow], bias.reshape(-1, 1, 1), out=out)

    # ------------------------------------------------------------ columns -> image (col2im)
    def image_buffer(self) -> np.ndarray:
        return self._padded_buffer()

    def add_back(self, cols: np.ndarray, padded: np.ndarray, out: np.ndarray) -> None:
        """col2im of one chunk: columns (m, C·kh·kw, P) summed into ``out`` (m, C, H, W),
        through the zeroed chunk buffer ``padded`` (wide garbage columns are zero products)."""
        m, c = out.shape[:2]
        if self.same:
            out[...] = cols.reshape(out.shape)
            return
        padded = padded[:m]
        padded.fill(0)
        taps = cols.reshape((m, c, self.win.taps) + self._tap_shape())
        for k, view in self._tap_views(padded):
            view += taps[:, :, k]
        h, w = self.shape[2:]
        out[...] = self.win.crop(padded, h, w)


class Im2Col(Op):
    """The sliding windows of an NCHW batch as columns: (N, C, kh, kw, OH, OW), for each
    image a (C·kh·kw) × (OH·OW) matrix with one column per output pixel (zero padding);
    vjp: col2im."""

    window = Window((1, 1))
    formula = "im2col({0})"
    derivatives = ("col2im",)

    def forward(self, x):
        self.window.check("im2col", np.shape(x))
        return im2col_array(x, self.window)

    def vjp(self, g, out, x):
        return (Col2Im.apply(g, window=self.window, shape_=np.shape(x)),)


class Col2Im(Op):
    """Columns (N, C, kh, kw, OH, OW) added back into an NCHW array of ``shape_`` where their
    windows came from (overlapping windows sum): the adjoint of im2col, so its vjp is im2col."""

    window = Window((1, 1))
    shape_ = ()
    formula = "col2im({0})"
    derivatives = ("im2col",)

    def forward(self, cols):
        return col2im_array(cols, self.shape_, self.window)

    def vjp(self, g, out, cols):
        return (Im2Col.apply(g, window=self.window),)


def _window(op: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> Window:
    return Window(int_tuple(op, "kernel_size", kernel_size, 2, 1), int_tuple(op, "stride", stride, 2, 1),
                  int_tuple(op, "dilation", dilation, 2, 1), symmetric(int_tuple(op, "padding", padding, 2, 0)))


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> Any:
    """The windows of an NCHW batch as columns (N, C, kh, kw, OH, OW) (``torch.nn.functional.unfold``
    gives the same numbers as (N, C·kh·kw, OH·OW))."""
    return Im2Col.apply(x, window=_window("im2col", kernel_size, stride, padding, dilation))


def col2im(cols: Any, shape: tuple, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> Any:
    """The adjoint of ``im2col``: add columns (N, C, kh, kw, OH, OW) back into an NCHW array of ``shape``
    (``torch.nn.functional.fold``)."""
    return Col2Im.apply(cols, window=_window("col2im", kernel_size, stride, padding, dilation),
                        shape_=tuple(int(n) for n in shape))
