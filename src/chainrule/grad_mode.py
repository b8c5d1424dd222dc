"""Grad mode: whether the nodes built now record gradient history (``no_grad()``), per thread.

``Node`` and ``Op`` read ``grad_mode.enabled`` when a node is built; the function
transforms switch it on while they run (as ``torch.enable_grad`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class GradMode(threading.local):
    """One flag per thread: True unless inside ``no_grad()``."""

    enabled = True


grad_mode = GradMode()


def is_grad_enabled() -> bool:
    """False inside ``no_grad()`` (in this thread)."""
    return grad_mode.enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Build nodes that record no gradient history, like ``torch.no_grad()``.

    Values are still computed; the new nodes have ``requires_grad=False``, so
    backward passes never enter them. Thread-local.
    """
    previous = grad_mode.enabled
    grad_mode.enabled = False
    try:
        yield
    finally:
        grad_mode.enabled = previous
