"""cr.nn layers against torch.nn given the same weights (outputs, input and parameter
gradients under a random upstream gradient, running statistics), and Module's
parameter discovery, modes and state dicts."""

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(0)


def same_weights(module: nn.Module, tmodule: torch.nn.Module) -> nn.Module:
    """Load torch's weights (and buffers) into the chainrule module: the keys must match PyTorch's."""
    module.to("float64")
    module.load_state_dict({k: v.detach().numpy() for k, v in tmodule.state_dict().items()})
    return module


def compare(module, tmodule, x, train=True, atol=1e-10, input_grad=True):
    """Forward values, then input and parameter gradients for one random upstream gradient."""
    same_weights(module, tmodule.double())
    module.train(train), tmodule.train(train)
    xv = cr.Variable(x) if input_grad else cr.Constant(x)
    tx = torch.tensor(x, requires_grad=input_grad)
    out, tout = module(xv), tmodule(tx)
    np.testing.assert_allclose(out.value, tout.detach().numpy(), atol=atol, rtol=1e-8)
    assert out.dtype == np.float64
    up = RNG.standard_normal(out.shape)
    out.backward(up)
    tout.backward(torch.tensor(up))
    if input_grad:
        assert tx.grad is not None
        np.testing.assert_allclose(xv.grad, tx.grad.numpy(), atol=atol, rtol=1e-8)
    tparams = dict(tmodule.named_parameters())
    assert sorted(n for n, _ in module.named_parameters()) == sorted(tparams)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), atol=atol, rtol=1e-8, err_msg=name)
    return module, tmodule


@pytest.mark.parametrize(
    "make, tmake, shape",
    [
        (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
        (lambda: nn.Linear(5, 3, bias=False), lambda: torch.nn.Linear(5, 3, bias=False), (2, 6, 5)),
        (lambda: nn.Conv2d(3, 4, 3, padding=1), lambda: torch.nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
        (
            lambda: nn.Conv2d(2, 3, (3, 2), stride=2, bias=False),
            lambda: torch.nn.Conv2d(2, 3, (3, 2), stride=2, bias=False),
            (2, 2, 7, 6),
        ),
        (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 6)),
        (lambda: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), (2, 3, 7, 7)),
        (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 6)),
        (lambda: nn.AvgPool2d(3, 1, 1), lambda: torch.nn.AvgPool2d(3, 1, 1), (1, 2, 5, 5)),
        (lambda: nn.LayerNorm(6), lambda: torch.nn.LayerNorm(6), (4, 6)),
        (lambda: nn.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4)), (2, 3, 4)),
        (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 5)),
        (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (3, 4)),
        (lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (3, 4)),
        (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (3, 4)),
        (lambda: nn.GELU(), lambda: torch.nn.GELU(), (3, 4)),
        (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (3, 4)),
        (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (3, 4)),
        (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1), (3, 4)),
        (lambda: nn.Dropout(0.5), lambda: torch.nn.Dropout(0.5), (3, 4)),  # compared in eval mode below
    ],
)
def test_layer_matches_torch(make, tmake, shape):
    torch.manual_seed(0)
    layer, tlayer = make(), tmake()
    compare(layer, tlayer, RNG.standard_normal(shape), train=not isinstance(layer, nn.Dropout))


def test_dropout_in_eval_is_identity_and_in_train_is_inverted_dropout():
    drop = nn.Dropout(0.25)
    x = cr.Variable(np.ones((200, 50)))
    assert drop.eval()(x) is x
    nn.manual_seed(0)
    out = drop.train()(x)
    kept = out.value != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out.value[kept], 1 / 0.75)
    out.backward(np.ones(out.shape))
    np.testing.assert_allclose(x.grad, kept / 0.75)
    assert nn.Dropout(1.0)(cr.Variable(np.ones(3))).value.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)


@pytest.mark.parametrize(
    "make, tmake, shape",
    [
        (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4), (8, 4)),
        (lambda: nn.BatchNorm1d(3, momentum=0.3), lambda: torch.nn.BatchNorm1d(3, momentum=0.3), (5, 3, 6)),
        (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (4, 3, 5, 5)),
    ],
)
def test_batchnorm_train_steps_then_eval_match_torch(make, tmake, shape):
    torch.manual_seed(0)
    bn, tbn = make(), tmake()
    with torch.no_grad():  # non-trivial affine parameters
        tbn.weight.uniform_(0.5, 1.5), tbn.bias.uniform_(-0.5, 0.5)
    for step in range(3):  # training steps update the running statistics identically
        x = RNG.standard_normal(shape) * 2 + 1
        compare(bn, tbn, x, train=True)
        bn.zero_grad(), tbn.zero_grad()
        np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-10)
        assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked) == step + 1
    compare(bn, tbn, RNG.standard_normal(shape), train=False)  # eval: running statistics


def test_batchnorm_errors():
    with pytest.raises(cr.errors.ShapeError, match="more than one value"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(cr.errors.ShapeError, match=r"\(4, 5\)"):
        nn.BatchNorm1d(3)(np.ones((4, 5)))


def test_embedding_matches_torch():
    torch.manual_seed(0)
    emb, temb = nn.Embedding(10, 4), torch.nn.Embedding(10, 4).double()
    same_weights(emb, temb)
    idx = np.array([[1, 3, 3], [9, 0, 1]])
    out, tout = emb(idx), temb(torch.tensor(idx))
    np.testing.assert_array_equal(out.value, tout.detach().numpy())
    up = RNG.standard_normal(out.shape)
    out.backward(up)
    tout.backward(torch.tensor(up))
    assert temb.weight.grad is not None
    np.testing.assert_allclose(emb.weight.grad, temb.weight.grad.numpy(), rtol=1e-12)  # repeated rows add up
    with pytest.raises(cr.errors.ShapeError, match="10"):
        emb(np.array([10]))
    with pytest.raises(cr.errors.ShapeError, match="integer"):
        emb(np.array([1.0]))


def test_torch_sequential_weights_load_into_mlp_by_name():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    )
    model = nn.MLP([6, 8, 8, 3])
    assert (
        list(model.state_dict())
        == list(tmodel.state_dict())
        == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    )
    compare(model, tmodel, RNG.standard_normal((5, 6)))


def test_cnn_matches_torch_end_to_end():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 3),
    )
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    )
    compare(model, tmodel, RNG.standard_normal((6, 1, 8, 8)))


@pytest.mark.parametrize(
    "make, fan_in, shape",
    [
        (lambda: nn.Linear(400, 300), 400, (300, 400)),
        (lambda: nn.Conv2d(16, 32, 3), 16 * 9, (32, 16, 3, 3)),
        (lambda: nn.Conv2d(16, 64, 3, groups=4), 4 * 9, (64, 4, 3, 3)),  # fan-in counts one group's channels
        (lambda: nn.Conv1d(16, 32, 5), 16 * 5, (32, 16, 5)),
    ],
)
def test_default_init_is_torch_kaiming_uniform(make, fan_in, shape):
    """Weights and biases ~ U(-1/√fan_in, 1/√fan_in), float32, like torch's defaults."""
    nn.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.value, layer.bias.value
    assert w.shape == shape and w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # the std of U(-a, a) is a/√3
    assert abs(w.mean()) < 0.02 * bound
    nn.manual_seed(0)
    np.testing.assert_array_equal(make().weight.value, w)  # manual_seed makes it reproducible


class Net(nn.Module):
    """Parameters in attributes, a list, a dict, a nested module, one shared; a buffer."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.blocks = [nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4), nn.Tanh())]
        self.heads: dict[str, Any] = {"a": nn.Linear(4, 2), "b": cr.Variable(np.zeros(2, np.float32), name="b")}
        self.tied = self.encoder.weight  # shared: listed once
        self.register_buffer("steps", np.zeros(1))
        self._cache = nn.Linear(2, 2)  # private: not a parameter

    def forward(self, x):
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        return self.heads["a"](h) + self.heads["b"]


def test_parameter_discovery_through_attributes_lists_and_dicts():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "encoder.weight",
        "encoder.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.0.weight",
        "blocks.1.0.bias",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b",
    ]
    assert len(net.parameters()) == 9 and net.num_parameters() == 16 + 20 + 20 + 10 + 2
    state = net.state_dict()  # like torch: a shared parameter appears under each name, buffers too
    assert list(state) == names + ["tied", "steps"]
    np.testing.assert_array_equal(state["tied"], state["encoder.weight"])
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    out = net(np.ones((5, 3), np.float32))
    cr.sum(out).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_and_errors_leave_the_model_untouched():
    nn.manual_seed(0)
    model, other = nn.MLP([4, 5, 2]), nn.MLP([4, 5, 2])
    state = model.state_dict()
    state["0.weight"][0, 0] = 123.0  # a copy: changing it does not change the model
    assert model.state_dict()["0.weight"][0, 0] != 123.0
    other.load_state_dict(model.state_dict())
    for (_, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    before = {k: v.copy() for k, v in other.state_dict().items()}
    bad = dict(model.state_dict())
    bad["2.weight"] = np.zeros((3, 5))
    del bad["0.bias"]
    bad["extra.weight"] = np.zeros(1)
    with pytest.raises(cr.errors.StateDictError) as info:
        other.load_state_dict(bad)
    message = str(info.value)
    assert "'2.weight' has shape (3, 5), the model expects (2, 5)" in message
    assert "missing key '0.bias'" in message and "unexpected key 'extra.weight'" in message
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    missing, unexpected = other.load_state_dict({"0.bias": np.ones(5), "zzz": np.ones(1)}, strict=False)
    assert "0.weight" in missing and unexpected == ["zzz"]
    np.testing.assert_array_equal(other[0].bias.value, np.ones(5, np.float32))
    assert other[0].bias.value.dtype == np.float32  # cast to the parameter's dtype


def test_mlp_options_and_repr():
    model = nn.MLP([3, 8, 8, 2], activation="tanh", dropout=0.1)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert "(0): Linear(in_features=3, out_features=8, bias=True)" in repr(model)
    assert isinstance(nn.MLP([2, 3, 1], activation=nn.GELU)[1], nn.GELU)
    with pytest.raises(ValueError, match="relu"):
        nn.MLP([2, 3], activation="swish")
    with pytest.raises(cr.errors.ShapeError, match=r"Linear\(3, 8\).*\(4, 5\)"):
        model(np.ones((4, 5), np.float32))


def test_float32_model_stays_float32():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.LayerNorm(8),
        nn.Dropout(0.1),
        nn.Linear(8, 3),
    )
    out = model(np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32))
    assert out.dtype == np.float32
    cr.cross_entropy(out, np.array([0, 1, 2, 0])).backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float32
