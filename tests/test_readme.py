"""The README's code runs as written and prints what the README says it prints.

The lesson's block is taken from README.md and run statement by statement: every
line whose comment is a number must evaluate to that number, and that number
must be the lesson's own (worked out here with ``math``). The "See the chain
rule" section's Python blocks run in order in one namespace, and the output it
quotes is compared with what the code and the command line print today.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lesson_helpers import lesson_math

README = Path(__file__).resolve().parents[1] / "README.md"


def section(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(f"<!-- section: {name} -->") : text.index(f"<!-- /section: {name} -->")]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def lesson_block() -> str:
    engine = section("engine")
    return blocks(engine[engine.index("### Define-then-run") :], "python")[0]


def test_the_lessons_block_runs_and_every_number_it_shows_is_the_lessons():
    source = lesson_block()
    truth = lesson_math()
    namespace: dict = {}
    checked = []
    lines = source.splitlines()
    for statement in ast.parse(source).body:
        code = ast.get_source_segment(source, statement)
        assert statement.end_lineno is not None
        comment = lines[statement.end_lineno - 1].partition("#")[2].strip()
        number = re.match(r"-?\d+\.\d+(?:e-?\d+)?", comment)
        if isinstance(statement, ast.Expr) and number:
            value = float(eval(compile(ast.Expression(statement.value), "README", "eval"), namespace))
            assert value == float(number.group()), code
            checked.append(value)
        else:
            exec(compile(ast.Module([statement], []), "README", "exec"), namespace)
    assert checked, "the block shows no numbers"
    for value in checked:  # each shown number is one of the lesson's: the loss or ∂loss/∂k
        assert any(math.isclose(value, truth[key], rel_tol=1e-15) for key in ("loss", "d_k")), value
    assert math.isclose(float(namespace["linear"].gradients[namespace["k"]]), truth["d_k"], rel_tol=1e-15)
    namespace["cr"].set_default_dtype("float32")


def run_blocks(tmp_path: Path, monkeypatch) -> tuple[dict, str]:
    """Run the explain section's Python blocks in order, in one namespace, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks(section("explain"), "python"):
            exec(compile(code, "README", "exec"), namespace)
    namespace["cr"].set_default_dtype("float32")
    return namespace, out.getvalue()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_the_explain_sections_code_runs_and_prints_the_text_it_quotes(tmp_path, monkeypatch):
    namespace, printed = run_blocks(tmp_path, monkeypatch)
    quoted = blocks(section("explain"), "text")
    assert quoted[1].strip() in printed  # W1 of the MLP, as the README shows it
    assert (tmp_path / "mlp.svg").read_bytes().startswith(b"<?xml")
    element = str(namespace["graph"].explain(namespace["W1"][0, 2]))
    for line in quoted[2].splitlines():
        if "…" not in line:
            assert line in element, line
    np.testing.assert_allclose(namespace["e"].gradient, namespace["W1"].grad, rtol=1e-15)
    assert namespace["e"].paths[0].factors[-1].local == "Xᵀ @ g"


def run_quoted(quoted: str) -> tuple[str, str]:
    """Run the ``$ chainrule ...`` command a text block starts with: (what it printed, what the block shows)."""
    command = quoted.splitlines()[0].removeprefix("$ ")
    argv = re.findall(r'"[^"]*"|\S+', command)[1:]
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", *[a.strip('"') for a in argv]],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    return done.stdout.strip(), quoted.split("\n$ ")[0].split("\n", 1)[1].strip()


def test_the_explain_command_prints_what_the_readme_quotes():
    printed, expected = run_quoted(blocks(section("explain"), "text")[3])
    assert printed == expected


def test_the_forms_section_prints_the_formulas_it_quotes_and_its_command_runs_as_shown():
    text = section("forms")
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks(text, "python")[0], "README", "exec"), namespace)
    namespace["cr"].set_default_dtype("float32")
    quoted = blocks(text, "text")
    assert out.getvalue() == quoted[0]
    printed, expected = run_quoted(quoted[1])
    assert printed == expected
