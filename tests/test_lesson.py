"""The lesson's numbers (seed/), reproduced in float64: through ``Graph``, through
the lesson's own node-by-node loops, and independently with plain ``math``.

linear = k·x + b, sigmoid = σ(linear), loss = (y - sigmoid)²;
∂loss/∂y = 2(y - σ), ∂loss/∂σ = -2(y - σ), ∂loss/∂linear = ∂loss/∂σ · σ(1 - σ),
∂loss/∂k = ∂loss/∂linear · x, ∂loss/∂b = ∂loss/∂linear, ∂loss/∂x = ∂loss/∂linear · k.
"""

import numpy as np
import pytest

import chainrule as cr

from lesson_helpers import Y, build_lesson, lesson_math

# from the issue (an independent source)
EXPECTED = {
    "linear": 1.4512183820274032,
    "sigmoid": 0.8101858733432837,
    "loss": 0.04056126022042443,
    "d_y": -0.402796525409167,
    "d_sigmoid": 0.402796525409167,
    "d_linear": 0.06194395247945269,
    "d_k": 0.18583185743835806,
    "d_b": 0.06194395247945269,
    "d_x": 0.02224721841122111,
}


def build():
    return build_lesson()[1]


def observed(n):
    return dict(
        linear=n["linear"].value,
        sigmoid=n["sigmoid"].value,
        loss=n["loss"].value,
        d_y=n["y"].grad,
        d_sigmoid=n["sigmoid"].grad,
        d_linear=n["linear"].grad,
        d_k=n["k"].grad,
        d_b=n["b"].grad,
        d_x=n["x"].grad,
    )


def assert_lesson(got):
    for key, want in EXPECTED.items():
        assert np.asarray(got[key]).dtype == np.float64, key
        assert float(got[key]) == pytest.approx(want, rel=1e-15, abs=0), key


def test_plain_math_agrees_with_the_issue():
    truth = lesson_math()
    for key, want in EXPECTED.items():
        assert truth[key] == pytest.approx(want, rel=1e-15, abs=0), key


def test_through_graph():
    n = build()
    graph = cr.Graph(n["loss"])
    assert graph.forward({n["x"]: 3, n["y"]: Y}) == pytest.approx(EXPECTED["loss"], rel=1e-15)
    graph.backward()
    assert_lesson(observed(n))
    # a second run is one more step, not an accumulation
    graph.forward({n["x"]: 3, n["y"]: Y})
    graph.backward()
    assert_lesson(observed(n))


def test_node_by_node_loops_as_in_the_lesson():
    n = build()
    n["x"].feed(3)
    n["y"].feed(Y)
    order = cr.topological_sort(n["loss"])
    ops = [repr(node) for node in order if node.inputs]
    assert ops == ["Linear: linear", "Sigmoid: sigmoid", "MSE: loss"] and len(order) == 7
    for node in order:
        node.forward()
    n["loss"].grad = np.float64(1)
    for node in reversed(order):
        node.backward()
    assert_lesson(observed(n))


def test_eager_and_grad():
    n = build()
    x, y = cr.tensor(3.0, requires_grad=True), cr.tensor(Y, requires_grad=True)
    k, b = n["k"], n["b"]
    loss = cr.mse(y, cr.sigmoid(cr.linear(x, k, b)))
    assert float(loss.value) == pytest.approx(EXPECTED["loss"], rel=1e-15)
    dk, db, dx, dy = cr.grad(loss, [k, b, x, y])
    for key, got in dict(d_k=dk, d_b=db, d_x=dx, d_y=dy).items():
        assert float(got) == pytest.approx(EXPECTED[key], rel=1e-15), key
    loss.backward()
    assert float(k.grad) == pytest.approx(EXPECTED["d_k"], rel=1e-15)


def test_gradient_descent_lowers_the_loss():
    """The lesson's last step: k -= lr·∂loss/∂k, b -= lr·∂loss/∂b, repeated."""
    n = build()
    graph = cr.Graph(n["loss"])
    feed = {n["x"]: 3, n["y"]: Y}
    losses = []
    for _ in range(50):
        losses.append(float(graph.forward(feed)))
        graph.backward()
        for v in graph.variables:
            v.value = v.value - 0.1 * v.grad
    assert losses[0] == pytest.approx(EXPECTED["loss"], rel=1e-15)
    assert all(a > b for a, b in zip(losses, losses[1:])) and losses[-1] < 1e-4
