"""Drawing graphs: Graphviz DOT text, rendered to SVG, PNG or PDF.

``to_dot(graph)`` writes DOT text with no dependency at all: one box per op,
one ellipse per leaf, edges along the data flow (input → op), each node
labelled with its name, op and formula, and its value and gradient (numbers
for scalars, shapes for tensors). Edges carry the local derivative. One
chain-rule path, or all the paths to a node, can be highlighted.

``draw(graph, "graph.svg")`` renders that text with the ``graphviz`` Python
package and Graphviz's ``dot`` program (or ``dot`` alone when the package is
missing); when neither can render it raises ``GraphvizNotFound`` saying what
to install. ``repr_svg`` is the inline picture in Jupyter (None when it
cannot be drawn, so Jupyter falls back to text).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path as FilePath
from typing import Any, Iterable

import numpy as np

from .chain import edge_symbol, follows, is_scalar, local_derivative, local_symbol, path_counts
from ..errors import ChainruleError, GraphvizNotFound
from ..graph import Graph
from .narration import formula_text  # labels show the same formula the narration prints
from ..node import Constant, Node, Placeholder, Variable
from ..op import Op

FORMATS = ("svg", "png", "pdf")
INLINE_MAX_NODES = 200  # bigger graphs are too slow and too small to read inline

INSTALL_HINT = ("install Graphviz's dot program (apt-get install graphviz, brew install graphviz or "
                "conda install graphviz) and the Python package (pip install \"chainrule[viz]\")")

_STYLE = {  # fill colours by kind of node; the output gets a double border
    Placeholder: 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    Variable: 'shape=ellipse, style=filled, fillcolor="#dcfce7"',
    Constant: 'shape=ellipse, style="filled,dashed", fillcolor="#f3f4f6"',
    Op: 'shape=box, style="rounded,filled", fillcolor="#fef9c3"',
}
_HIGHLIGHT = 'color="#dc2626", penwidth=2.5'


def _as_graph(graph: Any) -> Graph:
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, Node):
        return Graph(graph)
    return Graph(*graph)


def _quote(text: str) -> str:
    """A DOT string literal (newlines become DOT's centred line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value_text(value: Any) -> str:
    """Scalars at full precision, tensors as their shape: a label must stay small."""
    if value is None:
        return "—"
    arr = np.asarray(value)
    if arr.ndim == 0:
        return str(arr.reshape(-1)[0])
    return f"shape {tuple(arr.shape)}"


def _label(node: Node, show_values: bool, show_grads: bool) -> str:
    kind = type(node).__name__
    lines = [node.name]
    if isinstance(node, Op):
        lines.append(f"{kind}: {formula_text(node)}")
    else:
        lines.append(kind)
    if show_values:
        lines.append(f"value = {_value_text(node.value)}")
    if show_grads and node.grad is not None:
        lines.append(f"grad = {_value_text(node.grad)}")
    return "\n".join(lines)


def _edge_label(op: Node, index: int, show_grads: bool) -> str:
    """The local derivative ∂op/∂input: symbolic, plus its number for scalars."""
    text = edge_symbol(op, index)
    symbol = local_symbol(op, index)
    if symbol:
        text += f" = {symbol}"
    if show_grads and is_scalar(op.value) and is_scalar(op.inputs[index].value) and follows(op, index):
        try:
            local = local_derivative(op, index)
        except Exception:  # a label must never stop a drawing (some vjps need more than numbers)
            local = None
        if local is not None:
            text += f" = {_value_text(np.asarray(local).reshape(()))}"
    return text


def _highlighted_edges(graph: Graph, highlight: Any) -> set[tuple[int, int]]:
    """(id(op), input index) of every edge to highlight.

    ``highlight`` is a node (every chain-rule path from the output down to it),
    an ``Explanation`` (its paths), a ``Path`` (one path) or None.
    """
    if highlight is None:
        return set()
    if isinstance(highlight, Node):
        down, up = path_counts(graph.order, graph.outputs[0], highlight)
        return {(id(op), i) for op in graph.order if id(op) in up and op is not highlight
                for i, inp in enumerate(op.inputs) if follows(op, i) and id(inp) in down}
    paths = getattr(highlight, "paths", None)
    if paths is not None and getattr(highlight, "summarised", False):
        return _highlighted_edges(graph, highlight.node)
    factors: Iterable[Any] = (f for p in paths for f in p.factors) if paths is not None else highlight.factors
    return {(id(f.op), f.index) for f in factors}


def to_dot(graph: Any, show_values: bool = True, show_grads: bool = True, highlight: Any = None,
           rankdir: str = "TB", edge_labels: bool = True) -> str:
    """Graphviz DOT text for ``graph`` (a ``Graph``, or output node(s)).

    Nodes are labelled with name, op and formula, value and gradient (numbers
    for scalars, shapes for tensors); edges run along the data flow and carry
    the local derivative. ``highlight``: a node, a ``Path`` or an
    ``Explanation`` whose chain-rule edges are drawn in red.
    """
    graph = _as_graph(graph)
    ids = {id(n): f"n{i}" for i, n in enumerate(graph.order)}
    marked = _highlighted_edges(graph, highlight)
    marked_nodes = {id(op) for op in graph.order for i in range(len(op.inputs)) if (id(op), i) in marked}
    marked_nodes |= {id(op.inputs[i]) for op in graph.order for i in range(len(op.inputs)) if (id(op), i) in marked}
    outputs = {id(o) for o in graph.outputs}
    lines = ["digraph chainrule {",
             f"  rankdir={rankdir};",
             '  node [fontname="DejaVu Sans", fontsize=11];',
             '  edge [fontname="DejaVu Sans", fontsize=9, color="#555555"];']
    for node in graph.order:
        style = next((s for cls, s in _STYLE.items() if isinstance(node, cls)), _STYLE[Op])
        extra = ", peripheries=2" if id(node) in outputs else ""
        if id(node) in marked_nodes:
            extra += ', color="#dc2626", penwidth=2'
        lines.append(f"  {ids[id(node)]} [label={_quote(_label(node, show_values, show_grads))}, {style}{extra}];")
    for op in graph.order:
        for i, inp in enumerate(op.inputs):
            attrs = []
            if edge_labels:
                attrs.append(f"label={_quote(_edge_label(op, i, show_grads))}")
            if (id(op), i) in marked:
                attrs.append(_HIGHLIGHT)
            elif not follows(op, i):
                attrs.append('style=dashed')  # no gradient flows back along this edge
            lines.append(f"  {ids[id(inp)]} -> {ids[id(op)]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, fmt: str = "svg") -> bytes:
    """Render DOT text to ``fmt`` (svg, png, pdf) bytes with Graphviz's ``dot``.

    Uses the ``graphviz`` package when installed, else runs ``dot`` directly.
    Raises ``GraphvizNotFound`` (with what to install) when ``dot`` is missing.
    """
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw a graph as '{fmt}': choose one of {', '.join(FORMATS)}")
    data = dot.encode("utf-8")
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.pipe("dot", fmt, data, quiet=True)
        except graphviz.ExecutableNotFound as exc:
            raise GraphvizNotFound(f"drawing needs Graphviz: {INSTALL_HINT}") from exc
        except graphviz.CalledProcessError as exc:
            raise ChainruleError(f"Graphviz could not render the graph: {exc.stderr!r}") from exc
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFound(f"drawing needs Graphviz: {INSTALL_HINT}")
    done = subprocess.run([program, f"-T{fmt}"], input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise ChainruleError(f"Graphviz could not render the graph: {done.stderr.decode(errors='replace')}")
    return done.stdout


def draw(graph: Any, path: str, **options: Any) -> str:
    """Render ``graph`` to ``path``; the suffix (.svg, .png, .pdf) picks the format.

    ``options`` go to ``to_dot`` (``show_values``, ``show_grads``, ``highlight``...).
    Returns the path. Raises ``GraphvizNotFound`` when Graphviz is missing.
    """
    fmt = FilePath(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to '{path}': the name must end in .svg, .png or .pdf")
    picture = render(to_dot(graph, **options), fmt)
    FilePath(path).write_bytes(picture)
    return str(path)


def repr_svg(graph: Any) -> str | None:
    """The inline SVG for Jupyter, or None (text fallback) when Graphviz is missing
    or the graph is too big to read inline."""
    graph = _as_graph(graph)
    if len(graph.order) > INLINE_MAX_NODES:
        return None
    try:
        return render(to_dot(graph), "svg").decode("utf-8")
    except ChainruleError:
        return None


def node_repr_svg(node: Node) -> str | None:
    """A node shown inline: the graph that made it (see ``Node._repr_svg_``)."""
    try:
        return repr_svg(Graph(node))
    except ChainruleError:  # e.g. hand-wired inputs with a cycle: fall back to text
        return None
