"""Release at forward time: a value no vjp reads goes as soon as nothing outside the graph
holds its node (a layer's pre-activation inside a Sequential), while gradients stay
PyTorch's; what you hold keeps its value; explain and drawing recompute what went; and
every op's declaration of what its vjp reads is checked against the vjp itself."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backprop, release
from chainrule.memory import ReleasedAfterForward
from chainrule.op import Op

from oracle import Fixed, Value, case_tables, random_input

BATCH, IN, HIDDEN, OUT = 64, 32, 256, 10  # a hidden value of 64·256 float64s: 128 KiB, over release.THRESHOLD


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, IN)), rng.integers(0, OUT, BATCH)


class Watched(cr.nn.Linear):
    """A Linear layer that hands its output node to ``keep`` (a list's append, say)."""

    def __init__(self, *args, keep=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = keep

    def forward(self, x):
        out = super().forward(x)
        if self.keep is not None:
            self.keep(out)
        return out


def _models(keep=None):
    """Sequential(Linear, ReLU, Linear) in float64, the same weights in chainrule and PyTorch;
    ``keep`` is given the first Linear's output node."""
    cr.nn.manual_seed(0)
    model = cr.nn.Sequential(
        Watched(IN, HIDDEN, dtype=np.float64, keep=keep), cr.nn.ReLU(), cr.nn.Linear(HIDDEN, OUT, dtype=np.float64)
    )
    twin = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, OUT)).double()
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), twin.parameters()):
            theirs.copy_(torch.from_numpy(np.array(mine.value)))
    return model, twin


def _torch_grads(twin, X, y, times: int = 1) -> list:
    loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(X)), torch.from_numpy(y))
    for k in range(times):
        loss.backward(retain_graph=k < times - 1)
    return [p.grad.numpy() for p in twin.parameters()]


def _assert_grads(model, expected) -> None:
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad, e, rtol=1e-10, atol=1e-12)


def test_the_pre_activation_inside_a_sequential_goes_before_backward():
    seen = []
    model, twin = _models(keep=lambda node: seen.append(weakref.ref(node.value)))
    X, y = _data()
    out = model(X)
    gc.collect()
    assert seen and seen[0]() is None  # released while the next layer was built, before any backward
    pre = out.inputs[0].inputs[0]  # the first Linear's node, reached through the graph
    assert type(pre.value) is ReleasedAfterForward and pre.value.shape == (BATCH, HIDDEN)
    assert isinstance(out.inputs[0].value, np.ndarray)  # relu's output: its vjp and the next Linear's read it
    loss = cr.cross_entropy(out, y)
    loss.backward()
    _assert_grads(model, _torch_grads(twin, X, y))


def test_a_released_value_says_to_hold_the_node_and_describe_names_it():
    model, _ = _models()
    X, _ = _data()
    pre = model(X).inputs[0].inputs[0]
    with pytest.raises(cr.errors.ReleasedValueError, match="keep a reference to the node"):
        pre.value + 1
    with pytest.raises(cr.errors.ReleasedValueError):
        np.asarray(pre.value)
    assert "released after forward" in cr.errors.describe(pre) and "hold the node" in repr(pre.value)


def test_a_node_you_hold_keeps_its_value_and_a_consumer_added_later_sees_it():
    model, twin = _models()
    X, y = _data()
    W, b = (np.array(p.value) for p in model[0].parameters())
    pre = model[0](X)
    hidden = model[1](pre)
    out = model[2](hidden)
    np.testing.assert_array_equal(pre.value, X @ W.T + b)
    extra = cr.sum(pre * pre)  # built after the forward: it reads pre, which you held
    np.testing.assert_allclose(extra.value, np.sum((X @ W.T + b) ** 2), rtol=1e-12)
    (cr.cross_entropy(out, y) + 1e-3 * extra).backward()
    t_pre = twin[0](torch.from_numpy(X))
    loss = torch.nn.functional.cross_entropy(twin[2](twin[1](t_pre)), torch.from_numpy(y)) + 1e-3 * (t_pre**2).sum()
    loss.backward()
    _assert_grads(model, [p.grad.numpy() for p in twin.parameters()])


def test_a_node_a_layer_keeps_in_a_list_keeps_its_value():
    kept: list = []
    model, _ = _models(keep=kept.append)
    X, y = _data()
    cr.cross_entropy(model(X), y).backward()
    W, b = (np.array(p.value) for p in model[0].parameters())
    np.testing.assert_array_equal(kept[0].value, X @ W.T + b)


def test_retain_graph_twice_equals_torch():
    model, twin = _models()
    X, y = _data()
    loss = cr.cross_entropy(model(X), y)
    loss.backward(retain_graph=True)
    loss.backward()
    _assert_grads(model, _torch_grads(twin, X, y, times=2))


def test_explain_drawing_and_the_lessons_sort_recompute_released_values():
    model, _ = _models()
    X, y = _data()
    W, b = (np.array(p.value) for p in model[0].parameters())
    loss = cr.cross_entropy(model(X), y)
    pre = loss.inputs[0].inputs[0].inputs[0]
    assert type(pre.value) is ReleasedAfterForward
    assert "released" not in str(cr.explain(loss, model[0].weight))
    assert "digraph" in cr.Graph(loss).to_dot()
    cr.topological_sort(loss)
    np.testing.assert_array_equal(pre.value, X @ W.T + b)


def test_nothing_is_released_without_a_graph_or_define_then_run():
    model, _ = _models()
    X, _ = _data()
    with cr.no_grad():
        assert not model(X).inputs  # no graph at all
    x = cr.Placeholder(name="x")
    graph = cr.Graph(model(x))
    graph.forward({x: X})
    assert all(type(n.value) is not ReleasedAfterForward for n in graph.order)


def test_create_graph_recomputes_what_the_forward_released():
    W = cr.Variable(np.random.default_rng(1).standard_normal((IN, HIDDEN)), name="W")
    X, _ = _data()
    loss = cr.sum(cr.tanh(cr.relu(cr.tensor(X) @ W) * 0.5) ** 3)  # relu's input goes; tanh's vjp reads its output
    (gW,) = cr.grad(loss, [W], create_graph=True)
    cr.sum(gW * gW).backward()
    tW = torch.tensor(np.array(W.value), requires_grad=True)
    t_loss = (torch.tanh(torch.relu(torch.from_numpy(X) @ tW) * 0.5) ** 3).sum()
    (tg,) = torch.autograd.grad(t_loss, [tW], create_graph=True)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(gW.value, tg.detach().numpy(), rtol=1e-10)
    assert tW.grad is not None
    np.testing.assert_allclose(W.grad, tW.grad.numpy(), rtol=1e-9)


def test_a_subclass_with_its_own_vjp_reads_everything_unless_it_says():
    class MyReLU(cr.ReLU):
        def vjp(self, g, out, x):
            return (g * (x > 0),)

    class Declared(cr.ReLU):
        vjp_reads: tuple = (0,)

        def vjp(self, g, out, x):
            return (g * (x > 0),)

    assert not MyReLU._releasable and MyReLU._reads_inputs is None
    assert Declared._releasable and Declared._reads_inputs == frozenset({0})


# ---------------------------------------------------------------- every declaration against its vjp
def _inputs_for(case) -> list:
    rng = np.random.default_rng(0)
    nodes: list[cr.Node] = []
    for i, a in enumerate(case.args):
        if isinstance(a, Fixed):
            nodes.append(cr.Constant(a.value, name=f"in{i}"))
        else:
            given = isinstance(a, Value)
            value = np.array(a.value, np.float64) if given else random_input(rng, a, np.float64, case.low, case.high)
            nodes.append(cr.Variable(value, name=f"in{i}"))
    return nodes


def _vjp(node, g):
    values = backprop.input_values(node)
    return node.vjp(g, node.value, *values)


def _poisoned(node) -> list:
    """The nodes whose values ``node``'s declaration says its vjp does not read."""
    reads = node._reads_inputs
    unread = [inp for k, inp in enumerate(node.inputs) if reads is not None and k not in reads]
    return unread + ([node] if node._releasable else [])


@pytest.mark.parametrize("case", case_tables())
def test_every_declared_vjp_reads_only_what_it_declares(case):
    """Each op's vjp, run with the values its declaration leaves out replaced by released ones
    (which keep only shape and dtype), gives the same gradients bit for bit."""
    out = case.cr_fn(*_inputs_for(case))
    rng = np.random.default_rng(1)
    for node in backprop.sort(*(out if isinstance(out, (tuple, list)) else [out])):
        if not isinstance(node, Op) or not node.requires_grad or not _poisoned(node):
            continue
        g = rng.standard_normal(np.shape(node.value)).astype(np.asarray(node.value).dtype)[()]
        expected = _vjp(node, g.copy() if isinstance(g, np.ndarray) else g)
        saved = [(n, n.value) for n in _poisoned(node)]
        try:
            for n, v in saved:
                n.value = ReleasedAfterForward(np.shape(v), np.asarray(v).dtype)
            got = _vjp(node, g)
        finally:
            for n, v in saved:
                n.value = v
        for e, a in zip(expected, got):
            assert (e is None) == (a is None), f"{type(node).__name__}: a gradient appeared or vanished"
            if e is not None:
                np.testing.assert_array_equal(np.asarray(a), np.asarray(e), err_msg=type(node).__name__)


def test_the_ops_of_a_layer_stack_declare_what_their_vjps_read():
    """Outputs a vjp never reads (a Linear's, a convolution's, a reshape's, a sum's) may go; ReLU's
    vjp reads its output only, a Linear's its input and weight; an op that declares nothing
    (max pooling, dropout) keeps everything."""
    for op in (cr.Linear, cr.Conv2D, cr.AvgPool2D, cr.Add, cr.Sub, cr.Reshape, cr.Transpose):
        assert op._releasable, op.__name__
    assert not cr.ReLU._releasable and cr.ReLU._reads_inputs == frozenset()
    assert cr.Linear._reads_inputs == frozenset({0, 1})
    assert not cr.MaxPool2D._releasable and cr.MaxPool2D._reads_inputs is None
    assert release.THRESHOLD <= BATCH * HIDDEN * 8  # the tests above do release
