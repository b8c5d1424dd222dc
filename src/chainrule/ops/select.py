"""Picking and masking elements: split/chunk, gather/take_along_axis (and their
scatter-add adjoint), masked_fill, tril/triu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import option_error
from ..node import value_of
from ..op import Op
from .axes import axis_index, normalize_axis, numpy_names
from .elementwise import where
from .indexing import getitem


def _grid(index: np.ndarray, axis: int, shape: tuple) -> tuple:
    """The full NumPy index that puts ``index`` (values along ``axis``) into an array of
    ``shape``: an open grid on the other axes, 0 where ``shape`` has length 1 (broadcast)."""
    grid: list[np.ndarray] = list(np.indices(index.shape, sparse=True))
    for d, n in enumerate(shape):
        if d != axis and n == 1 and index.shape[d] != 1:
            grid[d] = np.zeros_like(grid[d])
    grid[axis] = index
    return tuple(grid)


class Gather(Op):
    """x's elements at ``index`` along ``axis``: out[..., j, ...] = x[..., index[..., j, ...], ...]
    (``np.take_along_axis``; with ``crop``, ``torch.gather``, whose index may be shorter than x
    on the other axes). vjp: the gradient scatter-added back where it was taken from."""

    axis = 0
    crop = False
    dtype_keep = (1,)
    formula = "gather({0})"
    derivatives = ("scatter",)

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)

    def _source(self, x: Any, index: np.ndarray) -> tuple:
        axis = normalize_axis(self.axis, np.ndim(x))
        if np.ndim(index) != np.ndim(x):
            raise ValueError(f"index has {np.ndim(index)} dimensions but the input has {np.ndim(x)}")
        if self.crop:
            x = x[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(np.shape(index)))]
        return x, axis

    def forward(self, x: Any, index: Any) -> Any:
        if np.ndim(x) == 0:  # one element: index 0 (or -1) picks it, as often as asked
            if np.any((index != 0) & (index != -1)):
                raise IndexError(f"index {index} is out of range for a 0-d value")
            return np.broadcast_to(x, np.shape(index)).copy()
        x, axis = self._source(x, index)
        return np.take_along_axis(x, index, axis)

    def vjp(self, g: Any, out: Any, x: Any, index: Any) -> tuple[Any, ...]:
        return (scatter_along(g, index, self.axis, np.shape(x)), None)


class ScatterAlong(Op):
    """zeros(shape) with g added at ``index`` along ``axis`` (repeats add up); vjp: gather."""

    axis = 0
    shape_ = ()
    dtype_keep = (1,)
    formula = "scatter({0})"
    derivatives = ("gather",)

    def forward(self, g: Any, index: Any) -> Any:
        out = np.zeros(self.shape_, dtype=np.asarray(g).dtype)
        if not out.ndim:  # a 0-d source: every pick was of its one element
            return out + np.add.reduce(np.asarray(g), axis=None)
        index = np.broadcast_to(index, np.shape(g))  # NumPy's take_along_axis broadcasts the index
        np.add.at(out, _grid(index, axis_index(int(self.axis), out.ndim), self.shape_), g)
        return out

    def vjp(self, g2: Any, out: Any, g: Any, index: Any) -> tuple[Any, ...]:
        # the index as it was used: broadcast to g's shape (NumPy's take_along_axis broadcasts it)
        index = np.broadcast_to(np.asarray(value_of(index)), np.shape(g))
        return (Gather.apply(g2, index, axis=self.axis, crop=True), None)


def scatter_along(g: Any, index: Any, axis: int, shape: tuple) -> Any:
    """An array of ``shape``, zero except ``g`` added at ``index`` along ``axis``."""
    return ScatterAlong.apply(g, index, axis=axis, shape_=tuple(shape))


def _indices(index: Any) -> Any:
    """Integer indices: a node (read on every run) or an int64 array."""
    if hasattr(index, "inputs"):
        return index
    arr = np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise option_error("gather", "index", arr.dtype, "must hold integers")
    return arr


@numpy_names
def gather(x: Any, axis: int, index: Any) -> Any:
    """``torch.gather(x, dim, index)``: out[i][j] = x[index[i][j]][j] for axis 0, and so on;
    ``index`` has x's number of axes and may be shorter on the others."""
    return Gather.apply(x, _indices(index), axis=axis, crop=True)


@numpy_names
def take_along_axis(x: Any, indices: Any, axis: int) -> Any:
    """``np.take_along_axis``: like gather, with NumPy's broadcasting of the other axes."""
    return Gather.apply(x, _indices(indices), axis=axis)


class Tri(Op):
    """The lower (``upper=False``: tril) or upper triangle of the last two axes from diagonal
    ``k`` on, zeros elsewhere; the mask is its own adjoint, so vjp is the same op on g."""

    upper = False
    k = 0
    formula = "tri({0})"
    derivatives = ("mask",)

    def check_options(self) -> None:
        if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool):
            raise self.option_error("k", "is not an int")

    def forward(self, x: Any) -> Any:
        if np.ndim(x) < 2:
            raise ValueError("tril/triu need at least 2 dimensions")
        return np.triu(x, self.k) if self.upper else np.tril(x, self.k)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (Tri.apply(g, upper=self.upper, k=self.k),)


def tril(x: Any, k: int = 0) -> Any:
    """The lower triangle (diagonal ``k`` and below) of the last two axes (``torch.tril``)."""
    return Tri.apply(x, upper=False, k=k)


def triu(x: Any, k: int = 0) -> Any:
    """The upper triangle (diagonal ``k`` and above) of the last two axes (``torch.triu``)."""
    return Tri.apply(x, upper=True, k=k)


def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    """``x`` with ``value`` where ``mask`` is true (``torch.Tensor.masked_fill``): the
    gradient flows to x where the mask is false (and to ``value`` where true, if a node)."""
    if np.asarray(value_of(mask)).dtype.kind != "b" and value_of(mask) is not None:
        raise option_error("masked_fill", "mask", np.asarray(value_of(mask)).dtype, "must be boolean")
    return where(mask, value, x)


def _along(axis: int, lo: int, hi: int) -> tuple:
    """The index of [lo, hi) along ``axis`` (negative axes counted from the end)."""
    if axis >= 0:
        return (slice(None),) * axis + (slice(lo, hi),)
    return (Ellipsis, slice(lo, hi)) + (slice(None),) * (-axis - 1)


def _length(x: Any, axis: int, option: str, given: Any) -> int | None:
    """The length of ``axis`` of x's value (None before a define-then-run graph feeds it)."""
    value = value_of(x)
    if value is None:
        return None
    index = normalize_axis(axis, np.ndim(value))
    if index is None:
        raise option_error("split", option, given, "needs a value with at least one dimension")
    return np.shape(value)[index]


@numpy_names
def split(x: Any, split_size_or_sections: int | Sequence[int], axis: int = 0) -> tuple:
    """``torch.split``: pieces of ``split_size_or_sections`` elements along ``axis`` (the last
    one smaller), or of each size in a list. (NumPy's ``np.split`` counts sections instead.)
    Each piece is a slice of x: gradients flow back into their part of x."""
    given = split_size_or_sections
    n = _length(x, axis, "split_size_or_sections", given)
    if isinstance(given, (int, np.integer)):
        if given <= 0:
            raise option_error("split", "split_size_or_sections", given, "is not a positive int")
        if n is None:
            raise option_error(
                "split",
                "split_size_or_sections",
                given,
                "needs the input's value to count the pieces: give a list of sizes in a define-then-run graph",
            )
        # (an empty axis makes one empty piece, as in PyTorch)
        sizes = [int(given)] * (n // given) + ([n % given] if n % given else []) or [0]
    else:
        sizes = [int(s) for s in given]
        if n is not None and sum(sizes) != n:
            raise option_error("split", "split_size_or_sections", given, f"does not add up to {n} along axis {axis}")
    bounds = np.cumsum([0, *sizes]).tolist()
    return tuple(getitem(x, _along(axis, lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:]))


@numpy_names
def chunk(x: Any, chunks: int, axis: int = 0) -> tuple:
    """``torch.chunk``: at most ``chunks`` pieces of ceil(n / chunks) elements along ``axis``
    (an empty axis gives ``chunks`` empty pieces, as in PyTorch)."""
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise option_error("chunk", "chunks", chunks, "is not a positive int")
    if value_of(x) is None:
        raise option_error(
            "chunk",
            "chunks",
            chunks,
            "needs the input's value to size the pieces: use split with a list of sizes in a define-then-run graph",
        )
    n = _length(x, axis, "chunks", chunks)
    return split(x, -(-n // chunks) if n else [0] * chunks, axis)
