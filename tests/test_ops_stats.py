"""The reductions issue 12 added and the one axis rule, against PyTorch: prod, std,
logsumexp, norm, cumsum, argmax/argmin, and every reduction on empty, 0-d and
negative-axis inputs (values and gradients, eagerly and define-then-run, finite
differences and second order where twice differentiable).

Cases are drawn as PyTorch's OpInfo samples are: several shapes per op, each with
the axis forms (None, int, negative, tuple) and keepdims both ways.
"""

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import FIRST, KINK, Case, Value, params, run_case

# PyTorch warns when a variance has no degrees of freedom left; chainrule returns its NaN silently
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom")

# (shape, axis): whole, int, negative, tuple, 0-d with 0 and -1, length-1 axes
SAMPLES = [
    ((), None),
    ((), 0),
    ((), -1),
    ((), (0,)),
    ((4,), None),
    ((4,), -1),
    ((3, 4), 1),
    ((3, 4), -2),
    ((3, 4), (0, -1)),
    ((1, 4), (0, 1)),
    ((3, 1), 1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), -1),
]
# empty: reduced over a non-empty axis (empty result) and over the empty axis itself
EMPTY = [((0,), None), ((3, 0), 1), ((3, 0), 0), ((0, 4), -1), ((2, 0, 3), (0, 2))]


def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def torch_reduce(fn, axis, keepdims, **kw):
    """``fn`` with NumPy's axis forms (None = all axes; a 0-d tensor takes dim 0 / -1)."""

    def run(x):
        if x.ndim == 0 and axis is None:
            return fn(x, dim=0, keepdim=keepdims, **kw)
        return fn(x, dim=_dims(x, axis), keepdim=keepdims, **kw)

    return run


def torch_prod(axis, keepdims):
    """torch.prod takes one dim at a time."""

    def run(x):
        dims = sorted((d % max(x.ndim, 1) for d in np.atleast_1d(_dims(x, axis))), reverse=True)
        out = x
        for d in dims if x.ndim else []:
            out = out.prod(d, keepdim=True)
        if not keepdims and x.ndim:
            out = out.reshape([n for i, n in enumerate(x.shape) if i not in dims])
        return out if x.ndim else x.prod()

    return run


def torch_norm(ord_):
    return lambda x, dim, keepdim: torch.linalg.vector_norm(x, ord_, dim=dim, keepdim=keepdim)


OPS = {  # name: (chainrule(x, axis, keepdims), torch builder(axis, keepdims), twice differentiable, domain)
    "sum": (cr.sum, lambda a, k: torch_reduce(torch.sum, a, k), True, None),
    "mean": (cr.mean, lambda a, k: torch_reduce(torch.mean, a, k), True, None),
    "max": (cr.max, lambda a, k: torch_reduce(torch.amax, a, k), True, None),
    "var": (cr.var, lambda a, k: torch_reduce(torch.var, a, k, correction=0), True, None),
    "prod": (cr.prod, torch_prod, True, (0.5, 1.5)),
    "std": (cr.std, lambda a, k: torch_reduce(torch.std, a, k, correction=0), True, None),
    "std_ddof1": (
        lambda x, axis, keepdims: cr.std(x, axis, keepdims, ddof=1),
        lambda a, k: torch_reduce(torch.std, a, k, correction=1),
        True,
        None,
    ),
    "logsumexp": (cr.logsumexp, lambda a, k: torch_reduce(torch.logsumexp, a, k), True, None),
    "norm": (cr.norm, lambda a, k: torch_reduce(torch_norm(2), a, k), True, None),
    "norm1": (
        lambda x, axis, keepdims: cr.norm(x, 1, axis, keepdims),
        lambda a, k: torch_reduce(torch_norm(1), a, k),
        False,
        None,
    ),
    "norm3": (
        lambda x, axis, keepdims: cr.norm(x, 3, axis, keepdims),
        lambda a, k: torch_reduce(torch_norm(3), a, k),
        True,
        None,
    ),
    "norm_inf": (
        lambda x, axis, keepdims: cr.norm(x, np.inf, axis, keepdims),
        lambda a, k: torch_reduce(torch_norm(np.inf), a, k),
        False,
        None,
    ),
    "norm_minus_inf": (
        lambda x, axis, keepdims: cr.norm(x, -np.inf, axis, keepdims),
        lambda a, k: torch_reduce(torch_norm(-np.inf), a, k),
        False,
        None,
    ),
}


def _n(shape, axis):
    axes = range(len(shape)) if axis is None else [a % max(len(shape), 1) for a in np.atleast_1d(axis)]
    return int(np.prod([shape[a] for a in axes])) if shape else 1


def _case(name, shape, axis, keepdims):
    f, tf, second, domain = OPS[name]
    modes = None if second else FIRST
    if name == "std_ddof1" and _n(shape, axis) < 2:
        return None  # NaN: checked on its own below
    if name in ("std", "std_ddof1", "norm", "norm3") and _n(shape, axis) < 2:
        modes = FIRST  # |x| and √x² have a kink at a single element's 0... first order only
    low, high = domain or (None, None)
    return Case(
        f"{name}{shape}-axis{axis}-keep{keepdims}",
        lambda x: f(x, axis=axis, keepdims=keepdims),
        tf(axis, keepdims),
        (shape,),
        low=low,
        high=high,
        modes=modes,
        second=second,
    )


CASES = [
    c
    for name in OPS
    for shape, axis in SAMPLES
    for keep in (False, True)
    if (keep is False or shape == (2, 3, 4)) and (c := _case(name, shape, axis, keep))
]
# empty inputs: values and gradients (the empty axis gives 0, NaN, -inf, 1 ... as PyTorch)
EMPTY_OPS = ["sum", "mean", "var", "prod", "std", "logsumexp", "norm"]
EMPTY_CASES = tuple(
    Case(
        f"{name}_empty{shape}-axis{axis}",
        lambda x, f=OPS[name][0], a=axis: f(x, axis=a),
        OPS[name][1](axis, False),
        (shape,),
        modes=FIRST,
    )
    for name in EMPTY_OPS
    for shape, axis in EMPTY
)
# Over an empty axis mean, var and std are NaN and logsumexp -inf. Kept apart from the module's
# lists of cases, which forward mode (test_forward_mode.py) also runs against torch.func.jvp:
# its tangent there is 0/0 = NaN, while the transposed vjp of an empty input gives 0.
NON_FINITE = tuple(
    c
    for c in EMPTY_CASES
    if c.name.split("_empty")[0] in ("mean", "var", "std", "logsumexp")
    and _n(c.args[0], eval(c.name.split("-axis")[1])) == 0
)
CASES += [c for c in EMPTY_CASES if c not in NON_FINITE]
CASES += [
    Case(f"max_empty{shape}-axis1", lambda x: cr.max(x, axis=1), lambda x: torch.amax(x, 1), (shape,), modes=FIRST)
    for shape in [(0, 4), (0, 3, 2)]
]

# prod at zeros: one zero gets the product of the others, two or more zeros give 0
ZEROS = Value([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.5, -2.0, 4.0]])
CASES += [
    Case("prod_zeros_axis1", lambda x: cr.prod(x, axis=1), lambda x: x.prod(1), (ZEROS,), modes=FIRST),
    Case("prod_zeros_all", cr.prod, torch.prod, (ZEROS,), modes=FIRST),
    Case("prod_zeros_axis0", lambda x: cr.prod(x, axis=0), lambda x: x.prod(0), (ZEROS,), modes=FIRST),
]
# norm at ties and at 0 (gradient 0, as PyTorch)
CASES += [
    Case(
        "norm_inf_ties",
        lambda x: cr.norm(x, np.inf),
        lambda x: torch.linalg.vector_norm(x, np.inf),
        (Value([0.0, 2.0, -2.0]),),
        modes=KINK,
    ),
    Case("norm_at_zero", cr.norm, torch.linalg.vector_norm, (Value([0.0, 0.0, 0.0]),), modes=KINK),
    Case("std_of_constant", lambda x: cr.std(x, ddof=1), torch.std, (Value([2.5, 2.5, 2.5]),), modes=KINK),
]
# cumsum along every axis form
CUMSUM = [((4,), 0), ((4,), -1), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1), ((), 0), ((), -1), ((3, 0), 1), ((0,), 0)]
CASES += [
    Case(f"cumsum{shape}-axis{axis}", lambda x, a=axis: cr.cumsum(x, a), lambda x, a=axis: torch.cumsum(x, a), (shape,))
    for shape, axis in CUMSUM
]
CASES += [Case("cumsum_method", lambda x: x.cumsum(axis=-1), lambda x: x.cumsum(-1), ((3, 4),))]
# argmax / argmin: integer results, no gradient
ARG = [((4,), None), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), -1), ((), None), ((), 0)]
CASES += [
    Case(
        f"{fn}{shape}-axis{axis}-keep{keep}",
        lambda x, f=getattr(cr, fn), a=axis, k=keep: f(x, axis=a, keepdims=k),
        lambda x, f=getattr(torch, fn), a=axis, k=keep: f(x) if a is None else f(x, a, keepdim=k),
        (shape,),
        modes=KINK,
    )
    for fn in ("argmax", "argmin")
    for shape, axis in ARG
    for keep in (False, True)
    if not (axis is None and keep)
]


@pytest.mark.parametrize("case, mode", params(CASES + list(NON_FINITE)))
def test_reduction(case, mode):
    run_case(case, mode)


def test_var_of_one_element_with_ddof_1_is_nan_like_torch():
    """A last batch of size 1: NaN value and NaN gradient, no ZeroDivisionError, no warning."""
    for fn, tfn in [(cr.var, torch.var), (cr.std, torch.std)]:
        x = cr.Variable(np.array([3.0]))
        y = fn(x, ddof=1)
        y.backward()
        tx = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
        with pytest.warns(UserWarning):  # PyTorch warns about the degrees of freedom; chainrule returns NaN
            ty = tfn(tx)
        ty.backward()
        assert np.isnan(y.value) and np.isnan(ty.item())
        assert tx.grad is not None
        np.testing.assert_array_equal(np.isnan(x.grad), np.isnan(tx.grad.numpy()))


def test_variance_of_constant_rows_is_zero_in_float32():
    """Rows of 1e4 + 0.1 in float32: PyTorch's layer norm gives 0; so must the variance (and
    the normalised rows), not ±0.295 from a mean off by one ulp."""
    x = np.full((4, 64), 1e4 + 0.1, dtype=np.float32)
    v = cr.var(x, axis=-1, keepdims=True)
    np.testing.assert_array_equal(v, 0.0)
    normalised = (x - cr.mean(x, axis=-1, keepdims=True)) / cr.sqrt(v + 1e-5)
    np.testing.assert_array_equal(normalised, 0.0)
    want = torch.nn.functional.layer_norm(torch.tensor(x), (64,)).numpy()
    np.testing.assert_array_equal(normalised, want)


def test_a_bias_gradient_over_a_million_rows_keeps_float32_precision():
    """(1, 10) bias broadcast over 10⁶ rows: the engine sums the gradient back pairwise
    (relative error ~1e-7, as PyTorch), not row by row (1.6e-4)."""
    rng = np.random.default_rng(0)
    upstream = rng.random((10**6, 10)).astype(np.float32)
    b = cr.Variable(np.zeros((1, 10), dtype=np.float32))
    x = cr.Constant(np.zeros((10**6, 10), dtype=np.float32))
    (x + b).backward(upstream)
    exact = upstream.astype(np.float64).sum(axis=0, keepdims=True)
    tb = torch.zeros((1, 10), requires_grad=True)
    (torch.zeros((10**6, 10)) + tb).backward(torch.tensor(upstream))
    assert tb.grad is not None
    ours, theirs = np.max(np.abs(b.grad - exact) / exact), np.max(np.abs(tb.grad.numpy() - exact) / exact)
    assert ours < 1e-6 and ours <= 10 * theirs, (ours, theirs)
    # the Sum op's forward too
    assert np.max(np.abs(cr.sum(upstream, axis=0) - exact[0]) / exact[0]) < 1e-6


def test_a_channel_major_bias_gradient_is_summed_pairwise_in_place():
    """A convolution's gradient comes back channel-major ((C, N, H, W) in memory): each channel's
    terms are one run, summed pairwise where they lie, to float32 precision and as PyTorch's."""
    rng = np.random.default_rng(0)
    g = rng.random((3, 4, 512, 512)).astype(np.float32).transpose(1, 0, 2, 3)  # (N, C) = (4, 3), C first in memory
    exact = g.astype(np.float64).sum(axis=(0, 2, 3))
    theirs = torch.tensor(np.ascontiguousarray(g)).sum(dim=(0, 2, 3)).numpy()
    for ours in (cr.sum(g, axis=(0, 2, 3)), cr.sum(g, axis=(0, 2, 3), keepdims=True).reshape(-1)):
        assert ours.dtype == np.float32
        error, torch_error = np.max(np.abs(ours - exact) / exact), np.max(np.abs(theirs - exact) / exact)
        assert error < 1e-6 and error <= 10 * torch_error + 1e-7, (error, torch_error)
    assert cr.sum(g, axis=(0, 2, 3), keepdims=True).shape == (1, 3, 1, 1)


@pytest.mark.parametrize("fn", [cr.sum, cr.mean, cr.max, cr.var, cr.std, cr.logsumexp, cr.prod, cr.norm])
def test_a_reduction_rejects_an_axis_out_of_range_naming_the_op(fn):
    with pytest.raises(cr.errors.OptionError, match=type(fn(cr.Variable(np.ones(2)))).__name__):
        fn(cr.Variable(np.ones((2, 3))), axis=2)
    with pytest.raises(cr.errors.OptionError):
        fn(cr.Variable(np.array(1.0)), axis=1)  # a 0-d value has axes 0 and -1 only


@pytest.mark.parametrize("ord_", [-1, -0.5, np.nan, True, "fro"])
def test_norm_refuses_an_order_below_zero_other_than_minus_infinity(ord_):
    with pytest.raises(cr.errors.OptionError, match="ord"):
        cr.norm(cr.Variable(np.ones(3)), ord_)
