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
    assert "tooltip=\"k: value = 0.35915077292816744\\ngrad = 0.18583185743835806\"" in dot  # all of them on hover
    assert "∂sigmoid/∂linear = sigmoid · (1 - sigmoid) = 0.153785" in dot
    bare = graph.to_dot(show_values=False, show_grads=False)
    assert "value =" not in bare and "grad =" not in bare


def test_highlight_marks_exactly_the_chain_rule_path(lesson):
    graph, n = lesson
    ids = {node.name: f"n{i}" for i, node in enumerate(graph.order)}
    for highlight in (n["k"], graph.explain(n["k"]), graph.explain(n["k"]).paths[0]):
        red = {e.split(" [")[0] for e in edges_of(graph.to_dot(highlight=highlight)) if "#dc2626" in e}
        assert red == {f"{ids['k']} -> {ids['linear']}", f"{ids['linear']} -> {ids['sigmoid']}",
                       f"{ids['sigmoid']} -> {ids['loss']}"}


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
