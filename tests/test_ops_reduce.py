"""Reductions against PyTorch, central differences and grad-of-grad: sum, mean,
max, min (as torch.amax/amin: ties share the gradient evenly), var (ddof as
NumPy, torch's ``correction``), over every axis form: None, int, negative, tuple."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import KINK, SHAPES, Case, Value, params, run_case


def _torch(fn, axis, keepdims, **kw):
    """The torch reduction ``fn`` with numpy-style ``axis`` (None = all) and ``keepdims``."""
    if axis is None:
        return lambda x: fn(x, dim=tuple(range(x.ndim)), keepdim=keepdims, **kw) if x.ndim else fn(x, **kw)
    return lambda x: fn(x, dim=axis, keepdim=keepdims, **kw)


REDUCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any], dict[str, Any]]] = {
    "sum": (cr.sum, torch.sum, {}),
    "mean": (cr.mean, torch.mean, {}),
    "max": (cr.max, torch.amax, {}),
    "min": (cr.min, torch.amin, {}),
    "var": (cr.var, lambda x, **kw: torch.var(x, correction=0, **kw), {}),
    "var_ddof1": (lambda x, **kw: cr.var(x, ddof=1, **kw), lambda x, **kw: torch.var(x, correction=1, **kw), {}),
}
# (shape, axis): every shape reduced whole, and the multi-axis shapes along each kind of axis
AXES = [(s, None) for s in SHAPES] + [
    ((4,), 0),
    ((3, 4), 1),
    ((3, 4), -2),
    ((3, 1), 1),
    ((1, 4), (0, 1)),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), -1),
    ((2, 3, 4), (1,)),
]


def _ok(name, shape, axis):
    """Unbiased variance needs at least two elements per group."""
    n = int(np.prod(shape)) if axis is None else int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
    return name != "var_ddof1" or n > 1


def _case(name, shape, axis, keepdims):
    f, tf, _ = REDUCTIONS[name]
    kw = {} if axis is None else dict(axis=axis)
    return Case(
        f"{name}{shape}-axis{axis}-keep{keepdims}",
        lambda x: f(x, keepdims=keepdims, **kw),
        _torch(tf, axis, keepdims),
        (shape,),
    )


CASES = [_case(name, s, a, k) for name in REDUCTIONS for s, a in AXES for k in (False, True) if _ok(name, s, a)]
CASES += [
    Case("method_sum", lambda x: x.sum(axis=1), lambda x: x.sum(1), ((3, 4),)),
    Case("method_mean", lambda x: x.mean(), lambda x: x.mean(), ((3, 4),)),
    Case("method_max", lambda x: x.max(axis=0), lambda x: x.amax(0), ((3, 4),)),
    Case("method_var", lambda x: x.var(axis=0, ddof=1), lambda x: x.var(0), ((3, 4),)),
]
# ties: the maximal elements share the gradient equally, as in torch.amax/amin
TIES = Value([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])
CASES += [
    Case("max_ties", cr.max, torch.amax, (TIES,), modes=KINK),
    Case("max_ties_axis1", lambda x: cr.max(x, axis=1), lambda x: torch.amax(x, 1), (TIES,), modes=KINK),
    Case("min_ties_axis0", lambda x: cr.min(x, axis=0), lambda x: torch.amin(x, 0), (TIES,), modes=KINK),
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_reduction(case, mode):
    run_case(case, mode)


def test_mean_of_float32_stays_float32():
    """1/n is a Python number, never a float64 array."""
    x = cr.Variable(np.ones((5, 3), dtype=np.float32))
    cr.mean(cr.var(x, axis=0)).backward()
    assert x.grad.dtype == np.float32
