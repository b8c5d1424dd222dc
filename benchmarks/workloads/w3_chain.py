"""W3, a deep chain: x of shape (16,), h = tanh(h·1.0001 + 0.001) 10,000 times, sum, backward."""

from __future__ import annotations

import time

import numpy as np

from harness import Workload

WIDTH = 16
COMPILE_SECONDS: dict[int, float] = {}  # depth -> seconds to compile (and run once) the chain


def _x():
    return np.random.default_rng(0).standard_normal(WIDTH).astype(np.float32)


def hand_numpy(depth: int):
    x = _x()

    def step():
        hs = [x]
        h = x
        for _ in range(depth):
            h = np.tanh(h * np.float32(1.0001) + np.float32(0.001))
            hs.append(h)
        total = h.sum()
        g = np.ones_like(h)
        for h_out in reversed(hs[1:]):
            g = g * (1 - h_out * h_out) * np.float32(1.0001)
        return total, g

    return step


def chainrule_eager(depth: int):
    import chainrule as cr

    x = cr.Variable(_x(), name="x")

    def step():
        x.grad = None
        h = x
        for _ in range(depth):
            h = cr.tanh(h * 1.0001 + 0.001)
        h.sum().backward()
        return x.grad

    return step


def chainrule_graph(depth: int, compiled: bool = False):
    import chainrule as cr

    x = cr.Variable(_x(), name="x")
    h = x
    for _ in range(depth):
        h = cr.tanh(h * 1.0001 + 0.001)
    graph = cr.Graph(h.sum())
    run = graph
    if compiled:
        t0 = time.perf_counter()
        run = graph.compile()
        run.forward()  # the program is written on the first forward
        COMPILE_SECONDS[depth] = time.perf_counter() - t0

    def step():
        run.forward()
        run.backward()
        return x.grad

    return step


def pytorch(depth: int):
    from harness import import_torch

    torch = import_torch()
    x = torch.tensor(_x(), requires_grad=True)

    def step():
        x.grad = None
        h = x
        for _ in range(depth):
            h = torch.tanh(h * 1.0001 + 0.001)
        h.sum().backward()
        return x.grad

    return step


def hips_autograd(depth: int):
    import autograd
    import autograd.numpy as anp

    def f(x):
        h = x
        for _ in range(depth):
            h = anp.tanh(h * 1.0001 + 0.001)
        return anp.sum(h)

    grad, x = autograd.grad(f), _x()
    return lambda: grad(x)


def workload(quick: bool) -> Workload:
    depth = 1_000 if quick else 10_000  # --quick: compiling the full chain alone takes a second or two
    return Workload(
        "W3",
        f"deep chain, {depth} tanh steps on (16,)",
        {
            name: (lambda fn=fn: fn(depth))
            for name, fn in {
                "numpy (by hand)": hand_numpy,
                "chainrule eager": chainrule_eager,
                "chainrule Graph": chainrule_graph,
                "chainrule compiled": lambda d: chainrule_graph(d, compiled=True),
                "pytorch": pytorch,
                "hips autograd": hips_autograd,
            }.items()
        },
    )
