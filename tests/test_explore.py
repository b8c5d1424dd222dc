"""The explorer's page as data and as a file (no browser here; see test_explore_browser.py for clicks).

Expected numbers come from PyTorch or plain math, never from chainrule.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.see import layout as layout_module
from narrow import known

from lesson_helpers import LESSON_BACKWARD, X, Y, build_lesson, lesson_math

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def page_json(page_html: str) -> dict:
    """The data a saved page carries (the page itself only displays it)."""
    match = re.search(r'<script type="application/json" id="cr-data">(.*?)</script>', page_html, re.S)
    assert match is not None, "no data in the page"
    return json.loads(match.group(1).replace("<\\/", "</"))


@pytest.fixture
def lesson():
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    return graph, n


def test_the_page_is_one_file_that_loads_nothing(lesson, tmp_path):
    graph, _ = lesson
    path = Path(cr.explore(graph).save(tmp_path / "lesson.html"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # no external script, stylesheet, image, font or frame; a policy that forbids fetching any
    assert not re.search(r"<(script|img|iframe|link)[^>]*\s(src|href)=", text)
    assert "@import" not in text and "url(http" not in text and "//fonts." not in text
    assert "default-src 'none'" in text
    # every script of the explorer folder is inlined, and the data parses
    for name in ("text.js", "graph.js", "chain.js", "panel.js", "steps.js", "app.js"):
        assert f"// {name}:" in text
    data = page_json(text)
    assert [n["name"] for n in data["nodes"]] == [n.name for n in graph.order]


def test_every_number_comes_from_the_engine(lesson):
    graph, n = lesson
    data = cr.explore(graph).data
    m = lesson_math()
    nodes = {node["name"]: node for node in data["nodes"]}
    assert nodes["k"]["grad"][0] == LESSON_BACKWARD[3] == repr(m["d_k"])
    assert float(nodes["sigmoid"]["value"][0]) == m["sigmoid"]
    assert nodes["k"]["grad"][1] == "0.1858"  # few digits: written by Python too
    edge = next(e for e in data["edges"] if e["sym"] == "∂sigmoid/∂linear")
    assert edge["lb"] in str(graph.explain(n["k"])) and edge["num"][0] == repr(m["local_sigmoid"])  # explain's form
    third = data["backward"][2]
    assert data["edges"][third["e"]]["sym"] == "∂sigmoid/∂linear"
    assert (third["up"][0], third["res"][0]) == (repr(m["d_sigmoid"]), repr(m["d_linear"]))
    k_paths = data["explain"][[x.name for x in graph.order].index("k")]
    assert k_paths["n"] == "1" and k_paths["paths"][0]["p"][0] == repr(m["d_k"])
    # the scripts hold no arithmetic on the page's numbers: no parseFloat, Number(...) of a value, Math.*
    scripts = "".join(p.read_text() for p in Path(cr.see.explore.__file__).parent.joinpath("explorer").glob("*.js"))
    assert (
        "parseFloat" not in scripts
        and "toPrecision" not in scripts
        and "toFixed(" not in scripts.replace("(w * scale).toFixed(", "").replace("(h * scale).toFixed(", "")
    )


def test_building_the_page_changes_no_gradient_and_no_value(lesson):
    graph, n = lesson
    before = {node.name: (node.value, node.grad) for node in graph.order}
    cr.explore(n["loss"])
    assert all(node.grad is None for node in graph.order)
    assert {node.name: node.value for node in graph.order} == {k: v[0] for k, v in before.items()}


def test_backward_steps_add_up_fan_out_like_pytorch():
    cr.set_default_dtype("float64")
    a = cr.Variable(0.7, name="a")
    out = cr.tanh(a) * a + cr.sin(a)
    data = cr.explore(out).data
    at = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (torch.tanh(at) * at + torch.sin(at)).backward()
    index = [node["name"] for node in data["nodes"]].index("a")
    into_a = [s for s in data["backward"] if data["edges"][s["e"]]["src"] == index]
    assert [s["n"] for s in into_a] == [1, 2, 3] and {s["of"] for s in into_a} == {3}
    assert at.grad is not None
    assert float(into_a[-1]["run"][0]) == pytest.approx(at.grad.item(), rel=1e-14)
    paths = data["explain"][index]
    assert paths["n"] == "3" and sum(float(p["p"][0]) for p in paths["paths"]) == pytest.approx(at.grad.item())


def test_tensor_tables_show_the_leading_entries_with_their_indices():
    cr.set_default_dtype("float64")
    w = np.arange(8 * 9, dtype=np.float64).reshape(8, 9) / 10
    W = cr.Variable(w, name="W")
    data = cr.explore(cr.sum(W * W)).data
    node = data["nodes"][0]
    assert node["st"] == "(8, 9)" and node["tab"]["r"] == 6 and node["tab"]["c"] == 6
    assert node["tab"]["mr"] and node["tab"]["mc"] and node["tab"]["idx"][7] == "1, 1"
    assert float(node["grad"]["t"][7][0]) == pytest.approx(2 * w[1, 1])  # d(w²)/dw = 2w
    assert node["value"]["s"]["k"] == "page.summary"


@pytest.mark.parametrize("shape, axis", [((0, 4), None), ((0, 4), 0), ((3, 0), 1)])
def test_empty_tensors_explore_explain_and_draw(shape, axis):
    """An empty tensor on a page, in a drawing and an explanation: shown as empty, and each
    sum counted as the elements it really adds up (0 here; before, the page raised IndexError
    and the note said 1)."""
    x = cr.Variable(np.zeros(shape), name="x")
    total = cr.sum(cr.exp(x), axis=axis)
    seed = np.ones(np.shape(total.value))
    data = cr.explore(total, gradient=seed, use_dot=False).data
    assert [n["name"] for n in data["nodes"]] == ["x", total.inputs[0].name, total.name]
    text = str(cr.explain(total, x, gradient=seed))
    count = np.prod([shape[a] for a in ((0, 1) if axis is None else (axis,))])
    assert count == 0 and f"added up {count} elements" in text and "empty" in text
    assert "digraph" in cr.Graph(total).to_dot()


@pytest.mark.parametrize("use_dot", [pytest.param(True, marks=needs_dot), False])
def test_layout_puts_inputs_left_of_their_consumers_without_overlap(lesson, use_dot):
    graph, _ = lesson
    data = cr.explore(graph, use_dot=use_dot).data
    assert data["layout"] == ("dot" if use_dot else "layered")
    boxes = [node["box"] for node in data["nodes"]]
    for e in data["edges"]:
        assert boxes[e["src"]][0] < boxes[e["dst"]][0]
        assert len(e["pts"]) % 3 == 1
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= (w1 + w2) / 2 - 1 or abs(y1 - y2) >= (h1 + h2) / 2 - 1
        assert 0 <= x1 - w1 / 2 and x1 + w1 / 2 <= data["size"][0] and y1 + h1 / 2 <= data["size"][1]


def test_without_dot_the_page_uses_its_own_layout(lesson, monkeypatch):
    graph, _ = lesson
    monkeypatch.setattr(layout_module.shutil, "which", lambda name: None)
    assert cr.explore(graph).data["layout"] == "layered"


def test_jupyter_shows_the_page_in_an_iframe(lesson):
    graph, _ = lesson
    explorer = cr.explore(graph, lang="zh")
    shown = explorer._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in shown
    inner = html.unescape(known(re.search(r'srcdoc="(.*?)" style', shown, re.S)).group(1))
    assert inner == explorer.to_html() and page_json(inner)["lang"] == "zh"
    assert '<html lang="zh-CN">' in inner and "探索器" in inner


def test_model_parameters_show_their_qualified_names():
    cr.nn.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 2))
    loss = cr.mse(model(cr.tensor(np.ones((5, 4), dtype=np.float32))), cr.tensor(np.zeros((5, 2), np.float32)))
    names = {node["name"] for node in cr.explore(loss).data["nodes"]}
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= names


def test_errors_name_what_is_missing():
    x = cr.Placeholder(name="x")
    with pytest.raises(cr.errors.GradientError, match="x"):
        cr.explore(x * 2)
    with pytest.raises(ValueError, match="lang"):
        cr.explore(cr.Variable(1.0) * 2, lang="fr")
    with pytest.raises(cr.errors.GradientError, match="gradient"):
        cr.explore(cr.Variable(np.ones(3)) * 2)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    src = str(Path(cr.__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def test_cli_demo_and_explain_write_pages(tmp_path):
    done = run_cli("demo", "--no-plots", "--steps", "2", "--html", "lesson.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote lesson.html" in done.stdout
    data = page_json((tmp_path / "lesson.html").read_text(encoding="utf-8"))
    k = next(node for node in data["nodes"] if node["name"] == "k")
    assert k["grad"][0] == LESSON_BACKWARD[3]  # the lesson's numbers, before gradient descent
    done = run_cli("explain", "x*x + x", "--at", "x=1.5", "--quiet", "--lang", "zh", "--html", "fan.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = page_json((tmp_path / "fan.html").read_text(encoding="utf-8"))
    x = next(i for i, node in enumerate(data["nodes"]) if node["name"] == "x")
    assert data["lang"] == "zh" and data["explain"][x]["g"][0] == repr(2 * 1.5 + 1)
    done = run_cli("explain", "x*2", "--at", "x=1", "--html", str(tmp_path / "missing" / "p.html"), cwd=tmp_path)
    assert done.returncode == 2 and "--html" in done.stderr


def test_names_cannot_break_out_of_the_page():
    cr.set_default_dtype("float64")
    a = cr.Variable(2.0, name="</script><!--<b>a")
    text = cr.explore(a * a).to_html()
    assert "</script><!--<b>" not in text
    assert page_json(text)["nodes"][0]["name"] == "</script><!--<b>a"
