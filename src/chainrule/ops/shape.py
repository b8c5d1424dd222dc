"""Ops that move elements without changing them: reshape, transpose, broadcast,
squeeze/unsqueeze, and ``sum_to_shape`` (the engine's broadcast undo).

Shapes that depend on the input are worked out from its value when the op
runs, never when the node is built: a define-then-run graph has no values yet
at build time, and may be fed a different batch size on every run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..broadcast import unbroadcast
from ..op import Op
from .axes import AxisError, axis_index, normalize_axes, normalize_axis, numpy_names


def _shape_arg(shape: Sequence[int] | tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class SumToShape(Op):
    """Sum a broadcast gradient back down to ``shape``; vjp: broadcast it up again."""

    vjp_reads = ()  # the input's shape only
    shape_ = ()
    formula = "sum_to_shape({0})"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        return unbroadcast(x, self.shape_)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (broadcast_to(g, np.shape(x)),)


def sum_to_shape(x: Any, shape: tuple) -> Any:
    """Sum ``x`` over the axes it was broadcast along so that it has ``shape``."""
    if np.shape(x) == tuple(shape):
        return x
    return SumToShape.apply(x, shape_=tuple(shape))


class _Regroup(Op):
    """An op that keeps the elements and changes only the shape: its vjp reshapes the
    gradient back to the input's shape (taken at run time, so a define-then-run graph
    works for whatever shape it is fed)."""

    vjp_reads = ()  # the input's shape only
    derivatives = ("1",)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (reshape(g, np.shape(x)),)


class Reshape(_Regroup):
    """Same elements, new shape."""

    shape_ = ()
    formula = "reshape({0})"

    def forward(self, x: Any) -> Any:
        return np.reshape(x, self.shape_)


def reshape(x: Any, *shape: Any) -> Any:
    """``x`` with a new shape (one dimension may be -1), like ``np.reshape``."""
    return Reshape.apply(x, shape_=_shape_arg(shape))


class Squeeze(_Regroup):
    """Drop axes of length 1: all of them, or those of ``axis`` that have length 1 (a named
    axis of another length stays, as in PyTorch)."""

    axis = None
    formula = "squeeze({0})"

    def check_options(self) -> None:
        self.check_axis("axis")

    def forward(self, x: Any) -> Any:
        if self.axis is None:
            return np.squeeze(x)
        shape = np.shape(x)
        return np.squeeze(x, axis=tuple(a for a in normalize_axes(self.axis, len(shape)) if shape[a] == 1))


class ExpandDims(_Regroup):
    """Insert an axis of length 1 at ``axis``."""

    axis = 0
    formula = "unsqueeze({0})"

    def check_options(self) -> None:
        self.check_axis("axis", many=False, none=False)

    def forward(self, x: Any) -> Any:
        return np.expand_dims(x, self.axis)


@numpy_names
def squeeze(x: Any, axis: int | tuple | None = None) -> Any:
    """Drop axes of length 1 (all of them, or those named)."""
    return Squeeze.apply(x, axis=axis)


@numpy_names
def unsqueeze(x: Any, axis: int) -> Any:
    """Insert an axis of length 1 at ``axis`` (``np.expand_dims``)."""
    return ExpandDims.apply(x, axis=axis)


expand_dims = unsqueeze


class Transpose(Op):
    """Permute axes (reverse them by default); vjp: the inverse permutation."""

    vjp_reads = ()  # the input's shape only
    axes = None
    formula = "{0}ᵀ"
    derivatives = ("1",)

    def check_options(self) -> None:
        self.check_axis("axes")

    def order(self, ndim: int) -> tuple | None:
        """The permutation as non-negative axes (None: reversed)."""
        if self.axes is None:
            return None
        if len(self.axes) != ndim:
            raise AxisError(f"axes {self.axes} do not match a value with {ndim} dimension(s)")
        return tuple(axis_index(a, ndim) for a in self.axes) if ndim else ()

    def forward(self, x: Any) -> Any:
        return np.transpose(x, self.order(np.ndim(x)))

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        order = self.order(np.ndim(x))
        if order is None:
            return (transpose(g),)
        return (transpose(g, tuple(int(i) for i in np.argsort(order))),)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes of ``x`` (reverse them when ``axes`` is None)."""
    return Transpose.apply(x, axes=None if axes is None else tuple(axes))


def permute(x: Any, *dims: int | Sequence[int]) -> Any:
    """``torch.permute``: the axes of ``x`` in the order ``dims`` (given one by one, or as one sequence)."""
    return transpose(x, _shape_arg(dims))


class SwapAxes(Op):
    """Exchange two axes (the last two by default: a batched matrix transpose)."""

    vjp_reads = ()  # the input's shape only
    axis1 = -1
    axis2 = -2
    formula = "swapaxes({0})"
    derivatives = ("1",)

    def check_options(self) -> None:
        self.check_axis("axis1", many=False, none=False)
        self.check_axis("axis2", many=False, none=False)

    def forward(self, x: Any) -> Any:
        ndim = np.ndim(x)
        if ndim < 2 and (self.axis1, self.axis2) == (-1, -2):
            return x  # a vector or scalar is its own transpose
        if ndim == 0:  # only axes 0 and -1 exist, and they are the same
            normalize_axis(self.axis1, 0), normalize_axis(self.axis2, 0)
            return x
        return np.swapaxes(x, self.axis1, self.axis2)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (swapaxes(g, self.axis1, self.axis2),)


@numpy_names
def swapaxes(x: Any, axis1: int = -1, axis2: int = -2) -> Any:
    """Exchange two axes of ``x``; with no axes, transpose the last two
    (a vector or a scalar is returned as it is)."""
    if isinstance(x, np.ndarray) and x.ndim < 2 and (axis1, axis2) == (-1, -2):
        return x  # the array fast path; a node decides when it has a value
    return SwapAxes.apply(x, axis1=axis1, axis2=axis2)


class BroadcastTo(Op):
    """Stretch ``x`` to ``shape`` by NumPy's rules; vjp: the engine sums it back."""

    vjp_reads = ()  # the input's shape only
    shape_ = ()
    formula = "broadcast({0})"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        shape = self.shape_
        if -1 in shape:  # expand's "keep this dimension", resolved on the value it gets
            shape = _keep_dims(shape, np.shape(x))
        return np.broadcast_to(x, shape)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (g,)  # the engine's sum_to_shape undoes the stretch


def _keep_dims(shape: tuple, current: tuple) -> tuple:
    """``shape`` with each -1 replaced by the matching (right-aligned) size of ``current``."""
    current = (1,) * (len(shape) - len(current)) + tuple(current)
    return tuple(c if s == -1 else s for s, c in zip(shape, current))


def broadcast_to(x: Any, *shape: Any) -> Any:
    """``x`` broadcast to ``shape`` (a read-only view for arrays)."""
    shape = _shape_arg(shape)
    if np.shape(x) == shape:
        return x
    return BroadcastTo.apply(x, shape_=shape)


def expand(x: Any, *shape: Any) -> Any:
    """``torch.expand``: broadcast to ``shape``, where -1 keeps a dimension."""
    shape = _shape_arg(shape)
    if -1 in shape and not isinstance(x, np.ndarray):
        return BroadcastTo.apply(x, shape_=shape)  # resolved when the node has a value
    return broadcast_to(x, _keep_dims(shape, np.shape(x)))


class Flip(Op):
    """The elements in reverse order along ``axis`` (int, tuple, or None for all); vjp: flip g back."""

    vjp_reads = ()  # the input's shape only
    axis = None
    formula = "flip({0})"
    derivatives = ("flip",)

    def check_options(self) -> None:
        self.check_axis("axis")

    def forward(self, x: Any) -> Any:
        axes = normalize_axes(self.axis, np.ndim(x))
        return np.flip(x, axes) if axes else x

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        return (flip(g, self.axis),)


@numpy_names
def flip(x: Any, axis: int | tuple | None = None) -> Any:
    """Reverse the order of elements along ``axis`` (``np.flip``; ``torch.flip(x, dims)``)."""
    return Flip.apply(x, axis=tuple(axis) if isinstance(axis, list) else axis)
