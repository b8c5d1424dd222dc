"""What every learning-rate schedule shares: the rates it last set, and saving and
restoring where it is (``state_dict``/``load_state_dict``, as PyTorch's schedules)."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import StateDictError
from .optimizer import Optimizer


class SchedulerState:
    """What every schedule shares: the last rates set, and saving and restoring its state."""

    optimizer: Optimizer
    _last_lr: list[float]
    _unsaved: tuple[str, ...] = ("optimizer",)  # attributes state_dict leaves out

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group, as last set."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (copies), as PyTorch's schedules save."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._unsaved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; its keys must be this schedule's, else nothing changes."""
        own = set(vars(self)) - set(self._unsaved)
        missing, unexpected = sorted(own - set(state)), sorted(set(state) - own)
        if missing or unexpected:
            raise StateDictError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        vars(self).update(copy.deepcopy(state))
