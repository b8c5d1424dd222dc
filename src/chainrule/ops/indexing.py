"""Selecting and assembling: indexing (basic and advanced), its scatter-add
adjoint, concat, stack and pad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtype import PROMOTE
from ..errors import option_error
from ..node import Node
from ..op import Op
from .axes import numpy_names


def _plain_index(index: Any) -> Any:
    """An index with any nodes replaced by their (integer or bool) values."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Node):
        return np.asarray(index.value)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) selects each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))) for p in parts)


class _Slot:
    """Where a node stood in an index: filled with that node's value on every run."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __repr__(self) -> str:
        return f"<index node {self.k}>"


def _fill(index: Any, values: Sequence[Any]) -> Any:
    """``index`` with each _Slot replaced by the value of its node."""
    if isinstance(index, tuple):
        return tuple(_fill(i, values) for i in index)
    if isinstance(index, _Slot):
        v = values[index.k]
        return np.asarray(v.value if isinstance(v, Node) else v)
    return index


class GetItem(Op):
    """x[index], NumPy semantics; vjp: scatter-add the gradient back into zeros
    (advanced indices may pick an element twice, and both picks count).

    Nodes inside the index (integer or bool data, e.g. a Placeholder of labels)
    are further inputs of the op, read on every run, so a define-then-run graph
    indexes with what was fed this time."""

    index: Any = None  # anything NumPy indexes with (nodes inside it are inputs)
    formula = "{0}[…]"
    derivatives = ("scatter",)

    def forward(self, x: Any, *index_values: Any) -> Any:
        return x[_fill(self.index, index_values) if index_values else self.index]

    def vjp(self, g: Any, out: Any, x: Any, *index_values: Any) -> tuple[Any, ...]:
        index = _fill(self.index, index_values) if index_values else self.index
        return (scatter_add(g, index, np.shape(x)),) + (None,) * len(index_values)


class ScatterAdd(Op):
    """zeros(shape) with g added at ``index`` (``np.add.at``); vjp: g'[index]."""

    index: Any = None
    shape_ = ()
    formula = "scatter({0})"
    derivatives = ("gather",)

    def forward(self, g: Any) -> Any:
        out = np.zeros(self.shape_, dtype=np.asarray(g).dtype)
        if _is_basic(self.index):
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)
        return out

    def vjp(self, g: Any, out: Any, src: Any) -> tuple[Any, ...]:
        return (getitem(g, self.index),)


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` (basic or advanced indexing); the index may hold nodes."""
    parts = index if isinstance(index, tuple) else (index,)
    nodes = [p for p in parts if isinstance(p, Node)]
    if not nodes:
        return GetItem.apply(x, index=_plain_index(index))
    slots = iter(range(len(nodes)))
    template = tuple(_Slot(next(slots)) if isinstance(p, Node) else _plain_index(p) for p in parts)
    return GetItem.apply(x, *nodes, index=template if isinstance(index, tuple) else template[0])


def scatter_add(g: Any, index: Any, shape: tuple) -> Any:
    """An array of ``shape``, zero except ``g`` added at ``index`` (repeats add up)."""
    return ScatterAdd.apply(g, index=_plain_index(index), shape_=tuple(shape))


def _slices(axis: int, ndim: int, sizes: Sequence[int]) -> list[tuple]:
    """The index tuples that cut an array back into pieces of ``sizes`` along ``axis``."""
    bounds = np.cumsum([0, *sizes])
    lead = (slice(None),) * (axis % ndim)
    return [lead + (slice(int(lo), int(hi)),) for lo, hi in zip(bounds[:-1], bounds[1:])]


class Concat(Op):
    """Join arrays along an existing ``axis``; vjp: slice the gradient back into pieces."""

    axis = 0
    dtypes = PROMOTE
    formula = "concat(…)"
    derivatives = ("slice",)

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)

    def forward(self, *xs: Any) -> Any:
        return np.concatenate(xs, axis=self.axis)

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        sizes = [np.shape(x)[self.axis] for x in xs]
        return tuple(getitem(g, idx) for idx in _slices(self.axis, np.ndim(g), sizes))


class Stack(Op):
    """Join same-shaped arrays along a new ``axis``; vjp: take each one's slice of the gradient."""

    axis = 0
    dtypes = PROMOTE
    formula = "stack(…)"
    derivatives = ("select",)

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)

    def forward(self, *xs: Any) -> Any:
        return np.stack(xs, axis=self.axis)

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * (self.axis % np.ndim(g))
        return tuple(getitem(g, lead + (i,)) for i in range(len(xs)))


class Pad(Op):
    """x padded with a constant (``np.pad`` with ``mode='constant'``); a negative width crops
    instead, as in ``torch.nn.functional.pad``. vjp: the same op with the widths negated
    (what was padded is cropped from g, what was cropped is padded back with zeros)."""

    pad_width = ()
    fill = 0.0  # not ``value``: that is every node's own value
    formula = "pad({0})"
    derivatives = ("crop",)

    def widths(self, ndim: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.pad_width, dtype=int), (ndim, 2))

    def forward(self, x: Any) -> Any:
        widths = self.widths(np.ndim(x))
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, np.shape(x)))
        if any(n - max(-lo, 0) - max(-hi, 0) < 0 for (lo, hi), n in zip(widths, np.shape(x))):
            raise ValueError(f"pad widths {widths.tolist()} crop more than the shape {np.shape(x)} holds")
        return np.pad(x[crop], np.maximum(widths, 0), mode="constant", constant_values=self.fill)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (Pad.apply(g, pad_width=tuple(map(tuple, (-self.widths(np.ndim(x))).tolist())), fill=0.0),)


@numpy_names
def concat(xs: Sequence[Any], axis: int = 0) -> Any:
    """Concatenate along an existing axis (``np.concatenate`` / ``torch.cat``)."""
    return Concat.apply(*xs, axis=axis)


@numpy_names
def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """Stack along a new axis."""
    return Stack.apply(*xs, axis=axis)


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Any:
    """Pad with a constant, NumPy style: ``pad_width`` is ((before, after), ...) per axis,
    or a single (before, after) / int for every axis; negative widths crop (as ``F.pad``)."""
    widths = np.asarray(pad_width, dtype=int)  # checked now, broadcast to the axes when it runs
    if widths.ndim > 2 or widths.shape[-1:] not in ((), (1,), (2,)):
        raise option_error("pad", "pad_width", pad_width, "is not an int, a (before, after) pair or one pair per axis")
    as_tuple = (
        int(widths) if widths.ndim == 0 else tuple(tuple(w) if widths.ndim == 2 else int(w) for w in widths.tolist())
    )
    return Pad.apply(x, pad_width=as_tuple, fill=value)
