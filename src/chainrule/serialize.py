"""Saving and loading: ``cr.save`` / ``cr.load``, one entry point for every weight format.

    cr.save(model, "model.npz");  cr.load("model.npz", into=model)
    cr.save(model, "model.safetensors")          # readable by safetensors and PyTorch
    cr.save({"model": model, "optimizer": opt, "epoch": 7}, "checkpoint.npz")
    cr.load("checkpoint.npz", into={"model": model, "optimizer": opt})

The format comes from ``format=`` ("npz" or "safetensors"), else from the
suffix when saving (``.safetensors``; anything else is ``.npz``) and from the
file's first bytes when loading. Each format is a small module in ``io/``;
``io/state.py`` turns what is saved into named arrays plus a JSON header.

Writes are all or nothing (a unique temporary file, fsynced, renamed into
place). Reads trust nothing: no pickle is ever loaded, the header is
validated, each array's dtype (numeric only) and declared size are checked
against the file and the target before its data is read, and a truncated,
corrupt, foreign or mismatched file raises ``SerializationError`` and leaves
the target unchanged.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

import numpy as np

from .errors import SerializationError, StateDictError
from .io import npz, safetensors, state
from .io.files import atomic_write, sniff
from .nn.module import Module
from .optim import Optimizer

__all__ = ["FORMATS", "load", "save"]

FORMATS = {"npz": npz, "safetensors": safetensors}
_NAMES = {"npz": "an .npz archive", "safetensors": "a safetensors file"}


def _format(path: str, format: str | None) -> str:
    if format is None:
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".onnx":
            raise ValueError(
                "cr.save writes weights (.npz, .safetensors); for an ONNX model use "
                "cr.onnx.export(model, example_inputs, path)"
            )
        return "safetensors" if suffix == ".safetensors" else "npz"
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {sorted(FORMATS)}")
    return format


def _architecture(obj: Any) -> str:
    """The model's structure as text (its repr), for the file's metadata."""
    if isinstance(obj, Module):
        return repr(obj)
    if isinstance(obj, dict):
        return "\n".join(f"{key}: {value!r}" for key, value in obj.items() if isinstance(value, Module))
    return ""


def save(obj: Any, path: str | os.PathLike, format: str | None = None) -> str:
    """Write ``obj`` (a Module, an Optimizer, or a dict of Modules, Optimizers, arrays and
    plain values) to ``path``; returns the path. ``format``: "npz" or "safetensors"
    (default: from the suffix). An interrupted or failed save leaves the old file."""
    path = os.fspath(path)
    fmt = _format(path, format)
    header, arrays = state.flatten(obj)
    for name, array in arrays.items():
        if array.dtype.kind not in state.NUMERIC:
            raise TypeError(f"cr.save stores real numeric arrays only; '{name}' holds {array.dtype}")
    if fmt == "npz":
        atomic_write(path, lambda f: npz.write(f, header, arrays))
    else:
        atomic_write(path, lambda f: safetensors.write(f, header, arrays, _architecture(obj)))
    return path


def _detect(f: BinaryIO, path: str) -> str:
    """The format of the open file ``f`` from its first bytes."""
    kind = sniff(f.read(16))
    f.seek(0)
    if kind == "npy":
        raise SerializationError(
            f"'{path}' is a NumPy .npy file (one bare array), not a file written by "
            f"chainrule.save; read it with np.load"
        )
    if not kind:
        raise SerializationError(
            f"'{path}' is not a file written by chainrule.save: not an .npz archive or a safetensors file"
        )
    return kind


def _read(path: str, into: Any, format: str | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The validated header and every array, each checked before its data is read."""
    with open(path, "rb") as f:  # a missing file is FileNotFoundError, as for open()
        fmt = _detect(f, path) if format is None else _format(path, format)
        module = FORMATS[fmt]
        try:
            reader = module.Reader(f, path)
            try:
                header = state.check_header(reader.header, path)
                expected = state.expected_shapes(header, into) if into is not None else {}
                state.check_arrays(path, reader.entries, expected)
                return header, {name: reader.read(name) for name in reader.entries}
            finally:
                reader.close()
        except SerializationError:
            raise
        except module.ERRORS as exc:
            raise SerializationError(f"cannot read '{path}': truncated, corrupt or not {_NAMES[fmt]} ({exc})") from exc


def load(path: str | os.PathLike, into: Any = None, format: str | None = None) -> Any:
    """Read a file written by ``save`` (or a safetensors file of weights from anywhere).

    Without ``into``: the saved data (a module's state dict, an optimizer's
    state dict, or a dict of those for a checkpoint). With ``into`` (a Module,
    an Optimizer, or a dict of them for a checkpoint): load the data into it
    and return it; if anything does not fit, raise SerializationError and
    leave every target as it was. Numeric arrays are cast to the target's
    dtypes as ``torch.nn.Module.load_state_dict`` does; anything else is refused.
    """
    path = os.fspath(path)
    header, arrays = _read(path, into, format)
    data = state.rebuild(header, arrays, path)
    if into is None:
        return data
    targets = into.values() if isinstance(into, dict) else [into]
    backups = [(t, t.state_dict()) for t in targets if isinstance(t, (Module, Optimizer))]
    try:
        state.apply(header, data, into, path)
    except (StateDictError, SerializationError, ValueError, TypeError) as exc:
        for target, backup in backups:  # a checkpoint may have loaded some parts already
            target.load_state_dict(backup)
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(f"'{path}' does not fit {type(into).__name__}: {exc}") from exc
    return into
