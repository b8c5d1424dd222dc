"""What a saved file holds, whatever its format: named arrays plus a JSON header.

``flatten`` turns a Module, an Optimizer, or a checkpoint dict of those (and
plain values) into arrays named as in ``state_dict()`` (a checkpoint's parts
prefixed ``model/``, ``optimizer/state/0/exp_avg``...) and a header that says
how to put them back. ``check_header`` validates a header read from a file
before anything trusts it, ``check_arrays`` checks each stored array's dtype
and declared shape before its data is read, and ``rebuild``/``apply`` turn
the arrays back into state dicts and load them into their targets.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import SerializationError
from ..nn.module import Module
from ..optim import Optimizer

FORMAT, VERSION = "chainrule", 1
NUMERIC = "biuf"  # bool, signed, unsigned, float: what a parameter may be cast from (as torch's copy_)
_KINDS = {
    "U": "strings",
    "S": "byte strings",
    "M": "dates",
    "m": "time spans",
    "O": "Python objects",
    "V": "records",
    "c": "complex numbers",
}
_OPT_ARRAY, _INDEX = re.compile(r"[0-9]+/.+"), re.compile(r"[0-9]+")

# kind -> the fields its header entry must have, with their JSON types
_FIELDS: dict[str, dict[str, type]] = {
    "module": {"keys": list},
    "optimizer": {"param_groups": list, "scalars": dict, "arrays": list},
    "checkpoint": {"items": dict},
    "array": {},
    "value": {"value": object},
}


def flatten(obj: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``obj``'s header and its arrays by name."""
    arrays: dict[str, np.ndarray] = {}
    return {"format": FORMAT, "version": VERSION, **_flatten(obj, "", arrays)}, arrays


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
        names = []
        for index, entries in sd["state"].items():
            for name, value in entries.items():
                if isinstance(value, np.ndarray):
                    arrays[f"{prefix}state/{index}/{name}"] = value
                    names.append(f"{index}/{name}")
                else:
                    scalars.setdefault(str(index), {})[name] = value
        return {
            "kind": "optimizer",
            "class": type(obj).__name__,
            "param_groups": sd["param_groups"],
            "scalars": scalars,
            "arrays": sorted(names),
        }
    if isinstance(obj, dict) and not prefix:
        return {"kind": "checkpoint", "items": {str(k): _flatten(v, f"{k}/", arrays) for k, v in obj.items()}}
    if isinstance(obj, np.ndarray):
        arrays[prefix.rstrip("/") or "array"] = obj
        return {"kind": "array"}
    if isinstance(obj, (int, float, str, bool, list)) or obj is None:
        return {"kind": "value", "value": obj}
    raise TypeError(f"cr.save can store a Module, an Optimizer, an array, or a dict of those, not {type(obj).__name__}")


# ---------------------------------------------------------------- reading: trust nothing
def _malformed(path: str, what: str) -> SerializationError:
    return SerializationError(f"'{path}' has a malformed chainrule header: {what}")


def check_header(header: Any, path: str) -> dict[str, Any]:
    """``header`` if it is a well-formed chainrule header this version can read, else SerializationError."""
    if not isinstance(header, dict):
        raise _malformed(path, f"a JSON {type(header).__name__}, not an object")
    if header.get("format") != FORMAT:
        raise SerializationError(
            f"'{path}' is not a file written by chainrule.save (its header's format is {header.get('format')!r})"
        )
    version = header.get("version")
    if type(version) is not int or version < 1:
        raise _malformed(path, f"format version {version!r} is not a positive integer")
    if version > VERSION:
        raise SerializationError(
            f"'{path}' has format version {version}; this chainrule reads up to {VERSION} (upgrade chainrule)"
        )
    _check_part(header, path, top=True)
    return header


def _check_part(desc: Any, path: str, top: bool) -> None:
    kind = desc.get("kind") if isinstance(desc, dict) else None
    if not isinstance(kind, str) or kind not in _FIELDS or (kind == "checkpoint" and not top):
        raise _malformed(path, f"unknown kind of object {kind!r}")
    for field, kind_of in _FIELDS[kind].items():
        if field not in desc or not isinstance(desc[field], kind_of):
            raise _malformed(path, f"its {kind} entry needs a '{field}' ({kind_of.__name__})")
    if not isinstance(desc.get("class", ""), str):
        raise _malformed(path, "'class' is not a string")
    if kind == "module" and not all(isinstance(k, str) for k in desc["keys"]):
        raise _malformed(path, "a module's keys must be strings")
    if kind == "optimizer":
        if (
            not all(isinstance(a, str) and _OPT_ARRAY.fullmatch(a) for a in desc["arrays"])
            or not all(_INDEX.fullmatch(k) and isinstance(v, dict) for k, v in desc["scalars"].items())
            or not all(isinstance(g, dict) for g in desc["param_groups"])
        ):
            raise _malformed(path, "an optimizer's state is not laid out as chainrule.save writes it")
    if kind == "checkpoint":
        for item in desc["items"].values():
            _check_part(item, path, top=False)


def expected_shapes(desc: dict[str, Any], into: Any, prefix: str = "") -> dict[str, tuple]:
    """The shape each stored module array must have to fit ``into``, by array name."""
    if desc["kind"] == "module" and isinstance(into, Module):
        return {prefix + key: np.shape(value) for key, value in into.state_dict().items()}
    if desc["kind"] == "checkpoint" and isinstance(into, dict):
        shapes: dict[str, tuple] = {}
        for key, target in into.items():
            if str(key) in desc["items"]:
                shapes.update(expected_shapes(desc["items"][str(key)], target, f"{key}/"))
        return shapes
    return {}


def check_arrays(path: str, entries: dict[str, tuple[np.dtype, tuple]], expected: dict[str, tuple]) -> None:
    """Refuse, before any data is read, arrays (name -> declared dtype and shape) that are
    not numeric or do not fit their target; one error lists every problem."""
    problems = [
        f"'{name}' holds {_KINDS.get(dtype.kind, 'values')} ({dtype})"
        for name, (dtype, _) in entries.items()
        if dtype.kind not in NUMERIC
    ]
    if problems:
        raise SerializationError(
            f"'{path}': {', '.join(problems)}; only real numeric arrays (bool, integer, float) can be loaded"
        )
    problems = [
        f"'{name}' has shape {tuple(entries[name][1])}, the model expects {tuple(want)}"
        for name, want in expected.items()
        if name in entries and tuple(entries[name][1]) != tuple(want)
    ]
    if problems:
        raise SerializationError(f"'{path}' does not fit: {'; '.join(problems)}")


def rebuild(desc: dict[str, Any], arrays: dict[str, np.ndarray], path: str, prefix: str = "") -> Any:
    """The saved thing as plain data: a state dict, an optimizer state dict, an array, a value."""
    kind = desc["kind"]
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
            return {k: rebuild(d, arrays, path, f"{k}/") for k, d in desc["items"].items()}
        if kind == "array":
            return arrays[prefix.rstrip("/") or "array"]
        return desc["value"]
    except KeyError as exc:
        raise SerializationError(f"'{path}' is incomplete: its header lists {exc}, which is missing") from exc


def apply(desc: dict[str, Any], data: Any, into: Any, path: str) -> None:
    """Load ``data`` into ``into`` (a Module, an Optimizer or a dict of them); each validates first."""
    kind = desc["kind"]
    if (isinstance(into, Module) and kind == "module") or (isinstance(into, Optimizer) and kind == "optimizer"):
        into.load_state_dict(data)
    elif isinstance(into, dict) and kind == "checkpoint":
        missing = [k for k in into if str(k) not in data]
        if missing:
            raise SerializationError(f"'{path}' has no {missing} (it holds {sorted(data)})")
        for key, target in into.items():
            apply(desc["items"][str(key)], data[str(key)], target, path)
    else:
        raise SerializationError(
            f"'{path}' holds a {desc.get('class', kind)} ({kind}); it cannot be loaded into a {type(into).__name__}"
        )
