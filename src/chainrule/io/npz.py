"""The ``.npz`` format: a NumPy zip archive of ``.npy`` arrays plus the JSON header
as a string array named ``__chainrule__``.

Reading never calls ``np.load``: each member's ``.npy`` header is parsed on its
own, so an object (pickled) array, a string or date array, or a shape that
claims more bytes than the file holds is refused before any data is read or
any memory allocated for it.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from typing import Any, BinaryIO

import numpy as np

from ..errors import SerializationError

HEADER = "__chainrule__"
MAX_HEADER_BYTES = 64 << 20
_DEFLATE_RATIO = 1032  # the most that deflate can expand its input
# what damaged or foreign bytes make zipfile, zlib and NumPy's header parser raise
ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    ValueError,
    KeyError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    SyntaxError,
    OverflowError,
)


def write(f: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` and ``header`` as an .npz archive (stored, not compressed: bit for bit, fast)."""
    if HEADER in arrays:
        raise ValueError(f"the name {HEADER!r} is reserved")
    # the archive np.savez writes, member by member: np.savez takes the names as keyword
    # arguments, so an array named "allow_pickle" or "file" would be taken for its options
    members = {HEADER: np.array(json.dumps(header)), **arrays}
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in members.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:  # always zip64, as np.savez
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=True)


class Reader:
    """An open .npz archive: ``header`` (the parsed JSON), ``entries`` (name -> declared
    dtype and shape, known before any data is read) and ``read(name)``."""

    def __init__(self, f: BinaryIO, path: str) -> None:
        self.path = path
        self.archive = zipfile.ZipFile(f)
        size = os.fstat(f.fileno()).st_size
        self._members: dict[str, tuple] = {}
        for info in self.archive.infolist():
            if not info.filename.endswith(".npy"):
                hint = "; a PyTorch checkpoint? save its state_dict with safetensors" * info.filename.endswith(".pkl")
                raise SerializationError(
                    f"'{path}' is not a file written by chainrule.save: a zip archive holding '{info.filename}'{hint}"
                )
            self._members[info.filename[:-4]] = self._declared(info, size)
        if HEADER not in self._members:
            raise SerializationError(
                f"'{path}' is not a file written by chainrule.save: an .npz archive without "
                f"chainrule's header (it holds {sorted(self._members)[:5]})"
            )
        text = str(self.read(HEADER, limit=MAX_HEADER_BYTES))
        try:
            self.header = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise SerializationError(f"'{path}' has a malformed chainrule header: not JSON ({exc})") from None
        self.entries = {name: (m[1], m[2]) for name, m in self._members.items() if name != HEADER}

    def _declared(self, info: zipfile.ZipInfo, size: int) -> tuple:
        """(info, dtype, shape, fortran order, header bytes) of one member, its sizes checked
        against the file: the data it declares is exactly what the member holds, and the
        member can be no larger than the archive allows."""
        stored = info.compress_type == zipfile.ZIP_STORED
        if (
            info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or info.compress_size > size
            or (
                info.file_size != info.compress_size if stored else info.file_size > info.compress_size * _DEFLATE_RATIO
            )
        ):
            raise ValueError(f"member '{info.filename}' claims {info.file_size} bytes the archive cannot hold")
        with self.archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"'{info.filename}' has .npy format version {version}")
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(member)
            offset = member.tell()
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow
        if nbytes != info.file_size - offset:
            raise ValueError(
                f"'{info.filename[:-4]}' declares shape {shape} of {dtype} ({nbytes} bytes), "
                f"but the archive holds {info.file_size - offset} bytes for it"
            )
        return info, dtype, shape, fortran, offset

    def read(self, name: str, limit: int | None = None) -> np.ndarray:
        """The array ``name``, read only now (its size already checked), CRC verified."""
        info, dtype, shape, fortran, offset = self._members[name]
        if dtype.hasobject or (limit is not None and info.file_size > limit):
            raise ValueError(f"'{name}' is not a header chainrule wrote")
        with self.archive.open(info) as member:
            assert isinstance(member, zipfile.ZipExtFile)  # what open() reads with (typeshed: IO[bytes])
            member.read(offset)
            data = bytearray(info.file_size - offset)
            if member.readinto(data) != len(data) or member.read(1):  # reading to the end checks the CRC
                raise EOFError(f"'{name}' is shorter or longer than it declares")
        return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")

    def close(self) -> None:
        self.archive.close()
