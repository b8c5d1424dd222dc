"""SGD writes its step into the parameter's own array when no one else can see that array
(as torch's in-place step does, so the peak holds no second copy of the parameters), and
gives a new array to a parameter whose array someone holds; the numbers are torch's either way,
and a Ctrl-C that arrives during the writes is held until every parameter is written."""

import os
import signal
import tracemalloc
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim
from chainrule.optim import commit

SHAPES = [(5, 3), (3, 5, 2), (7,), ()]


def twin_step(shape, dtype, *, lr=0.1, transposed=False, momentum=0.0, weight_decay=0.0, held=False, seed=0):
    """Two SGD steps on one parameter, chainrule and torch from the same numbers; returns (the
    parameter, a weak reference to its array before the steps, the array the user held or
    None, torch's parameter)."""
    rng = np.random.default_rng(seed)
    value = rng.standard_normal(shape).astype(dtype)
    grad = rng.standard_normal(shape[::-1] if transposed else shape).astype(dtype)
    grad = grad.T if transposed else grad  # a gradient that is a transposed view, as Linear's is
    p, tp = cr.Variable(value.copy()), torch.tensor(value.copy(), requires_grad=True)
    # watching the array without holding it (a 0-d value is a NumPy scalar: nothing to watch)
    before = weakref.ref(p.value) if shape else None
    user = p.value if held else None
    opt = optim.SGD([p], lr, momentum=momentum, weight_decay=weight_decay)
    topt = torch.optim.SGD([tp], lr, momentum=momentum, weight_decay=weight_decay)
    for _ in range(2):  # the second step has momentum state too
        p.grad, tp.grad = grad.copy(), torch.tensor(grad.copy())
        opt.step()
        topt.step()
    return p, before, user, tp


OPTIONS: list[dict] = [{}, dict(momentum=0.9), dict(weight_decay=0.01), dict(transposed=True)]
CASES = [(shape, options) for shape in SHAPES for options in OPTIONS if len(shape) >= 2 or "transposed" not in options]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, options", CASES)
def test_an_array_no_one_else_holds_is_written_in_place_with_torchs_numbers(shape, dtype, options):
    p, before, _, tp = twin_step(shape, dtype, **options)
    if shape:
        assert p.value is before()  # the same array, written in place
    np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_writing_in_place_gives_the_bits_of_value_minus_lr_times_g(shape, dtype):
    """torch fuses the multiply-add (one rounding); plain NumPy ``v - lr * g`` rounds twice, as
    the step always did: in place or not, the bits are NumPy's."""
    rng = np.random.default_rng(3)
    value, grad = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    expected = value - 0.1 * grad
    expected = expected - 0.1 * grad
    p, before, _, _ = twin_step(shape, dtype, seed=3)
    np.testing.assert_array_equal(p.value, expected)


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_an_array_the_user_holds_is_left_alone_and_replaced(shape):
    p, before, user, tp = twin_step(shape, np.float32, held=True)
    assert p.value is not user
    start = np.random.default_rng(0).standard_normal(shape).astype(np.float32)  # twin_step's first draw
    np.testing.assert_array_equal(user, start)
    np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-6)


def test_a_graph_kept_for_a_second_backward_sees_its_weights_unchanged():
    """With retain_graph=True the graph keeps a view of the weight (Linear's transpose), so the
    step replaces the weight's array instead of writing under the view."""
    cr.nn.manual_seed(0)
    layer = cr.nn.Linear(4, 3)
    x = cr.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    opt = optim.SGD(layer.parameters(), 0.5)
    loss = (layer(x) ** 2).mean()
    loss.backward(retain_graph=True)
    weight_before, first = layer.weight.value, layer.weight.grad.copy()
    kept = weight_before.copy()
    opt.step()
    assert layer.weight.value is not weight_before
    np.testing.assert_array_equal(weight_before, kept)
    layer.weight.grad = None
    loss.backward()  # the kept graph still computes with the weight it was built with
    np.testing.assert_allclose(layer.weight.grad, first, rtol=1e-6)


def test_a_step_allocates_no_parameter_sized_temporary():
    n = 1 << 20  # 4 MiB of float32
    p = cr.Variable(np.ones((1024, n // 1024), np.float32))
    p.grad = np.ones((n // 1024, 1024), np.float32).T  # transposed, as a Linear weight's gradient
    opt = optim.SGD([p], 0.5)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * 4 / 2, f"the step allocated {peak} bytes for a {n * 4}-byte parameter"
    np.testing.assert_array_equal(p.value, np.full(p.value.shape, 0.5, np.float32))


def test_ctrl_c_during_the_writes_is_held_until_every_parameter_is_written(monkeypatch):
    params = [cr.Variable(np.ones((4, 3))), cr.Variable(np.ones(3)), cr.Variable(np.ones((2, 2)))]
    for p in params:
        p.grad = np.ones_like(p.value)
    write, calls = commit.Descend.write_into, []

    def interrupted(self, value):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the first parameter's write began
        write(self, value)

    monkeypatch.setattr(commit.Descend, "write_into", interrupted)
    with pytest.raises(KeyboardInterrupt):
        optim.SGD(params, 0.25).step()
    assert len(calls) == 3
    for p in params:
        np.testing.assert_array_equal(p.value, np.full(p.value.shape, 0.75))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
