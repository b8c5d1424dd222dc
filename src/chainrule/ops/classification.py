"""Classification losses: softmax cross-entropy on logits and negative log-likelihood,
with PyTorch's options (``weight``, ``ignore_index``, ``label_smoothing``, ``reduction``).

Both are one formula. For each example n and class c a coefficient A[n, c],
fixed by the target and the options, weighs the log-probabilities:

    loss_n = -Σ_c A[n, c] · logp[n, c]

- integer labels y: A = (1-ε)·w[y]·onehot(y) + (ε/C)·w, and 0 for an example
  whose label is ``ignore_index``; "mean" divides by Σ w[y_n] over the examples
  kept (PyTorch's rule, which makes a weighted mean);
- class probabilities t (cross-entropy only): A = w · ((1-ε)·t + ε/C); "mean"
  divides by the number of examples.

So ∂loss_n/∂x = softmax(x)·Σ_c A - A (the logits) and ∂loss_n/∂logp = -A
(nll), and ∂loss_n/∂t = -(1-ε)·w·log softmax(x) for probability targets.
The class axis is 1, or 0 for a single 1-D example, as in PyTorch. Weights
and labels are data: they take no gradient.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, TypeGuard

import numpy as np

from ..errors import ShapeError, option_error
from ..node import value_of
from ..op import Op
from .activations import log_softmax, log_softmax_array, softmax, softmax_array, softmax_parts
from .losses import _Loss, reduce_losses
from .reduce import sum as reduce_sum
from .shape import reshape, unsqueeze


def _class_axis(x: Any) -> int:
    return 1 if np.ndim(x) >= 2 else 0


def _along(values: Any, x: Any, axis: int) -> Any:
    """Per-class ``values`` (C,) shaped to broadcast along the class ``axis`` of ``x``."""
    return reshape(values, (-1,) + (1,) * (np.ndim(x) - axis - 1))


def _one_hot(labels: np.ndarray, like: Any, axis: int) -> np.ndarray:
    """One-hot of integer ``labels`` along the class ``axis`` of ``like``, in like's dtype."""
    classes = np.arange(np.shape(like)[axis]).reshape((-1,) + (1,) * (np.ndim(like) - axis - 1))
    return (np.expand_dims(labels, axis) == classes).astype(like.dtype)  # ndarrays and nodes have .dtype


def _mean_over(total: Any, denominator: Any) -> Any:
    """total / denominator; a mean over nothing (every label ignored, an empty batch) is NaN,
    silently, as in PyTorch."""
    if np.all(denominator != 0):
        return total / denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / denominator


class _Classification(_Loss):
    """Shared options and coefficients; ``has_weight``: the third input is the class weights."""

    dtype_keep = (1,)  # class labels stay integers
    ignore_index = -100
    has_weight = False
    probabilities = False  # whether a floating target of class probabilities is accepted

    def check_options(self) -> None:
        super().check_options()
        if not isinstance(self.ignore_index, (int, np.integer)) or isinstance(self.ignore_index, bool):
            raise self.option_error("ignore_index", "is not an int")
        # the labels are checked by the forward, on the values it is given: when the node is built
        # eagerly (the same OptionError, raised as it is built), or when a Graph's feed comes

    def check_target(self, x: Any, target: Any) -> np.ndarray | None:
        """Integer labels in [0, C) or ``ignore_index`` (an OptionError otherwise); None
        for probability targets."""
        return self.checked_labels(x, target)[0]

    def checked_labels(self, x: Any, target: Any) -> tuple[np.ndarray | None, bool]:
        """``check_target``'s labels, and whether every one is a class other than ``ignore_index``."""
        labels = np.asarray(target)
        shape = np.shape(x)
        if labels.dtype.kind not in "iub":
            if self.probabilities and labels.shape != shape:
                raise ShapeError(
                    f"{self.label}: a floating target holds class probabilities, so it has the input's "
                    f"shape {shape}; got {labels.shape} (class labels are integers)"
                )
            return None, False
        axis = _class_axis(x)
        if labels.shape != shape[:axis] + shape[axis + 1 :]:
            raise ShapeError(
                f"{self.label}: integer class labels have the input's shape without its class axis, "
                f"{shape[:axis] + shape[axis + 1 :]}; got {labels.shape}"
            )
        classes = shape[axis] if np.ndim(x) else 0
        if labels.size and 0 <= np.minimum.reduce(labels, axis=None) <= np.maximum.reduce(labels, axis=None) < classes:
            # (two reductions: cheaper than a mask on a batch); ignore_index may be a class too
            return labels, not 0 <= self.ignore_index < classes
        bad = (labels < 0) | (labels >= classes)
        if bad.any() and np.any(labels[bad] != self.ignore_index):
            raise option_error(
                f"{type(self).__name__} '{self.name}'",
                "target",
                f"{labels.min()}..{labels.max()}",
                f"holds class labels outside [0, {classes}) (and not ignore_index={self.ignore_index})",
            )
        return labels, False

    def _weight(self, extra: tuple) -> Any:
        return extra[0] if self.has_weight else None

    def label_coefficients(self, x: Any, labels: np.ndarray, weight: Any) -> tuple:
        """A for the nll part (w[y]·onehot(y), ignored examples 0), the kept-examples mask
        along the class axis, and Σ w[y] over the kept examples (the mean's denominator)."""
        axis = _class_axis(x)
        kept = labels != self.ignore_index
        coef = _one_hot(np.where(kept, labels, 0), x, axis) * np.expand_dims(kept, axis)
        if weight is not None:
            coef = coef * np.asarray(_along(value_of(weight), x, axis))
        return coef, np.expand_dims(kept, axis), np.add.reduce(coef, axis=None)

    def reduce(self, losses: Any, denominator: Any) -> Any:
        if self.reduction == "mean":
            return _mean_over(np.add.reduce(losses, axis=None), denominator)
        return reduce_losses(losses, self.reduction)

    def per_loss(self, g: Any, shape: tuple, axis: int, denominator: Any) -> Any:
        """The upstream gradient of each example's loss, broadcastable against ``shape``
        (a scalar for "mean" and "sum")."""
        if self.reduction == "none":
            return unsqueeze(g, axis)
        if self.reduction == "sum":
            return g
        kept = denominator != 0 if isinstance(denominator, int) else np.all(denominator != 0)  # (np.all costs µs)
        return g / denominator if kept else g * 0.0  # nothing kept: gradient 0, as PyTorch


class CrossEntropy(_Classification):
    """Softmax cross-entropy on logits, fused: -Σ_c A·log softmax(x) (see the module).

    ``target`` holds integer class labels (the logits' shape without the class
    axis) or class probabilities (the logits' shape). Options as
    ``torch.nn.functional.cross_entropy``: ``weight`` (C,) per class,
    ``ignore_index`` (labels only), ``label_smoothing`` ε in [0, 1].
    ∂/∂x = softmax(x)·Σ_c A - A; ∂/∂t = -(1-ε)·w·log softmax(x).
    """

    label = "cross_entropy"
    probabilities = True
    label_smoothing = 0.0
    formula = "cross_entropy({0}, {1})"
    derivatives = ("softmax - onehot", "-log_softmax")
    saved_for_backward = ("_softmax",)
    _softmax = None  # (x, target, exp(x - max), its sum) from a plain forward, for the vjp

    def check_options(self) -> None:
        eps = self.label_smoothing
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not 0.0 <= eps <= 1.0:
            raise self.option_error("label_smoothing", "is not a number in [0, 1]")
        super().check_options()

    def checked_labels(self, x: Any, target: Any) -> tuple[np.ndarray | None, bool]:
        labels, classes_only = super().checked_labels(x, target)
        if labels is None and self.ignore_index != -100:
            raise self.option_error("ignore_index", "applies to integer class labels, not to class probabilities")
        return labels, classes_only

    def _plain(self, labels: np.ndarray | None, weight: Any, classes_only: bool = False) -> TypeGuard[np.ndarray]:
        """Labels with no option in play: the fast path every classifier's training step takes.
        ``classes_only``: every label is known to be a class, so none is ``ignore_index``."""
        return (
            labels is not None
            and weight is None
            and not self.label_smoothing
            and (classes_only or not np.logical_or.reduce(labels == self.ignore_index, axis=None))
        )  # (ndarray.any's wrapper costs more than logical_or.reduce)

    def coefficients(self, x: Any, target: Any, weight: Any) -> tuple:
        """A (array, or node for probability targets built from nodes) and the mean's denominator."""
        axis, eps = _class_axis(x), self.label_smoothing
        classes = np.shape(x)[axis]
        if eps and not classes:
            raise ShapeError(
                f"{self.label}: label_smoothing={eps} spreads over the classes, and the input of shape "
                f"{np.shape(x)} has none"
            )
        labels = np.asarray(value_of(target))
        w = None if weight is None else _along(value_of(weight), x, axis)
        if labels.dtype.kind in "iub":
            coef, kept, denominator = self.label_coefficients(x, labels, weight)
            if eps:
                smooth = np.asarray(kept, dtype=coef.dtype)
                if w is not None:
                    smooth = smooth * np.asarray(w)
                coef = (1 - eps) * coef + (eps / classes) * smooth
            return coef, denominator
        soft = target if not eps else target * (1 - eps) + eps / classes
        return (soft if w is None else soft * w), math.prod(np.shape(x)) // max(classes, 1)

    def forward(self, x: Any, target: Any, *extra: Any) -> Any:
        axis = _class_axis(x)
        weight = self._weight(extra)
        labels, classes_only = self.checked_labels(x, target)
        if self._plain(labels, weight, classes_only):
            if not (isinstance(x, np.ndarray) and x.size):
                return reduce_losses(-_pick(log_softmax_array(x, axis), labels, axis), self.reduction)
            shifted, e, total = softmax_parts(x, axis)
            logs = np.log(total)  # log Σ eˣ⁻ᵐᵃˣ: each example's log p[label] is shifted[label] - logs
            losses = -(_pick(shifted, labels, axis) - np.squeeze(logs, axis))
            if getattr(self, "requires_grad", False) and self.inputs[0].requires_grad:  # (False on arrays)
                self._softmax = (x, target, e, total)
            return reduce_losses(losses, self.reduction)
        coef, denominator = self.coefficients(x, target, weight)
        return self.reduce(-np.add.reduce(coef * log_softmax_array(x, axis), axis=axis), denominator)

    def vjp(self, g: Any, out: Any, x: Any, target: Any, *extra: Any) -> tuple[Any, ...]:
        axis = _class_axis(x)
        saved, self._softmax = self._softmax, None  # (used once: a second backward computes it again)
        if saved is not None and saved[0] is x and saved[1] is target and isinstance(g, (np.ndarray, np.generic)):
            probs = saved[2]  # the forward checked the labels: plain ones, the softmax's parts kept
            probs /= saved[3]
            return self._plain_grad(probs, np.asarray(target), g, axis) + (None,) * len(extra)
        weight = self._weight(extra)
        given = np.asarray(value_of(target))
        labels = given if given.dtype.kind in "iub" else None
        if self._plain(labels, weight) and isinstance(x, np.ndarray) and isinstance(g, (np.ndarray, np.generic)):
            # ordinary backward (arrays only): the same math in place on a fresh array
            return self._plain_grad(softmax_array(x, axis), labels, g, axis) + (None,) * len(extra)
        coef, denominator = self.coefficients(x, target, weight)
        gl = self.per_loss(g, np.shape(x), axis, denominator)
        gx = gl * (softmax(x, axis=axis) * reduce_sum(coef, axis=axis, keepdims=True) - coef)
        gt = None
        if labels is None and self._needs(1):
            scale = 1 - self.label_smoothing
            w = None if weight is None else _along(value_of(weight), x, axis)
            gt = -gl * scale * log_softmax(x, axis=axis) * (1 if w is None else w)
        return (gx, gt) + (None,) * len(extra)

    def _plain_grad(self, probs: np.ndarray, labels: np.ndarray, g: Any, axis: int) -> tuple:
        """(softmax - onehot(labels)) · ∂loss/∂loss_n, in place on ``probs`` (a fresh softmax)."""
        _subtract_one_at(probs, labels, axis)
        probs *= self.per_loss(g, probs.shape, axis, labels.size)
        return (probs, None)


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


class NLLLoss(_Classification):
    """-w[y]·logp[y] for log-probabilities and integer labels (``torch.nn.functional.nll_loss``:
    ``weight``, ``ignore_index``); ∂/∂logp = -A = -w[y]·onehot(y)."""

    label = "nll_loss"
    formula = "nll({0}, {1})"
    derivatives = ("-onehot", "")

    def forward(self, logp: Any, target: Any, *extra: Any) -> Any:
        labels = self.check_target(logp, target)
        if labels is None:
            raise option_error(
                f"NLLLoss '{self.name}'", "target", f"a {np.asarray(target).dtype} array", "is not integer class labels"
            )
        coef, _, denominator = self.label_coefficients(logp, labels, self._weight(extra))
        return self.reduce(-np.add.reduce(coef * logp, axis=_class_axis(logp)), denominator)

    def vjp(self, g: Any, out: Any, logp: Any, target: Any, *extra: Any) -> tuple[Any, ...]:
        axis = _class_axis(logp)
        coef, _, denominator = self.label_coefficients(logp, np.asarray(value_of(target)), self._weight(extra))
        gl = self.per_loss(g, np.shape(logp), axis, denominator)
        return (-gl * coef, None) + (None,) * len(extra)


def _with_weight(op: type[Op], x: Any, target: Any, weight: Any, **options: Any) -> Any:
    if isinstance(weight, str):
        raise TypeError(
            f"{op.__name__.lower()}: weight={weight!r} is not an array of class weights "
            f"(reduction is a keyword: reduction={weight!r})"
        )
    extra = () if weight is None else (weight,)
    return op.apply(x, target, *extra, has_weight=weight is not None, **options)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Softmax cross-entropy of logits (N, C, ...) against integer labels (N, ...) or class
    probabilities (N, C, ...), as ``torch.nn.functional.cross_entropy``: ``weight`` (C,)
    per class, ``ignore_index`` (a label to skip), ``reduction`` ("mean", "sum", "none"),
    ``label_smoothing`` ε in [0, 1]."""
    return _with_weight(
        CrossEntropy,
        input,
        target,
        weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def nll_loss(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean") -> Any:
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer labels (N, ...), as
    ``torch.nn.functional.nll_loss``: ``weight`` (C,), ``ignore_index``, ``reduction``."""
    return _with_weight(NLLLoss, input, target, weight, ignore_index=ignore_index, reduction=reduction)
