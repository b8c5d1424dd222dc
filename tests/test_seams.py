"""Issue 8's seams: dtypes reconciled once by the engine (op bodies never cast their inputs),
options checked when a node or layer is built (OptionError naming op, node, option, value and
what is allowed), and the engine's hooks reporting each node to a watcher."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import hooks
from chainrule.errors import OptionError, ShapeError

OPS = Path(cr.__file__).parent / "ops"


def casts_in_op_bodies(source: str) -> list[str]:
    """forward/vjp methods that convert one of their own inputs' dtype (astype, match_floats,
    asarray(..., dtype=)), except in the Cast op, whose job that is."""
    found = []
    for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef) and n.name != "Cast"):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name in ("forward", "vjp")):
            params = {a.arg for a in fn.args.args + fn.args.kwonlyargs} | (
                {fn.args.vararg.arg} if fn.args.vararg else set()
            )
            for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                f = call.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                subject = f.value if isinstance(f, ast.Attribute) else (call.args[0] if call.args else None)
                on_input = isinstance(subject, ast.Name) and subject.id in params
                if (
                    name == "match_floats"
                    or (name == "astype" and on_input)
                    or (
                        name in ("asarray", "array")
                        and call.args
                        and isinstance(call.args[0], ast.Name)
                        and call.args[0].id in params
                        and any(k.arg == "dtype" for k in call.keywords)
                    )
                ):
                    found.append(f"{cls.name}.{fn.name} line {call.lineno}")
    return found


def test_no_op_body_casts_its_inputs():
    offenders = [
        f"{path.name}: {where}"
        for path in sorted(OPS.glob("*.py"))
        for where in casts_in_op_bodies(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_cast_check_can_fail():
    source = "class Mul(Op):\n    def forward(self, a, b):\n        return a * b.astype(a.dtype)\n"
    assert casts_in_op_bodies(source) == ["Mul.forward line 3"]


@pytest.mark.parametrize(
    "fn, torch_fn",
    [
        (lambda a, b: a * b, lambda a, b: a * b),
        (lambda a, b: cr.maximum(a, b), torch.maximum),
        (lambda a, b: a @ b.T, lambda a, b: (lambda t: a.to(t) @ b.to(t).T)(torch.promote_types(a.dtype, b.dtype))),
        (lambda a, b: cr.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b)),
    ],
)
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float32", "int64"), ("float64", "float32")])
def test_promotion_matches_pytorch_and_gradients_keep_their_dtype(fn, torch_fn, dtypes):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(dtypes[0])
    b = (rng.standard_normal((3, 4)) * 3).astype(dtypes[1])
    x = cr.Variable(a)
    out = fn(x, cr.tensor(b))
    expected = torch_fn(torch.tensor(a), torch.tensor(b))
    assert out.dtype == expected.numpy().dtype
    cr.sum(out).backward()
    assert x.grad.dtype == a.dtype


def test_a_scalar_or_number_takes_its_partners_dtype():
    x = cr.Variable(np.ones(3, dtype=np.float32))
    k = cr.Variable(2.0, dtype="float64")  # a 0-d float64 parameter next to a float32 array
    y = x * k + 1.5
    assert y.dtype == np.float32
    cr.sum(y).backward()
    assert k.grad.dtype == np.float64 and float(k.grad) == 3.0


def test_losses_compute_in_the_narrowest_float():
    pred = cr.Variable(np.zeros((4, 2), dtype=np.float32))
    loss = cr.mse(pred, np.ones((4, 2)))  # float64 targets, as NumPy makes them
    assert loss.dtype == np.float32
    loss.backward()
    assert pred.grad.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: cr.mse(x, x, reduction="avg"), r"MSE '\w+': reduction='avg' is not one of 'mean', 'sum', 'none'"),
        (lambda x: cr.sum(x, axis=1.5), r"Sum '\w+': axis=1.5 is not an int, a tuple of distinct ints or None"),
        (
            lambda x: cr.leaky_relu(x, negative_slope="0.1"),  # type: ignore[arg-type]  # the wrong type under test
            r"LeakyReLU '\w+': negative_slope='0.1' is not a real number",
        ),
        (lambda x: cr.softmax(x, axis=(0, 1)), r"Softmax '\w+': axis=\(0, 1\) is not an int"),
        (lambda x: cr.var(x, ddof=-1), r"Var '\w+': ddof=-1 is not an int >= 0"),
        (lambda x: cr.sum(x, axis=3), r"Sum '\w+' with inputs .*shape \(2, 3\).*axis 3 is out of bounds"),
    ],
)
def test_option_errors_name_op_node_option_value_and_what_is_allowed(build, message):
    with pytest.raises(OptionError, match=message):
        build(cr.Variable(np.ones((2, 3))))


def test_options_are_checked_when_a_define_then_run_node_is_built():
    x = cr.Placeholder(name="x")
    with pytest.raises(OptionError, match="MSE 'loss': reduction='avg'"):
        cr.MSE(x, x, reduction="avg", name="loss")
    logits = cr.Variable(np.zeros((2, 3)), name="logits")
    with pytest.raises(OptionError, match=r"CrossEntropy 'ce': target='0\.\.5' holds class labels outside \[0, 3\)"):
        cr.CrossEntropy(logits, cr.tensor(np.array([0, 5])), name="ce")


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: cr.nn.Dropout(p=2), r"Dropout: p=2 is not a probability in \[0, 1\]"),
        (lambda: cr.nn.Linear(0, 3), "Linear: in_features=0 is not a positive int"),
        (lambda: cr.nn.BatchNorm1d(4, momentum=3), r"BatchNorm1d: momentum=3 is not a number in \[0, 1\]"),
        (lambda: cr.nn.MLP([4, 8, 2], activation="swish"), "MLP: activation='swish' is not one of"),
    ],
)
def test_layer_options_are_checked_when_the_layer_is_built(build, message):
    with pytest.raises(OptionError, match=message):
        build()


def test_an_option_error_is_a_value_error_and_shapes_stay_shape_errors():
    assert issubclass(OptionError, ValueError)
    with pytest.raises(ShapeError, match="MatMul"):
        cr.Variable(np.ones((2, 3))) @ cr.Variable(np.ones((2, 3)))


class Recorder(hooks.Watcher):
    def __init__(self):
        self.events = []

    def begin(self, kind, graph):
        self.events.append(("begin", kind))

    def forward(self, node, fed):
        self.events.append(("forward", node.name, fed))

    def backward(self, node):
        self.events.append(("backward", node.name, None if node.grad is None else float(node.grad)))


def test_the_engine_reports_each_node_to_its_watchers():
    x = cr.Placeholder(name="x")
    y = cr.Mul(x, x, name="y")
    graph = cr.Graph(y)
    recorder = Recorder()
    with hooks.watching(recorder):
        graph.forward({x: 3.0})
        graph.backward()
    assert recorder.events == [
        ("begin", "forward"),
        ("forward", "x", True),
        ("forward", "y", False),
        ("begin", "backward"),
        ("backward", "y", 1.0),
        ("backward", "x", 6.0),
    ]
    graph.forward({x: 2.0})
    assert len(recorder.events) == 6  # outside the block nobody is told
