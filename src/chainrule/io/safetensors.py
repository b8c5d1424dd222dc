"""The safetensors format (Hugging Face's): an 8-byte length, a JSON header naming
each tensor's dtype, shape and byte range, then the raw little-endian bytes.

A module is stored under its ``state_dict()`` names ("0.weight",
"1.running_mean"), so ``safetensors.torch.load_file`` plus ``load_state_dict``
loads it into a PyTorch model of the same architecture, and a file PyTorch
wrote for that architecture loads here. Safetensors holds tensors only: an
optimizer or a checkpoint is stored flat (``model/0.weight``,
``optimizer/state/0/exp_avg``) and the rest (hyperparameters, step counts,
plain values) goes in the header's metadata as chainrule's JSON header, with
the chainrule version and the architecture. The format has no code in it:
nothing is ever unpickled, and the library checks every declared byte range
against the file before a tensor is read.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import numpy as np

from .._version import __version__
from ..errors import SerializationError
from .files import require
from .state import FORMAT, VERSION

METADATA_KEY = "chainrule"
_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
    "C64": np.complex64,
}
ERRORS = (ValueError, KeyError, TypeError, EOFError, OSError, OverflowError)


def _version() -> str:
    return __version__


def write(f: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray], architecture: str = "") -> None:
    """``arrays`` as a safetensors file; ``header`` and the architecture go in its metadata."""
    st_numpy = require("safetensors.numpy", "safetensors", "saving a .safetensors file")
    info = {METADATA_KEY: json.dumps(header), "chainrule_version": _version()}
    if architecture:
        info["architecture"] = architecture
    # the library reads raw memory: every array must be C-contiguous (np.ascontiguousarray would make 0-d 1-d)
    f.write(st_numpy.save({k: np.require(v, requirements="C") for k, v in arrays.items()}, metadata=info))


class Reader:
    """An open safetensors file: ``header`` (chainrule's, or for a file written elsewhere,
    a module state dict of all its tensors), ``entries`` (name -> dtype, shape) and ``read``."""

    def __init__(self, f: BinaryIO, path: str) -> None:
        library = require("safetensors", "safetensors", "reading a .safetensors file")
        self.path, self._error = path, library.SafetensorError
        try:
            self._handle = library.safe_open(path, framework="np")
            self._file = self._handle.__enter__()
            info = self._file.metadata() or {}
            names = list(self._file.keys())
            declared = {name: self._file.get_slice(name) for name in names}
            declared = {name: (s.get_dtype(), tuple(s.get_shape())) for name, s in declared.items()}
        except self._error as exc:  # the library's own checks: offsets, sizes, header
            raise ValueError(str(exc)) from None
        self.entries = {name: (self._dtype(name, dt), shape) for name, (dt, shape) in declared.items()}
        self.header = self._header(info, names)

    def _dtype(self, name: str, stored: str) -> np.dtype:
        if stored not in _DTYPES:
            raise SerializationError(
                f"'{self.path}': '{name}' is stored as {stored}, which NumPy cannot hold; "
                f"convert it to float32 first (in PyTorch: v.float())"
            )
        return np.dtype(_DTYPES[stored])

    def _header(self, info: dict[str, str], names: list[str]) -> Any:
        if METADATA_KEY not in info:  # written elsewhere (PyTorch...): a state dict by name
            return {"format": FORMAT, "version": VERSION, "kind": "module", "class": "state dict", "keys": names}
        try:
            return json.loads(info[METADATA_KEY])
        except (ValueError, RecursionError) as exc:
            raise SerializationError(f"'{self.path}' has a malformed chainrule header: not JSON ({exc})") from None

    def read(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a writable array of its own."""
        try:
            return np.array(self._file.get_tensor(name))
        except self._error as exc:
            raise ValueError(f"'{name}': {exc}") from None

    def close(self) -> None:
        self._handle.__exit__(None, None, None)
