"""cr.save / cr.load: bit-exact round trips of modules, optimizers and checkpoints; no pickle;
truncated, corrupt, foreign and mismatched files raise SerializationError and change nothing."""

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.errors import SerializationError


def cnn(seed):
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 2 * 2, 2),
    )


def trained(model, steps=3, opt=None):
    """A few training steps: non-trivial weights, running statistics and optimizer state."""
    opt = opt or optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        opt.zero_grad()
        x = rng.standard_normal((5, 1, 4, 4)).astype(np.float32)
        cr.cross_entropy(model(x), rng.integers(0, 2, 5)).backward()
        opt.step()
    return model, opt


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and sa[key].tobytes() == sb[key].tobytes(), key  # bit for bit


def test_module_round_trip_is_bit_exact(tmp_path):
    model, _ = trained(cnn(0))
    path = cr.save(model, tmp_path / "model.npz")
    fresh = cnn(1)
    assert cr.load(path, into=fresh) is fresh
    assert_same_state(model, fresh)
    x = np.random.default_rng(5).standard_normal((4, 1, 4, 4)).astype(np.float32)
    model.eval(), fresh.eval()
    assert model(x).value.tobytes() == fresh(x).value.tobytes()
    state = cr.load(path)  # without a target: the state dict
    assert set(state) == set(model.state_dict()) and state["1.num_batches_tracked"] == 3


def test_float64_and_odd_file_names(tmp_path):
    model = nn.MLP([3, 4, 2]).to("float64")
    path = str(tmp_path / "weights.bin")  # no .npz added
    cr.save(model, path)
    assert os.path.exists(path) and not os.path.exists(path + ".npz")
    other = nn.MLP([3, 4, 2]).to("float64")
    cr.load(path, into=other)
    assert_same_state(model, other)
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]  # the temporary file is gone


def test_optimizer_round_trip_continues_identically(tmp_path):
    model, opt = trained(cnn(0))
    cr.save(opt, tmp_path / "opt.npz")
    twin = cnn(1)
    cr.load(cr.save(model, tmp_path / "m.npz"), into=twin)
    twin_opt = optim.Adam(twin.parameters(), lr=0.5)
    cr.load(tmp_path / "opt.npz", into=twin_opt)
    assert twin_opt.lr == 0.01 and twin_opt.param_groups[0]["betas"] == (0.9, 0.999)
    trained(model, 2, opt), trained(twin, 2, twin_opt)
    assert_same_state(model, twin)


def test_checkpoint_with_model_optimizer_and_values(tmp_path):
    model, opt = trained(cnn(0))
    path = cr.save({"model": model, "optimizer": opt, "epoch": 7, "note": "best"}, tmp_path / "ckpt.npz")
    data = cr.load(path)
    assert data["epoch"] == 7 and data["note"] == "best" and set(data["model"]) == set(model.state_dict())
    twin = cnn(1)
    twin_opt = optim.Adam(twin.parameters())
    cr.load(path, into={"model": twin, "optimizer": twin_opt})
    assert_same_state(model, twin)
    assert twin_opt.state_dict()["state"][0]["step"] == 3


def test_loading_never_unpickles(tmp_path):
    """An .npz holding a pickled object (which would run code when unpickled) is refused."""
    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    path = tmp_path / "evil.npz"
    arrays: dict[str, Any] = {
        "__chainrule__": np.array('{"format": "chainrule", "version": 1, "kind": "module", "keys": ["0.weight"]}'),
        "0.weight": np.array([Payload()], dtype=object),
    }
    np.savez(path, **arrays)
    model = nn.MLP([2, 2])
    before = model.state_dict()
    with pytest.raises(SerializationError, match="evil.npz"):
        cr.load(path, into=model)
    assert not ran.exists()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.fixture
def saved(tmp_path):
    model, _ = trained(cnn(0))
    return cr.save(model, tmp_path / "good.npz")


def damaged(path, how):
    data = bytearray(Path(path).read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "corrupt":  # flip bytes inside the stored arrays: the zip CRC no longer matches
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("0.weight.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        for i in range(start, start + 8):
            data[i] ^= 0xFF
    elif how == "garbage":
        data = bytearray(b"this is not a zip file at all" * 10)
    out = Path(f"{path}.{how}")
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    "how, words", [("truncated", "truncated, corrupt"), ("corrupt", "CRC"), ("garbage", "not an .npz")]
)
def test_damaged_files_raise_and_leave_the_model_untouched(saved, how, words):
    model = cnn(3)
    before = model.state_dict()
    with pytest.raises(SerializationError) as info:
        cr.load(damaged(saved, how), into=model)
    assert words in str(info.value) and how in str(info.value)  # names the file
    for k, v in model.state_dict().items():
        assert v.tobytes() == before[k].tobytes()


def test_foreign_and_mismatched_files(tmp_path, saved):
    np.savez(tmp_path / "plain.npz", weights=np.ones(3))
    with pytest.raises(SerializationError, match="not a file written by chainrule.save"):
        cr.load(tmp_path / "plain.npz")
    small = nn.MLP([4, 5, 2])
    cr.save(small, tmp_path / "small.npz")
    other = nn.MLP([4, 6, 2])
    before = other.state_dict()
    with pytest.raises(SerializationError, match=r"'0.weight' has shape \(5, 4\), the model expects \(6, 4\)"):
        cr.load(tmp_path / "small.npz", into=other)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(SerializationError, match="Sequential.*cannot be loaded into a Adam"):
        cr.load(saved, into=optim.Adam(other.parameters()))
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="Module, an Optimizer"):
        cr.save(object(), tmp_path / "x.npz")


def test_checkpoint_that_fails_halfway_restores_every_part(tmp_path):
    model, opt = trained(cnn(0))
    path = cr.save({"model": model, "optimizer": opt}, tmp_path / "ckpt.npz")
    twin = cnn(1)
    wrong_opt = optim.Adam(nn.MLP([2, 2]).parameters())  # fits the model part, not the optimizer part
    before = twin.state_dict()
    with pytest.raises(SerializationError, match="groups hold"):
        cr.load(path, into={"model": twin, "optimizer": wrong_opt})
    for k, v in twin.state_dict().items():
        assert v.tobytes() == before[k].tobytes()
