"""nn.MultiheadAttention against torch.nn.MultiheadAttention given the same weights (loaded
through the state dict, whose names must equal torch's): outputs, attention weights, and
the gradients of every input and parameter under a random upstream gradient, for boolean
and float masks, batch_first or not, unbatched input, kdim/vdim; eagerly and define-then-run."""

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

E, H, N, L, S = 8, 2, 3, 4, 5


def twins(**kwargs):
    torch.manual_seed(0)
    tmodule = torch.nn.MultiheadAttention(E, H, **kwargs).double()
    module = nn.MultiheadAttention(E, H, **kwargs).to("float64")
    assert list(module.state_dict()) == list(tmodule.state_dict())
    module.load_state_dict({k: v.detach().numpy() for k, v in tmodule.state_dict().items()})
    return module, tmodule


def inputs(rng, batch_first=True, kdim=E, vdim=E, batched=True):
    def shape(length, dim):
        if not batched:
            return (length, dim)
        return (N, length, dim) if batch_first else (length, N, dim)

    return [rng.standard_normal(shape(length, dim)) for length, dim in ((L, E), (S, kdim), (S, vdim))]


def masks(rng, kind, batched=True):
    """key_padding_mask and attn_mask of ``kind``: None, "bool", "float" or "3d" (per head)."""
    if kind is None:
        return None, None
    pad = np.zeros((N, S) if batched else (S,), bool)
    pad[..., S - 2 :] = True  # the last keys are padding (every query keeps some keys)
    attn = rng.random((L, S)) < 0.3
    attn[:, 0] = False
    if kind == "float":
        return np.where(pad, -1e4, rng.standard_normal(pad.shape) * 0.1), rng.standard_normal((L, S))
    if kind == "3d":
        attn = rng.random((N * H, L, S)) < 0.3
        attn[..., 0] = False
    return pad, attn


def compare(module, tmodule, arrays, pad, attn, **kwargs):
    rng = np.random.default_rng(1)
    nodes = [cr.Variable(a) for a in arrays]
    tnodes = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, weights = module(*nodes, key_padding_mask=pad, attn_mask=attn, **kwargs)
    tout, tweights = tmodule(
        *tnodes,
        key_padding_mask=None if pad is None else torch.tensor(pad),
        attn_mask=None if attn is None else torch.tensor(attn),
        **kwargs,
    )
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    total, ttotal = cr.sum(out * (up := rng.standard_normal(out.shape))), (tout * torch.tensor(up)).sum()
    if tweights is not None:
        np.testing.assert_allclose(weights.value, tweights.detach().numpy(), rtol=1e-9, atol=1e-12)
        wup = rng.standard_normal(weights.shape)
        total, ttotal = total + cr.sum(weights * wup), ttotal + (tweights * torch.tensor(wup)).sum()
    else:
        assert weights is None
    total.backward()
    ttotal.backward()
    for i, (node, tnode) in enumerate(zip(nodes, tnodes)):
        assert tnode.grad is not None
        np.testing.assert_allclose(node.grad, tnode.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=f"input {i}")
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mask", [None, "bool", "float", "3d"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_matches_torch_with_masks(batch_first, mask):
    rng = np.random.default_rng(0)
    module, tmodule = twins(batch_first=batch_first)
    compare(module, tmodule, inputs(rng, batch_first), *masks(rng, mask))


@pytest.mark.parametrize(
    "kwargs, call",
    [
        (dict(kdim=3, vdim=6, batch_first=True), {}),
        (dict(bias=False), dict(need_weights=False)),
        (dict(batch_first=True), dict(average_attn_weights=False)),
        (dict(dropout=0.5, batch_first=True), {}),  # compared in eval mode: no dropout
    ],
)
def test_options_match_torch(kwargs, call):
    rng = np.random.default_rng(0)
    module, tmodule = twins(**kwargs)
    module.eval(), tmodule.eval()
    arrays = inputs(rng, kwargs.get("batch_first", False), kwargs.get("kdim", E), kwargs.get("vdim", E))
    compare(module, tmodule, arrays, *masks(rng, "bool"), **call)


def test_unbatched_input_matches_torch():
    rng = np.random.default_rng(0)
    module, tmodule = twins(batch_first=True)
    compare(module, tmodule, inputs(rng, batched=False), *masks(rng, "bool", batched=False))


def test_self_attention_with_causal_mask_matches_torch():
    rng = np.random.default_rng(0)
    module, tmodule = twins(batch_first=True)
    x = rng.standard_normal((N, L, E))
    causal = np.triu(np.ones((L, L), bool), k=1)
    node, tx = cr.Variable(x), torch.tensor(x, requires_grad=True)
    out, _ = module(node, node, node, attn_mask=causal, is_causal=True)
    tout, _ = tmodule(tx, tx, tx, attn_mask=torch.tensor(causal), is_causal=True)
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    cr.sum(out**2).backward()
    (tout**2).sum().backward()
    assert tx.grad is not None
    np.testing.assert_allclose(node.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-12)  # three uses of x add up
    with pytest.raises(cr.errors.OptionError, match="is_causal"):
        module(node, node, node, is_causal=True)


def test_dropout_on_the_attention_weights_while_training():
    module = nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True)
    x = np.random.default_rng(0).standard_normal((N, L, E)).astype(np.float32)
    nn.manual_seed(3)
    _, w1 = module(x, x, x, average_attn_weights=False)
    nn.manual_seed(3)
    _, w2 = module(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(w1.value, w2.value)
    zeros = np.mean(w1.value == 0)
    assert 0.35 < zeros < 0.65  # about half the weights dropped, the rest scaled by 2
    np.testing.assert_allclose(np.sum(w1.value, axis=-1).mean(), 1.0, atol=0.3)


def test_define_then_run_equals_eager_and_float32_stays_float32():
    rng = np.random.default_rng(0)
    module, tmodule = twins(batch_first=True)
    module.to("float32")
    q, k, v = (a.astype(np.float32) for a in inputs(rng))
    pad, attn = masks(rng, "bool")
    eager_out, eager_w = module(q, k, v, key_padding_mask=pad, attn_mask=attn)
    assert eager_out.dtype == np.float32 and eager_w.dtype == np.float32
    places = [cr.Placeholder(name=n) for n in "qkv"]
    pad_p, attn_p = cr.Placeholder(name="pad", requires_grad=False), cr.Placeholder(name="attn", requires_grad=False)
    out, w = module(*places, key_padding_mask=pad_p, attn_mask=attn_p)
    graph = cr.Graph(cr.sum(out) + cr.sum(w))
    for batch in (N, 1):  # a different batch size on the second run
        feed: dict[cr.Node | str, Any] = dict(zip(places, (q[:batch], k[:batch], v[:batch])))
        feed.update(pad=pad[:batch], attn=attn)
        graph.forward(feed)
        ref_out, ref_w = module(q[:batch], k[:batch], v[:batch], key_padding_mask=pad[:batch], attn_mask=attn)
        np.testing.assert_array_equal(out.value, ref_out.value)
        np.testing.assert_array_equal(w.value, ref_w.value)
    tout, _ = tmodule(
        *(torch.tensor(a[:1], dtype=torch.float64) for a in (q, k, v)),
        key_padding_mask=torch.tensor(pad[:1]),
        attn_mask=torch.tensor(attn),
    )
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(cr.errors.ShapeError, match=r"batched 3-D input, got shape \(4, 8\)"):
        graph.forward({places[0]: q[0], places[1]: k[0], places[2]: v[0]})


@pytest.mark.parametrize(
    "kwargs, option",
    [
        (dict(embed_dim=8, num_heads=3), "num_heads"),
        (dict(embed_dim=0, num_heads=1), "embed_dim"),
        (dict(embed_dim=8, num_heads=2, dropout=1.5), "dropout"),
        (dict(embed_dim=8, num_heads=2, add_bias_kv=True), "add_bias_kv"),
        (dict(embed_dim=8, num_heads=2, kdim=0), "kdim"),
    ],
)
def test_options_are_checked_when_built(kwargs, option):
    with pytest.raises(cr.errors.OptionError, match=f"MultiheadAttention: {option}="):
        nn.MultiheadAttention(**kwargs)


def test_input_shapes_are_checked():
    module = nn.MultiheadAttention(E, H, kdim=3, batch_first=True)
    x = np.zeros((N, L, E), np.float32)
    with pytest.raises(cr.errors.ShapeError, match=r"key must have 2 or 3 axes and 3 features.*\(3, 4, 8\)"):
        module(x, x, x)
