"""einsum and outer against torch.einsum / torch.outer: products, batched products,
attention's two einsums, traces and diagonals (a repeated index), sums inside one
operand, implicit output, '...' with broadcasting, three operands, empty operands;
values and gradients, eagerly and define-then-run, and to second order (the vjp is
an einsum, so it is differentiable again). Then scaled dot-product attention written
with einsum, differentiated twice, against PyTorch."""

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import Case, params, run_case

SPECS = [  # (subscripts, operand shapes)
    ("ij,jk->ik", (3, 4), (4, 2)),
    ("ij,jk", (3, 4), (4, 2)),  # implicit output
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)),  # attention scores
    ("bhqk,bhkd->bhqd", (2, 2, 3, 5), (2, 2, 5, 4)),  # attention-weighted values
    ("ii->i", (4, 4)),  # diagonal
    ("ii", (3, 3)),  # trace
    ("iij->j", (3, 3, 2)),
    ("ij->", (3, 4)),  # sum inside one operand
    ("ij->j", (3, 4)),
    ("ij->ji", (3, 4)),
    ("i,j->ij", (3,), (4,)),
    ("i,i->", (5,), (5,)),
    ("...ij,...jk->...ik", (2, 3, 4), (4, 5)),  # ellipsis, broadcast batch
    ("...i,...i", (2, 1, 3), (4, 3)),
    ("ij,ij->ij", (1, 4), (3, 4)),  # a length-1 axis broadcast
    ("ij,jk->ik", (3, 1), (4, 2)),  # a contracted letter of length 1 in one operand: broadcast
    ("ijk,jk->ik", (3, 1, 5), (4, 1)),  # one letter summed, another spread, in each operand
    ("ij,ij->i", (3, 1), (1, 4)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),  # three operands
    ("b i d, b j d -> b i j", (2, 3, 4), (2, 5, 4)),  # spaces
    ("ij,jk->ik", (3, 0), (0, 2)),  # empty: zeros out, empty gradients
    ("ij,j->i", (0, 4), (4,)),
    (",ij->ij", (), (3, 4)),  # a 0-d operand
]
CASES = [
    Case(
        f"einsum[{spec}]{shapes}",
        lambda *xs, spec=spec: cr.einsum(spec, *xs),
        lambda *xs, spec=spec: torch.einsum(spec, *xs),
        shapes,
    )
    for spec, *shapes in SPECS
]
CASES += [
    Case(
        "einsum_list_operands",
        lambda a, b: cr.einsum("ij,jk->ik", [a, b]),
        lambda a, b: torch.einsum("ij,jk->ik", [a, b]),
        ((3, 4), (4, 2)),
    ),
    Case("outer", cr.outer, torch.outer, ((3,), (4,))),
    Case("outer_empty", cr.outer, torch.outer, ((0,), (4,))),
    Case(
        "np_einsum",
        lambda a, b: np.einsum("ij,kj->ik", a, b),
        lambda a, b: torch.einsum("ij,kj->ik", a, b),
        ((3, 4), (2, 4)),
    ),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_einsum(case, mode):
    run_case(case, mode)


def _attention(lib, mask, q, k, v):
    """softmax(q kᵀ / √d, masked) v, written with einsum in either library."""
    scores = lib.einsum("bhqd,bhkd->bhqk", q, k) * (1.0 / np.sqrt(q.shape[-1]))
    if lib is torch:
        return torch.einsum("bhqk,bhkd->bhqd", torch.softmax(scores.masked_fill(mask, -np.inf), -1), v)
    return cr.einsum("bhqk,bhkd->bhqd", cr.softmax(cr.masked_fill(scores, mask, -np.inf), axis=-1), v)


def test_attention_written_with_einsum_is_differentiable_twice():
    """A Hessian-vector product of a causal attention block equals PyTorch's."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 2, 4, 3)) for _ in range(3))
    mask = np.triu(np.ones((4, 4), bool), 1)
    u, w = rng.standard_normal((2, 2, 4, 3)), rng.standard_normal((2, 2, 4, 3))
    nodes = [cr.Variable(a) for a in (q, k, v)]
    (gq,) = cr.grad(_attention(cr, mask, *nodes), [nodes[0]], grad_outputs=u, create_graph=True)
    hv = cr.grad(cr.sum(gq * w), nodes)
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    (tgq,) = torch.autograd.grad(
        _attention(torch, torch.tensor(mask), *tensors), [tensors[0]], torch.tensor(u), create_graph=True
    )
    thv = torch.autograd.grad((tgq * torch.tensor(w)).sum(), tensors)
    for got, want in zip(hv, thv):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "spec, shapes, message",
    [
        ("ij,jk->ik", [(3, 4)], "names 2 operands but got 1"),
        ("ijk->i", [(3, 4)], "has 2 dimensions"),
        ("ij->i2", [(3, 4)], "subscripts"),
    ],
)
def test_a_bad_einsum_names_the_problem(spec, shapes, message):
    with pytest.raises((cr.errors.ShapeError, cr.errors.OptionError), match=message):
        cr.einsum(spec, *[cr.Variable(np.ones(s)) for s in shapes])
