"""Which edges a drawing colours: the chain-rule paths of each highlighted target.

A target is a node (every path from the output down to it), an
``Explanation`` (its paths; all paths to its node when they were summarised)
or one ``Path``. Several targets get one colour each, in ``COLOURS`` order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..node import Node
from .chain import follows, path_counts

COLOURS = {"#dc2626": "red", "#2563eb": "blue", "#16a34a": "green", "#9333ea": "purple", "#ea580c": "orange"}

# (colour, name of the target, {(id(op), input index)}) for each highlighted target
Marks = list[tuple[str, str, set[tuple[int, int]]]]


def highlighted_edges(graph: Any, highlight: Any) -> Marks:
    """(colour, name of the target, {(id(op), input index)}) for each target in ``highlight``."""
    if highlight is None:
        return []
    targets = list(highlight) if isinstance(highlight, (list, tuple)) else [highlight]
    colours = list(COLOURS)
    return [(colours[i % len(colours)], _target_name(t), _edges(graph, t)) for i, t in enumerate(targets)]


def _target_name(target: Any) -> str:
    if isinstance(target, Node):
        return target.name
    wrt = getattr(target, "wrt", None)
    if wrt is not None:
        return wrt
    factors = getattr(target, "factors", ())
    return factors[-1].input.name if factors else "?"


def _edges(graph: Any, target: Any) -> set[tuple[int, int]]:
    if isinstance(target, Node):
        down, up = path_counts(graph.order, graph.outputs[0], target)
        return {
            (id(op), i)
            for op in graph.order
            if id(op) in up and op is not target
            for i, inp in enumerate(op.inputs)
            if follows(op, i) and id(inp) in down
        }
    paths = getattr(target, "paths", None)
    if paths is not None and (getattr(target, "summarised", False) or getattr(target, "element", None) is not None):
        return _edges(graph, target.node)  # one element's paths run along its tensor's edges
    factors: Iterable[Any] = (f for p in paths for f in p.factors) if paths is not None else target.factors
    return {(id(f.op), f.index) for f in factors}
