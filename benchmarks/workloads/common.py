"""What the MLP workloads share: their random layers, and the same arrays as chainrule leaves."""
from __future__ import annotations

import numpy as np


def dense_layers(rng: np.random.Generator, sizes: tuple) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] in float32: W of shape (in, out) scaled by 1/√in, b zero."""
    arrays = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        arrays += [(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32),
                   np.zeros(n_out, dtype=np.float32)]
    return arrays


def chainrule_leaves(X: np.ndarray, y: np.ndarray, arrays: list[np.ndarray]) -> tuple:
    """(parameters as Variables, X and y as Constants)."""
    import chainrule as cr
    return [cr.Variable(a) for a in arrays], cr.tensor(X), cr.tensor(y)
