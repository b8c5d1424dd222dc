"""The chain rule for any gradient, written out: every path, symbols and numbers.

``explain(output, node)`` (also ``Graph.explain(node)``) answers "why is
∂output/∂node this number?" the way the lesson does on the blackboard:

    path 1:  ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k
           = -2(y-sigmoid)/n · σ(1-σ) · x
           = 0.402796525409167 · 0.15377928497247135 · 3.0
           = 0.18583185743835806

Each path from the output down to the node is a product of local
derivatives; a node reached along several paths (fan-out) gets their sum.
Every number comes from the ops' own ``vjp`` (see ``chain.py``), so any op
explains itself. For tensors each factor is a vjp step shown with its shapes,
and each path's share of the gradient is summarised. Paths are enumerated
with an explicit stack; past ``max_paths`` they are counted, not listed.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .chain import edge_symbol, follows, is_scalar, local_derivative, local_symbol, path_counts, vjp_step
from ..errors import GradientError, describe
from ..backprop import backpropagate, seed_gradient, sort
from ..node import Node
from .phrases import check_lang, describe_value, display_width, number, say, shape_text

__all__ = ["EdgeGroup", "Explanation", "Factor", "Path", "explain"]

MAX_PATHS = 64


@dataclass(frozen=True, eq=False)
class Factor:
    """One local derivative ∂op/∂input on a path (one edge of the graph)."""

    op: Node
    index: int  # which of the op's inputs
    symbol: str  # ∂linear/∂k
    local: str | None  # the op's symbolic form, e.g. "x"; None if it gives none
    value: Any  # the number (a NumPy scalar of the graph's dtype) when the op's output
    #             and this input are both one element; None for a tensor step
    out_shape: tuple
    in_shape: tuple

    @property
    def input(self) -> Node:
        return self.op.inputs[self.index]


@dataclass(frozen=True, eq=False)
class Path:
    """One path from the output down to the node: its factors, output side first,
    and its share of the gradient (the seed pushed through its vjp steps)."""

    factors: tuple[Factor, ...]
    contribution: np.ndarray

    @property
    def value(self) -> float | None:
        """The path's product as a number (scalars only)."""
        return float(self.contribution) if is_scalar(self.contribution) else None

    @property
    def nodes(self) -> list[Node]:
        """The nodes along the path, from the output down to the node."""
        if not self.factors:
            return []
        return [self.factors[0].op] + [f.input for f in self.factors]


@dataclass(frozen=True, eq=False)
class EdgeGroup:
    """All paths whose last step is one edge into the node (the summary form)."""

    op: Node
    index: int
    symbol: str
    count: int
    contribution: np.ndarray


@dataclass(eq=False)
class Explanation:
    """∂output/∂node by the chain rule. ``str()`` writes it out; the fields are the data.

    ``paths`` lists every path (empty when there are more than ``max_paths``,
    then ``groups`` summarises them by their last edge); ``n_paths`` counts
    them exactly; ``gradient`` is ∂output/∂node from backpropagation, which
    equals the sum of the paths' contributions.
    """

    output: Node
    node: Node
    paths: tuple[Path, ...]
    n_paths: int
    gradient: np.ndarray
    max_paths: int = MAX_PATHS
    groups: tuple[EdgeGroup, ...] = field(default=())
    lang: str = "en"

    @property
    def summarised(self) -> bool:
        return self.n_paths > self.max_paths

    @property
    def value(self) -> float | None:
        """The gradient as a number (scalars only)."""
        return float(self.gradient) if is_scalar(self.gradient) else None

    def render(self, lang: str | None = None) -> str:
        """The explanation as text in ``lang`` ("en" or "zh"; default: the one it was made with)."""
        lang = check_lang(lang or self.lang)
        out, wrt = self.output.name, self.node.name
        result = f"∂{out}/∂{wrt} = {describe_value(self.gradient, lang)}"
        if self.node is self.output:
            return say("explain.self", lang, out=out) + "\n\n" + result
        if self.n_paths == 0:
            return say("explain.none", lang, out=out, wrt=wrt)
        if self.summarised:
            lines = [say("explain.summary", lang, out=out, wrt=wrt, count=self.n_paths, limit=self.max_paths)]
            lines += ["    " + say("explain.group", lang, symbol=g.symbol, count=g.count,
                                   value=describe_value(g.contribution, lang)) for g in self.groups]
            return "\n".join(lines) + "\n\n" + result
        key = "explain.one_path" if self.n_paths == 1 else "explain.paths"
        blocks = [say(key, lang, out=out, wrt=wrt, count=self.n_paths)]
        blocks += [_render_path(i, path, lang) for i, path in enumerate(self.paths, start=1)]
        if len(self.paths) > 1:
            blocks.append(_render_sum(self.paths, self.gradient, lang))
        if any(f.value is None for p in self.paths for f in p.factors):
            blocks.append(say("explain.tensor_note", lang))
        blocks.append(result)
        return "\n\n".join(blocks)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"<Explanation ∂{self.output.name}/∂{self.node.name}: {self.n_paths} path(s)>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.render())}</pre>"


def _render_path(index: int, path: Path, lang: str) -> str:
    """Symbols, the ops' symbolic forms, numbers (or vjp steps), then the product."""
    head = say("explain.path", lang, index=index)
    pad = " " * max(display_width(head) - 1, 1)
    factors = path.factors
    rows = [head + " " + " · ".join(f.symbol for f in factors)]
    if any(f.local for f in factors):
        rows.append(pad + "= " + " · ".join(f.local or f.symbol for f in factors))
    rows.append(pad + "= " + " · ".join(_factor_number(f, lang) for f in factors))
    rows.append(pad + "= " + describe_value(path.contribution, lang))
    return "\n".join(rows)


def _factor_number(factor: Factor, lang: str) -> str:
    if factor.value is not None:
        return number(factor.value)
    return say("explain.step", lang, src=shape_text(factor.out_shape), dst=shape_text(factor.in_shape))


def _render_sum(paths: tuple[Path, ...], gradient: np.ndarray, lang: str) -> str:
    head = say("explain.sum", lang, count=len(paths))
    if all(p.value is not None for p in paths):
        terms = " + ".join(number(p.contribution) for p in paths)
        return f"{head} {terms} = {describe_value(gradient, lang)}"
    return f"{head} {describe_value(gradient, lang)}"


# ---------------------------------------------------------------- building
def explain(output: Node, node: Node, graph: Any = None, max_paths: int = MAX_PATHS, lang: str = "en",
            gradient: Any = None) -> Explanation:
    """The chain rule for ∂output/∂node at the nodes' current values.

    Lists every path from ``output`` down to ``node`` (at most ``max_paths``;
    beyond that the paths are counted and grouped by their last edge), each as
    a product of local derivatives, symbolically and numerically, and their
    sum. ``gradient`` seeds a non-scalar output, as in ``backward``. Leaves
    every ``.grad`` untouched. ``graph``: a ``Graph`` whose sorted order to reuse.
    """
    check_lang(lang)
    if output.value is None:
        raise GradientError(f"explain: output {describe(output)} has no value yet; run forward first")
    if not node.requires_grad:
        raise GradientError(f"explain: {describe(node)} does not require grad, so it has no gradient")
    order = graph.order if graph is not None else sort(output)
    seed = seed_gradient(output, gradient)
    down, up = path_counts(order, output, node)
    n_paths = up.get(id(node), 0)
    consumers = _edges_into(order, node, up)
    wanted = {node} | {op for op, _ in consumers}
    grads = backpropagate(order, [(output, seed)], keep="none", wanted=wanted) if n_paths else {}
    total = grads.get(node)
    total = np.zeros_like(np.asarray(node.value)) if total is None else np.asarray(total)
    paths: tuple[Path, ...] = ()
    groups: tuple[EdgeGroup, ...] = ()
    if n_paths <= max_paths:
        paths = tuple(_path(edges, seed) for edges in _enumerate(output, node, down))
    else:
        groups = tuple(EdgeGroup(op, i, edge_symbol(op, i), up[id(op)],
                                 _contribution(vjp_step(op, i, grads[op]), node))
                       for op, i in consumers if op in grads)
    return Explanation(output, node, paths, n_paths, total, max_paths, groups, lang)


def _edges_into(order: list[Node], node: Node, up: dict[int, int]) -> list[tuple[Node, int]]:
    """The edges (op, input index) that end a path at ``node``."""
    return [(op, i) for op in order if id(op) in up and op is not node
            for i, inp in enumerate(op.inputs) if inp is node and follows(op, i)]


def _enumerate(output: Node, node: Node, down: dict[int, int]) -> list[list[tuple[Node, int]]]:
    """Every path from ``output`` to ``node`` as a list of edges (op, input index).

    Depth-first with an explicit stack (graphs can be deeper than Python's
    recursion limit). Each stack entry shares its prefix through a parent
    link, so a path of length L costs O(L) once, not O(L²).
    """
    if id(output) not in down:
        return []
    found: list[list[tuple[Node, int]]] = []
    stack: list[tuple[Node, Any]] = [(output, None)]  # (node, linked prefix of edges)
    while stack:
        current, prefix = stack.pop()
        if current is node:
            edges = []
            while prefix is not None:
                edge, prefix = prefix
                edges.append(edge)
            found.append(edges[::-1])
            continue
        # push in reverse so input 0's paths come out first
        for i in range(len(current.inputs) - 1, -1, -1):
            inp = current.inputs[i]
            if follows(current, i) and id(inp) in down:
                stack.append((inp, ((current, i), prefix)))
    return found


def _path(edges: list[tuple[Node, int]], seed: np.ndarray) -> Path:
    """The factors along ``edges`` and the seed pushed through their vjp steps."""
    factors = []
    g = seed
    for op, i in edges:
        inp = op.inputs[i]
        local = local_derivative(op, i) if is_scalar(op.value) and is_scalar(inp.value) else None
        factors.append(Factor(op, i, edge_symbol(op, i), local_symbol(op, i),
                              None if local is None else np.asarray(local).reshape(-1)[0],
                              np.shape(op.value), np.shape(inp.value)))
        g = vjp_step(op, i, g)
        if g is None:  # an op that declines to send a gradient here: the path contributes nothing
            g = np.zeros_like(np.asarray(inp.value))
    node = edges[-1][0].inputs[edges[-1][1]] if edges else None
    return Path(tuple(factors), _contribution(g, node))


def _contribution(g: Any, node: Node | None) -> np.ndarray:
    if g is None:
        return np.zeros_like(np.asarray(node.value))
    return np.asarray(g)
