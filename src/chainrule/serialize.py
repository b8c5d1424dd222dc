"""Saving and loading: modules, optimizers and checkpoints as ``.npz`` files.

    cr.save(model, "model.npz");  cr.load("model.npz", into=model)
    cr.save({"model": model, "optimizer": opt, "epoch": 7}, "checkpoint.npz")
    cr.load("checkpoint.npz", into={"model": model, "optimizer": opt})

The file is a NumPy ``.npz`` archive: one array per parameter, buffer or
optimizer-state tensor, stored bit for bit, plus a JSON header (a string
array) describing what it holds. It is read with ``allow_pickle=False``, so
loading a file from anywhere can never run code. A truncated, corrupt or
foreign file, or one that does not fit its target, raises
``SerializationError`` and leaves the target unchanged.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from .errors import SerializationError, StateDictError
from .nn.module import Module
from .optim import Optimizer

__all__ = ["load", "save"]

_HEADER = "__chainrule__"
_FORMAT, _VERSION = "chainrule", 1


def _flatten(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Put ``obj``'s arrays into ``arrays`` under ``prefix``; return its JSON description."""
    if isinstance(obj, Module):
        state = obj.state_dict()
        for key, value in state.items():
            arrays[prefix + key] = value
        return {"kind": "module", "class": type(obj).__name__, "keys": list(state)}
    if isinstance(obj, Optimizer):
        sd = obj.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entries in sd["state"].items():
            for name, value in entries.items():
                if isinstance(value, np.ndarray):
                    arrays[f"{prefix}state/{index}/{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        return {"kind": "optimizer", "class": type(obj).__name__, "param_groups": sd["param_groups"],
                "scalars": scalars, "arrays": sorted({f"{i}/{n}" for i, e in sd["state"].items() for n, v in e.items()
                                                      if isinstance(v, np.ndarray)})}
    if isinstance(obj, dict) and not prefix:
        return {"kind": "checkpoint", "items": {str(k): _flatten(v, f"{k}/", arrays) for k, v in obj.items()}}
    if isinstance(obj, np.ndarray):
        arrays[prefix.rstrip("/") or "array"] = obj
        return {"kind": "array"}
    if isinstance(obj, (int, float, str, bool, list)) or obj is None:
        return {"kind": "value", "value": obj}
    raise TypeError(f"cr.save can store a Module, an Optimizer, an array, or a dict of those, "
                    f"not {type(obj).__name__}")


def save(obj: Any, path: str | os.PathLike) -> str:
    """Write ``obj`` (a Module, an Optimizer, or a dict of Modules, Optimizers, arrays and
    plain values) to ``path`` as an ``.npz`` archive; returns the path. Written to a
    temporary file first, so an interrupted save never leaves a half-written file."""
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    description = _flatten(obj, "", arrays)
    if _HEADER in arrays:
        raise ValueError(f"the name {_HEADER!r} is reserved")
    header = json.dumps({"format": _FORMAT, "version": _VERSION, **description})
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:  # a file object: NumPy adds no ".npz" to the name
            np.savez(f, **{_HEADER: np.array(header)}, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and every array, fully read (so every CRC is checked) before anything is used."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise SerializationError(f"cannot read '{path}': truncated, corrupt or not an .npz file ({exc})") from exc
    try:
        header = json.loads(str(arrays.pop(_HEADER)))
        if header.get("format") != _FORMAT:
            raise ValueError(f"format {header.get('format')!r}")
    except (KeyError, ValueError, TypeError) as exc:
        raise SerializationError(f"'{path}' is not a file written by chainrule.save ({exc})") from exc
    if header.get("version", 0) > _VERSION:
        raise SerializationError(f"'{path}' has format version {header['version']}; this chainrule reads "
                                 f"up to {_VERSION} (upgrade chainrule)")
    return header, arrays


def _rebuild(desc: dict[str, Any], prefix: str, arrays: dict[str, np.ndarray], path: str) -> Any:
    """The saved thing as plain data: a state dict, an optimizer state dict, an array, a value."""
    kind = desc.get("kind")
    try:
        if kind == "module":
            return {key: arrays[prefix + key] for key in desc["keys"]}
        if kind == "optimizer":
            state: dict[int, dict[str, Any]] = {}
            for index, entries in desc["scalars"].items():
                state.setdefault(int(index), {}).update(entries)
            for item in desc["arrays"]:
                index, name = item.split("/", 1)
                state.setdefault(int(index), {})[name] = arrays[f"{prefix}state/{item}"]
            return {"state": state, "param_groups": desc["param_groups"]}
        if kind == "checkpoint":
            return {k: _rebuild(d, f"{k}/", arrays, path) for k, d in desc["items"].items()}
        if kind == "array":
            return arrays[prefix.rstrip("/") or "array"]
        if kind == "value":
            return desc["value"]
    except KeyError as exc:
        raise SerializationError(f"'{path}' is incomplete: its header lists {exc}, which is missing") from exc
    raise SerializationError(f"'{path}' holds an unknown kind of object {kind!r}")


def _apply(desc: dict[str, Any], data: Any, into: Any, path: str) -> None:
    """Load ``data`` into ``into`` (a Module, an Optimizer or a dict of them); each validates first."""
    kind = desc["kind"]
    if (isinstance(into, Module) and kind == "module") or (isinstance(into, Optimizer) and kind == "optimizer"):
        into.load_state_dict(data)
    elif isinstance(into, dict) and kind == "checkpoint":
        missing = [k for k in into if k not in data]
        if missing:
            raise SerializationError(f"'{path}' has no {missing} (it holds {sorted(data)})")
        for key, target in into.items():
            _apply(desc["items"][key], data[key], target, path)
    else:
        raise SerializationError(f"'{path}' holds a {desc.get('class', kind)} ({kind}); "
                                 f"it cannot be loaded into a {type(into).__name__}")


def load(path: str | os.PathLike, into: Any = None) -> Any:
    """Read a file written by ``save``.

    Without ``into``: the saved data (a module's state dict, an optimizer's
    state dict, or a dict of those for a checkpoint). With ``into`` (a Module,
    an Optimizer, or a dict of them for a checkpoint): load the data into it
    and return it; if anything does not fit, raise SerializationError and
    leave every target as it was.
    """
    path = os.fspath(path)
    header, arrays = _read(path)
    data = _rebuild(header, "", arrays, path)
    if into is None:
        return data
    targets = into.values() if isinstance(into, dict) else [into]
    backups = [(t, t.state_dict()) for t in targets if isinstance(t, (Module, Optimizer))]
    try:
        _apply(header, data, into, path)
    except (StateDictError, SerializationError, ValueError, TypeError) as exc:
        for target, backup in backups:  # a checkpoint may have loaded some parts already
            target.load_state_dict(backup)
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(f"'{path}' does not fit {type(into).__name__}: {exc}") from exc
    return into
