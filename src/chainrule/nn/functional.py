"""Functional forms of the layers and losses, ``torch.nn.functional`` style:

    import chainrule.nn.functional as F
    F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2), labels)

Each works on arrays or nodes, so it is differentiable (twice, where the ops
are) with no code of its own for the backward pass, and eagerly or
define-then-run alike (checks that need values happen when values exist).
Arguments keep PyTorch's names and order (``dim``, ``input``, ``reduction``).
Convolution and pooling are ops (``chainrule.ops``) and are re-exported here;
``layer_norm``/``batch_norm`` live in ``normalization.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..node import Node, Placeholder
from ..ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    getitem,
    matmul,
    max_pool1d,
    max_pool2d,
    transpose,
)
from ..ops import binary_cross_entropy as _bce
from ..ops import binary_cross_entropy_with_logits as _bce_logits
from ..ops import cross_entropy as _cross_entropy
from ..ops import elu as _elu
from ..ops import gelu as _gelu
from ..ops import hardtanh as _hardtanh
from ..ops import leaky_relu as _leaky_relu
from ..ops import linear as _linear
from ..ops import log_softmax as _log_softmax
from ..ops import mish as _mish
from ..ops import mse as _mse
from ..ops import nll_loss as _nll_loss
from ..ops import relu as _relu
from ..ops import sigmoid as _sigmoid
from ..ops import silu as _silu
from ..ops import softmax as _softmax
from ..ops import softplus as _softplus
from ..ops import tanh as _tanh
from .deferred import MatchTarget, checked, dropout_mask, target_for
from .module import check_option, is_probability
from .normalization import batch_norm, layer_norm

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "hardtanh",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

GELU_FORMS = ("none", "tanh")  # PyTorch's approximate= values


# ---------------------------------------------------------------- activations
def relu(input: Any) -> Any:
    """max(x, 0)."""
    return _relu(input)


def tanh(input: Any) -> Any:
    return _tanh(input)


def silu(input: Any) -> Any:
    """x·σ(x)."""
    return _silu(input)


def elu(input: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, else α(eˣ - 1)."""
    return _elu(input, alpha)


def mish(input: Any) -> Any:
    """x·tanh(softplus(x))."""
    return _mish(input)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """x limited to [min_val, max_val]."""
    return _hardtanh(input, min_val, max_val)


def sigmoid(input: Any) -> Any:
    return _sigmoid(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """(1/β)·log(1 + e^(βx)), x itself where βx > threshold."""
    return _softplus(input, beta, threshold)


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """x for x > 0, else negative_slope·x."""
    return _leaky_relu(input, negative_slope)


def gelu(input: Any, approximate: str = "none") -> Any:
    """GELU, x·Φ(x) with the exact (erf) Φ; ``approximate="tanh"``: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return _gelu(input, approximate=approximate)


def softmax(input: Any, dim: int = -1) -> Any:
    """Softmax along ``dim``."""
    return _softmax(input, axis=dim)


def log_softmax(input: Any, dim: int = -1) -> Any:
    """log softmax along ``dim`` (stable: x - logsumexp(x))."""
    return _log_softmax(input, axis=dim)


# ---------------------------------------------------------------- layers
def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``input @ weightᵀ + bias`` with PyTorch's weight layout (out_features, in_features)."""
    if bias is None:
        return matmul(input, transpose(weight))
    return _linear(input, transpose(weight), bias)


def dropout(input: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Any:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout, as PyTorch does), with a fresh mask every time the node computes (so every run
    of a define-then-run graph); the identity when not ``training`` or p = 0. ``rng``: the
    generator to draw from (default: the one ``manual_seed`` seeds)."""
    check_option("dropout", "p", p, is_probability(p), "is not a probability in [0, 1]")
    if not training or p == 0.0:
        return input
    return dropout_mask(input, p, rng)


def embedding(input: Any, weight: Any) -> Any:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer indices of any shape."""
    n = np.shape(weight)[0]

    def check(idx: np.ndarray) -> None:
        if idx.dtype.kind not in "iu":
            raise ShapeError(f"embedding needs integer indices, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ShapeError(f"embedding indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")

    return getitem(weight, checked(input, check))


# ---------------------------------------------------------------- losses
def match_target(output: Any, target: Any) -> Any:
    """``target`` shaped and typed like ``output`` for an elementwise loss: (N,) -> (N, 1) for a
    one-column output, integers and bools -> the output's float dtype. (Without that, NumPy
    broadcasting would silently compare every output with every target.) Before a
    define-then-run graph has values, a ``MatchTarget`` node does it whenever the graph runs."""
    out_value = output.value if isinstance(output, Node) else output
    t_value = target.value if isinstance(target, Node) else target
    if out_value is None or t_value is None or isinstance(target, Placeholder):
        return MatchTarget.apply(output, target)
    return target_for(np.shape(out_value), np.asarray(out_value).dtype, target)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error, (input - target)², reduced by ``reduction`` ("mean", "sum", "none")."""
    return _mse(input, match_target(input, target), reduction=reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    """Binary cross-entropy of probabilities ``input`` against ``target`` in [0, 1]; ``weight``
    rescales each element's loss (broadcast against the input)."""
    return _bce(input, match_target(input, target), weight, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """Binary cross-entropy of logits (stable for any logit); ``weight`` per element,
    ``pos_weight`` the weight of the positive term per class (the last axis)."""
    return _bce_logits(input, match_target(input, target), weight, reduction=reduction, pos_weight=pos_weight)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Softmax cross-entropy of logits (N, C, ...) against integer labels (N, ...) or
    probabilities (N, C, ...); ``weight`` (C,) per class, labels equal to ``ignore_index``
    left out, ``label_smoothing`` mixes the targets with the uniform distribution."""
    return _cross_entropy(
        input, target, weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> Any:
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer labels (N, ...)."""
    return _nll_loss(input, target, weight, ignore_index=ignore_index, reduction=reduction)
