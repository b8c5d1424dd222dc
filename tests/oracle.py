"""The shared oracle: one random input set, chainrule and PyTorch side by side.

``check_op(cr_fn, torch_fn, args)`` builds inputs from ``args`` (a shape tuple
means a random differentiable float input; ``Value(array)`` a differentiable input
with a given value; ``Fixed(array)`` a non-differentiable input given to both
sides as is, floating ones in the run's dtype), compares the forward values, then pushes a
*random* upstream gradient (not all ones, which hides transpose errors) back
through both and compares every input gradient, its shape and its dtype.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

# the shape sets of DESIGN.md "Tests"
SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1), (2, 3, 4)]
BROADCAST_PAIRS = [
    ((), ()),
    ((4,), (4,)),
    ((3, 4), (3, 4)),
    ((3, 4), (1, 4)),
    ((3, 1), (1, 4)),
    ((), (3, 4)),
    ((4,), (3, 4)),
    ((2, 3, 4), (3, 1)),
]


@dataclass
class Fixed:
    """An input passed to both libraries as is, with no gradient (labels, masks, indices)."""

    value: Any


def random_input(
    rng: np.random.Generator, shape: tuple, dtype: Any, low: float | None, high: float | None
) -> np.ndarray:
    if low is None:
        return rng.standard_normal(shape).astype(dtype)
    assert high is not None, "low without high"
    return rng.uniform(low, high, size=shape).astype(dtype)


def _given(a: Any, dtype: np.dtype) -> np.ndarray:
    """A given input's array; floating ones in the run's dtype (masks and labels as they are)."""
    arr = np.asarray(a.value)
    return arr.astype(dtype) if arr.dtype.kind == "f" or isinstance(a, Value) else arr


def _tolerance(dtype: np.dtype, atol: float | None, rtol: float | None, f64: tuple, f32: tuple) -> dict:
    """assert_allclose's tolerances: the given ones, else the defaults for float64 or float32."""
    default_atol, default_rtol = f64 if dtype == np.float64 else f32
    return dict(atol=default_atol if atol is None else atol, rtol=default_rtol if rtol is None else rtol)


def _inputs(
    rng: np.random.Generator, args: Sequence[Any], dtype: np.dtype, low: float | None, high: float | None
) -> tuple[list, list]:
    """The input arrays for ``args``, and which of them are differentiable."""
    arrays = [
        _given(a, dtype) if isinstance(a, (Fixed, Value)) else random_input(rng, a, dtype, low, high) for a in args
    ]
    return arrays, [not isinstance(a, Fixed) for a in args]


def raises_naming(error: type, call: Callable[[], Any], *words: str) -> str:
    """``call()`` raises ``error`` with every one of ``words`` in its message; returns the message."""
    import pytest

    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    return message


def check_stable(
    fn: Callable[..., Any], torch_fn: Callable[..., Any], x: np.ndarray, u: np.ndarray, atol: float = 1e-30
) -> None:
    """At extreme inputs ``x``: finite values and gradients (under upstream ``u``), in x's dtype,
    equal to PyTorch's. Run it under ``filterwarnings("error")`` so a NumPy warning fails."""
    node = cr.Variable(x)
    y = fn(node)
    (gx,) = cr.grad(y, [node], grad_outputs=u)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    ty.backward(torch.tensor(u))
    assert tx.grad is not None
    assert np.all(np.isfinite(y.value)) and np.all(np.isfinite(gx))
    assert y.dtype == x.dtype and gx.dtype == x.dtype
    np.testing.assert_allclose(y.value, ty.detach().numpy(), rtol=1e-6, atol=atol)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-6, atol=1e-30)


def check_op(
    cr_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    dtype: Any = np.float64,
    low: float | None = None,
    high: float | None = None,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
    graph: bool = False,
) -> None:
    """Assert chainrule matches PyTorch in values, gradients, shapes and dtypes.

    ``graph=True`` runs it define-then-run: every input a Placeholder, the op built
    before any value exists, then ``Graph.forward(feed)`` and ``Graph.backward(upstream)``."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    tol = _tolerance(dtype, atol, rtol, (1e-10, 1e-7), (1e-5, 1e-4))
    arrays, diff = _inputs(rng, args, dtype, low, high)

    cr_in: list[cr.Node]
    if graph:
        cr_in = [cr.Placeholder(name=f"in{i}", requires_grad=d) for i, d in enumerate(diff)]
    else:
        cr_in = [
            cr.Variable(a, name=f"in{i}") if d else cr.Constant(a, name=f"in{i}")
            for i, (a, d) in enumerate(zip(arrays, diff))
        ]
    t_in = [torch.tensor(a, requires_grad=bool(d and np.asarray(a).dtype.kind == "f")) for a, d in zip(arrays, diff)]
    out, t_out = cr_fn(*cr_in), torch_fn(*t_in)
    if graph:
        assert out.value is None, "a node built on unfed placeholders has no value yet"
        run = cr.Graph(out)
        run.forward(dict(zip(cr_in, arrays)))

    t_val = t_out.detach().numpy()
    assert out.shape == t_val.shape, f"value shape {out.shape} != torch {t_val.shape}"
    assert out.dtype == t_val.dtype, f"value dtype {out.dtype} != torch {t_val.dtype}"
    np.testing.assert_allclose(out.value, t_val, **tol, err_msg="forward value differs from torch")

    wrt = [n for n, d in zip(cr_in, diff) if d]
    if not wrt or not t_out.requires_grad:
        return
    upstream = rng.standard_normal(t_val.shape).astype(dtype)
    if graph:
        run.backward(upstream)
        grads = [np.zeros_like(a) if n.grad is None else n.grad for n, a, d in zip(cr_in, arrays, diff) if d]
    else:
        grads = cr.grad(out, wrt, grad_outputs=upstream)
    t_out.backward(torch.tensor(upstream))
    t_grads = [(t.grad, a) for t, a, d in zip(t_in, arrays, diff) if d]
    for i, (g, (tg, a)) in enumerate(zip(grads, t_grads)):
        expected = np.zeros_like(a) if tg is None else tg.numpy()
        assert g.shape == expected.shape, f"grad {i}: shape {g.shape} != torch {expected.shape}"
        assert g.dtype == expected.dtype, f"grad {i}: dtype {g.dtype} != torch {expected.dtype}"
        np.testing.assert_allclose(g, expected, **tol, err_msg=f"gradient of input {i} differs from torch")


# ---------------------------------------------------------------- op tables
@dataclass
class Value:
    """A differentiable input with a given value (ties, kinks, saturated regions)."""

    value: Any


@dataclass
class Case:
    """One op at one set of input shapes, run in every mode of ``MODES``.

    ``args`` as for ``check_op`` (shape tuples, ``Fixed``, ``Value``); ``second``
    says whether to check second derivatives too (``cr.gradgradcheck``); at a
    kink, where central differences average the two one-sided slopes, use
    ``modes=KINK`` to compare with PyTorch's choice of subgradient only (eagerly
    and define-then-run).
    """

    name: str
    cr_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    args: Sequence[Any]
    low: float | None = None
    high: float | None = None
    second: bool = True
    tol: dict | None = None
    modes: tuple | None = None  # a subset of MODES (kinks: torch only)


# float64 and float32 against torch (float32: no silent float64 anywhere),
# central differences (first order), grad-of-grad against central differences
# (float64) and against torch (float32: no float64 in vjps run on nodes)
MODES = ("torch64", "torch32", "fd", "fd2", "torch2_32")
SECOND = ("fd2", "torch2_32")
TORCH = ("torch64", "torch32")
# the same comparisons define-then-run (placeholders, Graph.forward(feed), Graph.backward())
DEFINE_THEN_RUN = ("graph64", "graph32")
ALL = MODES + DEFINE_THEN_RUN  # what ``params`` runs a case in unless told otherwise
KINK = TORCH + DEFINE_THEN_RUN  # at a kink: PyTorch's subgradient, eagerly and define-then-run
FIRST = ("torch64", "torch32", "fd") + DEFINE_THEN_RUN  # not twice differentiable


def params(cases: Sequence[Case], modes: Sequence[str] = ALL) -> list:
    """``pytest.param(case, mode)`` for every case and applicable mode: by default every
    case both eagerly and define-then-run."""
    import pytest

    return [
        pytest.param(c, m, id=f"{c.name}-{m}") for c in cases for m in (c.modes or modes) if m not in SECOND or c.second
    ]


def _fd_inputs(case: Case, seed: int) -> tuple[list[np.ndarray], dict[int, Any]]:
    """float64 arrays for the differentiable inputs, and the fixed ones' values by position."""
    rng = np.random.default_rng(seed)
    diff: list[np.ndarray] = []
    fixed: dict[int, Any] = {}
    for i, a in enumerate(case.args):
        if isinstance(a, Fixed):
            fixed[i] = a.value
        elif isinstance(a, Value):
            diff.append(np.array(a.value, dtype=np.float64))
        else:
            diff.append(random_input(rng, a, np.float64, case.low, case.high))
    return diff, fixed


def _with_fixed(case: Case, fixed: dict) -> Callable[..., Any]:
    def fn(*nodes: Any) -> Any:
        it = iter(nodes)
        full = [cr.Constant(fixed[i], name=f"in{i}") if i in fixed else next(it) for i in range(len(case.args))]
        return case.cr_fn(*full)

    return fn


def check_op2(
    cr_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    dtype: Any = np.float32,
    low: float | None = None,
    high: float | None = None,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
) -> None:
    """Second order against PyTorch: ∂⟨v, ∂⟨u, f(x)⟩/∂x⟩/∂x with random u and v, built
    with ``create_graph=True`` on both sides; values, shapes and dtypes (in float32
    this catches float64 sneaking into the vjp rules when they run on nodes)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    tol = _tolerance(dtype, atol, rtol, (1e-10, 1e-7), (1e-4, 1e-3))
    arrays, diff = _inputs(rng, args, dtype, low, high)
    cr_in = [cr.Variable(a) if d else cr.Constant(a) for a, d in zip(arrays, diff)]
    t_in = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    wrt, t_wrt = [n for n, d in zip(cr_in, diff) if d], [t for t, d in zip(t_in, diff) if d]
    out, t_out = cr_fn(*cr_in), torch_fn(*t_in)
    u = rng.standard_normal(out.shape).astype(dtype)
    vs = [rng.standard_normal(n.shape).astype(dtype) for n in wrt]

    firsts = cr.grad(out, wrt, grad_outputs=u, create_graph=True)
    for g, n in zip(firsts, wrt):
        assert g.dtype == n.dtype, f"first derivative built as a node: dtype {g.dtype} != {n.dtype}"
    s = sum(cr.sum(g * v) for g, v in zip(firsts, vs))
    seconds = cr.grad(s, wrt) if s.requires_grad else [np.zeros_like(n.value) for n in wrt]
    t_firsts = torch.autograd.grad(t_out, t_wrt, torch.tensor(u), create_graph=True, allow_unused=True)
    t_s = sum((g * torch.tensor(v)).sum() for g, v in zip(t_firsts, vs) if g is not None)
    t_seconds = (
        torch.autograd.grad(t_s, t_wrt, allow_unused=True)
        if torch.is_tensor(t_s) and t_s.requires_grad
        else [None] * len(t_wrt)
    )
    for i, (g, tg, a) in enumerate(zip(seconds, t_seconds, [n.value for n in wrt])):
        expected = np.zeros_like(a) if tg is None else tg.numpy(force=True)
        assert g.shape == expected.shape and g.dtype == expected.dtype, (
            f"second derivative {i}: {g.shape} {g.dtype} != torch {expected.shape} {expected.dtype}"
        )
        np.testing.assert_allclose(g, expected, **tol, err_msg=f"second derivative of input {i} differs from torch")


def run_case(case: Case, mode: str, seed: int = 0) -> None:
    """Run one ``Case`` in one of ``MODES``."""
    if mode in TORCH + DEFINE_THEN_RUN:
        dtype = np.float64 if mode.endswith("64") else np.float32
        tol = (case.tol or {}).get(mode, (case.tol or {}).get(mode.replace("graph", "torch"), {}))
        check_op(
            case.cr_fn,
            case.torch_fn,
            case.args,
            dtype=dtype,
            low=case.low,
            high=case.high,
            seed=seed,
            graph=mode in DEFINE_THEN_RUN,
            **tol,
        )
        return
    if mode == "torch2_32":
        check_op2(
            case.cr_fn,
            case.torch_fn,
            case.args,
            dtype=np.float32,
            low=case.low,
            high=case.high,
            seed=seed,
            **(case.tol or {}).get(mode, {}),
        )
        return
    diff, fixed = _fd_inputs(case, seed)
    check = cr.gradcheck if mode == "fd" else cr.gradgradcheck
    assert check(_with_fixed(case, fixed), diff)


def case_tables(*, leave_out: str = "") -> list:
    """Every ``Case`` in every module-level list of cases in tests/test_*.py (bar the module
    ``leave_out``), as pytest params named ``<module>-<case>``: an op added to any table is
    checked by every test that runs them all (forward mode, compiled graphs)."""
    cases = []
    for path in sorted(Path(__file__).resolve().parent.glob("test_*.py")):
        if path.stem == leave_out or "Case(" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(path.stem)
        for value in vars(module).values():
            if isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                cases += [pytest.param(c, id=f"{path.stem[5:]}-{c.name}") for c in value]
    return cases
