"""Regression and binary losses: MSE (the lesson's ``Loss``) and binary
cross-entropy on probabilities and on logits (cross-entropy and negative
log-likelihood are in ``classification.py``).

Each takes ``reduction`` = "mean" (default), "sum" or "none", like PyTorch.
The log-domain ones are computed with log-sum-exp or softplus, so they stay
finite at |x| = 1e4.

Precision: a loss declares the ``NARROW`` dtype policy, so the engine computes
it in the narrowest floating dtype of its inputs: float64 targets (NumPy's
default, what datasets hand you) never turn a float32 model's loss and
gradients into float64; each input's gradient comes back in its own dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..dtype import NARROW
from ..errors import ShapeError, warn_user
from ..op import Op
from .activations import sigmoid, softplus
from .elementwise import log, maximum, quiet_if_special
from .shape import broadcast_to
from .special import log1p

_REDUCTIONS = ("mean", "sum", "none")


def reduce_losses(losses: np.ndarray, reduction: str) -> Any:
    """The per-element ``losses`` reduced: "mean", "sum" or "none" (a mean over no
    element is NaN, silently, as in PyTorch)."""
    # np.add.reduce is what np.mean and np.sum run underneath, without their
    # Python-level wrappers: those cost more than the arithmetic on small losses.
    if reduction == "none" or losses.ndim == 0:
        return losses
    total = np.add.reduce(losses, axis=None)
    if reduction == "sum":
        return total
    if losses.size:
        return total / losses.size
    with np.errstate(invalid="ignore"):
        return total / losses.size


def _unreduce(g: Any, shape: tuple, reduction: str, spread: bool = True) -> Any:
    """The upstream gradient of a reduced loss, per element of the unreduced losses
    (``spread=False``: still one number for a reduced loss, for a product to broadcast)."""
    if reduction == "none":
        return g
    count = math.prod(shape)
    if reduction == "mean" and count > 1:
        g = g / count
    return broadcast_to(g, shape) if shape and spread else g


class _Loss(Op):
    reduction = "mean"
    dtypes = NARROW
    label = "loss"  # the function's name, for messages

    def check_options(self) -> None:
        self.check_choice("reduction", _REDUCTIONS)

    def fits(self, x: Any, t: Any) -> None:
        """A binary loss's target must broadcast to the input's shape: an (N,) target against an
        (N, 1) input would broadcast both ways, into N×N losses, every input scored against
        every target (PyTorch refuses any other shape than the input's)."""
        shape, t_shape = np.shape(x), np.shape(t)
        if t_shape != shape:
            try:
                fits = np.broadcast_shapes(shape, t_shape) == shape
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(
                    f"{self.label}: the target's shape {t_shape} does not broadcast to the input's "
                    f"{shape} (reshape one of them; broadcast both ways they would score every "
                    "input against every target)"
                )

    def _needs(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient."""
        return self.inputs[i].requires_grad


class MSE(_Loss):
    """mean((y - ŷ)²); ∂/∂y = 2(y - ŷ)/n, ∂/∂ŷ = -2(y - ŷ)/n. The lesson calls it ``Loss``."""

    formula = "mean(({0} - {1})²)"
    derivatives = ("2({0}-{1})/n", "-2({0}-{1})/n")

    def forward(self, y: Any, yhat: Any) -> Any:
        if np.shape(y) != np.shape(yhat):  # (on the inputs' shapes alone: a compiled graph decides it once)
            _warn_if_outer(np.shape(y), np.shape(yhat))
        d = y - yhat
        return reduce_losses(d * d, self.reduction)

    def vjp(self, g: Any, out: Any, y: Any, yhat: Any) -> tuple[Any, ...]:
        d = y - yhat
        gy = 2 * _unreduce(g, d.shape, self.reduction, spread=False) * d  # 2·(g/n), then one product
        return (gy, -gy)


Loss = MSE


def _warn_if_outer(y_shape: tuple, yhat_shape: tuple) -> None:
    """Warn when y and ŷ broadcast both ways, into more losses than either has (an (N, 1)
    prediction against an (N,) target: every prediction compared with every target)."""
    shape = np.broadcast_shapes(y_shape, yhat_shape)
    if shape != y_shape and shape != yhat_shape:
        warn_user(
            f"mse: y of shape {y_shape} and ŷ of shape {yhat_shape} broadcast to {shape}, so every "
            "prediction is compared with every target; reshape one of them if that is not what you "
            "meant (PyTorch warns the same)"
        )


class BinaryCrossEntropy(_Loss):
    """-w·[t·ln p + (1-t)·ln(1-p)] on probabilities p, logs clamped at -100 (PyTorch's rule),
    ``weight`` w per element (broadcast); ∂/∂p = w(p - t) / max(p(1-p), 1e-12),
    ∂/∂t = w·(ln(1-p) - ln p) (69.08 at p = 1e-30, ±inf at p = 1 and 0, as PyTorch)."""

    has_weight = False
    label = "binary_cross_entropy"
    formula = "bce({0}, {1})"
    derivatives = ("(p-t)/(p(1-p))", "ln(1-p) - ln p")

    def forward(self, p: Any, t: Any, *weight: Any) -> Any:
        self.fits(p, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p, log_q = np.maximum(np.log(p), -100), np.maximum(np.log1p(-p), -100)
        losses = -(t * log_p + (1 - t) * log_q)
        return reduce_losses(losses * weight[0] if weight else losses, self.reduction)

    def vjp(self, g: Any, out: Any, p: Any, t: Any, *weight: Any) -> tuple[Any, ...]:
        gl = _unreduce(g, np.broadcast_shapes(*(np.shape(v) for v in (p, t) + weight)), self.reduction)
        if weight:
            gl = gl * weight[0]
        gp = gl * (p - t) / maximum(p * (1 - p), 1e-12)
        gt = None
        if self._needs(1):
            gt = gl * (log1p(-p) - log(p))
        return (gp, gt) + (None,) * len(weight)


class BCEWithLogits(_Loss):
    """BCE on logits x, PyTorch's form: w·[(1-t)·x - l·log σ(x)], l = 1 + (pos_weight - 1)·t
    (``pos_weight`` per class, broadcast along the last axis; ``weight`` per element).
    log σ(x) = -softplus(-x) never overflows; at x = ±inf the values are PyTorch's
    (inf at x = +inf, t = 0; NaN at x = -inf, t = 1).
    ∂/∂x = w·(l·σ(x) - pos_weight·t), ∂/∂t = w·(-x - (pos_weight - 1)·log σ(x))."""

    has_weight = False
    has_pos_weight = False
    label = "binary_cross_entropy_with_logits"
    formula = "bce_logits({0}, {1})"
    derivatives = ("σ(x) - t", "-x")

    def _options(self, extra: tuple) -> tuple:
        given = list(extra)
        weight = given.pop(0) if self.has_weight else None
        pos_weight = given.pop(0) if self.has_pos_weight else None
        return weight, pos_weight

    def forward(self, x: Any, t: Any, *extra: Any) -> Any:
        self.fits(x, t)
        weight, pos_weight = self._options(extra)
        with quiet_if_special(x):
            log_sig = -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))
            scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
            losses = (1 - t) * x - scale * log_sig
        return reduce_losses(losses if weight is None else losses * weight, self.reduction)

    def vjp(self, g: Any, out: Any, x: Any, t: Any, *extra: Any) -> tuple[Any, ...]:
        weight, pos_weight = self._options(extra)
        gl = _unreduce(g, np.broadcast_shapes(*(np.shape(v) for v in (x, t) + extra)), self.reduction)
        if weight is not None:
            gl = gl * weight
        if pos_weight is None:
            gx = gl * (sigmoid(x) - t)
        else:
            gx = gl * ((1 + (pos_weight - 1) * t) * sigmoid(x) - pos_weight * t)
        gt = None
        if self._needs(1):
            gt = -gl * x if pos_weight is None else gl * ((pos_weight - 1) * softplus(-x) - x)
        return (gx, gt) + (None,) * len(extra)


def mse(y: Any, yhat: Any, reduction: str = "mean") -> Any:
    """Mean squared error mean((y - ŷ)²) (symmetric in its two arguments)."""
    return MSE.apply(y, yhat, reduction=reduction)


def _extra(fn: str, **given: Any) -> tuple:
    """The optional tensors that were given, as further inputs, and their has_* flags."""
    for name, value in given.items():
        if isinstance(value, str):
            raise TypeError(f"{fn}: {name}={value!r} is not an array (reduction is a keyword: reduction={value!r})")
    present = {name: value for name, value in given.items() if value is not None}
    return tuple(present.values()), {f"has_{name}": name in present for name in given}


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, *, reduction: str = "mean") -> Any:
    """BCE on probabilities in [0, 1] (``torch.nn.functional.binary_cross_entropy``): ``weight``
    rescales each element's loss (broadcast against the input)."""
    extra, flags = _extra("binary_cross_entropy", weight=weight)
    return BinaryCrossEntropy.apply(input, target, *extra, reduction=reduction, **flags)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """BCE on logits, stable for any x (``F.binary_cross_entropy_with_logits``): ``weight`` per
    element, ``pos_weight`` the weight of positive examples per class (broadcast along the
    last axis)."""
    extra, flags = _extra("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    return BCEWithLogits.apply(input, target, *extra, reduction=reduction, **flags)
