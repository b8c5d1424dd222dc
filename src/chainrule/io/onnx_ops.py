"""The ONNX op table: for each chainrule op class, one small function that emits
the ONNX operators (opset ``OPSET``) computing the same thing, and the op
options it reads; each writes into a ``Builder`` (``onnx_graph.py``).

An op option (an attribute set when the node was built, such as ``stride``)
that its entry does not list, with a value other than the class default, is
refused by ``unhandled_options``: an op gaining an option later can never be
exported as if it did not have it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..errors import ExportError
from ..nn import deferred
from ..node import Node
from ..ops.indexing import _Slot
from .onnx_graph import Builder

OPSET = 17
_BIG, _SMALL = int(np.iinfo(np.int64).max), int(np.iinfo(np.int64).min)  # ONNX Slice's "to the end"


class Entry(NamedTuple):
    emit: Callable[[Builder, Any], str]
    options: frozenset


def unhandled_options(op: Node, handled: frozenset) -> str:
    """``op``'s options that its entry does not read and that differ from the defaults, as text."""
    bad = []
    for key, value in vars(op).items():
        if key.startswith("_") or key in handled:
            continue
        default: Any = getattr(type(op), key, None)  # the class's value for the option, if any
        try:
            same = value is default or (np.shape(value) == np.shape(default) and bool(np.all(value == default)))
        except (TypeError, ValueError):
            same = False
        if not same:
            bad.append(f"{key}={value!r}")
    return ", ".join(bad)


def _axes(axis: Any, ndim: int) -> list[int]:
    """The reduced axes, non-negative and sorted (all of them for None)."""
    if axis is None:
        return list(range(ndim))
    return sorted(int(a) % ndim for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))


def _reduce_to(b: Builder, onnx_op: str, x: str, axes: list[int], keepdims: bool) -> str:
    if not axes:  # nothing to reduce (a 0-d input, or axis=())
        return b.add("Identity", [x])
    if onnx_op == "ReduceSum":  # from opset 13 its axes are an input; the others' until opset 18 an attribute
        return b.add(onnx_op, [x, b.ints(axes)], keepdims=int(keepdims))
    return b.add(onnx_op, [x], axes=axes, keepdims=int(keepdims))


def _dtype(op: Node) -> np.dtype:
    return np.asarray(op.value).dtype


# ---------------------------------------------------------------- elementwise and activations
def _direct(onnx_op: str) -> Callable[[Builder, Any], str]:
    """An op that is one ONNX operator on its inputs (all in the output's dtype)."""

    def emit(b: Builder, op: Any) -> str:
        return b.add(onnx_op, b.same(op))

    return emit


def _leaky_relu(b: Builder, op: Any) -> str:
    return b.add("LeakyRelu", b.same(op), alpha=float(op.negative_slope))


def _softmax(onnx_op: str) -> Callable[[Builder, Any], str]:
    def emit(b: Builder, op: Any) -> str:
        return b.add(onnx_op, b.same(op), axis=int(op.axis))

    return emit


def _gelu(b: Builder, op: Any) -> str:
    """0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), or 0.5·x·(1 + erf(x/√2)) for the exact form."""
    (x,), dt = b.same(op), _dtype(op)
    mode = getattr(op, "approximate", "tanh")
    if mode == "tanh":
        cube = b.add("Mul", [b.scalar(0.044715, dt), b.add("Mul", [x, b.add("Mul", [x, x])])])
        gate = b.add("Tanh", [b.add("Mul", [b.scalar(math.sqrt(2 / math.pi), dt), b.add("Add", [x, cube])])])
    elif mode == "none":
        gate = b.add("Erf", [b.add("Mul", [x, b.scalar(1 / math.sqrt(2), dt)])])
    else:
        raise ExportError(f"ONNX export of GELU ('{op.name}') knows approximate='tanh' and 'none', not {mode!r}")
    return b.add("Mul", [b.add("Mul", [b.scalar(0.5, dt), x]), b.add("Add", [b.scalar(1.0, dt), gate])])


def _clip(b: Builder, op: Any) -> str:
    """min(max(x, low), high), as np.clip (the bounds are inputs: numbers, arrays or nodes)."""
    x, *bounds = b.same(op)
    if op.has_low:
        x = b.add("Max", [x, bounds.pop(0)])
    if op.has_high:
        x = b.add("Min", [x, bounds.pop(0)])
    return x


def _cast(b: Builder, op: Any) -> str:
    return b.add("Cast", [b.value(op.inputs[0])], to=b.helper.np_dtype_to_tensor_dtype(np.dtype(op.dtype_)))


_RELATIONS = {"<": "Less", "<=": "LessOrEqual", ">": "Greater", ">=": "GreaterOrEqual", "==": "Equal"}


def _compare(b: Builder, op: Any) -> str:
    dt = np.result_type(*(np.asarray(i.value) for i in op.inputs))
    a, c = (b.value(i, dt) for i in op.inputs)
    if op.relation == "!=":
        return b.add("Not", [b.add("Equal", [a, c])])
    return b.add(_RELATIONS[op.relation], [a, c])


def _where(b: Builder, op: Any) -> str:
    cond, a, c = op.inputs
    return b.add("Where", [b.value(cond, np.bool_), b.value(a, _dtype(op)), b.value(c, _dtype(op))])


# ---------------------------------------------------------------- linear algebra, convolution, pooling
def _linear(b: Builder, op: Any) -> str:
    """The lesson's node: x @ k + b for matrices, k·x + b otherwise."""
    x, k, bias = b.same(op)
    matrix = ops.Linear._is_matrix(op.inputs[0].value, op.inputs[1].value)
    return b.add("Add", [b.add("MatMul", [x, k]) if matrix else b.add("Mul", [k, x]), bias])


def _conv2d(b: Builder, op: Any) -> str:
    kh, kw = np.shape(op.inputs[1].value)[2:]
    (top, bottom), (left, right) = op.window((int(kh), int(kw))).pad  # padding as numbers, "same" or "valid"
    return b.add(
        "Conv",
        b.same(op),
        kernel_shape=[int(kh), int(kw)],
        strides=list(op.stride),
        pads=[top, left, bottom, right],
        dilations=list(getattr(op, "dilation", (1, 1))),
        group=int(getattr(op, "groups", 1)),
    )


def _pool(onnx_op: str, **fixed: Any) -> Callable[[Builder, Any], str]:
    def emit(b: Builder, op: Any) -> str:
        (ph, pw) = op.padding
        return b.add(
            onnx_op,
            b.same(op),
            kernel_shape=list(op.kernel_size),
            strides=list(op.stride),
            pads=[ph, pw, ph, pw],
            **fixed,
        )

    return emit


# ---------------------------------------------------------------- reductions and the MSE loss
def _reduce(onnx_op: str) -> Callable[[Builder, Any], str]:
    def emit(b: Builder, op: Any) -> str:
        (x,) = b.same(op)
        axes = _axes(op.axis, np.ndim(op.inputs[0].value))
        if 0 in axes:
            b.reduced.add(id(op))
        return _reduce_to(b, onnx_op, x, axes, op.keepdims)

    return emit


def _var(b: Builder, op: Any) -> str:
    """mean((x - mean x)²) over the axes, times n/(n - ddof)."""
    (x,), source = b.same(op), op.inputs[0]
    shape = np.shape(source.value)
    axes = _axes(op.axis, len(shape))
    if not axes:
        raise ExportError(f"ONNX export of Var ('{op.name}') over no axes is not supported")
    if 0 in axes:
        b.reduced.add(id(op))
    d = b.add("Sub", [x, _reduce_to(b, "ReduceMean", x, axes, True)])
    out = _reduce_to(b, "ReduceMean", b.add("Mul", [d, d]), axes, op.keepdims)
    if op.ddof:
        if b.is_batched(source) and 0 in axes:
            raise ExportError(
                f"ONNX export of Var ('{op.name}') with ddof={op.ddof} over the batch axis "
                f"would fix the batch size; use dynamic_batch=False"
            )
        n = math.prod(shape[a] for a in axes)
        out = b.add("Mul", [out, b.scalar(n / (n - op.ddof), _dtype(op))])
    return out


def _mse(b: Builder, op: Any) -> str:
    y, yhat = b.same(op)
    d = b.add("Sub", [y, yhat])
    squares = b.add("Mul", [d, d])
    if op.reduction == "none":
        return squares
    kind = {"mean": "ReduceMean", "sum": "ReduceSum"}[op.reduction]
    return _reduce_to(b, kind, squares, list(range(np.ndim(op.inputs[0].value))), False)


# ---------------------------------------------------------------- shapes
def _reshape(b: Builder, op: Any) -> str:
    """Reshape, Flatten, Unflatten: the traced output's shape, the batch axis left to the input."""
    (x,) = op.inputs
    target = [int(d) for d in np.shape(op.value)]
    if b.is_batched(x) and target and np.shape(op.value)[:1] == np.shape(x.value)[:1]:
        target[0] = 0  # ONNX's "copy this axis from the input": the batch, whatever its size
    return b.add("Reshape", [b.value(x), b.ints(target)])


def _input_check(b: Builder, op: Any) -> str:
    """A layer's input: its checks were made when traced; the cast to the layer's dtype stays."""
    return b.add("Identity", [b.value(op.inputs[0], _dtype(op))])


def _standardize(b: Builder, op: Any) -> str:
    """(x - mean x) / √(mean((x - mean x)²) + ε) over the op's axes (LayerNorm without its affine part)."""
    (x,), n = b.same(op), np.ndim(op.inputs[0].value)
    axes = list(op.axes(n))
    if 0 in axes:
        b.reduced.add(id(op))
    d = b.add("Sub", [x, _reduce_to(b, "ReduceMean", x, axes, True)])
    variance = _reduce_to(b, "ReduceMean", b.add("Mul", [d, d]), axes, True)
    return b.add("Div", [d, b.add("Sqrt", [b.add("Add", [variance, b.scalar(op.eps, _dtype(op))])])])


def _squeeze(b: Builder, op: Any) -> str:
    (x,) = op.inputs
    shape = np.shape(x.value)
    axes = _axes(op.axis, len(shape)) if op.axis is not None else [i for i, n in enumerate(shape) if n == 1]
    return b.add("Squeeze", [b.value(x), b.ints(axes)]) if axes else b.add("Identity", [b.value(x)])


def _unsqueeze(b: Builder, op: Any) -> str:
    axes = [op.axis] if isinstance(op.axis, (int, np.integer)) else list(op.axis)
    return b.add("Unsqueeze", [b.value(op.inputs[0]), b.ints(axes)])


def _transpose(b: Builder, op: Any) -> str:
    n = np.ndim(op.inputs[0].value)
    perm = list(range(n))[::-1] if op.axes is None else [int(a) % n for a in op.axes]
    return b.add("Transpose", [b.value(op.inputs[0])], perm=perm)


def _swapaxes(b: Builder, op: Any) -> str:
    n = np.ndim(op.inputs[0].value)
    if n < 2 and (op.axis1, op.axis2) == (-1, -2):
        return b.add("Identity", [b.value(op.inputs[0])])
    perm = list(range(n))
    i, j = op.axis1 % n, op.axis2 % n
    perm[i], perm[j] = perm[j], perm[i]
    return b.add("Transpose", [b.value(op.inputs[0])], perm=perm)


def _broadcast_to(b: Builder, op: Any) -> str:
    (x,) = op.inputs
    target = list(np.shape(op.value))
    if b.is_batched(x) and np.ndim(x.value) == len(target) and target[0] == np.shape(x.value)[0]:
        target[0] = 1  # Expand broadcasts 1 against the input's batch axis, whatever its size
    return b.add("Expand", [b.value(x), b.ints(target)])


def _concat(b: Builder, op: Any) -> str:
    return b.add("Concat", b.same(op), axis=int(op.axis))


def _stack(b: Builder, op: Any) -> str:
    axis = b.ints([op.axis])
    return b.add("Concat", [b.add("Unsqueeze", [x, axis]) for x in b.same(op)], axis=int(op.axis))


def _pad(b: Builder, op: Any) -> str:
    (x,), dt = b.same(op), _dtype(op)
    widths = np.broadcast_to(np.asarray(op.pad_width, dtype=np.int64), (np.ndim(op.value), 2))
    return b.add(
        "Pad",
        [x, b.ints(np.concatenate([widths[:, 0], widths[:, 1]])), b.constant(np.asarray(op.fill, dt), "fill")],
        mode="constant",
    )


def _getitem(b: Builder, op: Any) -> str:
    """A lookup by one integer array (Embedding: Gather), or basic indexing (Slice, Squeeze)."""
    index, x = op.index, b.value(op.inputs[0])
    if isinstance(index, _Slot) and len(op.inputs) == 2:
        return b.add("Gather", [x, b.value(op.inputs[1], np.int64)], axis=0)
    if isinstance(index, (np.ndarray, list)) and np.asarray(index).dtype.kind in "iu":
        return b.add("Gather", [x, b.constant(np.asarray(index, np.int64), "indices")], axis=0)
    parts = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(p, (int, np.integer, slice, type(Ellipsis))) for p in parts) or parts.count(...) > 1:
        raise ExportError(
            f"ONNX export of GetItem ('{op.name}') handles ints, slices, '...' and one integer "
            f"array on the first axis, not the index {index!r}"
        )
    if ... in parts:
        i = parts.index(...)
        parts = parts[:i] + (slice(None),) * (np.ndim(op.inputs[0].value) - len(parts) + 1) + parts[i + 1 :]
    starts: list[int] = []
    ends: list[int] = []
    axes: list[int] = []
    steps: list[int] = []
    dropped: list[int] = []
    for axis, p in enumerate(parts):
        if isinstance(p, slice):
            if p == slice(None):
                continue
            step = 1 if p.step is None else int(p.step)
            start, stop = p.start, p.stop
            start = (0 if step > 0 else _BIG) if start is None else int(start)
            stop = (_BIG if step > 0 else _SMALL) if stop is None else int(stop)
        else:
            start, stop, step = int(p), (int(p) + 1 or _BIG), 1
            dropped.append(axis)
        starts, ends, axes, steps = starts + [start], ends + [stop], axes + [axis], steps + [step]
    out = x
    if axes:
        out = b.add("Slice", [out, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if dropped:
        out = b.add("Squeeze", [out, b.ints(dropped)])
    return out if out != x else b.add("Identity", [x])


def _entry(emit: Callable[[Builder, Any], str], *options: str) -> Entry:
    return Entry(emit, frozenset(options))


# ---------------------------------------------------------------- the table: op class -> ONNX
TABLE: dict[type, Entry] = {
    ops.Add: _entry(_direct("Add")),
    ops.Sub: _entry(_direct("Sub")),
    ops.Mul: _entry(_direct("Mul")),
    ops.Div: _entry(_direct("Div")),
    ops.Pow: _entry(_direct("Pow")),
    ops.Neg: _entry(_direct("Neg")),
    ops.Abs: _entry(_direct("Abs")),
    ops.Exp: _entry(_direct("Exp")),
    ops.Log: _entry(_direct("Log")),
    ops.Sqrt: _entry(_direct("Sqrt")),
    ops.Sin: _entry(_direct("Sin")),
    ops.Cos: _entry(_direct("Cos")),
    ops.Sign: _entry(_direct("Sign")),
    ops.Maximum: _entry(_direct("Max")),
    ops.Minimum: _entry(_direct("Min")),
    ops.Clip: _entry(_clip, "has_low", "has_high"),
    ops.Where: _entry(_where),
    ops.Cast: _entry(_cast, "dtype_"),
    ops.Compare: _entry(_compare, "relation"),
    ops.Sigmoid: _entry(_direct("Sigmoid")),
    ops.Tanh: _entry(_direct("Tanh")),
    ops.ReLU: _entry(_direct("Relu")),
    ops.Softplus: _entry(_direct("Softplus")),
    ops.LeakyReLU: _entry(_leaky_relu, "negative_slope"),
    ops.GELU: _entry(_gelu, "approximate"),
    ops.Softmax: _entry(_softmax("Softmax"), "axis"),
    ops.LogSoftmax: _entry(_softmax("LogSoftmax"), "axis"),
    ops.MatMul: _entry(_direct("MatMul")),
    ops.Linear: _entry(_linear),
    ops.Conv2D: _entry(_conv2d, "stride", "padding", "dilation", "groups"),
    ops.MaxPool2D: _entry(_pool("MaxPool"), "kernel_size", "stride", "padding"),
    ops.AvgPool2D: _entry(_pool("AveragePool", count_include_pad=1), "kernel_size", "stride", "padding"),
    ops.Sum: _entry(_reduce("ReduceSum"), "axis", "keepdims"),
    ops.Mean: _entry(_reduce("ReduceMean"), "axis", "keepdims"),
    ops.Max: _entry(_reduce("ReduceMax"), "axis", "keepdims"),
    ops.Min: _entry(_reduce("ReduceMin"), "axis", "keepdims"),
    ops.Var: _entry(_var, "axis", "keepdims", "ddof"),
    ops.MSE: _entry(_mse, "reduction"),
    ops.Reshape: _entry(_reshape, "shape_"),
    ops.Squeeze: _entry(_squeeze, "axis"),
    ops.ExpandDims: _entry(_unsqueeze, "axis"),
    ops.Transpose: _entry(_transpose, "axes"),
    ops.SwapAxes: _entry(_swapaxes, "axis1", "axis2"),
    ops.BroadcastTo: _entry(_broadcast_to, "shape_"),
    ops.Concat: _entry(_concat, "axis"),
    ops.Stack: _entry(_stack, "axis"),
    ops.Pad: _entry(_pad, "pad_width", "fill"),
    ops.GetItem: _entry(_getitem, "index"),
    # the layers' own ops (nn/deferred.py)
    deferred.Flatten: _entry(_reshape, "start_dim", "end_dim"),
    deferred.Unflatten: _entry(_reshape, "dim", "sizes"),
    deferred.Standardize: _entry(_standardize, "count", "eps"),
    deferred.InputCheck: _entry(_input_check, "checks", "dtype_"),
}
