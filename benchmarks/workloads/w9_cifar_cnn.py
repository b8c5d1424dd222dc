"""W9, a CIFAR-sized CNN training step (issue 18): (64, 3, 32, 32) → Conv2d(3, 32, 3, p=1) → ReLU
→ MaxPool2d(2) → Conv2d(32, 64, 3, p=1) → ReLU → MaxPool2d(2) → Flatten → Linear(4096, 10),
cross-entropy, SGD step; chainrule and PyTorch side by side."""

from __future__ import annotations

import numpy as np

from harness import Workload
from workloads.common import chainrule_sgd_step, pytorch_sgd_step
from workloads.w8_memory import cnn as layers  # the model W8.2 measures the memory of

BATCH, LR = 64, 0.01


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, BATCH)


def chainrule_eager():
    return chainrule_sgd_step(layers, *data(), LR)


def pytorch():
    return pytorch_sgd_step(layers, *data(), LR)


def workload(quick: bool) -> Workload:
    return Workload(
        "W9", "CNN SGD step, CIFAR-sized (64,3,32,32)", {"chainrule eager": chainrule_eager, "pytorch": pytorch}
    )
