"""Loss modules, like ``torch.nn.CrossEntropyLoss``: ``loss_fn(output, target)``.

Each calls its functional form (``nn.functional``) with the options it was
built with, checked when it is built. As there, for the elementwise losses
(MSE, binary cross-entropy) a target of shape (N,) meets an output of shape
(N, 1) as a column and is cast to the output's float dtype; class labels for
cross-entropy stay integers.
"""
from __future__ import annotations

from typing import Any, Callable

from . import functional as F
from .module import Module, check_option

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """A loss module: ``reduction`` is "mean" (default), "sum" or "none"."""

    fn: Callable[..., Any] = staticmethod(F.mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_option(type(self).__name__, "reduction", reduction, reduction in REDUCTIONS,
                     "is not one of " + ", ".join(map(repr, REDUCTIONS)))
        self.reduction = reduction

    def forward(self, output: Any, target: Any) -> Any:
        return type(self).fn(output, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error."""
    fn = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities."""
    fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (stable; pair with a Linear(…, 1) output)."""
    fn = staticmethod(F.binary_cross_entropy_with_logits)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer labels (N,) or probabilities (N, C)."""
    fn = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) at integer labels (N,)."""
    fn = staticmethod(F.nll_loss)
