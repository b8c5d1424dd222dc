"""Learning-rate schedules step for step against torch.optim.lr_scheduler: the rates (and
OneCycleLR's momentum) of every group after every step, from construction on; a state
dict saved part-way and loaded into a fresh schedule continues exactly like torch's."""

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim

TS = torch.optim.lr_scheduler


def both(name: str, *args: Any, **kwargs: Any) -> tuple:
    """The schedule ``name`` built with the same arguments, for chainrule and for torch."""
    return (lambda o: getattr(optim, name)(o, *args, **kwargs), lambda o: getattr(TS, name)(o, *args, **kwargs))


SCHEDULES = {
    "step": (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), lambda o: TS.StepLR(o, 3, 0.5)),
    "cosine": both("CosineAnnealingLR", T_max=10, eta_min=0.01),
    "linear warm-up": both("LinearLR", start_factor=0.1, total_iters=4),
    "linear decay": both("LinearLR", 1.0, 0.2, 7),
    "warm restarts": both("CosineAnnealingWarmRestarts", T_0=4, eta_min=0.001),
    "warm restarts x2": both("CosineAnnealingWarmRestarts", 3, T_mult=2),
    "warm-up then cosine": (
        lambda o: optim.SequentialLR(o, [optim.LinearLR(o, 0.01, total_iters=5), optim.CosineAnnealingLR(o, 15)], [5]),
        lambda o: TS.SequentialLR(o, [TS.LinearLR(o, 0.01, total_iters=5), TS.CosineAnnealingLR(o, 15)], [5]),
    ),
    "three stages": (
        lambda o: optim.SequentialLR(
            o,
            [
                optim.LinearLR(o, 0.5, total_iters=3),
                optim.StepLR(o, 2, 0.5),
                optim.CosineAnnealingLR(o, 8, eta_min=0.001),
            ],
            [3, 9],
        ),
        lambda o: TS.SequentialLR(
            o,
            [TS.LinearLR(o, 0.5, total_iters=3), TS.StepLR(o, 2, 0.5), TS.CosineAnnealingLR(o, 8, eta_min=0.001)],
            [3, 9],
        ),
    ),
    "one cycle": both("OneCycleLR", max_lr=[1.0, 0.4], total_steps=25),
    "one cycle linear 3-phase": both(
        "OneCycleLR",
        0.8,
        epochs=5,
        steps_per_epoch=5,
        anneal_strategy="linear",
        three_phase=True,
        pct_start=0.25,
        div_factor=10.0,
        base_momentum=0.8,
        max_momentum=0.9,
    ),
}
OPTIMIZERS: dict[str, dict[str, Any]] = {"SGD": dict(lr=0.3, momentum=0.9), "Adam": dict(lr=0.3, betas=(0.9, 0.99))}


def twin_optimizers(name):
    """Two parameter groups (different rates), for chainrule and torch."""
    hyper = OPTIMIZERS[name]
    opt = getattr(optim, name)(
        [{"params": [cr.Variable(np.zeros(2))]}, {"params": [cr.Variable(np.zeros(3))], "lr": 0.1}], **hyper
    )
    topt = getattr(torch.optim, name)(
        [{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.1}],
        **hyper,
    )
    return opt, topt


def assert_groups_equal(opt, topt, sched, tsched, when):
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-9, abs=1e-12), when
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        assert group["lr"] == pytest.approx(tgroup["lr"], rel=1e-9, abs=1e-12), when
        for key in ("momentum", "betas"):
            if key in group:
                assert np.allclose(group[key], tgroup[key], rtol=1e-12), (when, key)


def torch_step(topt, tsched):
    topt.step()  # torch wants an optimizer step before each schedule step
    tsched.step()


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_schedule_matches_torch_step_by_step(kind, opt_name):
    make, tmake = SCHEDULES[kind]
    opt, topt = twin_optimizers(opt_name)
    sched, tsched = make(opt), tmake(topt)
    assert_groups_equal(opt, topt, sched, tsched, "after construction")
    for step in range(24):
        sched.step()
        torch_step(topt, tsched)
        assert_groups_equal(opt, topt, sched, tsched, f"step {step + 1}")


@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_state_dict_round_trip_continues_like_torch(kind):
    """Ten steps; then a fresh optimizer and schedule load the saved states and continue."""
    make, tmake = SCHEDULES[kind]
    opt, topt = twin_optimizers("SGD")
    sched, tsched = make(opt), tmake(topt)
    for _ in range(10):
        sched.step()
        torch_step(topt, tsched)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    fresh, _ = twin_optimizers("SGD")
    fresh_sched = make(fresh)  # as PyTorch advises: build the schedule, then load both states
    fresh.load_state_dict(saved_opt)
    fresh_sched.load_state_dict(saved_sched)
    assert_groups_equal(fresh, topt, fresh_sched, tsched, "after loading")
    for step in range(10, 24):
        fresh_sched.step()
        torch_step(topt, tsched)
        assert_groups_equal(fresh, topt, fresh_sched, tsched, f"step {step + 1} after loading")


def test_warm_restarts_with_fractional_epochs_match_torch():
    opt, topt = twin_optimizers("SGD")
    sched = optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.01)
    tsched = TS.CosineAnnealingWarmRestarts(topt, T_0=2, T_mult=2, eta_min=0.01)
    for epoch in np.arange(0, 12, 0.25):
        topt.step()
        sched.step(float(epoch))
        tsched.step(float(epoch))
        assert_groups_equal(opt, topt, sched, tsched, f"epoch {epoch}")


def test_schedule_options_are_checked_like_torch():
    opt, topt = twin_optimizers("SGD")
    bad = [
        both("LinearLR", start_factor=0.0),
        both("LinearLR", end_factor=1.5),
        (lambda o: optim.CosineAnnealingWarmRestarts(o, T_0=0), lambda o: TS.CosineAnnealingWarmRestarts(o, 0)),
        both("OneCycleLR", 1.0),
        (
            lambda o: optim.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"),
            lambda o: TS.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"),  # type: ignore[arg-type]  # the bad option under test
        ),
        both("OneCycleLR", [1.0], 10),
        (
            lambda o: optim.SequentialLR(o, [optim.StepLR(o, 2)], [3]),
            lambda o: TS.SequentialLR(o, [TS.StepLR(o, 2)], [3]),
        ),
    ]
    for make, tmake in bad:
        with pytest.raises(ValueError):
            tmake(topt)
        with pytest.raises(cr.errors.OptionError):
            make(opt)
    with pytest.raises(cr.errors.OptionError, match="Adagrad"):  # no momentum to cycle
        optim.OneCycleLR(optim.Adagrad([cr.Variable(np.zeros(1))]), 1.0, 10)


def test_one_cycle_past_its_last_step_raises_and_changes_nothing():
    opt, _ = twin_optimizers("SGD")
    sched = optim.OneCycleLR(opt, 1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    before = sched.state_dict(), [dict(g) for g in opt.param_groups]
    with pytest.raises(cr.errors.OptionError, match="total_steps=3"):
        sched.step()
    assert sched.state_dict() == before[0] and [dict(g) for g in opt.param_groups] == before[1]


def test_a_state_dict_for_another_schedule_changes_nothing():
    opt, _ = twin_optimizers("SGD")
    cosine, step = optim.CosineAnnealingLR(opt, 10), optim.StepLR(opt, 2)
    before = step.state_dict()
    with pytest.raises(cr.errors.StateDictError, match="T_max"):
        step.load_state_dict(cosine.state_dict())
    assert step.state_dict() == before
    warm = optim.SequentialLR(opt, [optim.LinearLR(opt), optim.StepLR(opt, 2)], [3])
    saved = warm.state_dict()
    saved["_schedulers"][1] = cosine.state_dict()
    inner_before = warm._schedulers[0].state_dict()
    warm._schedulers[0].last_epoch = 7
    inner_before["last_epoch"] = 7
    with pytest.raises(cr.errors.StateDictError):
        warm.load_state_dict(saved)
    assert warm._schedulers[0].state_dict() == inner_before


def test_reduce_on_plateau_state_dict_round_trip_continues_like_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.9, 0.9, 0.9, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    opt, topt = twin_optimizers("SGD")
    kwargs: dict[str, Any] = dict(factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    sched, tsched = optim.ReduceLROnPlateau(opt, **kwargs), TS.ReduceLROnPlateau(topt, **kwargs)
    for m in metrics[:7]:
        sched.step(m)
        tsched.step(m)
    fresh, _ = twin_optimizers("SGD")
    fresh_sched = optim.ReduceLROnPlateau(fresh, **kwargs)
    fresh.load_state_dict(opt.state_dict())
    fresh_sched.load_state_dict(sched.state_dict())
    for step, m in enumerate(metrics[7:]):
        fresh_sched.step(m)
        tsched.step(m)
        assert_groups_equal(fresh, topt, fresh_sched, tsched, f"step {step + 8} after loading")
