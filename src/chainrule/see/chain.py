"""One step of the chain rule, and how many paths the rule multiplies along.

Narration, ``explain`` and drawing all need the same few facts about an edge
``input → op`` of a graph:

- its local derivative ∂op/∂input, as the op's symbolic string (``σ(1-σ)``)
  and as a number. The number is never hard-coded per op: it is the op's own
  ``vjp`` with an upstream gradient of one, so every op, present or future,
  explains itself;
- the vjp step along it: the gradient of the op's output turned into the
  gradient of that one input (reduced to the input's shape, as the engine does);
- whether it lies on a path from the output down to a given node, and on how
  many: two passes over the topological order (no recursion), counting paths
  as the chain rule's sum-over-paths form would.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..node import Node
from ..backprop import input_values
from ..broadcast import fit_gradient


def is_scalar(value: Any) -> bool:
    """One element: its local derivatives are plain numbers."""
    return value is not None and np.size(value) == 1


def input_label(op: Node, index: int) -> str:
    """The input's name, with its slot as a subscript when the op uses the same
    node more than once (``x*x`` has inputs x₁ and x₂: two edges, two paths)."""
    node = op.inputs[index]
    if sum(1 for other in op.inputs if other is node) > 1:
        return node.name + str(index + 1).translate(_SUBSCRIPTS)
    return node.name


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def edge_symbol(op: Node, index: int) -> str:
    """``∂linear/∂k``."""
    return f"∂{op.name}/∂{input_label(op, index)}"


def local_symbol(op: Node, index: int) -> str | None:
    """The op's symbolic local derivative for this input, its placeholders
    filled with the input names (Linear's ``{0}`` for ∂/∂k becomes ``x``);
    None when the op provides none."""
    forms = getattr(op, "derivatives", ())
    if index >= len(forms) or not forms[index]:
        return None
    names = [n.name for n in op.inputs]
    try:
        return forms[index].format(*names)
    except (IndexError, KeyError, ValueError):  # a form with literal braces: show it as written
        return forms[index]


def vjp_step(op: Node, index: int, g: Any) -> np.ndarray | None:
    """Push ``g`` (a gradient of ``op``'s output) through ``op``'s vjp to input
    ``index``, reduced to that input's shape; None where the op sends nothing."""
    inputs = op.inputs
    parts = op.vjp(np.asarray(g), op.value, *input_values(op))
    part = parts[index]
    if part is None:
        return None
    part = np.asarray(part.value if isinstance(part, Node) else part)
    return fit_gradient(part, inputs[index].value)


def local_derivative(op: Node, index: int) -> np.ndarray | None:
    """∂op/∂input as an array of the input's shape, for a one-element op output:
    the vjp of an upstream gradient of one (exact for every op, no table)."""
    if not is_scalar(op.value):
        return None
    return vjp_step(op, index, np.ones_like(np.asarray(op.value)))


def follows(op: Node, index: int) -> bool:
    """Backpropagation goes down this edge (the input wants a gradient)."""
    return bool(op.inputs[index].requires_grad)


def path_counts(order: Sequence[Node], output: Node, wrt: Node) -> tuple[dict[int, int], dict[int, int]]:
    """How many chain-rule paths pass through each node, from both ends.

    Returns ``(down, up)``: ``down[id(n)]`` is the number of paths from ``n``
    down to ``wrt`` and ``up[id(n)]`` the number from ``output`` down to ``n``
    (each dict holds only nodes with a nonzero count). An edge ``op → input``
    lies on a path iff ``up[op] > 0`` and ``down[input] > 0``; the total is
    ``up[wrt] == down[output]``. Python ints, so 2**1000 paths are counted exactly.
    """
    down: dict[int, int] = {id(wrt): 1}
    for node in order:  # inputs before consumers
        if node is wrt:
            continue
        total = 0
        for i, inp in enumerate(node.inputs):
            if follows(node, i):
                total += down.get(id(inp), 0)
        if total:
            down[id(node)] = total
    up: dict[int, int] = {}
    if id(output) in down:
        up[id(output)] = 1
    for node in reversed(order):  # consumers before inputs
        count = up.get(id(node))
        if not count or node is wrt:
            continue
        for i, inp in enumerate(node.inputs):
            if follows(node, i) and id(inp) in down:
                up[id(inp)] = up.get(id(inp), 0) + count
    return down, up
