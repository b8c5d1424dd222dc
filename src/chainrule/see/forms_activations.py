"""The formulas of the activations: each as a function of its input (or its own value, where
the lesson writes it so: ``s ⊙ (1 - s)``), at the options the op was built with.

Kinks say which side the op's vjp takes (relu and elu at 0, hardtanh at its
ends), and GELU's formula is the one its ``approximate`` option computes:
the exact ``Φ(x) + x·φ(x)`` written with erf, or the tanh form's derivative.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..node import Node
from . import symbols as s
from .edges import Edge, rule
from .symbols import Sym

ZERO, HALF, TWO = Sym("0"), Sym("0.5"), Sym("2")


@rule(ops.Sigmoid)
def _sigmoid(e: Edge[Node]) -> Sym:
    return s.times(e.g, s.times(e.out, s.sub(s.ONE, e.out)))


@rule(ops.Tanh)
def _tanh(e: Edge[Node]) -> Sym:
    return s.times(e.g, s.sub(s.ONE, s.square(e.out)))


def _kink(e: Edge[Node], op: str, rule_: str) -> None:
    """Note the elements where the input sits on the kink at 0, and the derivative used there."""
    zeros = e.where(np.asarray(e.value(0)) == 0)
    if zeros:
        e.note("note.kink_zero", op=op, x=e.x(0).text, count=zeros, rule=rule_)


@rule(ops.ReLU)
def _relu(e: Edge[Node]) -> Sym:
    _kink(e, "relu", "[0 > 0] = 0")
    return s.times(e.g, s.iverson(e.x(0), ">", ZERO))


@rule(ops.LeakyReLU)
def _leaky_relu(e: Edge[ops.LeakyReLU]) -> Sym:
    x = e.x(0)
    _kink(e, "leaky_relu", f"slope {e.op.negative_slope}")
    slope = s.times(s.number(e.op.negative_slope), s.iverson(x, "<=", ZERO))
    return s.times(e.g, s.add(s.iverson(x, ">", ZERO), slope))


@rule(ops.ELU)
def _elu(e: Edge[ops.ELU]) -> Sym:
    """1 for x > 0, else α·eˣ (α at 0, from the left, as PyTorch)."""
    x, alpha = e.x(0), s.number(e.op.alpha)
    _kink(e, "elu", f"α·e⁰ = {alpha.text}")
    return s.times(e.g, s.call("where", s.iverson(x, ">", ZERO), s.ONE, s.times(alpha, s.call("exp", x))))


@rule(ops.Hardtanh)
def _hardtanh(e: Edge[ops.Hardtanh]) -> Sym:
    """1 strictly inside [min_val, max_val], 0 at the ends and beyond (PyTorch's rule)."""
    x, low, high = e.x(0), s.number(e.op.min_val), s.number(e.op.max_val)
    value = np.asarray(e.value(0))
    ends = e.where((value == e.op.min_val) | (value == e.op.max_val))
    if ends:
        e.note("note.end_of_range", x=x.text, low=low.text, high=high.text, count=ends)
    return s.times(e.g, s.times(s.iverson(x, ">", low), s.iverson(x, "<", high)))


@rule(ops.Softplus)
def _softplus(e: Edge[ops.Softplus]) -> Sym:
    """σ(βx), and 1 where βx passed the threshold (there softplus is x itself)."""
    x, beta = e.x(0), e.op.beta
    bx = x if beta == 1 else s.times(s.number(beta), x)
    slope = s.call("sigmoid", bx)
    if e.where(np.asarray(e.value(0)) * beta > e.op.threshold):
        slope = s.call("where", s.iverson(bx, ">", s.number(e.op.threshold)), s.ONE, slope)
    return s.times(e.g, slope)


@rule(ops.SiLU)
def _silu(e: Edge[Node]) -> Sym:
    """(x·σ(x))' = σ(x) · (1 + x · (1 - σ(x)))."""
    x = e.x(0)
    sigma = s.call("sigmoid", x)
    return s.times(e.g, s.times(sigma, s.add(s.ONE, s.times(x, s.sub(s.ONE, sigma)))))


@rule(ops.Mish)
def _mish(e: Edge[Node]) -> Sym:
    """(x·tanh(softplus(x)))' = tanh(softplus(x)) + x · (1 - tanh²(softplus(x))) · σ(x)."""
    x = e.x(0)
    t = s.call("tanh", s.call("softplus", x))
    return s.times(e.g, s.add(t, s.times(s.times(x, s.sub(s.ONE, s.square(t))), s.call("sigmoid", x))))


@rule(ops.GELU)
def _gelu(e: Edge[ops.GELU]) -> Sym:
    x = e.x(0)
    if e.op.approximate == "none":  # Φ(x) + x·φ(x), Φ and φ the standard normal's CDF and density
        cdf = s.times(HALF, s.add(s.ONE, s.call("erf", s.div(x, s.call("sqrt", TWO)))))
        density = s.div(
            s.call("exp", s.div(s.neg(s.square(x)), TWO)), s.call("sqrt", s.times(TWO, e.constant("pi", math.pi)))
        )
        return s.times(e.g, s.add(cdf, s.times(x, density)))
    c = s.number(float(np.sqrt(2.0 / np.pi)))
    u = s.times(c, s.add(x, s.times(Sym("0.044715"), s.power(x, Sym("3")))))
    t = s.call("tanh", u)
    du = s.times(c, s.add(s.ONE, s.times(Sym("0.134145"), s.square(x))))
    left = s.times(HALF, s.add(s.ONE, t))
    right = s.times(s.times(s.times(HALF, x), s.sub(s.ONE, s.square(t))), du)
    return s.times(e.g, s.add(left, right))


def _axis_keywords(axis: int) -> dict:
    return {} if axis == -1 else {"axis": axis}


@rule(ops.Softmax)
def _softmax(e: Edge[ops.Softmax]) -> Sym:
    total = s.call("sum", s.times(e.g, e.out), axis=e.op.axis, keepdims=True)
    return s.times(e.out, s.sub(e.g, total))


@rule(ops.LogSoftmax)
def _log_softmax(e: Edge[ops.LogSoftmax]) -> Sym:
    p = s.call("softmax", e.x(0), **_axis_keywords(e.op.axis))
    return s.sub(e.g, s.times(p, s.call("sum", e.g, axis=e.op.axis, keepdims=True)))
