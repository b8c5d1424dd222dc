"""Compiled graphs: a fixed graph run as straight-line NumPy.

    fast = graph.compile()                  # or cr.compile(graph)
    fast.forward({x: 3.0, y: 0.61})         # the same numbers as graph.forward, bit for bit
    fast.backward(); k.grad                 # ... and as graph.backward
    print(fast.source)                      # the program it runs
    step = cr.compile(lambda x: model(x))   # a function of nodes: calling it gives a node

A ``Graph`` re-run still walks its nodes one by one: a Python call per op, a
dictionary per gradient. A compiled graph writes the whole run once as Python
source (``program.py``), with each op's own forward and vjp code copied in
(``inline.py``), then runs that. See the README's "Compiled graphs" section for
what it decides once, and when compiling pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..graph import Graph
from ..node import Node
from .function import CompiledFunction
from .graph import MAX_PROGRAMS, CompiledGraph

__all__ = ["CompiledFunction", "CompiledGraph", "MAX_PROGRAMS", "compile"]


def compile(target: Any, wrt: Sequence[Node] | None = None) -> Any:  # noqa: A001 - cr.compile, like torch.compile
    """Compile a ``Graph`` (→ ``CompiledGraph``) or a function of nodes (→ ``CompiledFunction``:
    call it with arrays or nodes and it returns a node, one compiled program per input
    signature, traced on first use)."""
    if isinstance(target, Graph):
        return CompiledGraph(target, wrt=wrt)
    if isinstance(target, Node):
        return CompiledGraph(Graph(target), wrt=wrt)
    if callable(target):
        return CompiledFunction(target)
    raise TypeError(f"compile: expected a Graph, an output node or a function of nodes, got {type(target).__name__}")


def _graph_compile(self: Graph, wrt: Sequence[Node] | None = None) -> CompiledGraph:
    """This graph compiled to straight-line NumPy (see ``chainrule.compile``)."""
    return CompiledGraph(self, wrt=wrt)


Graph.compile = _graph_compile  # type: ignore[method-assign]  # declared in graph.py, attached here
