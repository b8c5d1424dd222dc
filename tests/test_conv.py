"""Convolution (conv1d, conv2d) and im2col/col2im against torch.nn.functional in every mode of the
shared oracle (float64 and float32, eager and define-then-run, central differences, grad-of-grad
against differences and against torch), over the shapes and keyword combinations PyTorch's own
operator tests draw: strides, paddings (ints, pairs, "same", "valid"), dilations, groups
(depthwise), 1×1 kernels, unbatched inputs, empty batches; plus the column machinery's layouts
and chunks, and the errors."""

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule.ops import columns

from oracle import MODES, Case, check_op, params, raises_naming, run_case

# torch warns that an even kernel with padding="same" costs it a padded copy
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

# (input, weight, keyword options): the wide column layout (stride 1, C·kh·kw > O) and the
# narrow one (strides, or more output channels than column rows), both with and without padding
CONV2D = [
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    ((2, 3, 6, 5), (4, 3, 3, 3), dict(padding=1)),
    ((1, 2, 7, 6), (3, 2, 3, 2), dict(stride=2, padding=1)),
    ((2, 2, 5, 5), (2, 2, 2, 3), dict(stride=(2, 1), padding=(0, 1))),
    ((3, 4, 4, 4), (5, 4, 1, 1), {}),  # 1×1: the columns are the image itself
    ((2, 3, 5, 5), (2, 3, 1, 1), dict(stride=2)),
    ((1, 2, 4, 18), (2, 2, 3, 3), dict(padding=1)),
    ((2, 1, 6, 6), (12, 1, 3, 3), dict(padding=1)),  # narrow layout at stride 1
    ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),  # depthwise
    ((2, 4, 5, 6), (8, 1, 3, 2), dict(groups=4, stride=2)),  # depthwise, channel multiplier 2
    ((2, 3, 8, 7), (2, 3, 3, 3), dict(dilation=2)),
    ((1, 2, 9, 9), (3, 2, 3, 2), dict(dilation=(2, 3), padding=(2, 1), stride=(1, 2))),
    ((2, 3, 5, 6), (4, 3, 3, 3), dict(padding="same")),
    ((2, 3, 5, 6), (4, 3, 2, 4), dict(padding="same", dilation=(1, 2))),  # even kernel: one more after
    ((2, 2, 6, 5), (3, 2, 3, 2), dict(padding="valid", dilation=(2, 1))),
    ((3, 6, 5), (4, 3, 3, 3), dict(padding=1)),  # unbatched (C, H, W)
    ((2, 5, 4), (4, 2, 2, 2), dict(stride=2, padding="valid")),
    ((0, 3, 5, 5), (2, 3, 3, 3), dict(padding=1)),  # an empty batch
]
CONV1D = [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 3, 10), (4, 3, 3), dict(stride=2, padding=1)),
    ((2, 4, 11), (6, 2, 4), dict(groups=2, dilation=2, padding="same")),
    ((2, 4, 9), (4, 1, 3), dict(groups=4, padding="valid")),  # depthwise
    ((1, 2, 12), (8, 2, 5), dict(stride=3, padding=2)),
    ((1, 2, 12), (8, 2, 5), dict(padding=(2,), dilation=(2,))),
    ((3, 9), (2, 3, 2), {}),  # unbatched (C, L)
    ((0, 2, 7), (3, 2, 3), dict(padding=1)),
]


def _conv_case(fn, tfn, x, w, kw, bias=True):
    tag = ",".join(f"{k}={v}" for k, v in kw.items())
    if bias:
        return Case(
            f"{fn.__name__}{x}{w}{tag}",
            lambda x, w, b: fn(x, w, b, **kw),
            lambda x, w, b: tfn(x, w, b, **kw),
            (x, w, (w[0],)),
        )
    return Case(f"{fn.__name__}{x}{w}{tag}-nobias", lambda x, w: fn(x, w, **kw), lambda x, w: tfn(x, w, **kw), (x, w))


CASES = [_conv_case(cr.conv2d, F.conv2d, x, w, kw) for x, w, kw in CONV2D]
CASES += [_conv_case(cr.conv1d, F.conv1d, x, w, kw) for x, w, kw in CONV1D]
CASES += [
    _conv_case(cr.conv2d, F.conv2d, (2, 3, 5, 4), (2, 3, 3, 3), dict(padding=1), bias=False),
    _conv_case(cr.conv1d, F.conv1d, (2, 2, 6), (4, 1, 2), dict(groups=2), bias=False),
]

# im2col and col2im are torch's unfold and fold, with the columns laid out (N, C, kh, kw, OH, OW)
UNFOLD = [
    ((2, 3, 6, 5), dict(kernel_size=3, padding=1)),
    ((1, 2, 7, 6), dict(kernel_size=(3, 2), stride=2)),
    ((2, 2, 8, 7), dict(kernel_size=2, dilation=(2, 3), padding=(1, 0))),
]


def _unfold(x, kw):
    cols = cr.ops.im2col(x, **kw)
    return cr.reshape(cols, (cols.shape[0], int(np.prod(cols.shape[1:4])), -1))


def _fold(size, kernel, out_hw, kw):
    return lambda c: cr.ops.col2im(cr.reshape(c, (c.shape[0], size[1]) + kernel + out_hw), size, kernel, **kw)


CASES += [
    Case(f"im2col{x}{kw}", lambda x, kw=kw: _unfold(x, kw), lambda x, kw=kw: F.unfold(x, **kw), (x,), modes=MODES)
    for x, kw in UNFOLD
]
FOLD = [
    ((2, 3, 6, 5), (3, 3), (6, 5), dict(padding=1)),
    ((1, 2, 7, 6), (3, 2), (3, 3), dict(stride=2)),
    ((1, 2, 7, 6), (2, 2), (3, 2), dict(stride=(2, 3), dilation=(2, 1))),
]
CASES += [
    Case(
        f"col2im{size}{kernel}{kw}",
        _fold(size, kernel, out_hw, kw),
        lambda c, size=size, kernel=kernel, kw=kw: F.fold(c, size[2:], kernel, **kw),
        ((size[0], size[1] * kernel[0] * kernel[1], out_hw[0] * out_hw[1]),),
        modes=MODES,
    )
    for size, kernel, out_hw, kw in FOLD
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_conv_against_torch(case, mode):
    run_case(case, mode)


def test_case_counts():
    """The oracle table's breadth, per op (the README and the closing note quote these)."""
    count = {name: sum(c.name.startswith(name) for c in CASES) for name in ("conv2d", "conv1d", "im2col", "col2im")}
    assert count == {"conv2d": 20, "conv1d": 9, "im2col": 3, "col2im": 3}


@pytest.mark.parametrize("chunk", [1, 700, 5000])  # one image per chunk, a remainder chunk, whole batch
@pytest.mark.parametrize(
    "x, w, kw",
    [
        ((5, 6, 7, 6), (4, 6, 3, 3), dict(padding=1)),  # wide
        ((5, 2, 7, 6), (9, 2, 3, 3), dict(padding=1)),  # narrow
        ((5, 3, 7, 6), (4, 3, 3, 2), dict(stride=2)),
        ((5, 4, 6, 6), (4, 2, 1, 1), dict(groups=2)),
    ],
)
def test_chunks_of_images_give_the_same_numbers(monkeypatch, chunk, x, w, kw):
    """The kernels run a few images at a time: chunk boundaries must not show in the results."""
    monkeypatch.setattr(columns, "CHUNK_BYTES", chunk * 8)
    check_op(lambda x, w, b: cr.conv2d(x, w, b, **kw), lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, (w[0],)))


def test_the_three_convolution_ops_are_each_others_vjps():
    """Third derivatives exist (each vjp is one of conv, conv_input_grad, conv_weight_grad)."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    X, W = cr.Variable(x), cr.Variable(w)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, ty = cr.conv2d(X, W, padding=1) ** 2, F.conv2d(tx, tw, padding=1) ** 2
    gx = cr.grad(cr.sum(y), X, create_graph=True)
    (tgx,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    gw = cr.grad(cr.sum(gx * gx), W, create_graph=True)
    (tgw,) = torch.autograd.grad((tgx * tgx).sum(), tw, create_graph=True)
    third = cr.grad(cr.sum(gw**2), X)
    (tthird,) = torch.autograd.grad((tgw**2).sum(), tx)
    np.testing.assert_allclose(third, tthird.numpy(), rtol=1e-9)
    assert isinstance(gx, cr.ops.ConvInputGrad) or any(
        isinstance(n, cr.ops.ConvInputGrad) for n in cr.topological_sort(gx)
    )


def test_col2im_is_the_adjoint_of_im2col():
    """⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x and c: the definition of the adjoint."""
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[int, ...], dict[str, Any]]] = [
        ((2, 3, 6, 5), dict(kernel_size=3, padding=1)),
        ((2, 2, 5, 40), dict(kernel_size=3, stride=(1, 2))),
        ((1, 2, 9, 8), dict(kernel_size=(2, 3), dilation=2, padding=(1, 2))),
    ]
    for shape, kw in cases:
        x = rng.standard_normal(shape)
        cols = cr.ops.im2col(x, **kw)
        c = rng.standard_normal(cols.shape)
        np.testing.assert_allclose(np.sum(cols * c), np.sum(x * cr.ops.col2im(c, shape, **kw)), rtol=1e-12)


def test_im2col_columns_are_the_windows():
    """Column (n, oy, ox) of im2col holds the window of x at that output pixel (checked by slicing)."""
    x = np.arange(2 * 2 * 5 * 20, dtype=np.float64).reshape(2, 2, 5, 20)
    cols = cr.ops.im2col(x, (3, 2), stride=(2, 1))  # (N, C, kh, kw, OH, OW)
    assert cols.shape == (2, 2, 3, 2, 2, 19)
    for n, oy, ox in [(0, 0, 0), (1, 1, 2), (0, 1, 1), (1, 0, 18)]:
        np.testing.assert_array_equal(cols[n, :, :, :, oy, ox], x[n, :, 2 * oy : 2 * oy + 3, ox : ox + 2])


def test_conv_keeps_float32_arrays_in_arrays_out_and_holds_no_buffers():
    x = cr.Variable(np.ones((2, 3, 5, 5), np.float32))
    w = cr.Variable(np.ones((4, 3, 3, 3), np.float32))
    out = cr.conv2d(x, w, padding=1)
    assert isinstance(out, cr.Conv2D) and out.dtype == np.float32 and out.shape == (2, 4, 5, 5)
    cr.sum(out).backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert isinstance(cr.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))), np.ndarray)
    # no columns or other arrays stay on the node after forward and backward: only its options
    assert not [k for k, v in vars(out).items() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("keep", [1 << 20, 0])  # small columns kept from the forward pass, or built again
def test_conv_keeps_small_columns_only_until_its_backward(monkeypatch, keep):
    """A small convolution keeps its input's columns from the forward pass for the weight
    gradient, and drops them in its backward; a second backward, and a re-run of a Graph with
    another feed, build them again from the x they are given: every gradient is PyTorch's."""
    monkeypatch.setattr(cr.ops.conv, "KEEP_BYTES", keep)
    rng = np.random.default_rng(5)
    x0, x1, w0 = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3))

    def torch_grads(x: np.ndarray) -> tuple:
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w0, requires_grad=True)
        gx, gw = torch.autograd.grad((F.conv2d(tx, tw, padding=1) ** 2).sum(), (tx, tw))
        return gx.numpy(), gw.numpy()

    X, W = cr.Variable(x0), cr.Variable(w0)
    out = cr.conv2d(X, W, padding=1)
    assert (out._columns is not None) == bool(keep)
    loss = cr.sum(out**2)
    loss.backward(retain_graph=True)
    assert out._columns is None
    for _ in range(2):  # the first backward, then a second that builds the columns again
        np.testing.assert_allclose(X.grad, torch_grads(x0)[0], rtol=1e-12)
        np.testing.assert_allclose(W.grad, torch_grads(x0)[1], rtol=1e-12)
        X.grad = W.grad = None
        loss.backward(retain_graph=True)
    p = cr.Placeholder(name="x")
    graph = cr.Graph(cr.sum(cr.conv2d(p, W, padding=1) ** 2))
    for x in (x0, x1, x0):
        W.grad = None
        graph.forward({p: x})
        graph.backward()
        np.testing.assert_allclose(W.grad, torch_grads(x)[1], rtol=1e-12)


def test_conv2d_on_a_larger_batch_matches_torch_in_float32():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((64, 8, 12, 12), (16, 8, 3, 3), (16,)))
    for kw in (dict(stride=2, padding=1), dict(padding="same")):
        out = cr.conv2d(x, w, b, **kw)
        expected = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: cr.conv2d(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3))), ["(2, 3, 5, 5)", "(4, 2, 3, 3)"]),
        (lambda: cr.conv2d(np.ones((5, 5)), np.ones((4, 3, 3, 3))), ["NCHW", "(5, 5)"]),
        (lambda: cr.conv1d(np.ones((1, 2, 3, 4)), np.ones((4, 2, 3))), ["NCL", "(1, 2, 3, 4)"]),
        (lambda: cr.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), ["kernel (3, 3)", "(1, 1, 2, 2)"]),
        (lambda: cr.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), dilation=2), ["covers (5, 5)"]),
        (lambda: cr.conv2d(np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.ones(2)), ["bias", "(2,)"]),
        (lambda: cr.conv2d(np.ones((1, 4, 4, 4)), np.ones((3, 2, 3, 3)), groups=2), ["groups=2", "(3, 2, 3, 3)"]),
    ],
)
def test_shape_errors_name_the_shapes(call, words):
    raises_naming(cr.errors.ShapeError, call, *words)


def test_errors_on_nodes_name_the_op_and_leave_the_graph_unchanged():
    x, w = cr.Variable(np.ones((2, 3, 5, 5)), name="image"), cr.Variable(np.ones((4, 2, 3, 3)), name="kernel")
    with pytest.raises(cr.errors.ShapeError, match="Conv2D.*image.*kernel"):
        cr.conv2d(x, w)
    xp = cr.Placeholder(name="xp")
    graph = cr.Graph(cr.conv2d(xp, cr.Variable(np.ones((2, 3, 3, 3)))))
    graph.forward({xp: np.ones((1, 3, 4, 4))})
    before = graph.output.value.copy()
    with pytest.raises(cr.errors.ShapeError, match="Conv2D"):
        graph.forward({xp: np.ones((1, 2, 4, 4))})
    np.testing.assert_array_equal(graph.output.value, before)


@pytest.mark.parametrize(
    "call, option, value",
    [
        (lambda x, w: cr.conv2d(x, w, stride=0), "stride", "0"),
        (lambda x, w: cr.conv2d(x, w, stride=(1, 2, 3)), "stride", "(1, 2, 3)"),
        (lambda x, w: cr.conv2d(x, w, padding=-1), "padding", "-1"),
        (lambda x, w: cr.conv2d(x, w, padding="full"), "padding", "'full'"),
        (lambda x, w: cr.conv2d(x, w, padding="same", stride=2), "padding", "'same'"),
        (lambda x, w: cr.conv2d(x, w, dilation=0), "dilation", "0"),
        (lambda x, w: cr.conv2d(x, w, groups=0), "groups", "0"),
        (lambda x, w: cr.conv2d(x, w, groups=1.5), "groups", "1.5"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda x, w: cr.conv1d(x, w, stride=(1, 1)), "stride", "(1, 1)"),
        (lambda x, w: cr.conv1d(x, w, padding=True), "padding", "True"),
    ],
)
def test_bad_options_raise_option_error_when_the_node_is_built(call, option, value):
    """Before any value exists (placeholders): OptionError naming the op and its node, the
    option, the value given and what is allowed."""
    x, w = cr.Placeholder(name="pixels"), cr.Variable(np.ones((2, 3, 3, 3)), name="kernel")
    raises_naming(cr.errors.OptionError, lambda: call(x, w), "Conv", "D 'conv", f"{option}={value} is not")
