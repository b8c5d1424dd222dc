"""Higher order: vjp rules written in chainrule's own ops, so with
``create_graph=True`` the backward pass is itself a differentiable graph.

d²(x³)/dx² = 6x, d³(x³)/dx³ = 6; d² sin x = -sin x; d² tanh x = -2 tanh x (1 - tanh² x);
and Hessian-vector products of small MLP losses equal torch.autograd.functional.hvp.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr


@pytest.fixture(autouse=True)
def _float64():
    cr.set_default_dtype("float64")


XS = np.array([-2.0, -0.5, 0.3, 1.7])


def nth_derivative(fn, xs, n):
    """dⁿ/dxⁿ of an elementwise fn at each of xs, by n nested create_graph grads."""
    x = cr.Variable(xs)
    d = fn(x)
    for _ in range(n):
        d = cr.grad(cr.sum(d), x, create_graph=True)
    return d.value


@pytest.mark.parametrize(
    "fn, n, truth",
    [
        (lambda x: x**3, 1, lambda x: 3 * x**2),
        (lambda x: x**3, 2, lambda x: 6 * x),
        (lambda x: x**3, 3, lambda x: np.full_like(x, 6.0)),
        (lambda x: x * x * x, 2, lambda x: 6 * x),
        (cr.sin, 2, lambda x: -np.sin(x)),
        (cr.sin, 4, np.sin),
        (cr.cos, 2, lambda x: -np.cos(x)),
        (cr.tanh, 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (cr.exp, 3, np.exp),
        (cr.sigmoid, 2, lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
        (lambda x: cr.log(x * x + 1), 2, lambda x: 2 * (1 - x**2) / (1 + x**2) ** 2),
    ],
)
def test_nth_derivative_is_the_calculus_one(fn, n, truth):
    np.testing.assert_allclose(nth_derivative(fn, XS, n), truth(XS), rtol=1e-12, atol=1e-12)


def test_create_graph_returns_nodes_and_leaves_grad_attributes_alone():
    x, unused = cr.Variable(np.array([1.0, 2.0])), cr.Variable(np.array([5.0]))
    y = cr.sum(x**3)
    g, gu = cr.grad(y, [x, unused], create_graph=True)
    assert isinstance(g, cr.Node) and g.requires_grad
    np.testing.assert_array_equal(gu.value, [0.0])  # an input the output ignores: zeros
    assert x.grad is None and unused.grad is None
    plain = cr.grad(y, x)
    assert isinstance(plain, np.ndarray)
    np.testing.assert_allclose(plain, 3 * x.value**2)


def test_mixed_partial():
    """f = x²y³: ∂²f/∂x∂y = 6xy²."""
    x, y = cr.Variable(1.5), cr.Variable(-0.7)
    fx = cr.grad(x**2 * y**3, x, create_graph=True)
    assert float(cr.grad(fx, y)) == pytest.approx(6 * 1.5 * 0.7**2, rel=1e-14)


# (activation, loss) pairs: chainrule and torch
MLPS = {
    "tanh-cross_entropy": (
        cr.tanh,
        torch.tanh,
        lambda z, y: cr.cross_entropy(z, y),
        lambda z, y: F.cross_entropy(z, y),
    ),
    "sigmoid-mse": (
        cr.sigmoid,
        torch.sigmoid,
        lambda z, y: cr.mse(y[:, None] / 3, cr.softmax(z)),
        lambda z, y: F.mse_loss(torch.softmax(z, -1), (y[:, None] / 3).expand(6, 3)),
    ),
    "gelu-log_softmax": (
        cr.gelu,
        lambda h: F.gelu(h),
        lambda z, y: cr.nll_loss(cr.log_softmax(z), y, reduction="sum"),
        lambda z, y: F.nll_loss(torch.log_softmax(z, -1), y, reduction="sum"),
    ),
    "softplus-bce_logits": (
        cr.softplus,
        F.softplus,
        lambda z, y: cr.binary_cross_entropy_with_logits(z, (y > 0).astype(float)[:, None]),
        lambda z, y: F.binary_cross_entropy_with_logits(z, (y > 0).double()[:, None].expand_as(z)),
    ),
}


@pytest.mark.parametrize("name", MLPS)
def test_hessian_vector_product_of_an_mlp_equals_torch(name):
    act, t_act, loss_fn, t_loss_fn = MLPS[name]
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    shapes = [(4, 5), (5,), (5, 3), (3,)]
    params = [rng.standard_normal(s) * 0.7 for s in shapes]
    vs = [rng.standard_normal(s) for s in shapes]

    ps = [cr.Variable(p) for p in params]
    loss = loss_fn(cr.linear(act(cr.linear(X, ps[0], ps[1])), ps[2], ps[3]), y)
    grads = cr.grad(loss, ps, create_graph=True)
    hv = cr.grad(sum(cr.sum(g * v) for g, v in zip(grads, vs)), ps)

    def t_loss(w1, b1, w2, b2):
        return t_loss_fn(t_act(torch.tensor(X) @ w1 + b1) @ w2 + b2, torch.tensor(y))

    _, t_hv = torch.autograd.functional.hvp(
        t_loss, tuple(torch.tensor(p) for p in params), tuple(torch.tensor(v) for v in vs)
    )
    for mine, theirs in zip(hv, t_hv):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-12)


def test_gradgradcheck_of_an_mlp():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 2))

    def net(w1, w2):
        return cr.sum(cr.softplus(cr.tanh(X @ w1) @ w2) ** 2)

    assert cr.gradgradcheck(net, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))])


def test_grad_outputs_weights_each_output():
    """grad(y, x, grad_outputs=u) is the vector-Jacobian product uᵀJ."""
    x = cr.Variable(np.array([0.5, -1.0, 2.0]))
    u = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(cr.grad(cr.exp(x), x, grad_outputs=u), u * np.exp(x.value))
    (a, b), (ua, ub) = (x * 2.0, cr.sum(x**2)), (np.ones(3), np.array(3.0))
    np.testing.assert_allclose(cr.grad([a, b], x, grad_outputs=[ua, ub]), 2 + 6 * x.value)
