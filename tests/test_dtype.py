"""dtype rules (DESIGN.md rule 8, issue 2 point 7): float32 by default, settable;
floating arrays keep their dtype; integer data becomes the default float where it
must be differentiable; and nothing inside a float32 graph silently becomes
float64, not even through NumPy 2's promotion of float32 with int64 data."""

import threading
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr


def test_default_is_float32_and_settable():
    assert cr.get_default_dtype() == np.float32
    assert cr.Variable(1.0).dtype == np.float32 and cr.tensor([1.5, 2.5]).dtype == np.float32
    cr.set_default_dtype("float64")
    assert cr.get_default_dtype() == np.float64
    assert cr.Variable(1.0).dtype == np.float64 and cr.tensor(2.5).dtype == np.float64
    cr.set_default_dtype(np.float32)
    assert cr.Variable(1.0).dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        cr.set_default_dtype("int32")


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_float_arrays_keep_their_dtype(default):
    cr.set_default_dtype(default)
    for dt in (np.float32, np.float64):
        arr = np.ones(3, dtype=dt)
        assert cr.Variable(arr).dtype == dt and cr.tensor(arr).dtype == dt and cr.Constant(arr).dtype == dt
        assert cr.Variable(dt(2.0)).dtype == dt


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_integer_data_becomes_the_default_float_where_differentiable(default):
    cr.set_default_dtype(default)
    assert cr.Variable([1, 2]).dtype == default
    assert cr.Variable(np.arange(3)).dtype == default
    assert cr.tensor([1, 2], requires_grad=True).dtype == default
    assert cr.tensor([1, 2]).dtype == np.int64  # data: stays integer, like torch.tensor


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_a_placeholder_keeps_integer_feeds_integer_and_takes_no_gradient_for_them(default):
    """PyTorch's rule: integer tensors hold data (labels, indices) and have no gradient.
    Floating feeds keep their dtype and are differentiable; Python numbers become the
    default float, as a Variable's do."""
    cr.set_default_dtype(default)
    x, labels = cr.Placeholder(name="x"), cr.Placeholder(name="labels", requires_grad=False)
    x.feed([1, 2, 3])
    labels.feed([1, 2, 3])
    assert x.value.dtype.kind == "i" and labels.value.dtype.kind == "i" and not x.requires_grad
    x.feed(np.array([1.0, 2.0], dtype=np.float64))
    assert x.dtype == np.float64 and x.requires_grad
    x.feed(3)
    assert x.dtype == default and x.requires_grad
    assert not labels.requires_grad


def test_explicit_dtype_wins():
    assert cr.Variable(1, dtype=np.float64).dtype == np.float64
    assert cr.Placeholder(name="p", dtype="float64").convert([1, 2]).dtype == np.float64


INT = np.array([[1, 0, 2, 3]] * 3)  # int64: NumPy 2 promotes float32 ⊕ int64 to float64
MIXED = {
    "x*int": (lambda x, i: x * i, lambda x, i: x * i),
    "int*x": (lambda x, i: i * x, lambda x, i: i * x),
    "x+int": (lambda x, i: x + i, lambda x, i: x + i),
    "int-x": (lambda x, i: i - x, lambda x, i: i - x),
    "x/(int+1)": (lambda x, i: x / (i + 1), lambda x, i: x / (i + 1)),
    "x**int": (lambda x, i: x**i, lambda x, i: x**i),
    "maximum": (cr.maximum, torch.maximum),
    "minimum": (lambda x, i: cr.minimum(i, x), lambda x, i: torch.minimum(i, x)),
    "where": (lambda x, i: cr.where(i > 0, x, i), lambda x, i: torch.where(i > 0, x, i)),
    "matmul": (lambda x, i: x @ i.T, lambda x, i: x @ i.T.to(x.dtype)),
    "linear": (lambda x, i: cr.linear(i, x.T, 1), lambda x, i: i.to(x.dtype) @ x.T + 1),
    "mse": (lambda x, i: cr.mse(i, x), lambda x, i: F.mse_loss(x, i.to(x.dtype))),
    "bce_logits": (
        lambda x, i: cr.binary_cross_entropy_with_logits(x, i > 1),
        lambda x, i: F.binary_cross_entropy_with_logits(x, (i > 1).to(x.dtype)),
    ),
    "one_hot_sum": (lambda x, i: cr.sum(i * cr.log_softmax(x)), lambda x, i: (i * torch.log_softmax(x, -1)).sum()),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", MIXED)
def test_integer_data_never_widens_a_float_graph(name, dtype):
    """Integer and bool data mixed into a float graph take the graph's float dtype
    (torch's rule), for the value and for every gradient; values match torch."""
    fn, tfn = MIXED[name]
    xv = np.random.default_rng(0).uniform(0.5, 1.5, size=(3, 4)).astype(dtype)
    x = cr.Variable(xv)
    y = fn(x, cr.tensor(INT))
    cr.sum(y).backward()
    tx = torch.tensor(xv, requires_grad=True)
    ty = tfn(tx, torch.tensor(INT))
    ty.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert tx.grad is not None
    np.testing.assert_allclose(y.value, ty.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=rtol)


# ops whose results are real numbers: integer and bool data alone give the default float, as
# torch gives its default dtype (NumPy would give float64 of int64 and float16 of bool)
REAL_VALUED = {
    "exp": (cr.exp, torch.exp),
    "log": (lambda i: cr.log(i + 1), lambda i: torch.log(i + 1)),
    "sqrt": (cr.sqrt, torch.sqrt),
    "sin": (cr.sin, torch.sin),
    "cos": (cr.cos, torch.cos),
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "tanh": (cr.tanh, torch.tanh),
    "erf": (cr.erf, torch.erf),
    "log1p": (cr.log1p, torch.log1p),
    "expm1": (cr.expm1, torch.expm1),
    "logsumexp": (lambda i: cr.logsumexp(i, axis=1), lambda i: torch.logsumexp(i, 1)),
    "softmax": (lambda i: cr.softmax(i, axis=1), lambda i: torch.softmax(i.double(), 1)),
    "log_softmax": (lambda i: cr.log_softmax(i, axis=1), lambda i: torch.log_softmax(i.double(), 1)),
    "gelu": (cr.gelu, lambda i: F.gelu(i.double())),
    "silu": (cr.silu, lambda i: F.silu(i.double())),
    "softplus": (cr.softplus, lambda i: F.softplus(i.double())),
    "int/int": (lambda i: cr.div(i, i + 1), lambda i: i / (i + 1)),
    "avg_pool": (lambda i: cr.avg_pool1d(i[None], 2), lambda i: F.avg_pool1d(i[None].double(), 2)),
}


@pytest.mark.parametrize("data", ["int64", "bool", "python"])
@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("name", REAL_VALUED)
def test_real_valued_ops_give_integer_data_the_default_float(name, default, data):
    """Eagerly, on plain arrays and define-then-run (a Graph, and compiled): the default dtype,
    and torch's values (computed in float64 where torch refuses integer input)."""
    cr.set_default_dtype(default)
    fn, tfn = REAL_VALUED[name]
    given: Any = INT if data == "int64" else INT > 1 if data == "bool" else INT.tolist()
    arr = np.asarray(given)
    torch.set_default_dtype(getattr(torch, default))  # (torch floats integers to its own default)
    try:
        expected = tfn(torch.tensor(arr)).numpy()
    finally:
        torch.set_default_dtype(torch.float32)
    p = cr.Placeholder(name="i")
    graph = cr.Graph(fn(p))
    for how, value in [
        ("eager", lambda: fn(cr.tensor(arr)).value),
        ("arrays", lambda: fn(arr)),
        ("graph", lambda: graph.forward({p: arr})),
        ("compiled", lambda: graph.compile().forward({p: arr})),
    ]:
        out = np.asarray(value())
        assert out.dtype == np.dtype(default), f"{how}: {out.dtype}"
        np.testing.assert_allclose(out, expected, rtol=1e-6 if default == "float32" else 1e-12, err_msg=how)
    if data == "python" and name in ("exp", "sigmoid", "tanh"):  # a lone Python number, too
        assert np.asarray(fn(2)).dtype == np.dtype(default)


def test_a_float32_model_stays_float32_everywhere():
    """Every value and every gradient of a small float32 network is float32, with
    Python numbers, NumPy float64 scalars and float64 data mixed in."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 4)), rng.integers(0, 3, size=8)  # float64 data, int labels
    x = cr.Placeholder(name="x")
    W1, b1 = cr.Variable(rng.standard_normal((4, 5)).astype(np.float32)), cr.Variable(np.zeros(5, np.float32))
    W2 = cr.Variable(rng.standard_normal((5, 3)).astype(np.float32))
    h = cr.gelu(cr.linear(x, W1, b1)) * np.float64(0.5) + 1e-3
    h = cr.concat([cr.tanh(h[:, :2]), cr.relu(h[:, 2:])], axis=1)
    logits = cr.softmax(h @ W2, axis=1) * 2.0 - cr.mean(h, axis=1, keepdims=True) / 3
    loss = (
        cr.cross_entropy(logits, Y)
        + 0.1 * cr.sum(W1**2)
        + cr.var(h)
        + cr.max(cr.abs(h))
        + cr.mse(np.zeros((8, 3)), logits)
        + cr.sum(cr.sqrt(cr.exp(-W2 * W2) + 1))
    )
    graph = cr.Graph(loss)
    graph.forward({x: X.astype(np.float32)})
    graph.backward()
    for node in graph.order:
        if np.asarray(node.value).dtype.kind == "f" and not isinstance(node, cr.Constant):  # data may be float64
            assert node.value.dtype == np.float32, f"value of {node!r}"
        if node.grad is not None:
            assert node.grad.dtype == np.float32, f"grad of {node!r}"
    # and to second order
    (gW1,) = cr.grad(loss, [W1], create_graph=True)
    assert gW1.dtype == np.float32
    (hv,) = cr.grad(cr.sum(gW1 * gW1), [W1])
    assert hv.dtype == np.float32


def test_default_dtype_is_shared_but_grad_mode_is_per_thread():
    """set_default_dtype is process-wide (like torch), unlike no_grad."""
    seen: dict[str, Any] = {}
    cr.set_default_dtype("float64")
    t = threading.Thread(target=lambda: seen.setdefault("dtype", cr.get_default_dtype()))
    t.start()
    t.join()
    assert seen["dtype"] == np.float64


SCALARS = {
    "python_float": 2.0,
    "numpy_float64_scalar": np.float64(2.0),
    "float64_0d_array": np.array(2.0),
    "float64_constant": cr.Constant(np.float64(2.0)),
    "int_0d_array": np.array(2),
}


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("name", SCALARS)
def test_scalars_never_widen_a_float32_array(name, default):
    """A 0-d operand of any float dtype takes the array's dtype (torch's rule for
    0-dim tensors), eager and define-then-run, whatever the default dtype."""
    cr.set_default_dtype(default)
    c = SCALARS[name]
    x = cr.Variable(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    p = cr.Placeholder(name="p")
    for y in (x * c + c, c / x - c, cr.maximum(x, c) ** c, cr.where(x > 1, x, c), cr.linear(x[:, None], x[None], c)):
        assert y.dtype == np.float32
    lazy = (p * c - c) / c
    assert cr.Graph(lazy).forward({p: np.ones(3, np.float32)}).dtype == np.float32
    t = torch.ones(3) * torch.tensor(np.asarray(c.value if isinstance(c, cr.Node) else c))
    assert t.dtype == torch.float32  # the rule being followed


def test_arrays_of_another_float_dtype_do_promote_like_torch():
    x = cr.Variable(np.ones(3, dtype=np.float32))
    assert (x * np.ones(3)).dtype == np.float64
    assert (torch.ones(3) * torch.ones(3, dtype=torch.float64)).dtype == torch.float64


def test_one_python_number_takes_each_arrays_dtype_and_the_default_in_turn():
    """A loop writes ``x * k`` with the same number object against arrays of several dtypes while
    the default dtype changes: each product is NumPy's ``x * k`` with k in x's float dtype (an
    integer array and k both in the default float dtype, as in torch), and one dtype's steps
    share one constant."""
    k = 1.0001
    for default in ("float32", "float64", "float32"):
        cr.set_default_dtype(default)
        for dtype in (np.float32, np.float64, np.float16, np.int64, np.float32):
            data = np.arange(1, 4).astype(dtype)
            first, again = cr.tensor(data) * k, cr.tensor(data) * k
            as_float = data if data.dtype.kind == "f" else data.astype(default)
            expected = as_float * np.asarray(k, dtype=as_float.dtype)
            for y in (first, again):
                assert y.dtype == expected.dtype
                np.testing.assert_array_equal(y.value, expected)
            assert first.inputs[1] is again.inputs[1]
    cr.set_default_dtype("float32")
