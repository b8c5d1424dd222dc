"""The README's "Convolutions and pooling" section runs as written: every line whose comment
starts with a shape gets that shape (each statement runs in one namespace; an expression's value,
or the variable an assignment binds first, is what its comment describes)."""

from __future__ import annotations

import ast
import re

import numpy as np

from test_readme import blocks, section

SHAPE = re.compile(r"#.*?(\(\d+(?:, \d+)*\))")


def test_the_conv_sections_code_runs_and_gets_the_shapes_it_says():
    code = blocks(section("conv"), "python")[0]
    lines = code.splitlines()
    namespace: dict = {}
    checked = 0
    for statement in ast.parse(code).body:
        text = ast.get_source_segment(code, statement)
        assert statement.end_lineno is not None
        claimed = SHAPE.search(lines[statement.end_lineno - 1])
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "<README>", "eval"), namespace)
        else:
            exec(compile(ast.Module([statement], []), "<README>", "exec"), namespace)
            target = statement.targets[0] if isinstance(statement, ast.Assign) else None
            first = target.elts[0] if isinstance(target, ast.Tuple) else target
            value = namespace[first.id] if isinstance(first, ast.Name) else None
        if claimed:
            shape = value if isinstance(value, tuple) else np.shape(value)  # `.shape` lines give the shape
            assert shape == eval(claimed.group(1)), text
            checked += 1
    assert checked == 6
    assert namespace["where"].dtype == np.int64 and namespace["x"].grad.shape == (8, 3, 32, 32)
