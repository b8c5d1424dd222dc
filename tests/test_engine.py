"""The engine's graph semantics, each checked against plain math or PyTorch:
fan-out and diamonds (gradients summed over consumers), shared variables,
accumulation across backward() like PyTorch, Graph.backward() zeroing first,
no_grad (thread-local), detach, operators mixing numbers and arrays on either
side, comparisons, repr, and scale: 100,000-op chains and flat memory."""

import gc
import math
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.fixture(autouse=True)
def _float64():
    cr.set_default_dtype("float64")


def test_fan_out_sums_both_uses():
    """b = a + a; c = b·b = 4a² → dc/da = 8a; the lesson's outputs[0] shortcut would give 4a."""
    a = cr.Variable(2.0, name="a")
    b = a + a
    c = b * b
    c.backward()
    assert a.grad == pytest.approx(16.0)
    graph = cr.Graph(c)
    graph.backward()
    assert (a.grad, b.grad, c.grad) == (pytest.approx(16.0), pytest.approx(8.0), pytest.approx(1.0))


def test_diamond():
    """w = sin(x)·x² → dw/dx = cos(x)·x² + 2x·sin(x)."""
    x = cr.Variable(np.array([0.3, -1.2, 2.0]))
    w = cr.sin(x) * x**2
    w.sum().backward()
    xv = x.value
    np.testing.assert_allclose(x.grad, np.cos(xv) * xv**2 + 2 * xv * np.sin(xv), rtol=1e-14)


def test_deep_diamond_against_torch():
    """A node consumed by three consumers that meet again, with broadcasting."""

    def f(lib, x, w):
        h = lib.tanh(x @ w)
        a, b, c = h * 2.0, lib.exp(-h), h.sum(1, keepdims=True) if lib is np else h.sum(1, keepdim=True)
        return ((a + b) * c - h).sum()

    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    x, w = cr.Variable(xv), cr.Variable(wv)
    h = cr.tanh(x @ w)
    out = ((h * 2.0 + cr.exp(-h)) * h.sum(axis=1, keepdims=True) - h).sum()
    out.backward()
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    f(torch, tx, tw).backward()
    assert tx.grad is not None and tw.grad is not None
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)


def test_variable_used_by_two_losses():
    """loss1 = Σ w·x, loss2 = Σ (w - y)²: each backward adds its part, and so does their sum."""
    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, 0.5])
    w = cr.Variable(np.array([0.1, 0.2, 0.3]))
    loss1, loss2 = (w * x).sum(), ((w - y) ** 2).sum()
    expected = x + 2 * (w.value - y)
    loss1.backward(retain_graph=True)  # their sum is differentiated again below
    np.testing.assert_allclose(w.grad, x)
    loss2.backward(retain_graph=True)
    np.testing.assert_allclose(w.grad, expected)
    w.zero_grad()
    (loss1 + loss2).backward()
    np.testing.assert_allclose(w.grad, expected)
    assert cr.grad([loss1, loss2], w) == pytest.approx(expected)


def test_leaf_grads_accumulate_like_torch_but_graph_backward_zeroes():
    w = cr.Variable(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)  # a second backward needs the graph's values, as in PyTorch
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * 2 * w.value)  # two calls: twice 2w
    graph = cr.Graph(loss)
    graph.backward()
    graph.backward()
    np.testing.assert_allclose(w.grad, 2 * w.value)  # one run = one step


def test_eager_backward_keeps_leaf_grads_only_unless_retained():
    w = cr.Variable(np.array([1.0, 2.0]))
    h = w * 3.0
    loss = h.sum()
    loss.backward()
    assert [n.grad is None for n in (h, w)] == [True, False]  # h's gradient is not kept
    w.zero_grad()
    loss.backward(retain_grads=True)
    np.testing.assert_allclose(h.grad, [1.0, 1.0])
    np.testing.assert_allclose(w.grad, [3.0, 3.0])


def test_graph_backward_fills_every_node_with_its_own_shape():
    x = cr.Placeholder(name="x")
    w = cr.Variable(np.ones((1, 3)), name="w")
    h = x * w  # (4, 1) * (1, 3) -> (4, 3)
    loss = cr.sum(h)
    graph = cr.Graph(loss)
    graph.forward({x: np.arange(4.0).reshape(4, 1)})
    graph.backward()
    assert x.grad.shape == (4, 1) and w.grad.shape == (1, 3) and h.grad.shape == (4, 3)
    np.testing.assert_allclose(w.grad, [[6.0, 6.0, 6.0]])
    np.testing.assert_allclose(x.grad, np.full((4, 1), 3.0))


def test_graph_reruns_with_new_feeds():
    x = cr.Placeholder(name="x")
    k = cr.Variable(2.0, name="k")
    y = cr.exp(k * x)
    graph = cr.Graph(y)
    for xv in (0.5, -1.0, 1.5):
        assert graph.forward({x: xv}) == pytest.approx(math.exp(2.0 * xv))
        graph.backward()
        assert k.grad == pytest.approx(xv * math.exp(2.0 * xv))
    assert graph.forward({"x": 0.0}) == pytest.approx(1.0)  # placeholders by name, too
    assert graph.placeholders == [x] and graph.variables == [k]


def test_topological_sort_puts_inputs_first():
    x, k = cr.Placeholder(name="x"), cr.Variable(1.0, name="k")
    a = cr.Linear(x, k, k, name="lin")
    out = cr.Sigmoid(a) * a
    order = cr.topological_sort(out)
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(order) == len(pos) == 5
    assert all(pos[id(i)] < pos[id(n)] for n in order for i in n.inputs)


def test_topological_sort_of_hand_wired_nodes_built_out_of_order():
    """A consumer built before its input (inputs rewired by hand): still inputs first."""
    x = cr.Variable(2.0, name="x")
    late = cr.Sigmoid(x, name="late")
    early = cr.Tanh(x, name="early")  # built before `late2`, then rewired to consume it
    late2 = cr.Exp(late, name="late2")
    early.inputs = (late2,)
    order = cr.topological_sort(early)
    assert [n.name for n in order] == ["x", "late", "late2", "early"]
    graph = cr.Graph(early)
    graph.forward()
    graph.backward()
    s = 1 / (1 + math.exp(-2.0))
    t = math.tanh(math.exp(s))
    assert x.grad == pytest.approx((1 - t * t) * math.exp(s) * s * (1 - s))


def test_no_grad_is_thread_local():
    w = cr.Variable(np.ones(2))
    inside, release = threading.Event(), threading.Event()
    built = {}

    def other():
        with cr.no_grad():
            built["other"] = w * 2.0
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    built["main"] = w * 2.0  # the other thread is inside no_grad right now
    release.set()
    t.join()
    assert not built["other"].requires_grad and built["main"].requires_grad
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        z = cr.exp(w)
    assert cr.is_grad_enabled() and not z.requires_grad
    np.testing.assert_allclose(z.value, np.e)
    with pytest.raises(cr.errors.GradientError):
        z.sum().backward()


def test_detach_stops_the_gradient():
    """y = x²; z = detach(y)·x → dz/dx = y (the detached factor counts as a constant)."""
    x = cr.Variable(np.array([1.5, -2.0]))
    y = x * x
    d = y.detach()
    assert isinstance(d, cr.Constant) and not d.requires_grad
    np.testing.assert_array_equal(d.value, y.value)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad, x.value**2)


OPERATOR_CASES: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "2*x": (lambda x: 2 * x, 2.0),
    "x*2": (lambda x: x * 2, 2.0),
    "1-x": (lambda x: 1 - x, -1.0),
    "x-1": (lambda x: x - 1, 1.0),
    "3+x": (lambda x: 3 + x, 1.0),
    "2/x": (lambda x: 2 / x, lambda v: -2 / v**2),
    "x/2": (lambda x: x / 2, 0.5),
    "2**x": (lambda x: 2**x, lambda v: math.log(2) * 2**v),
    "x**2": (lambda x: x**2, lambda v: 2 * v),
    "array+x": (lambda x: np.array([1.0, 2.0]) + x, 1.0),
    "array*x": (lambda x: np.array([1.0, 2.0]) * x, np.array([1.0, 2.0])),
    "array-x": (lambda x: np.array([1.0, 2.0]) - x, -1.0),
    "array/x": (lambda x: np.array([1.0, 2.0]) / x, lambda v: -np.array([1.0, 2.0]) / v**2),
    "-x": (lambda x: -x, -1.0),
    "abs(x)": (lambda x: abs(x), lambda v: np.sign(v)),
}


@pytest.mark.parametrize("name", OPERATOR_CASES)
def test_operators_mix_numbers_and_arrays_on_either_side(name):
    fn, deriv = OPERATOR_CASES[name]
    xv = np.array([0.7, -1.3])
    x = cr.Variable(xv)
    y = fn(x)
    assert isinstance(y, cr.Node)
    y.sum().backward()
    want = deriv(xv) if callable(deriv) else deriv
    np.testing.assert_allclose(x.grad, np.broadcast_to(want, xv.shape), rtol=1e-14)


def test_ndarray_matmul_node_on_either_side():
    a, bv = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4) / 10
    b = cr.Variable(bv)
    left, right = a @ b, cr.Variable(a) @ bv
    assert isinstance(left, cr.Node) and isinstance(right, cr.Node)
    np.testing.assert_allclose(left.value, a @ bv)
    u = np.random.default_rng(0).standard_normal((2, 4))
    (left * u).sum().backward()
    np.testing.assert_allclose(b.grad, a.T @ u)


def test_comparisons_are_nodes_without_gradient():
    x = cr.Variable(np.array([-1.0, 0.0, 2.0]))
    for result, want in [
        (x > 0, [False, False, True]),
        (x <= 0, [True, True, False]),
        (x == 0.0, [False, True, False]),
        (x != 0.0, [True, False, True]),
        (0 < x, [False, False, True]),
        (x >= x, [True, True, True]),
    ]:
        assert isinstance(result, cr.Node) and not result.requires_grad and result.dtype == bool
        np.testing.assert_array_equal(result.value, want)
    y = cr.where(x > 0, x * 3.0, -x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, -1.0, 3.0])


def test_repr_is_the_lessons_then_the_value():
    """Before a value exists, the lesson's ``Type: name``; then the value summarised as NumPy
    does, its dtype, and the gradient's state (issue 12)."""
    assert repr(cr.Placeholder(name="y")) == "Placeholder: y"
    assert (
        repr(cr.Linear(cr.Placeholder(name="x"), cr.Variable(1.0), cr.Variable(0.0), name="linear")) == "Linear: linear"
    )
    assert repr(cr.Variable(np.float32(1.5), name="k")) == "Variable: k = 1.5 (float32, requires_grad=True, grad=None)"
    assert repr(cr.tensor(np.ones(3), name="c")) == "Constant: c = [1., 1., 1.] (float64)"
    k = cr.Variable(np.arange(100.0), name="k")
    (k * 2.0).sum().backward()
    assert repr(k) == (
        "Variable: k = [ 0., 1., 2., ..., 97., 98., 99.] "
        "(float64, requires_grad=True, grad=[2., 2., 2., ..., 2., 2., 2.])"
    )
    assert str(cr.Variable(2.0, name="b")) == "Variable: b = 2.0"


def test_chain_of_100000_ops():
    """No recursion anywhere: a 100,000-op chain sorts, runs forward and backward."""
    n = 100_000
    x = cr.Placeholder(name="x")
    w = cr.Variable(np.ones(2), name="w")
    start = time.perf_counter()
    h = x * w
    for _ in range(n):
        h = h + 1.0
    loss = h.sum()
    graph = cr.Graph(loss)
    assert len(graph.order) > n
    assert graph.forward({x: np.array([2.0, 3.0])}) == pytest.approx(5.0 + 2 * n)
    graph.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 3.0])
    graph.zero_grad()  # (a set loss.grad would make loss.backward() the lesson's single step)
    loss.backward()  # the eager path, too
    np.testing.assert_array_equal(w.grad, [2.0, 3.0])
    assert time.perf_counter() - start < 10


def test_eager_training_loop_memory_stays_flat():
    """10,000 rebuild-every-step iterations: nodes hold no consumers, so each step's graph is freed."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    W = cr.Variable(np.zeros((3, 1)), name="W")

    def step():
        loss = cr.mse(cr.tensor(Y), cr.tensor(X) @ W)
        loss.backward()
        W.value -= 0.01 * W.grad
        W.zero_grad()
        return loss

    gc.disable()  # a graph freed by reference counting alone has no cycles
    try:
        probe = weakref.ref(step())
        assert probe() is None
        tracemalloc.start()
        for _ in range(1000):
            step()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(9000):
            step()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
    assert after - before < 64 * 1024, f"memory grew by {after - before} bytes"
    np.testing.assert_allclose(W.value, np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-3)


def test_grad_takes_pytorchs_arguments_in_pytorchs_order():
    """cr.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused), as
    torch.autograd.grad: the same gradients, None for an unused input with allow_unused=True,
    and the graph kept for a second call and a backward."""
    rng = np.random.default_rng(0)
    xv, wv, uv = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    x, w, unused = cr.Variable(xv), cr.Variable(wv), cr.Variable(1.5)
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    tunused = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y, ty = cr.tanh(x @ w), torch.tanh(tx @ tw)
    got = cr.grad(y, [x, w, unused], uv, True, False, True)
    want = torch.autograd.grad(ty, [tx, tw, tunused], torch.tensor(uv), True, False, allow_unused=True)
    assert got[2] is None and want[2] is None
    for g, t in zip(got[:2], want[:2]):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-12)
    again = cr.grad(y, [x, w, unused], grad_outputs=uv, retain_graph=False)  # the graph is still there
    np.testing.assert_allclose(again[0], got[0], rtol=0)
    assert np.array_equal(again[2], np.zeros(()))  # without allow_unused: zeros, as before
    second = cr.grad(y, x, uv, None, True)  # create_graph, fifth
    assert isinstance(second, cr.Node)
    cr.sum(y * uv).backward()
    np.testing.assert_allclose(x.grad, got[0], rtol=1e-12)


def test_a_node_iterates_over_its_rows_like_a_tensor():
    """for row in x, a, b = x and list(x) give x[0], x[1], ... (before, iteration ran past the
    end into a ShapeError); 0-d and value-less nodes are not iterable, as 0-d tensors are not."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((3, 2))
    x, tx = cr.Variable(xv, name="x"), torch.tensor(xv, requires_grad=True)
    rows, trows = list(x), list(tx)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    first, second, third = x
    total = cr.sum(first * 1.0 + second * 2.0 + third * 3.0)
    ttotal = (trows[0] * 1.0 + trows[1] * 2.0 + trows[2] * 3.0).sum()
    total.backward()
    ttotal.backward()
    assert tx.grad is not None
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    for bad in (cr.Variable(1.5, name="s"), cr.Placeholder(name="p")):
        with pytest.raises(TypeError, match="iteration over"):
            iter(bad)
