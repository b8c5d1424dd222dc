"""Per-node hooks: how the layers above watch the engine work, without the engine knowing them.

The engine tells *watchers* what happens, node by node, and knows nothing of
what they do with it (the teaching layer narrates; a test may record):

- ``forward(node, fed)``: a node has its value for this pass (``fed``: a
  placeholder that was fed this time);
- ``backward(node)``: a node has its final ``.grad`` and, if it has inputs, the
  ``gradients`` it sent to each of them (``node.gradients[input]``);
- ``begin(kind, graph)`` / ``end(kind, graph)`` around a whole ``Graph`` pass
  (``kind`` is ``"forward"`` or ``"backward"``); the lesson's node-by-node loops
  send node events only.

``with watching(w): ...`` turns a watcher on in this thread. ``Graph.forward(
narrate=True)`` asks for the narrator that the teaching layer registered with
``set_narrator`` when the package loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Watcher:
    """What a watcher may define; every method is optional (the defaults do nothing)."""

    def begin(self, kind: str, graph: Any) -> None:
        """A whole pass over ``graph`` starts (``kind``: "forward" or "backward")."""

    def forward(self, node: Any, fed: bool) -> None:
        """``node`` has its value for this forward pass."""

    def backward(self, node: Any) -> None:
        """``node`` has its final ``.grad`` (and has sent ``node.gradients`` to its inputs)."""

    def end(self, kind: str, graph: Any) -> None:
        """A whole pass over ``graph`` has finished."""


class _Active(threading.local):
    watchers: tuple[Watcher, ...] = ()


_active = _Active()
_narrator: Callable[[str], Watcher] | None = None


def active() -> tuple[Watcher, ...]:
    """The watchers on in this thread (usually none: the engine checks this first)."""
    return _active.watchers


@contextmanager
def watching(*watchers: Watcher) -> Iterator[None]:
    """Turn ``watchers`` on for the ``with`` block, in this thread."""
    previous = _active.watchers
    _active.watchers = previous + watchers
    try:
        yield
    finally:
        _active.watchers = previous


def set_narrator(factory: Callable[[str], Watcher]) -> None:
    """Register the narrator: ``factory(lang)`` makes a watcher that prints what it sees."""
    global _narrator
    _narrator = factory


def narrator(lang: str) -> Watcher:
    """The registered narrator for ``lang``."""
    if _narrator is None:
        raise RuntimeError("no narrator is registered: import chainrule (its teaching layer registers one)")
    return _narrator(lang)


def notify(event: str, *args: Any, watchers: tuple[Watcher, ...] | None = None) -> None:
    """Call ``event`` (a Watcher method name) on every active watcher (or on ``watchers``)."""
    for watcher in _active.watchers if watchers is None else watchers:
        getattr(watcher, event)(*args)
