"""Arithmetic against PyTorch, central differences and grad-of-grad.

Binary ops run over every broadcasting pair of DESIGN.md "Tests"; the engine
sums each gradient back to its input's shape, so ∂(a ∘ b)/∂a has a's shape.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import BROADCAST_PAIRS, KINK, SHAPES, Case, Fixed, Value, params, run_case

# name: (chainrule, torch, domain (low, high) or None for standard normal)
BINARY: dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple[float, float] | None]] = {
    "add": (cr.add, torch.add, None),
    "sub": (cr.sub, torch.sub, None),
    "mul": (cr.mul, torch.mul, None),
    "div": (cr.div, torch.div, (0.5, 2.0)),
    "op_add": (lambda a, b: a + b, lambda a, b: a + b, None),
    "op_sub": (lambda a, b: a - b, lambda a, b: a - b, None),
    "op_mul": (lambda a, b: a * b, lambda a, b: a * b, None),
    "op_div": (lambda a, b: a / b, lambda a, b: a / b, (0.5, 2.0)),
    # a node exponent: ∂/∂b = aᵇ ln a needs a > 0
    "pow": (cr.pow, torch.pow, (0.5, 2.0)),
    "op_pow": (lambda a, b: a**b, lambda a, b: a**b, (0.5, 2.0)),
    "maximum": (cr.maximum, torch.maximum, None),
    "minimum": (cr.minimum, torch.minimum, None),
    # a mod b: a/b kept away from whole numbers, where the floor steps
    "remainder": (cr.remainder, torch.remainder, (0.5, 2.0)),
    "op_mod": (lambda a, b: a % b, lambda a, b: a % b, (0.5, 2.0)),
}

UNARY = {
    "neg": (cr.neg, torch.neg, None),
    "op_neg": (lambda a: -a, lambda a: -a, None),
    "abs": (cr.abs, torch.abs, None),
    "op_abs": (abs, abs, None),
    "square": (lambda a: a**2, lambda a: a**2, None),
    "cube": (lambda a: cr.pow(a, 3), lambda a: a**3, None),
    "pow_frac": (lambda a: a**2.5, lambda a: a**2.5, (0.5, 2.0)),
    "pow_neg": (lambda a: a**-1.5, lambda a: a**-1.5, (0.5, 2.0)),
    "rpow": (lambda a: 2.0**a, lambda a: 2.0**a, None),
    "radd": (lambda a: 1.5 + a, lambda a: 1.5 + a, None),
    "rsub": (lambda a: 1.5 - a, lambda a: 1.5 - a, None),
    "rmul": (lambda a: 3 * a, lambda a: 3 * a, None),
    "rdiv": (lambda a: 2.0 / a, lambda a: 2.0 / a, (0.5, 2.0)),
    "rmod": (lambda a: 2.6 % a, lambda a: torch.remainder(torch.tensor(2.6, dtype=a.dtype), a), (0.5, 2.0)),
    "mod_number": (lambda a: a % -0.7, lambda a: a % -0.7, None),
}


def _domain(d):
    return {} if d is None else dict(low=d[0], high=d[1])


CASES = [
    Case(f"{name}{sa}{sb}", f, tf, (sa, sb), **_domain(d))
    for name, (f, tf, d) in BINARY.items()
    for sa, sb in BROADCAST_PAIRS + [(sb, sa) for sa, sb in BROADCAST_PAIRS[5:]]
]
CASES += [Case(f"{name}{s}", f, tf, (s,), **_domain(d)) for name, (f, tf, d) in UNARY.items() for s in SHAPES]

# kinks and edges, where the choice of (sub)gradient must match PyTorch
TIES = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
CASES += [
    Case("maximum_ties", cr.maximum, torch.maximum, (Value(TIES), Value(np.where(TIES > 0, TIES, -TIES))), modes=KINK),
    Case("minimum_ties", cr.minimum, torch.minimum, (Value(TIES), Value(np.where(TIES > 0, TIES, -TIES))), modes=KINK),
    Case("abs_at_zero", cr.abs, torch.abs, (Value([0.0, -1.0, 2.0]),), modes=KINK),
    # 0 ** b with b >= 0: the exponent gradient is 0, as in torch
    Case("pow_zero_base", cr.pow, torch.pow, (Fixed(np.array([0.0, 1.5, 2.0])), Value([1.0, 2.0, 0.5])), second=False),
    Case("pow_fixed_exponent_array", cr.pow, torch.pow, ((2, 3), Fixed(np.array([1.0, 2.0, -3.0])))),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_arithmetic(case, mode):
    run_case(case, mode)


@pytest.mark.parametrize(
    "fn",
    [lambda a: a**2, lambda a: 2**a, lambda a: a * 2.5, lambda a: 1 - a, lambda a: a / 3, lambda a: cr.pow(a, 0.5)],
)
def test_python_numbers_keep_float32(fn):
    """A Python number adopts the node's dtype: float32 stays float32, forward and backward."""
    x = cr.Variable(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    y = fn(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


# floor division passes no gradient (PyTorch's has none either): values only, with negative
# operands, whole quotients and zero divisors
NUMERATORS = np.array([[-7.0, 7.0, -7.5, 6.0, 0.0, 2.5], [1.0, -1.0, 3.0, -3.0, 4.0, -0.0]])
DIVISORS = np.array([2.0, -2.0, 2.5, 3.0, 0.0, -0.5])


@pytest.mark.parametrize(
    "f, tf, differentiable",
    [
        (cr.floor_divide, torch.floor_divide, False),
        (lambda a, b: a // b, lambda a, b: a // b, False),
        (cr.remainder, torch.remainder, True),
        (lambda a, b: a % b, lambda a, b: a % b, True),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_floor_divide_and_remainder_give_torchs_values_eagerly_and_define_then_run(f, tf, differentiable, dtype):
    """Values, dtypes and NaN/inf at zero divisors as PyTorch's; a // b takes no gradient."""
    a, b = NUMERATORS.astype(dtype), DIVISORS.astype(dtype)
    if dtype == np.int64:
        b = np.where(b == 0, 3, b)  # (integer division by zero is an error in PyTorch too)
    want = tf(torch.tensor(a), torch.tensor(b)).numpy()
    x, y = cr.Variable(a) if dtype != np.int64 else cr.tensor(a), cr.tensor(b)
    eager = f(x, y)
    pa, pb = cr.Placeholder(name="a"), cr.Placeholder(name="b")
    graph = cr.Graph(f(pa, pb))
    for got in (eager.value, graph.forward({pa: a, pb: b}), graph.compile().forward({pa: a, pb: b})):
        assert np.asarray(got).dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert eager.requires_grad == (differentiable and dtype != np.int64)
