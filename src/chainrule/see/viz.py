"""Drawing graphs: Graphviz DOT text, rendered to SVG, PNG or PDF.

``to_dot(graph)`` writes DOT text with no dependency at all: one box per op,
one ellipse per leaf, edges along the data flow (input → op), each node
labelled with its name, op and formula, its value and its gradient ∂output/∂node
(6 significant digits; tensors as their shape and a few entries), each edge
with its local derivative (as ``explain`` writes it). Hovering in an SVG
shows every number at full precision. A legend says what value, grad, the
edge labels and each coloured path mean, in English or Chinese (``lang``).
``highlight`` colours the chain-rule paths to one or more nodes, or those of
``Explanation``/``Path`` objects, one colour each.

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
from typing import Any

import numpy as np

from ..errors import ChainruleError, GraphvizNotFound
from ..graph import Graph
from ..node import Constant, Node, Placeholder, Variable
from ..op import Op
from .chain import edge_form, edge_symbol, follows, is_scalar, local_derivative
from .narration import formula_text  # labels show the same formula the narration prints
from .phrases import check_lang, register, say
from .values import entries, number, short
from .viz_paths import COLOURS, Marks, highlighted_edges

FORMATS = ("svg", "png", "pdf")
INLINE_MAX_NODES = 200  # bigger graphs are too slow and too small to read inline
DIGITS = 6

INSTALL_HINT = (
    "install Graphviz's dot program (apt-get install graphviz, brew install graphviz or "
    'conda install graphviz) and the Python package (pip install "chainrule[viz]")'
)

_STYLE = {  # fill colours by kind of node; the output gets a double border
    Placeholder: 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    Variable: 'shape=ellipse, style=filled, fillcolor="#dcfce7"',
    Constant: 'shape=ellipse, style="filled,dashed", fillcolor="#f3f4f6"',
    Op: 'shape=box, style="rounded,filled", fillcolor="#fef9c3"',
}

register(
    {
        "viz.value": {"en": "value", "zh": "值"},
        "viz.grad": {"en": "grad", "zh": "梯度"},
        "viz.legend_title": {"en": "How to read this graph", "zh": "怎么看这张图"},
        "viz.legend_value": {
            "en": "value: what the node computed in the forward pass",
            "zh": "值：前向传播时这个节点算出的结果",
        },
        "viz.legend_grad": {
            "en": "grad: ∂{out}/∂node, the gradient of the output with respect to the node",
            "zh": "梯度：∂{out}/∂节点，输出对这个节点的梯度",
        },
        "viz.legend_edge": {
            "en": "arrow label: the local derivative ∂(where it points)/∂(where it starts)",
            "zh": "箭头上的标注：局部导数 ∂终点/∂起点",
        },
        "viz.legend_path": {
            "en": "{colour} path: the chain rule for ∂{out}/∂{wrt}",
            "zh": "{colour}路径：∂{out}/∂{wrt} 的链式法则",
        },
        "viz.legend_dashed": {"en": "dashed arrow: no gradient flows back along it", "zh": "虚线箭头：梯度不沿它回传"},
        "viz.legend_digits": {
            "en": "numbers rounded to {digits} significant digits; hover for all of them",
            "zh": "数字保留 {digits} 位有效数字；鼠标悬停可看完整数值",
        },
        "viz.wrote": {"en": "wrote {path}", "zh": "已写入 {path}"},
        "viz.no_dot": {
            "en": "Graphviz's dot program was not found, so the graph is saved as DOT text in {path}. "
            "To get the picture, install Graphviz (apt-get install graphviz, brew install graphviz "
            "or conda install graphviz) and run: dot -Tsvg {path} -o graph.svg",
            "zh": "没有找到 Graphviz 的 dot 程序，所以计算图以 DOT 文本保存在 {path}。"
            "要得到图片，请安装 Graphviz（apt-get install graphviz、brew install graphviz "
            "或 conda install graphviz），然后运行：dot -Tsvg {path} -o graph.svg",
        },
        "viz.summed": {"en": "summed over {axes:en}", "zh": "沿{axes:zh}求和"},
        "colour.red": {"en": "red", "zh": "红色"},
        "colour.blue": {"en": "blue", "zh": "蓝色"},
        "colour.green": {"en": "green", "zh": "绿色"},
        "colour.purple": {"en": "purple", "zh": "紫色"},
        "colour.orange": {"en": "orange", "zh": "橙色"},
    }
)


def _as_graph(graph: Any) -> Graph:
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, Node):
        return Graph(graph)
    return Graph(*graph)


def _quote(text: str) -> str:
    """A DOT string literal (newlines become DOT's left-justified line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + '\\l"'


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))


def _centred(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def value_text(value: Any, digits: int | None = DIGITS) -> str:
    """A value for a label: a number (``digits`` significant digits, all with None), or a
    tensor's shape and a few entries."""
    if value is None:
        return "—"
    arr = np.asarray(value)
    if arr.ndim == 0:
        return number(arr) if digits is None else short(arr, digits)
    text, _ = entries(arr, 3 if digits is not None else 17)
    return f"{tuple(arr.shape)} {text}"


def _label(node: Node, show_values: bool, show_grads: bool, lang: str, digits: int | None) -> str:
    lines = [node.name, f"{type(node).__name__}: {formula_text(node)}" if isinstance(node, Op) else type(node).__name__]
    if show_values:
        lines.append(f"{say('viz.value', lang)} = {value_text(node.value, digits)}")
    if show_grads and node.grad is not None:
        lines.append(f"{say('viz.grad', lang)} = {value_text(node.grad, digits)}")
    return "\n".join(lines)


def full_text(value: Any) -> str:
    """Every digit: a number in its shortest exact form, a tensor's entries likewise (up to 64 of them)."""
    if value is None:
        return "—"
    arr = np.asarray(value)
    if arr.ndim == 0:
        return number(arr)
    return f"{tuple(arr.shape)} " + np.array2string(
        arr, separator=", ", threshold=64, floatmode="unique", max_line_width=100
    )


def _tooltip(node: Node, show_values: bool, show_grads: bool, lang: str) -> str:
    """The node's numbers at full precision, for the SVG's hover text."""
    parts = [node.name]
    if show_values:
        parts.append(f"{say('viz.value', lang)} = {full_text(node.value)}")
    if show_grads and node.grad is not None:
        parts.append(f"{say('viz.grad', lang)} = {full_text(node.grad)}")
    return "\n".join(parts)


def _edge_text(op: Node, index: int, show_grads: bool, lang: str, digits: int | None) -> tuple[str, str]:
    """The edge's label and tooltip: ∂op/∂input = formula (= number for scalars)."""
    text = edge_symbol(op, index)
    try:
        form, notes = edge_form(op, index) if op.value is not None else (None, [])
    except Exception:  # a label must never stop a drawing (a learner's vjp may need more than numbers)
        form, notes = None, []
    full = text
    if form is not None and form.known:  # symbol, formula, number: a line each, so labels stay narrow
        text += f"\n= {form.text}"
        full += f" = {form.text}"
    if show_grads and is_scalar(op.value) and is_scalar(op.inputs[index].value) and follows(op, index):
        try:
            local = local_derivative(op, index)
        except Exception:  # as above
            local = None
        if local is not None:
            text += f"\n= {value_text(np.asarray(local).reshape(()), digits)}"
            full += f" = {number(local)}"
    for key, fields in notes:
        if key == "note.broadcast":
            text += "\n" + say("viz.summed", lang, axes=fields["axes"])
        full += "\n" + say(key, lang, **fields)
    return text, full


def to_dot(
    graph: Any,
    show_values: bool = True,
    show_grads: bool = True,
    highlight: Any = None,
    rankdir: str = "TB",
    edge_labels: bool = True,
    lang: str = "en",
    digits: int | None = DIGITS,
    legend: bool = True,
) -> str:
    """Graphviz DOT text for ``graph`` (a ``Graph``, or output node(s)).

    Nodes show name, op and formula, value and gradient (``digits`` significant
    digits, None for all; tensors as shape and leading entries; every number
    in full in the SVG tooltip); edges carry the local derivative.
    ``highlight``: a node, ``Path`` or ``Explanation``, or a list of them, each
    drawn in its own colour. ``legend`` adds a box that says what it all means,
    in ``lang`` ("en" or "zh").
    """
    check_lang(lang)
    graph = _as_graph(graph)
    ids = {id(n): f"n{i}" for i, n in enumerate(graph.order)}
    marks = highlighted_edges(graph, highlight)
    lines = [
        "digraph chainrule {",
        f"  rankdir={rankdir}; nodesep=0.8; ranksep=0.6;",
        '  node [fontname="DejaVu Sans, WenQuanYi Micro Hei", fontsize=11];',
        '  edge [fontname="DejaVu Sans, WenQuanYi Micro Hei", fontsize=9, color="#555555"];',
    ]
    colours = _node_colours(graph, marks)
    lines += [_node_line(graph, node, ids, colours, show_values, show_grads, lang, digits) for node in graph.order]
    for op in graph.order:
        for i, inp in enumerate(op.inputs):
            attrs = _edge_attributes(op, i, marks, edge_labels, show_grads, lang, digits)
            lines.append(f"  {ids[id(inp)]} -> {ids[id(op)]} [{', '.join(attrs)}];")
    if legend:
        lines.append(_legend(graph, marks, show_values, show_grads, edge_labels, lang, digits))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_colours(graph: Graph, marks: Marks) -> dict[int, str]:
    """{id(node): colour}: a node on a highlighted path takes that path's colour (the first one)."""
    node_colour: dict[int, str] = {}
    for colour, _, edges in reversed(marks):
        node_colour.update((end, colour) for pair in _ends(graph, edges) for end in pair)
    return node_colour


def _node_line(
    graph: Graph,
    node: Node,
    ids: dict[int, str],
    colours: dict[int, str],
    show_values: bool,
    show_grads: bool,
    lang: str,
    digits: int | None,
) -> str:
    """The node's DOT statement: its box or ellipse, label and tooltip; the output's border doubled."""
    style = next((st for cls, st in _STYLE.items() if isinstance(node, cls)), _STYLE[Op])
    extra = ", peripheries=2" if any(node is o for o in graph.outputs) else ""
    colour = colours.get(id(node))
    if colour:
        extra += f', color="{colour}", penwidth=2'
    label = _label(node, show_values, show_grads, lang, digits)
    tooltip = _tooltip(node, show_values, show_grads, lang)
    return f"  {ids[id(node)]} [label={_centred(label)}, tooltip={_centred(tooltip)}, {style}{extra}];"


def _edge_attributes(
    op: Node, i: int, marks: Marks, edge_labels: bool, show_grads: bool, lang: str, digits: int | None
) -> list[str]:
    """The edge input ``i`` → ``op``: its label (the local derivative), and its colours or dashes."""
    attrs = []
    if edge_labels:
        text, full = _edge_text(op, i, show_grads, lang, digits)
        # left-justified, two spaces in: Graphviz puts a label's box against its edge
        attrs += [f"label={_quote(_indented(text))}", f"tooltip={_centred(full)}", f"labeltooltip={_centred(full)}"]
    colours = [c for c, _, edges in marks if (id(op), i) in edges]
    if colours:  # an edge on several highlighted paths is drawn as parallel lines, one per colour
        attrs.append(f'color="{":".join(colours)}", fontcolor="{colours[0]}", penwidth=2.5')
    elif not follows(op, i):
        attrs.append("style=dashed")  # no gradient flows back along this edge
    return attrs


def _ends(graph: Graph, edges: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """(id(op), id(input)) for each highlighted edge."""
    return [(id(op), id(op.inputs[i])) for op in graph.order for i in range(len(op.inputs)) if (id(op), i) in edges]


def _legend(
    graph: Graph, marks: Marks, show_values: bool, show_grads: bool, edge_labels: bool, lang: str, digits: int | None
) -> str:
    out = graph.outputs[0].name
    rows = [say("viz.legend_title", lang)]
    if show_values:
        rows.append(say("viz.legend_value", lang))
    if show_grads:
        rows.append(say("viz.legend_grad", lang, out=out))
    if edge_labels:
        rows.append(say("viz.legend_edge", lang))
    for colour, wrt, _ in marks:
        rows.append(say("viz.legend_path", lang, colour=say(f"colour.{COLOURS[colour]}", lang), out=out, wrt=wrt))
    if any(not follows(op, i) for op in graph.order for i in range(len(op.inputs))):
        rows.append(say("viz.legend_dashed", lang))
    if digits is not None:
        rows.append(say("viz.legend_digits", lang, digits=digits))
    return (
        f'  legend [shape=note, style=filled, fillcolor="#ffffff", color="#9ca3af", fontsize=10, '
        f"label={_quote(chr(10).join(rows))}];"
    )


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


def picture_format(path: str) -> str:
    """The format a file name asks for (svg, png, pdf), or a ValueError that lists them."""
    fmt = FilePath(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to '{path}': the name must end in .svg, .png or .pdf")
    return fmt


def draw(graph: Any, path: str, **options: Any) -> str:
    """Render ``graph`` to ``path``; the suffix (.svg, .png, .pdf) picks the format.

    ``options`` go to ``to_dot`` (``highlight``, ``lang``, ``digits``...).
    Returns the path. Raises ``GraphvizNotFound`` when Graphviz is missing.
    """
    picture = render(to_dot(graph, **options), picture_format(path))
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
