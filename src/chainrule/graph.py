"""The engine: topological sort, forward in order, backward in reverse order.

This is the lesson's algorithm made general:

1. ``topological_sort`` puts every node after its inputs (iteratively: graphs
   of 100,000+ nodes must not hit Python's recursion limit).
2. Forward visits the order and computes each op from its inputs' values.
3. Backward visits the order in reverse. Each op's ``vjp`` turns the gradient
   arriving at the op into one gradient per input; the engine sums each one
   down to its input's shape (undoing broadcasting) and *adds* it to what the
   input already received, so a node used twice gets the sum of both paths.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from . import dtype as _dtype
from .errors import CycleError, FeedError, GradientError, MissingFeedError, ShapeError, describe
from .node import Constant, Node, Op, Placeholder, Variable
from .ops.shape import sum_to_shape


# ---------------------------------------------------------------- sorting
def topological_sort(*outputs: Node) -> list[Node]:
    """Every node that ``outputs`` depend on, inputs before their consumers.

    An explicit-stack depth-first search (no recursion). Raises CycleError
    naming a node on the cycle if hand-wired ``inputs`` loop back.
    """
    order: list[Node] = []
    state: dict[int, int] = {}  # id -> 1 while its inputs are being visited, 2 once placed
    for out in _flatten(outputs):
        stack: list[tuple[Node, bool]] = [(out, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                state[id(node)] = 2
                order.append(node)
                continue
            seen = state.get(id(node))
            if seen == 2:
                continue
            if seen == 1:
                raise CycleError(f"the graph has a cycle through node {describe(node)}: "
                                 "a node cannot be its own input")
            state[id(node)] = 1
            stack.append((node, True))
            for inp in node.inputs:
                if state.get(id(inp)) != 2:
                    stack.append((inp, False))
    return order


def _flatten(items: Iterable[Any]) -> list[Node]:
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Node):
            flat.append(item)
        elif isinstance(item, (list, tuple)):
            flat.extend(_flatten(item))
        else:
            raise TypeError(f"expected nodes, got {type(item).__name__}")
    return flat


# ---------------------------------------------------------------- backward
def backpropagate(order: Sequence[Node], seeds: Sequence[tuple[Node, Any]], *, keep: str = "leaves",
                  create_graph: bool = False, wanted: set[int] | None = None) -> dict[int, Any]:
    """Push ``seeds`` (node, ∂out/∂node) back through ``order`` (a topological order).

    keep: which nodes get ``.grad`` written (added to what they hold):
    ``"leaves"`` (PyTorch), ``"all"`` (the lesson and ``Graph``) or ``"none"``.
    create_graph: run each vjp on nodes, so the gradients are themselves nodes
    that can be differentiated again. wanted: ids of nodes whose final
    gradient is returned (in a dict keyed by id).
    """
    grads: dict[int, Any] = {}
    for node, seed in seeds:
        grads[id(node)] = seed if id(node) not in grads else grads[id(node)] + seed
    found: dict[int, Any] = {}
    stored: set[int] = set()
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if wanted is not None and id(node) in wanted:
            found[id(node)] = g
        inputs = node.inputs
        if keep == "all" or (keep == "leaves" and not inputs):
            _store_grad(node, g, stored)
        if not inputs:
            continue
        if create_graph:
            parts = node.vjp(g, node, *inputs)
        else:
            parts = node.vjp(g, node.value, *[inp.value for inp in inputs])
        for inp, part in zip(inputs, parts):
            if part is None or not inp.requires_grad:
                continue
            shape = np.shape(inp.value)
            if part.shape != shape:
                part = sum_to_shape(part, shape)
            key = id(inp)
            prev = grads.get(key)
            grads[key] = part if prev is None else prev + part
    return found


def _store_grad(node: Node, g: Any, stored: set[int]) -> None:
    """Add ``g`` into ``node.grad`` in an array the engine owns: never a view of
    another array, never the same object as another node's ``.grad``."""
    if isinstance(g, Node):
        g = g.value
    if not isinstance(g, np.ndarray) or g.base is not None or not g.flags.writeable or id(g) in stored:
        g = np.array(g)
    stored.add(id(g))
    node.grad = g if node.grad is None else node.grad + g


def _seed(root: Node, gradient: Any) -> Any:
    """∂root/∂root: ones for a scalar, else the given ``gradient`` (checked)."""
    value = np.asarray(root.value)
    if gradient is None:
        if value.size != 1:
            raise GradientError(f"backward of node {describe(root)} needs a gradient argument: "
                                "only a one-element output has an implicit gradient of 1")
        return np.ones_like(value)
    if isinstance(gradient, Node):
        gradient = gradient.value
    seed = np.array(gradient, dtype=value.dtype)
    if seed.shape != value.shape:
        raise GradientError(f"backward of node {describe(root)}: the gradient has shape {seed.shape}, "
                            f"but the node has shape {value.shape}")
    return seed


def _check_differentiable(root: Node) -> None:
    if root.value is None:
        raise GradientError(f"backward of node {describe(root)}: it has no value yet; run forward first")
    if not root.requires_grad:
        raise GradientError(f"backward of node {describe(root)}: it does not depend on anything that "
                            "requires grad (no Variable, or built inside no_grad())")


def backward(root: Node, gradient: Any = None, retain_grads: bool = False) -> None:
    """``root.backward()``: add ∂root/∂leaf into every leaf's ``.grad`` (PyTorch-style)."""
    _check_differentiable(root)
    seed = _seed(root, gradient)
    backpropagate(topological_sort(root), [(root, seed)], keep="all" if retain_grads else "leaves")


def grad(outputs: Node | Sequence[Node], inputs: Node | Sequence[Node], grad_outputs: Any = None,
         create_graph: bool = False) -> Any:
    """∂outputs/∂inputs, returned rather than stored (``torch.autograd.grad``).

    Returns one gradient per input (a single one when ``inputs`` is a node):
    ndarrays, or nodes when ``create_graph=True`` so you can differentiate
    again (grad of grad, Hessian-vector products). An input that the outputs
    do not depend on gets zeros. ``.grad`` attributes are left untouched.
    """
    single = isinstance(inputs, Node)
    outs = [outputs] if isinstance(outputs, Node) else list(outputs)
    ins = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif isinstance(grad_outputs, (Node, np.ndarray)) or np.isscalar(grad_outputs):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise GradientError(f"grad: {len(outs)} outputs but {len(grad_outputs)} grad_outputs")
    for node in ins:
        if not node.requires_grad:
            raise GradientError(f"grad: input {describe(node)} does not require grad")
    seeds = []
    for out, g in zip(outs, grad_outputs):
        _check_differentiable(out)
        seed = _seed(out, g)
        seeds.append((out, Constant(seed, name=f"∂{out.name}") if create_graph else seed))
    found = backpropagate(topological_sort(*outs), seeds, keep="none", create_graph=create_graph,
                          wanted={id(n) for n in ins})
    result = []
    for node in ins:
        g = found.get(id(node))
        if g is None:
            zeros = np.zeros_like(np.asarray(node.value))
            g = Constant(zeros, name=f"∂/∂{node.name}") if create_graph else zeros
        result.append(g)
    return result[0] if single else result


# ---------------------------------------------------------------- Graph
class Graph:
    """A graph sorted once and re-run many times (define-then-run, like the lesson).

    ``Graph(loss)`` finds every node ``loss`` depends on; ``forward(feed)``
    recomputes them all with new placeholder values; ``backward()`` fills the
    ``.grad`` of every node, intermediate ones included.
    """

    def __init__(self, *outputs: Node) -> None:
        if not outputs:
            raise TypeError("Graph needs at least one output node")
        self.outputs = tuple(_flatten(outputs))
        self.order = topological_sort(*self.outputs)
        self.placeholders = [n for n in self.order if isinstance(n, Placeholder)]
        self.variables = [n for n in self.order if isinstance(n, Variable)]
        slot = {id(n): i for i, n in enumerate(self.order)}
        # per node: its position's inputs, precomputed so a re-run does no lookups
        self._steps = [(i, n, tuple(slot[id(x)] for x in n.inputs)) for i, n in enumerate(self.order)
                       if isinstance(n, Op)]

    @property
    def output(self) -> Node:
        return self.outputs[0]

    def forward(self, feed: dict | None = None, narrate: bool = False, lang: str = "en") -> Any:
        """Feed the placeholders, recompute every op in order, return the output value
        (a tuple for several outputs). Nothing changes if any step fails.
        ``narrate=True`` prints what each node did, as the lesson does (``lang``: "en" or "zh")."""
        values = [n.value for n in self.order]
        fed = self._convert_feed(feed or {})
        for i, node in enumerate(self.order):
            if isinstance(node, Placeholder):
                if id(node) in fed:
                    values[i] = fed[id(node)]
                elif values[i] is None:
                    raise MissingFeedError(f"placeholder '{node.name}' was not fed: pass it in the feed "
                                           f"dictionary, e.g. graph.forward({{{node.name}: value}})")
        for i, node, slots in self._steps:
            values[i] = node.compute_checked([values[s] for s in slots])
        for node, value in zip(self.order, values):  # commit only after every step succeeded
            node.value = value
        if narrate:
            from .explain import narrate_forward  # explain.py sits above the engine

            print(narrate_forward(self, fed=set(fed), lang=lang))
        if len(self.outputs) == 1:
            return self.outputs[0].value
        return tuple(out.value for out in self.outputs)

    def _convert_feed(self, feed: dict) -> dict[int, Any]:
        by_name = {p.name: p for p in self.placeholders}
        members = {id(p) for p in self.placeholders}
        fed: dict[int, Any] = {}
        for key, data in feed.items():
            node = by_name.get(key) if isinstance(key, str) else key
            if isinstance(key, str) and node is None:
                raise FeedError(f"feed names '{key}', but this graph has no placeholder of that name "
                                f"(placeholders: {sorted(by_name)})")
            if not isinstance(node, Placeholder):
                what = describe(node) if isinstance(node, Node) else repr(key)
                raise FeedError(f"only Placeholders can be fed, but the feed names {what}")
            if id(node) not in members:
                raise FeedError(f"placeholder '{node.name}' is fed but is not part of this graph")
            try:
                fed[id(node)] = node.convert(data)
            except (TypeError, ValueError) as exc:
                raise FeedError(f"placeholder '{node.name}' cannot take the fed value {data!r}: {exc}") from exc
        return fed

    def backward(self, gradient: Any = None, narrate: bool = False, lang: str = "en") -> None:
        """Zero this graph's gradients, then fill every node's ``.grad`` with
        ∂output/∂node (one run = one step, as in the lesson).
        ``narrate=True`` prints each gradient every node sends to each input."""
        root = self.outputs[0]
        _check_differentiable(root)
        seed = _seed(root, gradient)
        self.zero_grad()
        backpropagate(self.order, [(root, seed)], keep="all")
        if narrate:
            from .explain import narrate_backward

            print(narrate_backward(self, lang=lang))

    # Seeing the chain rule: implemented in explain.py and viz.py (layers above this one).
    def explain(self, node: Node, **options: Any) -> Any:
        """The chain rule for ∂output/∂node: every path, symbols and numbers (see ``explain.py``)."""
        from .explain import explain

        return explain(self.outputs[0], node, graph=self, **options)

    def to_dot(self, **options: Any) -> str:
        """Graphviz DOT text of this graph (see ``viz.py``)."""
        from .viz import to_dot

        return to_dot(self, **options)

    def draw(self, path: str, **options: Any) -> str:
        """Render this graph to ``path`` (.svg, .png or .pdf) with Graphviz (see ``viz.py``)."""
        from .viz import draw

        return draw(self, path, **options)

    def _repr_svg_(self) -> str | None:
        from .viz import repr_svg

        return repr_svg(self)

    def zero_grad(self) -> None:
        for node in self.order:
            node.grad = None

    def __repr__(self) -> str:
        return f"Graph({', '.join(repr(o) for o in self.outputs)}; {len(self.order)} nodes)"
