"""The lesson's algorithm made general: topological sort, then backward in reverse order.

1. ``sort`` puts every node after its inputs (iteratively: graphs of 100,000+
   nodes must not hit Python's recursion limit).
2. ``backpropagate`` visits that order in reverse. Each node's ``vjp`` turns the
   gradient arriving at it into one gradient per input; ``fit_gradient`` sums
   each one down to its input's shape and dtype (undoing broadcasting and
   promotion), and the engine *adds* it to what the input already received, so
   a node used twice gets the sum of both paths.

3. ``run_backward`` (``loss.backward()``) frees as it goes: once a node's vjp has run,
   no later vjp of the pass needs its value, so the value is released unless
   something outside the graph still holds the node (see ``backpropagate``).

This module sits below ``node.py`` (``Node.backward`` runs a pass with it), so it
knows nodes only by what they carry: ``inputs``, ``value``, ``grad``, ``vjp``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from . import release
from .broadcast import fit_gradient
from .dtype import reconcile
from .errors import CycleError, GradientError, describe
from .memory import COUNTS_REFERENCES, RELEASED, collector, current_pass, private, refcount, restore_released


# ---------------------------------------------------------------- sorting
def sort(*outputs: Any, restore: bool = True) -> list:
    """Every node that ``outputs`` depend on, inputs before their consumers.

    Nodes are numbered as they are built, after their inputs, so usually the
    order is just "find every ancestor, sort by number"; if ``inputs`` were
    rewired by hand so that the numbers disagree, a depth-first search decides
    instead (and raises CycleError naming a node on a cycle).

    restore: recompute, from the leaves, the values an earlier backward pass
    released (``explain``, drawing, ``Graph`` and the lesson's loops sort their
    graph this way and never see a released value; a second ``loss.backward()``
    does not, and tells you to pass ``retain_graph=True``).
    """
    outs = flatten(outputs)
    order = _by_creation(outs)
    if order is None:
        order = _depth_first(outs)
    if restore:
        restore_released(order)
    return order


def _by_creation(outs: list) -> list | None:
    """The ancestors of ``outs`` sorted by creation number, or None if some node's
    input was created after it (hand-wired inputs)."""
    seen = set(outs)  # nodes hash by identity
    found = list(seen)  # in the order found: mostly newest first, a run that the sort takes whole
    for node in found:  # (a list's iterator also visits what is appended to it meanwhile)
        seq = node._seq
        for inp in node.inputs:
            if inp._seq >= seq:
                return None
            if inp not in seen:
                seen.add(inp)
                found.append(inp)
    found.sort(key=_creation_number)
    return found


_creation_number = attrgetter("_seq")


def _depth_first(outs: list) -> list:
    """Topological order by an explicit-stack depth-first search. A node is expanded
    (its unplaced inputs pushed) the first time it reaches the top of the stack,
    and placed the second time, once everything above it is placed. Meeting an
    input that is expanded but not placed means the input is on the current
    path: a cycle, reported with CycleError."""
    order: list = []
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
                    raise CycleError(
                        f"the graph has a cycle through node {describe(inp)}: a node cannot depend on itself"
                    )
            continue
        stack.pop()
        if not state:  # None (a leaf) or False (expanded, inputs now placed)
            placed[key] = True
            order.append(node)
    return order


def flatten(items: Iterable[Any]) -> list:
    """Nodes given one by one or in (nested) lists and tuples, as one list."""
    flat: list = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat.extend(flatten(item))
        elif hasattr(item, "inputs"):
            flat.append(item)
        else:
            raise TypeError(f"expected nodes, got {type(item).__name__}")
    return flat


# ---------------------------------------------------------------- one step
def input_values(node: Any, create_graph: bool = False) -> Sequence[Any]:
    """What ``node.vjp`` gets as its inputs: their values (or the input nodes themselves,
    to build the backward pass as a graph) in the dtypes the op computes in."""
    values = node.inputs if create_graph else [inp.value for inp in node.inputs]
    return values if node.dtypes is None else reconcile(values, node.dtypes, node.dtype_keep)


def record_step(node: Any, parts: Sequence[Any]) -> None:
    """``node.gradients[input]``: what this step sent each input (None where it sent
    nothing; summed where the node uses an input twice), as the lesson keeps them."""
    sent: dict = {}
    for inp, part in zip(node.inputs, parts):
        if part is None:
            sent.setdefault(inp, None)
        else:
            prev = sent.get(inp)
            sent[inp] = part if prev is None else prev + part
    node._gradients = sent


# ---------------------------------------------------------------- backward
def backpropagate(
    order: Sequence[Any],
    seeds: Sequence[tuple[Any, Any]],
    *,
    keep: str = "leaves",
    create_graph: bool = False,
    wanted: set | None = None,
    record: Any = False,
    replace: bool = False,
    release: bool = False,
) -> dict:
    """Push ``seeds`` (node, ∂out/∂node) back through ``order`` (a topological order).

    keep: which nodes get ``.grad`` written: ``"leaves"`` (added to what they hold,
    as PyTorch does), ``"all"`` (every node, intermediate ones too) or ``"none"``.
    replace: first set every node's ``.grad`` and ``gradients`` to None (``Graph``:
    one run, one step). create_graph: run each vjp on nodes, so the gradients
    are themselves nodes that can be differentiated again. wanted: nodes whose
    final gradient is returned (in a dict keyed by node). record: True to fill
    every op's ``gradients`` dict (the lesson's per-input contributions), or the
    one node whose step to record. release: free values as the pass goes (below).

    A node's gradient is complete when the walk reaches it, since all its
    consumers come later in ``order``; it is dropped as soon as it has been
    pushed to the inputs, so memory holds only the gradients in flight. No
    ``.grad`` is written until every vjp has run: a failed pass changes no gradient.

    Releasing (``loss.backward()`` without ``retain_graph``): after a node's vjp no
    remaining vjp reads its value, so its saved arrays and, unless something outside
    the graph references it, its value are dropped (why that is safe: ``memory.py``).
    Dictionaries are keyed by the nodes themselves: their hash is their
    identity (``==`` on nodes is elementwise, but dicts compare identity first
    and two live nodes never share a hash).
    """
    grads: dict = {}
    for node, seed in seeds:
        grads[node] = seed if node not in grads else grads[node] + seed
    release = release and not create_graph and keep != "all" and COUNTS_REFERENCES
    kept = seeds[0][0] if release and len(seeds) == 1 else None  # the output keeps its value
    outer, current_pass.releasing = current_pass.releasing, kept is not None  # ops with big saved state may ask
    try:
        found, writes, steps = _walk(order, grads, keep, create_graph, wanted, record, kept)
    finally:
        current_pass.releasing = outer
    _commit(order if replace else (), writes, steps)
    if kept is not None:
        collector.release()
    return found


def _walk(
    order: Sequence[Any], grads: dict, keep: str, create_graph: bool, wanted: set | None, record: Any, kept: Any
) -> tuple[dict, list, list]:
    """``backpropagate``'s loop: (the gradients ``wanted``, the ``.grad`` writes, the recorded
    steps). ``kept``: the output when the pass releases values as it goes, else None."""
    found: dict = {}
    writes: list = []  # (node, gradient) for every .grad this pass sets, committed at the end
    steps: list = []  # (node, parts) for every gradients dict it records
    keep_all, keep_leaves, release = keep == "all", keep in ("all", "leaves"), kept is not None
    pop, get = grads.pop, grads.get
    fanned: dict = {}  # node -> gradients it received beyond the first (fan-out), when releasing
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
                writes.append((node, g))
            continue
        if keep_all:
            writes.append((node, g))
        if create_graph:
            parts = node.vjp(g, node, *input_values(node, create_graph))
        elif len(inputs) == 1:  # most ops have one or two inputs: a direct call, no sequence to build
            parts = node.vjp(g, node.value, inputs[0].value)
        else:
            values: Sequence[Any] = (
                (inputs[0].value, inputs[1].value) if len(inputs) == 2 else [inp.value for inp in inputs]
            )
            if node.dtypes is not None:  # the common case inline: one dtype already
                first = getattr(values[0], "dtype", None)
                if first is None or getattr(values[1], "dtype", None) is not first or len(values) > 2:
                    values = reconcile(values, node.dtypes, node.dtype_keep)
            parts = node.vjp(g, node.value, *values)
        sent: list | None = [] if record is True or record is node else None  # the lesson's gradients
        for inp, part in zip(inputs, parts):
            if part is None or not inp.requires_grad:
                if sent is not None:
                    sent.append(None)
                continue
            value = inp.value
            try:  # the one place a gradient is fitted to its input; the common case, checked inline
                if part.shape != value.shape or (part.dtype is not value.dtype and part.dtype != value.dtype):
                    part = fit_gradient(part, value)
            except AttributeError:  # a Python number, set by a node written the lesson's way
                part = fit_gradient(part, value)
            if sent is not None:
                sent.append(part)
            prev = get(inp)
            if prev is None:
                grads[inp] = part
            else:  # prev + part makes a new array: the engine never writes into an array a vjp
                grads[inp] = prev + part  # returned (it may be the upstream gradient or a user's)
                if release:
                    fanned[inp] = fanned.get(inp, 0) + 1
        if sent is not None:
            steps.append((node, sent))
        if release:  # after its vjp: drop what it saved for it, and its value unless held (below)
            if node.saved_for_backward:
                for name in node.saved_for_backward:
                    setattr(node, name, None)
            # the graph's own references: `order`, `node` here, getrefcount's argument, and one per
            # gradient received (each came from a consumer whose inputs hold the node), plus the key in
            # `fanned`; a consumer that sent none makes one more, and the value stays (the safe side).
            # Anything else (the user's variable, `kept`: the output) keeps the value.
            k = fanned.get(node) if fanned else None
            if refcount(node) <= (4 if k is None else 5 + k) and node is not kept:
                node.value = RELEASED
    return found, writes, steps


def _commit(cleared: Sequence[Any], writes: list, steps: list) -> None:
    """Write what a finished pass computed: clear ``cleared``, then set each ``.grad``
    (leaves add to theirs) and each recorded ``gradients`` dict."""
    for node in cleared:
        node.grad = node._gradients = None
    stored: set[int] = set()
    for node, g in writes:
        if node.inputs:
            node.grad = g.value if hasattr(g, "inputs") else g
        else:
            store_grad(node, g, stored)
    for node, parts in steps:
        record_step(node, parts)


def store_grad(node: Any, g: Any, stored: set[int]) -> None:
    """Add ``g`` into a leaf's ``.grad``, in an array the engine owns: never a view
    of someone else's array, never the same object as another leaf's ``.grad``."""
    if hasattr(g, "inputs"):  # create_graph: the value of the gradient node
        g = g.value
    if not isinstance(g, np.generic):  # NumPy scalars are immutable: nothing to alias
        if not isinstance(g, np.ndarray) or not g.flags.writeable or id(g) in stored or not private(g):
            g = np.array(g)
        stored.add(id(g))
    node.grad = g if node.grad is None else node.grad + g


def seed_gradient(root: Any, gradient: Any = None) -> Any:
    """∂root/∂root: ones for a one-element root, else the given ``gradient`` (checked)."""
    value = root.value
    if gradient is None:
        if value.size != 1:
            raise GradientError(
                f"backward of node {describe(root)} needs a gradient argument: "
                "only a one-element output has an implicit gradient of 1"
            )
        return value.dtype.type(1) if value.ndim == 0 else np.ones(value.shape, value.dtype)
    if hasattr(gradient, "inputs"):
        gradient = gradient.value
    seed = np.array(gradient, dtype=value.dtype)
    if seed.shape != value.shape:
        raise GradientError(
            f"backward of node {describe(root)}: the gradient has shape {seed.shape}, "
            f"but the node has shape {value.shape}"
        )
    return seed


def check_differentiable(root: Any, what: str = "backward") -> None:
    """``root`` has a value, and something under it requires a gradient."""
    if root.value is None:
        raise GradientError(f"{what} of node {describe(root)}: it has no value yet; run forward first")
    if not root.requires_grad:
        raise GradientError(
            f"{what} of node {describe(root)}: it does not depend on anything that "
            "requires grad (no Variable, or built inside no_grad())"
        )


def run_backward(root: Any, gradient: Any = None, retain_grads: bool = False, retain_graph: bool = False) -> None:
    """A whole backward pass from ``root`` (PyTorch's ``loss.backward()``): every leaf
    that requires grad accumulates ∂root/∂leaf into its ``.grad``; ``root.gradients``
    records what the root sent its inputs (the lesson's first backward step).
    Values nothing else holds are released as the pass goes, unless ``retain_graph``
    (or ``retain_grads``) keeps the whole graph, for a second backward."""
    check_differentiable(root)
    seed = seed_gradient(root, gradient)
    if release.candidates:  # the last values the forward left unread go before the pass needs memory
        release.sweep()
    backpropagate(
        sort(root, restore=False),
        [(root, seed)],
        keep="all" if retain_grads else "leaves",
        record=root,
        release=not retain_graph,
    )
