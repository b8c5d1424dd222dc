"""Pooling (max, average, adaptive average; 1-D and 2-D) against torch.nn.functional in every mode
of the shared oracle, over PyTorch's options: kernels, strides, padding, dilation, ceil_mode,
count_include_pad, divisor_override, return_indices, unbatched inputs, empty batches; plus ties
and NaN (where the gradient goes), the indices, and the errors."""

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import KINK, Case, Value, check_op, params, raises_naming, run_case

Table = list[tuple[tuple[int, ...], dict[str, Any]]]  # (input shape, options)
MAX2D: Table = [
    ((2, 3, 6, 6), dict(kernel_size=2)),  # windows that tile the image
    ((2, 2, 5, 7), dict(kernel_size=2)),  # a last row and column in no window: their gradient is 0
    ((2, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 5, 6), dict(kernel_size=(2, 3), stride=(1, 2))),
    ((2, 1, 4, 4), dict(kernel_size=4)),
    ((1, 2, 4, 36), dict(kernel_size=2)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 7), dict(kernel_size=2, ceil_mode=True)),  # a last, partial window
    ((2, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(2, 1), padding=(1, 0))),
    ((2, 2, 9, 9), dict(kernel_size=3, stride=2, dilation=2, padding=1, ceil_mode=True)),
    ((2, 2, 6, 6), dict(kernel_size=3, stride=1, padding=1)),  # overlapping windows
    ((1, 2, 5, 20), dict(kernel_size=3, stride=1, padding=1)),  # overlapping, rows of 8 or more: strided views
    ((3, 6, 6), dict(kernel_size=2)),  # unbatched
    ((0, 2, 4, 4), dict(kernel_size=2)),
]  # an empty batch
MAX1D: Table = [
    ((2, 3, 8), dict(kernel_size=2)),
    ((2, 3, 9), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 2, 11), dict(kernel_size=3, dilation=2, padding=1)),
    ((3, 10), dict(kernel_size=4, stride=3, padding=2)),  # unbatched
    ((0, 3, 8), dict(kernel_size=2)),
]
AVG2D: Table = [
    ((2, 3, 6, 6), dict(kernel_size=2)),
    ((2, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 5, 6), dict(kernel_size=(2, 3), stride=(1, 2))),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((2, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    ((2, 3, 6, 5), dict(kernel_size=2, divisor_override=3)),
    ((1, 2, 6, 7), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True, divisor_override=-2)),
    ((3, 6, 6), dict(kernel_size=2, stride=1)),  # unbatched
    ((0, 2, 4, 4), dict(kernel_size=2)),
]
AVG1D: Table = [
    ((2, 3, 8), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 2, 9), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((3, 9), dict(kernel_size=2)),  # unbatched
    ((0, 2, 6), dict(kernel_size=2)),
]
ADAPTIVE2D: Table = [
    ((2, 3, 7, 9), dict(output_size=1)),
    ((2, 3, 7, 9), dict(output_size=(3, 4))),
    ((2, 2, 6, 6), dict(output_size=(2, 3))),
    ((1, 2, 3, 4), dict(output_size=(5, 6))),
    ((3, 5, 6), dict(output_size=(None, 4))),
    ((0, 2, 4, 4), dict(output_size=2)),
]
ADAPTIVE1D: Table = [((2, 3, 7), dict(output_size=3)), ((3, 10), dict(output_size=4)), ((2, 2, 5), dict(output_size=1))]

TABLES = [
    ("max_pool2d", MAX2D),
    ("max_pool1d", MAX1D),
    ("avg_pool2d", AVG2D),
    ("avg_pool1d", AVG1D),
    ("adaptive_avg_pool2d", ADAPTIVE2D),
    ("adaptive_avg_pool1d", ADAPTIVE1D),
]
CASES = [
    Case(
        f"{name}{x}{','.join(f'{k}={v}' for k, v in kw.items())}",
        lambda x, name=name, kw=kw: getattr(cr, name)(x, **kw),
        lambda x, name=name, kw=kw: getattr(F, name)(x, **kw),
        (x,),
    )
    for name, table in TABLES
    for x, kw in table
]

# ties: PyTorch sends the gradient to the first maximum of each window (after a ReLU, a window of
# zeros is common); NaN: to the last NaN
TIES = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]]])
NANS = np.array([[[[1.0, np.nan, 0.0, 2.0], [np.nan, 0.5, 2.0, 2.0], [3.0, np.nan, 1.0, 2.0], [3.0, 3.0, 3.0, 3.0]]]])
WIDE_TIES = np.tile(TIES, (1, 1, 1, 5))  # rows of 8 or more: the strided views, not the flat index
KINKS = [
    ("max_pool2d_ties", lambda f: lambda x: f(x, 2), TIES),
    ("max_pool2d_wide_ties", lambda f: lambda x: f(x, 2), WIDE_TIES),
    ("max_pool2d_wide_overlap_ties", lambda f: lambda x: f(x, 3, 1, 1), WIDE_TIES),
    ("max_pool2d_wide_nan", lambda f: lambda x: f(x, 2), np.tile(NANS, (1, 1, 1, 5))),
    ("max_pool2d_overlap_ties", lambda f: lambda x: f(x, 3, 1, 1), TIES),
    ("max_pool2d_ceil_ties", lambda f: lambda x: f(x, 3, 2, ceil_mode=True), TIES),
    ("max_pool1d_ties", lambda f: lambda x: f(x, 3, 1, 1), TIES[0]),
    ("max_pool2d_nan", lambda f: lambda x: f(x, 2), NANS),
    ("max_pool2d_overlap_nan", lambda f: lambda x: f(x, 3, 1, 1), NANS),
]
CASES += [
    Case(
        name,
        make(cr.max_pool1d if "1d" in name else cr.max_pool2d),
        make(F.max_pool1d if "1d" in name else F.max_pool2d),
        (Value(x),),
        modes=KINK,
    )
    for name, make, x in KINKS
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_pool_against_torch(case, mode):
    run_case(case, mode)


def test_case_counts():
    """The oracle table's breadth, per op (the README and the closing note quote these)."""
    count = {name: sum(c.name.startswith(name) for c in CASES) for name, _ in TABLES}
    assert count == {
        "max_pool2d": 22,
        "max_pool1d": 6,
        "avg_pool2d": 10,
        "avg_pool1d": 4,
        "adaptive_avg_pool2d": 6,
        "adaptive_avg_pool1d": 3,
    }


@pytest.mark.parametrize(
    "fn, x, kw",
    [
        ("max_pool2d", (2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        ("max_pool2d", (2, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(2, 1), padding=(1, 0))),
        ("max_pool2d", (3, 6, 6), dict(kernel_size=2)),
        ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
        ("max_pool1d", (3, 10), dict(kernel_size=4, stride=3, padding=2)),
    ],
)
@pytest.mark.parametrize("define_then_run", [False, True])
def test_return_indices_match_torch(fn, x, kw, define_then_run):
    """The indices (int64, flat in each input plane) equal PyTorch's; the values stay differentiable."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal(x)
    node = cr.Placeholder(name="x") if define_then_run else cr.Variable(data, name="x")
    out, idx = getattr(cr, fn)(node, return_indices=True, **kw)
    if define_then_run:
        assert idx.value is None
        cr.Graph(out, idx).forward({node: data})
    t_out, t_idx = getattr(F, fn)(torch.tensor(data), return_indices=True, **kw)
    assert idx.dtype == np.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.value, t_idx.numpy())
    np.testing.assert_array_equal(out.value, t_out.numpy())
    plain, plain_idx = getattr(cr, fn)(data, return_indices=True, **kw)  # arrays in, arrays out
    np.testing.assert_array_equal(plain_idx, t_idx.numpy())


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),  # short rows: the flat index
        dict(kernel_size=3, stride=1, padding=1),  # overlapping windows, padding: the index adds
        dict(kernel_size=(2, 3), stride=(2, 1), dilation=(1, 2)),
    ],
)
@pytest.mark.parametrize("width", [6, 40])  # and rows of 8 or more: the strided views
def test_max_pool_of_a_channel_major_input_matches_torch(kw, width):
    """A convolution returns (N, C, H, W) laid out as (C, N, H, W); pooling that layout (ties from a
    ReLU, and a NaN) gives PyTorch's values and gradients, and the gradient keeps the layout."""
    rng = np.random.default_rng(3)
    data = np.maximum(np.round(rng.standard_normal((3, 4, 6, width)) * 2) / 2, 0)
    data[1, 2, 0, 1] = np.nan
    channel_major = np.ascontiguousarray(data.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    x = cr.Variable(channel_major)
    out = cr.max_pool2d(x, **kw)
    up = rng.standard_normal(out.shape)
    cr.sum(out * up).backward()
    t_x = torch.tensor(data, requires_grad=True)
    t_out = F.max_pool2d(t_x, **kw)
    (t_gx,) = torch.autograd.grad((t_out * torch.tensor(up)).sum(), t_x)
    np.testing.assert_array_equal(out.value, t_out.detach().numpy())
    np.testing.assert_allclose(x.grad, t_gx.numpy(), rtol=1e-13, atol=1e-15)  # (overlaps add in another order)
    assert x.grad.transpose(1, 0, 2, 3).flags.c_contiguous  # as its input: ReLU's vjp reads both alike


@pytest.mark.parametrize("width", [9, 40])  # short rows (the flat index) and long ones (strided views)
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, padding=1, dilation=2)])
def test_max_pool_of_integers_pads_with_their_least_value(width, kw):
    """PyTorch max-pools int64 tensors; padding must hold the dtype's least value, not -inf (which
    an integer array cannot hold). Values and indices equal PyTorch's."""
    data = np.random.default_rng(4).integers(-50, 50, (2, 3, 7, width))
    out, where = cr.max_pool2d(data, return_indices=True, **kw)
    t_out, t_where = F.max_pool2d(torch.tensor(data), return_indices=True, **kw)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, t_out.numpy())
    np.testing.assert_array_equal(where, t_where.numpy())


def test_max_pool_gradient_lands_where_the_indices_point():
    """The gradient is the upstream gradient added up at PyTorch's indices (overlapping windows
    that share a maximum add their shares)."""
    rng = np.random.default_rng(1)
    x = cr.Variable(rng.standard_normal((2, 3, 7, 6)))
    out, idx = cr.max_pool2d(x, 3, 2, 1, return_indices=True)
    up = rng.standard_normal(out.shape)
    (gx,) = cr.grad(out, [x], grad_outputs=up)
    _, t_idx = F.max_pool2d(torch.tensor(x.value), 3, 2, 1, return_indices=True)
    expected = np.zeros((6, 42))
    np.add.at(expected, (np.arange(6)[:, None], t_idx.numpy().reshape(6, -1)), up.reshape(6, -1))
    np.testing.assert_allclose(gx, expected.reshape(x.shape), rtol=1e-15)


def test_pooling_keeps_float32_and_holds_no_buffers():
    x = cr.Variable(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32))
    for out in (cr.max_pool2d(x, 2), cr.avg_pool2d(x, 3, 1, 1), cr.adaptive_avg_pool2d(x, 1)):
        assert out.dtype == np.float32
        cr.sum(out).backward()
        assert x.grad.dtype == np.float32
        assert not _arrays_held(out)


def _arrays_held(node):
    """The attributes of a node that hold arrays (directly or in a tuple), beyond its value and grad."""
    return [
        k
        for k, v in vars(node).items()
        if isinstance(v, np.ndarray) or (isinstance(v, tuple) and any(isinstance(a, np.ndarray) for a in v))
    ]


def test_max_pool_keeps_where_the_maxima_are_only_until_its_backward():
    x = cr.Variable(np.random.default_rng(0).standard_normal((2, 3, 6, 6)))
    out = cr.max_pool2d(x, 2)
    assert _arrays_held(out)  # a byte per window, saved by the forward pass for the vjp
    cr.sum(out).backward()
    assert not _arrays_held(out)
    first = x.grad.copy()
    x.grad = None
    cr.sum(out).backward()  # a second backward finds the maxima again
    np.testing.assert_array_equal(x.grad, first)
    with cr.no_grad():
        assert not _arrays_held(cr.max_pool2d(x, 2))


def test_max_pool_second_order_is_zero_and_third_builds():
    """Max pooling is piecewise linear: its Hessian-vector product is zero, and differentiating
    the gradient (scatter) again gives the gather, on nodes."""
    rng = np.random.default_rng(2)
    x = cr.Variable(rng.standard_normal((1, 2, 4, 4)))
    g = cr.grad(cr.sum(cr.max_pool2d(x, 2) ** 2), x, create_graph=True)
    assert any(isinstance(n, cr.ops.PoolScatter) for n in cr.topological_sort(g))
    tx = torch.tensor(x.value, requires_grad=True)
    (tg,) = torch.autograd.grad((F.max_pool2d(tx, 2) ** 2).sum(), tx, create_graph=True)
    np.testing.assert_allclose(cr.grad(cr.sum(g * g), x), torch.autograd.grad((tg * tg).sum(), tx)[0].numpy())


@pytest.mark.parametrize(
    "call, option, value",
    [
        (lambda x: cr.max_pool2d(x, 0), "kernel_size", "0"),
        (lambda x: cr.max_pool2d(x, 2, stride=0), "stride", "0"),
        (lambda x: cr.max_pool2d(x, 2, padding=2), "padding", "2"),
        (lambda x: cr.max_pool2d(x, 3, padding=2, dilation=3), "padding", "2"),  # half the kernel, not its reach
        (lambda x: cr.max_pool2d(x, 2, dilation=(1, 0)), "dilation", "(1, 0)"),
        (lambda x: cr.max_pool2d(x, 2, ceil_mode="yes"), "ceil_mode", "'yes'"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda x: cr.max_pool2d(x, 2, return_indices=2), "return_indices", "2"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda x: cr.max_pool1d(x, (2, 2)), "kernel_size", "(2, 2)"),
        (lambda x: cr.avg_pool2d(x, 2, padding=(0, 2)), "padding", "(0, 2)"),
        (lambda x: cr.avg_pool2d(x, 2, divisor_override=0), "divisor_override", "0"),
        (lambda x: cr.avg_pool2d(x, 2, count_include_pad=None), "count_include_pad", "None"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda x: cr.avg_pool1d(x, 2, stride=-1), "stride", "-1"),
        (lambda x: cr.adaptive_avg_pool2d(x, 0), "output_size", "0"),
        (lambda x: cr.adaptive_avg_pool2d(x, (2, 2, 2)), "output_size", "(2, 2, 2)"),
        (lambda x: cr.adaptive_avg_pool1d(x, 1.5), "output_size", "1.5"),
    ],
)
def test_bad_options_raise_option_error_when_the_node_is_built(call, option, value):
    """On a placeholder with no value: OptionError naming the op and its node (the function, for
    return_indices), the option, the value given and what is allowed."""
    raises_naming(cr.errors.OptionError, lambda: call(cr.Placeholder(name="pixels")), "ool", f"{option}={value} is not")


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: cr.max_pool2d(np.ones((4, 4)), 2), ["max_pool2d", "NCHW", "(4, 4)"]),
        (lambda: cr.avg_pool1d(np.ones((1, 1, 4, 4)), 2), ["avg_pool1d", "NCL", "(1, 1, 4, 4)"]),
        (lambda: cr.max_pool2d(np.ones((1, 1, 3, 3)), 4), ["max_pool2d", "(1, 1, 3, 3)", "kernel (4, 4)"]),
        (lambda: cr.adaptive_avg_pool2d(np.ones(3), 1), ["adaptive_avg_pool2d", "(3,)"]),
        # no pixel to average (PyTorch refuses it too): before, a ZeroDivisionError
        (lambda: cr.adaptive_avg_pool2d(np.ones((2, 3, 7, 0)), 1), ["adaptive_avg_pool2d", "(2, 3, 7, 0)", "empty"]),
        (lambda: cr.adaptive_avg_pool1d(np.ones((2, 0)), 2), ["adaptive_avg_pool1d", "(2, 0)", "empty"]),
    ],
)
def test_shape_errors_name_the_op_and_shapes(call, words):
    raises_naming(cr.errors.ShapeError, call, *words)


def test_adaptive_pool_of_one_is_global_average_pooling():
    check_op(
        lambda x: cr.adaptive_avg_pool2d(x, 1),
        lambda x: x.mean(dim=(2, 3), keepdim=True),
        ((2, 3, 5, 7),),
        dtype=np.float32,
    )
