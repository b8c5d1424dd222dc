"""Issue 12's elementwise functions and activations against PyTorch: erf (to float64
precision, against math.erf too), log1p, expm1, silu, elu, mish, hardtanh, softplus
(beta, threshold), gelu exact and tanh; clip with node bounds; each over many shapes
(empty and 0-d included), eagerly and define-then-run, to second order.

And the degenerate points where PyTorch gives IEEE values silently: no NumPy warning
(the conftest turns every one into an error)."""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import FIRST, KINK, Case, Fixed, Value, params, run_case

SHAPES = [(), (4,), (3, 4), (2, 3, 4), (0,), (3, 0)]
UNARY: dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple[float, float] | None, bool]] = {
    # name: (chainrule, torch, domain, twice differentiable)
    "erf": (cr.erf, torch.erf, None, True),
    "log1p": (cr.log1p, torch.log1p, (-0.5, 2.0), True),
    "expm1": (cr.expm1, torch.expm1, None, True),
    "silu": (cr.silu, F.silu, None, True),
    "elu": (cr.elu, F.elu, None, True),
    "elu_alpha": (lambda x: cr.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5), None, True),
    "mish": (cr.mish, F.mish, None, True),
    "hardtanh": (cr.hardtanh, F.hardtanh, None, True),
    "hardtanh_range": (lambda x: cr.hardtanh(x, -0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0), None, True),
    "softplus_beta": (lambda x: cr.softplus(x, beta=2.0), lambda x: F.softplus(x, beta=2.0), None, True),
    "softplus_threshold": (
        lambda x: cr.softplus(x, beta=1.5, threshold=0.5),
        lambda x: F.softplus(x, beta=1.5, threshold=0.5),
        None,
        True,
    ),
    "gelu": (cr.gelu, F.gelu, None, True),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), None, True),
    "method_erf": (lambda x: x.erf(), lambda x: x.erf(), None, True),
}
CASES = [
    Case(f"{name}{s}", f, tf, (s,), low=d[0] if d else None, high=d[1] if d else None, modes=None if second else FIRST)
    for name, (f, tf, d, second) in UNARY.items()
    for s in SHAPES
]
# kinks: PyTorch's one-sided choices
KINKS = Value([-1.0, 1.0, 0.0, -3.0, 3.0, 0.5])
CASES += [
    Case("hardtanh_at_ends", cr.hardtanh, F.hardtanh, (KINKS,), modes=KINK),
    Case("elu_at_zero", cr.elu, F.elu, (KINKS,), modes=KINK),
    Case(
        "softplus_at_threshold",
        lambda x: cr.softplus(x, threshold=1.0),
        lambda x: F.softplus(x, threshold=1.0),
        (KINKS,),
        modes=KINK,
    ),
]

# clip with bounds that are nodes: inputs of the graph, with PyTorch's gradients
X = Value([0.0, 1.0, 2.0, 0.5, 1.5, -1.0])
CLIPS = [
    ("clip_node_bounds", (X, Value(0.5), Value(1.5))),
    ("clip_array_bounds", (X, Value([0.5, 0.0, 2.5, 0.5, 1.5, -2.0]), Value([1.5, 0.5, 3.0, 0.2, 1.5, -1.5]))),
    ("clip_low_above_high", (X, Value(1.5), Value(0.5))),  # every element becomes high
    ("clip_ties", (Value([0.5, 1.5, 1.0]), Value([0.5, 0.5, 1.0]), Value([1.5, 1.5, 1.0]))),
    ("clip_broadcast", ((3, 4), (1, 4), (3, 1))),
]
CASES += [Case(name, cr.clip, torch.clamp, args, modes=KINK) for name, args in CLIPS]
# x tied with a node bound: PyTorch's reverse rule sends the gradient to x (and chainrule's does),
# its forward rule (torch.func.jvp) takes the bound's tangent: kept out of the module's lists of
# cases, which forward mode (test_forward_mode.py) compares with torch.func.jvp
TIED = (
    Case(
        "clip_low_node", lambda x, lo: cr.clip(x, lo), lambda x, lo: torch.clamp(x, min=lo), (X, Value(0.5)), modes=KINK
    ),
    Case(
        "clip_high_node",
        lambda x, hi: cr.clip(x, high=hi),
        lambda x, hi: torch.clamp(x, max=hi),
        (X, Value([1.0] * 6)),
        modes=KINK,
    ),
)
CASES += [Case("clip_fixed_bounds", cr.clip, torch.clamp, ((3, 4), Fixed(np.array(-0.3)), Fixed(np.full(4, 0.4))))]


@pytest.mark.parametrize("case, mode", params(CASES + list(TIED)))
def test_elementwise(case, mode):
    run_case(case, mode)


def test_clip_repro_from_the_issue():
    """x = [0, 1, 2], lo = 0.5, hi = 1.5: PyTorch gives lo.grad = 1, hi.grad = 1 (summed)."""
    x, lo, hi = cr.Variable(np.array([0.0, 1.0, 2.0])), cr.Variable(0.5), cr.Variable(1.5)
    cr.clip(x, lo, hi).sum().backward()
    assert lo.grad == 1.0 and hi.grad == 1.0
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


def test_clip_with_placeholder_bounds_runs_define_then_run():
    x, lo, hi = cr.Placeholder(name="x"), cr.Placeholder(name="lo"), cr.Placeholder(name="hi")
    graph = cr.Graph(cr.sum(cr.clip(x, lo, hi)))
    assert graph.forward({x: np.array([0.0, 1.0, 2.0]), lo: 0.5, hi: 1.5}) == 3.0
    graph.backward()
    assert lo.grad == 1.0 and hi.grad == 1.0


def test_erf_is_float64_accurate():
    """Against math.erf on a dense grid and the awkward points: 2e-16 absolute."""
    xs = np.concatenate([np.linspace(-10, 10, 20001), [0.0, -0.0, 1e-300, 1.0, -1.0, 8.0, 26.5, np.inf, -np.inf]])
    want = np.array([math.erf(v) for v in xs])
    got = cr.erf(xs)
    assert np.max(np.abs(got - want)) <= 2.3e-16
    np.testing.assert_allclose(got[np.abs(xs) < 1], want[np.abs(xs) < 1], rtol=4e-16, atol=0)
    assert np.isnan(cr.erf(np.array([np.nan]))[0])
    np.testing.assert_allclose(cr.erf(xs.astype(np.float32)), want.astype(np.float32), atol=1.2e-7)
    np.testing.assert_array_equal(cr.erf(xs[:2000]), torch.erf(torch.tensor(xs[:2000])).numpy())


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (cr.erf, torch.erf),
        (cr.gelu, F.gelu),
        (lambda x: cr.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ],
)
def test_erf_and_gelu_in_float16_match_torch(ours, theirs):
    """float16 in, float16 out, values and gradients within float16's rounding of PyTorch's:
    erf's polynomials overflowed float16 and gave 0 (or NaN) from |x| of about 0.7 up."""
    grid = np.linspace(-6, 6, 1201).astype(np.float16)
    x, tx = cr.Variable(grid), torch.tensor(grid, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    g = np.random.default_rng(0).standard_normal(grid.shape).astype(np.float16)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert y.dtype == np.float16 and x.grad is not None and x.grad.dtype == np.float16
    np.testing.assert_allclose(y.value.astype(float), ty.detach().numpy().astype(float), atol=2e-3, rtol=2e-3)
    assert tx.grad is not None
    np.testing.assert_allclose(x.grad.astype(float), tx.grad.numpy().astype(float), atol=1e-2, rtol=1e-2)


def test_gelu_node_keeps_the_attribute_name_onnx_reads():
    node = cr.gelu(cr.Variable(np.ones(2)), approximate="tanh")
    assert isinstance(node, cr.GELU) and node.approximate == "tanh"
    assert cr.gelu(cr.Variable(np.ones(2))).approximate == "none"
    with pytest.raises(cr.errors.OptionError, match="approximate='erf' is not one of 'none', 'tanh'"):
        cr.gelu(cr.Variable(np.ones(2)), approximate="erf")


INF = np.inf
# name: (chainrule, torch, input): the values PyTorch computes silently
SILENT = {
    "log_0": (cr.log, torch.log, [0.0, 1.0, -1.0]),
    "sqrt_grad_at_0": (cr.sqrt, torch.sqrt, [0.0, 4.0]),
    "exp_89": (cr.exp, torch.exp, [89.0, 1.0]),
    "log1p_-1": (cr.log1p, torch.log1p, [-1.0, 0.5]),
    "pow_0_-1": (lambda x: x**-1.0, lambda x: x**-1.0, [0.0, 2.0]),
    "div_by_0": (lambda x: 1.0 / x, lambda x: 1.0 / x, [0.0, 2.0]),
    "softmax_masked_row": (cr.softmax, lambda x: torch.softmax(x, -1), [[-INF, -INF], [1.0, -INF]]),
    "softmax_inf_logit": (cr.softmax, lambda x: torch.softmax(x, -1), [[INF, 1.0], [0.0, 1.0]]),
    "log_softmax_masked": (cr.log_softmax, lambda x: torch.log_softmax(x, -1), [[-INF, 1.0], [-INF, -INF]]),
    "logsumexp_inf": (lambda x: cr.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), [[INF, 1.0], [-INF, 1.0]]),
    "mean_empty_axis": (lambda x: cr.mean(x, axis=1), lambda x: torch.mean(x, 1), np.zeros((3, 0))),
    "bce_logits_inf": (
        lambda x: cr.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0, 1.0]), reduction="none"),
        lambda x: F.binary_cross_entropy_with_logits(x, torch.tensor([0.0, 1.0, 1.0], dtype=x.dtype), reduction="none"),
        [INF, -INF, 3.0],
    ),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SILENT)
def test_ieee_values_come_without_numpy_warnings(name, dtype):
    """The same values and gradients as PyTorch (inf and NaN included), and no RuntimeWarning."""
    fn, tfn, data = SILENT[name]
    x = np.asarray(data, dtype=dtype)
    node = cr.Variable(x)
    y = fn(node)
    u = np.linspace(0.5, 1.5, y.size).reshape(y.shape).astype(dtype)
    (g,) = cr.grad(y, [node], grad_outputs=u)
    tx = torch.tensor(x, requires_grad=True)
    ty = tfn(tx)
    ty.backward(torch.tensor(u))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.value, ty.detach().numpy(), rtol=rtol)
    assert tx.grad is not None
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=rtol)
    assert y.dtype == dtype and g.dtype == dtype


def test_power_zero_has_zero_gradient_at_zero():
    x = cr.Variable(np.array([0.0, 2.0]))
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])  # PyTorch: 0 (not NaN) at x = 0
