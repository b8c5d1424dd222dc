"""Each op's vector-Jacobian product, written as a formula a learner can read and parse back.

``form(Edge(op, i, g))`` is what the op does to the gradient ``g`` arriving
from above on its way to input ``i``, written with that input's and the op's
names: Sigmoid sends ``g ⊙ s ⊙ (1 - s)`` (s: the sigmoid's own value),
MatMul ``g @ Bᵀ`` and ``Aᵀ @ g``, MSE ``2 · (y - ŷ) / n``. With ``g = 1``
(a one-element output) it is the local derivative the lesson writes on the
blackboard. Every form is the op's true rule at the current values: ties and
kinks show the rule actually applied (``[x > y] + 0.5 · [x == y]`` at a tie
of ``maximum``), and counts such as MSE's ``n`` come with a note. Tests parse
every form back with ``chainrule explain``'s parser and compare it with the
op's own vjp.

An op with no rule here (a learner's own class) is described by its
``derivatives`` strings, bracketed, or by the bare symbol ``∂op/∂input``.
"""

from __future__ import annotations

import numpy as np

from ..node import Node
from . import forms_activations, forms_elementwise, forms_reduce, forms_tensor  # noqa: F401 - they register the rules
from . import symbols as s
from .edges import FORMS, Edge
from .symbols import Sym

__all__ = ["Edge", "form"]


def form(edge: Edge[Node]) -> Sym | None:
    """The op's vjp for ``edge``, or None when nothing flows along it."""
    rule = next((FORMS[cls] for cls in type(edge.op).__mro__ if cls in FORMS), None)
    if rule is not None:
        return rule(edge)
    return _learners_form(edge)


def _learners_form(edge: Edge[Node]) -> Sym:
    op, i = edge.op, edge.index
    forms = getattr(op, "derivatives", ())
    scalar = np.size(op.inputs[i].value) == 1
    if i < len(forms) and forms[i]:
        try:
            text = forms[i].format(*[n.name for n in op.inputs])
        except (IndexError, KeyError, ValueError):  # literal braces: show it as written
            text = forms[i]
        return s.times(edge.g, s.opaque(text, scalar))
    return s.times(edge.g, s.unknown(f"∂{op.name}/∂{op.inputs[i].name}", scalar))
