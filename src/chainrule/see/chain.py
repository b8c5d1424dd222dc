"""One step of the chain rule, and how many paths the rule multiplies along.

Narration, ``explain`` and drawing all need the same few facts about an edge
``input → op`` of a graph:

- its local derivative ∂op/∂input, as a formula (``edge_form``, written by
  ``forms.py`` so that it parses back) and as a number. The number is never
  hard-coded per op: it is the op's own ``vjp`` with an upstream gradient of
  one, so every op, present or future, explains itself;
- the vjp step along it: the gradient of the op's output turned into the
  gradient of that one input, summed back to the input's shape where the
  input was broadcast (as the engine does), with the axes that were summed;
- whether it lies on a path from the output down to a given node, and on how
  many: two passes over the topological order (no recursion), counting paths
  as the chain rule's sum-over-paths form would;
- where a value or a gradient first stops being a finite number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..backprop import input_values
from ..broadcast import broadcast_axes, fit_gradient
from ..node import Node
from . import symbols as s
from .edges import Note
from .forms import Edge, form
from .symbols import Sym
from .values import is_finite


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


class Step(NamedTuple):
    """A gradient pushed along one edge: ``raw`` is what the op's vjp returned,
    ``part`` the same summed back to the input's shape over ``summed`` axes."""

    raw: np.ndarray | None
    part: np.ndarray | None
    summed: tuple


def vjp_step(op: Node, index: int, g: Any) -> Step:
    """Push ``g`` (a gradient of ``op``'s output) through ``op``'s vjp to input ``index``,
    with the inputs in the dtypes the op computes in, as the engine does."""
    inputs = op.inputs
    raw = op.vjp(np.asarray(g), op.value, *input_values(op))[index]
    if raw is None:
        return Step(None, None, ())
    raw = np.asarray(raw.value if isinstance(raw, Node) else raw)
    part = np.asarray(fit_gradient(raw, inputs[index].value))
    shape = np.shape(inputs[index].value)
    return Step(raw, part, broadcast_axes(raw.shape, shape) if raw.shape != shape else ())


def local_derivative(op: Node, index: int) -> np.ndarray | None:
    """∂op/∂input as an array of the input's shape, for a one-element op output:
    the vjp of an upstream gradient of one (exact for every op, no table)."""
    if not is_scalar(op.value):
        return None
    return vjp_step(op, index, np.ones_like(np.asarray(op.value))).part


def follows(op: Node, index: int) -> bool:
    """Backpropagation goes down this edge (the input wants a gradient)."""
    return bool(op.inputs[index].requires_grad)


def summed(sym: Sym, raw_shape: tuple, shape: tuple) -> Sym:
    """The formula of a gradient of ``raw_shape`` summed back to ``shape`` (undoing broadcasting):
    ``sum(E, axis=0)`` for added leading axes, ``keepdims=True`` for stretched ones."""
    lead = len(raw_shape) - len(shape)
    axes = broadcast_axes(raw_shape, shape)
    dropped, kept = axes[:lead], tuple(a - lead for a in axes[lead:])
    if dropped:
        sym = s.call("sum", sym, axis=_axis_text(dropped), scalar=not shape)
    if kept:
        sym = s.call("sum", sym, axis=_axis_text(kept), keepdims=True, scalar=False)
    return sym


def _axis_text(axes: tuple) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


def edge_form(
    op: Node, index: int, g: Sym | None = None, raw_shape: tuple | None = None
) -> tuple[Sym | None, list[Note]]:
    """The edge's formula and its notes: the local derivative when ``op`` has one element
    (``g`` = 1), else the vjp of ``g``; wrapped in the broadcast sum when the input was
    stretched (``raw_shape``: the shape the vjp returned, found by running it when not given).

    Returns (None, []) when no gradient flows along the edge."""
    if g is None:
        g = s.ONE if is_scalar(op.value) else s.G
    edge = Edge(op, index, g)
    sym = form(edge)
    if sym is None:
        return None, []
    notes = list(edge.notes)
    shape = np.shape(op.inputs[index].value)
    if raw_shape is None and op.value is not None:
        raw = vjp_step(op, index, np.ones(np.shape(op.value), dtype=np.asarray(op.value).dtype)).raw
        raw_shape = shape if raw is None else raw.shape
    if raw_shape is not None and raw_shape != shape and broadcast_axes(raw_shape, shape):
        sym = summed(sym, raw_shape, shape)
        notes.append(broadcast_note(op.inputs[index].name, raw_shape, shape))
    return sym, notes


def broadcast_note(name: str, raw_shape: tuple, shape: tuple) -> Note:
    """The note that says a gradient was summed because ``name`` was broadcast."""
    times = int(np.prod(raw_shape, dtype=np.int64) // max(int(np.prod(shape, dtype=np.int64)), 1))
    return (
        "note.broadcast",
        {
            "axes": broadcast_axes(raw_shape, shape),
            "name": name,
            "shape": str(tuple(shape)),
            "full": str(tuple(raw_shape)),
            "count": times,
        },
    )


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


def edges_into(order: list[Node], node: Node, up: dict[int, int]) -> list[tuple[Node, int]]:
    """The edges (op, input index) that end a path at ``node``."""
    return [
        (op, i)
        for op in order
        if id(op) in up and op is not node
        for i, inp in enumerate(op.inputs)
        if inp is node and follows(op, i)
    ]


def enumerate_paths(
    output: Any, node: Any, down: dict[int, int], children: Callable[[Any], list] | None = None
) -> list[list[Any]]:
    """Every path from ``output`` to ``node`` as a list of edges, output side first.

    ``children(v)`` lists the (edge, child) pairs below ``v`` (default: a node's
    differentiable inputs, each edge an (op, input index) pair); ``down`` holds
    the ``id`` of everything that reaches ``node``. Depth-first with an explicit
    stack (graphs can be deeper than Python's recursion limit); each stack entry
    shares its prefix through a parent link, so a path of length L costs O(L) once.
    """
    if children is None:

        def children(current: Node) -> list:
            return [((current, i), inp) for i, inp in enumerate(current.inputs) if follows(current, i)]

    if id(output) not in down:
        return []
    found: list[list[Any]] = []
    stack: list[tuple[Any, Any]] = [(output, None)]  # (vertex, linked prefix of edges)
    while stack:
        current, prefix = stack.pop()
        if current is node:
            edges = []
            while prefix is not None:
                edge, prefix = prefix
                edges.append(edge)
            found.append(edges[::-1])
            continue
        for edge, child in reversed(children(current)):  # reversed: input 0's paths come out first
            if id(child) in down:
                stack.append((child, (edge, prefix)))
    return found


def nonfinite_origins(order: Sequence[Node]) -> list[Node]:
    """The nodes whose value is NaN or infinite although every input's value is finite:
    where a non-number first appears (later nodes only inherit it)."""
    found = []
    for node in order:
        if node.value is None or is_finite(node.value):
            continue
        if all(inp.value is None or is_finite(inp.value) for inp in node.inputs):
            found.append(node)
    return found


def nonfinite_kind(value: Any) -> str:
    """ "nan" when any element is NaN, else "inf"."""
    return (
        "nan" if np.isnan(np.asarray(value, dtype=np.complex128 if np.iscomplexobj(value) else float)).any() else "inf"
    )
