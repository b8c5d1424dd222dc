"""``chainrule demo`` and ``chainrule explain``, run as a user runs them (in a subprocess)."""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli.commands import explain as explain_command
from narrow import known

from lesson_helpers import CJK, LESSON_BACKWARD, LESSON_FORWARD, lesson_math

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
RESULT = re.compile(r"loss[:：] ?(\S+) → (\S+)")


def chainrule(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m chainrule ARGS`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def without_dot(tmp_path: Path) -> dict:
    """An environment in which Graphviz's dot cannot be found."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    return {**os.environ, "PATH": str(empty)}


@needs_dot
def test_demo_replays_the_lesson_and_writes_the_pictures(tmp_path):
    done = chainrule("demo", "--out", "pictures", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for digits in LESSON_FORWARD + LESSON_BACKWARD:
        assert digits in out
    assert "0.402796525409167 · 0.15378" in out and "∂loss/∂k = 0.18583185743835806" in out
    assert "Topological order" in out and "I am linear (Linear)" in out
    start, end = map(float, known(RESULT.search(out)).groups())
    assert math.isclose(start, lesson_math()["loss"], rel_tol=1e-13) and end < start
    assert "Traceback" not in done.stderr
    for name, magic in (("graph.svg", b"<?xml"), ("loss.png", b"\x89PNG")):
        data = (tmp_path / "pictures" / name).read_bytes()
        assert data.startswith(magic) and len(data) > 1000


def test_demo_in_chinese_without_plots(tmp_path):
    done = chainrule("demo", "--lang", "zh", "--no-plots", "--steps", "20", "--lr", "0.5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "我是 linear" in done.stdout and "人类爸爸" in done.stdout and "梯度下降" in done.stdout
    assert "0.18583185743835806" in done.stdout
    start, end = map(float, known(RESULT.search(done.stdout)).groups())
    assert end < start
    assert list(tmp_path.iterdir()) == []  # --no-plots writes nothing


def test_demo_without_graphviz_writes_dot_and_says_how_to_draw_it(tmp_path):
    done = chainrule("demo", "--steps", "5", "--out", "out", cwd=tmp_path, env=without_dot(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "0.18583185743835806" in done.stdout
    assert "apt-get install graphviz" in done.stdout and "dot -Tsvg" in done.stdout
    assert (tmp_path / "out" / "graph.dot").read_text(encoding="utf-8").startswith("digraph")
    assert not (tmp_path / "out" / "graph.svg").exists()


def test_demo_rejects_bad_options(tmp_path):
    done = chainrule("demo", "--steps", "-3", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


@needs_dot
def test_explain_an_expression_end_to_end(tmp_path):
    done = chainrule(
        "explain", "sigmoid(k*x+b)", "--at", "x=3,k=0.36,b=0.37", "--wrt", "k", "--draw", "graph.svg", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    s = 1 / (1 + math.exp(-(0.36 * 3 + 0.37)))
    result = known(re.search(r"∂sigmoid/∂k = (\S+)", done.stdout)).group(1)
    assert math.isclose(float(result), s * (1 - s) * 3, rel_tol=1e-12)
    assert "∂sigmoid/∂add · ∂add/∂mul · ∂mul/∂k" in done.stdout
    assert "I am k (Placeholder): I was fed 0.36" in done.stdout
    assert (tmp_path / "graph.svg").read_bytes().startswith(b"<?xml")


def test_explain_fan_out_in_chinese(tmp_path):
    done = chainrule("explain", "x*x + x", "--at", "x=1.5", "--lang", "zh", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "共有 3 条路径" in done.stdout and "3 条路径之和" in done.stdout
    assert "∂add/∂x = 4.0" in done.stdout and CJK.search(done.stdout)


def test_explain_bad_expression_is_one_message_with_a_caret(tmp_path):
    done = chainrule("explain", "sigmoid(z*x+b)", "--at", "x=3,b=1", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("chainrule explain: error in EXPR: unknown name 'z'")
    assert lines[1] == "  sigmoid(z*x+b)" and lines[2] == "  " + " " * 8 + "^"
    assert "Traceback" not in done.stderr


def run_explain(*argv: str) -> int:
    """The explain command in this process (fast), through its own parser."""
    parser = argparse.ArgumentParser(prog="chainrule")
    explain_command.register(parser.add_subparsers())
    args = parser.parse_args(["explain", *argv])
    return args.run(args)


@pytest.mark.parametrize(
    "expr, column, message",
    [
        ("sigmoid(k*x+b", 13, "expected ')' but found the end"),
        ("x ^", 3, "expected a number, a name or '('"),
        ("y = ", 4, "nothing after 'y ='"),
        ("x = x * 2", 0, "'x' is already taken"),
        ("sum(x, axis=0, axis=1)", 15, "keyword 'axis' given twice"),
        ("sigmoid(x, axis=1)", 11, "sigmoid() has no keyword 'axis'"),
        ("[x 1]", 3, "expected a comparison"),
        ("x = 1 = 2", 6, "to name the result, write NAME = ... at the start"),
        ("foo(x)", 0, "unknown function 'foo'"),
        ("sigmoid(x, x)", 0, "sigmoid() takes 1 argument, got 2"),
        ("x +", 3, "expected a number, a name or '('"),
        ("3x", 1, "unexpected 'x'"),
        ("exp", 0, "'exp' is a function"),
        ("", 0, "the expression is empty"),
        ("x $ 1", 2, "unexpected character '$'"),
    ],
)
def test_explain_points_at_the_mistake(capsys, expr, column, message):
    assert run_explain(expr, "--at", "x=3,k=0.36,b=0.37") == 2
    err = capsys.readouterr().err
    first, text, caret = err.splitlines()
    assert message in first and f"(at column {column + 1})" in first
    assert text == "  " + expr and caret == "  " + " " * column + "^"


def test_a_long_expression_shows_only_the_part_around_the_mistake(capsys):
    expr = "(" * 150 + "x" + ")" * 150
    assert run_explain(expr, "--at", "x=3") == 2
    first, text, caret = capsys.readouterr().err.splitlines()
    assert "nested more than 100 deep" in first and "(at column 101)" in first
    assert len(text) < 90 and text.startswith("  …") and text.endswith("…")
    assert text[caret.index("^")] == "("  # the caret still points at the 101st bracket


@pytest.mark.parametrize(
    "argv, message",
    [
        (("x*k", "--at", "x=3,k=abc"), "'abc' is not a number"),
        (("x*k", "--at", "x=3,,k=1"), "expected NAME=VALUE"),
        (("x*k", "--at", "x=3,x=1"), "'x' is given twice"),
        (("x*k", "--at", "x=3,k=1", "--wrt", "q"), "'q' is not a variable"),
        (("x*x", "--at", "x=3,k=1", "--wrt", "k"), "does not use 'k'"),
    ],
)
def test_explain_bad_options_are_one_message(capsys, argv, message):
    assert run_explain(*argv) == 2
    assert message in capsys.readouterr().err


def test_explain_good_expressions_in_process(capsys):
    assert run_explain("(x - 2)**2 / x + exp(-x) * tanh(x)", "--at", "x=1.5", "--quiet") == 0
    x = 1.5
    want = (
        (2 * (x - 2) * x - (x - 2) ** 2) / x**2 - math.exp(-x) * math.tanh(x) + math.exp(-x) * (1 - math.tanh(x) ** 2)
    )
    got = known(re.search(r"∂add/∂x = (\S+)", capsys.readouterr().out)).group(1)
    assert math.isclose(float(got), want, rel_tol=1e-12)
    assert run_explain("2**3**2") == 0  # constants only: nothing to differentiate, but no error
    assert "pow_2 = 2^pow = 512.0" in capsys.readouterr().out


def test_demo_plurals_in_both_languages(tmp_path):
    one = chainrule("demo", "--steps", "1", "--no-plots", cwd=tmp_path)
    assert one.returncode == 0 and "after 1 step, loss" in one.stdout and "1 steps" not in one.stdout
    assert "(the next lesson): 1 step of" in one.stdout
    zh = chainrule("demo", "--steps", "1", "--no-plots", "--lang", "zh", cwd=tmp_path)
    assert "共 1 步" in zh.stdout and "1 步之后" in zh.stdout and "（下节课的内容）" in zh.stdout


@needs_dot
def test_demo_pictures_are_in_the_chosen_language(tmp_path):
    for lang in ("en", "zh"):
        done = chainrule("demo", "--steps", "5", "--lang", lang, "--out", lang, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    en, zh = ((tmp_path / lang / "graph.svg").read_text(encoding="utf-8") for lang in ("en", "zh"))
    assert en != zh
    assert "梯度 = 0.185832" in zh and "怎么看这张图" in zh and "红色路径" in zh and "蓝色路径" in zh
    assert "grad = 0.185832" in en and "How to read this graph" in en and "blue path" in en
    from chainrule.see import plots

    pytest.importorskip("matplotlib")
    if plots.cjk_font() is None:
        pytest.skip("no font with Chinese glyphs (CI installs fonts-wqy-microhei)")
    assert (tmp_path / "en" / "loss.png").read_bytes() != (tmp_path / "zh" / "loss.png").read_bytes()
