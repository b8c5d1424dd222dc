"""``chainrule.optim``: optimizers and learning-rate schedules, step for step like ``torch.optim``.

    opt = cr.optim.Adam(model.named_parameters(), lr=1e-3)   # or model.parameters(), or param groups
    opt.zero_grad(); loss.backward(); opt.step()

An optimizer works on arrays only: it reads each parameter's ``.grad`` and
gives it a new ``.value`` (no graph is built). A step happens for every
parameter or for none: a NaN or infinite gradient raises
``NonFiniteGradientError`` naming the parameters (or, with
``nonfinite="skip"``, skips the step), and an exception part-way changes no
parameter and no optimizer state. Schedules live in ``cr.optim.lr_scheduler``
and are re-exported here.
"""

from . import lr_scheduler
from .algorithms import SGD, Adagrad, Adam, AdamW, RMSprop
from .clip import clip_grad_norm_
from .lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from .optimizer import Optimizer

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "LRScheduler",
    "LinearLR",
    "OneCycleLR",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "SGD",
    "SequentialLR",
    "StepLR",
    "clip_grad_norm_",
    "lr_scheduler",
]
