"""W11, forward mode: the jvp of W4's small net (2-16-16-1 tanh MLP, 100 samples, MSE loss)
with a tangent on every parameter, next to one reverse pass (vjp) of the same function.

chainrule has no jvp rules: it transposes each op's vjp, so its jvp costs a few vjps.
This workload measures how many, against a jvp written by hand in NumPy and PyTorch's."""

from __future__ import annotations

import numpy as np

from harness import Workload
from workloads.w4_smallnet import data


def tangents(arrays):
    rng = np.random.default_rng(1)
    return [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]


def hand_numpy():
    X, y, (W1, b1, W2, b2, W3, b3) = data()
    dW1, db1, dW2, db2, dW3, db3 = tangents([W1, b1, W2, b2, W3, b3])

    def step():  # the forward pass, each value with its tangent beside it
        a1 = np.tanh(X @ W1 + b1)
        t1 = (X @ dW1 + db1) * (1 - a1 * a1)
        a2 = np.tanh(a1 @ W2 + b2)
        t2 = (t1 @ W2 + a1 @ dW2 + db2) * (1 - a2 * a2)
        d = a2 @ W3 + b3 - y
        t_out = t2 @ W3 + a2 @ dW3 + db3
        return np.mean(d * d), np.mean(2 * d * t_out)

    return step


def _loss(cr, X, y):
    def loss(W1, b1, W2, b2, W3, b3):
        h = cr.tanh(cr.linear(X, W1, b1))
        h = cr.tanh(cr.linear(h, W2, b2))
        return cr.mse(y, cr.linear(h, W3, b3))

    return loss


def chainrule_jvp():
    import chainrule as cr

    X, y, arrays = data()
    loss, vs = _loss(cr, cr.tensor(X), cr.tensor(y)), tuple(tangents(arrays))
    return lambda: cr.jvp(loss, tuple(arrays), vs)


def chainrule_vjp():
    import chainrule as cr

    X, y, arrays = data()
    loss = _loss(cr, cr.tensor(X), cr.tensor(y))
    return lambda: cr.vjp(loss, tuple(arrays))


def pytorch():
    from harness import import_torch

    torch = import_torch(0)
    X, y, arrays = data()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    primals, vs = tuple(map(torch.tensor, arrays)), tuple(map(torch.tensor, tangents(arrays)))

    def loss(W1, b1, W2, b2, W3, b3):
        h = torch.tanh(Xt @ W1 + b1)
        h = torch.tanh(h @ W2 + b2)
        return torch.mean((h @ W3 + b3 - yt) ** 2)

    return lambda: torch.func.jvp(loss, primals, vs)


def workload(quick: bool) -> Workload:
    return Workload(
        "W11",
        "forward mode: jvp of the W4 net, a tangent on every parameter",
        {
            "numpy (by hand)": hand_numpy,
            "chainrule eager": chainrule_jvp,
            "chainrule vjp": chainrule_vjp,
            "pytorch": pytorch,
        },
    )
