"""The dtype policy of layers: a layer with parameters casts floating input to their dtype
(as Keras does), so a float32 model fed NumPy's default float64 data computes in float32 —
no float64 node anywhere past the input — eagerly and define-then-run; the gradient that
reaches a float64 input is float64 again. fit's cast of each batch gives the same numbers."""

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(0)


class Scale(nn.Module):
    """A user's module with a parameter of its own."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.full(4, 1.5, np.float32))

    def forward(self, x):
        return x * self.scale


LAYERS = [
    ("Linear", lambda: nn.Linear(4, 3), torch.nn.Linear, (5, 4)),
    ("LayerNorm", lambda: nn.LayerNorm(4), torch.nn.LayerNorm, (5, 4)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(4), torch.nn.BatchNorm1d, (5, 4)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(2), torch.nn.BatchNorm2d, (3, 2, 4, 4)),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, padding=1), torch.nn.Conv2d, (3, 2, 4, 4)),
    (
        "MultiheadAttention",
        lambda: nn.MultiheadAttention(4, 2, batch_first=True),
        torch.nn.MultiheadAttention,
        (2, 3, 4),
    ),
    ("MLP", lambda: nn.MLP([4, 8, 2]), None, (5, 4)),
    ("own Parameter", Scale, None, (5, 4)),
]


def call(layer, x):
    out = layer(x, x, x) if isinstance(layer, (nn.MultiheadAttention, torch.nn.MultiheadAttention)) else layer(x)
    return out[0] if isinstance(out, tuple) else out


def float64_nodes(out, allowed):
    """Nodes holding float64 arrays (a Python number in a graph built before its values stays weak,
    so it is not one of them)."""
    return [
        n
        for n in cr.topological_sort(out)
        if n.dtype == np.float64 and n not in allowed and not isinstance(n.value, (int, float))
    ]


@pytest.mark.parametrize("name, make, tclass, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_float32_layer_fed_float64_computes_in_float32(name, make, tclass, shape):
    cr.manual_seed(0)
    layer = make()
    x64 = RNG.standard_normal(shape)
    x32 = x64.astype(np.float32)
    expected = call(layer, x32)
    node = cr.Variable(x64)
    out = call(layer, node)
    assert out.dtype == np.float32
    assert float64_nodes(out, {node}) == []  # the cast is the first thing that happens
    np.testing.assert_array_equal(out.value, expected.value)
    np.testing.assert_array_equal(call(layer, x64).value, expected.value)  # a plain array too
    cr.sum(out * out).backward()
    assert node.grad.dtype == np.float64  # the gradient comes back in the input's dtype
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    x = cr.Placeholder(name="x")  # define-then-run: the cast happens when the graph runs
    deferred = call(layer, x)
    graph = cr.Graph(cr.sum(deferred * deferred))
    graph.forward({x: x64})
    assert deferred.dtype == np.float32 and float64_nodes(deferred, {x}) == []
    np.testing.assert_array_equal(deferred.value, expected.value)


@pytest.mark.parametrize("name, make, tclass, shape", [c for c in LAYERS if c[2]], ids=[c[0] for c in LAYERS if c[2]])
def test_the_float32_result_is_torchs_float32_result(name, make, tclass, shape):
    """PyTorch refuses float64 input to a float32 layer; chainrule computes what torch computes
    on the input cast to float32."""
    cr.manual_seed(0)
    layer = make()
    args = {"MultiheadAttention": (4, 2), "Conv2d": (2, 3, 3), "Linear": (4, 3)}.get(name, (shape[1],))
    options: dict[str, dict[str, Any]] = {"MultiheadAttention": {"batch_first": True}, "Conv2d": {"padding": 1}}
    kwargs = options.get(name, {})
    tlayer = tclass(*args, **kwargs)
    tlayer.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    x64 = RNG.standard_normal(shape)
    with pytest.raises(RuntimeError):
        call(tlayer, torch.tensor(x64))
    np.testing.assert_allclose(
        call(layer, x64).value, call(tlayer, torch.tensor(x64, dtype=torch.float32)).detach(), rtol=1e-5, atol=1e-6
    )


def test_an_eager_graph_rerun_with_float64_data_still_computes_in_float32():
    """A model called on a placeholder that already has a (float32) value computes at once, and
    a Graph re-run of it later fed float64 data still casts at the layer."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x = cr.Placeholder(name="x")
    x.feed(RNG.standard_normal((3, 4)).astype(np.float32))
    out = model(x)
    assert out.value is not None and out.dtype == np.float32
    X = RNG.standard_normal((5, 4))
    cr.Graph(out).forward({x: X})
    assert out.dtype == np.float32 and float64_nodes(out, {x}) == []
    np.testing.assert_array_equal(out.value, model(X.astype(np.float32)).value)


def test_float64_layer_fed_float32_computes_in_float64_and_integers_are_promoted():
    layer = nn.Linear(4, 3, dtype="float64")
    x32 = RNG.standard_normal((2, 4)).astype(np.float32)
    assert layer(x32).dtype == np.float64
    np.testing.assert_array_equal(layer(x32).value, layer(x32.astype(np.float64)).value)
    assert nn.Linear(4, 3)(np.ones((2, 4), np.int64)).dtype == np.float32
    emb = nn.Embedding(5, 2)
    assert emb(np.array([1, 4])).dtype == np.float32  # indices stay integers


def test_fit_casts_each_batch_the_same_way_layers_do():
    X = RNG.standard_normal((64, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    runs = []
    for data in (X, X.astype(np.float32)):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
        history = cr.fit(
            model,
            cr.cross_entropy,
            cr.optim.SGD(model.parameters(), 0.1),
            (data, y),
            epochs=2,
            batch_size=16,
            progress=False,
        )
        runs.append((history["loss"], [p.value for p in model.parameters()]))
        assert all(p.dtype == np.float32 for p in model.parameters())
        assert model(X).dtype == np.float32
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
