"""Activations against PyTorch, central differences and grad-of-grad, and their
numerical stability at |x| = 1e4 (finite values and gradients, no NumPy warnings:
conftest turns every floating-point warning into an error)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import KINK, SHAPES, Case, Value, check_stable, params, run_case

# name: (chainrule, torch, shapes)
ND = [s for s in SHAPES if s]  # softmax needs an axis
ACTIVATIONS = {
    "sigmoid": (cr.sigmoid, torch.sigmoid, SHAPES),
    "Sigmoid": (cr.Sigmoid, torch.sigmoid, SHAPES),
    "tanh": (cr.tanh, torch.tanh, SHAPES),
    "relu": (cr.relu, torch.relu, SHAPES),
    "leaky_relu": (cr.leaky_relu, F.leaky_relu, SHAPES),
    "leaky_relu_0.2": (lambda x: cr.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), SHAPES),
    "softplus": (cr.softplus, F.softplus, SHAPES),
    "gelu": (cr.gelu, F.gelu, SHAPES),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), SHAPES),
    "softmax": (cr.softmax, lambda x: torch.softmax(x, -1), ND),
    "softmax_axis0": (lambda x: cr.softmax(x, axis=0), lambda x: torch.softmax(x, 0), ND),
    "log_softmax": (cr.log_softmax, lambda x: torch.log_softmax(x, -1), ND),
    "log_softmax_axis0": (lambda x: cr.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, 0), ND),
    "log_softmax_axis1": (lambda x: cr.log_softmax(x, axis=1), lambda x: torch.log_softmax(x, 1), ND[1:]),
    "softmax_axis1": (lambda x: cr.softmax(x, axis=1), lambda x: torch.softmax(x, 1), ND[1:]),
}

CASES = [Case(f"{name}{s}", f, tf, (s,)) for name, (f, tf, shapes) in ACTIVATIONS.items() for s in shapes]
# relu and leaky_relu at 0: torch's subgradient (0, and the slope)
CASES += [
    Case("relu_at_zero", cr.relu, torch.relu, (Value([0.0, 1.0, -1.0]),), modes=KINK),
    Case("leaky_relu_at_zero", cr.leaky_relu, F.leaky_relu, (Value([0.0, 1.0, -1.0]),), modes=KINK),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_activation(case, mode):
    run_case(case, mode)


EXTREME = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4])
STABLE: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "softplus": (cr.softplus, F.softplus),
    "tanh": (cr.tanh, torch.tanh),
    "gelu": (cr.gelu, F.gelu),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    "softmax": (cr.softmax, lambda x: torch.softmax(x, -1)),
    "log_softmax": (cr.log_softmax, lambda x: torch.log_softmax(x, -1)),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", STABLE)
def test_stable_at_1e4(name, dtype):
    """Finite values and gradients at |x| = 1e4, equal to PyTorch's, with no NumPy warning."""
    fn, tfn = STABLE[name]
    check_stable(fn, tfn, EXTREME.astype(dtype), np.linspace(-1.0, 1.0, EXTREME.size).astype(dtype))


def test_sigmoid_tails_are_exact():
    """σ(-x) = 1 - σ(x) and σ(-745) > 0 is not flushed to 0 when it is representable."""
    x = np.array([-700.0, -30.0, 30.0])
    np.testing.assert_allclose(cr.sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-15)
    assert cr.sigmoid(np.array(-700.0)) > 0


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "layout",
    [
        lambda a: a,
        lambda a: np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),  # a convolution's output
        lambda a: a[:, :, ::2],  # not one block of memory
    ],
)
def test_relu_over_many_zero_blocks_matches_torch(dtype, layout):
    """ReLU's kernel runs flat runs against blocks of zeros (threads.ZERO_BLOCK): arrays of
    several blocks and a part block, in any layout, with NaN, infinities and -0.0, give
    PyTorch's values and gradients, and keep the input's layout."""
    rng = np.random.default_rng(4)
    size = 3 * cr.ops.threads.ZERO_BLOCK + 75  # three blocks and part of a fourth
    x = rng.standard_normal((5, -(-size // 30), 2, 3)).astype(dtype)
    x.ravel()[::997] = np.nan
    x.ravel()[1::997] = -np.inf
    x.ravel()[2::997] = np.inf
    x.ravel()[3::997] = -0.0
    x = layout(x)
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    expected = torch.relu(tx)
    g = rng.standard_normal(x.shape).astype(dtype)
    (expected_grad,) = torch.autograd.grad(expected, tx, torch.tensor(g))
    X = cr.Variable(x)
    out = cr.relu(X)
    assert out.value.dtype == dtype
    np.testing.assert_array_equal(out.value, expected.detach().numpy())
    assert out.value.strides == np.empty_like(x).strides  # the input's layout kept (as NumPy keeps it)
    out.backward(g)
    np.testing.assert_array_equal(X.grad, expected_grad.numpy())


@pytest.mark.parametrize("value", [-1.5, 0.0, 2.5, np.nan])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_of_a_numpy_scalar_keeps_scalars_and_torch_gradient(value, dtype):
    """A NumPy scalar's ReLU and its gradient stay NumPy scalars of its dtype (the lesson's
    scalar graphs compute on scalars), with PyTorch's gradient, NaN included."""
    X = cr.Variable(dtype(value))
    out = cr.relu(X)
    out.backward()
    t = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(torch.relu(t), t)
    assert type(X.grad) is dtype
    np.testing.assert_array_equal(X.grad, expected.numpy())


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, 30.0, -30.0, 1e-30])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (cr.relu, torch.relu),
        (lambda a: cr.leaky_relu(a, 0.1), lambda a: F.leaky_relu(a, 0.1)),
        (cr.elu, F.elu),
        (cr.sigmoid, torch.sigmoid),
        (cr.tanh, torch.tanh),
        (cr.softplus, F.softplus),
        (cr.gelu, F.gelu),
        (lambda a: cr.gelu(a, approximate="tanh"), lambda a: F.gelu(a, approximate="tanh")),
        (cr.silu, F.silu),
        (cr.mish, F.mish),
        (cr.hardtanh, F.hardtanh),
    ],
    ids=["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu", "mish", "hardtanh"],
)
def test_activations_at_nan_infinities_and_zeros_match_torch(ours, theirs):
    """Values and gradients at NaN, ±inf, ±0 and large inputs are PyTorch's (NaN where it
    gives NaN, a passed-on gradient where it passes one: ELU and ReLU at NaN), computed as
    silently as PyTorch computes them (the tests turn NumPy's warnings into errors)."""
    g = np.linspace(0.5, 2.0, SPECIAL.size)
    X = cr.Variable(SPECIAL.copy())
    out = ours(X)
    out.backward(g)
    t = torch.tensor(SPECIAL, requires_grad=True)
    expected = theirs(t)
    (expected_grad,) = torch.autograd.grad(expected, t, torch.tensor(g))
    np.testing.assert_allclose(out.value, expected.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(X.grad, expected_grad.numpy(), rtol=1e-12, equal_nan=True)
