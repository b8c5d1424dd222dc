"""explain(..., mode="both"): one derivative by forward and by backward mode, with the
passes and multiplications each needs; checked against the lesson's hand math, PyTorch
(values and every local Jacobian, to count multiplications) and in both languages."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF
import torch.nn.functional as F

import chainrule as cr
from chainrule.errors import GradientError, OptionError
from chainrule.see.modes import Pass
from narrow import known, modes

from lesson_helpers import CJK, K, X, Y, build_lesson, has_number, lesson_math, numbers_in

# torch.func compiles its decompositions with torch.jit.script on first use, which warns
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture
def lesson():
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    return graph, n


def passes(e: object) -> tuple[Pass, Pass]:
    """The forward and the backward pass of a mode="both" explanation."""
    both = modes(e)
    assert both.forward is not None and both.backward is not None
    return both.forward, both.backward


def at(p: Pass, node: cr.Node) -> Any:
    """What pass ``p`` carries at ``node``."""
    return known(p.step(node)).value


def test_lesson_forward_pass_carries_dk_up(lesson):
    graph, n = lesson
    e = graph.explain(n["k"], mode="both")
    assert isinstance(e, cr.ModesExplanation)
    m = lesson_math()
    fwd, _ = passes(e)
    assert [s.node.name for s in fwd.steps] == ["k", "linear", "sigmoid", "loss"]
    assert at(fwd, n["k"]) == 1.0
    assert at(fwd, n["linear"]) == pytest.approx(X, rel=1e-15)  # ∂(kx+b)/∂k = x
    assert at(fwd, n["sigmoid"]) == pytest.approx(m["local_sigmoid"] * X, rel=1e-14)
    assert at(fwd, n["loss"]) == pytest.approx(m["d_k"], rel=1e-14)


def test_lesson_backward_pass_carries_dloss_down(lesson):
    graph, n = lesson
    e = cr.explain(n["loss"], n["k"], mode="both")
    m = lesson_math()
    _, bwd = passes(e)
    assert bwd.steps[0].node is n["loss"] and bwd.steps[0].value == 1.0
    for name, key in (
        ("sigmoid", "d_sigmoid"),
        ("linear", "d_linear"),
        ("k", "d_k"),
        ("b", "d_b"),
        ("x", "d_x"),
        ("y", "d_y"),
    ):
        assert at(bwd, n[name]) == pytest.approx(m[key], rel=1e-14), name
    assert e.value == pytest.approx(m["d_k"], rel=1e-15)


def test_lesson_counts_passes_and_multiplications(lesson):
    """By hand: four inputs (x, y, k, b; the lesson's placeholders require grad), one output.
    Six edges carry a derivative (loss←y, loss←sigmoid, sigmoid←linear, linear←x, k, b),
    each one multiplication of two numbers. A forward pass from x, k or b crosses three
    of them, from y one: 3 + 3 + 3 + 1 = 10. The backward pass crosses all six once."""
    graph, n = lesson
    fwd, bwd = passes(graph.explain(n["k"], mode="both"))
    assert (fwd.passes, fwd.multiplications, fwd.total) == (4, 3, 10)
    assert (bwd.passes, bwd.multiplications, bwd.total) == (1, 6, 6)
    assert {node.name for node in fwd.ends} == {"x", "y", "k", "b"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lesson_text_in_both_languages(lesson, lang):
    graph, n = lesson
    text = graph.explain(n["k"], mode="both", lang=lang).render()
    m = lesson_math()
    values = numbers_in(text)
    for key in ("d_sigmoid", "local_sigmoid", "d_linear", "d_k", "d_x"):
        assert has_number(values, m[key]) or any(v == pytest.approx(m[key], rel=1e-15) for v in values), key
    assert "∂sigmoid/∂k = ∂sigmoid/∂linear · ∂linear/∂k" in text
    assert "∂loss/∂linear = ∂loss/∂sigmoid · ∂sigmoid/∂linear" in text
    assert "= 0.06194395247945269 · x" in text and "= (sigmoid · (1 - sigmoid)) · 3.0" in text
    if lang == "en":
        assert "forward mode, one pass per input element (x, y, k, b): passes 4, multiplications 10" in text
        assert "backward mode, one pass per output element (loss): passes 1, multiplications 6" in text
        assert "That is why backpropagation runs backward" in text
    else:
        assert "前向模式，每个输入元素走一遍（x、y、k、b）：共 4 遍，10 次乘法" in text
        assert "反向模式，每个输出元素走一遍（loss）：共 1 遍，6 次乘法" in text
        assert "这就是反向传播要倒着走的原因" in text
        sentences = [
            line
            for line in text.splitlines()
            if re.search(r"[A-Za-z]{4,}", line.replace("sigmoid", "").replace("linear", "").replace("loss", ""))
        ]
        assert all(CJK.search(line) for line in sentences), sentences


def test_one_mode_at_a_time(lesson):
    graph, n = lesson
    fwd = modes(cr.explain(n["loss"], n["b"], mode="forward"))
    assert fwd.backward is None and fwd.value == pytest.approx(lesson_math()["d_b"], rel=1e-14)
    assert "Backward mode" not in str(fwd) and "Forward mode" in str(fwd) and "passes 4" in str(fwd)
    bwd = modes(cr.explain(n["loss"], n["b"], mode="backward", lang="zh"))
    assert bwd.forward is None and "反向模式" in str(bwd) and "前向模式（" not in str(bwd)


# ---------------------------------------------------------------- a 2-layer MLP of the lesson's nodes
def mlp():
    cr.set_default_dtype("float64")
    rng = np.random.default_rng(0)
    data = {
        "X": rng.standard_normal((4, 3)),
        "Y": rng.random((4, 1)),
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4),
        "W2": rng.standard_normal((4, 1)),
        "b2": rng.standard_normal(1),
    }
    X_, Y_ = cr.Constant(data["X"], name="X"), cr.Constant(data["Y"], name="Y")
    p = {k: cr.Variable(data[k], name=k) for k in ("W1", "b1", "W2", "b2")}
    hidden = cr.Sigmoid(cr.Linear(X_, p["W1"], p["b1"], name="linear1"), name="hidden")
    loss = cr.MSE(Y_, cr.Linear(hidden, p["W2"], p["b2"], name="linear2"), name="loss")
    return loss, p, data


def t_layers(data, w1, b1, w2, b2):
    hidden = torch.sigmoid(torch.tensor(data["X"]) @ w1 + b1)
    return hidden, F.mse_loss(hidden @ w2 + b2, torch.tensor(data["Y"]))


def test_mlp_both_modes_against_torch():
    loss, p, data = mlp()
    e = modes(cr.explain(loss, p["W1"], mode="both"))
    fwd, bwd = passes(e)
    t = {k: torch.tensor(data[k], requires_grad=True) for k in p}
    hidden, t_loss = t_layers(data, *t.values())
    t_loss.backward()
    for name, node in p.items():
        t_grad = t[name].grad
        assert t_grad is not None
        np.testing.assert_allclose(at(bwd, node), t_grad.numpy(), atol=1e-12)
    # the forward pass from W1[0, 0]: every tangent equals PyTorch's jvp with that one-hot tangent
    one_hot = torch.zeros(3, 4, dtype=torch.float64)
    one_hot[0, 0] = 1
    args = [torch.tensor(data[k]) for k in ("W1", "b1", "W2", "b2")]
    tangents = torch.func.jvp(lambda w: t_layers(data, w, *args[1:]), (args[0],), (one_hot,))[1]
    t_hidden, t_dloss = tangents
    np.testing.assert_allclose(at(fwd, loss.inputs[1].inputs[0]), t_hidden.numpy(), atol=1e-12)
    assert at(fwd, loss) == pytest.approx(t_dloss.item(), rel=1e-12)
    w1_grad = t["W1"].grad
    assert w1_grad is not None
    assert e.value == pytest.approx(w1_grad[0, 0].item(), rel=1e-12)


def test_mlp_one_chosen_element():
    """W1[1, 2] (or element=(1, 2)) seeds the forward pass there; both passes give that element."""
    loss, p, data = mlp()
    t = {k: torch.tensor(data[k], requires_grad=True) for k in p}
    t_layers(data, *t.values())[1].backward()
    w1_grad = t["W1"].grad
    assert w1_grad is not None
    for e in (cr.explain(loss, p["W1"][1, 2], mode="both"), cr.explain(loss, p["W1"], mode="both", element=(1, 2))):
        fwd, _ = passes(e)
        assert fwd.seed == "W1[1, 2]" and e.element == (1, 2)
        assert e.value == pytest.approx(w1_grad[1, 2].item(), rel=1e-12)
        assert at(fwd, loss) == pytest.approx(w1_grad[1, 2].item(), rel=1e-12)
        assert "∂W1/∂W1[1, 2]: 1 at [1, 2], 0 everywhere else" in str(e)


def local_nonzeros():
    """Nonzero entries of every local Jacobian of the MLP, from PyTorch (edge name: count)."""
    _, _, d = mlp()
    T = {k: torch.tensor(v) for k, v in d.items()}
    h = torch.sigmoid(T["X"] @ T["W1"] + T["b1"])
    lin1 = T["X"] @ T["W1"] + T["b1"]
    out = h @ T["W2"] + T["b2"]
    jac = {
        "linear1←W1": TF.jacobian(lambda w: T["X"] @ w + T["b1"], T["W1"]),
        "linear1←b1": TF.jacobian(lambda b: T["X"] @ T["W1"] + b, T["b1"]),
        "hidden←linear1": TF.jacobian(torch.sigmoid, lin1),
        "linear2←hidden": TF.jacobian(lambda a: a @ T["W2"] + T["b2"], h),
        "linear2←W2": TF.jacobian(lambda w: h @ w + T["b2"], T["W2"]),
        "linear2←b2": TF.jacobian(lambda b: h @ T["W2"] + b, T["b2"]),
        "loss←linear2": TF.jacobian(lambda o: F.mse_loss(o, T["Y"]), out),
    }
    return {edge: int(torch.count_nonzero(j)) for edge, j in jac.items()}


def test_mlp_multiplications_are_the_local_jacobians_nonzeros():
    nnz = local_nonzeros()
    loss, p, _ = mlp()
    e = cr.explain(loss, p["W1"], mode="both")
    fwd, bwd = passes(e)
    downstream = {  # the edges a forward pass from each parameter crosses
        "W1": ["linear1←W1", "hidden←linear1", "linear2←hidden", "loss←linear2"],
        "b1": ["linear1←b1", "hidden←linear1", "linear2←hidden", "loss←linear2"],
        "W2": ["linear2←W2", "loss←linear2"],
        "b2": ["linear2←b2", "loss←linear2"],
    }
    assert bwd.multiplications == bwd.total == sum(nnz.values())
    assert fwd.multiplications == sum(nnz[edge] for edge in downstream["W1"])
    assert fwd.total == sum(p[k].size * sum(nnz[edge] for edge in edges) for k, edges in downstream.items())
    assert (fwd.passes, bwd.passes) == (12 + 4 + 4 + 1, 1)
    text = e.render("zh")
    assert f"共 21 遍，{fwd.total:,} 次乘法" in text and "jvp (3, 4)→(4, 4)" in text and "vjp (4, 4)→(3, 4)" in text
    assert "∂W1/∂W1[0, 0]：在 [0, 0] 处为 1，其余都是 0" in text


# ---------------------------------------------------------------- other shapes of question
def test_few_inputs_many_outputs_favour_forward_mode():
    cr.set_default_dtype("float64")
    x = cr.Variable(0.5, name="x")
    y = cr.sin(x * cr.Constant(np.arange(5.0), name="c"))
    y.name = "y"
    e = cr.explain(y, x, mode="both")
    fwd, bwd = passes(e)
    assert (fwd.passes, bwd.passes) == (1, 5)
    assert bwd.seed == "y[0]" and e.value == pytest.approx(0.0)  # ∂sin(0·x)/∂x = 0
    text = str(e)
    assert "Here forward mode needs no more passes than backward mode" in text
    assert "∂y[0]/∂y: 1 at [0], 0 everywhere else" in text


def test_no_path_itself_and_uncounted(lesson):
    graph, n = lesson
    other = cr.Variable(2.0, name="other")
    assert "loss does not depend on other" in str(cr.explain(n["loss"], other, mode="both"))
    assert "∂loss/∂loss = 1" in str(cr.explain(n["loss"], n["loss"], mode="both"))
    e = cr.see.modes.explain_modes(n["loss"], n["k"], max_entries=3)
    assert passes(e)[0].total is None and "not counted (the local Jacobians have more than max_entries=3" in str(e)


def test_errors(lesson):
    graph, n = lesson
    with pytest.raises(OptionError, match="explain: mode='sideways' is not one of 'paths', 'forward'"):
        cr.explain(n["loss"], n["k"], mode="sideways")
    with pytest.raises(OptionError, match="seeds mode='paths' only"):
        cr.explain(n["loss"], n["k"], mode="both", gradient=1.0)
    with pytest.raises(GradientError, match="does not require grad"):
        cr.explain(n["loss"], cr.Constant(1.0, name="c"), mode="both")
    with pytest.raises(GradientError, match="no value yet"):
        cr.explain(cr.sigmoid(cr.Placeholder(name="p")), n["k"], mode="forward")


def test_leaves_grads_alone(lesson):
    graph, n = lesson
    graph.backward()
    before = {name: node.grad for name, node in n.items()}
    cr.explain(n["loss"], n["k"], mode="both")
    assert all(n[name].grad is g for name, g in before.items())
    assert K == n["k"].value
