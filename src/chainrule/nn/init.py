"""Parameter initialisation and the random generator layers draw from.

PyTorch's defaults, so a chainrule layer starts from the same distribution as
its ``torch.nn`` twin: ``Linear`` and ``Conv2d`` use Kaiming-uniform with
a = √5, which is U(-1/√fan_in, 1/√fan_in) for weights and biases alike;
``Embedding`` draws N(0, 1). ``manual_seed`` makes initialisation and
dropout masks reproducible, like ``torch.manual_seed``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtype as _dtype

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the generator used for initialisation and dropout."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The generator layers draw from (reseeded by ``manual_seed``)."""
    return _rng


def _dt(dtype: Any) -> np.dtype:
    return _dtype.get_default_dtype() if dtype is None else np.dtype(dtype)


def uniform(shape: tuple, low: float, high: float, dtype: Any = None) -> np.ndarray:
    """U(low, high) samples of ``shape`` in ``dtype`` (the default float dtype when None)."""
    return _rng.uniform(low, high, size=shape).astype(_dt(dtype))


def normal(shape: tuple, mean: float = 0.0, std: float = 1.0, dtype: Any = None) -> np.ndarray:
    """N(mean, std²) samples of ``shape``."""
    return (mean + std * _rng.standard_normal(shape)).astype(_dt(dtype))


def kaiming_uniform(shape: tuple, fan_in: int, a: float = math.sqrt(5), dtype: Any = None) -> np.ndarray:
    """U(-bound, bound) with bound = gain·√(3/fan_in), gain = √(2/(1+a²)) (``torch.nn.init.kaiming_uniform_``);
    a = √5, PyTorch's layer default, gives bound = 1/√fan_in."""
    bound = math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / max(fan_in, 1))
    return uniform(shape, -bound, bound, dtype)


def fan_in_uniform(shape: tuple, fan_in: int, dtype: Any = None) -> np.ndarray:
    """U(-1/√fan_in, 1/√fan_in): PyTorch's default for Linear and Conv biases."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(shape, -bound, bound, dtype)


def xavier_uniform(shape: tuple, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """U(-a, a) with a = gain·√(6/(fan_in + fan_out)) (``torch.nn.init.xavier_uniform_``; fan_in is
    shape[1], fan_out shape[0], times the receptive field for convolution kernels)."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, dtype)
