"""The chain rule for any gradient, written out: every path, formulas and numbers.

``explain(output, node)`` (also ``Graph.explain(node)``) answers "why is
∂output/∂node this number?" the way the lesson does on the blackboard:

    path 1: ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k
          = (-2 · (y - sigmoid) / n) · (sigmoid · (1 - sigmoid)) · x
          = 0.402796525409167 · 0.15378472397826434 · 3.0
          = 0.18583185743835806

Each path from the output down to the node is a product of local
derivatives; a node reached along several paths (fan-out) gets their sum.
Every number comes from the ops' own ``vjp`` (see ``chain.py``), so any op
explains itself, and every formula parses back (``forms.py``). On tensors a
path is a chain of vector-Jacobian products, shown step by step with their
shapes and then as one formula (``Xᵀ @ ((g @ W2ᵀ) ⊙ (1 - h1²))``);
``node[i, j]`` or ``element=(i, j)`` follows one element instead
(``element.py``); before any forward pass only the symbols are written
(``slogans.py``). Paths are enumerated with an explicit stack; past
``max_paths`` they are counted and grouped, not listed.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from ..backprop import backpropagate, seed_gradient, sort
from ..errors import GradientError, describe
from ..node import Node
from . import symbols as s
from .chain import (
    edge_form,
    edge_symbol,
    edges_into,
    enumerate_paths,
    is_scalar,
    local_derivative,
    path_counts,
    vjp_step,
)
from .element import explain_element, selected_element
from .explanation import MAX_PATHS, EdgeGroup, Explanation, Factor, Path, bounded_groups
from .flags import path_flags, value_flags
from .modes import ModesExplanation, explain_modes
from .phrases import check_lang
from .slogans import explain_symbols
from .symbols import Sym

__all__ = ["EdgeGroup", "Explanation", "Factor", "Path", "explain"]


@overload
def explain(
    output: Node,
    node: Node,
    graph: Any = None,
    max_paths: int = MAX_PATHS,
    lang: str = "en",
    gradient: Any = None,
    element: Any = None,
    mode: Literal["paths"] = "paths",
) -> Explanation: ...


@overload
def explain(
    output: Node,
    node: Node,
    graph: Any = None,
    max_paths: int = MAX_PATHS,
    lang: str = "en",
    gradient: Any = None,
    element: Any = None,
    *,
    mode: Literal["forward", "backward", "both"],
) -> ModesExplanation: ...


@overload
def explain(
    output: Node,
    node: Node,
    graph: Any = None,
    max_paths: int = MAX_PATHS,
    lang: str = "en",
    gradient: Any = None,
    element: Any = None,
    mode: str = "paths",
) -> Explanation | ModesExplanation: ...


def explain(
    output: Node,
    node: Node,
    graph: Any = None,
    max_paths: int = MAX_PATHS,
    lang: str = "en",
    gradient: Any = None,
    element: Any = None,
    mode: str = "paths",
) -> Explanation | ModesExplanation:
    """The chain rule for ∂output/∂node at the nodes' current values.

    Lists every path from ``output`` down to ``node`` (at most ``max_paths``;
    beyond that the paths are counted and grouped by their last edge), each as
    a product of local derivatives, as formulas and numbers, and their sum.
    ``gradient`` seeds a non-scalar output, as in ``backward``. ``element``
    (an index such as ``(0, 2)``), or ``node`` given as ``W[0, 2]``, follows one
    element. Before any forward pass it writes the chain rule in symbols only.
    Leaves every ``.grad`` untouched. ``graph``: a ``Graph`` whose sorted order to reuse.
    ``mode="forward"``, ``"backward"`` or ``"both"``: the derivative computed by
    forward and/or backward mode instead, with the passes and multiplications
    each needs (``chainrule.see.modes``).
    """
    if mode != "paths":
        return explain_modes(output, node, mode=mode, lang=lang, gradient=gradient, element=element)
    check_lang(lang)
    if max_paths < 0:
        raise ValueError(f"explain: max_paths must be at least 0, got {max_paths}")
    order = graph.order if graph is not None else sort(output)
    node, element = selected_element(node, element, order)
    if not node.requires_grad:
        raise GradientError(f"explain: {describe(node)} does not require grad, so it has no gradient")
    if output.value is None:
        return explain_symbols(output, node, order, max_paths, lang)
    seed = seed_gradient(output, gradient)
    if element is not None:
        return explain_element(output, node, element, order, seed, max_paths, lang)
    down, up = path_counts(order, output, node)
    n_paths = up.get(id(node), 0)
    consumers = edges_into(order, node, up)
    wanted = {node} | {op for op, _ in consumers}
    grads = backpropagate(order, [(output, seed)], keep="none", wanted=wanted) if n_paths else {}
    total = grads.get(node)
    total = np.zeros_like(np.asarray(node.value)) if total is None else np.asarray(total)
    paths: tuple[Path, ...] = ()
    groups: tuple[EdgeGroup, ...] = ()
    if n_paths <= max_paths:
        start = s.ONE if gradient is None else s.G
        paths = tuple(build_path(edges, seed, start) for edges in enumerate_paths(output, node, down))
    else:
        groups = bounded_groups(
            [(op, i, up[id(op)]) for op, i in consumers if op in grads],
            edge_symbol,
            lambda op, i: _zeros_if_none(vjp_step(op, i, grads[op]).part, node),
            total,
        )
    flags = value_flags(order) + path_flags(paths)
    return Explanation(output, node, paths, n_paths, total, max_paths, groups, lang, flags=flags)


def build_path(edges: list[tuple[Node, int]], seed: Any, start: Sym) -> Path:
    """The factors along ``edges``, the seed pushed through their vjp steps, and the
    path's formula: each step's form applied to the formula of the step above."""
    factors = []
    g = seed
    composed: Sym | None = start  # None once a step has no formula
    for op, i in edges:
        inp = op.inputs[i]
        step = vjp_step(op, i, g)
        raw_shape = None if step.raw is None else step.raw.shape
        sym, notes = edge_form(op, i, raw_shape=raw_shape)
        composed = edge_form(op, i, composed, raw_shape)[0] if composed is not None else None
        local = local_derivative(op, i) if is_scalar(op.value) and is_scalar(inp.value) else None
        g = _zeros_if_none(step.part, inp)  # an op that sends nothing here: the path contributes 0
        factors.append(
            Factor(
                op,
                i,
                edge_symbol(op, i),
                sym,
                None if local is None else np.asarray(local).reshape(-1)[0],
                np.shape(op.value),
                np.shape(inp.value),
                g,
                step.summed,
                tuple(notes),
            )
        )
    return Path(tuple(factors), np.asarray(g), composed)


def _zeros_if_none(g: Any, node: Node) -> np.ndarray:
    return np.zeros_like(np.asarray(node.value)) if g is None else np.asarray(g)
