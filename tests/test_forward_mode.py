"""Forward mode for every op in the oracle tables: ``cr.jvp`` against PyTorch's
``torch.func.jvp`` in float64 (values, tangents, shapes, dtypes) and against central
differences, over the same cases the reverse-mode tests run; and forward-over-reverse
(``cr.hvp``) against PyTorch's double backward, which pushes tangents through the
graphs the vjps build (scatter-adds, im2col's adjoint, broadcasts).

The cases are collected from every test module that builds ``oracle.Case`` tables
(any module-level list of them), so an op added to any table is checked here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from oracle import Case, Fixed, _inputs, case_tables

# torch.func compiles its decompositions with torch.jit.script on first use, which warns
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*degrees of freedom"),  # torch's var/std of empty tensors, as in test_ops_stats
]

TOL: dict[str, Any] = dict(atol=1e-10, rtol=1e-7)


CASES = case_tables(leave_out=Path(__file__).stem)


def _setup(case: Case, seed: int = 0) -> tuple:
    """The case's inputs in float64, random tangents for the differentiable ones, and
    the chainrule and PyTorch functions of the differentiable inputs alone."""
    rng = np.random.default_rng(seed)
    arrays, diff = _inputs(rng, case.args, np.dtype(np.float64), case.low, case.high)
    primals = [a for a, d in zip(arrays, diff) if d]
    tangents = [rng.standard_normal(np.shape(a)) for a in primals]

    def rebuild(given, make):
        it = iter(given)
        return [next(it) if d else make(a) for a, d in zip(arrays, diff)]

    def cr_fn(*nodes):
        return case.cr_fn(*rebuild(nodes, cr.Constant))

    def torch_fn(*tensors):
        return case.torch_fn(*rebuild(tensors, torch.tensor))

    return primals, tangents, cr_fn, torch_fn


def test_every_case_table_is_collected():
    """The collection can fail: it finds the tables of every op family, conv included."""
    families = {p.id.split("-")[0] for p in CASES}
    assert {
        "ops_arithmetic",
        "ops_elementwise",
        "ops_activations",
        "ops_reduce",
        "ops_shape",
        "ops_indexing",
        "ops_linalg",
        "ops_losses",
        "conv",
    } <= families
    assert len(CASES) > 500


@pytest.mark.parametrize("case", CASES)
def test_jvp_matches_torch_func_jvp(case):
    primals, tangents, cr_fn, torch_fn = _setup(case)
    if not primals:
        pytest.skip("no differentiable input")  # pragma: no cover - every table case has one
    out, tangent = cr.jvp(cr_fn, tuple(primals), tuple(tangents))
    t_jvp = torch.func.jvp(torch_fn, tuple(map(torch.tensor, primals)), tuple(map(torch.tensor, tangents)))
    t_out, t_tangent = t_jvp[0], t_jvp[1]  # (there is a third only with has_aux=True)
    for mine, theirs, what in ((out, t_out, "value"), (tangent, t_tangent, "tangent")):
        expected = theirs.detach().numpy()
        assert np.shape(mine) == expected.shape, f"{what} shape {np.shape(mine)} != torch {expected.shape}"
        assert np.asarray(mine).dtype == expected.dtype, f"{what} dtype {np.asarray(mine).dtype} != {expected.dtype}"
        np.testing.assert_allclose(mine, expected, **TOL, err_msg=f"{what} differs from torch.func.jvp")


@pytest.mark.parametrize("case", [c for c in CASES if "fd" in (c.values[0].modes or ("fd",))])
def test_jvp_matches_central_differences(case):
    """(f(x + εt) - f(x - εt)) / 2ε, away from kinks (the cases the reverse-mode tests
    check with finite differences too)."""
    primals, tangents, cr_fn, _ = _setup(case, seed=1)
    _, tangent = cr.jvp(cr_fn, tuple(primals), tuple(tangents))
    eps = 1e-6

    def at(sign):
        return np.asarray(cr_fn(*[cr.Constant(p + sign * eps * t) for p, t in zip(primals, tangents)]).value)

    np.testing.assert_allclose(tangent, (at(1) - at(-1)) / (2 * eps), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].second and not c.values[0].modes])
def test_forward_over_reverse_matches_torch(case):
    """hvp of ⟨u, f(x)⟩: forward mode pushed through the graph each op's vjp builds (scatter-adds,
    im2col's adjoint, broadcasts, casts...), against PyTorch's double backward."""
    primals, tangents, cr_fn, torch_fn = _setup(case, seed=2)
    u = np.random.default_rng(3).standard_normal(np.shape(cr_fn(*map(cr.Constant, primals)).value))

    def scalar(*nodes):
        return cr.sum(cr_fn(*nodes) * u)

    def t_scalar(*tensors):
        return (torch_fn(*tensors) * torch.tensor(u)).sum()

    _, mine = cr.hvp(scalar, tuple(primals), tuple(tangents))
    _, theirs = torch.autograd.functional.hvp(
        t_scalar, tuple(map(torch.tensor, primals)), tuple(map(torch.tensor, tangents))
    )
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m, t.numpy(), atol=1e-9, rtol=1e-7)


def test_fixed_inputs_carry_no_tangent():
    """An integer index given as a node is an input of the op but not differentiable."""
    labels = Fixed(np.array([2, 0, 1]))
    x = np.random.default_rng(0).standard_normal((3, 4))
    _, t = cr.jvp(lambda a: cr.cross_entropy(a, cr.Constant(labels.value)), x, np.ones((3, 4)))
    tx = torch.tensor(x)
    tt = torch.func.jvp(
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(labels.value)),
        (tx,),
        (torch.ones(3, 4, dtype=torch.float64),),
    )[1]
    np.testing.assert_allclose(t, tt.numpy(), **TOL)
