"""Function transforms against torch.autograd.functional and torch.func: vjp, jvp,
jacobian (both modes), hessian and hvp on the lesson, an MLP loss and a vector-valued
function with broadcasting (``transform_cases``); values, shapes and structure, results
built as graphs (create_graph) and mismatched vectors. ``cr.grad(f)``, ``value_and_grad``
and the transforms in special settings: ``test_transforms_grad.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import chainrule as cr
from chainrule import transforms
from transform_cases import FUNCTIONS, SCALAR, assert_same, inputs, leaves_of, like, outputs_of, rng, tt

# torch.func compiles its decompositions with torch.jit.script on first use, which warns
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _float64():
    cr.set_default_dtype("float64")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_vjp(name):
    f, tf, _ = FUNCTIONS[name]
    xs = inputs(name)
    out = outputs_of(name, xs)
    v = like(out, 1) if isinstance(out, tuple) else rng.standard_normal(tuple(out.shape))
    mine = cr.vjp(f, xs, v)
    theirs = TF.vjp(tf, tt(xs), tt(v) if isinstance(v, tuple) else torch.tensor(v))
    assert_same(mine, theirs)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jvp_against_autograd_functional_and_torch_func(name):
    f, tf, _ = FUNCTIONS[name]
    xs, v = inputs(name), like(inputs(name), 2)
    out, tangent = cr.jvp(f, xs, v)
    assert_same((out, tangent), TF.jvp(tf, tt(xs), tt(v)))
    assert_same((out, tangent), torch.func.jvp(tf, tt(xs), tt(v)))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jvp_against_central_differences(name):
    f, _, _ = FUNCTIONS[name]
    xs, v = inputs(name), like(inputs(name), 3)
    _, tangent = cr.jvp(f, xs, v)
    eps = 1e-6

    def at(sign):
        out = f(*[cr.Constant(x + sign * eps * t) for x, t in zip(xs, v)])
        return [o.value for o in (out if isinstance(out, tuple) else (out,))]

    numeric = [(p - m) / (2 * eps) for p, m in zip(at(1), at(-1))]
    for got, want in zip(tangent if isinstance(tangent, tuple) else (tangent,), numeric):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_jacobian(name, mode):
    f, tf, _ = FUNCTIONS[name]
    xs = inputs(name)
    assert_same(cr.jacobian(f, xs, mode=mode), TF.jacobian(tf, tt(xs)))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jacobian_forward_equals_reverse_exactly_in_structure(name):
    f, _, _ = FUNCTIONS[name]
    xs = inputs(name)
    fwd, rev = cr.jacobian(f, xs, mode="forward"), cr.jacobian(f, xs, mode="reverse")
    flat_f, flat_r = (
        np.concatenate([np.ravel(a) for a in leaves_of(fwd)]),
        np.concatenate([np.ravel(a) for a in leaves_of(rev)]),
    )
    np.testing.assert_allclose(flat_f, flat_r, atol=1e-12, rtol=1e-10)


def test_jacobian_of_one_input_and_one_output_is_one_array():
    x = np.array([0.5, -1.0, 2.0])
    jac = cr.jacobian(lambda a: cr.tanh(a[:2]) * cr.sum(a), x)
    assert isinstance(jac, np.ndarray) and jac.shape == (2, 3)
    assert_same(jac, TF.jacobian(lambda a: torch.tanh(a[:2]) * torch.sum(a), torch.tensor(x)))


def test_jacobian_auto_counts_elements(monkeypatch):
    """auto: forward passes when the inputs have fewer elements than the outputs."""
    calls = {"forward": 0}
    real = transforms.push_tangents

    def counting(*args, **kwargs):
        calls["forward"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(transforms, "push_tangents", counting)
    cr.jacobian(lambda a: cr.broadcast_to(a, (5, 2)) * 2.0, np.ones(2))  # 2 inputs, 10 outputs
    assert calls["forward"] == 2
    cr.jacobian(lambda a: cr.sum(a * a), np.ones(4))  # 4 inputs, 1 output
    assert calls["forward"] == 2


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", SCALAR)
def test_hessian_equals_torch_and_is_symmetric(name, mode):
    f, tf, _ = FUNCTIONS[name]
    xs = inputs(name)
    hess = cr.hessian(f, xs, mode=mode)
    assert_same(hess, TF.hessian(tf, tt(xs)), atol=1e-9)
    for i, x in enumerate(xs):
        for j, z in enumerate(xs):
            nx, nz = np.ndim(x), np.ndim(z)
            # H[i][j] has axes x_i + x_j; H[j][i] has x_j + x_i
            moved = np.moveaxis(hess[j][i], list(range(nz)), list(range(nx, nx + nz)))
            np.testing.assert_allclose(hess[i][j], moved, atol=1e-12)


def test_hessian_of_one_input():
    x = np.array([0.3, -0.2, 1.5])
    hess = cr.hessian(lambda a: cr.sum(cr.sin(a) * a) * cr.sum(a * a), x)
    assert isinstance(hess, np.ndarray) and hess.shape == (3, 3)
    assert_same(hess, TF.hessian(lambda a: torch.sum(torch.sin(a) * a) * torch.sum(a * a), torch.tensor(x)))
    np.testing.assert_allclose(hess, hess.T, atol=1e-12)


@pytest.mark.parametrize("name", SCALAR)
def test_hvp(name):
    f, tf, _ = FUNCTIONS[name]
    xs, v = inputs(name), like(inputs(name), 4)
    assert_same(cr.hvp(f, xs, v), TF.hvp(tf, tt(xs), tt(v)))


def test_create_graph_results_differentiate_again_like_torch():
    f, tf, _ = FUNCTIONS["vector"]
    xs, v = inputs("vector"), like(inputs("vector"), 5)
    leaves = [cr.Variable(x) for x in xs]
    _, tangents = cr.jvp(f, tuple(leaves), v, create_graph=True)
    assert all(isinstance(t, cr.Node) for t in tangents)
    mine = cr.grad(cr.sum(tangents[0]) + cr.sum(tangents[1] * tangents[1]), leaves)
    t_leaves = [torch.tensor(x, requires_grad=True) for x in xs]
    _, t_tangents = TF.jvp(tf, tuple(t_leaves), tt(v), create_graph=True)
    theirs = torch.autograd.grad(t_tangents[0].sum() + (t_tangents[1] ** 2).sum(), t_leaves)
    assert_same(tuple(mine), theirs)


@pytest.mark.parametrize("transform", ["vjp", "jacobian", "hessian", "hvp"])
def test_create_graph_for_every_transform(transform):
    """The result, built as a graph, differentiated once more with respect to the inputs, as torch does."""
    f, tf, _ = FUNCTIONS["mlp"]
    xs = inputs("mlp")
    leaves, t_leaves = [cr.Variable(x) for x in xs], [torch.tensor(x, requires_grad=True) for x in xs]
    v = like(xs, 6)
    calls = {
        "vjp": (
            lambda g, a: g.vjp(a[0], tuple(a[1]), create_graph=True)[1],
            lambda g, a: g.vjp(a[0], tuple(a[1]), create_graph=True)[1],
        ),
        "jacobian": (
            lambda g, a: g.jacobian(a[0], tuple(a[1]), create_graph=True, mode="forward"),
            lambda g, a: g.jacobian(a[0], tuple(a[1]), create_graph=True),
        ),
        "hessian": (
            lambda g, a: g.hessian(a[0], tuple(a[1]), create_graph=True),
            lambda g, a: g.hessian(a[0], tuple(a[1]), create_graph=True),
        ),
        "hvp": (
            lambda g, a: g.hvp(a[0], tuple(a[1]), v, create_graph=True)[1],
            lambda g, a: g.hvp(a[0], tuple(a[1]), tt(v), create_graph=True)[1],
        ),
    }
    mine, theirs = calls[transform][0](cr, (f, leaves)), calls[transform][1](TF, (tf, t_leaves))
    total = sum(cr.sum(r * r) for r in leaves_of(mine))
    t_total = sum((r * r).sum() for r in leaves_of(theirs))
    assert all(isinstance(r, cr.Node) for r in leaves_of(mine))
    got = cr.grad(total, leaves)
    want = torch.autograd.grad(t_total, t_leaves, allow_unused=True)
    for g, w, x in zip(got, want, xs):
        np.testing.assert_allclose(g, np.zeros_like(x) if w is None else w.numpy(), atol=1e-9, rtol=1e-7)


def test_vjp_create_graph_and_a_vector_node():
    """With create_graph=True a node v is part of the graph: the vjp differentiates in v too."""
    x = cr.Variable(np.array([0.5, 1.5]))
    v = cr.Variable(np.array([2.0, -1.0]))
    out, g = cr.vjp(lambda a: cr.exp(a) * 3.0, x, v, create_graph=True)
    assert isinstance(out, cr.Node) and isinstance(g, cr.Node)
    np.testing.assert_allclose(cr.grad(cr.sum(g), v), 3 * np.exp(x.value))
    np.testing.assert_allclose(cr.grad(cr.sum(g), x), 3 * np.exp(x.value) * v.value)


def test_results_are_arrays_and_gradients_are_left_alone():
    x = cr.Variable(np.array([1.0, 2.0]))
    x.grad = np.array([7.0, 7.0])
    out, g = cr.vjp(lambda a: cr.sum(a * a), x)
    assert isinstance(out, np.floating) and isinstance(g, np.ndarray)
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_mismatched_vectors():
    errors = cr.errors
    with pytest.raises(
        errors.TangentShapeError, match=r"v has shape \(3,\), but the input 'variable_\d+' has shape \(2,\)"
    ):
        cr.jvp(lambda a: cr.sin(a), np.ones(2), np.ones(3))
    with pytest.raises(errors.TangentShapeError, match=r"v\[1\] has shape \(2,\), but input 1 .* has shape \(\)"):
        cr.jvp(lambda a, b: a * b, (np.ones(2), 1.0), (np.ones(2), np.ones(2)))
    with pytest.raises(errors.TangentShapeError, match="structure of the output"):
        cr.vjp(lambda a: (a, a * 2.0), np.ones(2), np.ones(2))
    with pytest.raises(errors.TangentShapeError, match=r"output"):
        cr.vjp(lambda a: a * 2.0, np.ones(2), np.ones((2, 1)))
    with pytest.raises(errors.TangentShapeError):
        cr.hvp(lambda a: cr.sum(a * a), np.ones(3), np.ones(4))
    with pytest.raises(errors.ShapeError):  # a TangentShapeError is a ShapeError and a ValueError
        cr.jvp(lambda a: a, np.ones(2), np.ones(1))
    with pytest.raises(errors.GradientError, match="v can be left out only when the output is one element"):
        cr.vjp(lambda a: a * 2.0, np.ones(2))


def test_outputs_that_do_not_depend_on_the_inputs_give_zeros():
    const = cr.Constant(np.ones(2))
    assert_same(
        cr.jacobian(lambda a, b: (a * 2.0, const * 1.0), (np.ones(3), np.ones(2))),
        TF.jacobian(
            lambda a, b: (a * 2.0, torch.ones(2, dtype=torch.float64) * 1.0),
            (torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.float64)),
        ),
    )
    np.testing.assert_array_equal(cr.hessian(lambda a: cr.sum(a * 3.0), np.ones(2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(cr.grad(lambda a, b: cr.sum(b))(np.ones(2), cr.Variable(np.ones(2))), np.zeros(2))
