"""The lesson's numbers (seed/), reproduced in float64: through ``Graph``, through
the lesson's own node-by-node loops, and independently with plain ``math``.

linear = k·x + b, sigmoid = σ(linear), loss = (y - sigmoid)²;
∂loss/∂y = 2(y - σ), ∂loss/∂σ = -2(y - σ), ∂loss/∂linear = ∂loss/∂σ · σ(1 - σ),
∂loss/∂k = ∂loss/∂linear · x, ∂loss/∂b = ∂loss/∂linear, ∂loss/∂x = ∂loss/∂linear · k.
"""
import math

import numpy as np
import pytest

import chainrule as cr

X, K, B, Y = 3.0, 0.35915077292816744, 0.3737660632429008, 0.6087876106387002
# from the issue (an independent source)
EXPECTED = {
    "linear": 1.4512183820274032, "sigmoid": 0.8101858733432837, "loss": 0.04056126022042443,
    "dy": -0.402796525409167, "dsigmoid": 0.402796525409167, "dlinear": 0.06194395247945269,
    "dk": 0.18583185743835806, "db": 0.06194395247945269, "dx": 0.02224721841122111,
}


def plain_math():
    """The same numbers with nothing but ``math``."""
    linear = K * X + B
    sigmoid = 1 / (1 + math.exp(-linear))
    loss = (Y - sigmoid) ** 2
    dsigmoid = -2 * (Y - sigmoid)
    dlinear = dsigmoid * sigmoid * (1 - sigmoid)
    return dict(linear=linear, sigmoid=sigmoid, loss=loss, dy=2 * (Y - sigmoid), dsigmoid=dsigmoid,
                dlinear=dlinear, dk=dlinear * X, db=dlinear, dx=dlinear * K)


def build():
    cr.set_default_dtype("float64")
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(K, name="k"), cr.Variable(B, name="b")
    linear = cr.Linear(x, k, b, name="linear")
    sigmoid = cr.Sigmoid(linear, name="sigmoid")
    loss = cr.Loss(y, sigmoid, name="loss")
    return dict(x=x, y=y, k=k, b=b, linear=linear, sigmoid=sigmoid, loss=loss)


def observed(n):
    return dict(linear=n["linear"].value, sigmoid=n["sigmoid"].value, loss=n["loss"].value, dy=n["y"].grad,
                dsigmoid=n["sigmoid"].grad, dlinear=n["linear"].grad, dk=n["k"].grad, db=n["b"].grad, dx=n["x"].grad)


def assert_lesson(got):
    for key, want in EXPECTED.items():
        assert np.asarray(got[key]).dtype == np.float64, key
        assert float(got[key]) == pytest.approx(want, rel=1e-15, abs=0), key


def test_plain_math_agrees_with_the_issue():
    for key, value in plain_math().items():
        assert value == pytest.approx(EXPECTED[key], rel=1e-15, abs=0), key


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
    for key, got in dict(dk=dk, db=db, dx=dx, dy=dy).items():
        assert float(got) == pytest.approx(EXPECTED[key], rel=1e-15), key
    loss.backward()
    assert float(k.grad) == pytest.approx(EXPECTED["dk"], rel=1e-15)


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
