"""Function transforms: derivatives of a Python function of nodes.

PyTorch's ``torch.autograd.functional`` names and conventions (``inputs`` one
array or a tuple of them; outputs likewise; ``create_graph``) and JAX's
``grad(f, argnums)`` and ``value_and_grad``, over one engine: the reverse pass
of ``backprop.py`` (one pass per output element) and the forward pass of
``forward_mode.py`` (one pass per input element).

The function is called once on fresh leaves, so it builds an ordinary graph,
which the transform then walks: ``f`` takes one node per input and returns a
node (or a tuple of nodes) built with chainrule's operations. Results are
arrays, or nodes with ``create_graph=True`` (differentiable again). A
``cr.grad(f)`` called inside another transform builds its result as a graph by
itself, so ``cr.grad(cr.grad(f))`` and ``cr.jacobian(cr.grad(f), x)`` work.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .backprop import backpropagate, sort
from .errors import ArgnumsError, option_error
from .forward_mode import push_tangents
from .grad_mode import grad_mode
from .graph import grad as graph_grad
from .node import Constant, Node, Variable
from .op import Op
from .ops import reshape, stack
from .transform_io import checked_vectors, name_of, outputs_of, pack, scalar_output, values_of

MODES = ("auto", "forward", "reverse")


class Alias(Op):
    """``x`` itself, as a new node: an argument a transform differentiates with respect to
    when it must stay linked to the graph it came from (PyTorch's ``view_as``); ∂/∂x = 1."""

    formula = "{0}"
    derivatives = ("1",)

    def forward(self, x: Any) -> Any:
        return x

    def vjp(self, g: Any, out: Any, x: Any) -> tuple[Any]:
        return (g,)


# ---------------------------------------------------------------- PyTorch's functional API
def vjp(f: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(inputs), vᵀ·∂f/∂inputs)``, one reverse pass (``torch.autograd.functional.vjp``).

    ``v`` has the shape of ``f``'s output (a tuple for a tuple of outputs); it may be
    left out when the output has one element. The vjp has the structure of ``inputs``.
    """
    with _transforming():
        tuple_in, xs = _leaves(inputs, create_graph)
        tuple_out, outs = outputs_of(f(*xs), f, "vjp")
        vs = checked_vectors(v, outs, tuple_out, "vjp", "output", create_graph)
        grads = _pull(_between(outs, xs), outs, vs, xs, create_graph)
    return pack(values_of(outs, create_graph), tuple_out), pack(grads, tuple_in)


def jvp(f: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(inputs), ∂f/∂inputs·v)``, one forward pass (``torch.autograd.functional.jvp``).

    ``v`` (the tangent) has the shape of ``inputs``; it may be left out when the
    input has one element. The jvp has the structure of ``f``'s output.
    """
    with _transforming():
        tuple_in, xs = _leaves(inputs, create_graph)
        vs = checked_vectors(v, xs, tuple_in, "jvp", "input", create_graph)
        tuple_out, outs = outputs_of(f(*xs), f, "jvp")
        tangents = _push(_between(outs, xs), xs, vs, outs, create_graph)
    return pack(values_of(outs, create_graph), tuple_out), pack(tangents, tuple_out)


def jacobian(f: Callable[..., Any], inputs: Any, create_graph: bool = False, mode: str = "auto") -> Any:
    """∂f/∂inputs as arrays of shape ``output.shape + input.shape`` (``torch.autograd.functional.jacobian``).

    One input and one output give one array; a tuple of inputs a tuple over the
    inputs; a tuple of outputs a tuple over the outputs; both, a tuple (per output)
    of tuples (per input). ``mode``: ``"reverse"`` (one backward pass per output
    element, JAX's ``jacrev``), ``"forward"`` (one forward pass per input element,
    ``jacfwd``) or ``"auto"``: forward when the inputs have fewer elements than
    the outputs, else reverse.
    """
    if mode not in MODES:
        raise option_error("jacobian", "mode", mode, "is not one of " + ", ".join(map(repr, MODES)))
    with _transforming():
        tuple_in, xs = _leaves(inputs, create_graph)
        tuple_out, outs = outputs_of(f(*xs), f, "jacobian")
        if mode == "auto":
            mode = "forward" if sum(x.size for x in xs) < sum(o.size for o in outs) else "reverse"
        order = _between(outs, xs)
        blocks = (_jacobian_forward if mode == "forward" else _jacobian_reverse)(order, outs, xs, create_graph)
    rows = [pack(row, tuple_in) for row in blocks]
    return pack(rows, tuple_out)


def hessian(f: Callable[..., Any], inputs: Any, create_graph: bool = False, mode: str = "auto") -> Any:
    """The second derivatives of a function with one one-element output
    (``torch.autograd.functional.hessian``): shape ``input.shape + input.shape``; a
    tuple of inputs gives a tuple of tuples, ``H[i][j]`` = ∂²f/∂xᵢ∂xⱼ. It is the
    Jacobian of the gradient: ``mode="forward"`` is forward-over-reverse (JAX's
    ``hessian``), ``"reverse"`` reverse-over-reverse (PyTorch's default).
    """

    def gradient(*xs: Node) -> Any:
        grads = _gradients(scalar_output(f(*xs), f, "hessian"), xs)
        return tuple(grads) if isinstance(inputs, (tuple, list)) else grads[0]

    gradient.__name__ = f"gradient of {name_of(f)}"
    return jacobian(gradient, inputs, create_graph=create_graph, mode=mode)


def hvp(f: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(inputs), H·v)`` for a function with one one-element output
    (``torch.autograd.functional.hvp``): the gradient built as a graph, then one
    forward pass of the tangent ``v`` through it (forward-over-reverse).
    """
    with _transforming():
        tuple_in, xs = _leaves(inputs, create_graph)
        vs = checked_vectors(v, xs, tuple_in, "hvp", "input", create_graph)
        out = scalar_output(f(*xs), f, "hvp")
        grads = _gradients(out, xs)
        products = _push(_between(grads, xs), xs, vs, grads, create_graph)
    return values_of([out], create_graph)[0], pack(products, tuple_in)


# ---------------------------------------------------------------- JAX's transforms
def grad(outputs: Any, *args: Any, **kwargs: Any) -> Any:
    """Two functions under one name, told apart by the first argument.

    - ``cr.grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
      allow_unused=None)``, where
      ``outputs`` is a node (or a list of nodes): ∂outputs/∂inputs now, as arrays
      (``torch.autograd.grad``; see ``chainrule.graph.grad``).
    - ``cr.grad(f, argnums=0)``, where ``f`` is a function (anything callable that
      is not a node): a new function that returns ∂f/∂(argument ``argnums``) at
      its arguments (JAX's ``jax.grad``; ``f`` returns a one-element node). A
      tuple ``argnums`` gives a tuple of gradients.
    """
    if callable(outputs) and not isinstance(outputs, Node):
        value_and_gradient = value_and_grad(outputs, *args, **kwargs)

        @functools.wraps(outputs)
        def gradient(*call_args: Any, **call_kwargs: Any) -> Any:
            return value_and_gradient(*call_args, **call_kwargs)[1]

        return gradient
    return graph_grad(outputs, *args, **kwargs)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function that returns ``(f(*args), ∂f/∂args[argnums])`` (``jax.value_and_grad``).

    ``f`` returns a one-element node. The gradient (a tuple for a tuple
    ``argnums``) is arrays, or nodes when the call is itself inside a transform
    or is given nodes that require grad, so that it can be differentiated again.
    """
    _check_argnums(argnums, f)

    @functools.wraps(f)
    def value_and_gradient(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        positions = _positions(argnums, len(args), f)
        with _transforming() as fresh:
            call = list(args)
            for i in positions:
                call[i] = _leaf(call[i], connect=True)
            xs = [call[i] for i in positions]
            fresh.update(x for x in xs if not x.inputs)
            out = scalar_output(f(*call, **kwargs), f, "grad")
            build = _nested(out, fresh) or any(isinstance(x, Alias) for x in xs)
            grads = _gradients(out, xs, create_graph=build)
        return values_of([out], build)[0], (tuple(grads) if isinstance(argnums, (tuple, list)) else grads[0])

    return value_and_gradient


def _check_argnums(argnums: Any, f: Any) -> None:
    """``argnums`` is an int or a non-empty tuple of distinct ints."""
    items = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    ints = all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in items)
    if not items or not ints or len(set(items)) != len(items):
        raise ArgnumsError(f"grad of '{name_of(f)}': argnums={argnums!r} is not an int or a tuple of distinct ints")


def _positions(argnums: Any, count: int, f: Any) -> list[int]:
    """The argument positions ``argnums`` names in a call with ``count`` positional arguments."""
    items = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    if not all(-count <= a < count for a in items) or len({a % count for a in items}) != len(items):
        raise ArgnumsError(
            f"grad of '{name_of(f)}': argnums={argnums!r}, but it was called with {count} "
            "positional argument(s); argnums counts positional arguments from 0"
        )
    return [int(a) % count for a in items]


# ---------------------------------------------------------------- inputs, outputs, vectors
class _Active(threading.local):
    leaves: tuple[set, ...] = ()


_active = _Active()


@contextmanager
def _transforming() -> Iterator[set]:
    """Gradients on (as ``torch.enable_grad``), and the leaves this transform makes
    registered while it runs, so that a ``cr.grad(f)`` called inside knows it is nested."""
    leaves: set[Node] = set()
    previous, enabled = _active.leaves, grad_mode.enabled
    _active.leaves, grad_mode.enabled = previous + (leaves,), True
    try:
        yield leaves
    finally:
        _active.leaves, grad_mode.enabled = previous, enabled


def _nested(out: Node, own: set) -> bool:
    """Whether ``out`` depends on a leaf of an enclosing transform (not one of ``own``)."""
    outer = [leaves for leaves in _active.leaves if leaves is not own]
    if not outer:
        return False
    return any(node in leaves for node in sort(out) if not node.inputs for leaves in outer)


def _leaf(x: Any, connect: bool) -> Node:
    """A leaf to differentiate with respect to: a node that requires grad stays linked to
    its graph through an ``Alias`` when ``connect``; anything else becomes a fresh Variable."""
    if isinstance(x, Node):
        if connect and x.requires_grad:
            return Alias(x, name=x.name)
        return Variable(x.value, name=x.name)
    return Variable(x)


def _leaves(inputs: Any, connect: bool) -> tuple[bool, list[Node]]:
    """(whether ``inputs`` is a tuple, one leaf per input), the leaves registered as this transform's."""
    is_tuple = isinstance(inputs, (tuple, list))
    leaves = [_leaf(x, connect) for x in (inputs if is_tuple else (inputs,))]
    _active.leaves[-1].update(x for x in leaves if not x.inputs)
    return is_tuple, leaves


# ---------------------------------------------------------------- the passes
def _between(outs: Sequence[Node], xs: Sequence[Node]) -> list[Node]:
    """The nodes that depend on ``xs`` (and the ``outs`` depend on), in topological order:
    the only ones a derivative of the outputs with respect to the inputs passes through."""
    reached = set(xs)
    order = []
    for node in sort(*outs):
        if node in reached or any(inp in reached for inp in node.inputs):
            reached.add(node)
            order.append(node)
    return order


def _zero(node: Node, create_graph: bool) -> Any:
    zeros = np.zeros_like(np.asarray(node.value))
    return Constant(zeros, name=f"0_{node.name}") if create_graph else zeros


def _as_node(value: Any, create_graph: bool, name: str) -> Any:
    """``value`` as the pass needs it: a node when building a graph."""
    return Constant(value, name=name) if create_graph and not isinstance(value, Node) else value


def _pull(order: list[Node], outs: list[Node], vs: list, xs: list[Node], create_graph: bool) -> list:
    """Σ over outputs of ⟨v, ∂out/∂x⟩ for each x: one reverse pass."""
    within = set(order)
    seeds = [(o, _as_node(v, create_graph, f"v_{o.name}")) for o, v in zip(outs, vs) if o in within and o.requires_grad]
    found = backpropagate(order, seeds, keep="none", create_graph=create_graph, wanted=set(xs)) if seeds else {}
    return [found[x] if x in found else _zero(x, create_graph) for x in xs]


def _push(order: list[Node], xs: list[Node], vs: list, outs: list[Node], create_graph: bool) -> list:
    """Σ over inputs of ∂out/∂x·v for each output: one forward pass (v None: no tangent)."""
    seeds = {x: _as_node(v, create_graph, f"t_{x.name}") for x, v in zip(xs, vs) if v is not None}
    found = push_tangents(order, seeds, create_graph)
    return [found[o] if o in found else _zero(o, create_graph) for o in outs]


def _gradients(out: Node, xs: Sequence[Node], create_graph: bool = True) -> list:
    """∂out/∂x for each x (as nodes by default); zeros when ``out`` depends on none of them."""
    if not out.requires_grad:
        return [_zero(x, create_graph) for x in xs]
    return graph_grad(out, list(xs), create_graph=create_graph)


def _basis(node: Node, k: int) -> np.ndarray:
    """The k-th unit vector in the shape and dtype of ``node``."""
    e = np.zeros(node.size, node.dtype)
    e[k] = 1
    return e.reshape(node.shape)[()]


def _jacobian_reverse(order: list[Node], outs: list[Node], xs: list[Node], create_graph: bool) -> list[list]:
    """Row by row: one reverse pass per output element."""
    blocks = []
    for o in outs:
        rows = [_pull(order, [o], [_basis(o, k)], xs, create_graph) for k in range(o.size)]
        blocks.append([_assemble([r[j] for r in rows], o, x, 0) for j, x in enumerate(xs)])
    return blocks


def _jacobian_forward(order: list[Node], outs: list[Node], xs: list[Node], create_graph: bool) -> list[list]:
    """Column by column: one forward pass per input element."""
    columns = []  # columns[j][k][i]: ∂out_i/∂(x_j element k)
    for j, x in enumerate(xs):
        vs: list = [None] * len(xs)
        column = []
        for k in range(x.size):
            vs[j] = _basis(x, k)
            column.append(_push(order, xs, vs, outs, create_graph))
        columns.append(column)
    return [[_assemble([c[i] for c in columns[j]], o, x, -1) for j, x in enumerate(xs)] for i, o in enumerate(outs)]


def _assemble(parts: list, out: Node, x: Node, axis: int) -> Any:
    """The (out.shape + x.shape) block from one part per element of ``out`` (axis 0,
    each of x's shape) or of ``x`` (axis -1, each of out's shape)."""
    shape = out.shape + x.shape
    if not parts:
        return np.zeros(shape, np.result_type(out.dtype, x.dtype))
    flat = stack([reshape(p, (-1,)) for p in parts], axis=axis)
    block = reshape(flat, shape)
    dtype = np.result_type(out.dtype, x.dtype)
    return block if block.dtype == dtype else block.astype(dtype)
