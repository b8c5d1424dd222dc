"""The functions the transform tests differentiate, in chainrule and in PyTorch: the lesson,
an MLP loss and a vector-valued function with broadcasting; their inputs, and comparing
results (structure, shapes, values) with PyTorch's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import chainrule as cr

from lesson_helpers import B, K, X, Y

rng = np.random.default_rng(0)
MLP_X, MLP_Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def lesson(k, b):
    return cr.MSE(cr.Constant(Y, name="y"), cr.Sigmoid(cr.Linear(cr.Constant(X, name="x"), k, b)))


def t_lesson(k, b):
    return F.mse_loss(torch.sigmoid(k * X + b), torch.tensor(Y, dtype=torch.float64))


def mlp(w1, b1, w2, b2):
    return cr.mse(cr.tensor(MLP_Y), cr.tanh(cr.tensor(MLP_X) @ w1 + b1) @ w2 + b2)


def t_mlp(w1, b1, w2, b2):
    return F.mse_loss(torch.tanh(torch.tensor(MLP_X) @ w1 + b1) @ w2 + b2, torch.tensor(MLP_Y))


def vector(a, b):
    """(3, 1) and (4,) broadcast to (3, 4); two outputs."""
    return cr.sin(a) * b + a**2, cr.exp(b) * cr.sum(a)


def t_vector(a, b):
    return torch.sin(a) * b + a**2, torch.exp(b) * torch.sum(a)


FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[tuple[int, ...]]]] = {
    # name: (chainrule, torch, input shapes)
    "lesson": (lesson, t_lesson, [(), ()]),
    "mlp": (mlp, t_mlp, [(3, 4), (4,), (4, 2), (2,)]),
    "vector": (vector, t_vector, [(3, 1), (4,)]),
}
SCALAR = ["lesson", "mlp"]


def inputs(name, seed=0):
    shapes = FUNCTIONS[name][2]
    r = np.random.default_rng(seed)
    arrays = tuple(r.standard_normal(s) for s in shapes)
    if name == "lesson":
        arrays = (np.float64(K), np.float64(B))
    return arrays


def like(arrays, seed):
    r = np.random.default_rng(seed)
    return tuple(r.standard_normal(np.shape(a)) for a in arrays)


def tt(arrays):
    return tuple(torch.tensor(a) for a in arrays)


def assert_same(mine, theirs, atol=1e-10):
    """Equal structure (tuples nest alike), shapes and values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(mine, tuple) and len(mine) == len(theirs), f"{type(mine)} vs {len(theirs)}-tuple"
        for m, t in zip(mine, theirs):
            assert_same(m, t, atol)
        return
    expected = theirs.detach().numpy()
    assert np.shape(mine) == expected.shape, f"shape {np.shape(mine)} != torch {expected.shape}"
    np.testing.assert_allclose(mine, expected, atol=atol, rtol=1e-8)


def outputs_of(name, arrays):
    out = FUNCTIONS[name][1](*tt(arrays))
    return out


def leaves_of(nested: Any) -> list[Any]:
    """The arrays (or nodes) of a nested tuple, in order."""
    if isinstance(nested, tuple):
        return [leaf for item in nested for leaf in leaves_of(item)]
    return [nested]
