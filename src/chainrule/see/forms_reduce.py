"""The formulas of the reductions, statistics and scans: sum, mean, max/min, prod, var, std,
logsumexp, norm and cumsum.

A reduction's gradient goes back to every element it gathered: the upstream
``g`` (and the op's own value, where the formula uses it) is put back where
the reduced axes were, ``unsqueeze(g, axis=1)`` (or ``reshape`` for several
axes), and counts are written ``n`` with a note giving their value. Where the
op's vjp avoids a division by zero (a product with a 0, a zero std or norm),
the formula says how, and a note says where.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..node import Node
from ..ops.axes import normalize_axes
from ..ops.reduce import Reduction, kept_shape
from . import symbols as s
from .edges import Edge, plain_number, rule
from .symbols import Sym

TWO, ZERO = Sym("2"), Sym("0")


def _spread(e: Edge[Reduction], sym: Sym) -> Sym:
    """``sym`` (g, or the op's value) put back where the reduced axes were, when they were dropped."""
    shape = np.shape(e.whole(0))
    if e.op.keepdims or e.op.axis is None or not np.shape(e.op.value) or sym.one:
        return sym
    axes = normalize_axes(e.op.axis, len(shape))
    if len(axes) == 1:
        return s.call("unsqueeze", sym, axis=axes[0], scalar=False)
    return s.call("reshape", sym, s.shape_tuple(kept_shape(shape, axes)), scalar=False)


def _reduced_count(e: Edge[Reduction]) -> int:
    """How many elements of x each output combines: the product of the reduced axes' lengths
    (0 for an empty axis, as an empty sum is 0 and an empty mean NaN)."""
    shape = np.shape(e.whole(0))
    return math.prod(shape[a] for a in normalize_axes(e.op.axis, len(shape)))


def _reduce_keywords(e: Edge[Reduction]) -> dict[str, Any]:
    return {} if e.op.axis is None else {"axis": e.op.axis, "keepdims": True}


def _reduce(function: str, sym: Sym, e: Edge[Reduction]) -> Sym:
    """``function(sym)`` over the op's axes, keeping them (so that it lines up with x)."""
    return s.call(function, sym, **_reduce_keywords(e))


@rule(ops.Sum)
def _sum(e: Edge[ops.Sum]) -> Sym:
    e.note("note.spread", op=e.op.name, count=_reduced_count(e))
    return _spread(e, e.g)


@rule(ops.Mean)
def _mean(e: Edge[ops.Mean]) -> Sym:
    return s.div(_spread(e, e.g), e.count(_reduced_count(e)))


def _shared(e: Edge[Reduction], hit: Sym, extreme: np.ndarray, found: np.ndarray, pick: str) -> Sym:
    """``hit`` ([x == max]), split evenly among the elements that tie for the extreme."""
    if np.count_nonzero(found == extreme) > np.size(extreme):
        e.note("note.tie_reduce", op=e.op.name, pick=pick)
        return s.div(hit, _reduce("sum", hit, e))
    return hit


@rule(ops.Max)
def _max(e: Edge[ops.Max]) -> Sym:
    x = e.x(0)
    pick = "max" if not isinstance(e.op, ops.Min) else "min"
    x_value = np.asarray(e.value(0))
    extreme = (np.max if pick == "max" else np.min)(
        x_value, axis=normalize_axes(e.op.axis, x_value.ndim), keepdims=True
    )
    hit = _shared(e, s.iverson(x, "==", _reduce(pick, x, e)), extreme, x_value, pick)
    return s.times(_spread(e, e.g), hit)


@rule(ops.Prod)
def _prod(e: Edge[ops.Prod]) -> Sym:
    """Π_{j≠i} xⱼ: the product over xᵢ where no element is 0; with zeros, each 0 counted by [x == 0]."""
    x, g = e.x(0), _spread(e, e.g)
    zeros = e.where(np.asarray(e.value(0)) == 0)
    if not zeros:
        return s.times(g, s.div(_spread(e, e.out), x))
    e.note("note.prod_zero", x=x.text, op=e.op.name, count=zeros)
    zero = s.iverson(x, "==", ZERO)
    ones_for_zeros = s.add(x, zero)  # x with each 0 made 1: the product of the non-zeros divided by xᵢ
    others = s.div(_reduce("prod", ones_for_zeros, e), ones_for_zeros)
    no_other_zero = s.iverson(s.sub(_reduce("sum", zero, e), zero), "==", ZERO)
    return s.times(g, s.times(others, no_other_zero))


def _dof(e: Edge[ops.Var | ops.Std]) -> Sym:
    """n - ddof: what var and std divide by (n with its note)."""
    n = e.count(_reduced_count(e))
    return s.sub(n, s.number(e.op.ddof)) if e.op.ddof else n


def _centred(e: Edge[Reduction]) -> Sym:
    x = e.x(0)
    return s.sub(x, _reduce("mean", x, e))


@rule(ops.Var)
def _var(e: Edge[ops.Var]) -> Sym:
    return s.times(_spread(e, e.g), s.div(s.times(TWO, _centred(e)), _dof(e)))


def _positive(e: Edge[Node], sym: Sym, what: Sym) -> Sym:
    """``sym``, or ``where([what > 0], sym, 0)`` where the op's value ``what`` is 0 somewhere
    (the vjp gives 0 there instead of dividing by it)."""
    zeros = e.where(np.asarray(e.op.value) == 0)
    if not zeros:
        return sym
    e.note("note.zero_scale", what=e.out.text, op=e.op.name, count=zeros)
    return s.call("where", s.iverson(what, ">", ZERO), sym, ZERO, scalar=sym.scalar)


@rule(ops.Std)
def _std(e: Edge[ops.Std]) -> Sym:
    """(xᵢ - x̄) / ((n - ddof) · std), 0 where std = 0."""
    std = _spread(e, e.out)
    return s.times(_spread(e, e.g), _positive(e, s.div(_centred(e), s.times(_dof(e), std)), std))


@rule(ops.LogSumExp)
def _logsumexp(e: Edge[ops.LogSumExp]) -> Sym:
    """e^(xᵢ - out): the softmax over the reduced axes."""
    return s.times(_spread(e, e.g), s.call("exp", s.sub(e.x(0), _spread(e, e.out))))


@rule(ops.Norm)
def _norm(e: Edge[ops.Norm]) -> Sym:
    """sign(x) ⊙ |x|^(p-1) / ‖x‖^(p-1): x / ‖x‖ for p = 2, sign(x) for 1, shared among the extremes
    for ±inf, 0 for p = 0; 0 where the norm is 0."""
    x, p, g = e.x(0), e.op.ord, _spread(e, e.g)
    norm = _spread(e, e.out)
    if p == 0:
        return s.times(ZERO, g)
    sign = s.call("sign", x)
    if p == 1:
        return s.times(g, sign)
    size = s.call("abs", x)
    if np.isinf(p):
        found = np.abs(np.asarray(e.value(0)))
        extreme = (np.max if p > 0 else np.min)(found, axis=normalize_axes(e.op.axis, found.ndim), keepdims=True)
        hit = _shared(e, s.iverson(size, "==", norm), extreme, found, f"{'max' if p > 0 else 'min'} |{x.text}|")
        return s.times(g, s.times(sign, hit))
    if p == 2:
        return s.times(g, _positive(e, s.div(x, norm), norm))
    lowered = plain_number(p - 1)
    powered = s.power(size, lowered)
    if p < 1 and e.where(np.asarray(e.value(0)) == 0):  # |0|^(p-1) is infinite: the vjp takes 0 there
        powered = s.call("where", s.iverson(x, "!=", ZERO), powered, ZERO, scalar=x.scalar)
    return s.times(g, _positive(e, s.times(sign, s.div(powered, s.power(norm, lowered))), norm))


@rule(ops.CumSum)
def _cumsum(e: Edge[ops.CumSum]) -> Sym:
    """Σ_{j≥i} gⱼ: the running sum of g taken from the end (flipped, summed, flipped back)."""
    if e.g.one or np.ndim(e.value(0)) == 0:
        return e.g

    def flip(sym: Sym) -> Sym:
        return s.call("flip", sym, axis=e.op.axis, scalar=False)

    return flip(s.call("cumsum", flip(e.g), axis=e.op.axis, scalar=False))
