"""Convolution and pooling layers, as ``torch.nn``: ``Conv1d``, ``Conv2d``, ``MaxPool1d``,
``MaxPool2d``, ``AvgPool1d``, ``AvgPool2d``, ``AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``.

Options are checked when the layer is built (``OptionError``, as the functional
forms do when their node is built) and a convolution's input when it has a value
(``check_input``: at once eagerly, when the graph runs define-then-run); each
layer computes with its functional form, so batched and unbatched inputs work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..errors import ShapeError, option_error
from ..ops.avgpool import avg_options, output_size_option
from ..ops.conv import conv_options
from ..ops.pool import pool_options
from ..ops.windows import Fail, flag_option, ints
from . import functional as F
from . import init
from .module import Module, check_option, is_size
from .parameter import Parameter

T = TypeVar("T")


def _checked(owner: str, check: Callable[[int, dict, Fail], T], spatial: int, options: dict) -> T:
    """Options checked when the layer is built, as its op checks them when a node is built."""
    return check(spatial, options, lambda option, allowed: option_error(owner, option, options[option], allowed))


def _given(value: Any) -> Any:
    """An option as the user gave it, for reprs (lists become tuples, like PyTorch's)."""
    return tuple(value) if isinstance(value, list) else value


class _ConvNd(Module):
    """What Conv1d and Conv2d share: options, PyTorch's initialisation, the input check."""

    spatial = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = f"{type(self).__name__}({in_channels}, {out_channels})"
        _checked(
            name, conv_options, self.spatial, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        )
        kernel = ints(kernel_size, self.spatial, 1)
        if kernel is None:
            allowed = "is not an int >= 1" + ("" if self.spatial == 1 else " or a pair of them")
            raise option_error(name, "kernel_size", kernel_size, allowed)
        for option, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            check_option(
                name,
                option,
                value,
                is_size(value) and value % groups == 0,
                f"is not a positive int divisible by groups={groups}",
            )
        check_option(name, "padding_mode", padding_mode, padding_mode == "zeros", "is not 'zeros' (the only one)")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        self.stride, self.padding, self.dilation, self.groups = (_given(v) for v in (stride, padding, dilation, groups))
        fan_in = in_channels // groups * int(np.prod(kernel))
        shape = (out_channels, in_channels // groups) + kernel
        self.weight = Parameter(init.kaiming_uniform(shape, fan_in, dtype=dtype), name="weight")
        self.bias = Parameter(init.fan_in_uniform((out_channels,), fan_in, dtype=dtype), name="bias") if bias else None

    def check_input(self, value: np.ndarray, position: int) -> None:
        s, shape = self.spatial, value.shape
        if len(shape) not in (s + 1, s + 2) or shape[-s - 1] != self.in_channels:
            raise ShapeError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}) expects "
                f"{'(N, C, L) or (C, L)' if s == 1 else '(N, C, H, W) or (C, H, W)'} input with "
                f"C = {self.in_channels}, got shape {shape}"
            )

    def forward(self, x: Any) -> Any:
        conv = F.conv1d if self.spatial == 1 else F.conv2d
        return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        k = self.kernel_size[0] if self.spatial == 1 else self.kernel_size
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={k}, stride={self.stride}"
        for option, default in (("padding", 0), ("dilation", 1), ("groups", 1)):
            if getattr(self, option) != default:
                text += (
                    f", {option}={getattr(self, option)!r}"
                    if option == "padding"
                    else f", {option}={getattr(self, option)}"
                )
        return text + ("" if self.bias is not None else ", bias=False")


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L), weight (out, in/groups, k), as ``torch.nn.Conv1d``;
    weight and bias start U(-1/√fan_in, 1/√fan_in), fan_in = in/groups·k."""

    spatial = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W), weight (out, in/groups, kh, kw), as
    ``torch.nn.Conv2d``; weight and bias start U(-1/√fan_in, 1/√fan_in), fan_in = in/groups·kh·kw."""

    spatial = 2


class _MaxPoolNd(Module):
    spatial = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        options = dict(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
            return_indices=return_indices,
        )
        _checked(type(self).__name__, pool_options, self.spatial, options)
        flag_option(options, "return_indices", lambda o, a: option_error(type(self).__name__, o, return_indices, a))
        self.kernel_size, self.padding, self.dilation = _given(kernel_size), _given(padding), _given(dilation)
        self.stride = self.kernel_size if stride is None else _given(stride)
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Any) -> Any:
        pool = F.max_pool1d if self.spatial == 1 else F.max_pool2d
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) or (C, L) (stride defaults to the kernel size), as ``torch.nn.MaxPool1d``."""

    spatial = 1


class MaxPool2d(_MaxPoolNd):
    """Max over windows of (N, C, H, W) or (C, H, W) (stride defaults to the kernel size), as ``torch.nn.MaxPool2d``."""

    spatial = 2


class AvgPool2d(Module):
    """Mean over windows of (N, C, H, W) or (C, H, W) (zero padding counted unless
    ``count_include_pad=False``; ``divisor_override``), as ``torch.nn.AvgPool2d``."""

    spatial = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        _checked(
            type(self).__name__,
            avg_options,
            self.spatial,
            dict(
                kernel_size=kernel_size,
                stride=stride,
                padding=padding,
                dilation=1,
                ceil_mode=ceil_mode,
                count_include_pad=count_include_pad,
                divisor_override=divisor_override,
            ),
        )
        self.kernel_size, self.padding = _given(kernel_size), _given(padding)
        self.stride = self.kernel_size if stride is None else _given(stride)
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(AvgPool2d):
    """Mean over windows of (N, C, L) or (C, L), as ``torch.nn.AvgPool1d``."""

    spatial = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x: Any) -> Any:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class _AdaptiveAvgPoolNd(Module):
    spatial = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        _checked(type(self).__name__, output_size_option, self.spatial, dict(output_size=output_size))
        self.output_size = _given(output_size)

    def forward(self, x: Any) -> Any:
        pool = F.adaptive_avg_pool1d if self.spatial == 1 else F.adaptive_avg_pool2d
        return pool(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average of (N, C, L) or (C, L) over ``output_size`` bins, as ``torch.nn.AdaptiveAvgPool1d``."""

    spatial = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average of (N, C, H, W) or (C, H, W) over ``output_size`` bins (1: global average pooling),
    as ``torch.nn.AdaptiveAvgPool2d``."""

    spatial = 2
