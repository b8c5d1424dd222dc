"""Functional forms of the layers (``torch.nn.functional`` style), built from ops.

Each works on arrays or nodes, so it is differentiable (twice, where the ops
are) with no code of its own for the backward pass. Convolution and pooling
are ops (``chainrule.ops.conv``) and are re-exported here.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError
from ..node import Node, value_of
from ..ops import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, getitem, matmul,
                   max_pool1d, max_pool2d, mean, reshape, sqrt, transpose, var)
from ..ops import linear as _linear
from . import init
from .module import check_option, is_probability

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm", "conv1d", "conv2d",
           "dropout", "embedding", "layer_norm", "linear", "max_pool1d", "max_pool2d"]


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weightᵀ + bias`` with PyTorch's weight layout (out_features, in_features)."""
    if bias is None:
        return matmul(x, transpose(weight))
    return _linear(x, transpose(weight), bias)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Any:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout, as PyTorch does); the identity when not ``training`` or p = 0."""
    check_option("dropout", "p", p, is_probability(p), "is not a probability in [0, 1]")
    if not training or p == 0.0:
        return x
    dt = np.asarray(value_of(x)).dtype
    if p == 1.0:
        return x * np.zeros(np.shape(x), dtype=dt)
    keep = (rng or init.generator()).random(np.shape(x)) >= p
    return x * (keep * dt.type(1.0 / (1.0 - p))).astype(dt)


def _normalize(x: Any, mu: Any, variance: Any, eps: float) -> Any:
    """(x - μ) / √(σ² + ε)."""
    return (x - mu) / sqrt(variance + eps)


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """Batch normalisation over every axis but the channel axis 1 (``F.batch_norm``).

    Training: normalise with the batch mean and biased variance, and update
    ``running_mean``/``running_var`` in place (momentum-weighted, the unbiased
    variance, as PyTorch does). Otherwise: normalise with the running statistics.
    """
    shape = np.shape(x)
    if len(shape) < 2:
        raise ShapeError(f"batch_norm expects (N, C, ...) input, got shape {shape}")
    axes = (0,) + tuple(range(2, len(shape)))
    kept = (1, shape[1]) + (1,) * (len(shape) - 2)
    if training:
        count = int(np.prod([shape[a] for a in axes]))
        if count < 2:
            raise ShapeError(f"batch_norm in training mode needs more than one value per channel, got input "
                             f"shape {shape} (use eval mode, or a batch larger than 1)")
        mu, variance = mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True)
        if running_mean is not None:
            m, v = np.reshape(value_of(mu), -1), np.reshape(value_of(variance), -1)
            running_mean *= 1 - momentum
            running_mean += momentum * m
            running_var *= 1 - momentum
            running_var += momentum * v * (count / (count - 1))
    else:
        if running_mean is None:
            raise ValueError("batch_norm: eval mode needs running statistics")
        mu, variance = np.reshape(running_mean, kept), np.reshape(running_var, kept)
    out = _normalize(x, mu, variance, eps)
    if weight is not None:
        out = out * reshape(weight, kept)
    if bias is not None:
        out = out + reshape(bias, kept)
    return out


def layer_norm(x: Any, normalized_shape: Sequence[int] | int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Normalise over the last ``len(normalized_shape)`` axes (``F.layer_norm``)."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = np.shape(x)
    if tuple(shape[len(shape) - len(normalized_shape):]) != normalized_shape:
        raise ShapeError(f"layer_norm over {normalized_shape}: input shape {shape} does not end with it")
    axes = tuple(range(len(shape) - len(normalized_shape), len(shape)))
    out = _normalize(x, mean(x, axis=axes, keepdims=True), var(x, axis=axes, keepdims=True), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(indices: Any, weight: Any) -> Any:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices`` of any shape."""
    idx = np.asarray(value_of(indices))
    if idx.dtype.kind not in "iu":
        raise ShapeError(f"embedding needs integer indices, got dtype {idx.dtype}")
    n = np.shape(weight)[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ShapeError(f"embedding indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    # a node stays the index (an input of the lookup, so a traced or re-run graph reads it each time)
    return getitem(weight, indices if isinstance(indices, Node) else idx)
