"""W7, a CNN training step on digits-sized images: (64, 1, 8, 8) → Conv2d(1, 16, 3, padding=1)
→ ReLU → MaxPool2d(2) → Flatten → Linear(256, 10), cross-entropy, SGD step."""

from __future__ import annotations

import numpy as np

from harness import Workload
from workloads.common import chainrule_sgd_step, pytorch_sgd_step

BATCH, LR = 64, 0.05


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, BATCH)


def layers(nn):
    """The model, built from ``nn`` (``cr.nn`` or ``torch.nn``: the same names)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10))


def chainrule_eager():
    return chainrule_sgd_step(layers, *data(), LR)


def pytorch():
    return pytorch_sgd_step(layers, *data(), LR)


def workload(quick: bool) -> Workload:
    return Workload(
        "W7", "CNN SGD step, digits-sized (64,1,8,8)", {"chainrule eager": chainrule_eager, "pytorch": pytorch}
    )
