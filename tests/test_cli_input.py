"""What a learner types: names and notations in expressions, hostile expressions, and every numeric option.

Each bad input is one line on stderr and exit status 2, never a traceback; each good one is explained
with the names the learner wrote. Expected derivatives are worked out here with ``math``.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.cli.expr import MAX_CHARS, parse
from chainrule.cli.main import main
from chainrule.errors import ExprError


def run(*argv: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        cwd=cwd,
    )


def result(text: str, name: str) -> float:
    match = re.search(rf"^∂{re.escape(name)} = (\S+)$", text, re.MULTILINE)
    assert match is not None, f"no ∂{name} line"
    return float(match.group(1))


def test_loss_equals_names_the_result_and_notation_from_the_output_is_accepted(capsys):
    assert (
        main(["explain", "loss = (y - σ(k·x + b))^2", "--at", "x=3,y=0.6,k=0.36,b=0.37", "--wrt", "k", "--quiet"]) == 0
    )
    out = capsys.readouterr().out
    s = 1 / (1 + math.exp(-(0.36 * 3 + 0.37)))
    assert math.isclose(result(out, "loss/∂k"), -2 * (0.6 - s) * s * (1 - s) * 3, rel_tol=1e-12)
    assert "∂loss/∂sub · ∂sub/∂sigmoid · ∂sigmoid/∂add · ∂add/∂mul · ∂mul/∂k" in out and "∂pow" not in out


def test_greek_names_times_signs_and_carets(capsys):
    assert main(["explain", "f = θ^3 × φ − 2·θ", "--at", "θ=1.5,φ=2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert math.isclose(result(out, "f/∂θ"), 3 * 1.5**2 * 2 - 2, rel_tol=1e-12)
    assert math.isclose(result(out, "f/∂φ"), 1.5**3, rel_tol=1e-12)


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "-x**2", "--at", "x=3"],
        ["explain", "--at", "x=3", "-x**2"],
        ["explain", "--at=x=3", "-x**2", "--quiet"],
        ["explain", "--at", "x=3", "--", "-x**2"],
    ],
)
def test_an_expression_may_start_with_a_minus(capsys, argv):
    assert main(argv) == 0
    assert math.isclose(result(capsys.readouterr().out, "neg/∂x"), -6.0)


def test_an_expression_starting_with_minus_through_the_real_command_line():
    done = run("explain", "-2*x + x**2", "--at", "x=1.5", "--quiet")
    assert done.returncode == 0, done.stderr
    assert math.isclose(result(done.stdout, "add/∂x"), -2 + 3.0)
    assert "(-2)" in done.stdout or "-2" in done.stdout


@pytest.mark.parametrize(
    "argv, option",
    [
        (["explain", "x", "--at", "x=1", "--max-paths", "-1"], "--max-paths"),
        (["explain", "x", "--at", "x=1", "--max-paths", "many"], "--max-paths"),
        (["demo", "--steps", "-3"], "--steps"),
        (["demo", "--lr", "0"], "--lr"),
        (["demo", "--lr", "nan"], "--lr"),
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--hidden", "0"], "--hidden"),
        (["train", "--epochs", "-1"], "--epochs"),
        (["train", "--lr", "-0.1"], "--lr"),
        (["train", "--lr", "inf"], "--lr"),
        (["train", "--seed", "-1"], "--seed"),
        (["train", "--batch-size", "2.5"], "--batch-size"),
    ],
)
def test_every_numeric_option_is_range_checked_with_one_line_and_status_2(capsys, argv, option):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {option}: must be" in err and "Traceback" not in err


def test_a_bad_option_is_one_line_from_the_real_command_line():
    done = run("train", "--batch-size", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "chainrule train: error: argument --batch-size: must be at least 1 and at most 10,000,000, got 0 "
        "(see chainrule train --help)"
    ]


def test_a_power_tower_of_500_parses_without_recursion(capsys):
    text = "x**" * 500 + "x"
    assert main(["explain", text, "--at", "x=1.0001", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out and "501 paths" in out
    assert len(out.splitlines()) < 30


def test_deep_brackets_and_unary_chains_are_refused_or_read_in_loops():
    x = cr.Placeholder(name="x")
    x.feed(2.0)
    assert parse("-" * 5000 + "x", {"x": x}).value == 2.0  # 5000 signs: an even number
    with pytest.raises(ExprError, match="nested more than 100 deep"):
        parse("(" * 1000 + "x" + ")" * 1000, {"x": x})
    with pytest.raises(ExprError, match="the limit is"):
        parse("x+" * (MAX_CHARS // 2) + "x", {"x": x})


def test_a_one_megabyte_expression_is_explained_from_standard_input():
    text = "+".join(["x"] * 500_001)
    assert len(text) > 1_000_000
    done = run("explain", "-", "--at", "x=1", stdin=text)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "500001 paths" in out and result(out, "add_500000/∂x") == 500001.0
    assert len(out.splitlines()) < 20 and max(len(line) for line in out.splitlines()) < 400


def test_naming_is_linear_in_the_number_of_nodes():
    x = cr.Placeholder(name="x")
    x.feed(1.0)
    out = parse("+".join(["x"] * 20_000), {"x": x})
    order = cr.topological_sort(out)
    names = [n.name for n in order if isinstance(n, cr.Op)]
    assert len(set(names)) == len(names) == 19_999 and names[0] == "add" and names[-1] == "add_19999"


def test_constant_subexpressions_raise_no_numpy_warnings():
    done = run("explain", "x + 1/0 + log(-1)", "--at", "x=1")
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr and done.stderr == ""
    assert "⚠ div = inf" in done.stdout and "⚠ log = nan" in done.stdout


def test_nan_from_log_of_a_negative_number_is_flagged():
    done = run("explain", "log(x)", "--at", "x=-1")
    assert done.returncode == 0 and "RuntimeWarning" not in done.stderr
    assert "⚠ log = nan: Log 'log' made not a number (NaN) out of finite inputs (x = -1.0)" in done.stdout


def test_draw_fallback_without_dot_into_an_impossible_path_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    import os

    env = {**os.environ, "PATH": str(empty)}
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "x*x", "--at", "x=2", "--quiet", "--draw", "afile/sub/g.svg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.count("\n") == 1
        and "chainrule explain: error in --draw: cannot write afile/sub/g.svg" in done.stderr
        and "Traceback" not in done.stderr
    )


def test_draw_refuses_a_format_before_any_work(tmp_path):
    done = run("explain", "x*x", "--at", "x=2", "--draw", "g.jpg", cwd=tmp_path)
    assert done.returncode == 2 and "must end in .svg, .png or .pdf" in done.stderr and done.stdout == ""


ALPHABET = "xyθ0123456789.+-*/^()[],=<>·×⊙@−ᵀ² abcdefsigmotanhlr_e\n$'\""


@settings(max_examples=400, deadline=2000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.text(alphabet=ALPHABET, max_size=80)))
def test_fuzz_random_text_gives_a_node_or_an_expr_error_quickly(text):
    variables = {name: cr.Placeholder(name=name) for name in ("x", "y", "θ")}
    for placeholder in variables.values():
        placeholder.feed(0.5)
    start = time.perf_counter()
    with np.errstate(all="raise"):  # the parser silences NumPy itself: nothing may leak out
        try:
            node = parse(text, variables)
        except ExprError as error:
            assert 0 <= error.position <= len(text) and str(error)
        else:
            assert isinstance(node, cr.Node)
    assert time.perf_counter() - start < 2.0


_A = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.5]])
_M = np.array([[1.0, 2.0, -1.0], [0.5, -3.0, 4.0], [2.0, 0.25, 1.5]])
_T = np.array([[2, 0], [1, 1]])


@pytest.mark.parametrize(
    "text, want",
    [
        ("einsum('ij,jk->ik', A, M)", lambda A, M, T: torch.einsum("ij,jk->ik", A, M)),
        ('einsum("ii->", M)', lambda A, M, T: torch.einsum("ii->", M)),
        ("gelu(A)", lambda A, M, T: torch.nn.functional.gelu(A)),
        ("gelu(A, approximate='tanh')", lambda A, M, T: torch.nn.functional.gelu(A, approximate="tanh")),
        ("erf(A) + log1p(A + 2) - expm1(A)", lambda A, M, T: torch.erf(A) + torch.log1p(A + 2) - torch.expm1(A)),
        ("silu(A) * mish(A)", lambda A, M, T: torch.nn.functional.silu(A) * torch.nn.functional.mish(A)),
        (
            "elu(A, alpha=0.5) + hardtanh(A, min_val=-0.5, max_val=1.0)",
            lambda A, M, T: torch.nn.functional.elu(A, 0.5) + torch.nn.functional.hardtanh(A, -0.5, 1.0),
        ),
        (
            "prod(A, axis=1) + std(A, 1, ddof=1) + var(A, axis=1) + logsumexp(A, axis=1) + norm(A, ord=1, axis=1)",
            lambda A, M, T: (
                A.prod(1) + A.std(1) + A.var(1, correction=0) + A.logsumexp(1) + torch.linalg.vector_norm(A, 1, dim=1)
            ),
        ),
        ("cumsum(flip(A, axis=0), axis=1)", lambda A, M, T: torch.cumsum(torch.flip(A, (0,)), 1)),
        ("tril(M, k=-1) + triu(M) + eye(3)", lambda A, M, T: torch.tril(M, -1) + torch.triu(M) + torch.eye(3)),
        ("gather(A, axis=1, index=T)", lambda A, M, T: torch.gather(A, 1, T)),
        (
            "scatter_along(gather(A, 1, T), T, axis=1, shape=(2, 3)) + ones((2, 3))",
            lambda A, M, T: torch.zeros(2, 3).double().scatter_add(1, T, torch.gather(A, 1, T)) + 1,
        ),
        ("reshape(broadcast_to(sum(A), (2, 3)), (6,))", lambda A, M, T: A.sum().expand(2, 3).reshape(6)),
        ("reshape(ones((1, 1)), ())", lambda A, M, T: torch.ones(())),
    ],
)
def test_the_functions_formulas_use_are_in_the_language_and_compute_what_torch_does(text, want):
    cr.set_default_dtype("float64")
    names = {"A": cr.Constant(_A, name="A"), "M": cr.Constant(_M, name="M"), "T": cr.Constant(_T, name="T")}
    got = parse(text, names).value
    cr.set_default_dtype("float32")
    expected = want(torch.tensor(_A), torch.tensor(_M), torch.tensor(_T)).numpy()
    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("'ij' + x", "the string 'ij' can only be an argument", 1),
        ('x * "ij"', 'the string "ij" can only be an argument', 5),
        ("-'a'", "can only be an argument", 2),
        ("[x > 'a']", "can only be an argument", 6),
        ("'ij", "a string must end on its line with the quote it starts with", 1),
        ("einsum('ij,jk->ik', x)", "einsum", 1),
        ("ones((10000, 10000))", "ones() would make 100,000,000 elements; the limit is 10,000,000", 1),
        ("eye(4000)", "eye() would make 16,000,000 elements", 1),
        ("broadcast_to(x, (10000, 10000))", "the limit is 10,000,000", 1),
        ("eye((2, 3))", "eye(n) takes one size n", 1),
    ],
)
def test_strings_are_only_arguments_and_shapes_are_bounded_with_one_clean_error(text, message, column):
    with pytest.raises(ExprError) as caught:
        parse(text, {"x": cr.Constant(np.ones(3), name="x")})
    assert message in str(caught.value) and caught.value.position == column - 1


def test_percent_and_floor_division_parse_as_in_python_and_numbers_keep_their_digits():
    """% and // bind like * and /, left to right, as Python's; a number is exact next to float64
    data (it was rounded to float32 first) and rounded once next to float32 data."""
    x = cr.Variable(np.array([2.5, -1.0, 7.25]), name="x")
    for text, want in [
        ("x % 0.7 + x // 2 * 3", x.value % 0.7 + x.value // 2 * 3),
        ("7 % x * 2", 7 % x.value * 2),
        ("x * 0.7 - x / 0.3", x.value * 0.7 - x.value / 0.3),
    ]:
        got = parse(text, {"x": x})
        np.testing.assert_array_equal(got.value, want)
    y = cr.Variable(np.array([2.5, -1.0], np.float32), name="y")
    got = parse("y * 0.7", {"y": y})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.value, y.value * np.float32(0.7))
    (grad,) = cr.grad(cr.sum(parse("x % 0.7", {"x": x})), [x])
    np.testing.assert_array_equal(grad, np.ones(3))
