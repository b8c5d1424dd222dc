"""The lesson's graph: sort it once, run it forward and backward many times.

``topological_sort`` is the lesson's sort (it also tells each node its
consumers, ``node.outputs``); ``Graph`` is define-then-run (like the lesson and
TensorFlow 1): ``forward(feed)`` re-runs the sorted nodes with new placeholder
values, ``backward()`` fills every node's ``.grad`` and every op's
``gradients``. ``grad`` returns gradients instead of storing them
(``torch.autograd.grad``). The algorithms themselves live in ``backprop.py``.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtype as _dtype
from . import hooks
from .backprop import backpropagate, check_differentiable, flatten, run_backward, seed_gradient, sort
from .errors import FeedError, GradientError, MissingFeedError, describe
from .memory import restore_released
from .node import Constant, Node, Placeholder, Variable


def topological_sort(*outputs: Node) -> list[Node]:
    """Every node that ``outputs`` depend on, inputs before their consumers.

    Iterative (graphs of 100,000+ nodes are fine). Like the lesson's sort, it
    also fills each node's ``outputs`` with its consumers in this graph (each
    once), which the lesson's ``backward()`` reads; a later sort replaces them.
    """
    order = sort(*outputs)
    for node in order:
        node._outputs = []
    for node in order:
        for inp in dict.fromkeys(node.inputs):  # each consumer once, even for x * x
            inp._outputs.append(node)
    return order


def backward(root: Node, gradient: Any = None, retain_grads: bool = False, retain_graph: bool = False) -> None:
    """A whole backward pass from ``root``, whatever its place in a sorted graph:
    every leaf adds ∂root/∂leaf into its ``.grad`` (PyTorch's ``loss.backward()``);
    intermediate values nothing else holds are released unless ``retain_graph``."""
    run_backward(root, gradient, retain_grads=retain_grads, retain_graph=retain_graph)


def grad(
    outputs: Node | Sequence[Node],
    inputs: Node | Sequence[Node],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
) -> Any:
    """∂outputs/∂inputs, returned rather than stored (``torch.autograd.grad``, with its
    argument order).

    Returns one gradient per input (a single one when ``inputs`` is a node):
    ndarrays, or nodes when ``create_graph=True`` so you can differentiate
    again (grad of grad, Hessian-vector products). An input that the outputs
    do not depend on gets zeros (None with ``allow_unused=True``, as in PyTorch).
    ``.grad`` attributes are left untouched, and so is the graph: ``grad`` releases
    nothing, so ``retain_graph`` (accepted as PyTorch code passes it) is always true.
    With ``create_graph=True`` a ``grad_outputs`` node is an input of the new
    graph, so the result can be differentiated with respect to it too.
    """
    single = isinstance(inputs, Node)
    outs = [outputs] if isinstance(outputs, Node) else list(outputs)
    ins = [inputs] if isinstance(inputs, Node) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif isinstance(grad_outputs, (Node, np.ndarray)) or np.isscalar(grad_outputs):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise GradientError(f"grad: {len(outs)} outputs but {len(grad_outputs)} grad_outputs")
    for node in ins:
        if not node.requires_grad:
            raise GradientError(f"grad: input {describe(node)} does not require grad")
    seeds = [(out, _seed(out, g, create_graph)) for out, g in zip(outs, grad_outputs)]
    order = sort(*outs, restore=False)
    # what backward released is read again; what the forward released no vjp reads, but a graph of
    # the backward pass is built from nodes that must all have their values
    restore_released(order, after_forward=create_graph)
    found = backpropagate(order, seeds, keep="none", create_graph=create_graph, wanted=set(ins))
    result: list[Any] = []
    for node in ins:
        g = found.get(node)
        if g is None and allow_unused:
            result.append(None)
            continue
        if g is None:
            zeros = np.zeros_like(np.asarray(node.value))
            g = Constant(zeros, name=f"∂/∂{node.name}") if create_graph else zeros
        result.append(g)
    return result[0] if single else result


def _seed(out: Node, g: Any, create_graph: bool) -> Any:
    """The seed ∂out/∂out for ``grad``: an array, or a node when building a graph (a
    ``grad_outputs`` node itself, so that what it seeds depends on it)."""
    check_differentiable(out, "grad")
    seed = seed_gradient(out, g)
    if not create_graph:
        return seed
    if isinstance(g, Node):
        return g
    return Constant(seed, name=f"∂{out.name}")


class Graph:
    """A graph sorted once and re-run many times (define-then-run, like the lesson).

    ``Graph(loss)`` finds every node ``loss`` depends on; ``forward(feed)``
    recomputes them all with new placeholder values; ``backward()`` fills the
    ``.grad`` of every node, intermediate ones included.
    """

    if TYPE_CHECKING:
        # attached by the layers above (see/ and compile/), declared for type checkers
        def explain(self, node: Node, **options: Any) -> Any: ...
        def to_dot(self, **options: Any) -> str: ...
        def draw(self, path: str, **options: Any) -> str: ...
        def compile(self, wrt: Sequence[Node] | None = None) -> Any: ...
        def _repr_svg_(self) -> str | None: ...

    def __init__(self, *outputs: Node) -> None:
        if not outputs:
            raise TypeError("Graph needs at least one output node")
        self.outputs = tuple(flatten(outputs))
        self.order = topological_sort(*self.outputs)
        self.placeholders = [n for n in self.order if isinstance(n, Placeholder)]
        self.variables = [n for n in self.order if isinstance(n, Variable)]
        # what a feed may name: placeholders, and the leaves a learner wrote the lesson's way
        feedable = [n for n in self.order if not n.inputs and not isinstance(n, (Variable, Constant))]
        self._feed_keys: dict[Any, Node] = {n: n for n in feedable}
        self._feed_keys.update({n.name: n for n in feedable})
        self._steps = [n for n in self.order if n.inputs]

    @property
    def output(self) -> Node:
        return self.outputs[0]

    def forward(self, feed: dict | None = None, narrate: bool = False, lang: str = "en") -> Any:
        """Feed the placeholders, recompute every op in order, return the output value
        (a tuple for several outputs). Nothing changes if any step fails.
        ``narrate=True`` prints what each node did, as the lesson does (``lang``: "en" or "zh").

        A placeholder left out of ``feed`` keeps the value it was last fed; one
        that was never fed raises MissingFeedError naming it."""
        fed = {self._feed_node(key): data for key, data in (feed or {}).items()}
        fed = {node: _convert_feed_value(node, data) for node, data in fed.items()}
        for placeholder in self.placeholders:
            if placeholder.value is None and placeholder not in fed:
                raise MissingFeedError(
                    f"placeholder '{placeholder.name}' was not fed: pass it in the feed "
                    f"dictionary, e.g. graph.forward({{{placeholder.name}: value}})"
                )
        before = [(node, node.value) for node in fed] + [(node, node.value) for node in self._steps]
        try:
            for node, value in fed.items():
                node.value = value
            for node in self._steps:
                node.value = node._evaluate()
        except BaseException:  # a failed (or interrupted) run leaves every value as it was
            for node, value in before:
                node.value = value
            raise
        self._tell("forward", narrate, lang, fed)
        if len(self.outputs) == 1:
            return self.outputs[0].value
        return tuple(out.value for out in self.outputs)

    def _feed_node(self, key: Any) -> Node:
        """The node that a feed key (a placeholder or its name) names."""
        try:
            return self._feed_keys[key]
        except (KeyError, TypeError):
            pass
        names = sorted(n.name for n in self.placeholders)
        if isinstance(key, str):
            raise FeedError(
                f"feed names '{key}', but this graph has no placeholder of that name (placeholders: {names})"
            )
        if isinstance(key, Placeholder):
            raise FeedError(f"placeholder '{key.name}' is fed but is not part of this graph")
        what = describe(key) if isinstance(key, Node) else repr(key)
        raise FeedError(f"only Placeholders can be fed, but the feed names {what}")

    def backward(self, gradient: Any = None, narrate: bool = False, lang: str = "en") -> None:
        """Fill every node's ``.grad`` with ∂output/∂node and every op's ``gradients``
        with what it sent each input, replacing what was there (one run, one step,
        as in the lesson); nodes the output does not depend on differentiably get
        ``None``. Nothing changes if a step fails.
        ``narrate=True`` prints each gradient every node sends to each input."""
        root = self.outputs[0]
        check_differentiable(root)
        seed = seed_gradient(root, gradient)
        backpropagate(self.order, [(root, seed)], keep="all", record=True, replace=True)
        self._tell("backward", narrate, lang)

    def _tell(self, kind: str, narrate: bool, lang: str, fed: Container[Node] = ()) -> None:
        """Send this pass, node by node, to the watchers (and the narrator if asked)."""
        watchers = hooks.active() + ((hooks.narrator(lang),) if narrate else ())
        if not watchers:
            return
        hooks.notify("begin", kind, self, watchers=watchers)
        if kind == "forward":
            for node in self.order:
                hooks.notify("forward", node, node in fed, watchers=watchers)
        else:
            for node in reversed(self.order):
                hooks.notify("backward", node, watchers=watchers)
        hooks.notify("end", kind, self, watchers=watchers)

    def zero_grad(self) -> None:
        """Set every node's ``.grad`` to None and empty every ``gradients`` dict."""
        for node in self.order:
            node.grad = node._gradients = None

    def __repr__(self) -> str:
        return f"Graph({', '.join(repr(o) for o in self.outputs)}; {len(self.order)} nodes)"


def _convert_feed_value(node: Node, data: Any) -> Any:
    try:
        if not isinstance(node, Placeholder):  # a learner's own leaf, written the lesson's way
            return _dtype.as_array(data)
        return node.convert(data)
    except (TypeError, ValueError) as exc:
        raise FeedError(f"placeholder '{node.name}' cannot take the fed value {data!r}: {exc}") from exc
