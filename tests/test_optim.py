"""Optimizers step for step against torch.optim on the same gradients (float64, 20 steps),
schedules against torch's, clip_grad_norm_, non-finite gradients, state dicts."""

import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim

SHAPES = [(3, 4), (4,), ()]

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


def make_params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def gradients(step, dtype=np.float64):
    """The gradients of step ``step`` (the last parameter has none every fifth step)."""
    rng = np.random.default_rng(100 + step)
    grads: list[np.ndarray | None] = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if step % 5 == 4:
        grads[-1] = None
    return grads


@pytest.mark.parametrize("name, hyper", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_step_by_step(name, hyper):
    values = make_params()
    params = [cr.Variable(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    tparams = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = getattr(optim, name)(params, **hyper)
    topt = getattr(torch.optim, name)(tparams, **hyper)
    for step in range(20):
        opt.zero_grad(), topt.zero_grad()
        for p, tp, g in zip(params, tparams, gradients(step)):
            if g is not None:
                p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step(), topt.step()
        for i, (p, tp) in enumerate(zip(params, tparams)):
            np.testing.assert_allclose(
                p.value,
                tp.detach().numpy(),
                rtol=1e-6,
                atol=1e-6,
                err_msg=f"{name} {hyper}: parameter {i} after step {step + 1}",
            )
    tstate = topt.state_dict()["state"]
    for i, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            np.testing.assert_allclose(
                np.asarray(value),
                np.asarray(tstate[i][key]),
                rtol=1e-6,
                atol=1e-8,
                err_msg=f"state {key} of parameter {i}",
            )


@pytest.mark.parametrize("name, hyper", CASES[1::3], ids=[n for n, _ in CASES[1::3]])
def test_float32_parameters_stay_float32_and_close_to_torch(name, hyper):
    values = make_params(dtype=np.float32)
    params = [cr.Variable(v.copy()) for v in values]
    tparams = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt, topt = getattr(optim, name)(params, **hyper), getattr(torch.optim, name)(tparams, **hyper)
    for step in range(20):
        for p, tp, g in zip(params, tparams, gradients(step, np.float32)):
            p.grad, tp.grad = (None, None) if g is None else (g.copy(), torch.tensor(g))
        opt.step(), topt.step()
    for p, tp in zip(params, tparams):
        assert p.value.dtype == np.float32
        np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "make, tmake",
    [
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (
            lambda o: optim.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
        ),
    ],
)
def test_schedules_match_torch(make, tmake):
    opt = optim.SGD([cr.Variable(np.zeros(2))], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.3)
    sched, tsched = make(opt), tmake(topt)
    for epoch in range(25):
        topt.step()  # torch wants an optimizer step before a scheduler step
        sched.step(), tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-9, abs=1e-12), epoch


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(mode="max", factor=0.5, patience=2, cooldown=1),
        dict(patience=1, threshold=0.1, threshold_mode="abs", min_lr=0.02),
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    opt = optim.SGD([cr.Variable(np.zeros(2))], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.3)
    sched, tsched = optim.ReduceLROnPlateau(opt, **kwargs), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.7, 0.7, 0.7, 0.7] * 2
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = gradients(0)
    params = [cr.Variable(np.zeros(s)) for s in SHAPES]
    tparams = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, tp, g in zip(params, tparams, grads):
        p.grad, tp.grad = g.copy(), torch.tensor(g)
    total = optim.clip_grad_norm_(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, tp in zip(params, tparams):
        assert tp.grad is not None
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name, hyper", [CASES[1], CASES[4], CASES[10]])
def test_non_finite_gradient_changes_nothing(name, hyper, bad):
    params = [cr.Variable(v, name=f"w{i}") for i, v in enumerate(make_params())]
    opt = getattr(optim, name)(params, **hyper)
    for step in range(3):  # some state (momentum, moments) to protect
        for p, g in zip(params, gradients(step)):
            p.grad = g
        opt.step()
    values, state = [p.value.copy() for p in params], copy.deepcopy(opt.state_dict())
    grads = gradients(3)
    grads[0][1, 2] = bad
    for p, g in zip(params, grads):
        p.grad = g
    with pytest.raises(cr.errors.NonFiniteGradientError, match=r"'w0' \(3, 4\).*no parameter was changed"):
        opt.step()
    opt.nonfinite = "skip"
    opt.step()
    assert opt.skipped_steps == 1
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.value, v)
    for i, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(value, state["state"][i][key])


def test_state_dict_round_trip_continues_identically():
    def run(opt, params, steps):
        for step in steps:
            for p, g in zip(params, gradients(step)):
                p.grad = g
            opt.step()

    a = [cr.Variable(v) for v in make_params()]
    opt_a = optim.Adam(a, lr=0.01, amsgrad=True)
    run(opt_a, a, range(5))
    b = [cr.Variable(p.value.copy()) for p in a]
    opt_b = optim.Adam(b, lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.lr == 0.01
    run(opt_a, a, range(5, 10)), run(opt_b, b, range(5, 10))
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.value, q.value)


def test_state_dict_mismatch_is_an_error_and_changes_nothing():
    opt = optim.SGD([cr.Variable(np.zeros((2, 2))), cr.Variable(np.zeros(3))], lr=0.1, momentum=0.9)
    with pytest.raises(cr.errors.StateDictError, match=r"\[1\].*\[2\]"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 1.0, "params": [0]}]})
    bad = {"state": {1: {"momentum_buffer": np.zeros(4)}}, "param_groups": [{"lr": 1.0, "params": [0, 1]}]}
    with pytest.raises(cr.errors.StateDictError, match=r"momentum_buffer.*\(4,\).*\(3,\)"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.1 and opt.state == {}


def test_zero_grad_groups_and_argument_errors():
    w, b = cr.Variable(np.ones(2)), cr.Variable(np.ones(1))
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    w.grad, b.grad = np.ones(2), np.ones(1)
    opt.step()
    np.testing.assert_allclose(w.value, [0.9, 0.9]), np.testing.assert_allclose(b.value, [0.5])
    opt.zero_grad()
    assert w.grad is None and b.grad is None
    opt.step()  # no gradients: nothing to do
    np.testing.assert_allclose(w.value, [0.9, 0.9])
    with pytest.raises(cr.errors.OptionError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([], lr=0.1)
    with pytest.raises(TypeError, match="Variables"):
        optim.Adam([np.ones(2)])
    w.grad = np.ones(3)
    with pytest.raises(cr.errors.ShapeError, match=r"\(2,\).*\(3,\)"):
        opt.step()
