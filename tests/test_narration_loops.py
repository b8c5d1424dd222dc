"""The lesson's own way, seen: talking node loops, the chain rule as symbols before any number,
and a learner's own Node classes narrated, explained and drawn like the built-in ops."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule.see import viz
from narrow import chain
from test_lesson_way import Square, hand_loop, seed_graph

from lesson_helpers import CJK, B, K, X, Y, build_lesson, lesson_math

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def numbered_lines(text: str) -> list[str]:
    """The narration's per-node lines (the titles and numbering left out)."""
    return [re.sub(r"^\s*\d+\. ", "", line) for line in text.splitlines() if re.match(r"^\s*\d+\. |^\s+→", line)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_node_loops_say_exactly_what_graph_narration_says(lang, capsys):
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y}, narrate=True, lang=lang)
    graph.backward(narrate=True, lang=lang)
    from_graph = numbered_lines(capsys.readouterr().out)
    order = cr.topological_sort(n["loss"])
    with cr.narrate(lang=lang):
        hand_loop(order, n["loss"])  # the lesson's forward loop, loss.grad = 1, the backward loop
    from_loops = numbered_lines(capsys.readouterr().out)
    assert from_loops == from_graph  # the same phrase table, node by node, line by line
    joined = "\n".join(from_loops)
    assert "0.18583185743835806" in joined and "0.402796525409167 · (sigmoid · (1 - sigmoid))" in joined
    assert bool(CJK.search(joined)) == (lang == "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_before_any_forward_pass_explain_shouts_the_slogans(lang):
    graph, n = build_lesson()
    e = graph.explain(n["k"], lang=lang)
    assert e.symbolic and e.gradient is None and e.n_paths == 1
    text = str(e)
    assert "∂loss/∂k = ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k" in text
    assert not re.search(r"\d\.\d", text)  # symbols only: no number anywhere
    assert ("口号" in text) == (lang == "zh") and ("slogans" in text) == (lang == "en")
    graph.forward({n["x"]: X, n["y"]: Y})
    after = graph.explain(n["k"], lang=lang)
    assert not after.symbolic and after.value == pytest.approx(lesson_math()["d_k"], rel=1e-15)


def test_the_symbols_stage_adds_the_paths_of_a_node_used_three_times():
    x = cr.Placeholder(name="x")
    y = cr.Add(cr.Mul(x, x, name="mul"), x, name="y")
    e = cr.explain(y, x)
    assert "∂y/∂x = ∂y/∂mul · ∂mul/∂x₁ + ∂y/∂mul · ∂mul/∂x₂ + ∂y/∂x" in str(e)
    assert "共有 3 条路径" in e.render("zh")
    many: cr.Node = x
    for _ in range(8):
        many = many + many
    summary = str(cr.explain(many, x))
    assert "256 paths" in summary and len(summary.splitlines()) < 15


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_learners_node_is_narrated_with_the_local_derivative_its_backward_gives(lang, capsys):
    cr.set_default_dtype("float64")
    x = cr.Placeholder(name="x")
    sq = Square(cr.Sin(x, name="s"), name="sq")
    loss = cr.Sigmoid(sq, name="loss")
    graph = cr.Graph(loss)
    graph.forward({x: 0.7}, narrate=True, lang=lang)
    graph.backward(narrate=True, lang=lang)
    text = capsys.readouterr().out
    s = math.sin(0.7)
    sig = 1 / (1 + math.exp(-s * s))
    line = next(line for line in text.splitlines() if "→" in line and " s:" in line.replace("：", ":"))
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line)]
    # upstream · ∂sq/∂s = upstream · 2·sin(0.7) = result
    assert numbers[-3:] == pytest.approx([sig * (1 - sig), 2 * s, sig * (1 - sig) * 2 * s], rel=1e-14)
    assert "∂sq/∂s" in line
    assert ("我是 sq（Square）" in text) == (lang == "zh") and ("I am sq (Square)" in text) == (lang == "en")


def test_a_learners_node_with_its_own_derivative_formula_shows_it():
    class Cube(cr.Node):
        derivatives = ("3·{0}²",)

        def __init__(self, x, name=None):
            cr.Node.__init__(self, inputs=[x], name=name)

        def forward(self):
            self.value = self.inputs[0].value ** 3

        def backward(self):
            upstream = sum(out.gradients[self] for out in self.outputs)
            self.gradients[self.inputs[0]] = upstream * 3 * self.inputs[0].value ** 2

    x = cr.Variable(1.5, dtype="float64", name="x")
    e = chain(cr.explain(cr.Tanh(Cube(x, name="c"), name="t"), x))
    assert e.paths[0].factors[-1].local == "(3·x²)" and e.paths[0].factors[-1].value == pytest.approx(6.75)
    assert "(1 - t²) · (3·x²)" in str(e)


def test_the_seeds_own_classes_are_narrated_explained_and_drawn(capsys):
    n = seed_graph()
    graph = cr.Graph(n["loss"])
    graph.forward({n["x"]: X, n["y"]: Y, n["k"]: K, n["b"]: B}, narrate=True, lang="zh")
    text = capsys.readouterr().out
    assert "我是 x（LessonPlaceholder），我已经被人类爸爸赋值为 3.0" in text
    assert "我是 loss（LessonLoss），我没有人类爸爸，需要自己计算结果" in text and "0.04056126022042443" in text
    graph.backward()
    e = graph.explain(n["k"])
    rows = str(e).splitlines()
    assert rows[2] == "path 1: ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k"
    assert rows[3] == "      = 0.402796525409167 · 0.15378472397826434 · 3.0"  # no formula row: none was written
    dot = graph.to_dot(highlight=n["k"])
    assert "∂linear/∂k\\l  = 3\\l" in dot and 'color="#dc2626"' in dot


@needs_dot
def test_a_graph_with_a_learners_node_renders(tmp_path):
    x = cr.Variable(np.array([0.3, 1.2]), dtype="float64", name="x")
    loss = cr.sum(cr.tanh(Square(x, name="sq")))
    path = tmp_path / "learner.svg"
    viz.draw(cr.Graph(loss), str(path), lang="zh", highlight=x)
    assert path.read_bytes().startswith(b"<?xml") and "Square" in path.read_text(encoding="utf-8")
