"""What a PyTorch or NumPy user types, and what careless data does (issues 12 and 15):
NumPy functions on nodes build chainrule ops or say what to use; ``dim=`` says
``axis=``; a node prints its value; strings, None and complex data are refused by
name and change nothing; grad_outputs given as a node is differentiable."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import DTypeError, FeedError

rng = np.random.default_rng(3)
A = rng.standard_normal((3, 4))


@pytest.mark.parametrize(
    "np_call, cr_call",
    [
        (lambda x: np.exp(x), cr.exp),
        (lambda x: np.log1p(np.abs(x)), lambda x: cr.log1p(cr.abs(x))),
        (lambda x: np.sum(x), cr.sum),
        (lambda x: np.sum(x, axis=1, keepdims=True), lambda x: cr.sum(x, axis=1, keepdims=True)),
        (lambda x: np.mean(x, 0), lambda x: cr.mean(x, 0)),
        (lambda x: np.max(x, axis=-1), lambda x: cr.max(x, axis=-1)),
        (lambda x: np.var(x, ddof=1), lambda x: cr.var(x, ddof=1)),
        (lambda x: np.transpose(x), cr.transpose),
        (lambda x: np.reshape(x, (4, 3)), lambda x: cr.reshape(x, (4, 3))),
        (lambda x: np.concatenate([x, x * 2.0], axis=1), lambda x: cr.concat([x, x * 2.0], axis=1)),
        (lambda x: np.where(x > 0, x, 0.0), lambda x: cr.where(x > 0, x, 0.0)),
        (lambda x: np.clip(x, -0.5, 0.5), lambda x: cr.clip(x, -0.5, 0.5)),
        (lambda x: np.ones((2, 3)) @ x, lambda x: cr.matmul(np.ones((2, 3)), x)),
        (lambda x: np.ones((3, 4)) * x + 1.0, lambda x: x * 1.0 + 1.0),
        (lambda x: np.einsum("ij,ij->i", x, x), lambda x: cr.einsum("ij,ij->i", x, x)),
        (lambda x: np.cumsum(x, axis=1), lambda x: cr.cumsum(x, axis=1)),
        (lambda x: np.float64(2.0) * x, lambda x: 2.0 * x),
        (lambda x: np.mod(x, 0.7) + np.remainder(3.0, x + 5.0), lambda x: x % 0.7 + 3.0 % (x + 5.0)),
    ],
)
def test_numpy_functions_on_nodes_build_chainrule_ops(np_call, cr_call):
    x = cr.Variable(A)
    out = np_call(x)
    assert isinstance(out, cr.Node) and out.requires_grad
    (g,) = cr.grad(cr.sum(out * out), [x])
    y = cr.Variable(A)
    (want,) = cr.grad(cr.sum(cr_call(y) * cr_call(y)), [y])
    np.testing.assert_allclose(out.value, cr_call(cr.Variable(A)).value)
    np.testing.assert_allclose(g, want)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: np.arctan(x), "chainrule has no 'arctan' op"),
        (lambda x: np.percentile(x, 50), "chainrule has no 'percentile' op"),
        (lambda x: np.sum(x, out=np.zeros(())), r"use cr\.sum"),
        (lambda x: np.exp(x, out=np.zeros((3, 4))), r"use cr\.exp"),
        (lambda x: np.add.reduce(x), "chainrule reduction"),
    ],
)
def test_numpy_functions_chainrule_lacks_raise_instead_of_detaching(call, message):
    with pytest.raises(TypeError, match=message):
        call(cr.Variable(A))


def test_inspection_and_gradient_free_nodes_run_on_values():
    x = cr.Variable(A)
    assert np.shape(x) == (3, 4) and np.ndim(x) == 2 and np.isfinite(x).all()
    assert np.allclose(x, A)
    np.testing.assert_allclose(np.arctan(cr.tensor(A)), np.arctan(A))  # nothing to detach


@pytest.mark.parametrize(
    "fn, kw, hint",
    [
        (cr.sum, dict(dim=1), "use axis= instead of dim="),
        (cr.mean, dict(axis=1, keepdim=True), "use keepdims= instead of keepdim="),
        (cr.softmax, dict(dim=-1), "use axis="),
        (cr.max, dict(dim=0), "use axis="),
        (cr.cumsum, dict(dim=0), "use axis="),
        (cr.squeeze, dict(dim=0), "use axis="),
        (cr.concat, dict(dim=0), "use axis="),
    ],
)
def test_torch_keyword_names_say_which_numpy_name_to_use(fn, kw, hint):
    x = cr.Variable(A)
    with pytest.raises(TypeError, match=hint):
        fn([x] if fn is cr.concat else x, **kw)


def test_node_methods_take_the_same_names():
    x = cr.Variable(A)
    with pytest.raises(TypeError, match="use axis="):
        x.sum(dim=0)
    np.testing.assert_allclose(x.std(axis=0, ddof=1).value, torch.tensor(A).std(0).numpy())


# ---------------------------------------------------------------- issue 15: values
W = np.ones(3)


@pytest.mark.parametrize(
    "make, shown",
    [
        (lambda: cr.Variable("7"), "str '7'"),
        (lambda: cr.Variable(None), "None"),
        (lambda: cr.tensor(["1", "2"]), "text"),
        (lambda: cr.Variable(np.array([1 + 2j])), "complex"),
        (lambda: cr.Constant(3 + 0j), "complex"),
        (lambda: cr.Variable(W) * "2", "str '2'"),
        (lambda: cr.Variable(W) + None, "None"),
        (lambda: "2" * cr.Variable(W), "str '2'"),
        (lambda: cr.Variable(np.array(["2020-01-01"], dtype="datetime64[D]")), "dates"),
        (lambda: cr.Variable([1.0, None]), "Python objects"),
        (lambda: cr.Variable("7", dtype="float32"), "str '7'"),
    ],
)
def test_values_that_are_not_numbers_are_refused_by_name(make, shown):
    with pytest.raises(DTypeError, match=shown) as info:
        make()
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("fed, shown", [("3.5", "str '3.5'"), (None, "None"), (np.array([1 + 1j]), "complex")])
def test_a_bad_feed_names_the_placeholder_and_changes_nothing(fed, shown):
    x, k = cr.Placeholder(name="x"), cr.Variable(3.0, name="k")
    graph = cr.Graph(x * k)
    assert graph.forward({x: 2.0}) == 6.0
    with pytest.raises(FeedError, match=f"placeholder 'x'.*{shown}"):
        graph.forward({x: fed})
    assert x.value == 2.0 and graph.output.value == 6.0


# ---------------------------------------------------------------- higher order through grad_outputs
def test_grad_outputs_given_as_a_node_is_differentiable():
    """Forward mode from reverse mode: d/dU ⟨U, ∂sin(x)⟩ = cos(x), as PyTorch."""
    xv = np.array([0.3, -1.2, 2.0])
    x, u = cr.Variable(xv), cr.Variable(np.ones(3))
    g = cr.grad(cr.sin(x), x, grad_outputs=u, create_graph=True)
    np.testing.assert_allclose(cr.grad(cr.sum(g), u), np.cos(xv), rtol=1e-15)
    tx, tu = torch.tensor(xv, requires_grad=True), torch.ones(3, dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.sin(tx), tx, tu, create_graph=True)
    (tgu,) = torch.autograd.grad(tg.sum(), tu)
    np.testing.assert_allclose(cr.grad(cr.sum(g), u), tgu.numpy(), rtol=1e-15)
