"""Memory around a backward pass: released values, and the garbage collector on big graphs.

**Releasing.** ``loss.backward()`` frees as it goes, as PyTorch does without
``retain_graph``: when a node's vjp has run, every vjp that reads its value has
run too (its own, and its consumers', which come later in the topological order
and so earlier in the backward walk). So the arrays an op kept for its vjp
(``saved_for_backward``) are dropped then, and so is the node's value, unless
something outside the graph still references the node. That is decided with
CPython's reference count, which is exact: the graph holds a node from the
sorted order, from the ``inputs`` of each consumer the pass visited (counted as
it goes) and from the walk itself; any reference more is a holder outside (your
``out`` variable, a list, a consumer in another graph, the lesson's ``outputs``
lists), and the value stays, as in PyTorch a tensor you hold stays while the
ones it saved for backward are freed. The output and the leaves always keep
their values; a ``Graph`` and the lesson's node-by-node loops never release.
A released value becomes ``RELEASED``, which says what to do if touched;
sorting a graph for ``explain``, drawing, ``Graph`` or the lesson recomputes it
from the leaves (``restore_released``).
"""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import ReleasedValueError


# ---------------------------------------------------------------- the garbage collector and big graphs
class CollectorPolicy:
    """Keeps Python's cyclic garbage collector from re-walking a big graph while it is alive.

    Why: a full collection visits every live container object, and each op node is
    one (two, with its ``inputs`` tuple). CPython runs one each time the objects
    that survived the last grow by a quarter, so while a graph of N nodes is built
    every node is visited about five times: at 100,000 tanh steps that was a third
    of the build time, and the cost per node grew with the graph (W10 in
    ``benchmarks/``). A node cannot be taken off the collector's lists from Python,
    but ``gc.freeze()`` moves everything the collector tracks to a generation its
    collections skip, in constant time, and ``gc.unfreeze()`` moves it all back.

    The policy: every ``CHECK_EVERY`` op nodes built, look at the node built at the
    previous check. Alive, a graph that big is alive (being built, or kept), so
    freeze; dead, the graphs were dropped, so unfreeze. A backward pass that
    releases its graph unfreezes at its end. Reference counting is untouched
    (whatever nothing references is freed at once, frozen or not); only *cyclic*
    garbage that existed at a freeze waits, until the unfreeze. If you disabled the
    collector or froze objects yourself, nothing is done. Training steps of a few
    hundred nodes never reach a check alive, so ordinary loops never freeze.
    """

    CHECK_EVERY = 10_000

    def __init__(self) -> None:
        self.next_check = self.CHECK_EVERY  # Op construction calls grown() once a node's number reaches it
        self.frozen = False  # whether chainrule froze the collector's objects (and must unfreeze them)
        self._mark: Any = None  # a weak reference to the node built at the previous check
        self._lock = threading.Lock()

    def grown(self, node: Any) -> None:
        with self._lock:
            self.next_check = node._seq + self.CHECK_EVERY
            alive = self._mark is not None and self._mark() is not None
            self._mark = weakref.ref(node)
            if not alive:
                self._unfreeze()
            elif self.frozen or (gc.isenabled() and gc.get_freeze_count() == 0):
                gc.freeze()  # constant time: the collector's lists are spliced, not walked
                self.frozen = True

    def release(self) -> None:
        """The graph has done its work (the end of a backward pass that released it)."""
        if self.frozen:
            with self._lock:
                self._unfreeze()

    def _unfreeze(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False


collector = CollectorPolicy()


class _Released:
    """The value of a node after a backward pass released it: any use raises
    ``ReleasedValueError`` saying to pass ``retain_graph=True``."""

    __slots__ = ()
    released_by_backward = True  # errors.describe says "value released" for such a node
    note = "value released by backward()"  # what errors.describe says instead of its shape
    message = (
        "this intermediate value was released by backward() once no remaining vjp needed it "
        "(nothing outside the graph held its node); pass retain_graph=True to backward() to keep "
        "every value, or hold the node you want to read later"
    )

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ReleasedValueError(self.message)

    __getattr__ = __array__ = __array_ufunc__ = __array_function__ = __getitem__ = __iter__ = __len__ = _refuse
    __bool__ = __float__ = __int__ = __index__ = __neg__ = __abs__ = __pos__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __repr__(self) -> str:
        return "<released by backward(): pass retain_graph=True to keep it>"


RELEASED = _Released()


class ReleasedAfterForward(_Released):
    """The value of a node released while the graph was still being built (``release.py``):
    no vjp reads it and nothing outside the graph held the node. It keeps the array's
    ``shape`` and ``dtype``, which the backward pass reads of every input (to fit each
    gradient to it) and some vjps too (a reshape's); any other use raises
    ``ReleasedValueError``."""

    __slots__ = ("shape", "dtype")
    message = (
        "this intermediate value was released once its node was built into the graph: no vjp "
        "reads it and nothing outside the graph held its node (as PyTorch frees it); keep a "
        "reference to the node (a variable) to read its value later"
    )
    note = "value released after forward"

    def __init__(self, shape: tuple, dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func is np.shape:  # np.shape and np.ndim of a value are what vjps read of an unread input
            return self.shape
        if func is np.ndim:
            return len(self.shape)
        return self._refuse()

    def astype(self, dtype: Any, copy: bool = True) -> ReleasedAfterForward:
        """The engine casts an op's inputs to the dtype it computes in: a released value stays one."""
        return ReleasedAfterForward(self.shape, np.dtype(dtype))

    def __repr__(self) -> str:
        return f"<released after forward: shape {self.shape}, {self.dtype}; hold the node to keep it>"


def restore_released(order: Sequence[Any], after_forward: bool = True) -> None:
    """Recompute, in ``order`` (inputs first), every value a backward pass released (and, with
    ``after_forward``, every value released while the graph was built)."""
    for node in order:
        value = node.value
        if value is RELEASED or (after_forward and type(value) is ReleasedAfterForward):
            node.value = node._evaluate()


def _uncounted(obj: object) -> int:
    """Where Python counts no references (not CPython): as if held from everywhere, so nothing
    is ever taken to be unseen (nothing released, nothing written in place, every gradient copied)."""
    return sys.maxsize


# CPython's exact reference count; backward's release, the forward-time release, gradient
# stores and the optimizer's in-place step all decide "does anyone else see this?" with it
refcount: Callable[[object], int] = getattr(sys, "getrefcount", _uncounted)
COUNTS_REFERENCES = refcount is not _uncounted


class _Pass(threading.local):
    releasing = False  # whether the backward pass running in this thread releases as it goes


current_pass = _Pass()


def private(g: np.ndarray) -> bool:
    """Whether nobody but ``g`` can reach its data: ``g`` owns it, or ``g`` is a view of all of
    an array that only ``g`` references (a transposed weight gradient, say; CPython's
    reference count tells). Such an array can become a leaf's ``.grad`` as it is: the
    copy that keeps a gradient from aliasing someone's array is not needed."""
    base = g.base
    if base is None:
        return True
    # references to base: g's, this local's and getrefcount's argument
    return type(base) is np.ndarray and base.base is None and base.size == g.size and refcount(base) <= 3
