"""W4, a small net: 2-16-16-1 tanh MLP on 100 samples, MSE, forward + backward."""

from __future__ import annotations

import numpy as np

from harness import Workload
from workloads.common import chainrule_leaves, dense_layers

SIZES = (2, 16, 16, 1)
N = 100


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 2)).astype(np.float32)
    y = np.sin(X[:, :1] * 2).astype(np.float32)
    return X, y, dense_layers(rng, SIZES)


def hand_numpy():
    X, y, (W1, b1, W2, b2, W3, b3) = data()

    def step():
        a1 = np.tanh(X @ W1 + b1)
        a2 = np.tanh(a1 @ W2 + b2)
        out = a2 @ W3 + b3
        d = out - y
        loss = np.mean(d * d)
        dout = 2 * d / d.size
        dW3, db3 = a2.T @ dout, dout.sum(0)
        dh2 = (dout @ W3.T) * (1 - a2 * a2)
        dW2, db2 = a1.T @ dh2, dh2.sum(0)
        dh1 = (dh2 @ W2.T) * (1 - a1 * a1)
        dW1, db1 = X.T @ dh1, dh1.sum(0)
        return loss, dW1, db1, dW2, db2, dW3, db3

    return step


def chainrule_eager():
    import chainrule as cr

    params, Xc, yc = chainrule_leaves(*data())
    W1, b1, W2, b2, W3, b3 = params

    def step():
        for p in params:
            p.grad = None
        h = cr.tanh(cr.linear(Xc, W1, b1))
        h = cr.tanh(cr.linear(h, W2, b2))
        loss = cr.mse(yc, cr.linear(h, W3, b3))
        loss.backward()
        return loss

    return step


def chainrule_graph(compiled: bool = False):
    import chainrule as cr

    X, y, arrays = data()
    W1, b1, W2, b2, W3, b3 = [cr.Variable(a) for a in arrays]
    x, t = cr.Placeholder("x", requires_grad=False), cr.Placeholder("y", requires_grad=False)
    h = cr.tanh(cr.linear(x, W1, b1))
    h = cr.tanh(cr.linear(h, W2, b2))
    graph = cr.Graph(cr.mse(t, cr.linear(h, W3, b3)))
    run = graph.compile() if compiled else graph
    feed = {x: X, t: y}

    def step():
        run.forward(feed)
        run.backward()

    return step


def pytorch(threads: int = 0):
    from harness import import_torch

    torch = import_torch(threads)
    X, y, arrays = data()
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    W1, b1, W2, b2, W3, b3 = params
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        for p in params:
            p.grad = None
        h = torch.tanh(Xt @ W1 + b1)
        h = torch.tanh(h @ W2 + b2)
        loss = torch.mean((h @ W3 + b3 - yt) ** 2)
        loss.backward()
        return loss

    return step


def hips_autograd():
    import autograd
    import autograd.numpy as anp

    X, y, arrays = data()

    def loss_fn(ps):
        W1, b1, W2, b2, W3, b3 = ps
        h = anp.tanh(anp.dot(X, W1) + b1)
        h = anp.tanh(anp.dot(h, W2) + b2)
        return anp.mean((anp.dot(h, W3) + b3 - y) ** 2)

    grad = autograd.grad(loss_fn)
    return lambda: grad(arrays)


def workload(quick: bool) -> Workload:
    return Workload(
        "W4",
        "small net 2-16-16-1 tanh, 100 samples (fwd+bwd)",
        {
            "numpy (by hand)": hand_numpy,
            "chainrule eager": chainrule_eager,
            "chainrule Graph": chainrule_graph,
            "chainrule compiled": lambda: chainrule_graph(compiled=True),
            "pytorch": lambda: pytorch(0),
            "pytorch 1 thread": lambda: pytorch(1),
            "hips autograd": hips_autograd,
        },
    )
