"""The nn loss modules and their functional forms with PyTorch's options (weight, ignore_index,
label_smoothing, pos_weight, reduction) against torch.nn's: values and the gradient of the
input under a random upstream gradient, float64 and float32; state dicts named as torch's."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

from oracle import Fixed, check_op

RNG = np.random.default_rng(0)
LABELS = np.array([0, 2, 1, -100, 2, 0])
SOFT = RNG.dirichlet(np.ones(3), size=6)
WEIGHT = np.array([0.5, 2.0, 1.0])
TARGET01 = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])

CASES = [
    ("CE weight", dict(weight=WEIGHT), "CrossEntropyLoss", (6, 3), LABELS),
    ("CE ignore_index 1", dict(ignore_index=1), "CrossEntropyLoss", (6, 3), np.abs(LABELS) % 3),
    ("CE label_smoothing", dict(label_smoothing=0.2), "CrossEntropyLoss", (6, 3), LABELS),
    ("CE all, sum", dict(weight=WEIGHT, label_smoothing=0.1, reduction="sum"), "CrossEntropyLoss", (6, 3), LABELS),
    ("CE all, none", dict(weight=WEIGHT, label_smoothing=0.1, reduction="none"), "CrossEntropyLoss", (6, 3), LABELS),
    ("CE probabilities", dict(weight=WEIGHT, label_smoothing=0.1), "CrossEntropyLoss", (6, 3), SOFT),
    ("CE (N, C, L)", dict(weight=WEIGHT), "CrossEntropyLoss", (2, 3, 4), RNG.integers(0, 3, (2, 4))),
    ("NLL weight", dict(weight=WEIGHT), "NLLLoss", (6, 3), LABELS),
    ("NLL ignore, sum", dict(ignore_index=0, reduction="sum"), "NLLLoss", (6, 3), np.abs(LABELS) % 3),
    ("BCE weight", dict(weight=np.array([1.0, 0.5, 2.0])), "BCELoss", (4, 3), TARGET01),
    ("BCE logits weight", dict(weight=np.array([1.0, 0.5, 2.0])), "BCEWithLogitsLoss", (4, 3), TARGET01),
    ("BCE logits pos_weight", dict(pos_weight=np.array([3.0, 1.0, 0.5])), "BCEWithLogitsLoss", (4, 3), TARGET01),
    (
        "BCE logits both, none",
        dict(weight=np.array([2.0]), pos_weight=np.array([3.0, 1.0, 0.5]), reduction="none"),
        "BCEWithLogitsLoss",
        (4, 3),
        TARGET01,
    ),
    ("MSE sum", dict(reduction="sum"), "MSELoss", (4, 3), TARGET01),
]


def torch_options(options, dtype):
    return {
        k: torch.tensor(v, dtype=torch.float64 if dtype == np.float64 else torch.float32)
        if isinstance(v, np.ndarray)
        else v
        for k, v in options.items()
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, options, cls, shape, target", CASES, ids=[c[0] for c in CASES])
def test_loss_module_matches_torch(name, options, cls, shape, target, dtype):
    loss, tloss = getattr(nn, cls)(**options), getattr(torch.nn, cls)(**torch_options(options, dtype))
    assert list(loss.state_dict()) == list(tloss.state_dict())  # weight, pos_weight: buffers
    low, high = (0.05, 0.95) if cls == "BCELoss" else (None, None)
    target = target.astype(dtype) if target.dtype.kind == "f" else target
    check_op(lambda x, t: loss(x, t), lambda x, t: tloss(x, t), [shape, Fixed(target)], dtype=dtype, low=low, high=high)


@pytest.mark.parametrize(
    "name, fn, tfn, args",
    [
        (
            "cross_entropy",
            lambda x, t: F.cross_entropy(x, t, WEIGHT, ignore_index=2, label_smoothing=0.3),
            lambda x, t: torch.nn.functional.cross_entropy(
                x, t, torch.tensor(WEIGHT, dtype=x.dtype), ignore_index=2, label_smoothing=0.3
            ),
            [(6, 3), Fixed(np.abs(LABELS) % 3)],
        ),
        (
            "nll_loss",
            lambda x, t: F.nll_loss(x, t, WEIGHT, reduction="none"),
            lambda x, t: torch.nn.functional.nll_loss(x, t, torch.tensor(WEIGHT, dtype=x.dtype), reduction="none"),
            [(6, 3), Fixed(LABELS)],
        ),
        (
            "binary_cross_entropy_with_logits",
            lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=np.array([2.0, 0.5, 1.0])),
            lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
                x, t, pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=x.dtype)
            ),
            [(4, 3), Fixed(TARGET01)],
        ),
    ],
)
def test_functional_loss_options_match_torch(name, fn, tfn, args):
    check_op(fn, tfn, args)


def test_an_elementwise_loss_meets_a_column_output_as_a_column():
    out, y = cr.Variable(RNG.standard_normal((5, 1))), np.array([0, 1, 1, 0, 1])
    tout = torch.tensor(out.value, requires_grad=True)
    loss = nn.BCEWithLogitsLoss(pos_weight=np.array([2.0]))(out, y)
    tloss = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0], dtype=torch.float64))(
        tout, torch.tensor(y, dtype=torch.float64).reshape(5, 1)
    )
    np.testing.assert_allclose(loss.value, tloss.item(), rtol=1e-12)
    with pytest.raises(cr.errors.ShapeError, match=r"output shape \(5, 1\) and target shape \(4,\)"):
        nn.MSELoss()(out, np.ones(4))


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda: nn.CrossEntropyLoss(weight=np.ones((3, 1))), "weight"),
        (lambda: nn.CrossEntropyLoss(weight=["a", "b"]), "weight"),
        (lambda: nn.CrossEntropyLoss(ignore_index=1.5), "ignore_index"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), "label_smoothing"),
        (lambda: nn.NLLLoss(reduction="avg"), "reduction"),
        (lambda: nn.BCEWithLogitsLoss(pos_weight="2"), "pos_weight"),
    ],
)
def test_loss_options_are_checked_when_built(make, option):
    with pytest.raises(cr.errors.OptionError, match=rf"Loss: {option}="):
        make()
