"""One element at a time: the chain rule for ∂output/∂W[i, j], through single elements.

Every element of a tensor is a node of its own in the scalar graph underneath:
``z1 = X @ W1`` makes ``z1[n, 2]`` depend on ``W1[0, 2]`` with local derivative
``X[n, 0]``, for every row n. ``explain_element`` builds that scalar graph
between the output and one element (only the elements that lie on a path),
so each path is a product of plain numbers with the names and numbers of
single elements, and the paths add up to that element of the gradient.

Local derivatives ∂op[p]/∂input[q] come from the op itself, never a table:
elementwise ops from one vjp of ones (their Jacobian is diagonal, up to
broadcasting), ops that are linear in an input (reshape, indexing, sums...)
from one forward pass of a one-hot input, a one-element output from one vjp,
2-D matrix products from their operands; anything else row by row through
its vjp, up to ``MAX_ROWS`` rows per op. Where the structure is known
(elementwise ops, matrix products) a path whose local derivative happens to
be 0 is still listed (a dead relu unit shows its 0); elsewhere only the
nonzero entries of the Jacobian are found, so such paths are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..backprop import backpropagate, input_values
from ..broadcast import unbroadcast
from ..errors import GradientError, describe
from ..node import Node
from . import symbols as s
from .chain import edges_into, enumerate_paths, follows, is_scalar, path_counts
from .edges import Edge
from .explanation import EdgeGroup, Explanation, Factor, Path, bounded_groups
from .flags import path_flags, value_flags
from .forms import form
from .symbols import Sym

MAX_ROWS = 4096  # an op of this many output elements with no cheaper rule is followed row by row at most

ELEMENTWISE = (
    ops.Add,
    ops.Sub,
    ops.Mul,
    ops.Div,
    ops.Neg,
    ops.Pow,
    ops.Abs,
    ops.Exp,
    ops.Log,
    ops.Sqrt,
    ops.Sin,
    ops.Cos,
    ops.Maximum,
    ops.Minimum,
    ops.Where,
    ops.Clip,
    ops.Sigmoid,
    ops.Tanh,
    ops.ReLU,
    ops.LeakyReLU,
    ops.Softplus,
    ops.GELU,
    ops.Cast,
    ops.BroadcastTo,
    ops.Erf,
    ops.Log1p,
    ops.Expm1,
    ops.SiLU,
    ops.ELU,
    ops.Mish,
    ops.Hardtanh,
)
LINEAR = (
    ops.Reshape,
    ops.Squeeze,
    ops.ExpandDims,
    ops.Transpose,
    ops.SwapAxes,
    ops.GetItem,
    ops.Sum,
    ops.Mean,
    ops.Concat,
    ops.Stack,
    ops.Pad,
)
ELEMENT_FORMS = ELEMENTWISE + (ops.MSE, ops.BinaryCrossEntropy, ops.BCEWithLogits, ops.Mean, ops.Sum)


def selected_element(node: Node, element: Any, order: list[Node]) -> tuple[Node, tuple | None]:
    """``(node, element)`` with ``W[0, 2]`` (a fresh indexing node, not part of the graph)
    read as element (0, 2) of W; the element checked against the node's shape."""
    if (
        element is None
        and isinstance(node, ops.GetItem)
        and len(node.inputs) == 1
        and _plain(node.index)
        and not any(n is node for n in order)
    ):
        element = node.index
        node = node.inputs[0]
    if element is None:
        return node, None
    index = element if isinstance(element, tuple) else (element,)
    shape = np.shape(node.value)
    if not _plain(index) or len(index) != len(shape) or not all(-n <= i < n for i, n in zip(index, shape)):
        raise GradientError(f"explain: element {element!r} is not one element of {describe(node)}")
    return node, tuple(int(i) % n for i, n in zip(index, shape))


def _plain(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in parts)


class _Vertex:
    """One element of one node: a vertex of the scalar graph."""

    __slots__ = ("node", "index", "edges")

    def __init__(self, node: Node, index: tuple) -> None:
        self.node, self.index = node, index
        # ((op, input slot, ∂op[p]/∂input[q], p, q), the vertex of input[q])
        self.edges: list[tuple[tuple, _Vertex]] = []

    @property
    def name(self) -> str:
        return element_name(self.node, self.index)


def element_name(node: Node, index: tuple) -> str:
    """``W1[0, 2]``; a one-element node keeps its plain name."""
    if np.size(node.value) == 1:
        return node.name
    return f"{node.name}[{', '.join(map(str, index))}]"


def explain_element(
    output: Node, node: Node, element: tuple, order: list[Node], seed: Any, max_paths: int, lang: str
) -> Explanation:
    """The chain rule for ∂output/∂node[element], every path through single elements."""
    if not is_scalar(output.value):
        raise GradientError(
            f"explain: following one element needs a one-element output, "
            f"but {describe(output)} has {np.size(output.value)} elements"
        )
    down, up = path_counts(order, output, node)
    grads = (
        backpropagate(
            order, [(output, seed)], keep="none", wanted={node} | {op for op, _ in edges_into(order, node, up)}
        )
        if up.get(id(node))
        else {}
    )
    total = grads.get(node)
    value = float(np.asarray(total)[element]) if total is not None else 0.0
    target = _Vertex(node, element)
    root = _scalar_graph(order, output, node, target, down, up)
    below = _below(root, order)
    counts = _count_paths(below, target)
    n_paths = counts.get(id(root), 0) if root is not None else 0
    paths: tuple[Path, ...] = ()
    groups: tuple[EdgeGroup, ...] = ()
    if n_paths and n_paths <= max_paths:
        paths = tuple(
            _path(edges, np.asarray(seed).reshape(()))
            for edges in enumerate_paths(root, target, counts, lambda v: [(e, child) for e, child in v.edges])
        )
    elif n_paths:
        groups = _groups(below, target, grads)
    flags = value_flags(order) + path_flags(paths)
    return Explanation(
        output,
        node,
        paths,
        n_paths,
        np.asarray(value, dtype=np.asarray(node.value).dtype),
        max_paths,
        groups,
        lang,
        element=element,
        flags=flags,
    )


def _scalar_graph(order: list[Node], output: Node, node: Node, target: _Vertex, down: dict, up: dict) -> Any:
    """The vertices that depend on ``target``, built input side first; returns the output's vertex."""
    vertices: dict[Node, dict[tuple, _Vertex]] = {node: {target.index: target}}
    for op in order:
        if op is node or id(op) not in up or id(op) not in down:
            continue
        mine = vertices.setdefault(op, {})
        for i, inp in enumerate(op.inputs):
            if not follows(op, i) or inp not in vertices:
                continue
            for q, below in vertices[inp].items():
                for p, local in column(op, i, q).items():
                    vertex = mine.get(p)
                    if vertex is None:
                        vertex = mine[p] = _Vertex(op, p)
                    vertex.edges.append(((op, i, local, p, q), below))
    return next(iter(vertices.get(output, {}).values()), None)  # the output's one element


def _below(root: Any, order: list[Node]) -> list[_Vertex]:
    """Every vertex reachable from ``root``, inputs before their consumers (as in ``order``)."""
    if root is None:
        return []
    found, seen, stack = [], set(), [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            found.append(v)
            stack.extend(child for _, child in v.edges)
    rank = {id(n): i for i, n in enumerate(order)}
    return sorted(found, key=lambda v: rank[id(v.node)])


def _count_paths(below: list[_Vertex], target: _Vertex) -> dict[int, int]:
    """Paths from each vertex down to ``target`` (ids of the vertices that reach it)."""
    counts = {id(target): 1}
    for v in below:  # inputs first: a vertex's children are counted before it
        if v is not target:
            total = sum(counts.get(id(child), 0) for _, child in v.edges)
            if total:
                counts[id(v)] = total
    return counts


def column(op: Node, i: int, q: tuple) -> dict[tuple, float]:
    """The nonzero ∂op[p]/∂input[q] for one element q of input ``i``, keyed by p."""
    inputs = list(input_values(op))
    out_shape = np.shape(op.value)
    if isinstance(op, ELEMENTWISE) or (isinstance(op, ops.Linear) and not op._matrix_mode()):
        raw = _ones_vjp(op, i)
        return {p: float(raw[p]) for p in _broadcast_positions(q, np.shape(inputs[i]), out_shape)}
    if not out_shape:
        part = op.vjp(np.ones((), np.asarray(op.value).dtype), op.value, *inputs)[i]
        return {(): _at(part, np.shape(inputs[i]), q)} if part is not None and np.size(part) else {}
    if isinstance(op, (ops.MatMul, ops.Linear)) and np.ndim(inputs[0]) == 2 and np.ndim(inputs[1]) == 2:
        a, b = inputs[0], inputs[1]
        if i == 0:  # (A @ B)[r, c] uses A[r, k] with weight B[k, c]
            return {(q[0], c): float(b[q[1], c]) for c in range(b.shape[1])}
        if i == 1:
            return {(r, q[1]): float(a[r, q[0]]) for r in range(a.shape[0])}
        return {p: 1.0 for p in _broadcast_positions(q, np.shape(inputs[2]), out_shape)}
    if isinstance(op, LINEAR):
        return _linear_column(op, i, q, inputs)
    return _rows_column(op, i, q, inputs)


def _at(part: Any, shape: tuple, q: tuple) -> float:
    """Element ``q`` of a vjp's ``part`` for an input of ``shape``: the part spread to the shapes'
    broadcast, then summed back over the axes the input was stretched along, as backward does."""
    part = np.asarray(part)
    return float(np.asarray(unbroadcast(np.broadcast_to(part, np.broadcast_shapes(part.shape, shape)), shape))[q])


def _ones_vjp(op: Node, i: int) -> np.ndarray:
    value = np.asarray(op.value)
    raw = op.vjp(np.ones(value.shape, value.dtype), op.value, *input_values(op))[i]
    return np.broadcast_to(np.asarray(raw), value.shape)


def _broadcast_positions(q: tuple, in_shape: tuple, out_shape: tuple) -> list[tuple]:
    """Every output position that reads input element ``q`` under NumPy broadcasting."""
    lead = len(out_shape) - len(in_shape)
    ranges: list[range | tuple[int]] = [range(n) for n in out_shape[:lead]]
    ranges += [range(n) if d == 1 and n != 1 else (q[k],) for k, (d, n) in enumerate(zip(in_shape, out_shape[lead:]))]
    result: list[tuple] = [()]
    for r in ranges:
        result = [p + (int(v),) for p in result for v in r]
    return result


def _linear_column(op: Node, i: int, q: tuple, inputs: list) -> dict[tuple, float]:
    """An op linear in its float inputs: its output for a one-hot input is the Jacobian column."""
    probe = [np.zeros_like(np.asarray(v)) if np.asarray(v).dtype.kind == "f" else v for v in inputs]
    probe[i] = np.zeros_like(np.asarray(inputs[i]))
    probe[i][q] = 1
    out = np.asarray(op.forward(*probe))
    return (
        {tuple(int(v) for v in p): float(out[p]) for p in zip(*np.nonzero(out))}
        if out.ndim
        else ({(): float(out)} if out != 0 else {})
    )


def _rows_column(op: Node, i: int, q: tuple, inputs: list) -> dict[tuple, float]:
    value = np.asarray(op.value)
    if value.size > MAX_ROWS:
        raise GradientError(
            f"explain: following one element through {describe(op)} would take {value.size} "
            f"vector-Jacobian products (the limit is {MAX_ROWS}); explain the whole tensor instead"
        )
    found = {}
    for p in np.ndindex(*value.shape):
        g = np.zeros_like(value)
        g[p] = 1
        part = op.vjp(g, op.value, *inputs)[i]
        local = _at(part, np.shape(inputs[i]), q) if part is not None else 0.0
        if local != 0:
            found[tuple(int(v) for v in p)] = local
    return found


class _ElementEdge(Edge[Node]):
    """An edge between two elements: names carry indices (``X[1, 0]``), values are the elements'."""

    def __init__(self, op: Node, index: int, position: tuple) -> None:
        super().__init__(op, index, s.ONE)
        self.position = position  # where in the broadcast shape of the op's inputs this element sits

    def _at(self, i: int) -> tuple:
        shape = np.shape(self.op.inputs[i].value)
        tail = self.position[len(self.position) - len(shape) :] if shape else ()
        return tuple(0 if n == 1 else p for p, n in zip(tail, shape))

    def value(self, i: int) -> Any:
        return np.asarray(self.op.inputs[i].value)[self._at(i)]

    def x(self, i: int) -> Sym:
        node = self.op.inputs[i]
        if np.size(node.value) == 1:
            return super().x(i)
        return s.name(element_name(node, self._at(i)))

    @property
    def out(self) -> Sym:
        return s.name(element_name(self.op, self.position if np.shape(self.op.value) else ()))


def element_form(op: Node, i: int, p: tuple, q: tuple) -> tuple[Sym | None, tuple]:
    """∂op[p]/∂input[q] as a formula of single elements, and its notes (None when no short form)."""
    if type(op) is ops.MatMul or (isinstance(op, ops.Linear) and op._matrix_mode()):
        if i == 2:
            return s.ONE, ()
        other = op.inputs[1 - i]
        return s.name(element_name(other, _matmul_partner(op, i, p, q))), ()
    if not isinstance(op, ELEMENT_FORMS) and not isinstance(op, ops.Linear):
        return None, ()
    shape = np.broadcast_shapes(*[np.shape(n.value) for n in op.inputs]) if np.shape(op.value) == () else None
    position = p if shape is None else _align(q, np.shape(op.inputs[i].value), shape)
    edge = _ElementEdge(op, i, position)
    return form(edge), tuple(edge.notes)


def _matmul_partner(op: Node, i: int, p: tuple, q: tuple) -> tuple:
    """For ∂(A @ B)[p]/∂A[q] = B[..., k, c] (or ∂/∂B[q] = A[..., r, k]): the index of that element
    of the other operand, for vectors, matrices and stacks of them (broadcast batch axes)."""
    a_dims, b_dims = (np.ndim(n.value) for n in op.inputs[:2])
    if i == 0:  # B[..., k, c], k from A's last axis
        k = q[-1]
        if b_dims == 1:
            return (k,)
        batch = p[:-2] if a_dims > 1 else p[:-1]
        return _batch(batch, np.shape(op.inputs[1].value)[:-2]) + (k, p[-1])
    k = q[0] if b_dims == 1 else q[-2]  # A[..., r, k], k from B's contracted axis
    if a_dims == 1:
        return (k,)
    batch, r = (p[:-1], p[-1]) if b_dims == 1 else (p[:-2], p[-2])
    return _batch(batch, np.shape(op.inputs[0].value)[:-2]) + (r, k)


def _batch(batch: tuple, shape: tuple) -> tuple:
    """The output's batch index as an index into batch axes of ``shape`` (broadcast ones: 0)."""
    tail = batch[len(batch) - len(shape) :] if shape else ()
    return tuple(0 if n == 1 else b for b, n in zip(tail, shape))


def _align(q: tuple, in_shape: tuple, shape: tuple) -> tuple:
    lead = len(shape) - len(in_shape)
    return (0,) * lead + tuple(qq if d != 1 else 0 for qq, d in zip(q, in_shape))


def _path(edges: list[tuple], seed: Any) -> Path:
    """The factors along a path of element edges, their product and the formula of single elements."""
    factors, g, forms = [], seed, []
    for op, i, local, p, q in edges:
        g = g * np.asarray(local, dtype=np.asarray(g).dtype)
        sym, notes = element_form(op, i, p, q)
        forms.append(sym if sym is not None else s.number(local))
        factors.append(
            Factor(
                op,
                i,
                f"∂{element_name(op, p)}/∂{element_name(op.inputs[i], q)}",
                sym,
                local,
                (),
                (),
                np.asarray(g),
                (),
                notes,
                p,
                q,
            )
        )
    return Path(tuple(factors), np.asarray(g), s.chain(forms) if forms else None)


def _groups(below: list[_Vertex], target: _Vertex, grads: dict) -> tuple[EdgeGroup, ...]:
    """The paths grouped by their last edge (op, input slot) into the element: counts and sums."""
    ups = {id(below[-1]): 1}  # the root comes last: paths from it down to each vertex
    for v in reversed(below):  # consumers before their inputs
        for _, child in v.edges:
            ups[id(child)] = ups.get(id(child), 0) + ups.get(id(v), 0)
    groups: dict[tuple[int, int], list] = {}
    for v in below:
        for (op, i, local, p, _), child in v.edges:
            if child is target:
                entry = groups.setdefault((id(op), i), [op, i, 0, 0.0])
                entry[2] += ups.get(id(v), 0)
                entry[3] += float(np.asarray(grads[op])[p]) * local
    sums = {(id(op), i): total for op, i, _, total in groups.values()}
    return bounded_groups(
        [(op, i, count) for op, i, count, _ in groups.values()],
        lambda op, i: f"∂{op.name}/∂{element_name(target.node, target.index)}",
        lambda op, i: np.asarray(sums[(id(op), i)]),
        sum(sums.values()),
    )
