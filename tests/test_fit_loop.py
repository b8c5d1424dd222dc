"""fit's loop: Ctrl-C stops at a batch boundary and returns the history so far; the BLAS
thread count is set (or measured) for the steps and given back, with the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.blas import BlasThreads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((60, 4)).astype(np.float32), rng.integers(0, 3, 60)


def _model():
    cr.nn.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 3))
    return model, cr.optim.SGD(model.parameters(), lr=0.1)


class Interrupting:
    """A loader of 10-example batches that raises KeyboardInterrupt before batch ``at`` of epoch 2."""

    def __init__(self, at):
        self.X, self.y = _data()
        self.at, self.epoch = at, 0

    def __iter__(self):
        self.epoch += 1
        for i in range(6):
            if self.epoch == 2 and i == self.at:
                raise KeyboardInterrupt
            yield self.X[10 * i : 10 * i + 10], self.y[10 * i : 10 * i + 10]


def test_ctrl_c_stops_at_a_batch_boundary_and_returns_the_history(capsys):
    model, opt = _model()
    history = cr.fit(model, cr.cross_entropy, opt, Interrupting(at=3), epochs=5, progress=False, threads=None)
    assert len(history) == 1 and "loss" in history
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted in epoch 2" in err[0] and "1 finished epoch" in err[0]
    # the parameters are those after epoch 1 and three batches of epoch 2, step for step
    twin, twin_opt = _model()
    X, y = _data()
    for xb, yb in [(X[i : i + 10], y[i : i + 10]) for i in range(0, 60, 10)] + [
        (X[i : i + 10], y[i : i + 10]) for i in range(0, 30, 10)
    ]:
        twin_opt.zero_grad()
        cr.cross_entropy(twin(xb), yb).backward()
        twin_opt.step()
    assert all(np.array_equal(p.value, q.value) for p, q in zip(model.parameters(), twin.parameters()))


def _blas_threads():
    return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


def test_a_thread_count_holds_during_fit_and_is_given_back():
    seen = []

    class Watch(cr.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(_blas_threads())

    before = _blas_threads()
    model, opt = _model()
    history = cr.fit(
        model, cr.cross_entropy, opt, _data(), epochs=2, batch_size=10, progress=False, threads=1, callbacks=[Watch()]
    )
    assert seen == [1, 1] and _blas_threads() == before and history.blas_threads == 1


def test_auto_measures_both_and_keeps_one_with_the_same_numbers():
    model, opt = _model()
    auto = cr.fit(model, cr.cross_entropy, opt, _data(), epochs=3, batch_size=10, progress=False, threads="auto")
    twin, twin_opt = _model()
    cr.fit(twin, cr.cross_entropy, twin_opt, _data(), epochs=3, batch_size=10, progress=False, threads=None)
    assert all(np.array_equal(p.value, q.value) for p, q in zip(model.parameters(), twin.parameters()))
    assert auto.blas_threads in (1, _blas_threads())


def test_auto_keeps_the_faster_setting():
    threads = BlasThreads("auto")
    if threads.default is None or threads.default < 2:
        pytest.skip("BLAS runs one thread here: nothing to choose")
    timings = {threads.default: 0.010, 1: 0.002}  # one thread measured five times faster
    for _ in range(1 + 2 * BlasThreads.PROBES):
        current = _blas_threads()
        threads.timed(timings[current])
    assert threads.chosen == 1 and _blas_threads() == 1
    threads.close()
    assert _blas_threads() == threads.default
