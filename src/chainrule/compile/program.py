"""Writing one compiled program: a fixed graph as two straight-line Python functions.

``forward(p0, p1, ...)`` takes the fed values, reads the Variables, checks
that every type, shape and dtype is the one the program was written for
(else it raises ``Stale`` and the caller writes another program), then runs
each op's own forward code in topological order, and returns the outputs and
the values the backward needs. ``backward(g, box)`` runs each vjp in reverse
order, only where a gradient that was asked for depends on it, sums every
gradient down to its input's shape and dtype where the example run showed it
differs, adds fan-out contributions in the engine's order (in place when the
array is the program's own), deletes each array after its last use, and
returns the gradients asked for.

Everything that depends only on the graph is decided here, once: the order,
which gradients are needed, where dtypes are reconciled, where broadcasting is
undone, which subgraphs are constant (computed now, "folded").
"""

from __future__ import annotations

import copy
import hashlib
import linecache
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..memory import private
from .fold import plain

program_ids = iter(range(1, 1 << 62))


class Program:
    """One compiled program: ``source``, ``forward``, ``backward``, and which node each line runs."""

    example_seed: Any  # ∂out/∂out on the example run (set by the writer)
    seed: Any  # the seed for backward(gradient=None), or None when it must be made each time

    def __init__(
        self, source: str, namespace: dict, line_nodes: dict[int, Any], filename: str, output_count: int
    ) -> None:
        self.source, self.line_nodes, self.filename = source, line_nodes, filename
        self.output_count = output_count
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show it
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the program written below
        self.forward, self.backward = namespace["forward"], namespace["backward"]

    def node_at(self, tb: Any) -> Any:
        """The node whose code raised, from a traceback (None if it was not this program's)."""
        node = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                node = self.line_nodes.get(tb.tb_lineno, node)
            tb = tb.tb_next
        return node


class _Pruned:
    """An input as a pruned op sees it: ``requires_grad`` is whether the program needs its gradient."""

    __slots__ = ("node", "requires_grad")

    def __init__(self, node: Any, need: bool) -> None:
        self.node, self.requires_grad = node, need

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node, name)


def pruned(node: Any, need: dict) -> Any:
    """``node`` itself, or a copy whose inputs claim a gradient only where one is needed (so
    the op's own ``requires_grad`` tests skip the products nobody asked for)."""
    flags = [need.get(i, False) for i in node.inputs]
    if all(f == i.requires_grad for f, i in zip(flags, node.inputs)):
        return node
    clone = copy.copy(node)
    clone.inputs = tuple(_Pruned(i, f) for i, f in zip(node.inputs, flags))
    return clone


def info(value: Any) -> tuple:
    return (type(value), getattr(value, "shape", None), getattr(value, "dtype", None))


def option_key(node: Any) -> Any:
    """What a template may depend on besides its arguments: the op's class and options."""
    attrs = getattr(node, "__dict__", None)
    options = tuple(sorted(attrs.items())) if attrs else ()
    if plain(tuple(v for _, v in options)):
        return (type(node), options, tuple(i.requires_grad for i in node.inputs))
    return (type(node), id(node))


BIG = 1 << 16  # bytes: arrays at least this big are deleted after their last use (small ones live on)


def big(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.nbytes >= BIG


def own(g: np.ndarray) -> np.ndarray:
    """``g`` if nobody else can reach it, else a copy (see ``backprop.store_grad``)."""
    return g if g.__class__ is np.ndarray and g.flags.writeable and private(g) else np.array(g)


def natural(name: str) -> tuple:
    return (name[0], int(re.sub(r"\D", "", name) or 0))


def seed_of(value: Any) -> Any:
    return value.dtype.type(1) if np.ndim(value) == 0 else np.ones(np.shape(value), value.dtype)


def needed(order: Sequence[Any], wrt: Sequence[Any]) -> dict:
    """node -> whether some gradient asked for flows through it (inputs first)."""
    wanted = set(wrt)
    need: dict = {}
    for node in order:
        need[node] = node.requires_grad and (node in wanted or any(need.get(i) for i in node.inputs))
    return need


def lesson_forward(node: Any, values: tuple) -> Any:
    """A learner's node written the lesson's way reads its inputs' ``value``: give them
    this run's values, then run its own ``forward()``."""
    for inp, value in zip(node.inputs, values):
        inp.value = value
    return node._evaluate()


def lesson_vjp(node: Any, g: Any, out: Any, values: Sequence[Any]) -> tuple:
    for inp, value in zip(node.inputs, values):
        inp.value = value
    node.value = out
    return node.vjp(g, out, *values)


def fingerprint(value: Any) -> tuple | None:
    """A value to the bit in a few bytes (its type, shape, dtype and a hash of its bytes in C
    order, whatever its layout): what a program's self-check compares, without keeping the
    example's arrays (and hashing a big one a block of rows at a time, without copying it whole)."""
    if value is None:
        return None
    a = np.asarray(value)
    digest = hashlib.blake2b(digest_size=16)
    if a.ndim == 0 or a.flags.c_contiguous:
        digest.update(np.ascontiguousarray(a).data)
    else:
        rows = max(1, (1 << 20) // max(1, a[0].nbytes))
        for start in range(0, len(a), rows):
            digest.update(np.ascontiguousarray(a[start : start + rows]).data)
    return type(value), a.shape, a.dtype.str, digest.digest()
