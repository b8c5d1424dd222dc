"""W1, the lesson's graph: loss = (y - sigmoid(k·x + b))² on scalars, forward + backward."""

from __future__ import annotations

import math

import numpy as np

from harness import Workload

X, Y, K, B = 3.0, 0.6087876106387002, 0.35915077292816744, 0.3737660632429008


def hand_numpy():
    x, y, k, b = np.float64(X), np.float64(Y), np.float64(K), np.float64(B)

    def step():
        s = 1.0 / (1.0 + np.exp(-(k * x + b)))
        loss = (y - s) ** 2
        d_lin = -2.0 * (y - s) * s * (1.0 - s)
        return loss, d_lin * x, d_lin

    return step


def chainrule_eager():
    import chainrule as cr

    x, y = cr.Constant(X, dtype=np.float64), cr.Constant(Y, dtype=np.float64)
    k, b = cr.Variable(K, name="k", dtype=np.float64), cr.Variable(B, name="b", dtype=np.float64)

    def step():
        k.grad = b.grad = None
        loss = cr.mse(y, cr.sigmoid(cr.linear(x, k, b)))
        loss.backward()
        return k.grad

    return step


def chainrule_graph(compiled: bool = False):
    import chainrule as cr

    x, y = cr.Placeholder(name="x", requires_grad=False), cr.Placeholder(name="y", requires_grad=False)
    k, b = cr.Variable(K, name="k", dtype=np.float64), cr.Variable(B, name="b", dtype=np.float64)
    graph = cr.Graph(cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b))))
    run = graph.compile() if compiled else graph
    feed = {x: np.float64(X), y: np.float64(Y)}

    def step():
        run.forward(feed)
        run.backward()
        return k.grad

    return step


def pytorch():
    from harness import import_torch

    torch = import_torch()
    x, y = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    k = torch.tensor(K, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(B, dtype=torch.float64, requires_grad=True)

    def step():
        k.grad = b.grad = None
        loss = (y - torch.sigmoid(k * x + b)) ** 2
        loss.backward()
        return k.grad

    return step


def hips_autograd():
    import autograd
    import autograd.numpy as anp

    def loss(params):
        k, b = params
        return (Y - 1.0 / (1.0 + anp.exp(-(k * X + b)))) ** 2

    grad = autograd.grad(loss)
    params = (K, B)
    return lambda: grad(params)


def micrograd():
    from micrograd.engine import Value

    def sigmoid(v):  # micrograd has no sigmoid: added the micrograd way, as its lectures add tanh
        s = 1.0 / (1.0 + math.exp(-v.data))
        out = Value(s, (v,), "sigmoid")

        def _backward():
            v.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    k, b = Value(K), Value(B)

    def step():
        k.grad = b.grad = 0.0
        loss = (Y - sigmoid(k * X + b)) ** 2
        loss.backward()
        return k.grad

    return step


def workload(quick: bool) -> Workload:
    return Workload(
        "W1",
        "lesson graph, scalars (fwd+bwd)",
        {
            "numpy (by hand)": hand_numpy,
            "chainrule eager": chainrule_eager,
            "chainrule Graph": chainrule_graph,
            "chainrule compiled": lambda: chainrule_graph(compiled=True),
            "pytorch": pytorch,
            "hips autograd": hips_autograd,
            "micrograd": micrograd,
        },
    )
