"""Optimizers and learning-rate schedules, step for step like ``torch.optim``.

    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

An optimizer works on arrays only: it reads each parameter's ``.grad`` and
updates its ``.value`` in place (no graph is built). Every gradient is
checked first; a NaN or infinite one raises ``NonFiniteGradientError`` (or,
with ``nonfinite="skip"``, skips the step) before any parameter or any
optimizer state changes. All optimizers share ``Optimizer``; each subclass
writes only its per-parameter update rule.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from .errors import NonFiniteGradientError, ShapeError, StateDictError
from .node import Variable

__all__ = ["Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "Optimizer", "RMSprop",
           "ReduceLROnPlateau", "SGD", "StepLR", "clip_grad_norm_"]


def _grad_of(p: Variable) -> np.ndarray | None:
    g = p.grad
    if g is None:
        return None
    g = np.asarray(getattr(g, "value", g))
    if g.shape != p.value.shape:
        raise ShapeError(f"parameter '{p.name}' has shape {p.value.shape} but its gradient has shape {g.shape}")
    return g.astype(p.value.dtype, copy=False)


def _nonfinite_names(params: Iterable[Variable]) -> list[str]:
    return [f"'{p.name}' {np.shape(p.value)}" for p in params
            if p.grad is not None and not np.all(np.isfinite(getattr(p.grad, "value", p.grad)))]


class Optimizer:
    """Base class: parameter groups, per-parameter state, the finite-gradient check.

    ``params`` is an iterable of Variables, or of dicts ``{"params": [...], "lr": ...}``
    (parameter groups with their own hyperparameters, as in PyTorch).
    """

    defaults: dict[str, Any] = {}
    counters: tuple[str, ...] = ("step",)  # per-parameter state that is a number, not an array

    def __init__(self, params: Iterable[Any], nonfinite: str = "raise", **hyper: Any) -> None:
        if nonfinite not in ("raise", "skip"):
            raise ValueError(f"nonfinite must be 'raise' or 'skip', got {nonfinite!r}")
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        self.defaults = {**type(self).defaults, **hyper}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            group = {**self.defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not isinstance(p, Variable):
                    raise TypeError(f"{type(self).__name__} can only optimize Variables, got {type(p).__name__}")
            self._check(group)
            self.param_groups.append(group)
        self.state: dict[Variable, dict[str, Any]] = {}

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses add their own rules)."""
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be >= 0, got {group['lr']}")

    @property
    def params(self) -> list[Variable]:
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self) -> float:
        """The first group's learning rate."""
        return self.param_groups[0]["lr"]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set ``.grad`` to None)."""
        for p in self.params:
            p.grad = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. Returns ``closure()`` if given.

        A NaN or infinite gradient changes nothing: it raises
        NonFiniteGradientError naming the parameters, or with ``nonfinite="skip"``
        counts the step in ``skipped_steps`` and returns.
        """
        loss = closure() if closure is not None else None
        work = [(group, p, g) for group in self.param_groups for p in group["params"]
                if (g := _grad_of(p)) is not None]
        bad = _nonfinite_names(p for _, p, _ in work)
        if bad:
            if self.nonfinite == "skip":
                self.skipped_steps += 1
                return loss
            raise NonFiniteGradientError(f"{type(self).__name__}.step: non-finite gradient in parameter(s) "
                                         f"{', '.join(bad)}; no parameter was changed")
        for group, p, g in work:
            self.update(p, g, self.state.setdefault(p, {}), group)
        return loss

    def update(self, p: Variable, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply one step to ``p.value`` given its gradient ``g`` (in p's dtype)."""
        raise NotImplementedError

    @staticmethod
    def _buffer(state: dict[str, Any], key: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if key not in state:
            state[key] = np.full_like(like, fill)
        return state[key]

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as in PyTorch
        (parameters are numbered in order across groups; arrays are copies)."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state; checks every group and shape before changing anything."""
        groups = state_dict.get("param_groups", [])
        params = self.params
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(g.get("params", [])) for g in groups] != sizes:
            raise StateDictError(f"{type(self).__name__}.load_state_dict: the saved groups hold "
                                 f"{[len(g.get('params', [])) for g in groups]} parameters, this optimizer {sizes}")
        new_state: dict[Variable, dict[str, Any]] = {}
        for key, entries in state_dict.get("state", {}).items():
            i = int(key)
            if not 0 <= i < len(params):
                raise StateDictError(f"{type(self).__name__}.load_state_dict: state for parameter {i}, "
                                     f"but there are only {len(params)}")
            p, restored = params[i], {}
            for name, value in entries.items():
                value = np.asarray(value)
                if name in self.counters and value.ndim == 0:
                    restored[name] = value.item()
                elif value.shape != p.value.shape:
                    raise StateDictError(f"{type(self).__name__}.load_state_dict: state '{name}' of parameter {i} "
                                         f"('{p.name}') has shape {value.shape}, the parameter {p.value.shape}")
                else:
                    restored[name] = value.astype(p.value.dtype)
            new_state[p] = restored
        for group, saved in zip(self.param_groups, groups):
            group.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _step(p: Variable, delta: np.ndarray) -> None:
    """p.value -= delta, in place when the array allows it."""
    if p.value.flags.writeable:
        p.value -= delta
    else:
        p.value = p.value - delta


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (``torch.optim.SGD``)."""

    defaults = dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0")

    def update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.value
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.array(g)  # an array even for 0-d (g + x may be a scalar)
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            buf = state["momentum_buffer"]
            g = g + momentum * buf if group["nesterov"] else buf
        _step(p, group["lr"] * g)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``): bias-corrected first and second moment estimates,
    optional L2 ``weight_decay`` and ``amsgrad``."""

    defaults = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    decoupled = False  # AdamW: decay the weights directly instead of adding to the gradient

    def update(self, p, g, state, group):
        (beta1, beta2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if wd and self.decoupled:
            _step(p, (lr * wd) * p.value)
        elif wd:
            g = g + wd * p.value
        state["step"] = t = state.get("step", 0) + 1
        m, v = self._buffer(state, "exp_avg", p.value), self._buffer(state, "exp_avg_sq", p.value)
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            v = np.maximum(self._buffer(state, "max_exp_avg_sq", p.value), v, out=state["max_exp_avg_sq"])
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + group["eps"]
        _step(p, (lr / (1 - beta1 ** t)) * m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``; weight_decay defaults to 0.01)."""

    defaults = dict(Adam.defaults, weight_decay=1e-2)
    decoupled = True


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``): divide by a running RMS of the gradient;
    optional momentum, ``centered`` variance and L2 weight decay."""

    defaults = dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)

    def update(self, p, g, state, group):
        alpha = group["alpha"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.value
        sq = self._buffer(state, "square_avg", p.value)
        sq *= alpha
        sq += (1 - alpha) * g * g
        if group["centered"]:
            avg_g = self._buffer(state, "grad_avg", p.value)
            avg_g += (1 - alpha) * (g - avg_g)
            avg = np.sqrt(sq - avg_g * avg_g) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = self._buffer(state, "momentum_buffer", p.value)
            buf *= group["momentum"]
            buf += g / avg
            _step(p, group["lr"] * buf)
        else:
            _step(p, group["lr"] * g / avg)


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``): per-element steps shrink with the summed squared gradients."""

    defaults = dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10)

    def update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.value
        state["step"] = t = state.get("step", 0) + 1
        total = self._buffer(state, "sum", p.value, group["initial_accumulator_value"])
        total += g * g
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        _step(p, clr * g / (np.sqrt(total) + group["eps"]))


def clip_grad_norm_(parameters: Iterable[Variable], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_``); returns the norm before clipping."""
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    grads = [np.asarray(getattr(p.grad, "value", p.grad)) for p in params]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = [np.sum(np.abs(g.astype(np.float64)) ** norm_type) ** (1 / norm_type) for g in grads]
        total = float(np.sum(np.asarray(norms) ** norm_type) ** (1 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise NonFiniteGradientError(f"clip_grad_norm_: the total gradient norm is {total}; "
                                     f"non-finite in {', '.join(_nonfinite_names(params))}")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p, g in zip(params, grads):
        p.grad = g * g.dtype.type(coef)
    return total


# ---------------------------------------------------------------- learning-rate schedules
class LRScheduler:
    """Base class: sets each group's ``lr`` from its initial value and the epoch count.
    Call ``step()`` once per epoch, after the optimizer's steps."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


class StepLR(LRScheduler):
    """lr = initial · gamma^(epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial - eta_min)·(1 + cos(π·epoch/T_max))/2."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # T_max: PyTorch's name
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` once a monitored metric has not improved for
    ``patience`` epochs (``torch.optim.lr_scheduler.ReduceLROnPlateau``): ``step(val_loss)``."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8) -> None:
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs") or not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: mode must be min/max, threshold_mode rel/abs and 0 < factor < 1; "
                             f"got {mode!r}, {threshold_mode!r}, {factor}")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lr, self.eps = (
            threshold, threshold_mode, cooldown, min_lr, eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

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

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    state_dict = LRScheduler.state_dict
    load_state_dict = LRScheduler.load_state_dict
