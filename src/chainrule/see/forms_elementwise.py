"""The formulas of the elementwise ops: arithmetic, functions, comparisons' choices (activations: forms_activations.py).

Each rule returns the vjp along one edge as a ``Sym``, with ``e.g`` the
upstream gradient (1 for a local derivative), and notes the special cases the
op's vjp applies at the current values (ties, kinks, non-positive bases).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..node import Constant, Node
from . import symbols as s
from .edges import Edge, plain_number, rule
from .symbols import Sym


# ---------------------------------------------------------------- arithmetic
@rule(ops.Add, ops.Cast, ops.BroadcastTo)
def _pass(e: Edge[Node]) -> Sym:
    return e.g


@rule(ops.Sub)
def _sub(e: Edge[Node]) -> Sym:
    return e.g if e.index == 0 else s.neg(e.g)


@rule(ops.Neg)
def _neg(e: Edge[Node]) -> Sym:
    return s.neg(e.g)


@rule(ops.Mul)
def _mul(e: Edge[Node]) -> Sym:
    return s.times(e.g, e.x(1 - e.index))


@rule(ops.Div)
def _div(e: Edge[Node]) -> Sym:
    a, b = e.x(0), e.x(1)
    return s.div(e.g, b) if e.index == 0 else s.times(e.g, s.div(s.neg(a), s.square(b)))


@rule(ops.Remainder)
def _remainder(e: Edge[Node]) -> Sym:
    a, b = e.x(0), e.x(1)
    return e.g if e.index == 0 else s.times(e.g, s.neg(s.call("floor_divide", a, b)))


@rule(ops.Pow)
def _pow(e: Edge[Node]) -> Sym:
    a, b = e.x(0), e.x(1)
    if e.index == 0:
        exponent = e.op.inputs[1]
        if isinstance(exponent, Constant) and np.size(exponent.value) == 1:
            lowered = plain_number(float(np.asarray(exponent.value)) - 1)
        else:
            lowered = s.sub(b, s.ONE)
        return s.times(e.g, s.times(b, s.power(a, lowered)))
    nonpositive = e.where(np.asarray(e.value(0)) <= 0)
    if nonpositive:  # the vjp takes ln only where the base is positive, 0 elsewhere
        e.note("note.pow_base", base=a.text, count=nonpositive)
        return s.times(e.g, s.times(e.out, s.call("where", s.iverson(a, ">", Sym("0")), s.call("ln", a), Sym("0"))))
    return s.times(e.g, s.times(e.out, s.call("ln", a)))


@rule(ops.Abs)
def _abs(e: Edge[Node]) -> Sym:
    zeros = e.where(np.asarray(e.value(0)) == 0)
    if zeros:
        e.note("note.kink_zero", op="abs", x=e.x(0).text, count=zeros, rule="sign(0) = 0")
    return s.times(e.g, s.call("sign", e.x(0)))


# ---------------------------------------------------------------- elementwise functions
@rule(ops.Exp, ops.Expm1)  # (eˣ - 1)' = eˣ too
def _exp(e: Edge[Node]) -> Sym:
    return s.times(e.g, s.call("exp", e.x(0)))


@rule(ops.Log)
def _log(e: Edge[Node]) -> Sym:
    return s.div(e.g, e.x(0))


@rule(ops.Sqrt)
def _sqrt(e: Edge[Node]) -> Sym:
    return s.div(e.g, s.times(Sym("2"), s.call("sqrt", e.x(0))))


@rule(ops.Sin)
def _sin(e: Edge[Node]) -> Sym:
    return s.times(e.g, s.call("cos", e.x(0)))


@rule(ops.Cos)
def _cos(e: Edge[Node]) -> Sym:
    return s.times(e.g, s.neg(s.call("sin", e.x(0))))


@rule(ops.Erf)
def _erf(e: Edge[Node]) -> Sym:
    """erf' = 2/√π · e^(-x²), the normal density's shape."""
    scale = s.div(Sym("2"), s.call("sqrt", e.constant("pi", math.pi)))
    return s.times(e.g, s.times(scale, s.call("exp", s.neg(s.square(e.x(0))))))


@rule(ops.Log1p)
def _log1p(e: Edge[Node]) -> Sym:
    return s.div(e.g, s.add(s.ONE, e.x(0)))


def _choice(e: Edge[Node], relation: str, op: str) -> Sym:
    """maximum/minimum: 1 where this input wins, and half at a tie (the rule the vjp applies)."""
    mine, other = e.x(e.index), e.x(1 - e.index)
    chosen = s.iverson(mine, relation, other)
    ties = e.where(np.asarray(e.value(0)) == np.asarray(e.value(1)))
    if ties:
        e.note("note.tie", op=op, a=e.x(0).text, b=e.x(1).text, count=ties)
        chosen = s.add(chosen, s.times(Sym("0.5"), s.iverson(mine, "==", other)))
    return s.times(e.g, chosen)


@rule(ops.Maximum)
def _maximum(e: Edge[Node]) -> Sym:
    return _choice(e, ">", "maximum")


@rule(ops.Minimum)
def _minimum(e: Edge[Node]) -> Sym:
    return _choice(e, "<", "minimum")


@rule(ops.Where)
def _where(e: Edge[Node]) -> Sym | None:
    if e.index == 0:
        return None
    zero = Sym("0")
    args = (e.x(0), e.g, zero) if e.index == 1 else (e.x(0), zero, e.g)
    return s.call("where", *args, scalar=e.g.scalar)


@rule(ops.Clip)
def _clip(e: Edge[ops.Clip]) -> Sym:
    """x passes where low ≤ x ≤ high; a bound gets the gradient where it clipped (PyTorch's rule,
    which gives all of it to high when low > high)."""
    x = e.x(0)
    low = e.x(1) if e.op.has_low else None
    high = e.x(1 + e.op.has_low) if e.op.has_high else None
    if e.index == 0:
        inside = [s.iverson(low, "<=", x)] if low is not None else []
        inside += [s.iverson(x, "<=", high)] if high is not None else []
        return s.times(e.g, inside[0] if len(inside) == 1 else s.times(*inside))
    if low is not None and e.index == 1:
        below = s.iverson(x, "<", low)
        return s.times(e.g, below if high is None else s.times(below, s.iverson(low, "<", high)))
    assert high is not None  # an input after x that is not low is high
    above = s.iverson(x, ">", high)
    if low is None:
        return s.times(e.g, above)
    return s.times(e.g, s.add(s.iverson(high, "<", low), s.times(s.iverson(low, "<=", high), above)))
