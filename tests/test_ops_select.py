"""Selecting, masking and reshaping ops issue 12 added, against PyTorch: flip, split, chunk,
gather, take_along_axis, masked_fill, tril/triu, pad with negative widths (cropping);
and negative axes through every shape op (the permute/transpose repro first).
Several shapes and keyword combinations per op, empty and 0-d included."""

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import MODES, Case, Fixed, params, run_case

rng = np.random.default_rng(5)


def _first(fn):
    """A function of one op's tuple output as one node (the pieces concatenated, times a
    different weight each, so every piece's gradient is checked on its own)."""

    def run(*xs):
        pieces = fn(*xs)
        return (
            [p * float(i + 1) for i, p in enumerate(pieces)][0]
            if len(pieces) == 1
            else (cr.concat if isinstance(xs[0], cr.Node) else torch.cat)(
                [p.reshape(-1) * float(i + 1) for i, p in enumerate(pieces)]
            )
        )

    return run


CASES = []
# flip: int, negative, tuple, None; 0-d and empty
FLIPS = [((4,), 0), ((3, 4), -1), ((2, 3, 4), (0, 2)), ((2, 3, 4), None), ((), 0), ((), None), ((3, 0), 1)]
CASES += [
    Case(
        f"flip{s}-axis{a}",
        lambda x, a=a: cr.flip(x, a),
        lambda x, a=a: torch.flip(x, tuple(range(x.ndim)) if a is None else np.atleast_1d(a).tolist()),
        (s,),
    )
    for s, a in FLIPS
]
# split (torch semantics): a size, a list of sizes; negative axes; a size that does not divide
SPLITS = [
    ((6, 4), 2, 0),
    ((6, 4), 4, 0),
    ((3, 5), 2, -1),
    ((3, 5), [1, 4], 1),
    ((2, 3, 4), [1, 1, 2], -1),
    ((6,), [6], 0),
    ((4, 0), 2, 0),
]
CASES += [
    Case(
        f"split{s}-{size}-axis{a}",
        _first(lambda x, size=size, a=a: cr.split(x, size, a)),
        _first(lambda x, size=size, a=a: torch.split(x, size, a)),
        (s,),
        modes=MODES if isinstance(size, int) else None,
    )  # a size needs the value: eager only
    for s, size, a in SPLITS
]
CHUNKS = [((6, 4), 3, 0), ((5, 4), 2, 0), ((3, 7), 3, -1), ((2, 3, 4), 2, 2)]
CASES += [
    Case(
        f"chunk{s}-{c}-axis{a}",
        _first(lambda x, c=c, a=a: cr.chunk(x, c, a)),
        _first(lambda x, c=c, a=a: torch.chunk(x, c, a)),
        (s,),
        modes=MODES,
    )
    for s, c, a in CHUNKS
]
# gather (torch.gather: an index shorter than x on the other axes) and take_along_axis
GATHERS = [
    ((3, 4), 1, (3, 2)),
    ((3, 4), 0, (2, 4)),
    ((3, 4), -1, (2, 5)),
    ((2, 3, 4), 1, (2, 5, 3)),
    ((4,), 0, (6,)),
    ((3, 4), 1, (3, 0)),
]
for s, a, idx_shape in GATHERS:
    index = rng.integers(0, s[a], size=idx_shape)  # repeats: their gradients add up
    CASES.append(
        Case(
            f"gather{s}-axis{a}-index{idx_shape}",
            lambda x, i, a=a: cr.gather(x, a, i),
            lambda x, i, a=a: torch.gather(x, a, i),
            (s, Fixed(index)),
        )
    )
TAKES = [((3, 4), 1, (3, 2)), ((3, 4), 0, (2, 1)), ((2, 3, 4), -1, (1, 3, 2))]  # NumPy broadcasts the others
for s, a, idx_shape in TAKES:
    index = rng.integers(0, s[a], size=idx_shape)
    full = np.broadcast_to(index, tuple(n if d == a % len(s) else max(n, s[d]) for d, n in enumerate(idx_shape)))
    CASES.append(
        Case(
            f"take_along_axis{s}-axis{a}",
            lambda x, i, a=a: cr.take_along_axis(x, i, a),
            lambda x, i, a=a, full=full: torch.gather(x, a, torch.tensor(np.ascontiguousarray(full))),
            (s, Fixed(index)),
        )
    )
# masked_fill: a mask that broadcasts, a value that is a number or a differentiable 0-d tensor
MASK = Fixed(rng.random((3, 4)) > 0.5)
CASES += [
    Case("masked_fill", lambda x, m: cr.masked_fill(x, m, -1.5), lambda x, m: x.masked_fill(m, -1.5), ((3, 4), MASK)),
    Case(
        "masked_fill_broadcast",
        lambda x, m: x.masked_fill(m, 0.0),
        lambda x, m: x.masked_fill(m, 0.0),
        ((2, 3, 4), Fixed(np.array([True, False, False, True]))),
    ),
    Case(
        "masked_fill_inf",
        lambda x, m: cr.softmax(cr.masked_fill(x, m, -np.inf), axis=-1),
        lambda x, m: torch.softmax(x.masked_fill(m, -np.inf), -1),
        ((3, 4), Fixed(np.triu(np.ones((3, 4), bool), 1))),
    ),
]
# tril / triu, diagonal offsets, batched, non-square
TRI = [((4, 4), 0), ((3, 5), 1), ((5, 3), -1), ((2, 3, 4), 0), ((2, 3, 4), -2), ((0, 3), 0)]
CASES += [
    Case(f"{fn}{s}-k{k}", lambda x, f=getattr(cr, fn), k=k: f(x, k), lambda x, f=getattr(torch, fn), k=k: f(x, k), (s,))
    for fn in ("tril", "triu")
    for s, k in TRI
]
# pad with negative widths: cropping (torch's flat order starts from the last axis)
PADS = [
    ((3, 4), ((1, -1), (-2, 1))),
    ((3, 4), ((0, 0), (-1, -1))),
    ((2, 3, 4), (-1, 2)),
    ((5,), ((-2, -2),)),
    ((3, 4), ((0, -3), (2, 0))),
]


def _torch_pad(width, ndim):
    w = np.broadcast_to(np.asarray(width), (ndim, 2))
    return tuple(int(v) for pair in w[::-1] for v in pair)


CASES += [
    Case(
        f"pad_crop{s}-{w}",
        lambda x, w=w: cr.pad(x, w, value=0.5),
        lambda x, w=w: F.pad(x, _torch_pad(w, x.ndim), value=0.5),
        (s,),
    )
    for s, w in PADS
]

# negative axes through every shape op (the issue's repro: a wrong gradient with no error)
NEGATIVE: list[tuple[Any, ...]] = [  # (name, chainrule, torch, *input shapes)
    ("permute_cube", lambda x: cr.permute(x, (-1, 0, 1)), lambda x: x.permute(-1, 0, 1), (2, 2, 2)),
    ("transpose_4d", lambda x: cr.transpose(x, (0, -2, -1, 1)), lambda x: x.permute(0, -2, -1, 1), (1, 2, 3, 4)),
    ("permute_all_negative", lambda x: x.permute(-2, -3, -1), lambda x: x.permute(-2, -3, -1), (2, 3, 4)),
    ("swapaxes_negative", lambda x: cr.swapaxes(x, -3, -1), lambda x: x.swapaxes(-3, -1), (2, 3, 4)),
    ("swapaxes_0d", lambda x: cr.swapaxes(x, 0, -1), lambda x: x.swapaxes(0, -1), ()),
    ("squeeze_negative", lambda x: cr.squeeze(x, -2), lambda x: x.squeeze(-2), (3, 1, 4)),
    ("squeeze_tuple", lambda x: cr.squeeze(x, (0, -1)), lambda x: x.squeeze((0, -1)), (1, 3, 1)),
    ("squeeze_not_one", lambda x: cr.squeeze(x, 0), lambda x: x.squeeze(0), (3, 4)),
    ("squeeze_0d_tuple", lambda x: cr.squeeze(x, (0,)), lambda x: x.squeeze((0,)), ()),
    ("squeeze_0d", lambda x: cr.squeeze(x, -1), lambda x: x.squeeze(-1), ()),
    ("unsqueeze_negative", lambda x: cr.unsqueeze(x, -3), lambda x: x.unsqueeze(-3), (3, 4)),
    ("unsqueeze_0d", lambda x: cr.unsqueeze(x, -1), lambda x: x.unsqueeze(-1), ()),
    (
        "concat_negative",
        lambda a, b: cr.concat([a, b], axis=-2),
        lambda a, b: torch.cat([a, b], -2),
        (2, 3, 4),
        (2, 1, 4),
    ),
    ("stack_negative", lambda a, b: cr.stack([a, b], axis=-2), lambda a, b: torch.stack([a, b], -2), (3, 4), (3, 4)),
    ("softmax_0d", lambda x: cr.softmax(x, axis=0), lambda x: torch.softmax(x, 0), ()),
    ("log_softmax_negative", lambda x: cr.log_softmax(x, axis=-3), lambda x: torch.log_softmax(x, -3), (2, 3, 4)),
    ("mean_0d_axis0", lambda x: cr.mean(x, axis=0), lambda x: torch.mean(x, 0), ()),
    ("var_0d_axis_tuple", lambda x: cr.var(x, axis=(0,)), lambda x: torch.var(x, (0,), correction=0), ()),
]
CASES += [Case(f"{name}{shapes}", f, tf, shapes) for name, f, tf, *shapes in NEGATIVE]
# empty inputs through the shape and join ops
EMPTY: list[tuple[Any, ...]] = [
    ("softmax_5_0_0", lambda x: cr.softmax(x, axis=-1), lambda x: torch.softmax(x, -1), (5, 0, 0)),
    ("log_softmax_empty", lambda x: cr.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, 0), (0, 3)),
    ("transpose_empty", lambda x: cr.permute(x, (-1, 0)), lambda x: x.permute(-1, 0), (0, 3)),
    ("reshape_empty", lambda x: cr.reshape(x, (3, 0, 2)), lambda x: x.reshape(3, 0, 2), (0, 6)),
    ("concat_empty", lambda a, b: cr.concat([a, b]), lambda a, b: torch.cat([a, b]), (0, 3), (2, 3)),
    ("stack_empty", lambda a, b: cr.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1), (0, 2), (0, 2)),
    ("getitem_empty", lambda x: x[:, 1:1], lambda x: x[:, 1:1], (3, 4)),
    ("pad_empty", lambda x: cr.pad(x, 1), lambda x: F.pad(x, (1, 1, 1, 1)), (0, 2)),
    ("matmul_empty", lambda a, b: a @ b, lambda a, b: a @ b, (3, 0), (0, 4)),
    ("broadcast_empty", lambda x: cr.broadcast_to(x, (0, 4)), lambda x: x.broadcast_to(0, 4), (1, 4)),
]
CASES += [Case(name, f, tf, shapes) for name, f, tf, *shapes in EMPTY]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_select(case, mode):
    run_case(case, mode)


def test_permute_with_negative_axes_repro():
    """The issue's repro: forward equal to PyTorch's, and the gradient too."""
    a = np.arange(8.0).reshape(2, 2, 2)
    g = np.arange(8.0).reshape(2, 2, 2) * 0.5 + 1
    x = cr.Variable(a)
    cr.permute(x, (-1, 0, 1)).backward(g)
    tx = torch.tensor(a, requires_grad=True)
    tx.permute(-1, 0, 1).backward(torch.tensor(g))
    assert tx.grad is not None
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    y = cr.Variable(np.ones((1, 2, 3, 4)))
    cr.transpose(y, (0, -2, -1, 1)).backward(np.ones((1, 3, 4, 2)))
    np.testing.assert_array_equal(y.grad, np.ones((1, 2, 3, 4)))


@pytest.mark.parametrize("shape, axis", [((0, 4), 0), ((4, 0), 1), ((3, 0), -1)])
@pytest.mark.parametrize("size", [1, 2, 5])
def test_split_and_chunk_of_an_empty_axis_match_torch(shape, axis, size):
    """PyTorch's counts: split makes one empty piece, chunk makes ``chunks`` of them (before,
    split made none and chunk one); the gradient of every piece reaches x."""
    x, tx = cr.Variable(np.zeros(shape)), torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    for ours, theirs in (
        (cr.split(x, size, axis), torch.split(tx, size, axis)),
        (cr.chunk(x, size, axis), torch.chunk(tx, size, axis)),
    ):
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
        cr.sum(cr.concat(ours, axis=axis) * 2.0).backward()
        assert x.grad is not None and x.grad.shape == shape
        x.zero_grad()


def test_split_in_a_define_then_run_graph_takes_a_list_of_sizes():
    x = cr.Placeholder(name="x")
    a, b = cr.split(x, [1, 3], axis=-1)
    graph = cr.Graph(cr.sum(a * 2.0) + cr.sum(b))
    xv = np.arange(8.0).reshape(2, 4)
    assert graph.forward({x: xv}) == 2 * xv[:, :1].sum() + xv[:, 1:].sum()
    graph.backward()
    np.testing.assert_array_equal(x.grad, [[2, 1, 1, 1], [2, 1, 1, 1]])
    with pytest.raises(cr.errors.OptionError, match="list of sizes"):
        cr.split(cr.Placeholder(name="y"), 2)


def test_the_issues_0d_repros_follow_pytorchs_rule():
    """Axis 0 and -1 of a 0-d tensor are accepted by every op that takes an axis."""
    s, ts = cr.Variable(np.float64(2.5)), torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    pairs = [
        (cr.mean(s, axis=0), ts.mean(0)),
        (cr.var(s, axis=0), ts.var(0, correction=0)),
        (cr.swapaxes(s, 0, 0), ts.swapaxes(0, 0)),
        (cr.squeeze(s, (0,)), ts.squeeze((0,))),
        (cr.sum(s, axis=-1), ts.sum(-1)),
        (cr.max(s, axis=0), ts.amax(0)),
        (cr.softmax(s, axis=0), ts.softmax(0)),
        (cr.logsumexp(s, axis=-1), ts.logsumexp(-1)),
        (cr.cumsum(s, axis=0), ts.cumsum(0)),
        (cr.flip(s, 0), ts.flip(0)),
        (cr.argmax(s, axis=0), ts.argmax(0)),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape) and float(ours.value) == theirs.item()
