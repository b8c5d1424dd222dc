"""explain and narration on tensors: formulas that parse back, every reduction said aloud, one element at a time.

Expected numbers come from PyTorch 2.13 or from NumPy written out here, never from chainrule's own output.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.cli.expr import parse
from chainrule.see.phrases import describe_value
from narrow import chain, known, path_values

RNG_SEED = 0


def mlp():
    """A 2-layer MLP on 4 examples: loss = mean((Y - (tanh(X @ W1 + b1) @ W2 + b2))²)."""
    cr.set_default_dtype("float64")
    rng = np.random.default_rng(RNG_SEED)
    X = cr.Constant(rng.normal(size=(4, 2)), name="X")
    Y = cr.Constant(rng.normal(size=(4, 2)), name="Y")
    W1, b1 = cr.Variable(rng.normal(size=(2, 3)), name="W1"), cr.Variable(rng.normal(size=3), name="b1")
    W2, b2 = cr.Variable(rng.normal(size=(3, 2)), name="W2"), cr.Variable(rng.normal(size=2), name="b2")
    z1 = cr.Add(cr.MatMul(X, W1, name="a1"), b1, name="z1")
    h1 = cr.Tanh(z1, name="h1")
    z2 = cr.Add(cr.MatMul(h1, W2, name="a2"), b2, name="z2")
    loss = cr.MSE(Y, z2, name="loss")
    graph = cr.Graph(loss)
    graph.forward()
    graph.backward()
    return graph, dict(X=X, Y=Y, W1=W1, b1=b1, W2=W2, b2=b2, z1=z1, h1=h1, z2=z2, loss=loss)


def torch_grads(n):
    """The same MLP's gradients from PyTorch."""
    t = {
        k: torch.tensor(np.asarray(n[k].value), requires_grad=k in ("W1", "b1", "W2", "b2"))
        for k in ("X", "Y", "W1", "b1", "W2", "b2")
    }
    z2 = torch.tanh(t["X"] @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    ((t["Y"] - z2) ** 2).mean().backward()
    grads = {}
    for k in ("W1", "b1", "W2", "b2"):
        grad = t[k].grad
        assert grad is not None
        grads[k] = grad.numpy()
    return grads


def test_w1_of_an_mlp_is_one_formula_with_transposes_in_order_that_parses_back_to_the_gradient():
    graph, n = mlp()
    e = graph.explain(n["W1"])
    assert e.n_paths == 1
    formula = e.paths[0].formula.text
    assert formula == "Xᵀ @ (((-2 · (Y - z2) / n) @ W2ᵀ) ⊙ (1 - h1²))"
    names = {k: cr.Constant(v.value, name=k) for k, v in n.items()}
    names["n"] = cr.Constant(8.0, name="n")
    value = parse(formula, names).value
    np.testing.assert_allclose(value, torch_grads(n)["W1"], rtol=1e-12)
    text = str(e)
    for step in (
        "→ z2 (4, 2)  -2 · (Y - z2) / n",
        "→ h1 (4, 3)  g @ W2ᵀ",
        "→ z1 (4, 3)  g ⊙ (1 - h1²)",
        "→ W1 (2, 3)  Xᵀ @ g",
        "n = 8: the number of elements loss averages over",
    ):
        assert step in text
    assert "· ·" not in text and "= ·" not in text


def test_a_broadcast_bias_says_its_gradient_was_summed_over_the_rows():
    graph, n = mlp()
    e = graph.explain(n["b1"])
    assert e.paths[0].formula.text.startswith("sum(") and e.paths[0].formula.text.endswith(", axis=0)")
    assert e.paths[0].factors[-1].summed == (0,)
    assert (
        "summed over axis 0 back to b1's shape (3,): b1 was broadcast to (4, 3), "
        "so each of its elements was used 4 times" in str(e)
    )
    np.testing.assert_allclose(e.gradient, torch_grads(n)["b1"], rtol=1e-12)
    assert "沿第 0 轴求和，回到 b1 的形状 (3,)" in e.render("zh")
    dot = graph.to_dot()
    assert "∂z1/∂b1\\l  = sum(g, axis=0)\\l  summed over axis 0" in dot


@pytest.mark.parametrize("element", [(0, 2), (1, 0)])
def test_one_element_follows_single_elements_and_adds_up_to_that_element_of_the_gradient(element):
    graph, n = mlp()
    want = torch_grads(n)["W1"][element]
    for answer in (
        graph.explain(n["W1"][element]),
        graph.explain(n["W1"], element=element),
        cr.explain(n["loss"], n["W1"], element=element),
    ):
        e = chain(answer)
        assert e.element == element and e.wrt == f"W1[{element[0]}, {element[1]}]"
        assert e.n_paths == 4 * 2  # each of the 4 rows, then each of the 2 outputs
        assert e.value == pytest.approx(want, rel=1e-12)
        assert sum(path_values(e.paths)) == pytest.approx(want, rel=1e-12)
    X, W2, h1 = (np.asarray(n[k].value) for k in ("X", "W2", "h1"))
    for path in e.paths:
        row, out = known(path.factors[0].in_index)  # the element of z2 this path goes through
        factors = {f.symbol.split("/")[0]: f for f in path.factors}
        # ∂a1[row, j]/∂W1[i, j] = X[row, i];  ∂a2[row, out]/∂h1[row, j] = W2[j, out];  ∂h1/∂z1 = 1 - h1²
        assert path.factors[-1].value == X[row, element[0]]
        assert factors[f"∂a2[{row}, {out}]"].value == W2[element[1], out]
        assert factors[f"∂h1[{row}, {element[1]}]"].value == pytest.approx(1 - h1[row, element[1]] ** 2, rel=1e-15)
        assert np.prod([f.value for f in path.factors]) == pytest.approx(path.value, rel=1e-12)
    text = str(e)
    assert "(1 - h1[0, 0]²)" in text or "(1 - h1[" in text
    assert f"element {element} of ∂loss/∂W1" in text


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2))],
)
def test_one_element_through_a_matmul_of_any_rank_names_the_partner_element_it_multiplies(a_shape, b_shape):
    """∂(A @ B)[p]/∂A[q] is an element of B (and the other way round): vectors, matrices and
    broadcast stacks name the right one, its value is the local derivative, and the paths add
    up to PyTorch's gradient (vectors raised IndexError before; a loss over a broadcast input
    raised ValueError)."""
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a, b = cr.Variable(av, name="A"), cr.Variable(bv, name="B")
    prod = cr.matmul(a, b)
    weights = rng.standard_normal(np.shape(prod.value))
    loss = cr.sum(prod * weights)
    ta, tb = torch.tensor(av, requires_grad=True), torch.tensor(bv, requires_grad=True)
    ((ta @ tb) * torch.tensor(weights)).sum().backward()
    for node, array, tgrad in ((a, av, ta.grad), (b, bv, tb.grad)):
        assert tgrad is not None
        partner, partner_value = (b, bv) if node is a else (a, av)
        element = tuple(int(n) - 1 for n in array.shape)  # the last element: every index matters
        e = chain(cr.explain(loss, node, element=element))
        assert e.value == pytest.approx(float(tgrad[element]), rel=1e-12)
        assert sum(path_values(e.paths)) == pytest.approx(float(tgrad[element]), rel=1e-12)
        for path in e.paths:
            step = next(f for f in path.factors if f.op is prod)
            assert step.form is not None
            named = re.fullmatch(rf"{partner.name}\[([0-9, ]+)\]", step.form.text)
            assert named, step.form.text
            index = tuple(int(i) for i in named.group(1).split(","))
            assert partner_value[index] == step.value
        str(e)
    mse = cr.mse(cr.Variable(rng.standard_normal((3, 4)), name="x"), cr.Variable(rng.standard_normal((1, 4)), name="t"))
    broadcast = mse.inputs[1]
    grad = cr.grad(mse, [broadcast])[0]
    assert chain(cr.explain(mse, broadcast, element=(0, 2))).value == pytest.approx(grad[0, 2], rel=1e-12)


@pytest.mark.parametrize(
    "reduce",
    [lambda x: cr.max(x, axis=(0,)), lambda x: cr.min(x, axis=(-1,)), lambda x: cr.norm(x, ord=-np.inf, axis=(0,))],
)
def test_a_reduction_of_a_0d_value_along_axis_0_explains(reduce):
    """0-d values take axis 0 and -1 (PyTorch's rule); their explanation did not (AxisError)."""
    x = cr.Variable(np.float64(-1.5), name="x")
    e = cr.explain(reduce(x), x)
    assert e.value == pytest.approx(float(cr.grad(reduce(x), [x])[0]))
    assert "x" in str(e)


def test_one_element_beyond_max_paths_is_grouped_and_still_adds_up():
    graph, n = mlp()
    e = graph.explain(n["W1"], element=(1, 1), max_paths=3)
    assert e.summarised and e.paths == () and e.n_paths == 8
    assert sum(g.count for g in e.groups) == 8
    assert sum(float(g.contribution) for g in e.groups) == pytest.approx(torch_grads(n)["W1"][1, 1], rel=1e-12)


def test_element_errors_name_the_node():
    graph, n = mlp()
    with pytest.raises(cr.errors.GradientError, match="not one element of"):
        graph.explain(n["W1"], element=(5, 0))


def test_cross_entropy_shows_its_1_over_n_and_the_numbers_include_it(capsys):
    cr.set_default_dtype("float64")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 3))
    x = cr.Variable(logits, name="x")
    t = cr.Constant(np.array([0, 2, 1]), name="t")
    graph = cr.Graph(cr.CrossEntropy(x, t, name="loss"))
    graph.forward()
    graph.backward(narrate=True)
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if "→ to x:" in line)
    assert "the local derivative (softmax(x) - onehot(t, 3)) / n gives a (3, 3) tensor" in line
    assert "n = 3: the number of examples loss averages over" in text
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = (softmax - np.eye(3)[[0, 2, 1]]) / 3
    assert describe_value(expected) in line


@pytest.mark.parametrize(
    "expr, at, rule, value",
    [
        ("maximum(x, y)", {"x": 1.0, "y": 1.0}, "[x > y] + 0.5 · [x == y]", 0.5),
        ("relu(x)", {"x": 0.0}, "[x > 0]", 0.0),
        ("abs(x)", {"x": 0.0}, "sign(x)", 0.0),
    ],
)
def test_ties_and_kinks_print_the_rule_that_was_applied(expr, at, rule, value):
    cr.set_default_dtype("float64")
    variables = {k: cr.Placeholder(name=k) for k in at}
    out = parse(expr, variables)
    graph = cr.Graph(out)
    graph.forward(at)
    e = graph.explain(variables["x"])
    assert e.paths[0].factors[0].local == rule and e.value == value
    text = str(e)
    assert ("a tie" in text) == expr.startswith("maximum")
    if not expr.startswith("maximum"):
        assert "x = 0 at 1 element, where" in text
        assert "the derivative used there is [0 > 0] = 0" in text or "the derivative used there is sign(0) = 0" in text
    torch_x = torch.tensor(at["x"], dtype=torch.float64, requires_grad=True)
    torch_out = {
        "maximum(x, y)": lambda: torch.maximum(torch_x, torch.tensor(at.get("y", 0.0), dtype=torch.float64)),
        "relu(x)": lambda: torch.relu(torch_x),
        "abs(x)": lambda: torch.abs(torch_x),
    }[expr]()
    torch_out.backward()
    assert torch_x.grad is not None
    assert e.value == torch_x.grad.item()


def test_nan_is_flagged_where_it_first_appears(capsys):
    cr.set_default_dtype("float64")
    x = cr.Placeholder(name="x")
    out = cr.Mul(cr.Log(x, name="log"), 2.0, name="f")
    graph = cr.Graph(out)
    with np.errstate(invalid="ignore"):
        graph.forward({x: -1.0}, narrate=True)
        graph.backward()
        e = graph.explain(x)
    text = capsys.readouterr().out
    assert "⚠ log = nan: Log 'log' made not a number (NaN) out of finite inputs (x = -1.0)" in text
    assert text.count("⚠") == 1  # f inherits the NaN: only its origin is flagged
    assert "⚠ log = nan" in str(
        e
    ) and "⚠ log = nan：输入都是有限数（x = -1.0），Log 节点 log 却得到了非数值（NaN）" in e.render("zh")


def test_tensors_print_leading_entries_and_their_range():
    values = np.arange(40 * 3, dtype=np.float64).reshape(40, 3) / 10
    text = describe_value(values)
    assert text == "a (40, 3) tensor [[0, 0.1, 0.2], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8], …] (min 0, max 11.9)"
    assert describe_value(np.array([1.5, -2.0])) == "a (2,) tensor [1.5, -2]"
    assert describe_value(values, "zh").startswith("形状为 (40, 3) 的张量 [[0, 0.1, 0.2]")


def test_a_2000_term_sum_is_explained_in_a_handful_of_lines():
    cr.set_default_dtype("float64")
    x = cr.Variable(0.5, name="x")
    total: cr.Node = x
    for _ in range(1999):
        total = total + x
    e = chain(cr.explain(total, x))
    text = str(e)
    assert e.n_paths == 2000 and len(text.splitlines()) < 15
    assert re.search(r"… and 1994 more steps into x \(1994 paths\), together 1994\.0", text)
    assert text.count("via ∂") == 6  # the six biggest groups, then one line for the rest
    assert e.value == 2000.0


def test_plurals_in_both_languages():
    cr.set_default_dtype("float64")
    x = cr.Variable(2.0, name="x")
    one = str(cr.explain(cr.Sin(x, name="s"), x))
    assert "1 path from s down to x" in one and "1 paths" not in one
    two = cr.explain(cr.Mul(x, x, name="m"), x)
    assert "2 paths from m down to x" in str(two) and "共有 2 条路径" in two.render("zh")


def test_model_parameters_have_qualified_names_in_graphs_and_explanations():
    cr.set_default_dtype("float64")
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 1))
    assert [p.name for p in model.parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    X = cr.Constant(np.random.default_rng(0).normal(size=(5, 3)), name="X")
    loss = cr.mse(cr.Constant(np.zeros((5, 1)), name="Y"), model(X))
    dot = cr.Graph(loss).to_dot()
    assert "0.weight" in dot and "2.bias" in dot and 'label="weight' not in dot
    e = cr.explain(loss, model[0].weight)
    assert "∂0.weight" in str(e) or "∂loss/∂0.weight" in str(e)

    class Net(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = cr.nn.Linear(3, 4), cr.nn.Linear(4, 1)

    assert [p.name for p in Net().parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    wrapped = cr.nn.Sequential({"net": Net()})
    assert wrapped.parameters()[0].name == "net.fc1.weight"


def test_one_element_through_softmax_reshape_and_dead_relu_units_matches_pytorch():
    cr.set_default_dtype("float64")
    rng = np.random.default_rng(5)
    x_value, w_value, c_value = rng.normal(size=(4, 2)), rng.normal(size=(2, 3)), rng.normal(size=12)
    W = cr.Variable(w_value, name="W")
    z = cr.ReLU(cr.Constant(x_value, name="x") @ W, name="z")
    loss = cr.mean(cr.reshape(cr.Softmax(z, name="s"), (12,)) * cr.Constant(c_value, name="c"))
    tw = torch.tensor(w_value, requires_grad=True)
    s = torch.softmax(torch.relu(torch.tensor(x_value) @ tw), dim=-1)
    (s.reshape(12) * torch.tensor(c_value)).mean().backward()
    dead = (x_value @ w_value)[:, 2] <= 0
    assert dead.any() and not dead.all()  # some rows' unit is dead, some alive
    e = chain(cr.explain(loss, W, element=(1, 2), max_paths=1000))
    assert e.value == pytest.approx(known(tw.grad)[1, 2].item(), rel=1e-12, abs=1e-15)
    assert sum(path_values(e.paths)) == pytest.approx(e.value, rel=1e-12, abs=1e-15)
    relu_factors = [f for p in e.paths for f in p.factors if f.op is z]
    assert {known(f.out_index)[0] for f in relu_factors if f.value == 0.0} == set(np.flatnonzero(dead))
