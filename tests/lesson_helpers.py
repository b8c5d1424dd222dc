"""The lesson's numbers worked out by hand, and helpers that read numbers out of text.

Shared by the narration, explain and CLI tests. Every expected number is
computed here in plain Python ``math``, never taken from chainrule itself.
"""

from __future__ import annotations

import math
import re

import chainrule as cr

X, Y, K, B = 3.0, 0.6087876106387002, 0.35915077292816744, 0.3737660632429008
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
CJK = re.compile(r"[\u4e00-\u9fff]")

# the digits the lesson prints (seed/), which float64 reproduces exactly
LESSON_FORWARD = ["1.4512183820274032", "0.8101858733432837", "0.04056126022042443"]
LESSON_BACKWARD = [
    "-0.402796525409167",
    "0.402796525409167",
    "0.06194395247945269",
    "0.18583185743835806",
    "0.02224721841122111",
]


def lesson_math() -> dict[str, float]:
    """The lesson's forward and backward pass by hand."""
    linear = K * X + B
    s = 1.0 / (1.0 + math.exp(-linear))
    d_sigmoid = -2.0 * (Y - s)  # ∂loss/∂ŷ for loss = (y - ŷ)²
    d_linear = d_sigmoid * s * (1.0 - s)
    return {
        "linear": linear,
        "sigmoid": s,
        "loss": (Y - s) ** 2,
        "d_y": -d_sigmoid,
        "d_sigmoid": d_sigmoid,
        "d_linear": d_linear,
        "d_k": d_linear * X,
        "d_b": d_linear,
        "d_x": d_linear * K,
        "local_sigmoid": s * (1.0 - s),
    }


def build_lesson() -> tuple[cr.Graph, dict[str, cr.Node]]:
    """The lesson's graph in float64, as DESIGN.md writes it: the graph and every node by name."""
    cr.set_default_dtype("float64")
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(K, name="k"), cr.Variable(B, name="b")
    linear = cr.Linear(x, k, b, name="linear")
    sigmoid = cr.Sigmoid(linear, name="sigmoid")
    loss = cr.Loss(y, sigmoid, name="loss")  # the lesson's name for cr.MSE
    nodes = {"x": x, "y": y, "k": k, "b": b, "linear": linear, "sigmoid": sigmoid, "loss": loss}
    return cr.Graph(loss), nodes


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in NUMBER.findall(text)]


def has_number(values: list[float], target: float) -> bool:
    return any(math.isclose(v, target, rel_tol=1e-13, abs_tol=0.0) for v in values)


def line_with(text: str, fragment: str) -> str:
    return next(line for line in text.splitlines() if fragment in line)
