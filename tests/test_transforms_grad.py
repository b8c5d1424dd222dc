"""``cr.grad(f)`` and ``value_and_grad`` as in JAX (argnums, nesting, composition with the
other transforms) against torch.func; every transform inside ``no_grad``, in float32 and
through nodes not written as ``cr.Op``; and the transforms' errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import chainrule as cr
from test_lesson_way import Square  # a learner's node, the lesson's way: NumPy in forward() and backward()
from transform_cases import FUNCTIONS, assert_same, inputs, tt

# torch.func compiles its decompositions with torch.jit.script on first use, which warns
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _float64():
    cr.set_default_dtype("float64")


@pytest.mark.parametrize("argnums", [0, 1, (0, 2), (3, 1), -1])
def test_grad_and_value_and_grad_with_argnums(argnums):
    f, tf, _ = FUNCTIONS["mlp"]
    xs = inputs("mlp")
    t_grad, t_value = torch.func.grad_and_value(tf, argnums=argnums)(*tt(xs))
    value, grads = cr.value_and_grad(f, argnums=argnums)(*xs)
    assert_same(value, t_value)
    assert_same(grads, t_grad)
    assert_same(cr.grad(f, argnums)(*xs), t_grad)  # argnums positional, as in jax.grad(f, 1)


def test_grad_of_grad_and_jacobian_of_grad():
    """Transforms compose: the inner cr.grad(f) builds its result as a graph when nested."""

    def f(x):
        return cr.sum(cr.sin(x) * x * x)

    x = np.array([0.4, -1.1, 2.0])
    assert_same(cr.jacobian(cr.grad(f), x), TF.hessian(lambda a: torch.sum(torch.sin(a) * a * a), torch.tensor(x)))
    np.testing.assert_allclose(
        cr.grad(cr.grad(lambda a: cr.sin(a) * a))(0.7), -np.sin(0.7) * 0.7 + 2 * np.cos(0.7), atol=1e-12
    )


def test_nested_grad_keeps_the_variables_apart():
    """d/dx [x · (d/dy x·y at y = x)] = d/dx x² = 2x: the inner y is not the outer x
    (JAX's perturbation-confusion example), and a closed-over x is seen by the inner grad."""
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(x))(2.0) == pytest.approx(4.0)
    assert cr.grad(lambda x: cr.grad(lambda y: x * y)(1.0))(2.0) == pytest.approx(1.0)


def test_old_grad_still_works():
    k = cr.Variable(2.0)
    loss = k**3
    assert cr.grad(loss, k) == pytest.approx(12.0)
    assert cr.grad(outputs=loss, inputs=[k])[0] == pytest.approx(12.0)
    assert cr.grad(loss, k, create_graph=True).value == pytest.approx(12.0)


def test_transforms_work_inside_no_grad():
    with cr.no_grad():
        _, t = cr.jvp(lambda a: cr.sin(a), np.array([0.5, 1.0]), np.ones(2))
        g = cr.grad(lambda a: cr.sum(a * a))(np.array([3.0]))
    np.testing.assert_allclose(t, np.cos([0.5, 1.0]))
    np.testing.assert_allclose(g, [6.0])


def test_float32_stays_float32():
    cr.set_default_dtype("float32")
    x = np.array([0.5, 1.0], dtype=np.float32)
    out, t = cr.jvp(lambda a: cr.sigmoid(a) * 2.0, x, np.ones(2, np.float32))
    assert out.dtype == np.float32 and t.dtype == np.float32
    assert cr.jacobian(lambda a: cr.tanh(a), x, mode="forward").dtype == np.float32
    assert cr.hessian(lambda a: cr.sum(a**3), x).dtype == np.float32


# ---------------------------------------------------------------- nodes that are not written as cr.Op
class NumpyVjp(cr.Op):
    """An op whose vjp leaves the graph (NumPy on g): forward mode uses its Jacobian."""

    def forward(self, x):
        return np.sin(x)

    def vjp(self, g, out, x):
        return (np.multiply(np.asarray(g), np.cos(np.asarray(x))),)


def test_forward_mode_through_nodes_without_a_vjp_on_nodes():
    x = np.array([0.3, -0.7, 1.1])
    _, t = cr.jvp(lambda a: cr.sigmoid(Square(a)) * 2.0, x, np.array([1.0, 2.0, -1.0]))
    s = 1 / (1 + np.exp(-(x**2)))
    np.testing.assert_allclose(t, 2 * s * (1 - s) * 2 * x * [1.0, 2.0, -1.0], atol=1e-12)
    _, t = cr.jvp(lambda a: NumpyVjp(a) * a, x, np.ones(3))
    np.testing.assert_allclose(t, np.cos(x) * x + np.sin(x), atol=1e-12)
    with pytest.raises(cr.errors.GradientError, match="lesson's way"):
        cr.jvp(lambda a: Square(a), x, np.ones(3), create_graph=True)


# ---------------------------------------------------------------- errors
def test_a_function_returning_a_non_node():
    with pytest.raises(cr.errors.NotANodeError, match="'<lambda>' returned a float"):
        cr.jvp(lambda a: 2.0, np.ones(2), np.ones(2))
    with pytest.raises(cr.errors.NotANodeError, match="create_graph=True"):
        cr.jacobian(lambda a: cr.jacobian(lambda b: cr.sin(b), a), np.ones(2))
    with pytest.raises(cr.errors.NotANodeError, match=r"ndarray \(output 1\)"):
        cr.vjp(lambda a: (a * 2.0, np.sin(a.value)), np.ones(2), (np.ones(2), np.ones(2)))
    with pytest.raises(TypeError):  # a NotANodeError is a TypeError
        cr.grad(lambda a: None)(1.0)


def test_argnums_out_of_range_or_malformed():
    errors = cr.errors
    with pytest.raises(errors.ArgnumsError, match=r"argnums=2, but it was called with 2 positional argument"):
        cr.grad(lambda a, b: a * b, argnums=2)(1.0, 2.0)
    with pytest.raises(errors.ArgnumsError, match="called with 1"):
        cr.value_and_grad(lambda a, b=1.0: a * b, argnums=(0, 1))(1.0)
    for bad in ((), (0, 0), 1.5, True, "0"):
        with pytest.raises(errors.ArgnumsError, match="is not an int or a tuple of distinct ints"):
            cr.grad(lambda a: a, argnums=bad)
    with pytest.raises(errors.ArgnumsError):  # 0 and -2 name the same argument
        cr.grad(lambda a, b: a * b, argnums=(0, -2))(1.0, 2.0)


def test_grad_of_a_non_scalar_and_a_bad_mode():
    with pytest.raises(cr.errors.GradientError, match=r"one element \(a loss\), but it returned shape \(2,\)"):
        cr.grad(lambda a: a * 2.0)(np.ones(2))
    with pytest.raises(cr.errors.GradientError):
        cr.hessian(lambda a: a * a, np.ones(2))
    with pytest.raises(
        cr.errors.OptionError, match="jacobian: mode='sideways' is not one of 'auto', 'forward', 'reverse'"
    ):
        cr.jacobian(lambda a: a, np.ones(2), mode="sideways")
