"""The README's "Function transforms and forward mode" section runs as written: every
full-precision number a comment shows is what the line returns (and the lesson's own,
worked out by hand, where it is one of them), and the explanations it quotes, in
English and Chinese, are what explain(..., mode="both") prints today."""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re

import numpy as np

from test_readme import blocks, section

from lesson_helpers import lesson_math

FULL = re.compile(r"-?\d+\.\d{8,}(?!…)")


def flat_numbers(value) -> list[float]:
    if isinstance(value, (tuple, list)):
        return [x for item in value for x in flat_numbers(item)]
    return [float(x) for x in np.ravel(np.asarray(value, dtype=np.float64))]


def test_every_number_in_the_first_block_is_what_its_line_returns():
    source = blocks(section("transforms"), "python")[0]
    lines, checked = source.splitlines(), 0
    namespace: dict = {}
    truth = lesson_math()
    for statement in ast.parse(source).body:
        assert statement.end_lineno is not None
        comment = lines[statement.end_lineno - 1].partition("#")[2]
        shown = [float(n) for n in FULL.findall(comment)]
        if isinstance(statement, ast.Expr) and shown:
            got = flat_numbers(eval(compile(ast.Expression(statement.value), "README", "eval"), namespace))
            for number in shown:
                assert number in got, (ast.get_source_segment(source, statement), number, got)
                checked += 1
        else:
            exec(compile(ast.Module([statement], []), "README", "exec"), namespace)
    assert checked >= 13
    value, (dk, db) = namespace["cr"].vjp(namespace["lesson"], (namespace["k"], namespace["b"]))
    assert math.isclose(value, truth["loss"], rel_tol=1e-15) and math.isclose(dk, truth["d_k"], rel_tol=1e-15)
    assert math.isclose(db, truth["d_b"], rel_tol=1e-15)
    namespace["cr"].set_default_dtype("float32")


def run(code: str) -> tuple[dict, str]:
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README", "exec"), namespace)
    namespace["cr"].set_default_dtype("float32")
    return namespace, out.getvalue()


def test_the_quoted_explanations_are_what_explain_prints():
    code = blocks(section("transforms"), "python")
    quoted = blocks(section("transforms"), "text")
    lesson, printed = run(code[1])
    assert printed.strip() == quoted[0].strip()
    assert str(lesson["graph"].explain(lesson["k"], mode="both", lang="zh")).strip() == quoted[1].strip()
    mlp, printed = run(code[2])
    chinese = str(mlp["cr"].explain(mlp["loss"], mlp["W1"], mode="both", lang="zh"))
    for text, shown in ((printed, quoted[2]), (chinese, quoted[3])):
        for line in shown.splitlines():
            if "…" not in line or "[[" in line:  # "…" marks what the README leaves out
                assert line in text, line
