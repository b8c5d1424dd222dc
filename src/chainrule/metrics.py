"""Metrics on model outputs and targets (plain arrays, float64 arithmetic), by name:
``accuracy``, ``r2``, ``mse``, ``mae``. ``fit`` and ``evaluate`` take these names
or any function ``metric(outputs, targets) -> float``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ShapeError

__all__ = ["METRICS", "accuracy", "get_metric", "mae", "mse", "r2"]


def _labels(outputs: np.ndarray) -> np.ndarray:
    """Predicted classes: argmax over classes, or logit > 0 for a single output column."""
    if outputs.ndim >= 2 and outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    return (outputs.reshape(len(outputs), -1)[:, 0] > 0).astype(np.int64)


def accuracy(outputs: Any, targets: Any) -> float:
    """The fraction of examples whose predicted class is the target class.

    outputs: logits or probabilities (N, C), or one logit column (N, 1) / (N,)
    for a binary task (positive when > 0). targets: integer labels (N,) or
    (N, 1), 0/1 floats, or one-hot / probability rows (N, C).
    """
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if targets.ndim >= 2 and targets.shape[1] > 1:
        targets = targets.argmax(axis=1)
    targets = targets.reshape(len(targets))
    if targets.dtype.kind == "f":
        if not np.all(targets == np.round(targets)):
            raise ShapeError(
                "accuracy needs class labels, but the targets are not whole numbers "
                "(a regression task? use metrics=('r2',))"
            )
        targets = targets.astype(np.int64)
    predicted = _labels(outputs)
    if predicted.shape != targets.shape:
        raise ShapeError(f"accuracy: {predicted.shape[0]} predictions for {targets.shape[0]} targets")
    return float(np.mean(predicted == targets))


def _columns(outputs: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    o = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    t = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    if o.shape != t.shape:
        raise ShapeError(f"regression metric: outputs {np.shape(outputs)} and targets {np.shape(targets)} differ")
    return o, t


def r2(outputs: Any, targets: Any) -> float:
    """Coefficient of determination 1 - SS_res/SS_tot (averaged over output columns,
    like scikit-learn's ``r2_score``); 1 is perfect, 0 is predicting the mean."""
    o, t = _columns(outputs, targets)
    ss_res = np.sum((t - o) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    scores = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return float(np.mean(scores))


def mse(outputs: Any, targets: Any) -> float:
    """Mean squared error."""
    o, t = _columns(outputs, targets)
    return float(np.mean((o - t) ** 2))


def mae(outputs: Any, targets: Any) -> float:
    """Mean absolute error."""
    o, t = _columns(outputs, targets)
    return float(np.mean(np.abs(o - t)))


METRICS: dict[str, Callable[[Any, Any], float]] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "r2": r2,
    "mse": mse,
    "mae": mae,
}


def get_metric(metric: str | Callable[[Any, Any], float]) -> tuple[str, Callable[[Any, Any], float]]:
    """(name, function) for a metric name or a function (named by its ``__name__``)."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    try:
        return ("accuracy" if metric == "acc" else metric), METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)} or a function") from None
