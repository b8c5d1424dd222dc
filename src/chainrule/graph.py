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

from operator import attrgetter
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import CycleError, FeedError, GradientError, MissingFeedError, describe
from .broadcast import unbroadcast
from .node import Constant, Node, Placeholder, Variable
from .op import COMPUTE_ERRORS, Op
from .ops.shape import sum_to_shape


# ---------------------------------------------------------------- sorting
def topological_sort(*outputs: Node) -> list[Node]:
    """Every node that ``outputs`` depend on, inputs before their consumers.

    Iterative (no recursion: graphs of 100,000+ nodes are fine). Nodes are
    numbered as they are built, after their inputs, so usually the order is
    just "find every ancestor, sort by number"; if ``inputs`` were rewired by
    hand so that the numbers disagree, a depth-first search decides instead
    (and raises CycleError naming a node on a cycle).
    """
    outs = _flatten(outputs)
    order = _by_creation(outs)
    return order if order is not None else _depth_first(outs)


def _by_creation(outs: list[Node]) -> list[Node] | None:
    """The ancestors of ``outs`` sorted by creation number, or None if some node's
    input was created after it (hand-wired inputs)."""
    seen = set(outs)  # nodes hash by identity
    stack = list(outs)
    while stack:
        node = stack.pop()
        seq = node._seq
        for inp in node.inputs:
            if inp._seq >= seq:
                return None
            if inp not in seen:
                seen.add(inp)
                stack.append(inp)
    return sorted(seen, key=_creation_number)


_creation_number = attrgetter("_seq")


def _depth_first(outs: list[Node]) -> list[Node]:
    """Topological order by an explicit-stack depth-first search. A node is expanded
    (its unplaced inputs pushed) the first time it reaches the top of the stack,
    and placed the second time, once everything above it is placed. Meeting an
    input that is expanded but not placed means the input is on the current
    path: a cycle, reported with CycleError."""
    order: list[Node] = []
    placed: dict[int, bool] = {}  # id -> False while expanded, True once placed
    stack = outs[::-1]
    while stack:
        node = stack[-1]
        key = id(node)
        state = placed.get(key)
        if state is None and node.inputs:
            placed[key] = False
            for inp in node.inputs:
                seen = placed.get(id(inp))
                if seen is None:
                    stack.append(inp)
                elif seen is False:
                    raise CycleError(f"the graph has a cycle through node {describe(inp)}: "
                                     "a node cannot depend on itself")
            continue
        stack.pop()
        if not state:  # None (a leaf) or False (expanded, inputs now placed)
            placed[key] = True
            order.append(node)
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
                  create_graph: bool = False, wanted: set[Node] | None = None) -> dict[Node, Any]:
    """Push ``seeds`` (node, ∂out/∂node) back through ``order`` (a topological order).

    keep: which nodes get ``.grad`` written (added to what they hold):
    ``"leaves"`` (PyTorch), ``"all"`` (the lesson and ``Graph``) or ``"none"``.
    create_graph: run each vjp on nodes, so the gradients are themselves nodes
    that can be differentiated again. wanted: nodes whose final gradient is
    returned (in a dict keyed by node).

    A node's gradient is complete when the walk reaches it, since all its
    consumers come later in ``order``; it is dropped as soon as it has been
    pushed to the inputs, so memory holds only the gradients in flight.
    Dictionaries are keyed by the nodes themselves: their hash is their
    identity (``==`` on nodes is elementwise, but dicts compare identity first
    and two live nodes never share a hash).
    """
    grads: dict[Node, Any] = {}
    for node, seed in seeds:
        grads[node] = seed if node not in grads else grads[node] + seed
    found: dict[Node, Any] = {}
    stored: set[int] = set()
    keep_all, keep_leaves = keep == "all", keep in ("all", "leaves")
    pop, get = grads.pop, grads.get
    # The loop below runs once per node of every backward pass: it is kept flat on purpose.
    for node in reversed(order):
        g = pop(node, None)
        if g is None:
            continue
        if wanted is not None and node in wanted:
            found[node] = g
        inputs = node.inputs
        if not inputs:
            if keep_leaves:
                _store_grad(node, g, stored)
            continue
        if keep_all:
            node._grad, node._seeded = (g.value if create_graph else g), False
        if create_graph:
            parts = node.vjp(g, node, *inputs)
        else:
            parts = node.vjp(g, node.value, *[inp.value for inp in inputs])
        for inp, part in zip(inputs, parts):
            if part is None or not inp.requires_grad:
                continue
            shape = inp.value.shape
            if part.shape != shape:  # undo broadcasting, here and nowhere else
                part = sum_to_shape(part, shape) if create_graph else unbroadcast(part, shape)
            prev = get(inp)
            # prev + part makes a new array: the engine never writes into an array a vjp
            # returned, since that may be the upstream gradient or a user's array
            grads[inp] = part if prev is None else prev + part
    return found


def _store_grad(node: Node, g: Any, stored: set[int]) -> None:
    """Add ``g`` into a leaf's ``.grad``, in an array the engine owns: never a view
    of another array, never the same object as another leaf's ``.grad``."""
    if isinstance(g, Node):  # create_graph: the value of the gradient node
        g = g.value
    if not isinstance(g, np.generic):  # NumPy scalars are immutable: nothing to alias
        if not isinstance(g, np.ndarray) or g.base is not None or not g.flags.writeable or id(g) in stored:
            g = np.array(g)
        stored.add(id(g))
    node._grad = g if node._grad is None else node._grad + g
    node._seeded = False  # written by a whole pass: backward() on it starts a new one


def _seed(root: Node, gradient: Any) -> Any:
    """∂root/∂root: ones for a scalar, else the given ``gradient`` (checked)."""
    value = root.value
    if gradient is None:
        if value.size != 1:
            raise GradientError(f"backward of node {describe(root)} needs a gradient argument: "
                                "only a one-element output has an implicit gradient of 1")
        return value.dtype.type(1) if value.ndim == 0 else np.ones(value.shape, value.dtype)
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
                          wanted=set(ins))
    result = []
    for node in ins:
        g = found.get(node)
        if g is None:
            zeros = np.zeros_like(np.asarray(node.value))
            g = Constant(zeros, name=f"∂/∂{node.name}") if create_graph else zeros
        result.append(g)
    return result[0] if single else result


# ---------------------------------------------------------------- Graph
def _convert_feed_value(node: Placeholder, data: Any) -> Any:
    try:
        return node.convert(data)
    except (TypeError, ValueError) as exc:
        raise FeedError(f"placeholder '{node.name}' cannot take the fed value {data!r}: {exc}") from exc


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
        # Everything a re-run needs is precomputed here, so forward and backward
        # do no sorting and no lookups: each node is a slot in a list.
        slot = {n: i for i, n in enumerate(self.order)}  # nodes hash by identity
        self._feed_slots = {p: slot[p] for p in self.placeholders}
        self._feed_slots.update({p.name: slot[p] for p in self.placeholders})
        self._steps = [(i, n, tuple(slot[x] for x in n.inputs)) for i, n in enumerate(self.order)
                       if isinstance(n, Op)]
        self._placeholder_slots = [slot[p] for p in self.placeholders]

    @property
    def output(self) -> Node:
        return self.outputs[0]

    def forward(self, feed: dict | None = None, narrate: bool = False, lang: str = "en") -> Any:
        """Feed the placeholders, recompute every op in order, return the output value
        (a tuple for several outputs). Nothing changes if any step fails.
        ``narrate=True`` prints what each node did, as the lesson does (``lang``: "en" or "zh").

        A placeholder left out of ``feed`` keeps the value it was last fed; one
        that was never fed raises MissingFeedError naming it."""
        order = self.order
        values = [n.value for n in order]
        if feed:
            for key, data in feed.items():
                i = self._feed_slot(key)
                values[i] = _convert_feed_value(order[i], data)
        for i in self._placeholder_slots:
            if values[i] is None:
                node = order[i]
                raise MissingFeedError(f"placeholder '{node.name}' was not fed: pass it in the feed "
                                       f"dictionary, e.g. graph.forward({{{node.name}: value}})")
        try:
            for i, node, slots in self._steps:
                values[i] = node._compute(*[values[s] for s in slots])
        except COMPUTE_ERRORS as exc:
            raise node.shape_error(exc, [values[s] for s in slots]) from exc
        # commit only after every step succeeded (leaves other than the fed ones are unchanged)
        for i in self._placeholder_slots:
            order[i].value = values[i]
        for i, node, _ in self._steps:
            node.value = values[i]
        if narrate:
            from .see.explain import narrate_forward  # explain.py sits above the engine

            fed = {id(order[self._feed_slot(key)]) for key in feed or {}}
            print(narrate_forward(self, fed=fed, lang=lang))
        if len(self.outputs) == 1:
            return self.outputs[0].value
        return tuple(out.value for out in self.outputs)

    def _feed_slot(self, key: Any) -> int:
        """The slot of the placeholder that a feed key (a Placeholder or its name) names."""
        try:
            return self._feed_slots[key]
        except (KeyError, TypeError):
            pass
        if isinstance(key, str):
            raise FeedError(f"feed names '{key}', but this graph has no placeholder of that name "
                            f"(placeholders: {sorted(p.name for p in self.placeholders)})")
        if isinstance(key, Placeholder):
            raise FeedError(f"placeholder '{key.name}' is fed but is not part of this graph")
        what = describe(key) if isinstance(key, Node) else repr(key)
        raise FeedError(f"only Placeholders can be fed, but the feed names {what}")

    def backward(self, gradient: Any = None, narrate: bool = False, lang: str = "en") -> None:
        """Fill every node's ``.grad`` with ∂output/∂node, replacing what was there
        (one run = one step, as in the lesson); nodes that the output does not
        depend on differentiably get ``None``.
        ``narrate=True`` prints each gradient every node sends to each input."""
        root = self.outputs[0]
        _check_differentiable(root)
        seed = _seed(root, gradient)
        self.zero_grad()
        backpropagate(self.order, [(root, seed)], keep="all")
        if narrate:
            from .see.explain import narrate_backward

            print(narrate_backward(self, lang=lang))

    def zero_grad(self) -> None:
        """Set every node's ``.grad`` to None."""
        for node in self.order:
            node._grad, node._seeded = None, False  # the slots behind the .grad property

    def __repr__(self) -> str:
        return f"Graph({', '.join(repr(o) for o in self.outputs)}; {len(self.order)} nodes)"

    # Seeing the chain rule: implemented in explain.py and viz.py (layers above this one).
    def explain(self, node: Node, **options: Any) -> Any:
        """The chain rule for ∂output/∂node: every path, symbols and numbers (see ``explain.py``)."""
        from .see.explain import explain

        return explain(self.outputs[0], node, graph=self, **options)

    def to_dot(self, **options: Any) -> str:
        """Graphviz DOT text of this graph (see ``viz.py``)."""
        from .see.viz import to_dot

        return to_dot(self, **options)

    def draw(self, path: str, **options: Any) -> str:
        """Render this graph to ``path`` (.svg, .png or .pdf) with Graphviz (see ``viz.py``)."""
        from .see.viz import draw

        return draw(self, path, **options)

    def _repr_svg_(self) -> str | None:
        from .see.viz import repr_svg

        return repr_svg(self)
