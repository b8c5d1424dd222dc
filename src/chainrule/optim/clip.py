"""``clip_grad_norm_``: scale gradients together so their joint norm stays bounded
(``torch.nn.utils.clip_grad_norm_``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import NonFiniteGradientError
from .optimizer import all_finite, named_params


def clip_grad_norm_(
    parameters: Iterable[Any], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``; returns the
    norm before clipping. ``parameters``: Variables, ``(name, Variable)`` pairs or a Module."""
    params, names = named_params(parameters, "clip_grad_norm_")
    named = [(n, p) for n, p in zip(names or [p.name for p in params], params) if p.grad is not None]
    if not named:
        return 0.0
    grads = [np.asarray(getattr(p.grad, "value", p.grad)) for _, p in named]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = [np.sum(np.abs(g.astype(np.float64)) ** norm_type) ** (1 / norm_type) for g in grads]
        total = float(np.sum(np.asarray(norms) ** norm_type) ** (1 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        bad = [f"'{n}' {np.shape(p.value)}" for (n, p), g in zip(named, grads) if not all_finite(g)]
        raise NonFiniteGradientError(
            f"clip_grad_norm_: the total gradient norm is {total}; non-finite in {', '.join(bad)}"
        )
    coef = min(max_norm / (total + 1e-6), 1.0)
    for (_, p), g in zip(named, grads):
        p.grad = g * g.dtype.type(coef)
    return total
