"""Forward mode: tangents pushed up through the graph, inputs before their consumers.

Backpropagation (``backprop.py``) carries ∂output/∂node *down* the graph, one
pass per output. Forward mode carries dnode/dx *up*, one pass per input
direction: seed the inputs with tangents (dx/dx = 1, say), then visit the
topological order and give every op the tangent of its output from the
tangents of its inputs, its Jacobian-vector product (jvp).

No op writes a jvp rule. Each op's ``vjp`` is linear in its upstream gradient
``g``: ``vjp(g) = Jᵀg``, one part per input. Its transpose is the jvp. With a
dummy node ``u`` in place of ``g``::

    s(u) = Σᵢ ⟨vjpᵢ(u), tᵢ⟩ = ⟨Jᵀu, t⟩ = ⟨u, J t⟩      so      ∂s/∂u = J t.

Differentiating ``s`` with respect to ``u`` gives the tangent of the op's output:
one ordinary backward pass through the small graph the vjp builds on ``u``,
started from its parts, each seeded with its input's tangent.
So every op, present or future, has forward mode as soon as it has a vjp
written with chainrule's functions (the rule the engine asks of every op).
With ``create_graph=True`` the vjp also runs on the input nodes and the
tangents are nodes, so a tangent can be differentiated again (Hessian-vector
products as forward-over-reverse). A node written the lesson's way (NumPy
inside its ``backward()``) has no vjp on nodes; its tangent comes from its
Jacobian, assembled row by row with that same vjp on arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backprop import input_values
from .broadcast import fit_gradient
from .errors import GradientError, describe
from .graph import grad
from .node import Node, Variable
from .op import Op


def push_tangents(order: Sequence[Node], seeds: dict, create_graph: bool = False) -> dict:
    """Push ``seeds`` ({node: tangent}) up through ``order`` (a topological order).

    Returns every node's tangent, seeds included; a node missing from the result
    has tangent zero (nothing it depends on was perturbed). Ops that are not
    differentiable (comparisons) pass no tangent on, as they pass no gradient back.
    """
    tangents = dict(seeds)
    for node in order:
        if not node.inputs or node in tangents or not node.requires_grad:
            continue
        incoming = [tangents.get(inp) for inp in node.inputs]
        if all(t is None for t in incoming):
            continue
        t = tangent_of(node, incoming, create_graph)
        if t is not None:
            tangents[node] = t
    return tangents


def tangent_of(node: Node, incoming: Sequence[Any], create_graph: bool = False) -> Any:
    """The tangent of ``node``'s output, given one tangent per input (None: zero),
    by transposing the node's vjp (see the module's docstring). None if it is zero."""
    if not isinstance(node, Op):
        if create_graph:
            raise GradientError(
                f"{describe(node)} is written the lesson's way (with NumPy), so its tangent "
                "cannot be differentiated again (create_graph=True); write it as a cr.Op with a vjp"
            )
        return _dense_tangent(node, incoming)
    value = node.value
    u = Variable(np.zeros(np.shape(value), np.asarray(value).dtype), name=f"u_{node.name}")
    parts = node.vjp(u, node if create_graph else value, *input_values(node, create_graph))
    if any(p is not None and t is not None and not isinstance(p, Node) for p, t in zip(parts, incoming)):
        # the vjp left the graph (NumPy on g): its Jacobian still gives the exact tangent
        if create_graph:
            raise GradientError(
                f"{describe(node)}: its vjp does not build a graph on nodes, so its tangent "
                "cannot be differentiated again; write the vjp with chainrule's functions"
            )
        return _dense_tangent(node, incoming)
    # ∂s/∂u for s = Σᵢ ⟨vjpᵢ(u), tᵢ⟩ is a backward pass from the parts, each seeded with its tangent
    live = [
        (fit_gradient(p, inp.value), t)
        for inp, p, t in zip(node.inputs, parts, incoming)
        if p is not None and t is not None
    ]
    live = [(p, t) for p, t in live if p.requires_grad]
    if not live:
        return None
    return grad([p for p, _ in live], u, grad_outputs=[t for _, t in live], create_graph=create_graph)


def _dense_tangent(node: Node, incoming: Sequence[Any]) -> Any:
    """J·t for a node whose vjp works on arrays only: one vjp per output element
    gives one row of each input's Jacobian, and its dot product with the tangents."""
    value = np.asarray(node.value)
    values = input_values(node)
    flat = np.zeros(value.size, dtype=value.dtype)
    for k in range(value.size):
        basis = np.zeros(value.size, dtype=value.dtype)
        basis[k] = 1
        parts = node.vjp(basis.reshape(value.shape)[()], node.value, *values)
        flat[k] = sum(
            np.sum(fit_gradient(np.asarray(p), inp.value) * np.asarray(t))
            for inp, p, t in zip(node.inputs, parts, incoming)
            if p is not None and t is not None
        )
    return flat.reshape(value.shape)[()]
