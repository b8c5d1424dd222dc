"""Undoing broadcasting: the one place a gradient is summed back to its input's shape.

If ``a`` of shape (3, 1) was broadcast against (3, 4), ∂/∂a is the upstream
gradient summed over the axis it was stretched along. The engine calls this
(through the ``sum_to_shape`` op) after every vjp; op rules never do it.
"""
from __future__ import annotations

import numpy as np


def broadcast_axes(grad_shape: tuple, shape: tuple) -> tuple:
    """The axes of ``grad_shape`` to sum so that the result has ``shape``'s size."""
    lead = len(grad_shape) - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad_shape[lead + i] != 1)
    return tuple(range(lead)) + stretched


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape`` (a no-op when the shapes already match)."""
    grad_shape = np.shape(grad)
    if grad_shape == shape:
        return grad
    axes = broadcast_axes(grad_shape, shape)
    if axes:  # np.add.reduce is np.sum without its Python wrapper
        grad = np.add.reduce(grad, axis=axes, keepdims=len(grad_shape) == len(shape))
    return grad if np.shape(grad) == shape else np.reshape(grad, shape)
