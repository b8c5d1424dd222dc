"""Compiled graphs give the uncompiled graph's numbers exactly: every op of the oracle tables
(values and gradients, float64 and float32), the lesson, random graphs with fan-out and
broadcasting; a new shape writes a new program; a learner's node falls back once."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import chainrule as cr
from oracle import Fixed, Value, random_input

MODULES = ["test_ops_activations", "test_ops_arithmetic", "test_ops_elementwise", "test_ops_indexing",
           "test_ops_linalg", "test_ops_losses", "test_ops_reduce", "test_ops_shape", "test_conv"]
CASES = [case for name in MODULES for case in getattr(importlib.import_module(name), "CASES", [])]


def _inputs(case, dtype, rng):
    nodes, arrays = [], []
    for k, a in enumerate(case.args):
        if isinstance(a, Fixed):
            arr = np.asarray(a.value)
            arr = arr.astype(dtype) if arr.dtype.kind == "f" else arr
            nodes.append(cr.Constant(arr, name=f"in{k}"))
            continue
        arr = (np.asarray(a.value, dtype=dtype) if isinstance(a, Value)
               else random_input(rng, a, dtype, case.low, case.high))
        p = cr.Placeholder(name=f"in{k}")
        p.feed(arr)
        nodes.append(p)
        arrays.append(arr)
    return nodes, arrays


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compiled_op_equals_graph_exactly(case, dtype):
    rng = np.random.default_rng(0)
    nodes, arrays = _inputs(case, dtype, rng)
    out = case.cr_fn(*nodes)
    graph = cr.Graph(out)
    feeds = [n for n in nodes if isinstance(n, cr.Placeholder)]
    want = graph.forward()
    u = rng.standard_normal(np.shape(want)).astype(np.asarray(want).dtype) if out.requires_grad else None
    if u is not None:
        graph.backward(u)
    grads = [n.grad for n in feeds]
    fast = graph.compile()
    got = fast.forward({p: a for p, a in zip(feeds, arrays)})
    assert same(got, want)
    if u is not None:
        for n in feeds:
            n.grad = "stale"
        fast.backward(u)
        for n, g in zip(feeds, grads):
            assert (g is None and n.grad is None) or same(n.grad, g), n.name
