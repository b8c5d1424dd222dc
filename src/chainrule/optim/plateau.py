"""``ReduceLROnPlateau``: lower the rate when a watched metric stops improving
(``torch.optim.lr_scheduler.ReduceLROnPlateau``): ``sched.step(val_loss)``."""

from __future__ import annotations

import math

from ..errors import option_error
from .optimizer import Optimizer
from .schedule import SchedulerState


class ReduceLROnPlateau(SchedulerState):
    """Multiply the lr by ``factor`` once a monitored metric has not improved for
    ``patience`` epochs, then wait ``cooldown`` epochs; never below ``min_lr``."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        if mode not in ("min", "max"):
            raise option_error(owner, "mode", mode, "is not one of 'min', 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise option_error(owner, "threshold_mode", threshold_mode, "is not one of 'rel', 'abs'")
        if not 0 < factor < 1:
            raise option_error(owner, "factor", factor, "is not a number in (0, 1)")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lr, self.eps = (
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value: float) -> bool:
        """PyTorch's rule: beat ``best`` by a relative or absolute ``threshold``."""
        t = self.threshold
        if self.mode == "min":
            return value < (self.best * (1 - t) if self.threshold_mode == "rel" else self.best - t)
        return value > (self.best * (1 + t) if self.threshold_mode == "rel" else self.best + t)

    def step(self, metric: float) -> None:
        value = float(metric)
        self.last_epoch += 1
        if self.is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                new = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
