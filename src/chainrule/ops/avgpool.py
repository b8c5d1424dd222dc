"""Average pooling, 1-D and 2-D, as ``torch.nn.functional`` (``ceil_mode``,
``count_include_pad``, ``divisor_override``), and adaptive average pooling.

The forward pass sums the kh·kw offset views of the zero-padded input and
divides by each window's count (PyTorch's rule); the vjp spreads g / count
back over every window with col2im, whose own vjp is im2col: written with ops,
so it is differentiable again. Adaptive pooling is two products with constant
averaging matrices, A_h · x · A_wᵀ, and so is its vjp.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..dtype import FLOAT
from ..errors import ShapeError
from ..node import value_of
from ..op import Op
from .columns import Col2Im
from .linalg import matmul
from .pool import LAYOUT, POOL_OPTIONS, _Pool, pool_options
from .shape import broadcast_to, reshape
from .windows import Fail, check_rank, flag_option, from_nchw, ints, nchw_shape, planes_first, to_nchw


def avg_options(spatial: int, options: dict, fail: Fail) -> dict:
    """The pooling options, ``count_include_pad`` and ``divisor_override`` as the ops hold them."""
    divisor = options["divisor_override"]
    if divisor is not None and (not ints(divisor, 1, -(2**62)) or isinstance(divisor, (tuple, list)) or divisor == 0):
        raise fail("divisor_override", "is not None or a non-zero int")
    return dict(
        pool_options(spatial, options, fail),
        count_include_pad=flag_option(options, "count_include_pad", fail),
        divisor_override=None if divisor is None else int(divisor),
    )


AVG_OPTIONS = POOL_OPTIONS + ("count_include_pad", "divisor_override")


def _window_sizes(n: int, k: int, s: int, pad: tuple, out: int, include_pad: bool) -> np.ndarray:
    """How many elements each window along one axis divides by (PyTorch's rule: the window
    clipped to the padded input, or with count_include_pad=False to the input itself)."""
    start = np.arange(out) * s - pad[0]
    end = np.minimum(start + k, n + pad[1])
    return end - start if include_pad else np.minimum(end, n) - np.maximum(start, 0)


class AvgPool2D(_Pool):
    """Mean over each window of (N, C, H, W) or (C, H, W), dividing by the window size counting
    zero padding (``count_include_pad``), or not, or by ``divisor_override``; vjp: g / divisor
    spread back over every window (col2im)."""

    dtypes = FLOAT
    vjp_reads = ()  # the input's shape only
    count_include_pad = True
    divisor_override = None
    label = "avg_pool"

    def check_options(self) -> None:
        self.__dict__.update(avg_options(self.spatial, {k: getattr(self, k) for k in AVG_OPTIONS}, self.option_error))

    formula = "avgpool({0})"
    derivatives = ("1/(kh·kw)",)

    def divisor(self, h: int, w: int, dtype: np.dtype) -> Any:
        """A number, or one per output position (OH, OW) where windows hold different counts."""
        if self.divisor_override is not None:
            return dtype.type(self.divisor_override)
        win = self.window
        sizes = [
            _window_sizes(n, k, s, p, o, self.count_include_pad)
            for n, k, s, p, o in zip((h, w), win.kernel, win.stride, win.pad, win.out_size(h, w))
        ]
        if sizes[0].min(initial=0) == sizes[0].max(initial=0) and sizes[1].min(initial=0) == sizes[1].max(initial=0):
            return dtype.type(sizes[0].max(initial=1) * sizes[1].max(initial=1))
        return np.outer(sizes[0], sizes[1]).astype(dtype)

    def forward(self, x: Any) -> Any:
        x4, flip = planes_first(self._image(x))
        h, w = x4.shape[2:]
        taps = self.window.views(self.window.pad_into(x4), self.window.out_size(h, w))
        total = np.array(next(taps)[1])  # a window has at least one tap
        for _, view in taps:
            np.add(total, view, out=total)
        total /= self.divisor(h, w, total.dtype)
        return from_nchw(flip(total), np.shape(x), self.spatial)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        shape4 = nchw_shape(np.shape(x), self.spatial)
        div = self.divisor(shape4[2], shape4[3], np.asarray(value_of(g)).dtype)
        n, c, oh, ow = nchw_shape(np.shape(g), self.spatial)
        share = reshape(g / div, (n, c, 1, 1, oh, ow))  # div: a number or (OH, OW), which broadcasts
        spread = broadcast_to(share, (n, c) + self.window.kernel + (oh, ow))
        gx = Col2Im.apply(spread, window=self.window, shape_=shape4)
        return (gx if shape4 == np.shape(x) else reshape(gx, np.shape(x)),)


class AvgPool1D(AvgPool2D):
    """Mean over each window of (N, C, L) or (C, L)."""

    spatial = 1
    kernel_size, padding, dilation = (2,), (0,), (1,)


# ---------------------------------------------------------------- adaptive average pooling
@functools.lru_cache(maxsize=64)
def _bins(n_in: int, n_out: int, dtype: str) -> np.ndarray:
    """(n_out, n_in): row i averages PyTorch's bin i, [⌊i·n_in/n_out⌋, ⌈(i+1)·n_in/n_out⌉)."""
    matrix = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        matrix[i, start:end] = 1.0 / (end - start)
    matrix.flags.writeable = False
    return matrix


class AdaptiveAvgPool2D(Op):
    """Average over ``output_size`` bins that cover the input (PyTorch's bins), as
    A_h · x · A_wᵀ with constant averaging matrices; vjp: A_hᵀ · g · A_w."""

    dtypes = FLOAT
    vjp_reads = ()  # the input's shape only
    spatial = 2
    output_size: Any = (1, 1)  # None: that axis keeps the input's size

    def check_options(self) -> None:
        self.output_size = output_size_option(self.spatial, {"output_size": self.output_size}, self.option_error)

    formula = "adaptive_avgpool({0})"
    derivatives = ("A_h·g·A_wᵀ",)

    def matrices(self, h: int, w: int, dtype: np.dtype) -> tuple:
        oh, ow = (o if o is not None else n for o, n in zip((1,) * (2 - self.spatial) + self.output_size, (h, w)))
        return _bins(h, oh, dtype.str), _bins(w, ow, dtype.str)

    def forward(self, x: Any) -> Any:
        name = f"adaptive_avg_pool{self.spatial}d"
        check_rank(name, np.shape(x), self.spatial, LAYOUT[self.spatial])
        x4 = to_nchw(x, self.spatial)
        if 0 in x4.shape[2:]:  # (no bin would have anything to average; PyTorch refuses it too)
            raise ShapeError(f"{name}: the input of shape {np.shape(x)} is empty along a spatial axis")
        a_h, a_w = self.matrices(x4.shape[2], x4.shape[3], x4.dtype)
        return from_nchw(a_h @ x4 @ a_w.T, np.shape(x), self.spatial)

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any, ...]:
        shape4 = nchw_shape(np.shape(x), self.spatial)
        a_h, a_w = self.matrices(shape4[2], shape4[3], np.asarray(value_of(g)).dtype)
        g4 = reshape(g, nchw_shape(np.shape(g), self.spatial))
        return (reshape(matmul(matmul(a_h.T, g4), a_w), np.shape(x)),)


class AdaptiveAvgPool1D(AdaptiveAvgPool2D):
    """Average over ``output_size`` bins of (N, C, L) or (C, L)."""

    spatial = 1
    output_size = (1,)


def output_size_option(spatial: int, options: dict, fail: Fail) -> tuple:
    """adaptive pooling's ``output_size``: ``spatial`` ints >= 1 or None (keep that axis)."""
    value = options["output_size"]
    items = (value,) * spatial if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != spatial or not all(v is None or ints(v, 1, 1) and not isinstance(v, (tuple, list)) for v in items):
        raise fail(
            "output_size",
            "is not an int >= 1"
            + (" or None" if spatial == 1 else ", or a pair of them (None keeps that axis's size)"),
        )
    return tuple(None if v is None else int(v) for v in items)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.avg_pool2d``."""
    return AvgPool2D.apply(
        input,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """Average pooling over (N, C, L) or (C, L), as ``torch.nn.functional.avg_pool1d``."""
    return AvgPool1D.apply(
        input,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average pooling to a fixed ``output_size`` (an int, a pair, None keeps an axis), as
    ``torch.nn.functional.adaptive_avg_pool2d``; ``1`` is global average pooling."""
    return AdaptiveAvgPool2D.apply(input, output_size=output_size)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` bins."""
    return AdaptiveAvgPool1D.apply(input, output_size=output_size)
