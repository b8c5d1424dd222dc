"""Freeing, while an eager graph is built, the values that no vjp will read.

PyTorch frees the pre-activation ``z`` of ``relu(linear(x))`` as soon as your last
reference to it goes: ReLU's backward reads its result, the linear layer's reads
its input and weight, nothing reads ``z``. Here each op declares what its vjp reads
(``Op.vjp_reads``), and a node's value is released (becomes a
``memory.ReleasedAfterForward``, which keeps its shape and dtype) once

(a) its own vjp does not read its output,
(b) no op built on it has a vjp that reads it (such a consumer *pins* it), and
(c) nothing but those consumers references the node: CPython's reference count
    says so exactly, as ``memory.py`` does for backward. While your variable, a
    list, a hook, a learner's node or an op built define-then-run holds it, the
    count is higher and the value stays.

Only big values are considered (``THRESHOLD`` bytes), so the ops of small graphs
pay one check of an empty dict. The candidates are checked (``sweep``) whenever an
op that needs a gradient is built and when a backward pass starts; one found held
``CHECKS`` times is left alone for good (held by you: it keeps its value), so the
work per op stays bounded. Nothing is
released in ``no_grad()`` (no graph), define-then-run (``Graph``: no values while
building), in the lesson's node loops and learner-written nodes (not ``Op``\\ s), or
while a watcher (narration) is on. A released value is recomputed from the leaves
by everything that sorts a graph to show or re-run it (``explain``, drawing,
``Graph``, ``cr.compile``'s trace, the lesson's ``topological_sort``, function
transforms, ``create_graph``); reading it directly raises ``ReleasedValueError``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from . import hooks
from .memory import ReleasedAfterForward, refcount

THRESHOLD = 1 << 16  # bytes: below this, keeping a value costs less than watching it
CHECKS = 64  # sweeps a candidate may be found held in before it is left alone


class _Candidate:
    """A node whose value may be released: a weak reference to it (the candidates never keep
    a graph alive), weak references to its consumers (one per use) and the checks left."""

    __slots__ = ("node", "consumers", "checks")

    def __init__(self, node: Any) -> None:
        self.node = weakref.ref(node)
        self.consumers: list = []
        self.checks = CHECKS


# id(node) -> _Candidate. One table for every thread: a consumer built in another thread
# must still pin what it reads (a reference held by a running frame only delays a release).
candidates: dict[int, _Candidate] = {}


def consider(node: Any) -> None:
    """``node`` (an op just built eagerly, needing a gradient, whose vjp does not read its own
    value) holds a value of ``THRESHOLD`` bytes or more (``Op`` checks the size before it asks,
    once per op built): watch it if it is an array."""
    if hooks.active():  # a watcher (the narrator) may show any value
        return
    if type(node.value) is np.ndarray:
        candidates[id(node)] = _Candidate(node)


def built(op: Any) -> None:
    """``op`` was just built on its ``inputs``: each candidate among them is pinned (taken out
    for good) if ``op``'s vjp reads it, else ``op`` is recorded as one more holder of it; then
    the candidates are checked (a layer's output is usually let go by the time the next
    layer builds its op)."""
    reads = op._reads_inputs
    for position, inp in enumerate(op.inputs):
        entry = candidates.get(id(inp))
        if entry is None:
            continue
        if entry.node() is not inp:  # a dead candidate whose id was reused
            del candidates[id(inp)]
        elif reads is None or position in reads:
            del candidates[id(inp)]
        else:
            entry.consumers.append(weakref.ref(op))
    sweep()


def sweep() -> None:
    """Release every candidate that only its recorded consumers reference."""
    for key, entry in list(candidates.items()):
        node = entry.node()
        if node is None:
            del candidates[key]
            continue
        holders = sum(1 for consumer in entry.consumers if consumer() is not None)
        # the references counted here: `node` (this frame) and getrefcount's argument
        if refcount(node) <= 2 + holders:
            value = node.value
            if type(value) is np.ndarray:
                node.value = ReleasedAfterForward(value.shape, value.dtype)
            del candidates[key]
        else:
            entry.checks -= 1
            if not entry.checks:
                del candidates[key]
        del node
