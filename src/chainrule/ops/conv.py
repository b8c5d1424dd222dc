"""Convolution, 1-D and 2-D, as ``torch.nn.functional.conv1d``/``conv2d`` (cross-correlation,
what deep learning calls convolution): ``stride``, ``padding`` (ints, ``"same"``,
``"valid"``), ``dilation``, ``groups`` (depthwise included), unbatched inputs.

    out[n, o] = Σ_{c in o's group} Σ_{i,j} x[n, c, s·y + d·i, s·x + d·j] · w[o, c, i, j] + b[o]

Three ops, each bilinear, close under differentiation, so a convolution can be
differentiated as often as you like and every vjp is one of the three:

    y  = conv(x, w)                 Conv1D / Conv2D (plus the bias)
    gx = conv_input_grad(g, w)      ∂⟨g, conv(x, w)⟩/∂x  (the transposed convolution)
    gw = conv_weight_grad(x, g)     ∂⟨g, conv(x, w)⟩/∂w

since ⟨g, conv(x, w)⟩ = ⟨conv_input_grad(g, w), x⟩ = ⟨conv_weight_grad(x, g), w⟩.
Each computes as a few matrix products per chunk of images on im2col columns
(``columns.py``): y = W·cols, gw = Σ g·colsᵀ, gx = col2im(Wᵀ·g).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..broadcast import accurate_sum
from ..dtype import PROMOTE
from ..errors import ShapeError
from ..node import Node
from ..op import Op
from .columns import Columns
from .reduce import sum as reduce_sum
from .threads import each
from .windows import Fail, Window, check_rank, from_nchw, ints, ints_option, nchw_shape, pair, symmetric, to_nchw

LAYOUT = {1: "NCL", 2: "NCHW"}


# ---------------------------------------------------------------- array kernels (canonical NCHW)
def channel_major(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A new (N, C, H, W) array laid out as (C, N, H, W): returned as the (C, N, H, W) array."""
    return np.empty((shape[1], shape[0]) + tuple(shape[2:]), dtype=dtype)


# Columns of at most this many bytes are kept from the forward pass for the weight gradient when
# the batch is one chunk: rebuilding them costs more than holding them (W7: 60 of 150 µs a vjp).
KEEP_BYTES = 1 << 20


def conv_array(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, win: Window, groups: int, keep: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """conv(x, w) + b on (N, C, H, W) and (O, C/groups, kh, kw) arrays: W·cols per chunk, into a
    channel-major result; with ``keep``, also the columns (C·kh·kw, N·P) if they are small
    enough to keep (``KEEP_BYTES``, one chunk), else None.

    With one group the bias rides in the product, as one more column of W over a row of ones
    under the columns, instead of one more pass over the output (W7: 17 µs of 90)."""
    o = w.shape[0]
    plan = Columns(x.shape, win, o, x.dtype)
    out = channel_major((x.shape[0], o, plan.oh, plan.ow), np.result_type(x, w))
    wm = w.reshape(groups, o // groups, -1)
    fold = False
    if b is not None and groups == 1:
        wm, fold = np.concatenate([wm, np.reshape(b, (1, o, 1))], axis=2), True
    rows = plan.k + fold
    kept = np.empty((rows, x.shape[0] * plan.p), x.dtype) if keep and plan.whole(KEEP_BYTES) else None

    def chunk(bounds: tuple[int, int]) -> None:
        n0, n1 = bounds
        block = plan.buffer("cols", (rows, (n1 - n0) * plan.p)) if kept is None else kept
        plan.chunk_columns(x, n0, n1, into=block[: plan.k])
        if fold:
            block[plan.k] = 1
        prod = plan.products(out[:, n0:n1])
        np.matmul(wm, block.reshape(groups, -1, block.shape[1]), out=prod.reshape(groups, o // groups, -1))
        if b is not None and not fold:
            out[:, n0:n1] += np.reshape(b, (-1, 1, 1, 1))

    each(chunk, list(plan.chunks()), plan.nbytes)
    return out.transpose(1, 0, 2, 3), None if kept is None else kept[: plan.k]


def conv_grads_array(
    g: np.ndarray,
    w: np.ndarray | None,
    x: np.ndarray | None,
    xshape: tuple,
    wshape: tuple,
    win: Window,
    groups: int,
    columns: np.ndarray | None = None,
) -> tuple:
    """The gradients of ⟨g, conv(x, w)⟩ for x of ``xshape`` and w of ``wshape``: with ``w``,
    ∂/∂x = col2im(Wᵀ·g) (channel-major), with ``x``, ∂/∂w = Σ g·colsᵀ; each chunk's view of g
    serves both. ``columns``: x's, as ``conv_array`` kept them (else they are built again)."""
    o, dtype = wshape[0], np.result_type(*(a for a in (g, w, x) if a is not None))
    plan = Columns(xshape, win, o, dtype)
    if columns is not None and not (plan.whole(KEEP_BYTES) and columns.dtype == dtype):
        columns = None
    og, kg = o // groups, plan.k // groups
    gx = None if w is None else channel_major(xshape, dtype)

    def chunk(bounds: tuple[int, int]) -> np.ndarray | None:
        """Writes the chunk's images of gx; returns its share of gw."""
        n0, n1 = bounds
        gr = plan.rows(g[n0:n1]).reshape(groups, og, -1)
        part, cols = None, None
        if x is not None:
            cols = (plan.chunk_columns(x, n0, n1) if columns is None else columns).reshape(groups, kg, -1)
            if kg >= og:  # OpenBLAS runs cols·grᵀ faster than gr·colsᵀ for taller columns (W9: 20%)
                part = np.matmul(cols, gr.swapaxes(1, 2)).swapaxes(1, 2)
            else:
                part = np.matmul(gr, cols.swapaxes(1, 2))
        if w is not None and gx is not None:  # (gx is there exactly when w is)
            if cols is None:  # else x's columns are used up: gx's columns take their memory
                cols = plan.buffer("columns of g", (groups, kg, gr.shape[2]))
            np.matmul(w.reshape(groups, og, kg).swapaxes(1, 2), gr, out=cols)
            plan.add_back(cols.reshape(plan.k, -1), gx[:, n0:n1])
        return part

    parts = each(chunk, list(plan.chunks()), plan.nbytes)
    gw = None
    if x is not None:  # the chunks' shares summed in order, whichever thread computed them
        gw = np.zeros((groups, og, kg), dtype=dtype)
        for part in parts:
            gw += part
    return (None if gx is None else gx.transpose(1, 0, 2, 3)), (None if gw is None else gw.reshape(wshape))


# ---------------------------------------------------------------- options
def conv_options(spatial: int, options: dict, fail: Fail) -> dict:
    """``stride``, ``padding``, ``dilation`` and ``groups`` as the ops hold them (tuples of
    ``spatial`` ints, or a padding mode), or raise ``fail(option, allowed)`` for what PyTorch
    refuses. The ops run it when a node is built; the layers when they are."""
    stride = ints_option(options, "stride", spatial, 1, fail)
    padding = options["padding"]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise fail("padding", f"is not 'same', 'valid', an int >= 0 or {spatial} of them")
        if padding == "same" and stride != (1,) * spatial:
            raise fail(
                "padding",
                f"is not allowed with stride={options['stride']!r} ('same' needs stride 1, "
                "as in PyTorch: use 'valid' or numbers)",
            )
    else:
        padding = ints_option(options, "padding", spatial, 0, fail)
    groups = options["groups"]
    if not (ints(groups, 1, 1) and not isinstance(groups, (tuple, list))):
        raise fail("groups", "is not an int >= 1 (that divides the input and output channels)")
    return dict(
        stride=stride, padding=padding, dilation=ints_option(options, "dilation", spatial, 1, fail), groups=int(groups)
    )


OPTIONS = ("stride", "padding", "dilation", "groups")


# ---------------------------------------------------------------- the three ops
class _ConvOp(Op):
    """What the three convolution ops share: the options (``spatial`` ints each, or a padding
    mode), checked when a node is built, and the window they give for a kernel size."""

    dtypes = PROMOTE
    spatial = 2
    stride: tuple = (1, 1)
    padding: Any = (0, 0)  # ints, "same" or "valid"
    dilation: tuple = (1, 1)
    groups = 1

    def check_options(self) -> None:
        self.__dict__.update(conv_options(self.spatial, {k: getattr(self, k) for k in OPTIONS}, self.option_error))

    def window(self, kernel: tuple) -> Window:
        """The canonical window for a (kh, kw) kernel."""
        dilation = pair(self.dilation, 1)
        if self.padding == "valid":
            pad = ((0, 0), (0, 0))
        elif self.padding == "same":  # PyTorch puts the odd pixel of an even kernel after
            th, tw = (d * (k - 1) for k, d in zip(kernel, dilation))
            pad = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
        else:
            pad = symmetric(pair(self.padding, 0))
        return Window(tuple(kernel), pair(self.stride, 1), dilation, pad)

    def options(self) -> dict:
        return dict(spatial=self.spatial, **{k: getattr(self, k) for k in OPTIONS})

    @property
    def op_name(self) -> str:
        return f"conv{self.spatial}d"

    def _weight_shape(self, wshape: tuple, xshape: tuple) -> tuple:
        """The canonical (O, C/groups, kh, kw) of a weight shape, checked against the input's."""
        s, channels = self.spatial, nchw_shape(xshape, self.spatial)[1]
        if len(wshape) != s + 2 or wshape[1] * self.groups != channels or wshape[0] % self.groups:
            raise ShapeError(
                f"{self.op_name}: the weight must be (out_channels, in_channels/groups, "
                f"{'k' if s == 1 else 'kh, kw'}) with out_channels divisible by groups={self.groups}; "
                f"got weight {wshape} for input {xshape} ({channels} channels)"
            )
        return tuple(wshape[:2]) + (1,) * (2 - s) + tuple(wshape[2:])

    def geometry(self, xshape: tuple, wshape: tuple) -> tuple[tuple, tuple, Window]:
        """The canonical input and weight shapes (checked against each other) and the window."""
        w4 = self._weight_shape(wshape, xshape)
        return nchw_shape(xshape, self.spatial), w4, self.window(w4[2:])


class Conv2D(_ConvOp):
    """2-D convolution of (N, C, H, W) by (O, C/groups, kh, kw) plus bias (O,), as
    ``torch.nn.functional.conv2d``. ∂/∂x = conv_input_grad(g, W), ∂/∂W = conv_weight_grad(x, g),
    ∂/∂b = Σ g over every axis but the channels."""

    vjp_reads = ("inputs",)  # x and W (the bias only as present or not), not the output
    formula = "conv2d({0}, {1})"
    derivatives = ("conv_transpose(g, W)", "Σ g·windows(x)", "Σ g")
    saved_for_backward = ("_columns",)
    _columns = None  # (x, its columns) from the forward pass, for the weight gradient (small ones only)

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        check_rank(self.op_name, np.shape(x), self.spatial, LAYOUT[self.spatial])
        x4, w4, win = self.geometry(np.shape(x), np.shape(w))
        if b is not None and np.shape(b) != w4[:1]:
            raise ShapeError(f"{self.op_name}: the bias must have shape {w4[:1]}, got {np.shape(b)}")
        win.check(self.op_name, x4, np.shape(x))
        keep = getattr(self, "requires_grad", False) and self.inputs[1].requires_grad  # (False on arrays)
        out, columns = conv_array(np.reshape(x, x4), np.reshape(w, w4), b, win, self.groups, keep)
        self._columns = None if columns is None else (x, columns)
        return from_nchw(out, np.shape(x), self.spatial)

    def vjp(self, g: Any, out: Any, x: Any, w: Any, b: Any = None) -> tuple[Any, ...]:
        need = [node.requires_grad for node in self.inputs]
        saved, self._columns = self._columns, None  # (used once: a second backward builds them again)
        if isinstance(g, Node):  # create_graph: the gradients as ops, differentiable again
            gx = conv_input_grad(g, w, np.shape(x), **self.options()) if need[0] else None
            gw = conv_weight_grad(x, g, np.shape(w), **self.options()) if need[1] else None
        else:
            columns = saved[1] if saved is not None and saved[0] is x else None  # this x's, from the forward
            gx, gw = self._array_grads(g, x, w, need, columns)
        if b is None:
            return (gx, gw)
        axes = tuple(a for a in range(np.ndim(g)) if a != np.ndim(g) - self.spatial - 1)  # all but channels
        if not need[2]:
            return (gx, gw, None)
        # on arrays, the Sum op's own arithmetic without building its node (half its cost on W7)
        return (gx, gw, reduce_sum(g, axis=axes) if isinstance(g, Node) else accurate_sum(g, axes))

    def _array_grads(self, g: np.ndarray, x: np.ndarray, w: np.ndarray, need: list, columns: Any = None) -> tuple:
        """The ordinary backward, on arrays: what ConvInputGrad and ConvWeightGrad compute, in one
        pass over the chunks of g (``columns``: x's, if the forward kept them)."""
        x4, w4, win = self.geometry(np.shape(x), np.shape(w))
        gx, gw = conv_grads_array(
            to_nchw(g, self.spatial),
            np.reshape(w, w4) if need[0] else None,
            np.reshape(x, x4) if need[1] else None,
            x4,
            w4,
            win,
            self.groups,
            columns,
        )
        return tuple(None if a is None else a.reshape(np.shape(like)) for a, like in ((gx, x), (gw, w)))


class Conv1D(Conv2D):
    """1-D convolution of (N, C, L) by (O, C/groups, k) plus bias (O,), as
    ``torch.nn.functional.conv1d`` (the 2-D one on (N, C, 1, L))."""

    spatial = 1
    stride, padding, dilation = (1,), (0,), (1,)
    formula = "conv1d({0}, {1})"


class ConvInputGrad(_ConvOp):
    """gx = ∂⟨g, conv(x, w)⟩/∂x for x of shape ``shape_``: the transposed convolution of g by w.
    Bilinear in (g, w): its vjp for v is (conv(v, w), conv_weight_grad(v, g))."""

    shape_ = ()
    formula = "conv_transpose({0}, {1})"
    derivatives = ("conv(·, W)", "Σ windows(·)·g")

    def forward(self, g: Any, w: Any) -> Any:
        x4, w4, win = self.geometry(self.shape_, np.shape(w))
        gx, _ = conv_grads_array(to_nchw(g, self.spatial), np.reshape(w, w4), None, x4, w4, win, self.groups)
        return gx.reshape(self.shape_)

    def vjp(self, v: Any, out: Any, g: Any, w: Any) -> tuple[Any, ...]:
        need = [node.requires_grad for node in self.inputs]
        return (
            conv(v, w, **self.options()) if need[0] else None,
            conv_weight_grad(v, g, np.shape(w), **self.options()) if need[1] else None,
        )


class ConvWeightGrad(_ConvOp):
    """gw = ∂⟨g, conv(x, w)⟩/∂w for w of shape ``shape_``: Σ g · (x's windows)ᵀ.
    Bilinear in (x, g): its vjp for v is (conv_input_grad(g, v), conv(x, v))."""

    shape_ = ()
    formula = "conv_weight_grad({0}, {1})"
    derivatives = ("conv_transpose(g, ·)", "conv(x, ·)")

    def forward(self, x: Any, g: Any) -> Any:
        x4, w4, win = self.geometry(np.shape(x), self.shape_)
        _, gw = conv_grads_array(to_nchw(g, self.spatial), None, np.reshape(x, x4), x4, w4, win, self.groups)
        return gw.reshape(self.shape_)

    def vjp(self, v: Any, out: Any, x: Any, g: Any) -> tuple[Any, ...]:
        need = [node.requires_grad for node in self.inputs]
        return (
            conv_input_grad(g, v, np.shape(x), **self.options()) if need[0] else None,
            conv(x, v, **self.options()) if need[1] else None,
        )


def conv(x: Any, w: Any, b: Any = None, *, spatial: int = 2, **options: Any) -> Any:
    """The convolution op for ``spatial`` axes."""
    cls = Conv1D if spatial == 1 else Conv2D
    return cls.apply(x, w, **options) if b is None else cls.apply(x, w, b, **options)


def conv_input_grad(g: Any, w: Any, shape: tuple, **options: Any) -> Any:
    return ConvInputGrad.apply(g, w, shape_=tuple(shape), **options)


def conv_weight_grad(x: Any, g: Any, shape: tuple, **options: Any) -> Any:
    return ConvWeightGrad.apply(x, g, shape_=tuple(shape), **options)


# ---------------------------------------------------------------- the public functions
def conv2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Any:
    """2-D convolution of ``input`` (N, C, H, W) or (C, H, W) by ``weight`` (O, C/groups, kh, kw),
    plus ``bias`` (O,), as ``torch.nn.functional.conv2d``. ``padding``: an int, a pair, ``"same"``
    (output as large as the input, stride 1) or ``"valid"`` (none); ``groups=C`` is depthwise."""
    return conv(input, weight, bias, spatial=2, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Any:
    """1-D convolution of ``input`` (N, C, L) or (C, L) by ``weight`` (O, C/groups, k), plus ``bias``
    (O,), as ``torch.nn.functional.conv1d`` (options as in ``conv2d``, one int each)."""
    return conv(input, weight, bias, spatial=1, stride=stride, padding=padding, dilation=dilation, groups=groups)
