"""Losses against PyTorch, central differences and grad-of-grad, for every
reduction, and their stability at |x| = 1e4.

mse(y, ŷ) = mean((y - ŷ)²); BCE on probabilities and on logits; cross-entropy on
logits with integer labels (class axis 1, or 0 for one example) or with class
probabilities; nll on log-probabilities.
"""

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import Case, Fixed, check_stable, params, run_case

REDUCTIONS = ("mean", "sum", "none")
rng = np.random.default_rng(7)
LABELS = {(5,): rng.integers(0, 4, size=5), (): np.array(2), (2, 3): rng.integers(0, 4, size=(2, 3))}
LOGITS = {(5,): (5, 4), (): (4,), (2, 3): (2, 4, 3)}  # label shape -> logits shape (class axis 1, or 0)
TARGETS01 = Fixed(rng.integers(0, 2, size=(3, 4)).astype(float))


def _cases(r):
    cases = [
        Case(f"mse{s}-{r}", lambda y, p: cr.mse(y, p, reduction=r), lambda y, p: F.mse_loss(p, y, reduction=r), (s, s))
        for s in [(), (4,), (3, 4), (2, 3, 4)]
    ]
    cases += [
        Case(
            f"mse_broadcast-{r}",
            lambda y, p: cr.mse(y, p, reduction=r),
            lambda y, p: F.mse_loss(p.expand(3, 4), y, reduction=r),
            ((3, 4), (1, 4)),
        ),
        Case(
            f"bce-{r}",
            lambda p, t: cr.binary_cross_entropy(p, t, reduction=r),
            lambda p, t: F.binary_cross_entropy(p, t, reduction=r),
            ((3, 4), (3, 4)),
            low=0.05,
            high=0.95,
        ),
        Case(
            f"bce_hard_targets-{r}",
            lambda p, t: cr.binary_cross_entropy(p, t, reduction=r),
            lambda p, t: F.binary_cross_entropy(p, t, reduction=r),
            ((3, 4), TARGETS01),
            low=0.05,
            high=0.95,
        ),
        Case(
            f"bce_logits-{r}",
            lambda x, t: cr.binary_cross_entropy_with_logits(x, t, reduction=r),
            lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r),
            ((3, 4), (3, 4)),
        ),
        Case(
            f"bce_logits_hard-{r}",
            lambda x, t: cr.binary_cross_entropy_with_logits(x, t, reduction=r),
            lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r),
            ((4,), Fixed(np.array([0.0, 1.0, 1.0, 0.0]))),
        ),
    ]
    for ls, xs in LOGITS.items():
        labels = Fixed(LABELS[ls])
        cases += [
            Case(
                f"cross_entropy_labels{xs}-{r}",
                lambda x, t: cr.cross_entropy(x, t, reduction=r),
                lambda x, t: F.cross_entropy(x, t, reduction=r),
                (xs, labels),
            ),
            # probabilities: differentiable in the target as well
            Case(
                f"cross_entropy_probs{xs}-{r}",
                lambda x, t: cr.cross_entropy(x, t, reduction=r),
                lambda x, t: F.cross_entropy(x, t, reduction=r),
                (xs, xs),
                low=0.0,
                high=1.0,
            ),
            Case(
                f"nll{xs}-{r}",
                lambda x, t, ax=1 if len(xs) > 1 else 0: cr.nll_loss(cr.log_softmax(x, axis=ax), t, reduction=r),
                lambda x, t: F.nll_loss(torch.log_softmax(x, 1 if x.ndim > 1 else 0), t, reduction=r),
                (xs, labels),
            ),
            Case(
                f"nll_raw{xs}-{r}",
                lambda x, t: cr.nll_loss(x, t, reduction=r),
                lambda x, t: F.nll_loss(x, t, reduction=r),
                (xs, labels),
            ),
        ]
    return cases


CASES = [c for r in REDUCTIONS for c in _cases(r)]
CASES += [
    Case("Loss_is_MSE", lambda y, p: cr.Loss(y, p, name="loss"), F.mse_loss, ((3,), (3,))),
    Case("MSE_class", lambda y, p: cr.MSE(y, p), lambda y, p: F.mse_loss(p, y), ((3, 4), (3, 4))),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_loss(case, mode):
    run_case(case, mode)


HUGE = np.array([[-1e4, 0.0, 1e4], [1e4, -1e4, 3.0]])
STABLE = {
    "cross_entropy": (
        lambda x: cr.cross_entropy(x, np.array([0, 2]), reduction="none"),
        lambda x: F.cross_entropy(x, torch.tensor([0, 2]), reduction="none"),
    ),
    "cross_entropy_probs": (
        lambda x: cr.cross_entropy(x, np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])),
        lambda x: F.cross_entropy(x, torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=x.dtype)),
    ),
    "bce_with_logits": (
        lambda x: cr.binary_cross_entropy_with_logits(x, np.ones_like(x.value), reduction="none"),
        lambda x: F.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none"),
    ),
    "nll_of_log_softmax": (
        lambda x: cr.nll_loss(cr.log_softmax(x), np.array([1, 1]), reduction="sum"),
        lambda x: F.nll_loss(torch.log_softmax(x, 1), torch.tensor([1, 1]), reduction="sum"),
    ),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", STABLE)
def test_stable_at_1e4(name, dtype):
    """Finite, PyTorch-equal values and gradients at |logit| = 1e4, with no NumPy warning."""
    fn, tfn = STABLE[name]
    out_shape = np.shape(fn(cr.Constant(HUGE.astype(dtype))).value)
    u = np.arange(1.0, math.prod(out_shape) + 1).reshape(out_shape).astype(dtype)
    check_stable(fn, tfn, HUGE.astype(dtype), u, atol=0.0)


def test_bce_saturated_probabilities_are_clamped_like_torch():
    """p = 0 or 1: the log is clamped at -100 (torch's rule), the value stays finite."""
    p = np.array([0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 1.0])
    got = cr.binary_cross_entropy(cr.Variable(p), t, reduction="none")
    want = F.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(got.value, want, rtol=1e-12)


def test_bad_reduction_is_an_error():
    with pytest.raises(ValueError, match="reduction"):
        cr.mse(cr.Variable(np.ones(3)), np.zeros(3), reduction="avg")


LOSSES_WITH_TARGETS = {
    "mse": lambda p, t: cr.mse(t, p),
    "mse_torch_order": lambda p, t: cr.mse(p, t),
    "bce": lambda p, t: cr.binary_cross_entropy(cr.sigmoid(p), t),
    "bce_logits": cr.binary_cross_entropy_with_logits,
    "cross_entropy_probs": lambda p, t: cr.cross_entropy(p, t / t.sum(axis=1, keepdims=True)),
}


@pytest.mark.parametrize("target_kind", ["array", "constant", "variable"])
@pytest.mark.parametrize("name", LOSSES_WITH_TARGETS)
def test_float64_targets_keep_a_float32_model_float32(name, target_kind):
    """Float64 data (NumPy's default) must not widen a float32 model's loss or
    gradients; a float64 target that wants a gradient gets it in float64."""
    t64 = np.random.default_rng(3).uniform(0.1, 0.9, size=(3, 4))
    targets: dict[str, Any] = {"array": t64, "constant": cr.tensor(t64), "variable": cr.Variable(t64)}
    target = targets[target_kind]
    p = cr.Variable(np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32))
    loss = LOSSES_WITH_TARGETS[name](p, target)
    loss.backward()
    assert loss.dtype == np.float32 and p.grad.dtype == np.float32
    if target_kind == "variable":
        assert target.grad.dtype == np.float64
