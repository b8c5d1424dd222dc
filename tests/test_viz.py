"""Drawing: DOT text, rendered by Graphviz to SVG/PNG/PDF, and a clear error without it."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.see import viz

from lesson_helpers import X, Y, build_lesson

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


@pytest.fixture
def lesson():
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    graph.backward()
    return graph, n


def edges_of(dot: str) -> list[str]:
    return [line.strip() for line in dot.splitlines() if "->" in line]


def test_dot_has_every_node_and_edge_with_values_and_grads(lesson):
    graph, _ = lesson
    dot = graph.to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for node in graph.order:
        assert f'label="{node.name}\\n' in dot
    assert len(edges_of(dot)) == sum(len(node.inputs) for node in graph.order)
    assert "Linear: k·x + b" in dot and "value = 1.45122\\n" in dot  # 6 significant digits on the picture
    assert "grad = 0.185832" in dot
    assert 'tooltip="k\\nvalue = 0.35915077292816744\\ngrad = 0.18583185743835806"' in dot  # all digits on hover
    assert "  ∂sigmoid/∂linear\\l  = sigmoid · (1 - sigmoid)\\l  = 0.153785\\l" in dot
    bare = graph.to_dot(show_values=False, show_grads=False)
    assert "value =" not in bare and "grad =" not in bare


def test_highlight_marks_exactly_the_chain_rule_path(lesson):
    graph, n = lesson
    ids = {node.name: f"n{i}" for i, node in enumerate(graph.order)}
    for highlight in (n["k"], graph.explain(n["k"]), graph.explain(n["k"]).paths[0]):
        red = {e.split(" [")[0] for e in edges_of(graph.to_dot(highlight=highlight)) if "#dc2626" in e}
        assert red == {
            f"{ids['k']} -> {ids['linear']}",
            f"{ids['linear']} -> {ids['sigmoid']}",
            f"{ids['sigmoid']} -> {ids['loss']}",
        }


@needs_dot
def test_dot_parses_and_renders_with_the_graphviz_package(lesson):
    graphviz = pytest.importorskip("graphviz")
    graph, _ = lesson
    svg = graphviz.Source(graph.to_dot(highlight=graph.order[1])).pipe(format="svg").decode()
    assert "<svg" in svg and "sigmoid" in svg and "0.8101858733432837" in svg


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_draw_writes_a_non_empty_picture(lesson, tmp_path, fmt, magic):
    graph, _ = lesson
    path = tmp_path / f"graph.{fmt}"
    assert graph.draw(str(path)) == str(path)
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 1000


@needs_dot
def test_tensor_graphs_show_shapes_and_awkward_names_are_quoted(tmp_path):
    W = cr.Variable(np.ones((3, 2)), name='W "weights" \\ 1')
    out = cr.sum(cr.tanh(cr.Constant(np.ones((4, 3)), name="X") @ W))
    dot = cr.Graph(out).to_dot()
    assert "value = (3, 2) [[1, 1], [1, 1], [1, 1]]" in dot and "value = (4, 2) [[" in dot
    svg = viz.render(dot, "svg").decode()
    assert "weights" in svg


@needs_dot
def test_inline_svg_for_jupyter(lesson):
    graph, n = lesson
    assert graph._repr_svg_().lstrip().startswith("<?xml")
    assert "<svg" in n["k"]._repr_svg_()  # a leaf: a one-node picture
    assert "sigmoid" in graph.output._repr_svg_()


def test_bad_format_is_refused(lesson, tmp_path):
    graph, _ = lesson
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        graph.draw(str(tmp_path / "graph.jpg"))
    assert not (tmp_path / "graph.jpg").exists()


@pytest.mark.parametrize("package", [True, False], ids=["graphviz-package", "dot-only"])
def test_missing_graphviz_says_what_to_install(lesson, tmp_path, monkeypatch, package):
    graph, n = lesson
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program anywhere
    if not package:
        monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    with pytest.raises(viz.GraphvizNotFound, match=re.escape("apt-get install graphviz")):
        graph.draw(str(tmp_path / "graph.svg"))
    assert not (tmp_path / "graph.svg").exists()
    assert graph._repr_svg_() is None and n["k"]._repr_svg_() is None  # Jupyter falls back to text
    assert "digraph" in graph.to_dot()  # the DOT text needs nothing


@needs_dot
def test_dot_alone_renders_without_the_python_package(lesson, monkeypatch):
    graph, _ = lesson
    monkeypatch.setitem(sys.modules, "graphviz", None)
    assert viz.render(graph.to_dot(), "svg").startswith(b"<?xml")


def label_boxes(dot: str) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(edge number, box) of every line of text on an edge, as Graphviz lays them out
    (its JSON output gives each line's position, width and font size)."""
    import json

    import graphviz

    layout = json.loads(graphviz.pipe("dot", "json", dot.encode("utf-8")))
    boxes = []
    for number, edge in enumerate(layout["edges"]):
        size = 14.0
        for op in edge.get("_ldraw_", []):
            if op["op"] == "F":
                size = op["size"]
            elif op["op"] == "T":
                (x, y), half = op["pt"], op["width"] / 2
                boxes.append((number, (x - half, y, x + half, y + size)))
    return boxes


@needs_dot
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demo_graph_has_no_overlapping_edge_labels(lesson, lang):
    graph, n = lesson
    pytest.importorskip("graphviz")
    boxes = label_boxes(graph.to_dot(highlight=[n["k"], n["b"]], lang=lang))
    assert len({edge for edge, _ in boxes}) == 6
    # room for a viewer whose font is 20% wider than the one Graphviz measured, and 2 points of space
    boxes = [(edge, (x0 - 0.1 * (x1 - x0) - 1, y0, x1 + 0.1 * (x1 - x0) + 1, y1)) for edge, (x0, y0, x1, y1) in boxes]
    for i, (edge_a, a) in enumerate(boxes):
        for edge_b, b in boxes[i + 1 :]:
            if edge_a != edge_b:
                overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                assert not overlap, (edge_a, edge_b)


def test_labels_are_in_the_chosen_language_with_a_legend(lesson):
    graph, n = lesson
    en, zh = graph.to_dot(lang="en", highlight=n["k"]), graph.to_dot(lang="zh", highlight=n["k"])
    assert en != zh
    assert "值 = 0.359151" in zh and "梯度 = 0.185832" in zh and "value =" not in zh.split("tooltip")[0]
    assert "How to read this graph" in en and "怎么看这张图" in zh
    assert "grad: ∂loss/∂node, the gradient of the output with respect to the node" in en
    assert "red path: the chain rule for ∂loss/∂k" in en and "红色路径：∂loss/∂k 的链式法则" in zh
    assert "numbers rounded to 6 significant digits" in en
    no_legend = graph.to_dot(legend=False)
    assert "legend" not in no_legend
    with pytest.raises(ValueError, match="lang"):
        graph.to_dot(lang="fr")


def test_every_explained_path_can_be_highlighted_in_its_own_colour(lesson):
    graph, n = lesson
    ids = {node.name: f"n{i}" for i, node in enumerate(graph.order)}
    dot = graph.to_dot(highlight=[graph.explain(n["k"]), graph.explain(n["b"])])
    edges = {e.split(" [")[0]: e for e in edges_of(dot)}
    assert 'color="#dc2626"' in edges[f"{ids['k']} -> {ids['linear']}"]
    assert 'color="#2563eb"' in edges[f"{ids['b']} -> {ids['linear']}"]
    # the shared part of both paths is drawn in both colours
    assert 'color="#dc2626:#2563eb"' in edges[f"{ids['sigmoid']} -> {ids['loss']}"]
    assert "blue path: the chain rule for ∂loss/∂b" in dot


def test_tensor_nodes_show_shape_and_leading_entries_and_tooltips_have_every_digit():
    cr.set_default_dtype("float64")
    W = cr.Variable(np.arange(12.0).reshape(4, 3) / 7, name="W")
    out = cr.sum(cr.tanh(W))
    dot = cr.Graph(out).to_dot()
    assert "value = (4, 3) [[0, 0.143, 0.286], [0.429, 0.571, 0.714], [0.857, 1, 1.14], …]" in dot
    assert "0.14285714285714285" in dot  # full precision, in the tooltip
