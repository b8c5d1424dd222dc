"""Loss modules, like ``torch.nn.CrossEntropyLoss``: ``loss_fn(output, target)``.

Each calls its functional form (``nn.functional``) with the options it was
built with, PyTorch's: ``reduction`` ("mean", "sum", "none") for all,
``weight`` (per class for cross-entropy and NLL, per element for the binary
losses), ``ignore_index`` and ``label_smoothing`` (cross-entropy),
``pos_weight`` (BCE with logits). Options are checked when the loss is built;
``weight`` and ``pos_weight`` are buffers, in the state dict as in PyTorch.
As in the functional forms, for the elementwise losses a target of shape (N,)
meets an output of shape (N, 1) as a column and is cast to the output's float
dtype; class labels for cross-entropy stay integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import value_of
from . import functional as F
from .module import Module, check_option, float_array, is_int, is_probability

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """A loss module: ``reduction`` is "mean" (default), "sum" or "none"."""

    fn: Callable[..., Any] = staticmethod(F.mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_option(
            type(self).__name__,
            "reduction",
            reduction,
            reduction in REDUCTIONS,
            "is not one of " + ", ".join(map(repr, REDUCTIONS)),
        )
        self.reduction = reduction

    def options(self) -> dict[str, Any]:
        """The keyword arguments of the functional form."""
        return {"reduction": self.reduction}

    def forward(self, output: Any, target: Any) -> Any:
        return type(self).fn(output, target, **self.options())

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def weights(self, name: str, value: Any, vector: bool) -> None:
        """Keep ``value`` (array-like, or None) as buffer ``name``; ``vector``: it must be 1-D."""
        if value is None:
            vars(self)[name] = None  # absent, as PyTorch's None buffers (not in the state dict)
            return
        array = np.asarray(value_of(value))
        check_option(
            type(self).__name__,
            name,
            value,
            array.dtype.kind in "iuf" and (array.ndim == 1 or not vector),
            "is not a 1-D array of numbers (one per class)" if vector else "is not an array of numbers",
        )
        self.register_buffer(name, array if array.dtype.kind == "f" else float_array(array))


class _WeightedLoss(_Loss):
    """A loss with a per-class or per-element ``weight``."""

    per_class = True
    weight: np.ndarray | None  # a buffer (see ``weights``)

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weights("weight", weight, self.per_class)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "weight": self.weight}


class _ClassLoss(_WeightedLoss):
    """A loss over class labels: ``ignore_index`` labels are left out."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction=reduction)
        check_option(type(self).__name__, "ignore_index", ignore_index, is_int(ignore_index), "is not an int")
        self.ignore_index = ignore_index

    def options(self) -> dict[str, Any]:
        return {**super().options(), "ignore_index": self.ignore_index}


class MSELoss(_Loss):
    """Mean squared error."""

    fn = staticmethod(F.mse_loss)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities; ``weight`` per element (broadcast)."""

    fn = staticmethod(F.binary_cross_entropy)
    per_class = False


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on logits (stable; pair with a Linear(…, 1) output); ``weight`` per
    element, ``pos_weight`` per class for the positive term (e.g. negatives/positives)."""

    fn = staticmethod(F.binary_cross_entropy_with_logits)
    per_class = False
    pos_weight: np.ndarray | None

    def __init__(self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight, reduction=reduction)
        self.weights("pos_weight", pos_weight, vector=False)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "pos_weight": self.pos_weight}


class CrossEntropyLoss(_ClassLoss):
    """Softmax cross-entropy of logits (N, C, ...) against integer labels (N, ...) or probabilities
    (N, C, ...); ``weight`` (C,), ``ignore_index``, ``label_smoothing`` in [0, 1]."""

    fn = staticmethod(F.cross_entropy)

    def __init__(
        self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
    ) -> None:
        super().__init__(weight, ignore_index=ignore_index, reduction=reduction)
        check_option(
            "CrossEntropyLoss",
            "label_smoothing",
            label_smoothing,
            is_probability(label_smoothing),
            "is not a number in [0, 1]",
        )
        self.label_smoothing = label_smoothing

    def options(self) -> dict[str, Any]:
        return {**super().options(), "label_smoothing": self.label_smoothing}


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer labels (N, ...)."""

    fn = staticmethod(F.nll_loss)
