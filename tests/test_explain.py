"""explain: every chain-rule path, symbols and numbers, checked against hand math and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import GradientError
from chainrule.see.explain import Explanation
from chainrule.see.phrases import LANGS
from narrow import chain, known, path_values

from lesson_helpers import X, Y, build_lesson, has_number, lesson_math, line_with, numbers_in


@pytest.fixture
def lesson():
    return build_lesson()


def fan_out(value: float = 1.7):
    """y = x*x + x: three paths from y to x (two through the product, one direct)."""
    cr.set_default_dtype("float64")
    x = cr.Variable(value, name="x")
    mul = cr.Mul(x, x, name="mul")
    return cr.Add(mul, x, name="y"), mul, x


def central_difference(f, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("lang", LANGS)
def test_lesson_explain_k_shows_the_chain_rule_with_the_lessons_numbers(lesson, lang):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    e = graph.explain(n["k"], lang=lang)
    expected = lesson_math()
    assert e.n_paths == 1 and len(e.paths) == 1
    factors = e.paths[0].factors
    assert [f.symbol for f in factors] == ["∂loss/∂sigmoid", "∂sigmoid/∂linear", "∂linear/∂k"]
    assert [f.local for f in factors] == ["-2 · (y - sigmoid) / n", "sigmoid · (1 - sigmoid)", "x"]
    for f, want in zip(factors, (expected["d_sigmoid"], expected["local_sigmoid"], X), strict=True):
        assert math.isclose(f.value, want, rel_tol=1e-13)
    assert math.isclose(e.value, expected["d_k"], rel_tol=1e-13)
    text = str(e)
    # the three rows: symbols, symbolic forms, numbers = product
    assert "∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k" in text
    assert "(-2 · (y - sigmoid) / n) · (sigmoid · (1 - sigmoid)) · x" in text
    assert ("n = 1: the number of elements loss averages over" in text) == (lang == "en")
    numeric = line_with(text, "0.402796525409167 · ")
    values = numbers_in(numeric)
    assert [
        math.isclose(v, w, rel_tol=1e-13)
        for v, w in zip(values, (expected["d_sigmoid"], expected["local_sigmoid"], X), strict=True)
    ] == [True] * 3
    assert numeric.split(" · ")[1].startswith("0.15378")
    assert "= 0.18583185743835806" in text and "∂loss/∂k = 0.18583185743835806" in text
    assert ("路径 1" in text) == (lang == "zh")


def test_lesson_explain_b_and_x(lesson):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    expected = lesson_math()
    e_b, e_x = graph.explain(n["b"]), graph.explain(n["x"])
    assert [f.local for f in e_b.paths[0].factors][-1] == "1"
    assert [f.local for f in e_x.paths[0].factors][-1] == "k"
    assert "∂loss/∂b = 0.06194395247945269" in str(e_b)
    assert has_number(numbers_in(str(e_x)), expected["d_x"])


def test_cr_explain_needs_no_graph_and_leaves_grads_alone(lesson):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    graph.zero_grad()
    e = cr.explain(graph.output, n["k"])
    assert isinstance(e, Explanation) and str(e) == str(graph.explain(n["k"]))
    assert all(node.grad is None for node in graph.order)


def test_fan_out_lists_every_path_and_their_sum_is_the_derivative():
    y, _, x = fan_out(1.7)
    e = chain(cr.explain(y, x))
    assert e.n_paths == 3
    edges = [[(f.op.name, f.index) for f in p.factors] for p in e.paths]
    assert edges == [[("y", 0), ("mul", 0)], [("y", 0), ("mul", 1)], [("y", 1)]]
    assert [f.symbol for f in e.paths[0].factors] == ["∂y/∂mul", "∂mul/∂x₁"]
    assert path_values(e.paths) == pytest.approx([1.7, 1.7, 1.0], rel=1e-14)
    fd = central_difference(lambda v: v * v + v, 1.7)
    assert sum(path_values(e.paths)) == pytest.approx(fd, rel=1e-8)
    assert e.value == pytest.approx(fd, rel=1e-8)
    text = str(e)
    assert "3 paths from y down to x" in text
    assert has_number(numbers_in(line_with(text, "sum of the 3 paths")), 2 * 1.7 + 1)


def test_many_paths_are_counted_and_summarised_not_listed():
    cr.set_default_dtype("float64")
    x = cr.Variable(0.5, name="x")
    h: cr.Node = x
    for _ in range(10):  # h = h + h ten times: 2**10 paths, derivative 2**10
        h = h + h
    e = chain(cr.explain(h, x))
    assert e.summarised and e.paths == () and e.n_paths == 1024
    assert sum(g.count for g in e.groups) == 1024
    assert sum(float(known(g.contribution)) for g in e.groups) == pytest.approx(1024.0)
    assert e.value == 1024.0
    assert "1024 paths" in str(e) and "max_paths=64" in str(e)
    listed = chain(cr.explain(h, x, max_paths=2000))
    assert len(listed.paths) == 1024 and sum(path_values(listed.paths)) == 1024.0


def test_a_path_deeper_than_the_recursion_limit():
    cr.set_default_dtype("float64")
    x = cr.Variable(1.0, name="x")
    h: cr.Node = x
    for _ in range(3000):
        h = h * 1.0001
    e = chain(cr.explain(h, x))
    assert e.n_paths == 1 and len(e.paths[0].factors) == 3000
    assert e.value == pytest.approx(1.0001**3000, rel=1e-9)


def test_tensor_factors_are_vjp_steps_and_paths_sum_to_the_gradient():
    rng = np.random.default_rng(1)
    cr.set_default_dtype("float64")
    X_ = cr.Constant(rng.normal(size=(4, 3)), name="X")
    W = cr.Variable(rng.normal(size=(3, 2)), name="W")
    s = cr.Sigmoid(cr.MatMul(X_, W, name="xw"), name="s")
    loss = cr.Mean(cr.Mul(s, s, name="sq"), name="loss")
    e = chain(cr.explain(loss, W))
    assert e.n_paths == 2
    for path in e.paths:
        assert [f.value for f in path.factors] == [None] * 4
        assert [(f.out_shape, f.in_shape) for f in path.factors][-1] == ((4, 2), (3, 2))
        assert known(path.contribution).shape == (3, 2)
    total = sum(known(p.contribution) for p in e.paths)
    np.testing.assert_allclose(total, cr.grad(loss, W), rtol=1e-12)
    np.testing.assert_allclose(known(e.gradient), total, rtol=1e-12)
    text = str(e)
    assert "→ W (3, 2)   Xᵀ @ g" in text and "∂loss/∂W = a (3, 2) tensor" in text
    # each path as one formula, starting from the mean's 1/n (n = 8 elements)
    assert {known(p.formula).text for p in e.paths} == {"Xᵀ @ ((1 / n · s) ⊙ s ⊙ (1 - s))"}
    assert "n = 8: the number of elements loss averages over" in text


def test_unreachable_self_and_bad_targets():
    y, _, x = fan_out()
    z = cr.Variable(1.0, name="z")
    e = chain(cr.explain(y, z))
    assert e.n_paths == 0 and e.value == 0.0 and "y does not depend on z" in str(e)
    assert chain(cr.explain(y, y)).n_paths == 1 and cr.explain(y, y).value == 1.0
    with pytest.raises(GradientError, match="does not require grad"):
        cr.explain(y, cr.Constant(2.0, name="c"))
    with pytest.raises(GradientError, match="not one element"):
        cr.explain(y, x, element=(0,))


@st.composite
def random_graphs(draw):
    """A random graph over two variables where every node may be reused (fan-out)."""
    a, b = draw(st.floats(-1.5, 1.5)), draw(st.floats(-1.5, 1.5))
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(["add", "mul", "sub", "tanh", "sin"]), st.integers(0, 100), st.integers(0, 100)),
            min_size=1,
            max_size=7,
        )
    )
    return a, b, steps


OPS = {
    "add": lambda u, v: u + v,
    "mul": lambda u, v: u * v,
    "sub": lambda u, v: u - v,
    "tanh": lambda u, v: cr.tanh(u),
    "sin": lambda u, v: cr.sin(u),
}


def build(a: float, b: float, steps) -> tuple:
    x, w = cr.Variable(a, name="x"), cr.Variable(b, name="w")
    pool = [x, w]
    for op, i, j in steps:
        pool.append(OPS[op](pool[i % len(pool)], pool[j % len(pool)]))
    return pool[-1], x


@settings(max_examples=40, deadline=None, derandomize=True)
@given(random_graphs())
def test_paths_always_sum_to_the_gradient_and_match_finite_differences(graph):
    cr.set_default_dtype("float64")
    a, b, steps = graph
    out, x = build(a, b, steps)
    if not out.requires_grad or out is x:
        return
    e = chain(cr.explain(out, x, max_paths=10_000))
    assert len(e.paths) == e.n_paths
    gradient = float(known(e.gradient))
    assert sum(path_values(e.paths), 0.0) == pytest.approx(gradient, rel=1e-9, abs=1e-12)
    fd = central_difference(lambda v: float(build(v, b, steps)[0].value), a)
    assert gradient == pytest.approx(fd, rel=1e-5, abs=1e-6)
