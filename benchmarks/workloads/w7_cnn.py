"""W7, a CNN training step on digits-sized images: (64, 1, 8, 8) → Conv2d(1, 16, 3, padding=1)
→ ReLU → MaxPool2d(2) → Flatten → Linear(256, 10), cross-entropy, SGD step."""
from __future__ import annotations

import numpy as np

from harness import Workload

BATCH, LR = 64, 0.05


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, BATCH)


def chainrule_eager():
    import chainrule as cr
    nn = cr.nn
    X, y = data()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(256, 10))
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
    nn = torch.nn
    X, y = data()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def workload(quick: bool) -> Workload:
    return Workload("W7", "CNN SGD step, digits-sized (64,1,8,8)", {
        "chainrule eager": chainrule_eager, "pytorch": pytorch})
