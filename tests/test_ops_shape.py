"""Shape ops against PyTorch, central differences and grad-of-grad: reshape,
transpose/permute, swapaxes, expand/broadcast_to, squeeze/unsqueeze. Each only
moves elements, so its vjp moves the gradient back."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import ops

from oracle import Case, params, run_case

# (name, chainrule, torch, input shape)
OPS = [
    ("reshape", lambda x: cr.reshape(x, (4, 3)), lambda x: x.reshape(4, 3), (3, 4)),
    ("reshape_varargs", lambda x: cr.reshape(x, 2, -1), lambda x: x.reshape(2, -1), (3, 4)),
    ("reshape_method", lambda x: x.reshape(12), lambda x: x.reshape(12), (3, 4)),
    ("reshape_scalar", lambda x: cr.reshape(x, (1, 1)), lambda x: x.reshape(1, 1), ()),
    ("reshape_to_scalar", lambda x: cr.reshape(x, ()), lambda x: x.reshape(()), (1, 1)),
    ("reshape_3d", lambda x: cr.reshape(x, (4, 6)), lambda x: x.reshape(4, 6), (2, 3, 4)),
    ("transpose", cr.transpose, lambda x: x.T, (3, 4)),
    ("transpose_T", lambda x: x.T, lambda x: x.T, (3, 1)),
    ("transpose_1d", cr.transpose, lambda x: x, (4,)),
    ("transpose_3d", cr.transpose, lambda x: x.permute(2, 1, 0), (2, 3, 4)),
    ("transpose_axes", lambda x: cr.transpose(x, (1, 2, 0)), lambda x: x.permute(1, 2, 0), (2, 3, 4)),
    ("permute", lambda x: cr.permute(x, 2, 0, 1), lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    ("permute_method", lambda x: x.permute((0, 2, 1)), lambda x: x.permute(0, 2, 1), (2, 3, 4)),
    ("swapaxes", cr.swapaxes, lambda x: x.swapaxes(-1, -2), (3, 4)),
    ("swapaxes_0_2", lambda x: cr.swapaxes(x, 0, 2), lambda x: x.swapaxes(0, 2), (2, 3, 4)),
    ("swapaxes_batched", cr.swapaxes, lambda x: x.mT, (2, 3, 4)),
    ("broadcast_to", lambda x: cr.broadcast_to(x, (3, 4)), lambda x: x.broadcast_to(3, 4), (1, 4)),
    ("broadcast_to_col", lambda x: cr.broadcast_to(x, (2, 3, 4)), lambda x: x.broadcast_to(2, 3, 4), (3, 1)),
    ("broadcast_to_scalar", lambda x: cr.broadcast_to(x, (3, 4)), lambda x: x.broadcast_to(3, 4), ()),
    ("broadcast_to_1d", lambda x: cr.broadcast_to(x, 2, 3, 4), lambda x: x.broadcast_to(2, 3, 4), (4,)),
    ("expand", lambda x: cr.expand(x, 3, -1), lambda x: x.expand(3, -1), (1, 4)),
    ("expand_new_axis", lambda x: x.expand((2, -1, 4)), lambda x: x.expand(2, -1, 4), (3, 1)),
    ("squeeze", cr.squeeze, lambda x: x.squeeze(), (3, 1)),
    ("squeeze_axis", lambda x: cr.squeeze(x, 0), lambda x: x.squeeze(0), (1, 4)),
    ("squeeze_none", cr.squeeze, lambda x: x.squeeze(), (3, 4)),
    ("unsqueeze", lambda x: cr.unsqueeze(x, 0), lambda x: x.unsqueeze(0), (3, 4)),
    ("unsqueeze_last", lambda x: cr.unsqueeze(x, -1), lambda x: x.unsqueeze(-1), (4,)),
    ("unsqueeze_scalar", lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), ()),
    ("expand_dims", lambda x: cr.expand_dims(x, 1), lambda x: x.unsqueeze(1), (2, 3, 4)),
    # composed: a view of a view, and a broadcast reduced back by the engine
    ("transpose_reshape", lambda x: cr.reshape(x.T, (2, 6)) * 2.0, lambda x: x.T.reshape(2, 6) * 2.0, (3, 4)),
    ("sum_to_shape", lambda x: ops.sum_to_shape(x, (1, 4)), lambda x: x.sum(0, keepdim=True), (3, 4)),
    ("sum_to_shape_lead", lambda x: ops.sum_to_shape(x, (3, 1)), lambda x: x.sum((0, 2)).unsqueeze(-1), (2, 3, 4)),
]

CASES = [Case(f"{name}{shape}", f, tf, (shape,)) for name, f, tf, shape in OPS]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_shape_op(case, mode):
    run_case(case, mode)


# define-then-run: built on a Placeholder with no value, then fed different shapes
# (a new batch size each run); every shape must come from the fed value
LAZY = [
    ("squeeze", cr.squeeze, lambda x: x.squeeze(), [(3, 1), (1, 5, 1)]),
    ("squeeze_axis", lambda x: cr.squeeze(x, -1), lambda x: x.squeeze(-1), [(3, 1), (2, 4, 1)]),
    ("unsqueeze", lambda x: cr.unsqueeze(x, 1), lambda x: x.unsqueeze(1), [(3, 4), (5,)]),
    ("swapaxes", cr.swapaxes, lambda x: x.mT, [(3, 4), (2, 5, 3)]),
    ("swapaxes_vector", cr.swapaxes, lambda x: x, [(4,), ()]),
    ("T", lambda x: x.T, lambda x: x.permute(*reversed(range(x.ndim))), [(3, 4), (2, 3, 4)]),
    ("expand", lambda x: cr.expand(x, 2, -1, -1), lambda x: x.expand(2, -1, -1), [(3, 1), (1, 5)]),
    ("reshape_infer", lambda x: cr.reshape(x, (-1, 2)), lambda x: x.reshape(-1, 2), [(3, 4), (5, 2)]),
    ("broadcast_to", lambda x: cr.broadcast_to(x, (3, 4)), lambda x: x.broadcast_to(3, 4), [(1, 4), (3, 1)]),
    ("sum_keep", lambda x: cr.sum(x, axis=-1, keepdims=True), lambda x: x.sum(-1, keepdim=True), [(3, 4), (5, 2)]),
]


@pytest.mark.parametrize("name, f, tf, shapes", LAZY, ids=[row[0] for row in LAZY])
def test_define_then_run_takes_shapes_from_the_fed_value(name, f, tf, shapes):
    x = cr.Placeholder(name="x")
    graph = cr.Graph(f(x))
    rng = np.random.default_rng(0)
    for shape in shapes:
        xv = rng.standard_normal(shape)
        out = graph.forward({x: xv})
        tx = torch.tensor(xv, requires_grad=True)
        t_out = tf(tx)
        u = rng.standard_normal(tuple(t_out.shape))
        graph.backward(u)
        t_out.backward(torch.tensor(u))
        np.testing.assert_allclose(out, t_out.detach().numpy())
        assert tx.grad is not None
        np.testing.assert_allclose(x.grad, tx.grad.numpy())
