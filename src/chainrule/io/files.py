"""What every file format shares: all-or-nothing writes, telling formats apart by
their first bytes, and optional packages that say how to install them."""

from __future__ import annotations

import contextlib
import importlib
import os
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import BinaryIO


def atomic_write(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through ``write(file)``, all or nothing.

    The bytes go to a temporary file beside ``path`` with a name unique to this
    save (two threads or processes saving to one path never share it), are
    flushed and fsynced to disk, and only then renamed over ``path`` in one
    step: a crash or an error leaves the old file, never a mix. On failure the
    temporary file is removed, and an OSError names ``path``, not the temporary
    file the user never asked for.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:16]}.tmp")
    try:
        try:
            # O_EXCL: a fresh file, never someone else's; 0o666 less the umask, like open()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the name points at it
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    except OSError as exc:
        raise _about(exc, path, tmp) from None  # the chain would show the temporary name
    _fsync_directory(directory)


def _about(exc: OSError, path: str, tmp: str) -> OSError:
    """The same kind of OSError, about ``path``."""
    if exc.strerror:
        return type(exc)(exc.errno, exc.strerror, path)
    return type(exc)(f"cannot write '{path}': {str(exc).replace(tmp, path)}")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX; skipped where a directory cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sniff(head: bytes) -> str:
    """The format of a file from its first bytes: "npz", "npy", "safetensors", or "" (unknown)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip archive (an empty one ends at once)
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 9 and head[8:9] == b"{":  # 8-byte header length, then the JSON header
        return "safetensors"
    return ""


def require(name: str, extra: str, what: str) -> ModuleType:
    """Import the optional package ``name``, or say which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(
            f"{what} needs the {name} package: pip install 'chainrule[{extra}]' (or pip install {name})"
        ) from None
