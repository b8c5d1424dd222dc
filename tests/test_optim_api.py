"""The optimizers' API as PyTorch users write it, against torch.optim: PyTorch's argument
order and keywords (a misspelt one is a TypeError naming it), zero_grad(set_to_none),
parameter groups with their own options, named parameters, state dicts that round-trip
(and load from torch's), and a step that happens for every parameter or for none."""

import copy
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from test_optim import CASES, gradients, make_params


def twins(values=None):
    """The same parameters for chainrule and torch (float64)."""
    values = make_params() if values is None else values
    return (
        [cr.Variable(v.copy(), name=f"p{i}") for i, v in enumerate(values)],
        [torch.tensor(v.copy(), requires_grad=True) for v in values],
    )


def run(opt, params, steps, tparams=None, topt=None):
    """Give both sides the gradients of ``steps`` and step them."""
    for step in steps:
        for i, g in enumerate(gradients(step)):
            params[i].grad = None if g is None else g.copy()
            if tparams is not None:
                tparams[i].grad = None if g is None else torch.tensor(g)
        opt.step()
        if topt is not None:
            topt.step()


def assert_same(params, tparams, rtol=1e-6, what=""):
    for i, (p, tp) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=rtol, atol=1e-8, err_msg=f"{what} param {i}")


@pytest.mark.parametrize(
    "kwargs, named",
    [
        (dict(learning_rate=0.5, momentun=0.9), "learning_rate"),
        (dict(lr=0.5, momentun=0.9), "momentun"),
        (dict(lr=0.5, beta=(0.9, 0.99)), "beta"),
    ],
)
def test_an_unknown_keyword_is_a_type_error_naming_it(kwargs, named):
    params, tparams = twins()
    make = optim.Adam if "beta" in kwargs else optim.SGD
    tmake = torch.optim.Adam if "beta" in kwargs else torch.optim.SGD
    with pytest.raises(TypeError):
        tmake(tparams, **kwargs)  # torch refuses it too
    with pytest.raises(TypeError, match=named):
        make(params, **kwargs)
    with pytest.raises(TypeError, match="momentun"):  # in a parameter group as well
        optim.SGD([{"params": params, "momentun": 0.9}], lr=0.1)


@pytest.mark.parametrize(
    "name, args",
    [
        ("SGD", (0.1, 0.9)),
        ("Adam", (0.01, (0.8, 0.9))),
        ("AdamW", (0.01,)),
        ("RMSprop", (0.01, 0.9)),
        ("Adagrad", (0.1, 0.01)),
    ],
)
def test_positional_arguments_in_pytorch_order(name, args):
    params, tparams = twins()
    opt, topt = getattr(optim, name)(params, *args), getattr(torch.optim, name)(tparams, *args)
    run(opt, params, range(6), tparams, topt)
    assert_same(params, tparams, what=name)


def test_zero_grad_set_to_none_or_zeros_like_torch():
    params, tparams = twins()
    opt, topt = optim.SGD(params, 0.1), torch.optim.SGD(tparams, 0.1)
    for p, tp, g in zip(params, tparams, gradients(4)):  # the last one has no gradient
        p.grad, tp.grad = (None, None) if g is None else (g.copy(), torch.tensor(g))
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    for p, tp in zip(params, tparams):
        assert (p.grad is None) == (tp.grad is None)
        if tp.grad is not None:
            np.testing.assert_array_equal(p.grad, tp.grad.numpy())
            assert p.grad.shape == p.value.shape
    opt.zero_grad()
    topt.zero_grad()
    assert all(p.grad is None for p in params) and all(tp.grad is None for tp in tparams)
    model = nn.Linear(3, 2)
    cr.sum(model(np.ones((1, 3), np.float32))).backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) and p.grad.dtype == np.float32 for p in model.parameters())


def test_parameter_groups_with_their_own_options_match_torch():
    params, tparams = twins()

    def groups(ps):
        return [
            {"params": ps[:1], "lr": 0.2, "momentum": 0.5},
            {"params": ps[1:], "nesterov": True, "weight_decay": 0.1},
        ]

    opt = optim.SGD(groups(params), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(groups(tparams), lr=0.05, momentum=0.9)
    run(opt, params, range(10), tparams, topt)
    assert_same(params, tparams)
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov"):
            assert group[key] == tgroup[key], key
    extra = cr.Variable(np.zeros(2))
    opt.add_param_group({"params": [extra], "lr": 1.0})
    assert opt.param_groups[-1]["momentum"] == 0.9 and opt.param_groups[-1]["lr"] == 1.0
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [extra]})


def mlp_twins():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to("float64")
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    return model, tmodel


@pytest.mark.parametrize("given", ["named_parameters", "module", "named groups"])
def test_optimizers_learn_qualified_names_like_torch(given):
    model, tmodel = mlp_twins()
    if given == "named_parameters":
        opt, topt = optim.Adam(model.named_parameters(), 0.01), torch.optim.Adam(tmodel.named_parameters(), 0.01)
    elif given == "module":
        opt, topt = optim.Adam(model, 0.01), torch.optim.Adam(tmodel.named_parameters(), 0.01)
    else:
        opt = optim.Adam(
            [{"params": model.named_parameters()[:2], "lr": 0.1}, {"params": model.named_parameters()[2:]}], 0.01
        )
        tgroups: list[dict[str, Any]] = [
            {"params": list(tmodel.named_parameters())[:2], "lr": 0.1},
            {"params": list(tmodel.named_parameters())[2:]},
        ]
        topt = torch.optim.Adam(tgroups, 0.01)
    names = [g["param_names"] for g in opt.state_dict()["param_groups"]]
    assert names == [g["param_names"] for g in topt.state_dict()["param_groups"]]
    x = np.random.default_rng(0).standard_normal((5, 3))
    cr.sum(model(x) ** 2).backward()
    (tmodel(torch.tensor(x)) ** 2).sum().backward()
    opt.step(), topt.step()
    assert_same(model.parameters(), list(tmodel.parameters()))
    model[2].weight.grad[1, 0] = np.nan
    before = model.state_dict()
    with pytest.raises(cr.errors.NonFiniteGradientError, match=r"'2\.weight' \(2, 4\); no parameter was changed"):
        opt.step()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


class Failing:
    """Wrap an optimizer's update rule so that it raises at the ``at``-th parameter of a step."""

    def __init__(self, opt, at, exc):
        self.rule, self.at, self.exc, self.calls = opt.update, at, exc, 0
        opt.update = self

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.at:
            raise self.exc
        return self.rule(*args)


@pytest.mark.parametrize("exc", [RuntimeError("injected"), KeyboardInterrupt()])
@pytest.mark.parametrize("name, hyper", [CASES[1], CASES[6], CASES[10], CASES[12]])
def test_a_step_happens_for_every_parameter_or_for_none(name, hyper, exc):
    params, tparams = twins()
    opt, topt = getattr(optim, name)(params, **hyper), getattr(torch.optim, name)(tparams, **hyper)
    run(opt, params, range(3), tparams, topt)  # some state to protect
    values, state = [p.value.copy() for p in params], copy.deepcopy(opt.state_dict())
    Failing(opt, at=2, exc=exc)  # the first parameter's new value is computed, the second's fails
    with pytest.raises(type(exc)):
        run(opt, params, [3])
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.value, v)
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for i, entries in state["state"].items():
        assert after["state"][i].keys() == entries.keys()
        for key, value in entries.items():
            np.testing.assert_array_equal(after["state"][i][key], value)
    run(opt, params, [3], tparams, topt)  # the same step again, now whole: still equal to torch
    assert_same(params, tparams, what=f"{name} after the failed step")


@pytest.mark.parametrize(
    "name, hyper",
    [
        ("SGD", dict(lr=-0.1)),
        ("SGD", dict(lr=0.1, momentum=-1)),
        ("SGD", dict(lr=0.1, weight_decay=-1)),
        ("Adam", dict(betas=(1.0, 0.9))),
        ("Adam", dict(eps=-1.0)),
        ("RMSprop", dict(alpha=-0.5)),
        ("Adagrad", dict(lr_decay=-1.0)),
    ],
)
def test_bad_hyperparameters_are_refused_like_torch(name, hyper):
    params, tparams = twins()
    with pytest.raises(ValueError):
        getattr(torch.optim, name)(tparams, **hyper)
    option = next(iter(k for k in hyper if k != "lr" or len(hyper) == 1))
    with pytest.raises(cr.errors.OptionError, match=rf"{name}: {option}="):
        getattr(optim, name)(params, **hyper)


@pytest.mark.parametrize("name, hyper", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_state_dict_round_trip_and_torch_state_continue_like_torch(name, hyper, tmp_path):
    """Five steps; then a fresh optimizer loads (a) our state dict through cr.save/cr.load and
    (b) torch's state dict; both continue equal to torch, step for step."""
    params, tparams = twins()
    opt, topt = getattr(optim, name)(params, **hyper), getattr(torch.optim, name)(tparams, **hyper)
    run(opt, params, range(5), tparams, topt)
    cr.save(opt, tmp_path / "opt.npz")
    ours, _ = twins([p.value for p in params])
    from_torch, _ = twins([p.value for p in params])
    reloaded = getattr(optim, name)(ours, lr=123.0)
    cr.load(tmp_path / "opt.npz", into=reloaded)
    tstate = topt.state_dict()
    converted = {
        "state": {
            i: {k: v.numpy() if torch.is_tensor(v) else v for k, v in s.items()} for i, s in tstate["state"].items()
        },
        "param_groups": tstate["param_groups"],
    }
    loaded = getattr(optim, name)(from_torch, lr=123.0)
    loaded.load_state_dict(converted)
    assert reloaded.lr == loaded.lr == hyper["lr"]
    for step in range(5, 12):
        run(reloaded, ours, [step], tparams, topt)
        run(loaded, from_torch, [step])
        assert_same(ours, tparams, what=f"reloaded, step {step}")
        assert_same(from_torch, tparams, what=f"from torch's state, step {step}")


def test_a_bad_state_dict_changes_nothing():
    params, _ = twins()
    opt = optim.Adam(params, lr=0.01)
    run(opt, params, range(2))
    before = copy.deepcopy(opt.state_dict())
    bad = copy.deepcopy(before)
    bad["param_groups"][0]["betas"] = (1.5, 0.9)
    with pytest.raises(cr.errors.StateDictError, match="betas"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(before)
    bad["state"][2]["exp_avg"] = np.zeros(5)
    with pytest.raises(cr.errors.StateDictError, match=r"exp_avg.*parameter 2 \('p2'\)"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    np.testing.assert_array_equal(after["state"][0]["exp_avg"], before["state"][0]["exp_avg"])
