"""Writing a step: every parameter or none, and in the parameter's own array when no one can see it.

``Optimizer.step`` first computes everything that can fail (every rule runs, every
new state is made), then commits. The commit is where memory is decided:

* A rule that ends in plain descent (``value - lr·step``, SGD's) returns a
  ``Descend`` instead of a new array. If the parameter's array is seen by no one
  else (it owns its memory and CPython's reference count says only the parameter
  holds it: no view of it, no ``w = p.value`` of yours, no graph kept with
  ``retain_graph=True``), the commit writes ``value - lr·step`` into it in place,
  a slice at a time through a small buffer, bit for bit the same numbers. That is
  what PyTorch's in-place step saves: no second copy of the parameters at the
  peak. Anyone who can see the array gets a new one instead, as before, so no
  holder ever watches a value change under it.
* Nothing in the commit can fail: the buffers are made before it starts, and a
  Ctrl-C that arrives during it is held until it ends and then raised, so a step
  still happens for every parameter or for none.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..memory import refcount
from ..node import Variable

SLICE = 1 << 15  # elements per in-place pass: a buffer that stays in cache, never a parameter-sized one


class Descend:
    """A rule's new value ``value - lr·step``, left for the commit to write (see the module docstring)."""

    __slots__ = ("step", "lr", "buffer")

    def __init__(self, step: np.ndarray, lr: float) -> None:
        self.step, self.lr = step, float(lr)
        self.buffer: np.ndarray | None = None  # what ``write_into`` writes through (set by ``planned``)

    def computed(self, value: np.ndarray) -> np.ndarray:
        """The new value as a new array: ``(-lr·step) + value`` is ``value - lr·step`` bit for bit
        (negation is exact), made as one array instead of two."""
        new = np.multiply(self.step, -self.lr)
        if not isinstance(new, np.ndarray) or new.shape != np.shape(value):
            return value - self.lr * self.step
        new += value
        return new

    def write_into(self, value: np.ndarray) -> None:
        """``value -= lr·step`` in place with the same bits as ``computed``, a block of leading
        rows at a time; ``step`` may have any layout (a gradient is often a transposed view)."""
        buffer = self.buffer
        if value.ndim == 0 or buffer is None:
            value[...] = self.computed(value)
            return
        rows = buffer.size // _row_size(value)
        for start in range(0, len(value), rows):
            block = value[start : start + rows]
            part = buffer[: block.size].reshape(block.shape)
            np.multiply(self.step[start : start + rows], -self.lr, out=part)
            np.add(part, block, out=block)


def _row_size(value: np.ndarray) -> int:
    """Elements in one leading row (``value[0]``) of a parameter, at least 1."""
    return max(1, math.prod(value.shape[1:]))


def seen_only_by(p: Variable, held: int) -> bool:
    """Whether ``p.value`` is an array that only ``p`` holds, besides the ``held`` names the
    caller has bound to it. Counted: the parameter's slot, the caller's names, this function's
    own name and ``getrefcount``'s argument; any more is someone else (a view's base, a user's
    name, a graph kept with ``retain_graph=True``)."""
    value = p.value
    return (
        type(value) is np.ndarray
        and value.flags.owndata
        and value.flags.writeable
        and value.flags.c_contiguous
        and refcount(value) == held + 3
    )


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it. Signals reach only the main
    thread, so elsewhere there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


def planned(p: Variable, value: np.ndarray, new_value: Any, buffers: dict[np.dtype, np.ndarray]) -> Any:
    """What the commit will write for ``p`` (whose array the caller passes as ``value``, bound
    to one name of its own): a ``Descend`` to write in place, with the buffer it writes through
    made now so that the commit allocates nothing, or a new array."""
    if not isinstance(new_value, Descend):
        return new_value
    step = np.asarray(new_value.step, dtype=value.dtype)
    if step.shape != value.shape or not seen_only_by(p, held=2):  # the caller's name and ours
        return new_value.computed(value)
    new_value.step = step
    row = _row_size(value)
    size = max(row, min(value.size, SLICE // row * row))  # whole rows, at least one
    if value.dtype not in buffers or buffers[value.dtype].size < size:
        buffers[value.dtype] = np.empty(size, value.dtype)
    new_value.buffer = buffers[value.dtype]
    return new_value
