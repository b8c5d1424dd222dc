"""The shared oracle: one random input set, chainrule and PyTorch side by side.

``check_op(cr_fn, torch_fn, args)`` builds inputs from ``args`` (a shape tuple
means a random differentiable float input; ``Fixed(array)`` a non-differentiable
input given to both sides as is), compares the forward values, then pushes a
*random* upstream gradient (not all ones, which hides transpose errors) back
through both and compares every input gradient, its shape and its dtype.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

import chainrule as cr

# the shape sets of DESIGN.md "Tests"
SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1), (2, 3, 4)]
BROADCAST_PAIRS = [((), ()), ((4,), (4,)), ((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 1), (1, 4)),
                   ((), (3, 4)), ((4,), (3, 4)), ((2, 3, 4), (3, 1))]


@dataclass
class Fixed:
    """An input passed to both libraries as is, with no gradient (labels, masks, indices)."""
    value: Any


def random_input(rng: np.random.Generator, shape: tuple, dtype: Any, low: float | None, high: float | None) -> np.ndarray:
    if low is None:
        return rng.standard_normal(shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def check_op(cr_fn: Callable[..., Any], torch_fn: Callable[..., Any], args: Sequence[Any], *,
             dtype: Any = np.float64, low: float | None = None, high: float | None = None, seed: int = 0,
             atol: float | None = None, rtol: float | None = None) -> None:
    """Assert chainrule matches PyTorch in values, gradients, shapes and dtypes."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    tol = dict(atol=atol if atol is not None else (1e-10 if dtype == np.float64 else 1e-5),
               rtol=rtol if rtol is not None else (1e-7 if dtype == np.float64 else 1e-4))
    arrays = [a.value if isinstance(a, Fixed) else random_input(rng, a, dtype, low, high) for a in args]
    diff = [not isinstance(a, Fixed) for a in args]

    cr_in = [cr.Variable(a, name=f"in{i}") if d else cr.Constant(a, name=f"in{i}")
             for i, (a, d) in enumerate(zip(arrays, diff))]
    t_in = [torch.tensor(a, requires_grad=bool(d and np.asarray(a).dtype.kind == "f"))
            for a, d in zip(arrays, diff)]
    out, t_out = cr_fn(*cr_in), torch_fn(*t_in)

    t_val = t_out.detach().numpy()
    assert out.shape == t_val.shape, f"value shape {out.shape} != torch {t_val.shape}"
    assert out.dtype == t_val.dtype, f"value dtype {out.dtype} != torch {t_val.dtype}"
    np.testing.assert_allclose(out.value, t_val, **tol, err_msg="forward value differs from torch")

    wrt = [n for n, d in zip(cr_in, diff) if d]
    if not wrt or not t_out.requires_grad:
        return
    upstream = rng.standard_normal(t_val.shape).astype(dtype)
    grads = cr.grad(out, wrt, grad_outputs=upstream)
    t_out.backward(torch.tensor(upstream))
    t_grads = [(t.grad, a) for t, a, d in zip(t_in, arrays, diff) if d]
    for i, (g, (tg, a)) in enumerate(zip(grads, t_grads)):
        expected = np.zeros_like(a) if tg is None else tg.numpy()
        assert g.shape == expected.shape, f"grad {i}: shape {g.shape} != torch {expected.shape}"
        assert g.dtype == expected.dtype, f"grad {i}: dtype {g.dtype} != torch {expected.dtype}"
        np.testing.assert_allclose(g, expected, **tol, err_msg=f"gradient of input {i} differs from torch")
