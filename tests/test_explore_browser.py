"""The explorer page in a real browser (headless Chromium): what a learner clicks, and what it shows.

Every expected number comes from plain math (``lesson_helpers.lesson_math``,
the lesson's own printed digits) or from PyTorch, never from chainrule.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from narrow import known

from browser import browser_fixture, click_node, lit, open_page  # noqa: F401 - the "browser" fixture
from lesson_helpers import CJK, LESSON_BACKWARD, X, Y, build_lesson, lesson_math, numbers_in

FLAGS_FULL = "#digits"  # the precision toggle: the page starts with a few digits


@pytest.fixture
def lesson_page(tmp_path):
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    return Path(cr.explore(graph).save(tmp_path / "lesson.html"))


def test_lesson_page_clicking_k_shows_its_gradient_and_lights_its_path(browser, lesson_page):
    opened = open_page(browser, lesson_page)
    page = opened.page
    page.click(FLAGS_FULL)
    panel = click_node(page, "k")
    d_k = LESSON_BACKWARD[3]  # the lesson prints ∂Loss/∂k = 0.18583185743835806
    assert d_k == repr(lesson_math()["d_k"])
    assert d_k in panel
    assert "∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k" in panel
    edges, nodes = lit(page)
    assert edges == {("k", "linear"), ("linear", "sigmoid"), ("sigmoid", "loss")}
    assert nodes == {"k", "linear", "sigmoid", "loss"}
    # a few digits again: the same gradient, shortened (by Python), in the panel
    page.click(FLAGS_FULL)
    assert d_k not in page.inner_text("#panel") and "0.1858" in page.inner_text("#panel")
    opened.check_clean()


def test_stepping_backward_three_times_shows_sigmoid_to_linear(browser, lesson_page, tmp_path):
    opened = open_page(browser, lesson_page, height=540)  # the README's screenshot: no empty space below
    page = opened.page
    page.click(FLAGS_FULL)
    page.click("#mode-bwd")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    m = lesson_math()
    step = f"{m['d_sigmoid']!r} × {m['local_sigmoid']!r} = {m['d_linear']!r}"
    assert step == "0.402796525409167 × 0.15378472397826434 = 0.06194395247945269"
    caption = page.inner_text("#caption")
    assert step in caption and "sigmoid → linear" in caption
    active = page.eval_on_selector_all("path.edge.active", "els => els.map(e => [e.dataset.src, e.dataset.dst])")
    assert active == [["linear", "sigmoid"]]
    click_node(page, "k")
    shot = Path(os.environ.get("CHAINRULE_SCREENSHOT", tmp_path / "explorer.png"))
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    # Back, Reset, Next with the buttons; the forward pass narrates node by node
    page.click("#back")
    assert "step 2 of 6" in page.inner_text("#caption")
    page.click("#mode-fwd")
    for _ in range(5):
        page.click("#next")
    caption = page.inner_text("#caption")
    assert "I am linear (Linear)" in caption and LESSON_BACKWARD[0] not in caption
    assert any(math.isclose(v, m["linear"], rel_tol=1e-15) for v in numbers_in(caption))
    assert "grad ?" in page.text_content('g.node[data-name="loss"]')
    page.click("#reset")
    assert "step 0 of 7" in page.inner_text("#caption")
    page.click("#play")
    page.locator("#caption", has_text="step 1 of 7").wait_for(timeout=5000)
    page.click("#play")  # pause
    opened.check_clean()


def test_chinese_toggle_changes_the_panel(browser, lesson_page):
    opened = open_page(browser, lesson_page)
    page = opened.page
    english = click_node(page, "k")
    assert not CJK.search(english)
    page.click("#lang")
    chinese = page.inner_text("#panel")
    assert chinese != english and CJK.search(chinese) and "路径 1" in chinese
    assert page.inner_text("#lang") == "English" and CJK.search(page.inner_text("#caption"))
    page.click("#lang")
    assert page.inner_text("#panel") == english
    opened.check_clean()


def test_fan_out_lists_every_path_and_their_sum(browser, tmp_path):
    cr.set_default_dtype("float64")
    x = cr.Placeholder(name="x")
    out = x * x + x
    cr.Graph(out).forward({x: 1.5})
    opened = open_page(browser, Path(cr.explore(out).save(tmp_path / "fan.html")))
    page = opened.page
    page.click(FLAGS_FULL)
    panel = click_node(page, "x")
    # d/dx (x·x + x) = x + x + 1: the two slots of x·x are two edges, so two paths through mul, one direct
    assert "3 paths from" in panel and "path 1:" in panel and "path 3:" in panel
    assert "1.5 + 1.5 + 1.0 = 4.0" in panel and 2 * 1.5 + 1 == 4.0
    edges, nodes = lit(page)
    assert nodes == {"x", out.inputs[0].name, out.name} and len(edges) == 3
    mul, add = out.inputs[0].name, out.name
    every = page.eval_on_selector_all("path.edge.lit", "els => els.map(e => e.dataset.src + '>' + e.dataset.dst)")
    assert sorted(every) == sorted([f"x>{mul}", f"x>{mul}", f"{mul}>{add}", f"x>{add}"])  # 4 edges, 3 paths
    page.click("#panel pre.path >> nth=2")  # path 3 alone: x straight into add
    assert lit(page) == ({("x", add)}, {"x", add})
    page.click("#panel h3.paths")  # every path again
    assert len(page.query_selector_all("path.edge.lit")) == 4
    opened.check_clean()


def test_a_tensor_elements_chain_matches_pytorch(browser, tmp_path):
    cr.set_default_dtype("float64")
    rng = np.random.default_rng(3)
    w0, a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    W = cr.Variable(w0, name="W")
    V = cr.Variable(np.ones(2), name="V")
    out = cr.sum(cr.sigmoid(W * cr.tensor(a, name="a")) + W * cr.tensor(b, name="b")) + V[1] * 2.5
    opened = open_page(browser, Path(cr.explore(out).save(tmp_path / "tensor.html")))
    page = opened.page
    page.click(FLAGS_FULL)
    panel = click_node(page, "W")
    assert "(2, 3)" in panel
    page.click('#panel .section[data-key="page.gradient"] td[data-cell="2"]')  # W[0, 2]
    element = page.inner_text("#panel .element")
    assert "W[0, 2]" in element
    wt = torch.tensor(w0, requires_grad=True)
    (torch.sigmoid(wt * torch.tensor(a)) + wt * torch.tensor(b)).sum().backward()
    s = 1 / (1 + math.exp(-w0[0, 2] * a[0, 2]))
    path_values = sorted([s * (1 - s) * a[0, 2], b[0, 2]])  # each path's share, by hand
    blocks = re.split(r"path \d+:", element)[1:]  # explain's rows: symbols, forms, numbers, = product
    shown = [float(block.strip().splitlines()[3].lstrip("= ")) for block in blocks]
    assert np.allclose(sorted(shown), path_values, rtol=1e-12)
    assert "∂mul_" in blocks[0] and "W[0, 2]" in blocks[0]  # factors of single elements
    total = float(element.strip().rsplit("=", 1)[1])
    assert math.isclose(total, known(wt.grad)[0, 2].item(), rel_tol=1e-12)
    # the output uses only V[1]: ∂/∂V = [0, 2.5]; V[0]'s chain ends in a local derivative 0
    vt = torch.ones(2, requires_grad=True)
    (vt[1] * 2.5).backward()
    click_node(page, "V")
    for cell, expected in enumerate(known(vt.grad).tolist()):
        page.click(f'#panel .section[data-key="page.gradient"] td[data-cell="{cell}"]')
        chain = page.inner_text("#panel .element")
        assert f"V[{cell}]" in chain and float(chain.strip().rsplit("= ", 1)[1]) == expected
    opened.check_clean()


def test_a_trained_models_graph_for_one_batch(browser, tmp_path):
    cr.nn.manual_seed(0)
    train, _ = cr.datasets.load("digits")
    model = cr.nn.MLP([64, 16, 10])
    cr.fit(model, cr.cross_entropy, cr.optim.Adam(model.parameters(), lr=1e-2), train, epochs=1, progress=False)
    X, y = train[:8]
    loss = cr.cross_entropy(model(cr.tensor(X, name="X")), y)
    path = Path(cr.explore(loss).save(tmp_path / "model.html"))
    opened = open_page(browser, path)
    page = opened.page
    page.click(FLAGS_FULL)
    names = page.eval_on_selector_all("g.node", "els => els.map(e => e.dataset.name)")
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(names)
    panel = click_node(page, "0.weight")
    assert "(16, 64)" in panel and "the first 6 × 6 entries" in panel
    # the same batch and weights in PyTorch: the gradient table's entries
    params = {name: torch.tensor(p.value, requires_grad=True) for name, p in model.named_parameters()}
    hidden = torch.relu(torch.tensor(X) @ params["0.weight"].T + params["0.bias"])
    logits = hidden @ params["2.weight"].T + params["2.bias"]
    torch.nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.long)).backward()
    cells = page.eval_on_selector_all(
        '#panel .section[data-key="page.gradient"] td[data-cell]', "els => els.map(e => e.textContent)"
    )
    expected = known(params["0.weight"].grad).numpy()[:6, :6].reshape(-1)
    assert np.allclose([float(c) for c in cells], expected, rtol=1e-4, atol=1e-7)
    opened.check_clean()


def test_a_300_node_graph_stays_usable(browser, tmp_path):
    cr.set_default_dtype("float64")
    h = cr.Variable(0.5, name="x")
    for i in range(75):  # h ← tanh(h·w) + h: 4 nodes per step, and the paths double at every step
        h = cr.tanh(h * cr.Variable(0.9 + 0.001 * i, name=f"w{i}")) + h
    graph = cr.Graph(h)
    assert len(graph.order) >= 300
    path = Path(cr.explore(graph).save(tmp_path / "big.html"))
    opened = open_page(browser, path)
    page = opened.page
    panel = click_node(page, "x")
    assert f"{2**75} paths" in panel  # counted exactly, and grouped by their last edge instead of listed
    assert "via ∂" in panel
    page.click("#mode-bwd")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert "step 10 of" in page.inner_text("#caption")
    assert len(page.query_selector_all("path.edge.active")) == 1
    opened.check_clean()
