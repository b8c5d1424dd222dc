"""Big array work split across the cores BLAS would use: a convolution's chunks of images,
pooling's planes.

NumPy releases the GIL in its copies, ufunc loops and BLAS calls on big arrays, so a few
Python threads run them side by side. Measured on the 2-core machine of ``benchmarks/``
(W9, the CIFAR-sized CNN step): OpenBLAS's own threads speed up only the matrix
products, while the copies around them (im2col, col2im, cropping) and the pooling ran on
one core; running whole chunks (copy, product, copy) on two threads, each product
single-threaded, uses both cores for all of it.

How many threads: as many as BLAS has now (``threadpoolctl`` reads it; without
``threadpoolctl``, one). So ``OPENBLAS_NUM_THREADS=1``, ``fit(threads=1)`` and
``fit(threads="auto")`` on a busy machine (``blas.py``) keep every op on one thread as
well. While the threads run, BLAS is held at one thread each, and given its count back
after. Work below ``MIN_BYTES`` stays on the calling thread, where starting threads
would cost more than it saves.

Results never depend on the thread count: every part is computed the same way on
whichever thread runs it, and results that combine parts (a weight gradient summed over
chunks) are combined in the order of the parts.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

MIN_BYTES = 2 << 20  # less work than this (bytes the op reads or writes) stays on one thread


class _Threads:
    """The worker threads (one fewer than the count: the calling thread works too) and BLAS's
    thread control, both made when first needed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy = threading.Lock()  # held while work is split
        self.executor: ThreadPoolExecutor | None = None
        self.blas: list[Any] | None = None  # threadpoolctl's BLAS controllers

    def controllers(self) -> list[Any]:
        if self.blas is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                self.blas = []
            else:
                self.blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        return self.blas

    def count(self) -> int:
        """How many threads big work gets now: BLAS's count, at most the cores."""
        blas = self.controllers()
        return max(1, min(os.cpu_count() or 1, max((c.num_threads for c in blas), default=1)))

    def pool(self, workers: int) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None or self.executor._max_workers < workers:
                self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chainrule-ops")
            return self.executor


_threads = _Threads()


def _forget_threads() -> None:
    """In a forked child: the parent's worker threads do not exist there, and a lock held by
    one of them would stay held; start afresh."""
    global _threads
    _threads = _Threads()


if hasattr(os, "register_at_fork"):  # (not on Windows)
    os.register_at_fork(after_in_child=_forget_threads)


def thread_count(nbytes: int) -> int:
    """How many threads work over ``nbytes`` bytes gets (1 below ``MIN_BYTES``)."""
    return 1 if nbytes < MIN_BYTES else _threads.count()


def each(fn: Callable[[Any], T], parts: Sequence[Any], nbytes: int) -> list[T]:
    """``[fn(part) for part in parts]``, the parts shared out among ``thread_count(nbytes)``
    threads (the calling thread among them). ``fn`` must only write what its part owns."""
    n = min(len(parts), thread_count(nbytes))
    # One split at a time: a second caller (another thread of the user's) runs on its own thread,
    # so BLAS's count is saved and given back by one caller only.
    if n <= 1 or not _threads.busy.acquire(blocking=False):
        return [fn(part) for part in parts]
    try:
        return _split(fn, parts, n)
    finally:
        _threads.busy.release()


def _split(fn: Callable[[Any], T], parts: Sequence[Any], n: int) -> list[T]:
    """The parts on ``n`` threads, each taking the next part not yet taken: a thread whose core
    is busy with another process does fewer parts instead of holding the others up."""
    taken = itertools.count()
    results: list[Any] = [None] * len(parts)

    def work() -> None:
        for i in iter(taken.__next__, None):  # (next() on a count is atomic under the GIL)
            if i >= len(parts):
                return
            results[i] = fn(parts[i])

    blas = _threads.controllers()
    counts = [c.num_threads for c in blas]
    for c in blas:
        c.set_num_threads(1)
    try:
        futures: list[Future] = [_threads.pool(n - 1).submit(work) for _ in range(n - 1)]
        errors = [_error(work)] + [_error(future.result) for future in futures]  # all done before BLAS's count is back
    finally:
        for c, count in zip(blas, counts):
            c.set_num_threads(count)
    for error in errors:
        if error is not None:
            raise error
    return results


def _error(call: Callable[[], Any]) -> BaseException | None:
    """Run ``call``; the exception it raised, or None."""
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the caller re-raises it once every thread is done
        return exc
    return None


def ranges(n: int, nbytes: int) -> list[tuple[int, int]]:
    """``range(n)`` (planes, say) cut into runs for ``each``: two per thread that work over
    ``nbytes`` gets, so a thread slowed by a busy core leaves its second run to the others;
    one run when it gets one thread."""
    pieces = max(1, min(n, 2 * thread_count(nbytes)) if thread_count(nbytes) > 1 else 1)
    return [(n * i // pieces, n * (i + 1) // pieces) for i in range(pieces)]


def elementwise(kernel: Callable[..., Any], *arrays: Any) -> Any:
    """``kernel(*arrays, out=out)`` into a new array like the first: for big arrays of one shape
    and memory layout, their flat runs shared out among threads; otherwise one call. The
    first array's dtype is the result's (as for ``max(x, 0)`` and ``g * mask``)."""
    first = arrays[0]
    nbytes = sum(a.nbytes for a in arrays)
    if (
        thread_count(nbytes) <= 1
        or not _dense(first)
        or any(a.shape != first.shape or a.strides != first.strides for a in arrays)
    ):
        out = np.empty_like(first)
        kernel(*arrays, out=out)
        return out
    out = np.empty_like(first)  # the same layout as a dense ``first``: so flat runs line up
    flats = [np.ravel(a, order="K") for a in (*arrays, out)]

    def run(bounds: tuple[int, int]) -> None:
        a, b = bounds
        kernel(*(f[a:b] for f in flats[:-1]), out=flats[-1][a:b])

    each(run, ranges(first.size, nbytes), nbytes)
    return out


ZERO_BLOCK = 1 << 16  # elements: 256 KiB of float32, which stay in a core's cache


@functools.cache
def zero_block(dtype: np.dtype) -> np.ndarray:
    """``ZERO_BLOCK`` zeros of ``dtype``, read-only: an operand for ufuncs that run faster
    against an array than against a number (``relu_kernel``)."""
    zeros = np.zeros(ZERO_BLOCK, dtype=dtype)
    zeros.flags.writeable = False
    return zeros


def _dense(a: np.ndarray) -> bool:
    """Whether ``a``'s elements fill one block of memory, in some order of its axes."""
    step = a.itemsize
    for stride, n in sorted((s, n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride != step:
            return False
        step *= n
    return True


# OpenBLAS runs a product on its threads from m·n·k = 2^18 on; after each such call its idle
# threads spin for about 0.1 s of a core (measured: 0.104 s of CPU after one (64, 4096) @ (4096,
# 10) product, whatever the thread count is set to afterwards), and the split work above then
# shares that core with the spinning thread (W9 took 63-83 ms a step with its Linear layer's
# products threaded, 42-54 ms without). Products below ``ONE_THREAD_BELOW`` gain little from
# threads: they run on one.
THREADED_FROM, ONE_THREAD_BELOW = 1 << 18, 1 << 22


def product(a: Any, b: Any) -> Any:
    """``a @ b``; between ``THREADED_FROM`` and ``ONE_THREAD_BELOW`` multiply-adds, on one BLAS
    thread (nodes, and other products, as ``@`` does them)."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.ndim < 2 or b.ndim < 2:
        return a @ b
    if not THREADED_FROM <= a.size * b.shape[-1] < ONE_THREAD_BELOW or not _threads.busy.acquire(blocking=False):
        return a @ b
    try:
        blas = _threads.controllers()
        counts = [c.num_threads for c in blas]
        for c in blas:
            c.set_num_threads(1)
        try:
            return a @ b
        finally:
            for c, count in zip(blas, counts):
                c.set_num_threads(count)
    finally:
        _threads.busy.release()
