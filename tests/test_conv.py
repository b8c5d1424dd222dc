"""Convolution and pooling ops against torch.nn.functional, central differences and
grad-of-grad (the shared oracle's modes), plus im2col/col2im adjointness and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule import ops
from oracle import Case, Value, params, run_case

# (input, weight, stride, padding): square and rectangular kernels, strides that do
# not divide the image (unused border rows), padding, a 1x1 kernel
CONV = [
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1),
    ((1, 2, 7, 6), (3, 2, 3, 2), 2, 1),
    ((2, 2, 5, 5), (2, 2, 2, 3), (2, 1), (0, 1)),
    ((3, 4, 4, 4), (5, 4, 1, 1), 1, 0),
    ((1, 2, 4, 18), (2, 2, 3, 3), 1, 1),  # output rows >= SHORT_ROWS: the strided block-copy path
]
CASES = [Case(f"conv2d{x}{w}s{s}p{p}", lambda x, w, b, s=s, p=p: cr.conv2d(x, w, b, stride=s, padding=p),
              lambda x, w, b, s=s, p=p: F.conv2d(x, w, b, stride=s, padding=p), (x, w, (w[0],)))
         for x, w, s, p in CONV]
CASES += [Case("conv2d_nobias", lambda x, w: cr.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, padding=1),
               ((2, 3, 5, 4), (2, 3, 3, 3)))]

# (input, kernel, stride, padding)
POOL = [((2, 3, 6, 6), 2, None, 0), ((2, 2, 7, 5), 3, 2, 1), ((1, 2, 5, 6), (2, 3), (1, 2), 0),
        ((2, 1, 4, 4), 4, None, 0), ((1, 2, 4, 36), 2, None, 0)]
for fn, tfn in ((cr.max_pool2d, F.max_pool2d), (cr.avg_pool2d, F.avg_pool2d)):
    CASES += [Case(f"{fn.__name__}{x}k{k}s{s}p{p}", lambda x, fn=fn, k=k, s=s, p=p: fn(x, k, s, p),
                   lambda x, tfn=tfn, k=k, s=s, p=p: tfn(x, k, s, p), (x,)) for x, k, s, p in POOL]
# max pooling with ties: PyTorch sends the gradient to the first maximum of each window
TIES = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]]])
CASES += [Case("max_pool2d_ties", lambda x: cr.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2), (Value(TIES),),
               modes=("torch64", "torch32")),
          Case("max_pool2d_overlap_ties", lambda x: cr.max_pool2d(x, 3, 1, 1), lambda x: F.max_pool2d(x, 3, 1, 1),
               (Value(TIES),), modes=("torch64", "torch32"))]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_conv_and_pool(case, mode):
    run_case(case, mode)


@pytest.mark.parametrize("x_shape, kernel, stride, padding", [
    ((2, 3, 6, 5), (3, 3), 1, 1), ((1, 2, 7, 6), (3, 2), 2, 0), ((2, 2, 5, 40), (3, 3), (1, 2), 1)])  # long rows
def test_col2im_is_the_adjoint_of_im2col(x_shape, kernel, stride, padding):
    """⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x and c: the definition of the adjoint."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    cols = ops.im2col(x, kernel, stride, padding)
    c = rng.standard_normal(cols.shape)
    back = ops.col2im(c, x_shape, kernel, stride, padding)
    assert back.shape == x_shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


@pytest.mark.parametrize("width", [4, 20])  # both the index path and the block-copy path
def test_im2col_columns_are_the_windows(width):
    """Column (n, oy, ox) of im2col holds the window of x at that output pixel (checked by slicing)."""
    x = np.arange(2 * 2 * 5 * width, dtype=np.float64).reshape(2, 2, 5, width)
    cols = ops.im2col(x, (3, 2), stride=(2, 1), padding=0)  # (C, kh, kw, N, OH, OW)
    assert cols.shape == (2, 3, 2, 2, 2, width - 1)
    for n, oy, ox in [(0, 0, 0), (1, 1, 2), (0, 1, 1), (1, 0, width - 2)]:
        np.testing.assert_array_equal(cols[:, :, :, n, oy, ox], x[n, :, 2 * oy:2 * oy + 3, ox:ox + 2])


def test_conv2d_keeps_float32_and_is_one_node():
    x = cr.Variable(np.ones((2, 3, 5, 5), np.float32))
    w = cr.Variable(np.ones((4, 3, 3, 3), np.float32))
    out = cr.conv2d(x, w, padding=1)
    assert isinstance(out, cr.Conv2D) and out.dtype == np.float32 and out.shape == (2, 4, 5, 5)
    cr.sum(out).backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert isinstance(cr.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))), np.ndarray)  # arrays in, array out


def test_conv2d_on_a_larger_batch_matches_torch_in_float32():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((64, 8, 12, 12)), rng.standard_normal((16, 8, 3, 3)), rng.standard_normal(16)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    out = cr.conv2d(x, w, b, stride=2, padding=1)
    expected = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, words", [
    (lambda: cr.conv2d(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3))), ["(2, 3, 5, 5)", "(4, 2, 3, 3)"]),
    (lambda: cr.conv2d(np.ones((3, 5, 5)), np.ones((4, 3, 3, 3))), ["NCHW", "(3, 5, 5)"]),
    (lambda: cr.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), ["kernel 3", "(1, 1, 2, 2)"]),
    (lambda: cr.conv2d(np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.ones(2)), ["bias", "(2,)"]),
    (lambda: cr.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), ["padding", "half"]),
    (lambda: cr.avg_pool2d(np.ones((4, 4)), 2), ["NCHW", "(4, 4)"]),
    (lambda: cr.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=0), ["stride"]),
])
def test_errors_name_the_shapes(call, words):
    with pytest.raises(cr.errors.ShapeError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_errors_on_nodes_name_the_op():
    x, w = cr.Variable(np.ones((2, 3, 5, 5)), name="image"), cr.Variable(np.ones((4, 2, 3, 3)), name="kernel")
    with pytest.raises(cr.errors.ShapeError, match="Conv2D.*image.*kernel"):
        cr.conv2d(x, w)
