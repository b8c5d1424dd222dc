"""Loss modules, like ``torch.nn.CrossEntropyLoss``: ``loss_fn(output, target)``.

They call the loss ops, with one convenience PyTorch lacks: for the
elementwise losses (MSE, binary cross-entropy) a target of shape (N,) meets
an output of shape (N, 1) as a column, and is cast to the output's float
dtype. (Without that, NumPy broadcasting would silently compare every output
with every target.) Class labels for cross-entropy stay integers.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ShapeError
from ..node import Node
from ..ops import astype, binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse, nll_loss, reshape
from .module import Module


def match_target(output: Any, target: Any) -> Any:
    """``target`` shaped and typed like ``output``: (N,) -> (N, 1) for a one-column output,
    integers and bools -> the output's float dtype."""
    out_shape, t_shape = np.shape(output), np.shape(target)
    if t_shape != out_shape:
        if len(out_shape) == len(t_shape) + 1 and out_shape[-1] == 1 and out_shape[:-1] == t_shape:
            target = reshape(target, out_shape)
        else:
            raise ShapeError(f"loss: output shape {out_shape} and target shape {t_shape} do not match")
    dt = np.asarray(output.value if isinstance(output, Node) else output).dtype
    return astype(target, dt) if np.asarray(target.value if isinstance(target, Node) else target).dtype != dt \
        else target


class _Loss(Module):
    """A loss module: ``reduction`` is "mean" (default), "sum" or "none"."""

    fn: Callable[..., Any] = staticmethod(mse)
    elementwise = False  # reshape/cast the target to the output (see match_target)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, output: Any, target: Any) -> Any:
        if self.elementwise:
            target = match_target(output, target)
        return type(self).fn(output, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error."""
    fn = staticmethod(mse)
    elementwise = True


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities."""
    fn = staticmethod(binary_cross_entropy)
    elementwise = True


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (stable; pair with a Linear(…, 1) output)."""
    fn = staticmethod(binary_cross_entropy_with_logits)
    elementwise = True


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer labels (N,) or probabilities (N, C)."""
    fn = staticmethod(cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) at integer labels (N,)."""
    fn = staticmethod(nll_loss)
