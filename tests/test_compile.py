"""Compiled graphs give the uncompiled graph's numbers exactly: every op of the oracle tables
(values and gradients, float64 and float32), the lesson, random graphs with fan-out and
broadcasting; a new shape writes a new program; a learner's node falls back, said once;
errors name the node and change nothing; fit(compile=True) trains to the same parameters."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import warn_user

from lesson_helpers import LESSON_BACKWARD, LESSON_FORWARD, build_lesson
from oracle import Fixed, Value, case_tables, random_input
from test_properties import BINARY, LEAF_SHAPES, OPS, UNARY

CASES = case_tables(leave_out=Path(__file__).stem)  # every oracle table, conv, pool and nn included


def same(a, b):
    """Bit for bit: the same shape, dtype and numbers (NaN where NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def _inputs(case, dtype, rng):
    """Placeholders fed with the case's random inputs (Constants for its fixed ones)."""
    nodes: list[cr.Node] = []
    arrays: list[np.ndarray] = []
    for k, a in enumerate(case.args):
        if isinstance(a, Fixed):
            arr = np.asarray(a.value)
            nodes.append(cr.Constant(arr.astype(dtype) if arr.dtype.kind == "f" else arr, name=f"in{k}"))
            continue
        arr = (
            np.asarray(a.value, dtype=dtype)
            if isinstance(a, Value)
            else random_input(rng, a, dtype, case.low, case.high)
        )
        p = cr.Placeholder(name=f"in{k}")
        p.feed(arr)
        nodes.append(p)
        arrays.append(arr)
    return nodes, arrays


def _check_against_graph(graph, feeds, arrays, u):
    """The compiled graph's value and every fed input's gradient equal the Graph's exactly."""
    want = graph.forward(dict(zip(feeds, arrays)))
    if u is not None:
        graph.backward(u)
    grads = [n.grad for n in feeds]
    fast = graph.compile()
    assert same(fast.forward(dict(zip(feeds, arrays))), want)
    if u is not None:
        for n in feeds:
            n.grad = "stale"
        fast.backward(u)
        for n, g in zip(feeds, grads):
            assert (g is None and n.grad is None) or same(n.grad, g), n.name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_every_oracle_op_compiles_to_the_same_numbers(case, dtype):
    rng = np.random.default_rng(0)
    nodes, arrays = _inputs(case, dtype, rng)
    out = case.cr_fn(*nodes)
    value = np.asarray(out.value)
    u = rng.standard_normal(value.shape).astype(value.dtype) if out.requires_grad else None
    _check_against_graph(cr.Graph(out), [n for n in nodes if isinstance(n, cr.Placeholder)], arrays, u)


def test_the_lessons_compiled_program_runs_every_op_inline():
    """The lesson's Linear, Sigmoid and MSE are copied into the program, not called: an op
    whose forward calls a helper that returns nothing (MSE's broadcast warning) was called
    instead, and the lesson's compiled step took 1.6× as long."""
    graph, n = build_lesson()
    fast = graph.compile()
    fast.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    fast.backward()
    assert not re.search(r"_f_\d+\(", fast.source), fast.source


class _Warned(cr.Op):
    """An op whose forward calls one of chainrule's helpers for its effect alone."""

    def forward(self, x):
        if np.add.reduce(x, axis=None) > 1e30:  # (a test on values: the program keeps it)
            warn_user("huge")
        return x * 2.0

    def vjp(self, g, out, x):
        return (g * 2.0,)


def test_a_helper_called_for_its_effect_is_copied_in_too():
    x = cr.Placeholder(name="x")
    graph = cr.Graph(cr.sum(_Warned(x) ** 2))
    fast = graph.compile()
    value = np.arange(3.0)
    assert fast.forward({x: value}) == graph.forward({x: value})
    assert not re.search(r"_f_\d+\(", fast.source) and "huge" in fast.source
    with pytest.warns(UserWarning, match="huge"):
        fast.forward({x: np.full(3, 1e31)})


def test_the_lesson_compiled_prints_the_lessons_digits():
    graph, n = build_lesson()
    fast = graph.compile()
    assert str(fast.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})) == LESSON_FORWARD[-1]
    fast.backward()
    assert str(n["k"].grad) == LESSON_BACKWARD[3] and str(n["x"].grad) == LESSON_BACKWARD[4]
    assert str(n["b"].grad) == LESSON_BACKWARD[2]
    assert "def forward" in fast.source and "def backward" in fast.source


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_graphs_with_fan_out_and_broadcasting_compile_exactly(data):
    """test_properties' random graphs: every earlier node may be an operand again."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    shapes = [data.draw(st.sampled_from(LEAF_SHAPES), label=f"shape{i}") for i in range(data.draw(st.integers(1, 3)))]
    leaves = [cr.Placeholder(name=f"leaf{i}") for i in range(len(shapes))]
    arrays = [rng.standard_normal(s) for s in shapes]
    for leaf, a in zip(leaves, arrays):
        leaf.feed(a)
    pool = list(leaves)
    try:
        for step in range(data.draw(st.integers(1, 20), label="ops")):
            name = data.draw(st.sampled_from(OPS), label=f"op{step}")
            fn = UNARY[name][0] if name in UNARY else BINARY[name][0]
            picks = [data.draw(st.integers(0, len(pool) - 1)) for _ in range(1 if name in UNARY else 2)]
            pool.append(fn(*[pool[i] for i in picks]))
        loss = sum(cr.sum(node * ((i % 5) / 5 - 0.4)) for i, node in enumerate(pool))
    except FloatingPointError:
        reject()
    if any(np.max(np.abs(node.value), initial=0) > 1e6 for node in pool):
        reject()
    _check_against_graph(cr.Graph(loss), leaves, arrays, None if not loss.requires_grad else np.float64(0.7))


def test_fan_out_accumulates_in_the_engines_order():
    x, w = cr.Placeholder(name="x"), cr.Variable(np.linspace(-1, 1, 12).reshape(3, 4), name="w")
    x.feed(np.ones((3, 1)))
    a = x * w  # broadcast (3, 1) x (3, 4)
    b = a * a + a * 2.0 + cr.tanh(a)  # a used four times
    loss = cr.sum(b * a) + cr.sum(a, axis=0).sum()
    _check_against_graph(cr.Graph(loss), [x], [np.array([[0.5], [-1.0], [2.0]])], np.float64(1.0))
    graph = cr.Graph(loss)
    graph.forward({x: np.array([[0.5], [-1.0], [2.0]])})
    graph.backward()
    want = w.grad.copy()
    fast = graph.compile()
    fast.forward({x: np.array([[0.5], [-1.0], [2.0]])})
    fast.backward()
    assert same(w.grad, want)


@pytest.mark.parametrize(
    "x_shape, b_shape, b_dtype, x_dtype",
    [
        ((5000, 3), (3,), np.float32, np.float32),  # summed over 5,000 rows: the pairwise fold
        ((4, 6, 3), (6, 1), np.float32, np.float32),  # summed over a leading and a stretched axis, kept dims
        ((7, 3), (1, 3), np.float32, np.float32),  # the stretched axis kept as 1
        ((7, 3), (3,), np.float32, np.float64),  # a float32 bias against float64 data: a cast back
        ((2, 3), (2, 3), np.float32, np.float32),  # nothing to fit
    ],
)
def test_broadcast_gradients_fitted_for_the_programs_shapes_are_the_engines(x_shape, b_shape, b_dtype, x_dtype):
    """A compiled program decides how to sum each broadcast gradient once, for its shapes;
    the numbers are the engine's, bit for bit, and the gradient has the input's dtype."""
    rng = np.random.default_rng(1)
    x = cr.Placeholder(name="x")
    b = cr.Variable(rng.standard_normal(b_shape).astype(b_dtype), name="b")
    arrays = [rng.standard_normal(x_shape).astype(x_dtype)]
    x.feed(arrays[0])
    out = cr.tanh(x * 1.5 + b)
    u = rng.standard_normal(np.shape(out.value)).astype(out.value.dtype)
    graph = cr.Graph(out)
    graph.forward({x: arrays[0]})
    graph.backward(u)
    want = b.grad.copy()
    _check_against_graph(cr.Graph(out), [x], arrays, u)
    fast = cr.Graph(out).compile()
    fast.forward({x: arrays[0]})
    fast.backward(u)
    assert same(b.grad, want) and b.grad.dtype == b_dtype


def test_a_new_shape_writes_a_new_program_and_old_ones_are_kept():
    cr.set_default_dtype("float64")
    x, w = cr.Placeholder(name="x"), cr.Variable(np.ones((3, 2)) / 3, name="w")
    graph = cr.Graph(cr.mean(cr.tanh(x @ w)))
    fast = graph.compile()
    for n in (4, 7, 4):
        data = np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 10
        got = fast.forward({x: data})
        fast.backward()
        g = w.grad.copy()
        assert same(got, graph.forward({x: data}))
        graph.backward()
        assert same(g, w.grad)
    assert fast.programs == 2
    fast.forward({"x": np.ones((2, 3), dtype=np.float32)})  # by name, and a new dtype
    assert fast.programs == 3


def test_only_the_gradients_asked_for_are_computed():
    graph, n = build_lesson()
    fast = graph.compile(wrt=[n["k"]])
    n["b"].grad = n["x"].grad = "untouched"
    fast.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    fast.backward()
    assert str(n["k"].grad) == LESSON_BACKWARD[3]
    assert n["b"].grad == "untouched" and n["x"].grad == "untouched"
    full = graph.compile()
    full.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    assert fast.source.count("\n") < full.source.count("\n")  # fewer lines: b's and x's terms are gone


def test_constant_subgraphs_are_computed_once():
    x = cr.Placeholder(name="x")
    x.feed(np.ones(3))
    out = cr.sum(x * cr.exp(cr.Constant(np.array([1.0, 2.0, 3.0])) / 2.0))
    fast = cr.Graph(out).compile()
    fast.forward({x: np.ones(3)})
    assert "exp" not in fast.source and "2.0" not in fast.source  # exp(c) / 2.0 is one constant now


class Doubler(cr.Node):
    """A learner's node, the lesson's way: forward sets self.value, backward fills gradients."""

    def forward(self):
        self.value = 2.0 * self.inputs[0].value

    def backward(self):
        self.gradients[self.inputs[0]] = 2.0 * self.outputs[0].gradients[self]


def test_a_learners_node_runs_as_written_and_says_so_once():
    cr.set_default_dtype("float64")
    x, w = cr.Placeholder(name="x"), cr.Variable(np.array([0.5, -1.0]), name="w")
    x.feed(np.array([1.0, 2.0]))
    loss = cr.sum(cr.tanh(Doubler([x * w])))
    graph = cr.Graph(loss)
    graph.forward({x: np.array([1.0, 2.0])})
    graph.backward()
    want = w.grad.copy()
    fast = graph.compile()
    with pytest.warns(UserWarning, match="lesson's way") as seen:
        fast.forward({x: np.array([1.0, 2.0])})
        fast.forward({x: np.array([[1.0, 2.0]])[0]})
    assert len(seen) == 1
    fast.backward()
    assert same(w.grad, want)


def test_errors_name_the_node_and_a_failed_run_changes_nothing():
    logits, labels = cr.Placeholder(name="logits"), cr.Placeholder(name="labels", requires_grad=False)
    w = cr.Variable(np.eye(3, dtype=np.float32), name="w")
    logits.feed(np.ones((2, 3), np.float32))
    labels.feed(np.array([0, 2]))
    loss = cr.CrossEntropy(logits @ w, labels, name="ce")
    fast = cr.Graph(loss).compile()
    good = fast.forward({logits: np.ones((2, 3), np.float32), labels: np.array([0, 2])})
    fast.backward()
    grad = w.grad.copy()
    with pytest.raises(cr.errors.OptionError, match="'ce'"):
        fast.forward({logits: np.ones((2, 3), np.float32), labels: np.array([0, 5])})
    with pytest.raises(cr.errors.ShapeError, match="matmul"):
        fast.forward({logits: np.ones((2, 4), np.float32), labels: np.array([0, 2])})
    assert loss.value == good and same(w.grad, grad) and same(labels.value, np.array([0, 2]))


def test_backward_needs_its_forward_and_retain_graph_keeps_it():
    graph, n = build_lesson()
    fast = graph.compile()
    with pytest.raises(cr.errors.GradientError, match="forward first"):
        fast.backward()
    fast.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    fast.backward(retain_graph=True)
    fast.backward()
    with pytest.raises(cr.errors.GradientError, match="forward first"):
        fast.backward()


def test_explain_and_drawing_work_from_a_compiled_graph():
    graph, n = build_lesson()
    fast = graph.compile()
    fast.forward({n["x"]: 3.0, n["y"]: 0.6087876106387002})
    fast.backward()
    text = str(fast.explain(n["k"]))
    assert LESSON_BACKWARD[3] in text
    assert "digraph" in fast.to_dot()


def test_a_compiled_function_is_a_node_that_backpropagates_like_the_function():
    cr.nn.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 3))
    X, y = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32), np.array([0, 1, 2, 1, 0])
    loss = cr.cross_entropy(model(X), y)
    loss.backward()
    want = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    fast = model.compile()
    out = fast(X)
    assert isinstance(out, cr.Node) and same(out.value, model(X).value)
    fast_loss = cr.cross_entropy(out, y)
    fast_loss.backward()
    assert same(fast_loss.value, loss.value)
    assert all(same(p.grad, g) for p, g in zip(model.parameters(), want))
    with pytest.raises(cr.errors.GradientError, match="retain_graph=True"):
        fast_loss.backward()  # the compiled call's saved arrays went with the first backward
    fast(X[:2])
    assert len(fast.function._traces) == 2  # one program per batch shape
    with pytest.raises(cr.errors.GradientError, match="twice"):
        cr.grad(cr.sum(fast(X)), model.parameters()[0], create_graph=True)


def test_a_training_dropout_model_runs_uncompiled_and_says_so():
    model = cr.nn.MLP([4, 8, 3], dropout=0.5)
    fast = model.compile()
    with pytest.warns(UserWarning, match="Dropout"):
        fast(np.ones((2, 4), np.float32))
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same(fast(np.ones((2, 4), np.float32)).value, model(np.ones((2, 4), np.float32)).value)


def test_cr_compile_takes_a_function_a_graph_or_an_output():
    w = cr.Variable(np.array([1.0, -2.0]), name="w")
    f = cr.compile(lambda x: cr.sum(cr.sigmoid(x * w)))
    assert same(f(np.array([0.5, 0.25])).value, cr.sum(cr.sigmoid(np.array([0.5, 0.25]) * w)).value)
    assert isinstance(cr.compile(f(np.ones(2))), cr.CompiledGraph)
    with pytest.raises(TypeError, match="Graph"):
        cr.compile(42)


def _fit_parameters(compile):
    cr.nn.manual_seed(0)
    train, test = cr.datasets.load("digits")
    model = cr.nn.Sequential(cr.nn.Linear(64, 32), cr.nn.ReLU(), cr.nn.Linear(32, 10))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    history = cr.fit(
        model, cr.cross_entropy, opt, train, epochs=3, batch_size=100, val_data=test, progress=False, compile=compile
    )
    return [p.value for p in model.parameters()], history


def test_fit_compiled_trains_to_exactly_the_same_parameters():
    eager, h1 = _fit_parameters(False)
    compiled, h2 = _fit_parameters(True)  # 1437 examples: batches of 100 and a last one of 37
    assert all(same(a, b) for a, b in zip(eager, compiled))
    assert h1.to_dict() == h2.to_dict()
