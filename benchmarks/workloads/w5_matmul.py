"""W5, one big product: (1024×1024) @ (1024×1024) float32, forward + backward
(three matrix products: C = AB, ∂A = G Bᵀ, ∂B = Aᵀ G), reported in GFLOP/s."""

from __future__ import annotations

import numpy as np

from harness import Workload


def arrays(n: int):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, n)).astype(np.float32) for _ in range(3)]


def hand_numpy(n: int):
    A, B, G = arrays(n)
    return lambda: (A @ B, G @ B.T, A.T @ G)


def chainrule_eager(n: int):
    import chainrule as cr

    A, B, G = arrays(n)
    a, b = cr.Variable(A), cr.Variable(B)

    def step():
        a.grad = b.grad = None
        (a @ b).backward(G)
        return a.grad

    return step


def pytorch(n: int):
    from harness import import_torch

    torch = import_torch()
    A, B, G = (torch.tensor(x) for x in arrays(n))
    A.requires_grad_(True)
    B.requires_grad_(True)

    def step():
        A.grad = B.grad = None
        (A @ B).backward(G)
        return A.grad

    return step


def workload(quick: bool) -> Workload:
    n = 512 if quick else 1024
    return Workload(
        "W5",
        f"matmul {n}x{n} @ {n}x{n} f32 (fwd+bwd)",
        {
            name: (lambda fn=fn: fn(n))
            for name, fn in {
                "numpy (by hand)": hand_numpy,
                "chainrule eager": chainrule_eager,
                "pytorch": pytorch,
            }.items()
        },
        flops=3 * 2.0 * n**3,
    )
