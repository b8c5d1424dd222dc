"""Big convolution, pooling and ReLU work split across threads (ops/threads.py): the oracle
tables again with every op split (however small), results that do not depend on the
thread count, BLAS's thread count given back, errors raised once every thread is done."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule.ops import columns, threads
from test_conv import CASES as CONV_CASES
from test_ops_activations import CASES as ACTIVATION_CASES
from test_pool import CASES as POOL_CASES

from oracle import TORCH, params, run_case

RELU_CASES = [c for c in ACTIVATION_CASES if c.name.startswith("relu")]


@pytest.fixture
def split(monkeypatch):
    """Every op's work split (no size threshold) on ``count`` threads (default 2)."""

    def use(count: int = 2) -> None:
        monkeypatch.setattr(threads, "MIN_BYTES", 0)
        monkeypatch.setattr(threads._threads, "count", lambda: count)

    use()
    return use


@pytest.mark.parametrize("case, mode", params(CONV_CASES + POOL_CASES + RELU_CASES, modes=TORCH + ("fd", "graph64")))
def test_oracle_tables_with_the_work_split(split, case, mode):
    run_case(case, mode)


def _conv_step(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """A conv → ReLU → max-pool step's value and gradients, under a fixed upstream gradient."""
    xv, wv, bv = cr.Variable(x), cr.Variable(w), cr.Variable(b)
    out = cr.max_pool2d(cr.relu(cr.conv2d(xv, wv, bv, padding=1)), 2)
    out.backward(np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype))
    return [out.value, xv.grad, wv.grad, bv.grad]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_the_thread_count(split, monkeypatch, dtype):
    """Bit for bit the same on 1, 2 and 3 threads, with the weight gradient summed over many
    chunks of images; and equal to PyTorch's."""
    monkeypatch.setattr(columns, "CHUNK_BYTES", 4096)  # several chunks, so the sum's order shows
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((12, 5, 10, 10), (7, 5, 3, 3), (7,)))
    runs = []
    for count in (1, 2, 3):
        split(count)
        runs.append(_conv_step(x, w, b))
    for run in runs[1:]:
        for got, first in zip(run, runs[0]):
            np.testing.assert_array_equal(got, first)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = F.max_pool2d(F.relu(F.conv2d(tx, tw, tb, padding=1)), 2)
    tout.backward(torch.tensor(np.random.default_rng(1).standard_normal(tout.shape).astype(dtype)))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for got, want in zip(runs[0], (tout, tx.grad, tw.grad, tb.grad)):
        assert want is not None
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=tol, atol=tol)
        assert got.dtype == dtype


def test_the_parts_run_on_several_threads_and_come_back_in_order(split):
    names = []

    def part(i: int) -> int:
        names.append(threading.current_thread().name)
        barrier.wait(timeout=10)  # each of two threads must take one part for both to pass
        return i * i

    barrier = threading.Barrier(2)
    assert threads.each(part, [3, 4], nbytes=0) == [9, 16]
    assert len(set(names)) == 2
    assert threads.each(lambda i: i + 1, list(range(7)), nbytes=0) == list(range(1, 8))


def test_an_error_in_a_part_is_raised_after_every_thread_is_done_and_blas_is_given_back(split):
    pytest.importorskip("threadpoolctl")
    blas = threads._threads.controllers()
    before = [c.num_threads for c in blas]
    done = []

    def part(i: int) -> None:
        if i == 0:
            raise ValueError("part 0 failed")
        done.append(i)

    with pytest.raises(ValueError, match="part 0 failed"):
        threads.each(part, list(range(6)), nbytes=0)
    assert sorted(done) == [1, 2, 3, 4, 5]
    assert [c.num_threads for c in blas] == before


def test_blas_gets_its_thread_count_back_and_one_thread_means_no_split(monkeypatch):
    pytest.importorskip("threadpoolctl")
    blas = threads._threads.controllers()
    before = [c.num_threads for c in blas]
    seen = []
    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads._threads, "count", lambda: 2)
    threads.each(lambda i: seen.append([c.num_threads for c in blas]), [0, 1], nbytes=0)
    assert all(counts == [1] * len(blas) for counts in seen)  # one BLAS thread per worker meanwhile
    assert [c.num_threads for c in blas] == before
    monkeypatch.setattr(threads._threads, "count", lambda: 1)
    names = []
    threads.each(lambda i: names.append(threading.current_thread().name), [0, 1, 2], nbytes=0)
    assert set(names) == {threading.current_thread().name}
    assert threads.ranges(10, nbytes=0) == [(0, 10)]


def test_small_work_stays_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads._threads, "count", lambda: 2)
    assert threads.thread_count(threads.MIN_BYTES - 1) == 1
    assert threads.thread_count(threads.MIN_BYTES) == 2
    assert threads.ranges(64, threads.MIN_BYTES) == [(0, 16), (16, 32), (32, 48), (48, 64)]


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: a.transpose(1, 0, 2),  # dense, another axis order
        lambda a: a[:, ::2],  # not dense: one call, no split
        lambda a: np.asfortranarray(a),
    ],
)
def test_relu_on_any_layout_matches_numpy(split, make):
    rng = np.random.default_rng(0)
    x = make(rng.standard_normal((6, 8, 5)).astype(np.float32))
    g = make(rng.standard_normal((6, 8, 5)).astype(np.float32))
    node = cr.Variable(x)
    y = cr.relu(node)
    y.backward(g)
    np.testing.assert_array_equal(y.value, np.maximum(x, 0))
    np.testing.assert_array_equal(node.grad, g * (x > 0))
    assert y.value.dtype == np.float32 and node.grad.dtype == np.float32


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX-only")
def test_a_forked_child_splits_work_on_its_own_threads(split):
    """A child forked after the worker threads started gets new ones (the parent's do not exist
    there): a split in the child finishes."""
    import os
    import signal

    assert threads.each(lambda i: i, [0, 1], nbytes=0) == [0, 1]  # the parent's workers exist now
    with warnings.catch_warnings():  # Python 3.12+ warns that forking a threaded process may deadlock
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the split finished with the right result
        signal.alarm(20)  # a split waiting on the parent's threads would hang: die instead
        split()  # the fresh state in the child needs the forced settings again
        ok = threads.each(lambda i: i * 2, [1, 2, 3], nbytes=0) == [2, 4, 6]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_small_product_runs_on_one_blas_thread_and_equals_the_plain_one():
    """Between THREADED_FROM and ONE_THREAD_BELOW multiply-adds a product runs with BLAS at one
    thread (OpenBLAS's idle threads would spin a core for ~0.1 s after it), then BLAS gets its
    count back; the numbers are ``@``'s; other products and nodes are ``@`` as is."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 4096)).astype(np.float32), rng.standard_normal((4096, 10)).astype(np.float32)
    assert threads.THREADED_FROM <= a.size * b.shape[-1] < threads.ONE_THREAD_BELOW
    blas = threads._threads.controllers()
    before = [c.num_threads for c in blas]
    seen = []
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        counts = [c.num_threads for c in blas]

        class Spy(np.ndarray):
            def __matmul__(self, other):  # what BLAS's thread count is while the product runs
                seen.append([c.num_threads for c in blas])
                return np.asarray(self) @ other

        np.testing.assert_array_equal(threads.product(a.view(Spy), b), a @ b)
        assert seen == [[1] * len(blas)] and [c.num_threads for c in blas] == counts
        big = rng.standard_normal((512, 512)).astype(np.float32)
        seen.clear()
        threads.product(big.view(Spy), big)  # 2^27 multiply-adds: BLAS's own threads
        assert seen == [counts]
    assert [c.num_threads for c in blas] == before
    x = cr.Variable(a)
    assert isinstance(threads.product(x, b), cr.Node)
