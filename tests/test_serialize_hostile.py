"""Hostile model files (issue 15): foreign files, malformed headers, non-numeric arrays, sizes that
lie, concurrent and failing saves; and a fuzz of cr.load on random and mutated files. Every failure is
a SerializationError (or an OSError naming the file the user gave) and leaves the model as it was."""

import importlib.util
import io
import json
import os
import threading
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.errors import SerializationError, StateDictError
from chainrule.io import npz

# safetensors is an optional extra (CI installs it); the .npz checks run without it
FORMATS = ["npz"] + ["safetensors"] * bool(importlib.util.find_spec("safetensors"))
HEADER = json.dumps(
    {"format": "chainrule", "version": 1, "kind": "module", "class": "Linear", "keys": ["weight", "bias"]}
)


def linear(seed=0):
    nn.manual_seed(seed)
    return nn.Linear(3, 2)


def assert_untouched(model, before):
    for key, value in model.state_dict().items():
        assert value.dtype == before[key].dtype and value.tobytes() == before[key].tobytes(), key


def refused(path, match, model=None):
    """cr.load(path) into a model raises SerializationError matching ``match`` and changes nothing."""
    model = model or linear(1)
    before = model.state_dict()
    with pytest.raises(SerializationError, match=match):
        cr.load(path, into=model)
    assert_untouched(model, before)


# ---------------------------------------------------------------- foreign files
def test_npy_and_other_foreign_files(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones(3))
    refused(tmp_path / "w.npy", r"'.*w.npy' is a NumPy .npy file \(one bare array\)")
    (tmp_path / "notes.txt").write_text("hello, not weights")
    refused(tmp_path / "notes.txt", "not an .npz archive or a safetensors file")
    (tmp_path / "empty.npz").write_bytes(b"")
    refused(tmp_path / "empty.npz", "not an .npz archive or a safetensors file")
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "torch.pt")  # a zip archive holding a pickle
    refused(tmp_path / "torch.pt", "holding '.*data.pkl'; a PyTorch checkpoint")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hi")
    refused(tmp_path / "other.zip", "not a file written by chainrule.save")
    # the command line: one line on stderr, exit status 2, no traceback
    assert main(["train", "--dataset", "iris", "--model", "linear", "--load", str(tmp_path / "w.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chainrule train: ") and "Traceback" not in err
    assert ".npy file" in err


# ---------------------------------------------------------------- malformed headers
@pytest.mark.parametrize(
    "header, words",
    [
        ("[1, 2]", "a JSON list, not an object"),
        ("not json {", "not JSON"),
        ('{"format": "chainrule", "version": 99, "kind": "module", "keys": []}', "format version 99; this chainrule"),
        ('{"format": "chainrule", "version": "1", "kind": "module", "keys": []}', "format version '1' is not"),
        ('{"format": "chainrule", "version": 1, "kind": "module", "keys": [1, 2]}', "keys must be strings"),
        ('{"format": "chainrule", "version": 1, "kind": "module", "keys": "weight"}', "needs a 'keys' \\(list\\)"),
        ('{"format": "chainrule", "version": 1, "kind": "module", "keys": [], "class": 3}', "'class' is not a string"),
        ('{"format": "chainrule", "version": 1, "kind": "rocket"}', "unknown kind of object 'rocket'"),
        (
            '{"format": "chainrule", "version": 1, "kind": "checkpoint", "items": {"m": {"kind": "checkpoint", '
            '"items": {}}}}',
            "unknown kind of object 'checkpoint'",
        ),
        (
            '{"format": "chainrule", "version": 1, "kind": "optimizer", "param_groups": [], "scalars": {"x": {}}, '
            '"arrays": []}',
            "optimizer's state is not laid out",
        ),
        ('{"format": "keras", "version": 1}', "not a file written by chainrule.save"),
        ("[" * 100000 + "]" * 100000, "not JSON"),
    ],
)
def test_malformed_headers(tmp_path, header, words):
    np.savez(
        tmp_path / "h.npz",
        __chainrule__=np.array(header),
        weight=np.ones((2, 3), np.float32),
        bias=np.ones(2, np.float32),
    )
    refused(tmp_path / "h.npz", words)
    with pytest.raises(SerializationError):
        cr.load(tmp_path / "h.npz")


def test_header_that_is_not_a_string(tmp_path):
    np.savez(tmp_path / "h.npz", __chainrule__=np.arange(3))
    refused(tmp_path / "h.npz", "malformed chainrule header")


# ---------------------------------------------------------------- only numbers load
@pytest.mark.parametrize(
    "weight, words",
    [
        (np.array([["2020-01-01"] * 3] * 2, dtype="datetime64[D]"), r"'weight' holds dates \(datetime64\[D\]\)"),
        (np.ones((2, 3), dtype="timedelta64[s]"), r"'weight' holds time spans \(timedelta64\[s\]\)"),
        (np.array([["1.5"] * 3] * 2), r"'weight' holds strings \(<U3\)"),
        (np.array([[b"1.5"] * 3] * 2), r"'weight' holds byte strings"),
        (np.ones((2, 3), complex), r"'weight' holds complex numbers"),
        (np.zeros((2, 3), dtype=[("a", "f4")]), r"'weight' holds records"),
    ],
)
def test_only_numeric_arrays_load(tmp_path, weight, words):
    np.savez(tmp_path / "w.npz", __chainrule__=np.array(HEADER), weight=weight, bias=np.zeros(2, np.float32))
    refused(tmp_path / "w.npz", words)
    with pytest.raises(SerializationError, match=words):
        cr.load(tmp_path / "w.npz")  # also without a target
    model = linear()  # and handed to load_state_dict directly
    before = model.state_dict()
    if weight.dtype.kind != "c":
        with pytest.raises(StateDictError, match="'weight' holds"):
            model.load_state_dict({"weight": weight, "bias": np.zeros(2)})
    assert_untouched(model, before)


@pytest.mark.parametrize("dtype", [np.int16, np.int64, np.uint8, np.bool_, np.float64, np.float16])
def test_numeric_arrays_are_cast_as_pytorch_does(tmp_path, dtype):
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((2, 3)) * 3).astype(dtype)
    bias = (rng.standard_normal(2) * 3).astype(dtype)
    np.savez(tmp_path / "w.npz", __chainrule__=np.array(HEADER), weight=weight, bias=bias)
    model = cr.load(tmp_path / "w.npz", into=linear())
    oracle = torch.nn.Linear(3, 2)
    oracle.load_state_dict({"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias)})
    for key, value in model.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, oracle.state_dict()[key].numpy())


# ---------------------------------------------------------------- declared sizes
def lying_npz(path, claim=10**12, compress=zipfile.ZIP_STORED):
    """A valid file whose 'weight' member's .npy header claims shape (claim,) over 24 bytes of data."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(6, np.float32))
    raw = buffer.getvalue()
    end = raw.index(b"\n")
    text = raw[10:end].replace(b"(6,)", f"({claim},)".encode()).rstrip(b" ")
    member = raw[:10] + text + b" " * (end - 10 - len(text)) + raw[end:]
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr("__chainrule__.npy", _npy(np.array(HEADER)))
        z.writestr("weight.npy", member)
        z.writestr("bias.npy", _npy(np.zeros(2, np.float32)))
    return path


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_sizes_are_checked_before_allocating(tmp_path, compress):
    path = lying_npz(tmp_path / "big.npz", compress=compress)
    assert os.path.getsize(path) < 2048
    refused(
        path,
        r"'weight' declares shape \(1000000000000,\) of float32 \(4000000000000 bytes\), but the "
        r"archive holds 24 bytes",
    )
    with pytest.raises(SerializationError, match="declares shape"):
        cr.load(path)  # no MemoryError without a target either


def test_shapes_are_checked_against_the_model_before_any_data_is_read(tmp_path, monkeypatch):
    cr.save(nn.Linear(300, 200), tmp_path / "big.npz")
    reads = []
    real = npz.Reader.read

    def read(self, name, **kw):
        reads.append(name)
        return real(self, name, **kw)

    monkeypatch.setattr(npz.Reader, "read", read)
    refused(
        tmp_path / "big.npz",
        r"'weight' has shape \(200, 300\), the model expects \(2, 3\); "
        r"'bias' has shape \(200,\), the model expects \(2,\)",
    )
    assert reads == ["__chainrule__"]  # the header only


# ---------------------------------------------------------------- saving: unique, durable, named
def test_two_threads_saving_to_one_path_never_mix_models(tmp_path):
    models = [nn.MLP([8, 64, 8]) for _ in range(2)]
    path, errors = tmp_path / "m.npz", []

    def saver(model):
        try:
            for _ in range(15):
                cr.save(model, path)
        except Exception as exc:  # noqa: BLE001 - any failure is the bug this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=saver, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state = cr.load(path)
    matches = [all(np.array_equal(state[k], v) for k, v in m.state_dict().items()) for m in models]
    assert sum(matches) == 1  # exactly one whole model, never a mix
    assert os.listdir(tmp_path) == ["m.npz"]


def test_data_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)

    def replace(a, b):
        events.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    for fmt in FORMATS:
        events.clear()
        cr.save(linear(), tmp_path / f"m.{fmt}")
        assert events[:2] == ["fsync", "replace"]


def test_failed_saves_keep_the_old_file_and_never_show_the_temporary_name(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "no" / "such" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        cr.save(linear(), missing)
    assert str(missing) in str(info.value) and ".tmp" not in str(info.value)
    path = cr.save(linear(0), tmp_path / "m.npz")
    good = open(path, "rb").read()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left on device") as full:
        cr.save(linear(1), path)
    assert str(path) in str(full.value) and ".tmp" not in str(full.value) and full.value.__cause__ is None
    assert open(path, "rb").read() == good and os.listdir(tmp_path) == ["m.npz"]  # no temporary left
    monkeypatch.undo()
    assert main("train --dataset iris --model linear --epochs 1 --no-progress --save".split() + [str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and ".tmp" not in err


# ---------------------------------------------------------------- fuzz: random and mutated files
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def saved_files(folder):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    return [open(cr.save(model, folder / f"m.{fmt}"), "rb").read() for fmt in FORMATS]


def _load_or_refuse(data, folder):
    path = folder / "fuzzed.bin"
    path.write_bytes(data)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = model.state_dict()
    try:
        cr.load(path, into=model)
    except SerializationError:
        assert_untouched(model, before)
    try:
        cr.load(path)
    except SerializationError:
        pass


_PREFIXES = st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00", b"\x10\x00\x00\x00\x00\x00\x00\x00{"])
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 120)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@FUZZ
@given(prefix=_PREFIXES, body=st.binary(max_size=300))
def test_fuzz_random_files(folder, prefix, body):
    _load_or_refuse(prefix + body, folder)


@FUZZ
@given(
    which=st.integers(0, len(FORMATS) - 1),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_fuzz_mutated_files(folder, saved_files, which, edits, cut):
    data = bytearray(saved_files[which])
    for where, byte in edits:
        data[min(int(where * len(data)), len(data) - 1)] = byte
    if cut is not None:
        data = data[: int(cut * len(data))]
    _load_or_refuse(bytes(data), folder)
