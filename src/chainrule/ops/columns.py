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
  held; recomputing a chunk's columns for the weight gradient costs less than
  keeping them from the forward pass (21 MiB for W9's second convolution);
- **output rows as they are**: each kernel offset's pixels are copied as OH
  rows of OW (NumPy 2.4 copies 16-pixel rows fast). An earlier layout took each
  row Wp wide, so that a copy was one long run, at the price of (Wp - OW)/OW
  more arithmetic in every product and a crop of each result; measured again
  (single-threaded, W9's second convolution and seven other shapes) the plain
  rows were 5-25% faster forward and as fast backward;
- **one product per chunk**: the columns are laid out channel-major, (C·kh·kw)
  × (m·P) for m images, so each chunk is a single BLAS call (per-image batched
  products cost more, and much more when another process holds a core and
  every call's threads wait on each other).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ShapeError, option_error
from ..op import Op
from .threads import MIN_BYTES
from .windows import Window, border, gathers, ints_option, scratch, symmetric, tap_offsets

# A block of columns of about 8 MiB (it stays in the L3 cache): single-threaded, 1 to 16 MiB
# time alike (W9); with 2 BLAS threads on a busy machine every product waits for a core, and
# 8 MiB blocks (11 products a W9 step) took 0.43 s a step where 2 MiB blocks (41) took 1.1 s.
CHUNK_BYTES = 8 << 20


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


@functools.lru_cache(maxsize=8)
def column_index(padded: tuple, out_hw: tuple, win: Window) -> np.ndarray:
    """For each element of the narrow columns (C, taps, m, OH, OW) of a padded chunk of shape
    ``padded`` (C, m, Hp, Wp), its flat index in the chunk. Cached per shape and window."""
    (c, m, hp, wp), (oh, ow) = padded, out_hw
    (sh, sw) = win.stride
    parts = [
        np.arange(c) * (m * hp * wp),
        tap_offsets(win, wp),
        np.arange(m) * (hp * wp),
        np.arange(oh) * (sh * wp),
        np.arange(ow) * sw,
    ]
    index = sum(a.reshape([-1 if d == k else 1 for d in range(5)]) for k, a in enumerate(parts)).ravel()
    index.flags.writeable = False
    return index


class Columns:
    """The columns of one convolution's input (N, C, H, W) with ``out_channels`` outputs, a chunk
    of m images at a time, channel-major: a (C·kh·kw) × (m·P) matrix per chunk, so that each
    product is one BLAS call (P = OH·OW).
    Products and gradients of the outputs are (O, m·P) matrices; convolutions return their
    results channel-major, (N, O, OH, OW) arrays laid out in memory as (O, N, OH, OW), so
    that a product is written in place and the gradient that comes back in the same layout
    is read in place (``rows``); ``add_back`` adds columns back into images (col2im). The
    buffers are per-thread scratch memory, reused."""

    def __init__(self, shape: tuple, win: Window, out_channels: int, dtype: np.dtype) -> None:
        self.shape, self.win, self.dtype = shape, win, np.dtype(dtype)
        n, c, h, w = shape
        self.oh, self.ow = win.out_size(h, w)
        self.hp, self.wp = win.padded_size(h, w)
        self.k, self.p = c * win.taps, self.oh * self.ow
        per_image = self.k * self.p * self.dtype.itemsize
        chunks = max(1, -(-n // max(1, min(n, CHUNK_BYTES // max(1, per_image)))))
        if n > 1 and n * per_image >= MIN_BYTES:  # an even count of equal chunks, for two threads
            chunks += chunks % 2
        self.nb = max(1, -(-n // chunks))
        self.nbytes = n * per_image  # the columns of the whole batch: how much work a pass is

    def chunks(self) -> Iterator[tuple[int, int]]:
        n = self.shape[0]
        for n0 in range(0, n, self.nb):
            yield n0, min(n, n0 + self.nb)

    def whole(self, limit: int) -> bool:
        """Whether the columns of the whole batch are one chunk of at most ``limit`` bytes."""
        return self.nb >= self.shape[0] and self.nbytes <= limit

    def buffer(self, name: str, shape: tuple) -> np.ndarray:
        return scratch(name, shape, self.dtype)

    def _padded(self, m: int) -> np.ndarray:
        """The chunk's padded images, channel-major (C, m, Hp, Wp)."""
        return self.buffer("padded", (self.shape[1], m, self.hp, self.wp))

    # ------------------------------------------------------------ image -> columns
    def chunk_columns(self, x: np.ndarray, n0: int, n1: int, into: np.ndarray | None = None) -> np.ndarray:
        """The columns (C·kh·kw, m·P) of images n0..n1 of ``x``, in a reused buffer (or ``into``)."""
        (top, _), (left, _) = self.win.pad
        h, w = self.shape[2:]
        m = n1 - n0
        padded = self._padded(m)
        for region in border(padded.shape[2], padded.shape[3], top, left, h, w):  # the buffer is shared: re-zero
            padded[(slice(None), slice(None)) + region] = 0
        padded[:, :, top : top + h, left : left + w] = x[n0:n1].transpose(1, 0, 2, 3)
        shape = (self.shape[1], self.win.taps, m, self.oh, self.ow)
        cols = self.buffer("cols", shape) if into is None else into.reshape(shape)
        if gathers(self.ow, cols.size):  # short rows: one gather
            # mode="clip": the indices are in range by construction, and take's default mode copies
            # into a buffer first when given ``out`` (to leave it whole should an index be bad)
            index = column_index(padded.shape, (self.oh, self.ow), self.win)
            np.take(padded.ravel(), index, out=cols.reshape(-1), mode="clip")
        else:
            for k, view in self.win.views(padded, (self.oh, self.ow)):
                cols[:, k] = view
        return cols.reshape(self.k, m * self.p)

    # ------------------------------------------------------------ outputs <-> products
    def rows(self, g: np.ndarray) -> np.ndarray:
        """An output-shaped chunk (m, O, OH, OW) as an (O, m·P) matrix: a view when ``g`` is
        channel-major (as convolutions return them), else a copy."""
        m, o = g.shape[:2]
        return g.transpose(1, 0, 2, 3).reshape(o, m * self.p)

    def products(self, out: np.ndarray) -> np.ndarray:
        """Where the products (O, m·P) of a chunk go: the channel-major output chunk ``out``
        (O, m, OH, OW) itself."""
        return out.reshape(out.shape[0], -1)

    # ------------------------------------------------------------ columns -> image (col2im)
    def add_back(self, cols: np.ndarray, out: np.ndarray) -> None:
        """col2im of one chunk: columns (C·kh·kw, m·P) summed into ``out`` (C, m, H, W)."""
        c, m = out.shape[:2]
        out.fill(0)
        taps = cols.reshape((c, self.win.taps, m, self.oh, self.ow))
        for k, view, (rows, columns) in self.win.image_views(out, (self.oh, self.ow)):  # straight into the
            view += taps[:, k, :, rows, columns]  # image, the taps that fall on padding left out


class Im2Col(Op):
    """The sliding windows of an NCHW batch as columns: (N, C, kh, kw, OH, OW), for each
    image a (C·kh·kw) × (OH·OW) matrix with one column per output pixel (zero padding);
    vjp: col2im."""

    window = Window((1, 1))
    formula = "im2col({0})"
    derivatives = ("col2im",)

    def forward(self, x: Any) -> Any:
        if np.ndim(x) != 4:
            raise ShapeError(f"im2col expects an NCHW input (4-D), got shape {np.shape(x)}")
        self.window.check("im2col", np.shape(x), np.shape(x))
        return im2col_array(x, self.window)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (Col2Im.apply(g, window=self.window, shape_=np.shape(x)),)


class Col2Im(Op):
    """Columns (N, C, kh, kw, OH, OW) added back into an NCHW array of ``shape_`` where their
    windows came from (overlapping windows sum): the adjoint of im2col, so its vjp is im2col."""

    window = Window((1, 1))
    shape_ = ()
    formula = "col2im({0})"
    derivatives = ("im2col",)

    def forward(self, cols: Any) -> Any:
        return col2im_array(cols, self.shape_, self.window)

    def vjp(self, g: Any, out: Any, cols: Any) -> tuple[Any, ...]:
        return (Im2Col.apply(g, window=self.window),)


def _window(op: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> Window:
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)

    def fail(option: str, allowed: str) -> Exception:
        return option_error(op, option, options[option], allowed)

    return Window(
        ints_option(options, "kernel_size", 2, 1, fail),
        ints_option(options, "stride", 2, 1, fail),
        ints_option(options, "dilation", 2, 1, fail),
        symmetric(ints_option(options, "padding", 2, 0, fail)),
    )


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> Any:
    """The windows of an NCHW batch as columns (N, C, kh, kw, OH, OW) (``torch.nn.functional.unfold``
    gives the same numbers as (N, C·kh·kw, OH·OW))."""
    return Im2Col.apply(x, window=_window("im2col", kernel_size, stride, padding, dilation))


def col2im(cols: Any, shape: tuple, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> Any:
    """The adjoint of ``im2col``: add columns (N, C, kh, kw, OH, OW) back into an NCHW array of ``shape``
    (``torch.nn.functional.fold``)."""
    return Col2Im.apply(
        cols, window=_window("col2im", kernel_size, stride, padding, dilation), shape_=tuple(int(n) for n in shape)
    )
