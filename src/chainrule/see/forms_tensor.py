"""The formulas of the ops that mix elements: matrix products, einsum, losses, shapes, moves, windows
(reductions: forms_reduce.py).

Each rule returns the vjp along one edge as a ``Sym``. Where an op divides by
a count (a loss's 1/N) the formula writes ``n`` and a note gives its value.
An op that only moves elements moves the gradient back with a function the
parser knows where one says it exactly (``flip(g, axis=0)``, ``tril(g)``,
``scatter_along(g, t, axis=1, shape=(3, 4))``: zeros with g added where
gather took from); where that would take the engine's own bookkeeping
(indexing, concatenation, padding, convolution windows) the formula names the
movement (``scatter(g)``), which reads unambiguously though only the engine
computes it.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np

from .. import ops
from ..node import Node
from ..ops.contraction import gradient_terms
from ..ops.contraction import parse as einsum_terms
from . import symbols as s
from .edges import Edge, Rule, rule
from .symbols import Sym

TWO, MINUS_TWO, ZERO = Sym("2"), s.name("-2"), Sym("0")
Loss: TypeAlias = ops.MSE | ops.BinaryCrossEntropy | ops.BCEWithLogits | ops.CrossEntropy | ops.NLLLoss


# ---------------------------------------------------------------- matrix products
def _matmul(e: Edge[Node], index: int) -> Sym | None:
    """∂(A @ B): g @ Bᵀ and Aᵀ @ g, with NumPy's vector cases (a 1-D operand is promoted)."""
    a, b, g = e.x(0), e.x(1), e.g
    a_dims, b_dims = np.ndim(e.whole(0)), np.ndim(e.whole(1))
    if a_dims == 1 and b_dims == 1:  # an inner product: a number
        return s.times(g, b if index == 0 else a)
    if (a_dims == 1 and b_dims > 2) or (b_dims == 1 and a_dims > 2):
        return None  # a vector against a batch of matrices: no short formula
    if a_dims == 1:
        return s.matmul(b, g) if index == 0 else s.call("outer", a, g, scalar=False)
    if b_dims == 1:
        return s.call("outer", g, b, scalar=False) if index == 0 else s.matmul(s.transpose(a), g)
    return s.matmul(g, s.transpose(b)) if index == 0 else s.matmul(s.transpose(a), g)


@rule(ops.MatMul)
def _matmul_rule(e: Edge[Node]) -> Sym | None:
    return _matmul(e, e.index)


@rule(ops.Linear)
def _linear(e: Edge[ops.Linear]) -> Sym | None:
    if e.index == 2:
        return e.g
    if e.op._matrix_mode():  # x @ k + b
        return _matmul(e, e.index)
    return s.times(e.g, e.x(1 - e.index))  # k·x + b


@rule(ops.Einsum)
def _einsum(e: Edge[ops.Einsum]) -> Sym:
    """The einsum of g with the other operands, written back to this operand's subscripts
    (``eye(n)`` for a repeated letter, ``ones(n)`` for a letter only this operand has)."""
    others = [j for j in range(len(e.op.inputs)) if j != e.index]
    terms, output = einsum_terms(e.op.subscripts, [np.ndim(e.whole(j)) for j in range(len(e.op.inputs))])
    subs, extras, target = gradient_terms(terms, output, e.index, dict(zip(terms[e.index], np.shape(e.whole(e.index)))))
    operands = (
        [_upstream(e)] + [e.x(j) for j in others] + [s.call(kind, Sym(str(n)), scalar=False) for kind, n in extras]
    )
    if operands[0].one:  # a number's gradient of 1: nothing to contract with
        subs, operands = subs[1:], operands[1:]
    if len(operands) == 1 and subs[0] == target:
        return operands[0]
    return s.call("einsum", Sym(f"'{','.join(subs)}->{target}'"), *operands, scalar=False)


# ---------------------------------------------------------------- losses
def _per_element(e: Edge[Loss], count: int, examples: bool = False) -> tuple[Sym, Sym | None]:
    """The loss's upstream gradient per element, and its 1/n (None when nothing is averaged)."""
    if e.op.reduction == "mean":
        return e.g, e.count(count, examples)
    return e.g, None


def _averaged(g: Sym, body: Sym, n: Sym | None) -> Sym:
    return s.times(g, s.div(body, n) if n is not None else body)


@rule(ops.MSE)
def _mse(e: Edge[ops.MSE]) -> Sym:
    y, yhat = e.x(0), e.x(1)
    g, n = _per_element(e, e.size())
    return _averaged(g, s.times(TWO if e.index == 0 else MINUS_TWO, s.sub(y, yhat)), n)


@rule(ops.BinaryCrossEntropy)
def _bce(e: Edge[ops.BinaryCrossEntropy]) -> Sym:
    p, t = e.x(0), e.x(1)
    g, n = _per_element(e, e.size())
    if e.index == 0:
        p_value = np.asarray(e.value(0))
        if np.any(p_value * (1 - p_value) <= 1e-12):
            e.note("note.bce_clamp", p=p.text)
        return _averaged(g, s.div(s.sub(p, t), s.times(p, s.sub(s.ONE, p))), n)
    return _averaged(g, s.sub(s.call("ln", s.sub(s.ONE, p)), s.call("ln", p)), n)


@rule(ops.BCEWithLogits)
def _bce_logits(e: Edge[ops.BCEWithLogits]) -> Sym:
    x, t = e.x(0), e.x(1)
    g, n = _per_element(e, e.size())
    body = s.sub(s.call("sigmoid", x), t) if e.index == 0 else s.neg(x)
    return _averaged(g, body, n)


def _examples(e: Edge[Node]) -> tuple[int, int] | None:
    """(classes, examples) of a classification loss on (N, C) or (C,) logits; None for more axes."""
    shape = np.shape(e.whole(0))
    if len(shape) > 2:
        return None
    classes = shape[-1]
    return classes, math.prod(shape) // max(classes, 1)


def _per_example(e: Edge[ops.CrossEntropy | ops.NLLLoss], examples: int) -> tuple[Sym, Sym | None]:
    if e.op.reduction == "none":
        return s.call("unsqueeze", e.g, axis=-1, scalar=False), None
    return _per_element(e, examples, examples=True)


@rule(ops.CrossEntropy)
def _cross_entropy(e: Edge[ops.CrossEntropy]) -> Sym | None:
    sizes = _examples(e)
    if sizes is None:
        return None
    classes, examples = sizes
    x, t = e.x(0), e.x(1)
    g, n = _per_example(e, examples)
    if np.asarray(e.whole(1)).dtype.kind in "iub":  # class labels
        if e.index == 1:
            return None
        return _averaged(g, s.sub(s.call("softmax", x), s.call("onehot", t, Sym(str(classes)))), n)
    if e.index == 0:
        mass = s.call("sum", t, axis=-1, keepdims=True)
        return _averaged(g, s.sub(s.times(s.call("softmax", x), mass), t), n)
    return _averaged(g, s.neg(s.call("log_softmax", x)), n)


@rule(ops.NLLLoss)
def _nll(e: Edge[ops.NLLLoss]) -> Sym | None:
    sizes = _examples(e)
    if sizes is None or e.index == 1:
        return None
    classes, examples = sizes
    g, n = _per_example(e, examples)
    return _averaged(g, s.neg(s.call("onehot", e.x(1), Sym(str(classes)))), n)


# ---------------------------------------------------------------- shapes
@rule(ops.Reshape, ops.Squeeze, ops.ExpandDims)
def _reshape(e: Edge[Node]) -> Sym:
    return s.call("reshape", e.g, s.shape_tuple(np.shape(e.value(0))), scalar=False)


@rule(ops.Transpose)
def _transpose(e: Edge[ops.Transpose]) -> Sym:
    axes = e.op.axes
    if np.ndim(e.value(0)) == 2:
        return s.transpose(e.g)
    if axes is None:
        return s.call("transpose", e.g, scalar=False)
    inverse = tuple(int(a) for a in np.argsort(axes))
    return s.call("transpose", e.g, axes=s.shape_tuple(inverse).text, scalar=False)


@rule(ops.SwapAxes)
def _swapaxes(e: Edge[ops.SwapAxes]) -> Sym:
    if (e.op.axis1, e.op.axis2) in ((-1, -2), (-2, -1)) and np.ndim(e.value(0)) >= 2:
        return s.transpose(e.g)
    if np.ndim(e.value(0)) < 2:
        return e.g
    return s.call("swapaxes", e.g, axis1=e.op.axis1, axis2=e.op.axis2, scalar=False)


# ---------------------------------------------------------------- moves
def _upstream(e: Edge[Node]) -> Sym:
    """g, or ``ones(shape)`` for the gradient 1 of a one-element output with axes (a move needs them)."""
    shape = np.shape(e.op.value)
    if e.g.one and shape:
        return s.call("ones", s.shape_tuple(shape), scalar=False)
    return e.g


@rule(ops.Flip)
def _flip(e: Edge[ops.Flip]) -> Sym:
    if e.g.one:
        return e.g
    return s.call("flip", e.g, scalar=False, **({} if e.op.axis is None else {"axis": e.op.axis}))


@rule(ops.Tri)
def _tri(e: Edge[ops.Tri]) -> Sym:
    """The same triangle of g: the mask is its own adjoint."""
    return s.call("triu" if e.op.upper else "tril", _upstream(e), scalar=False, **({"k": e.op.k} if e.op.k else {}))


@rule(ops.Gather)
def _gather(e: Edge[ops.Gather]) -> Sym | None:
    """Zeros of x's shape with g added back where each element was taken from (repeats add up)."""
    if e.index == 1:
        return None
    shape = s.shape_tuple(np.shape(e.whole(0))).text
    return s.call("scatter_along", _upstream(e), e.x(1), axis=e.op.axis, shape=shape, scalar=False)


@rule(ops.ScatterAlong)
def _scatter_along(e: Edge[ops.ScatterAlong]) -> Sym | None:
    """gather's adjoint: g read at the index it scattered to (the index as it was used, broadcast)."""
    if e.index == 1:
        return None
    index, shape = e.x(1), np.shape(e.whole(0))
    if np.shape(e.whole(1)) != shape:
        index = s.call("broadcast_to", index, s.shape_tuple(shape), scalar=False)
    return s.call("gather", _upstream(e), axis=e.op.axis, index=index.text, scalar=False)


def _moved(name: str) -> Rule:
    """An op that only moves elements: its vjp moves the gradient back (named, not spelled out)."""

    def rule_(e: Edge[Node]) -> Sym | None:
        if e.op.inputs[e.index].value is not None and np.asarray(e.value(e.index)).dtype.kind not in "fc":
            return None  # index data takes no gradient
        return s.call(name, e.g, scalar=False)

    return rule_


for _cls, _name in (
    (ops.GetItem, "scatter"),
    (ops.ScatterAdd, "gather"),
    (ops.Concat, "slice"),
    (ops.Stack, "select"),
    (ops.Pad, "crop"),
    (ops.Im2Col, "col2im"),
    (ops.Col2Im, "im2col"),
    (ops.MaxPool2D, "maxpool_backward"),
    (ops.AvgPool2D, "avgpool_backward"),
    (ops.AdaptiveAvgPool2D, "avgpool_backward"),
    (ops.PoolScatter, "gather"),
    (ops.PoolGather, "scatter"),
    (ops.SumToShape, "broadcast_to"),
):
    rule(_cls)(_moved(_name))


@rule(ops.Conv2D)
def _conv2d(e: Edge[ops.Conv2D]) -> Sym:
    x, w, d = e.x(0), e.x(1), f"{e.op.spatial}d"
    if e.index == 0:
        return s.call("conv_transpose" + d, e.g, w, scalar=False)
    if e.index == 1:
        return s.call("correlate", x, e.g, scalar=False)
    channels = np.ndim(e.op.value) - e.op.spatial - 1
    axes = tuple(a for a in range(np.ndim(e.op.value)) if a != channels)
    return s.call("sum", e.g, axis=str(axes), scalar=False)


@rule(ops.ConvInputGrad)
def _conv_input_grad(e: Edge[ops.ConvInputGrad]) -> Sym:
    """gx = conv_transpose(g, W): bilinear, so each input's part is the other op of the three."""
    g, w, d = e.x(0), e.x(1), f"{e.op.spatial}d"
    return s.call("conv" + d, e.g, w, scalar=False) if e.index == 0 else s.call("correlate", e.g, g, scalar=False)


@rule(ops.ConvWeightGrad)
def _conv_weight_grad(e: Edge[ops.ConvWeightGrad]) -> Sym:
    """gw = correlate(x, g): bilinear, so each input's part is the other op of the three."""
    x, g, d = e.x(0), e.x(1), f"{e.op.spatial}d"
    return (
        s.call("conv_transpose" + d, g, e.g, scalar=False) if e.index == 0 else s.call("conv" + d, x, e.g, scalar=False)
    )
