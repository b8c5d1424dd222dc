"""Seeing the chain rule (the teaching layer, above the engine): local derivatives
(``chain.py``), ``explain``, the narration and its bilingual phrase table, and drawings.

The engine never imports this package. ``install()`` (called by
``chainrule/__init__.py`` when the package loads) attaches its conveniences to the
engine's classes, as ``ops/`` attaches the Python operators to ``Node``, and
registers the narrator that ``Graph.forward(narrate=True)`` asks the engine's hooks for.
"""

from __future__ import annotations

from typing import Any

from .. import hooks
from ..graph import Graph
from ..node import Node
from . import viz
from .explain import Explanation, explain
from .modes import ModesExplanation
from .narration import Narrator, narrate

__all__ = ["Explanation", "ModesExplanation", "Narrator", "explain", "install", "narrate"]


def _graph_explain(self: Graph, node: Node, **options: Any) -> Explanation | ModesExplanation:
    """The chain rule for ∂output/∂node: every path, symbols and numbers (``cr.explain``)."""
    return explain(self.outputs[0], node, graph=self, **options)


def _graph_to_dot(self: Graph, **options: Any) -> str:
    """Graphviz DOT text of this graph (``chainrule.see.viz.to_dot``)."""
    return viz.to_dot(self, **options)


def _graph_draw(self: Graph, path: str, **options: Any) -> str:
    """Render this graph to ``path`` (.svg, .png or .pdf) with Graphviz (``chainrule.see.viz.draw``)."""
    return viz.draw(self, path, **options)


def _graph_repr_svg(self: Graph) -> str | None:
    """This graph inline in Jupyter (``chainrule.see.viz.repr_svg``)."""
    return viz.repr_svg(self)


def install() -> None:
    """Attach ``explain``, ``to_dot``, ``draw`` and the Jupyter pictures to ``Graph`` and
    ``Node``, and register the narrator with the engine's hooks (idempotent)."""
    Graph.explain = _graph_explain  # type: ignore[method-assign]  # attached on purpose; declared in graph.py
    Graph.to_dot = _graph_to_dot  # type: ignore[method-assign]  # attached on purpose; declared in graph.py
    Graph.draw = _graph_draw  # type: ignore[method-assign]  # attached on purpose; declared in graph.py
    Graph._repr_svg_ = _graph_repr_svg  # type: ignore[method-assign]  # attached on purpose; declared in graph.py
    # declared on ArrayMethods (arraylike.py), whose only class is Node: set on Node, self is a Node
    Node._repr_svg_ = viz.node_repr_svg  # type: ignore[method-assign, assignment]
    hooks.set_narrator(Narrator)
