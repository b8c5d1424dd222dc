"""Loss functions: MSE (the lesson's ``Loss``), binary cross-entropy (on
probabilities and on logits), cross-entropy and negative log-likelihood.

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
from ..errors import option_error
from ..node import value_of
from ..op import Op
from .activations import log_softmax, log_softmax_array, sigmoid, softmax, softmax_array
from .elementwise import log, where
from .reduce import sum as reduce_sum
from .shape import broadcast_to, unsqueeze

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses: np.ndarray, reduction: str) -> Any:
    # np.add.reduce is what np.mean and np.sum run underneath, without their
    # Python-level wrappers: those cost more than the arithmetic on small losses.
    if reduction == "none" or losses.ndim == 0:
        return losses
    total = np.add.reduce(losses, axis=None)
    return total / losses.size if reduction == "mean" else total


def _unreduce(g: Any, shape: tuple, reduction: str) -> Any:
    """The upstream gradient of a reduced loss, per element of the unreduced losses."""
    if reduction == "none":
        return g
    count = math.prod(shape)
    if reduction == "mean" and count > 1:
        g = g / count
    return broadcast_to(g, shape) if shape else g


class _Loss(Op):
    reduction = "mean"
    dtypes = NARROW

    def check_options(self) -> None:
        self.check_choice("reduction", _REDUCTIONS)

    def _needs(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient."""
        return self.inputs[i].requires_grad


class MSE(_Loss):
    """mean((y - ŷ)²); ∂/∂y = 2(y - ŷ)/n, ∂/∂ŷ = -2(y - ŷ)/n. The lesson calls it ``Loss``."""

    formula = "mean(({0} - {1})²)"
    derivatives = ("2({0}-{1})/n", "-2({0}-{1})/n")

    def forward(self, y, yhat):
        d = y - yhat
        return _reduce(d * d, self.reduction)

    def vjp(self, g, out, y, yhat):
        d = y - yhat
        gy = 2 * _unreduce(g, d.shape, self.reduction) * d
        return (gy, -gy)


Loss = MSE


class BinaryCrossEntropy(_Loss):
    """-[t·ln p + (1-t)·ln(1-p)] on probabilities p (logs clamped at -100, as PyTorch does);
    ∂/∂p = (p - t) / (p(1-p)), ∂/∂t = ln(1-p) - ln p."""

    formula = "bce({0}, {1})"
    derivatives = ("(p-t)/(p(1-p))", "ln(1-p) - ln p")

    def forward(self, p, t):
        with np.errstate(divide="ignore"):
            log_p, log_q = np.maximum(np.log(p), -100), np.maximum(np.log1p(-p), -100)
        return _reduce(-(t * log_p + (1 - t) * log_q), self.reduction)

    def vjp(self, g, out, p, t):
        gl = _unreduce(g, np.broadcast_shapes(np.shape(p), np.shape(t)), self.reduction)
        eps = 1e-12  # keeps p(1-p) away from zero at saturated probabilities
        gp = gl * (p - t) / where(p * (1 - p) > eps, p * (1 - p), eps)
        gt = None
        if self._needs(1):
            gt = gl * (log(where(1 - p > eps, 1 - p, eps)) - log(where(p > eps, p, eps)))
        return (gp, gt)


class BCEWithLogits(_Loss):
    """BCE on logits x: softplus(x) - t·x = max(x, 0) - t·x + ln(1 + e^-|x|);
    ∂/∂x = σ(x) - t, ∂/∂t = -x."""

    formula = "bce_logits({0}, {1})"
    derivatives = ("σ(x) - t", "-x")

    def forward(self, x, t):
        return _reduce(np.maximum(x, 0) - t * x + np.log1p(np.exp(-np.abs(x))), self.reduction)

    def vjp(self, g, out, x, t):
        gl = _unreduce(g, np.broadcast_shapes(np.shape(x), np.shape(t)), self.reduction)
        return (gl * (sigmoid(x) - t), -gl * x if self._needs(1) else None)


def _class_axis(x: Any) -> int:
    return 1 if np.ndim(x) >= 2 else 0


def _one_hot(labels: np.ndarray, like: Any, axis: int) -> np.ndarray:
    """One-hot of integer ``labels`` along the class ``axis`` of ``like``."""
    classes = np.arange(np.shape(like)[axis]).reshape((-1,) + (1,) * (np.ndim(like) - axis - 1))
    return (np.expand_dims(labels, axis) == classes).astype(like.dtype)  # ndarrays and nodes have .dtype


class CrossEntropy(_Loss):
    """Softmax cross-entropy on logits, fused: -log softmax(x)[target].

    ``target`` holds integer class labels (shape without the class axis) or
    class probabilities (same shape as the logits). The class axis is 1 (or 0
    for a single 1-D example), as in ``torch.nn.functional.cross_entropy``.
    ∂/∂x = softmax(x)·Σt - t (t one-hot for labels); ∂/∂t = -log softmax(x).
    """

    dtype_keep = (1,)  # class labels stay integers
    formula = "cross_entropy({0}, {1})"
    derivatives = ("softmax - onehot", "-log_softmax")

    def check_options(self) -> None:
        super().check_options()
        x, target = (n.value for n in self.inputs[:2]) if len(self.inputs) == 2 else (None, None)
        if x is not None and target is not None and np.asarray(target).dtype.kind in "iub":
            self._check_labels(target, np.shape(x)[_class_axis(x)])

    def forward(self, x, target):
        axis = _class_axis(x)
        logp = log_softmax_array(x, axis)
        if target.dtype.kind in "iub":
            losses = -_pick(logp, self._check_labels(target, x.shape[axis]), axis)
        else:
            losses = -np.add.reduce(target * logp, axis=axis)
        return _reduce(losses, self.reduction)

    def vjp(self, g, out, x, target):
        axis = _class_axis(x)
        labels = np.asarray(value_of(target))
        gl = _per_loss(g, np.shape(x), axis, self.reduction)
        if labels.dtype.kind in "iub" and isinstance(x, np.ndarray):
            # ordinary backward: the same math in place on a fresh array (the loss of every
            # classifier's training step runs this)
            probs = softmax_array(x, axis)
            _subtract_one_at(probs, labels, axis)
            probs *= gl
            return (probs, None)
        probs = softmax(x, axis=axis)
        if labels.dtype.kind in "iub":
            return (gl * (probs - _one_hot(labels, x, axis)), None)
        gx = gl * (probs * reduce_sum(target, axis=axis, keepdims=True) - target)
        gt = -gl * log_softmax(x, axis=axis) if self._needs(1) else None
        return (gx, gt)

    def _check_labels(self, target: Any, classes: int) -> np.ndarray:
        """Integer class labels in [0, classes), or an OptionError naming this op."""
        labels = np.asarray(target)
        if labels.size and (np.minimum.reduce(labels, axis=None) < 0
                            or np.maximum.reduce(labels, axis=None) >= classes):
            raise option_error(f"{type(self).__name__} '{self.name}'", "target", f"{labels.min()}..{labels.max()}",
                               f"holds class labels outside [0, {classes})")
        return labels


def _label_index(labels: np.ndarray, axis: int) -> Any:
    """An index that selects each example's labelled class along ``axis``."""
    if labels.ndim == 1 and axis == 1:  # the common (N, C) case: plain fancy indexing is fastest
        return np.arange(labels.shape[0]), labels
    return None


def _pick(logp: np.ndarray, labels: np.ndarray, axis: int) -> np.ndarray:
    """logp at each example's label (the class axis removed)."""
    index = _label_index(labels, axis)
    if index is not None:
        return logp[index]
    return np.squeeze(np.take_along_axis(logp, np.expand_dims(labels, axis), axis), axis)


def _subtract_one_at(probs: np.ndarray, labels: np.ndarray, axis: int) -> None:
    """probs -= one_hot(labels), in place."""
    index = _label_index(labels, axis)
    if index is not None:
        probs[index] -= 1
    else:
        at = np.expand_dims(labels, axis)
        np.put_along_axis(probs, at, np.take_along_axis(probs, at, axis) - 1, axis)


def _per_loss(g: Any, shape: tuple, axis: int, reduction: str) -> Any:
    """The upstream gradient for each example's loss, broadcastable against logits of
    ``shape`` (a scalar for mean and sum: no need to materialise it per example)."""
    if reduction == "none":
        return unsqueeze(g, axis)
    count = math.prod(shape) // shape[axis]
    return g / count if reduction == "mean" and count > 1 else g


class NLLLoss(_Loss):
    """-logp[target] for log-probabilities and integer labels; ∂/∂logp = -onehot."""

    dtype_keep = (1,)  # class labels stay integers
    formula = "nll({0}, {1})"
    derivatives = ("-onehot", "")

    def forward(self, logp, target):
        axis = _class_axis(logp)
        labels = np.asarray(target)
        picked = np.take_along_axis(logp, np.expand_dims(labels, axis), axis)
        return _reduce(-np.squeeze(picked, axis), self.reduction)

    def vjp(self, g, out, logp, target):
        axis = _class_axis(logp)
        gl = _per_loss(g, np.shape(logp), axis, self.reduction)
        return (-gl * _one_hot(np.asarray(value_of(target)), logp, axis), None)


def mse(y: Any, yhat: Any, reduction: str = "mean") -> Any:
    """Mean squared error mean((y - ŷ)²) (symmetric in its two arguments)."""
    return MSE.apply(y, yhat, reduction=reduction)


def binary_cross_entropy(p: Any, target: Any, reduction: str = "mean") -> Any:
    """BCE on probabilities ``p`` in [0, 1] (``torch.nn.functional.binary_cross_entropy``)."""
    return BinaryCrossEntropy.apply(p, target, reduction=reduction)


def binary_cross_entropy_with_logits(x: Any, target: Any, reduction: str = "mean") -> Any:
    """BCE on logits, stable for any x (``F.binary_cross_entropy_with_logits``)."""
    return BCEWithLogits.apply(x, target, reduction=reduction)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy of ``logits`` (N, C, ...) against integer labels (N, ...)
    or probabilities (N, C, ...) (``torch.nn.functional.cross_entropy``)."""
    return CrossEntropy.apply(logits, target, reduction=reduction)


def nll_loss(logp: Any, target: Any, reduction: str = "mean") -> Any:
    """Negative log-likelihood of log-probabilities (N, C) at integer labels (N,)."""
    return NLLLoss.apply(logp, target, reduction=reduction)
