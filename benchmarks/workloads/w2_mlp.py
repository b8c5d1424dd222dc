"""W2, an MLP training step: 784-256-128-10, ReLU, softmax cross-entropy (mean),
batch 128, float32, one SGD step (forward, backward, update)."""

from __future__ import annotations

import numpy as np

from harness import Workload
from workloads.common import chainrule_leaves, dense_layers

SIZES = (784, 256, 128, 10)
BATCH, LR = 128, 0.01


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return X, y, dense_layers(rng, SIZES)


def hand_numpy():
    X, y, (W1, b1, W2, b2, W3, b3) = data()
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]

    def step():
        h1 = X @ W1 + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2 + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ W3 + b3
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(BATCH), y]))
        dz = (p - onehot) / BATCH
        dW3 = a2.T @ dz
        db3 = dz.sum(0)
        dh2 = (dz @ W3.T) * (h2 > 0)
        dW2 = a1.T @ dh2
        db2 = dh2.sum(0)
        dh1 = (dh2 @ W2.T) * (h1 > 0)
        dW1 = X.T @ dh1
        db1 = dh1.sum(0)
        for p_, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p_ -= LR * g
        return loss

    return step


def numpy_chainrule_arithmetic():
    """Hand-written NumPy doing exactly the arithmetic chainrule's graph does (fused bias add in
    place, ReLU against a block of zeros, the softmax's parts kept from the forward for the
    backward, label check, ufunc reductions): the floor for chainrule on this step; the
    difference to it is the graph machinery."""
    X, y, (W1, b1, W2, b2, W3, b3) = data()
    rows = np.arange(BATCH)
    zeros = np.zeros(BATCH * SIZES[1], np.float32)

    def relu(h):
        out = np.empty_like(h)
        np.maximum(h.reshape(-1), zeros[: h.size], out=out.reshape(-1))
        return out

    def step():
        h1 = X @ W1
        h1 += b1
        a1 = relu(h1)
        h2 = a1 @ W2
        h2 += b2
        a2 = relu(h2)
        z = a2 @ W3
        z += b3
        assert 0 <= y.min() and y.max() < SIZES[-1]
        shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
        e = np.exp(shifted)
        total = np.add.reduce(e, axis=1, keepdims=True)
        loss = np.add.reduce(-(shifted[rows, y] - np.log(total)[:, 0]), axis=None) / BATCH
        dz = e
        dz /= total
        dz[rows, y] -= 1
        dz *= np.float32(1 / BATCH)
        dW3, db3 = a2.T @ dz, np.add.reduce(dz, axis=0)
        dh2 = dz @ W3.T
        dh2 *= ~(a2 <= 0)
        dW2, db2 = a1.T @ dh2, np.add.reduce(dh2, axis=0)
        dh1 = dh2 @ W2.T
        dh1 *= ~(a1 <= 0)
        dW1, db1 = X.T @ dh1, np.add.reduce(dh1, axis=0)
        for p_, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p_ -= LR * g
        return loss

    return step


def chainrule_eager():
    import chainrule as cr

    params, Xc, yc = chainrule_leaves(*data())
    W1, b1, W2, b2, W3, b3 = params

    def step():
        h = cr.relu(cr.linear(Xc, W1, b1))
        h = cr.relu(cr.linear(h, W2, b2))
        loss = cr.cross_entropy(cr.linear(h, W3, b3), yc)
        loss.backward()
        for p in params:
            p.value -= LR * p.grad
            p.grad = None
        return loss

    return step


def chainrule_graph(compiled: bool = False):
    import chainrule as cr

    X, y, arrays = data()
    params = [cr.Variable(a) for a in arrays]
    W1, b1, W2, b2, W3, b3 = params
    x, labels = cr.Placeholder("x", requires_grad=False), cr.Placeholder("labels", requires_grad=False)
    h = cr.relu(cr.linear(x, W1, b1))
    h = cr.relu(cr.linear(h, W2, b2))
    graph = cr.Graph(cr.cross_entropy(cr.linear(h, W3, b3), labels))
    run = graph.compile() if compiled else graph
    feed = {x: X, labels: y}

    def step():
        loss = run.forward(feed)
        run.backward()
        for p in params:
            p.value -= LR * p.grad
        return loss

    return step


def pytorch():
    from harness import import_torch

    torch = import_torch()
    F = torch.nn.functional
    X, y, arrays = data()
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    W1, b1, W2, b2, W3, b3 = params
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        h = torch.relu(Xt @ W1 + b1)
        h = torch.relu(h @ W2 + b2)
        loss = F.cross_entropy(h @ W3 + b3, yt)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return loss

    return step


def hips_autograd():
    import autograd
    import autograd.numpy as anp

    X, y, arrays = data()
    params = list(arrays)

    def loss_fn(ps):
        W1, b1, W2, b2, W3, b3 = ps
        h = anp.maximum(anp.dot(X, W1) + b1, 0)
        h = anp.maximum(anp.dot(h, W2) + b2, 0)
        z = anp.dot(h, W3) + b3
        z = z - anp.max(z, axis=1, keepdims=True)
        logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(logp[np.arange(BATCH), y])

    grad = autograd.grad(loss_fn)

    def step():
        for p, g in zip(params, grad(params)):
            p -= LR * g

    return step


def workload(quick: bool) -> Workload:
    return Workload(
        "W2",
        "MLP SGD step 784-256-128-10, batch 128, f32",
        {
            "numpy (by hand)": hand_numpy,
            "numpy (cr's math)": numpy_chainrule_arithmetic,
            "chainrule eager": chainrule_eager,
            "chainrule Graph": chainrule_graph,
            "chainrule compiled": lambda: chainrule_graph(compiled=True),
            "pytorch": pytorch,
            "hips autograd": hips_autograd,
        },
    )
