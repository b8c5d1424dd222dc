"""What the workloads share: the MLPs' random layers and the same arrays as chainrule leaves;
the CNNs' training step (SGD on cross-entropy), written once for chainrule and once for PyTorch."""

from __future__ import annotations

import numpy as np


def dense_layers(rng: np.random.Generator, sizes: tuple) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] in float32: W of shape (in, out) scaled by 1/√in, b zero."""
    arrays = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        arrays += [
            (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32),
            np.zeros(n_out, dtype=np.float32),
        ]
    return arrays


def chainrule_leaves(X: np.ndarray, y: np.ndarray, arrays: list[np.ndarray]) -> tuple:
    """(parameters as Variables, X and y as Constants)."""
    import chainrule as cr

    return [cr.Variable(a) for a in arrays], cr.tensor(X), cr.tensor(y)


def chainrule_sgd_step(layers, X: np.ndarray, y: np.ndarray, lr: float):
    """One SGD step on cross-entropy for the model ``layers(cr.nn)``, as a user writes it."""
    import chainrule as cr

    model = layers(cr.nn)
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    Xc, yc = cr.tensor(X), cr.tensor(y)

    def step():
        opt.zero_grad()
        loss = cr.cross_entropy(model(Xc), yc)
        loss.backward()
        opt.step()
        return loss

    return step


def pytorch_sgd_step(layers, X: np.ndarray, y: np.ndarray, lr: float):
    """The same step in PyTorch, for the model ``layers(torch.nn)`` (same layer names)."""
    from harness import import_torch

    torch = import_torch()
    model = layers(torch.nn)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step
