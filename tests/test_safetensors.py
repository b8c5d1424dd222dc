"""safetensors: chainrule -> safetensors -> PyTorch and PyTorch -> safetensors -> chainrule give the
same outputs (PyTorch is the oracle); metadata; optimizers and checkpoints; damaged files change nothing."""

import json
import os
import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.errors import SerializationError

st_numpy = pytest.importorskip("safetensors.numpy")
st_torch = pytest.importorskip("safetensors.torch")
from safetensors import safe_open  # noqa: E402


def cr_cnn(seed=0):
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(3 * 4 * 4, 5),
        nn.LogSoftmax(),
    )


def torch_cnn():
    tn = torch.nn
    return tn.Sequential(
        tn.Conv2d(1, 3, 3, padding=1),
        tn.BatchNorm2d(3),
        tn.ReLU(),
        tn.MaxPool2d(2),
        tn.Flatten(),
        tn.Dropout(0.2),
        tn.Linear(3 * 4 * 4, 5),
        tn.LogSoftmax(dim=-1),
    )


class CrText(nn.Module):
    """A custom module: named attributes, not a Sequential."""

    def __init__(self):
        super().__init__()
        self.embed, self.norm, self.head = nn.Embedding(11, 6), nn.LayerNorm(6), nn.Linear(6, 3)

    def forward(self, idx):
        return self.head(cr.gelu(self.norm(self.embed(idx))))


class TorchText(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.norm, self.head = torch.nn.Embedding(11, 6), torch.nn.LayerNorm(6), torch.nn.Linear(6, 3)

    def forward(self, idx):
        return self.head(torch.nn.functional.gelu(self.norm(self.embed(idx))))


def images(n=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 1, 8, 8)).astype(np.float32)


def trained_cnn(seed=0):
    """A few Adam steps: non-trivial weights and BatchNorm running statistics."""
    model = cr_cnn(seed)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for step in range(3):
        opt.zero_grad()
        cr.nll_loss(model(images(seed=step)), np.arange(6) % 5).backward()
        opt.step()
    return model, opt


def test_chainrule_to_pytorch_gives_the_same_outputs(tmp_path):
    model, _ = trained_cnn()
    path = cr.save(model, tmp_path / "m.safetensors")
    arrays = st_numpy.load_file(path)
    state = model.state_dict()
    assert sorted(arrays) == sorted(state)  # PyTorch's names, nothing else
    for key, value in state.items():
        assert arrays[key].dtype == value.dtype and arrays[key].tobytes() == value.tobytes(), key
    twin = torch_cnn()
    twin.load_state_dict(st_torch.load_file(path))  # strict: every name and shape fits
    twin.eval(), model.eval()
    x = images(9, seed=5)
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), model(x).value, atol=1e-5, rtol=0)


def test_pytorch_to_chainrule_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    twin = torch_cnn()
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    for step in range(3):  # running statistics and num_batches_tracked move away from their defaults
        opt.zero_grad()
        torch.nn.functional.nll_loss(twin(torch.from_numpy(images(seed=step))), torch.arange(6) % 5).backward()
        opt.step()
    st_torch.save_file(twin.state_dict(), tmp_path / "torch.safetensors")
    model = cr.load(tmp_path / "torch.safetensors", into=cr_cnn(7))
    assert int(model[1].num_batches_tracked) == 3
    twin.eval(), model.eval()
    x = images(9, seed=5)
    np.testing.assert_allclose(model(x).value, twin(torch.from_numpy(x)).detach().numpy(), atol=1e-5, rtol=0)
    assert set(cr.load(tmp_path / "torch.safetensors")) == set(twin.state_dict())  # no target: the state dict


def test_custom_module_round_trips_both_ways(tmp_path):
    nn.manual_seed(1)
    model = CrText()
    cr.save(model, tmp_path / "text.safetensors")
    twin = TorchText()
    twin.load_state_dict(st_torch.load_file(tmp_path / "text.safetensors"))
    idx = np.array([[0, 3, 10], [7, 7, 1]])
    np.testing.assert_allclose(twin(torch.from_numpy(idx)).detach().numpy(), model(idx).value, atol=1e-5, rtol=0)
    torch.manual_seed(2)
    other = TorchText()
    st_torch.save_file(other.state_dict(), tmp_path / "other.safetensors")
    cr.load(tmp_path / "other.safetensors", into=model)
    np.testing.assert_allclose(model(idx).value, other(torch.from_numpy(idx)).detach().numpy(), atol=1e-5, rtol=0)


def test_metadata_holds_version_architecture_and_header(tmp_path):
    model, _ = trained_cnn()
    path = cr.save(model, tmp_path / "m.safetensors")
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta["chainrule_version"] == cr.__version__
    assert "Conv2d(1, 3" in meta["architecture"] and "BatchNorm2d(3" in meta["architecture"]
    header = json.loads(meta["chainrule"])
    assert header["kind"] == "module" and header["class"] == "Sequential"


def test_format_by_argument_and_by_content(tmp_path):
    model, _ = trained_cnn()
    cr.save(model, tmp_path / "weights.bin", format="safetensors")
    assert st_numpy.load_file(tmp_path / "weights.bin")  # really safetensors, whatever the suffix
    fresh = cr.load(tmp_path / "weights.bin", into=cr_cnn(3))  # recognised by its first bytes
    assert all(np.array_equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    with pytest.raises(ValueError, match="unknown format 'pt'"):
        cr.save(model, tmp_path / "m.pt", format="pt")
    with pytest.raises(ValueError, match="cr.onnx.export"):
        cr.save(model, tmp_path / "m.onnx")
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]


def test_optimizer_and_checkpoint_are_stored_flat(tmp_path):
    model, opt = trained_cnn()
    path = cr.save({"model": model, "optimizer": opt, "epoch": 3}, tmp_path / "ckpt.safetensors")
    names = set(st_numpy.load_file(path))
    assert "model/0.weight" in names and "optimizer/state/0/exp_avg" in names
    twin = cr_cnn(5)
    twin_opt = optim.Adam(twin.parameters(), lr=0.5)
    cr.load(path, into={"model": twin, "optimizer": twin_opt})
    assert twin_opt.lr == 0.01 and cr.load(path)["epoch"] == 3
    for net, o in ((model, opt), (twin, twin_opt)):  # both continue identically
        nn.manual_seed(9)  # the same dropout masks
        o.zero_grad()
        cr.nll_loss(net(images(seed=9)), np.arange(6) % 5).backward()
        o.step()
    for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
        assert a.tobytes() == b.tobytes()


def damage(path, how):
    data = bytearray(open(path, "rb").read())
    if how == "truncated":
        data = data[: len(data) - 40]
    elif how == "header":  # a shape that does not match its byte range
        data = data.replace(b'"shape":[3,1,3,3]', b'"shape":[3,1,3,4]')
    out = f"{path}.{how}"
    open(out, "wb").write(bytes(data))
    return out


def bfloat16_copy(path):
    out = f"{path}.bf16"
    st_torch.save_file(
        {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in st_torch.load_file(path).items()}, out
    )
    return out


@pytest.mark.parametrize(
    "how, words",
    [
        ("truncated", "truncated, corrupt"),
        ("header", "truncated, corrupt"),
        ("bf16", "stored as BF16, which NumPy cannot hold"),
    ],
)
def test_damaged_and_unreadable_files_change_nothing(tmp_path, how, words):
    model, _ = trained_cnn()
    path = cr.save(model, tmp_path / "m.safetensors")
    target = cr_cnn(4)
    before = target.state_dict()
    with pytest.raises(SerializationError, match=words):
        cr.load(bfloat16_copy(path) if how == "bf16" else damage(path, how), into=target)
    for key, value in target.state_dict().items():
        assert value.tobytes() == before[key].tobytes()


def test_a_file_for_another_architecture_names_every_mismatch(tmp_path):
    model, _ = trained_cnn()
    path = cr.save(model, tmp_path / "m.safetensors")
    small = nn.Sequential(nn.Conv2d(1, 2, 3))
    before = small.state_dict()
    with pytest.raises(
        SerializationError,
        match=r"'0.weight' has shape \(3, 1, 3, 3\), the model expects "
        r"\(2, 1, 3, 3\); '0.bias' has shape \(3,\), the model expects \(2,\)",
    ):
        cr.load(path, into=small)
    with pytest.raises(SerializationError, match="unexpected key '1.weight'"):
        cr.load(path, into=nn.Sequential(nn.Conv2d(1, 3, 3, padding=1)))
    assert all(v.tobytes() == before[k].tobytes() for k, v in small.state_dict().items())


def test_cli_saves_and_loads_safetensors(tmp_path, capsys):
    weights = tmp_path / "model.safetensors"
    assert main("train --dataset iris --model linear --epochs 3 --save".split() + [str(weights), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {weights}" in out and set(st_numpy.load_file(weights)) == {"weight", "bias"}
    accuracy = out.split("accuracy ")[1].split()[0]
    assert main("train --dataset iris --model linear --epochs 0 --load".split() + [str(weights), "--no-progress"]) == 0
    assert f"accuracy {accuracy}" in capsys.readouterr().out


def test_without_the_package_the_message_says_what_to_install(tmp_path, monkeypatch):
    model, _ = trained_cnn()
    cr.save(model, tmp_path / "m.safetensors")
    for name in ("safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[safetensors\]'"):
        cr.save(model, tmp_path / "n.safetensors")
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[safetensors\]'"):
        cr.load(tmp_path / "m.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]  # nothing half-written
