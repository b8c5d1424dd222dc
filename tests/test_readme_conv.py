"""The README's "Convolutions and pooling" section runs as written: every line whose comment
starts with a shape gets that shape (each statement runs in one namespace; an expression's value,
or the variable an assignment binds first, is what its comment describes)."""

from __future__ import annotations

import ast
import re

import numpy as np

import chainrule as cr
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


def test_max_pooling_over_short_rows_hands_flatten_its_own_memory():
    """The section's word: a convolution returns its result laid out channel by channel; max
    pooling over short rows returns plain (N, C, H, W) order all the same, which a Flatten after
    it reads without a copy (and the gradient comes back in the convolution's layout)."""
    x = cr.Variable(np.random.default_rng(0).standard_normal((4, 1, 8, 8)))
    y = cr.relu(cr.nn.Conv2d(1, 3, 3, padding=1)(x))
    assert not y.value.flags.c_contiguous and y.value.transpose(1, 0, 2, 3).flags.c_contiguous
    pooled = cr.max_pool2d(y, 2)
    flat = cr.nn.Flatten()(pooled)
    assert pooled.value.flags.c_contiguous and np.shares_memory(flat.value, pooled.value)
    (grad,) = cr.grad(cr.sum(flat), [y])
    assert grad.transpose(1, 0, 2, 3).flags.c_contiguous
