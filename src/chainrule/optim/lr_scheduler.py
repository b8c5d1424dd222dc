"""Learning-rate schedules, epoch for epoch like ``torch.optim.lr_scheduler``.

    sched = cr.optim.CosineAnnealingLR(opt, T_max=30)
    for epoch in range(30):
        train_one_epoch(); sched.step()

A schedule sets each parameter group's ``lr`` (OneCycleLR also its momentum)
from the group's initial rate and a step count, in closed form. As in PyTorch,
building a schedule sets the rates of step 0 at once, and ``step()`` comes
after the optimizer's steps. Warm-up: ``SequentialLR(opt, [LinearLR(opt, 0.1,
total_iters=5), CosineAnnealingLR(opt, 95)], milestones=[5])``.
``state_dict()``/``load_state_dict()`` save and restore where a schedule is.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ..errors import StateDictError, option_error
from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau
from .schedule import SchedulerState

__all__ = [
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "LRScheduler",
    "LinearLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class LRScheduler(SchedulerState):
    """Base class: a closed form ``lr_at(initial_lr, epoch)``, applied to every group.
    ``last_epoch``: the step to resume from (-1, the default, starts afresh)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a chainrule Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in group for group in optimizer.param_groups):
            raise StateDictError(
                f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                "every parameter group (load the optimizer's state dict first)"
            )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def values(self, epoch: int) -> list[dict[str, Any]]:
        """What to set in each group at step ``epoch``."""
        return [{"lr": self.lr_at(base, epoch)} for base in self.base_lrs]

    def step(self) -> None:
        """Advance one step (an epoch, or a batch for OneCycleLR) and set the new rates."""
        self._jump(self.last_epoch + 1)

    def _initial_step(self) -> None:
        self.step()

    def _undo(self) -> None:
        """Take back the initial step (SequentialLR starts only its first schedule)."""
        self.last_epoch -= 1

    def _jump(self, epoch: int) -> None:
        values = self.values(epoch)  # may raise: then nothing has changed
        self.last_epoch = epoch
        for group, update in zip(self.optimizer.param_groups, values):
            group.update(update)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """lr = initial · gamma^(epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if not _positive_int(step_size):
            raise option_error("StepLR", "step_size", step_size, "is not a positive int")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial - eta_min)·(1 + cos(π·epoch/T_max))/2."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if not _positive_int(T_max):
            raise option_error("CosineAnnealingLR", "T_max", T_max, "is not a positive int")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """lr = initial · (start_factor + (end_factor - start_factor)·min(epoch, total_iters)/total_iters):
    a linear warm-up (or decay) over ``total_iters`` steps, then constant."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not (_number(start_factor) and 0 < start_factor <= 1):
            raise option_error("LinearLR", "start_factor", start_factor, "is not a number in (0, 1]")
        if not (_number(end_factor) and 0 <= end_factor <= 1):
            raise option_error("LinearLR", "end_factor", end_factor, "is not a number in [0, 1]")
        if not _positive_int(total_iters):
            raise option_error("LinearLR", "total_iters", total_iters, "is not a positive int")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        progress = min(self.total_iters, epoch) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing that restarts every T_i steps, T_0 first, then T_i·T_mult:
    lr = eta_min + (initial - eta_min)·(1 + cos(π·T_cur/T_i))/2. ``step(epoch)`` also
    takes a fractional epoch (``step(epoch + i / batches)``), as in PyTorch."""

    def __init__(
        self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not _positive_int(T_0):
            raise option_error("CosineAnnealingWarmRestarts", "T_0", T_0, "is not a positive int")
        if not _positive_int(T_mult):
            raise option_error("CosineAnnealingWarmRestarts", "T_mult", T_mult, "is not an int >= 1")
        if not _number(eta_min):
            raise option_error("CosineAnnealingWarmRestarts", "eta_min", eta_min, "is not a number")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch  # steps since the last restart (fractional with step(epoch))
        super().__init__(optimizer, last_epoch)

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch, self.T_cur = self.last_epoch + 1, self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        elif epoch < 0:
            raise option_error("CosineAnnealingWarmRestarts.step", "epoch", epoch, "is not a number >= 0")
        elif epoch >= self.T_0 and self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        elif epoch >= self.T_0:
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self._jump(math.floor(epoch))

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at each of ``milestones`` (steps);
    each starts from its own step 0 there. The usual warm-up is
    ``SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=5), CosineAnnealingLR(opt, 95)], [5])``."""

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers or any(not isinstance(s, LRScheduler) or s.optimizer is not optimizer for s in schedulers):
            raise option_error(
                "SequentialLR", "schedulers", schedulers, "is not a non-empty list of step schedules of this optimizer"
            )
        if len(milestones) != len(schedulers) - 1 or milestones != sorted(milestones):
            raise option_error(
                "SequentialLR",
                "milestones",
                milestones,
                f"is not {len(schedulers) - 1} increasing steps (one fewer than the schedules)",
            )
        self.optimizer, self._schedulers, self._milestones = optimizer, schedulers, milestones
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:  # undo the steps the schedules took when they were built
            group["lr"] = group["initial_lr"]
        for s in schedulers:
            s._undo()
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo(self) -> None:
        for s in self._schedulers:
            s._undo()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        current = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            current._jump(0)
        else:
            current.step()
        self._last_lr = current.get_last_lr()

    _unsaved = ("optimizer", "_schedulers")

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        inner, own = state.get("_schedulers", []), {k: v for k, v in state.items() if k != "_schedulers"}
        if len(inner) != len(self._schedulers):
            raise StateDictError(
                f"SequentialLR.load_state_dict: {len(inner)} saved schedules, this one runs {len(self._schedulers)}"
            )
        backups = [s.state_dict() for s in self._schedulers]
        try:  # each load checks its keys before it changes anything; undo the inner ones on a failure
            for s, saved in zip(self._schedulers, inner):
                s.load_state_dict(saved)
            SchedulerState.load_state_dict(self, own)
        except StateDictError:
            for s, backup in zip(self._schedulers, backups):
                s.load_state_dict(backup)
            raise


def _per_group(owner: str, option: str, value: Any, optimizer: Optimizer) -> list[float]:
    """One value per parameter group: the same number for all, or a list with one each."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise option_error(
                owner,
                option,
                value,
                f"does not have one value for each of the {len(optimizer.param_groups)} parameter groups",
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (``torch.optim.lr_scheduler.OneCycleLR``), stepped after every batch:
    the rate climbs from max_lr/div_factor to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` (or epochs·steps_per_epoch), then anneals to initial/final_div_factor
    ("cos" or "linear"); the momentum (SGD's, or Adam's β₁) cycles the other way between
    ``max_momentum`` and ``base_momentum``. ``three_phase`` climbs back down before annealing."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        self.total_steps = _one_cycle_steps(total_steps, epochs, steps_per_epoch)
        _check_one_cycle(optimizer, pct_start, anneal_strategy, cycle_momentum)
        self._phases = _one_cycle_phases(pct_start, self.total_steps, three_phase)
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, cycle_momentum
        self.use_beta1 = "betas" in optimizer.defaults
        if last_epoch == -1:
            groups, owner = optimizer.param_groups, "OneCycleLR"
            for group, top in zip(groups, _per_group(owner, "max_lr", max_lr, optimizer)):
                group.update(initial_lr=top / div_factor, max_lr=top, min_lr=top / div_factor / final_div_factor)
            if cycle_momentum:
                for group, high, low in zip(
                    groups,
                    _per_group(owner, "max_momentum", max_momentum, optimizer),
                    _per_group(owner, "base_momentum", base_momentum, optimizer),
                ):
                    group.update(self._momentum(group, high), max_momentum=high, base_momentum=low)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _momentum(self, group: dict[str, Any], momentum: float) -> dict[str, Any]:
        return {"betas": (momentum, *group["betas"][1:])} if self.use_beta1 else {"momentum": momentum}

    def values(self, epoch: int) -> list[dict[str, Any]]:
        if epoch > self.total_steps:
            raise option_error("OneCycleLR.step", "step", epoch, f"is past total_steps={self.total_steps}")
        out = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if epoch <= end or i == len(self._phases) - 1:
                    pct = (epoch - start) / (end - start)
                    update = {"lr": self._anneal(group[lr0], group[lr1], pct)}
                    if self.cycle_momentum:
                        update.update(self._momentum(group, self._anneal(group[m0], group[m1], pct)))
                    out.append(update)
                    break
                start = end
        return out


def _one_cycle_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    """OneCycleLR's ``total_steps``: as given, or epochs·steps_per_epoch (each checked)."""
    owner = "OneCycleLR"
    if total_steps is None:
        if epochs is None or steps_per_epoch is None:
            raise option_error(owner, "total_steps", total_steps, "is needed (or both epochs and steps_per_epoch)")
        _positive_ints(owner, epochs=epochs, steps_per_epoch=steps_per_epoch)
        return epochs * steps_per_epoch
    _positive_ints(owner, total_steps=total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch)
    return total_steps


def _positive_ints(owner: str, **given: int | None) -> None:
    """Each option given (not None) is a positive int, or an OptionError names the first that is not."""
    for option, value in given.items():
        if value is not None and not _positive_int(value):
            raise option_error(owner, option, value, "is not a positive int")


def _check_one_cycle(optimizer: Optimizer, pct_start: Any, anneal_strategy: Any, cycle_momentum: Any) -> None:
    """OneCycleLR's remaining options checked (before anything is set)."""
    owner = "OneCycleLR"
    if not (isinstance(pct_start, float) and 0 <= pct_start <= 1):
        raise option_error(owner, "pct_start", pct_start, "is not a float in [0, 1]")
    if anneal_strategy not in ("cos", "linear"):
        raise option_error(owner, "anneal_strategy", anneal_strategy, "is not one of 'cos', 'linear'")
    if cycle_momentum and "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise option_error(
            owner,
            "cycle_momentum",
            cycle_momentum,
            f"needs an optimizer with momentum or betas, not {type(optimizer).__name__}",
        )


def _one_cycle_phases(pct_start: float, total: int, three_phase: bool) -> list[tuple]:
    """(last step, start lr key, end lr key, start momentum key, end momentum key) per phase."""
    ends = (
        [pct_start * total - 1, 2 * pct_start * total - 2, total - 1]
        if three_phase
        else [pct_start * total - 1, total - 1]
    )
    keys = (
        [
            ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
            ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
            ("initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]
        if three_phase
        else [
            ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
            ("max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]
    )
    return [(float(end), *names) for end, names in zip(ends, keys)]
