"""W9, a CIFAR-sized CNN training step (issue 18): (64, 3, 32, 32) → Conv2d(3, 32, 3, p=1) → ReLU
→ MaxPool2d(2) → Conv2d(32, 64, 3, p=1) → ReLU → MaxPool2d(2) → Flatten → Linear(4096, 10),
cross-entropy, SGD step; chainrule and PyTorch side by side."""
from __future__ import annotations

import numpy as np

from harness import Workload

BATCH, LR = 64, 0.01


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, BATCH)


def layers(nn):
    """The model, built from ``nn`` (``cr.nn`` or ``torch.nn``: the same names)."""
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4096, 10))


def chainrule_eager():
    import chainrule as cr
    X, y = data()
    model = layers(cr.nn)
    opt = cr.optim.SGD(model.parameters(), lr=LR)
    Xc, yc = cr.tensor(X), cr.tensor(y)

    def step():
        opt.zero_grad()
        loss = cr.cross_entropy(model(Xc), yc)
        loss.backward()
        opt.step()
        return loss
    return step


def pytorch():
    from harness import import_torch
    torch = import_torch()
    X, y = data()
    model = layers(torch.nn)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def workload(quick: bool) -> Workload:
    return Workload("W9", "CNN SGD step, CIFAR-sized (64,3,32,32)", {
        "chainrule eager": chainrule_eager, "pytorch": pytorch})
