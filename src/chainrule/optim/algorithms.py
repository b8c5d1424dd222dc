"""The optimizers, each one update rule, step for step like ``torch.optim``.

Each takes PyTorch's arguments in PyTorch's order (``SGD(params, 0.1, momentum=0.9)``),
so a misspelt keyword is a TypeError naming it. ``maximize=True`` ascends;
``nonfinite="skip"`` skips a step with a NaN or infinite gradient instead of
raising. A rule maps (value, gradient, state) to (new value, new state) without
touching its inputs: ``Optimizer.step`` commits every parameter's result together
(SGD's new value is a ``Descend``, which the commit may write in place: see ``commit.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import option_error
from .commit import Descend
from .optimizer import Optimizer

Update = tuple[np.ndarray | Descend, dict[str, Any]]


def _buffer(state: dict[str, Any], key: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """The state array ``key``, or (before the first step) one filled with ``fill``, shaped like ``like``."""
    return state[key] if key in state else np.full_like(like, fill)


def _decayed(g: np.ndarray, value: np.ndarray, weight_decay: float) -> np.ndarray:
    """The gradient with L2 weight decay added (``g + λ·value``)."""
    return g + weight_decay * value if weight_decay else g


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
    decay (``torch.optim.SGD``): buf = μ·buf + (1-τ)·g (buf = g at the first step);
    the step is lr·buf, or lr·(g + μ·buf) with Nesterov."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
            nonfinite,
        )

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self.at_least_zero(group, "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise option_error(
                "SGD", "nesterov", group["nesterov"], "needs momentum > 0 and dampening = 0 (Nesterov momentum)"
            )

    def update(self, value: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> Update:
        g = _decayed(g, value, group["weight_decay"])
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            buf = np.array(g) if buf is None else momentum * buf + (1 - group["dampening"]) * g
            state = {**state, "momentum_buffer": buf}
            g = g + momentum * buf if group["nesterov"] else buf
        return Descend(g, group["lr"]), state


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``): bias-corrected moment estimates m and v,
    step lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε); L2 ``weight_decay`` (or decoupled, AdamW's),
    ``amsgrad`` (the running maximum of v)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                maximize=maximize,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
            nonfinite,
        )

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self.at_least_zero(group, "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise option_error(type(self).__name__, "betas", betas, "is not two numbers in [0, 1)")

    def update(self, value: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> Update:
        (beta1, beta2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if group["decoupled_weight_decay"]:
            value = value * (1 - lr * wd) if wd else value
        else:
            g = _decayed(g, value, wd)
        t = state.get("step", 0) + 1
        m, v = _buffer(state, "exp_avg", g), _buffer(state, "exp_avg_sq", g)
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        new = {"step": t, "exp_avg": m, "exp_avg_sq": v}
        if group["amsgrad"]:
            v = new["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", v), v)
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
        return value - (lr / (1 - beta1**t)) * m / denom, new


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``: the weights shrink by
    lr·weight_decay each step, apart from the gradient; weight_decay defaults to 0.01)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            nonfinite=nonfinite,
        )


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``): divide by a running RMS of the gradient;
    optional momentum, ``centered`` variance and L2 weight decay."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
            nonfinite,
        )

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self.at_least_zero(group, "alpha", "eps", "weight_decay", "momentum")

    def update(self, value: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> Update:
        alpha, eps = group["alpha"], group["eps"]
        g = _decayed(g, value, group["weight_decay"])
        sq = alpha * _buffer(state, "square_avg", g) + (1 - alpha) * g * g
        new = {"step": state.get("step", 0) + 1, "square_avg": sq}
        if group["centered"]:
            avg_g = _buffer(state, "grad_avg", g)
            avg_g = new["grad_avg"] = avg_g + (1 - alpha) * (g - avg_g)
            avg = np.sqrt(sq - avg_g * avg_g) + eps
        else:
            avg = np.sqrt(sq) + eps
        if group["momentum"] > 0:
            buf = new["momentum_buffer"] = group["momentum"] * _buffer(state, "momentum_buffer", g) + g / avg
            return value - group["lr"] * buf, new
        return value - group["lr"] * g / avg, new


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``): per-element steps lr/(1+(t-1)·lr_decay) · g / (√Σg² + ε)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                maximize=maximize,
            ),
            nonfinite,
        )

    def check(self, group: dict[str, Any]) -> None:
        super().check(group)
        self.at_least_zero(group, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def update(self, value: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> Update:
        g = _decayed(g, value, group["weight_decay"])
        t = state.get("step", 0) + 1
        total = _buffer(state, "sum", g, group["initial_accumulator_value"]) + g * g
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        return value - clr * g / (np.sqrt(total) + group["eps"]), {"step": t, "sum": total}
