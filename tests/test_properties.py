"""Property-based: random graphs of up to 30 ops, drawn from the op list, with
fan-out (any earlier node may be an operand again, several times) and
broadcasting between leaves of different shapes, agree with PyTorch in every
node's value and every leaf's gradient."""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import chainrule as cr

M = np.random.default_rng(99).standard_normal((4, 4)) / 2
LEAF_SHAPES = [(3, 4), (4,), (3, 1), (1, 4), ()]
ROWS = [0, 2, 0]


def _full(a):
    """a broadcast to (3, 4): ops that need an axis get one."""
    return cr.broadcast_to(a, (3, 4)) if isinstance(a, cr.Node) else a.broadcast_to(3, 4)


UNARY = {
    "neg": (lambda a: -a, lambda a: -a),
    "abs": (cr.abs, torch.abs),
    "tanh": (cr.tanh, torch.tanh),
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "sin": (cr.sin, torch.sin),
    "cos": (cr.cos, torch.cos),
    "relu": (cr.relu, torch.relu),
    "leaky_relu": (cr.leaky_relu, F.leaky_relu),
    "softplus": (cr.softplus, F.softplus),
    "gelu": (cr.gelu, F.gelu),
    "square": (lambda a: a**2, lambda a: a**2),
    "exp_neg_square": (lambda a: cr.exp(-a * a), lambda a: torch.exp(-a * a)),
    "log_1p_square": (lambda a: cr.log(1.0 + a * a), lambda a: torch.log(1.0 + a * a)),
    "sqrt_1p_square": (lambda a: cr.sqrt(a * a + 1.0), lambda a: torch.sqrt(a * a + 1.0)),
    "clip": (lambda a: cr.clip(a, -0.8, 0.9), lambda a: a.clamp(-0.8, 0.9)),
    "scale": (lambda a: 0.5 * a + 1.0, lambda a: 0.5 * a + 1.0),
    "softmax": (lambda a: cr.softmax(_full(a)), lambda a: torch.softmax(_full(a), -1)),
    "log_softmax0": (lambda a: cr.log_softmax(_full(a), axis=0), lambda a: torch.log_softmax(_full(a), 0)),
    "sum_rows": (lambda a: cr.sum(_full(a), axis=1, keepdims=True), lambda a: _full(a).sum(1, keepdim=True)),
    "mean_cols": (lambda a: cr.mean(_full(a), axis=0, keepdims=True), lambda a: _full(a).mean(0, keepdim=True)),
    "max_rows": (lambda a: cr.max(_full(a), axis=1, keepdims=True), lambda a: _full(a).amax(1, keepdim=True)),
    "min_all": (lambda a: cr.min(a), lambda a: a.amin()),
    "var_all": (lambda a: cr.var(_full(a)), lambda a: _full(a).var(correction=0)),
    "matmul": (lambda a: _full(a) @ M, lambda a: _full(a) @ torch.tensor(M)),
    "reshape_T": (lambda a: cr.reshape(_full(a), (4, 3)).T, lambda a: _full(a).reshape(4, 3).T),
    "rows": (lambda a: _full(a)[ROWS], lambda a: _full(a)[ROWS]),
    "pad_crop": (
        lambda a: cr.pad(_full(a), ((1, 1), (2, 0)), value=0.5)[1:-1, :4],
        lambda a: F.pad(_full(a), (2, 0, 1, 1), value=0.5)[1:-1, :4],
    ),
    "concat_halves": (
        lambda a: cr.concat([_full(a)[:, 2:], _full(a)[:, :2] * 2.0], axis=1),
        lambda a: torch.cat([_full(a)[:, 2:], _full(a)[:, :2] * 2.0], 1),
    ),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (1.0 + b * b), lambda a, b: a / (1.0 + b * b)),
    "maximum": (cr.maximum, torch.maximum),
    "minimum": (cr.minimum, torch.minimum),
    "where": (lambda a, b: cr.where(a > b, a * b, b - a), lambda a, b: torch.where(a > b, a * b, b - a)),
    "stack_mean": (
        lambda a, b: cr.mean(cr.stack([_full(a), _full(b)]), axis=0),
        lambda a, b: torch.stack([_full(a), _full(b)]).mean(0),
    ),
    "linear": (lambda a, b: cr.linear(_full(a), M, b), lambda a, b: _full(a) @ torch.tensor(M) + b),
}
OPS = sorted(UNARY) + sorted(BINARY)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_graphs_match_torch(data):
    n_leaves = data.draw(st.integers(1, 3), label="leaves")
    shapes = [data.draw(st.sampled_from(LEAF_SHAPES), label=f"shape{i}") for i in range(n_leaves)]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    values = [rng.standard_normal(s) for s in shapes]
    leaves = [cr.Variable(v, name=f"leaf{i}") for i, v in enumerate(values)]
    t_leaves = [torch.tensor(v, requires_grad=True) for v in values]
    pool, t_pool = list(leaves), list(t_leaves)
    try:
        for step in range(data.draw(st.integers(1, 30), label="ops")):
            name = data.draw(st.sampled_from(OPS), label=f"op{step}")
            fn, t_fn = UNARY[name] if name in UNARY else BINARY[name]
            picks = [data.draw(st.integers(0, len(pool) - 1)) for _ in range(1 if name in UNARY else 2)]
            pool.append(fn(*[pool[i] for i in picks]))
            t_pool.append(t_fn(*[t_pool[i] for i in picks]))
        # every node feeds the output, each with its own weight: all paths count
        loss = sum(cr.sum(node * ((i % 5) / 5 - 0.4)) for i, node in enumerate(pool))
    except FloatingPointError:
        reject()  # overflow in a random chain of squares: not a meaningful case
    if any(np.max(np.abs(node.value), initial=0) > 1e6 for node in pool):
        reject()
    t_loss = sum((node * ((i % 5) / 5 - 0.4)).sum() for i, node in enumerate(t_pool))
    for node, t_node in zip(pool, t_pool):
        assert node.shape == tuple(t_node.shape), repr(node)
        np.testing.assert_allclose(node.value, t_node.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=repr(node))
    grads = cr.grad(loss, leaves)
    assert isinstance(t_loss, torch.Tensor)
    t_grads = torch.autograd.grad(t_loss, t_leaves, allow_unused=True)
    for leaf, g, tg in zip(leaves, grads, t_grads):
        assert g.shape == leaf.shape
        np.testing.assert_allclose(g, np.zeros_like(g) if tg is None else tg.numpy(), rtol=1e-8, atol=1e-10)
