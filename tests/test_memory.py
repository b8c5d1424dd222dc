"""Memory: backward frees what nothing needs any more (and keeps what you hold), no_grad()
keeps no graph, fit and evaluate never hold two graphs, and the garbage collector stays
off a big graph while it lives."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule import memory

from lesson_helpers import build_lesson


def _mlp_step():
    W1, W2 = cr.Variable(np.ones((3, 8)) / 3, name="W1"), cr.Variable(np.ones((8, 2)) / 8, name="W2")
    x = cr.tensor(np.arange(12.0).reshape(4, 3) / 10)
    hidden = cr.relu(x @ W1)
    loss = cr.mean(cr.tanh(hidden @ W2))
    return loss, hidden, (W1, W2)


def test_an_intermediate_value_dies_after_backward():
    loss, hidden, _ = _mlp_step()
    values = weakref.ref(hidden.value)
    product = weakref.ref(hidden.inputs[0].value)  # x @ W1: nobody holds its node
    del hidden
    loss.backward()
    assert product() is None and values() is None


def test_retain_graph_keeps_every_value_for_a_second_backward():
    loss, hidden, (W1, _) = _mlp_step()
    product = weakref.ref(hidden.inputs[0].value)
    del hidden
    loss.backward(retain_graph=True)
    first = W1.grad.copy()
    assert product() is not None
    loss.backward()
    np.testing.assert_allclose(W1.grad, 2 * first)


def test_what_you_hold_keeps_its_value_and_the_output_and_leaves_keep_theirs():
    loss, hidden, (W1, W2) = _mlp_step()
    kept = [hidden.inputs[0]]  # in a list
    other = hidden * 2.0  # a consumer outside the backward's graph
    loss.backward()
    for node in (hidden, kept[0], other, loss, W1):
        assert node.value is not memory.RELEASED and np.isfinite(node.value).all()
    assert W1.grad.shape == (3, 8)


def test_a_released_value_says_to_pass_retain_graph():
    loss, hidden, _ = _mlp_step()
    del hidden
    loss.backward()
    with pytest.raises(cr.errors.ReleasedValueError, match="retain_graph=True"):
        loss.backward()
    released = loss.inputs[0].inputs[0]  # tanh(...): released
    with pytest.raises(cr.errors.ReleasedValueError, match="retain_graph=True"):
        released.value + 1
    with pytest.raises(cr.errors.GradientError, match="retain_graph=True"):
        np.asarray(released.value)
    assert "released" in repr(released.value) and "value released" in cr.errors.describe(released)


def test_explain_and_drawing_recompute_what_backward_released():
    loss, hidden, (W1, _) = _mlp_step()
    del hidden
    expected = str(cr.explain(loss, W1))  # before any backward
    loss.backward()
    assert str(cr.explain(loss, W1)) == expected
    assert "digraph" in cr.Graph(loss).to_dot()


def test_the_lessons_loops_and_graph_keep_their_values():
    graph, n = build_lesson()
    graph.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    graph.backward()
    n["loss"].backward()  # a whole pass over a sorted graph: every node is held by its inputs' outputs
    assert all(isinstance(node.value, (np.ndarray, np.generic)) for node in graph.order)


def test_no_grad_forward_keeps_no_graph():
    W = cr.Variable(np.ones((3, 3)))
    with cr.no_grad():
        h = cr.relu(cr.tensor(np.ones((2, 3))) @ W)
        inner = weakref.ref(h)
        out = cr.tanh(h * 2.0)
    del h
    assert out.inputs == () and inner() is None and not out.requires_grad


def test_backward_releases_what_an_op_saved_for_its_vjp():
    W = cr.Variable(np.ones((3, 2)))
    fast = cr.compile(lambda x: cr.tanh(x @ W))
    out = fast(np.ones((4, 3)))
    assert out._saved is not None
    cr.sum(out).backward()
    assert out._saved is None and isinstance(out.value, np.ndarray)  # you hold out: its value stays


class Probe(cr.nn.Module):
    """A model that, at each forward, checks the previous forward's output node is gone."""

    def __init__(self):
        super().__init__()
        self.layer = cr.nn.Linear(2, 2)
        self.previous, self.alive = None, []

    def forward(self, x):
        self.alive.append(self.previous is not None and self.previous() is not None)
        out = self.layer(x)
        self.previous = weakref.ref(out)
        return out


def test_fit_and_evaluate_drop_each_steps_graph_before_the_next():
    model = Probe()
    X, y = np.random.default_rng(0).standard_normal((40, 2)).astype(np.float32), np.arange(40) % 2
    cr.fit(
        model,
        cr.cross_entropy,
        cr.optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=2,
        batch_size=8,
        progress=False,
        val_data=(X, y),
    )
    cr.evaluate(model, (X, y), batch_size=8)
    assert len(model.alive) > 10 and not any(model.alive)


def test_a_big_graph_freezes_the_collector_until_its_backward():
    policy = memory.collector
    x = cr.Variable(np.ones(2))
    h = x
    for _ in range(policy.CHECK_EVERY):  # three ops a step: past two checks
        h = cr.tanh(h * 1.0 + 0.0)
    assert policy.frozen and gc.get_freeze_count() > 0
    h.sum().backward()
    assert not policy.frozen and gc.get_freeze_count() == 0


def test_cyclic_garbage_from_before_a_freeze_is_collected_after_it():
    class Cycle:
        me: Cycle

    a = Cycle()
    a.me = a
    dead = weakref.ref(a)
    del a
    x = cr.Variable(np.ones(2))
    h = x
    for _ in range(memory.collector.CHECK_EVERY):
        h = cr.tanh(h * 1.0 + 0.0)
    h.sum().backward()
    gc.collect()
    assert dead() is None


def test_the_collector_policy_leaves_your_settings_alone():
    gc.disable()
    try:
        x = cr.Variable(np.ones(2))
        h = x
        for _ in range(memory.collector.CHECK_EVERY):
            h = cr.tanh(h * 1.0 + 0.0)
        assert not memory.collector.frozen and gc.get_freeze_count() == 0
        del h
    finally:
        gc.enable()
