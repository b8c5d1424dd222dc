"""Elementwise functions against PyTorch, central differences and grad-of-grad:
exp, log, sqrt, sin, cos, where, clip (each over the DESIGN.md shape set)."""

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import BROADCAST_PAIRS, KINK, SHAPES, Case, Fixed, Value, params, run_case

# name: (chainrule, torch, domain)
UNARY = {
    "exp": (cr.exp, torch.exp, None),
    "log": (cr.log, torch.log, (0.5, 3.0)),
    "sqrt": (cr.sqrt, torch.sqrt, (0.5, 3.0)),
    "sin": (cr.sin, torch.sin, None),
    "cos": (cr.cos, torch.cos, None),
    "clip": (lambda x: cr.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), None),
    "clip_low": (lambda x: cr.clip(x, low=0.1), lambda x: torch.clamp(x, min=0.1), None),
    "clip_high": (lambda x: cr.clip(x, high=0.1), lambda x: torch.clamp(x, max=0.1), None),
    "method_exp": (lambda x: x.exp(), lambda x: x.exp(), None),
    "method_log": (lambda x: x.log(), lambda x: x.log(), (0.5, 3.0)),
    "method_sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt(), (0.5, 3.0)),
    "method_clip": (lambda x: x.clip(-0.5, 0.5), lambda x: x.clip(-0.5, 0.5), None),
}


def _domain(d):
    return {} if d is None else dict(low=d[0], high=d[1])


def _mask(shape):
    return Fixed(np.random.default_rng(1).random(shape) > 0.5)


CASES = [Case(f"{name}{s}", f, tf, (s,), **_domain(d)) for name, (f, tf, d) in UNARY.items() for s in SHAPES]
# where(cond, a, b): all three broadcast together
CASES += [Case(f"where{sa}{sb}", cr.where, torch.where, (_mask(sa), sa, sb)) for sa, sb in BROADCAST_PAIRS]
CASES += [Case(f"where_mask{sb}", cr.where, torch.where, (_mask(sb), sa, sa)) for sa, sb in BROADCAST_PAIRS[3:6]]
CASES += [
    # the ends of the interval count as inside (gradient 1), as in torch.clamp
    Case(
        "clip_at_ends",
        lambda x: cr.clip(x, -0.5, 0.7),
        lambda x: torch.clamp(x, -0.5, 0.7),
        (Value([-0.5, 0.7, 0.0, -2.0, 2.0]),),
        modes=KINK,
    ),
    Case(
        "where_from_comparison",
        lambda a, b: cr.where(a > b, a * b, a - b),
        lambda a, b: torch.where(a > b, a * b, a - b),
        ((3, 4), (1, 4)),
    ),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_elementwise(case, mode):
    run_case(case, mode)


def test_clip_with_numpy_bounds_keeps_float32():
    """NumPy 2 would widen float32 by a float64 scalar bound; clip must not."""
    x = cr.Variable(np.array([-2.0, 0.0, 2.0], dtype=np.float32))
    y = cr.clip(x, np.float64(-1.0), np.float64(1.0))
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(y.value, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_of_infinities_are_nan_silently(name):
    """sin(±inf) and cos(±inf) are NaN, and so are their gradients there, without NumPy's
    RuntimeWarning (the tests turn it into an error), as PyTorch computes them."""
    x = np.array([np.inf, -np.inf, np.nan, 0.5])
    X = cr.Variable(x.copy())
    out = getattr(cr, name)(X)
    out.backward(np.ones(4))
    t = torch.tensor(x, requires_grad=True)
    expected = getattr(torch, name)(t)
    (expected_grad,) = torch.autograd.grad(expected, t, torch.ones(4, dtype=torch.float64))
    np.testing.assert_allclose(out.value, expected.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(X.grad, expected_grad.numpy(), rtol=1e-12, equal_nan=True)
