"""Normalisation: ``layer_norm`` and ``batch_norm`` (functional) and the ``LayerNorm``,
``BatchNorm1d``, ``BatchNorm2d`` layers, as ``torch.nn``.

Both normalise with ``Standardize`` (statistics accumulated in float64, worked
out when the op runs), so they work eagerly and define-then-run alike, on
whatever batch size arrives. Batch norm moves the channel axis last
(``swapaxes(x, 1, -1)``, a view), so that per-channel vectors broadcast
whatever the number of axes; the running statistics are updated each time a
training-mode graph runs, once per forward pass, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError, option_error
from ..node import Constant
from ..ops import sqrt, swapaxes
from .deferred import checked, standardize
from .module import Module, check_option, float_array, is_number, is_probability, is_size
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "batch_norm", "layer_norm"]

Stats = Callable[[np.ndarray, np.ndarray, int], None]


def _shape_tuple(normalized_shape: Sequence[int] | int) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)


def layer_norm(
    x: Any, normalized_shape: Sequence[int] | int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Any:
    """Normalise over the last ``len(normalized_shape)`` axes, then scale and shift (``F.layer_norm``)."""
    shape = _shape_tuple(normalized_shape)
    check_option(
        "layer_norm",
        "normalized_shape",
        normalized_shape,
        all(map(is_size, shape)) and bool(shape),
        "is not a positive int or a tuple of them",
    )

    def check(value: np.ndarray) -> None:
        if value.shape[max(value.ndim - len(shape), 0) :] != shape:
            raise ShapeError(f"layer_norm over {shape}: input shape {value.shape} does not end with it")

    out = standardize(checked(x, check), len(shape), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def running_update(running_mean: np.ndarray, running_var: np.ndarray, momentum: float | Callable[[], float]) -> Stats:
    """What a training run does with its batch statistics: running = (1-m)·running + m·batch,
    the variance unbiased (n/(n-1)), in place. ``momentum``: a number, or a function asked on
    every run (BatchNorm's cumulative average when momentum is None)."""

    def update(mu: np.ndarray, variance: np.ndarray, n: int) -> None:
        m = momentum() if callable(momentum) else momentum
        running_mean[...] = (1 - m) * running_mean + m * mu.reshape(-1)
        running_var[...] = (1 - m) * running_var + m * variance.reshape(-1) * (n / (n - 1))

    return update


def channel_norm(
    x: Any,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: Any,
    bias: Any,
    training: bool,
    eps: float,
    on_stats: Stats | None,
    owner: str = "batch_norm",
    ndims: tuple[int, ...] | None = None,
) -> Any:
    """Batch normalisation over every axis but the channel axis 1 (see ``batch_norm``);
    ``on_stats`` gets each training run's statistics; ``owner`` and ``ndims`` (the numbers of
    axes allowed) say which layer's input is checked."""
    channels = next((np.shape(a)[0] for a in (running_mean, weight, bias) if a is not None), None)

    def check(value: np.ndarray) -> None:
        shape = value.shape
        if (
            value.ndim < 2
            or (ndims is not None and value.ndim not in ndims)
            or (channels is not None and shape[1] != channels)
        ):
            axes = "at least 2" if ndims is None else " or ".join(map(str, ndims))
            raise ShapeError(
                f"{owner} expects (N, C, ...) input with {axes} axes"
                + ("" if channels is None else f" and {channels} channels on axis 1")
                + f", got shape {shape}"
            )
        if training and value.size // shape[1] < 2:
            raise ShapeError(
                f"{owner} in training mode needs more than one value per channel, got input "
                f"shape {shape} (use eval mode, or a batch larger than 1)"
            )

    if not training and running_mean is None:
        raise ShapeError(f"{owner}: eval mode needs running statistics (running_mean and running_var)")
    xs = swapaxes(checked(x, check), 1, -1)  # channels last: (C,) vectors broadcast against it
    if training:
        out = standardize(xs, None, eps, on_stats)
    else:  # the buffers as constants, read when the graph runs (they change in place as it trains)
        out = (xs - Constant(running_mean)) / sqrt(Constant(running_var) + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return swapaxes(out, 1, -1)


def batch_norm(
    x: Any,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Batch normalisation over every axis but the channel axis 1 (``F.batch_norm``).

    Training: normalise with the batch mean and biased variance, and update
    ``running_mean``/``running_var`` in place (momentum-weighted, the unbiased
    variance, as PyTorch does). Otherwise: normalise with the running statistics.
    """
    if running_mean is None or running_var is None:
        if running_mean is not None or running_var is not None:  # one without the other: nothing to update
            missing = "running_var" if running_var is None else "running_mean"
            raise option_error("batch_norm", missing, None, "must be given with the other running statistic")
        track = None
    else:
        track = running_update(running_mean, running_var, momentum) if training else None
    return channel_norm(x, running_mean, running_var, weight, bias, training, eps, track)


class _BatchNorm(Module):
    """Batch normalisation over channel axis 1; running statistics for eval mode."""

    dims: tuple[int, ...] = (2, 3)
    running_mean: np.ndarray  # the buffers, with track_running_stats
    running_var: np.ndarray
    num_batches_tracked: np.ndarray

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_option(owner, "num_features", num_features, is_size(num_features), "is not a positive int")
        check_option(owner, "eps", eps, is_number(eps) and eps > 0, "is not a number > 0")
        check_option(
            owner,
            "momentum",
            momentum,
            momentum is None or is_probability(momentum),
            "is not a number in [0, 1] or None",
        )
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(float_array(np.ones(num_features), dtype), name="weight") if affine else None
        self.bias = Parameter(float_array(np.zeros(num_features), dtype), name="bias") if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", float_array(np.zeros(num_features), dtype))
            self.register_buffer("running_var", float_array(np.ones(num_features), dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def _factor(self) -> float:
        """This run's momentum: the given one, or 1/batches seen (a cumulative average) for None."""
        self.num_batches_tracked = np.array(self.num_batches_tracked + 1)
        return 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum

    def forward(self, x: Any) -> Any:
        tracking = self.track_running_stats
        batch_stats = self.training or not tracking
        mean, var = (self.running_mean, self.running_var) if tracking else (None, None)
        track = (
            running_update(self.running_mean, self.running_var, self._factor) if self.training and tracking else None
        )
        return channel_norm(
            x,
            mean,
            var,
            self.weight,
            self.bias,
            batch_stats,
            self.eps,
            track,
            f"{type(self).__name__}({self.num_features})",
            self.dims,
        )

    def traces_alike(self) -> bool:
        return not self.training  # training updates the running statistics on every call

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input (``torch.nn.BatchNorm1d``)."""

    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input (``torch.nn.BatchNorm2d``)."""

    dims = (4,)


class LayerNorm(Module):
    """Normalise over the last axes ``normalized_shape``, then scale and shift (``torch.nn.LayerNorm``)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = _shape_tuple(normalized_shape)
        check_option(
            "LayerNorm",
            "normalized_shape",
            normalized_shape,
            all(map(is_size, shape)) and bool(shape),
            "is not a positive int or a tuple of them",
        )
        check_option("LayerNorm", "eps", eps, is_number(eps) and eps > 0, "is not a number > 0")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, bool(elementwise_affine)
        self.weight = Parameter(float_array(np.ones(shape), dtype), name="weight") if elementwise_affine else None
        self.bias = Parameter(float_array(np.zeros(shape), dtype), name="bias") if elementwise_affine and bias else None

    def forward(self, x: Any) -> Any:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
