"""Every op's printed local derivative parses back with the expression parser and equals the op's vjp.

For each op, each differentiable input: the formula ``explain`` prints for the
edge is parsed by ``chainrule explain``'s own parser, with the names bound to
the inputs', the op's and the upstream gradient's values (and ``n`` to the
count its note gives), evaluated, and compared with the op's vjp: at upstream
1 for one-element outputs, and for tensors at a random upstream gradient and
at every basis vector (the whole Jacobian, row by row).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import ops
from chainrule.cli.expr import check_syntax, parse
from chainrule.see import symbols
from chainrule.see.chain import edge_form, follows, vjp_step
from narrow import chain, known

RNG = np.random.default_rng(7)


def var(name, shape=(), low=-1.5, high=1.5):
    return cr.Variable(RNG.uniform(low, high, size=shape), name=name)


def const(name, value):
    return cr.Constant(np.asarray(value, dtype=np.float64), name=name)


def cases():
    """(id, a function building the op node from fresh inputs)."""
    cr.set_default_dtype("float64")
    a, b = var("a", (3, 4)), var("b", (4,))
    yield "add-broadcast", cr.Add(a, b, name="f")
    yield "sub-broadcast", cr.Sub(var("a", (3, 1)), var("b", (4,)), name="f")
    yield "mul-broadcast", cr.Mul(var("a", (2, 3)), var("b", (3,)), name="f")
    yield "div", cr.Div(var("a", (2, 3)), var("b", (2, 3), 0.5, 2.0), name="f")
    yield "div-scalar", cr.Div(var("a"), var("b", (), 0.5, 2.0), name="f")
    yield "remainder", cr.Remainder(var("a", (2, 3), -3.0, 3.0), var("b", (2, 3), 0.5, 2.0), name="f")
    yield "remainder-scalar", cr.Remainder(var("a", (), 1.0, 5.0), var("b", (), -2.0, -0.5), name="f")
    yield "neg", cr.Neg(var("a", (2, 2)), name="f")
    yield "pow-const", cr.Pow(var("a", (2, 3), 0.2, 2.0), const("3.0", 3.0), name="f")
    yield "pow-square", cr.Pow(var("a"), const("2.0", 2.0), name="f")
    yield "pow-both", cr.Pow(var("a", (2, 2), 0.2, 2.0), var("b", (2, 2)), name="f")
    yield "pow-nonpositive-base", cr.Pow(const("a", [0.5, 0.0, 2.0]), var("b", (3,), 0.5, 1.5), name="f")
    yield "abs-with-zero", cr.Abs(cr.Variable(np.array([-1.5, 0.0, 2.0]), name="a"), name="f")
    yield "exp", cr.Exp(var("a", (2, 3)), name="f")
    yield "log", cr.Log(var("a", (2, 3), 0.2, 3.0), name="f")
    yield "sqrt", cr.Sqrt(var("a", (3,), 0.2, 3.0), name="f")
    yield "sin", cr.Sin(var("a", (3,)), name="f")
    yield "erf", cr.Erf(var("a", (2, 3), -3, 3), name="f")
    yield "erf-scalar-named-pi", cr.Erf(var("pi"), name="f")
    yield "log1p", cr.Log1p(var("a", (2, 3), -0.9, 3.0), name="f")
    yield "expm1", cr.Expm1(var("a", (3,)), name="f")
    yield "cos", cr.Cos(var("a"), name="f")
    yield (
        "maximum-ties",
        cr.Maximum(
            cr.Variable(np.array([1.0, 2.0, 3.0]), name="a"), cr.Variable(np.array([1.0, 0.5, 4.0]), name="b"), name="f"
        ),
    )
    yield "minimum", cr.Minimum(var("a", (2, 3)), var("b", (3,)), name="f")
    yield "minimum-tie-scalar", cr.Minimum(cr.Variable(1.0, name="a"), cr.Variable(1.0, name="b"), name="f")
    yield "where", cr.Where(const("c", [True, False, True]), var("a", (3,)), var("b", (3,)), name="f")
    yield "clip", cr.clip(cr.Variable(np.array([-2.0, 0.3, 5.0]), name="a"), -1.0, 1.0)
    yield "clip-node-bounds", cr.clip(var("a", (4,)), var("lo", (4,), -1, 0), var("hi", (4,), 0, 1))
    yield "clip-low-above-high", cr.clip(var("a", (3,)), cr.Variable(0.5, name="lo"), cr.Variable(-0.5, name="hi"))
    yield "clip-high-only", cr.clip(var("a", (3,)), None, cr.Variable(0.2, name="hi"))
    yield "sigmoid", cr.Sigmoid(var("a", (2, 3)), name="s")
    yield "tanh", cr.Tanh(var("a", (2, 3)), name="t")
    yield "relu-with-zero", cr.ReLU(cr.Variable(np.array([-1.0, 0.0, 2.0]), name="a"), name="f")
    yield "leaky-relu", cr.LeakyReLU(cr.Variable(np.array([-1.0, 0.0, 2.0]), name="a"), negative_slope=0.1, name="f")
    yield "softplus", cr.Softplus(var("a", (3,)), name="f")
    yield "gelu-exact", cr.GELU(var("a", (2, 3), -3, 3), name="f")
    yield "gelu-tanh", cr.GELU(var("a", (2, 3), -3, 3), approximate="tanh", name="f")
    yield "silu", cr.SiLU(var("a", (2, 3), -4, 4), name="f")
    yield "elu-with-zero", cr.ELU(cr.Variable(np.array([-2.0, -0.3, 0.0, 0.7, 800.0]), name="a"), alpha=0.5, name="f")
    yield "elu-scalar", cr.ELU(var("a", (), -2, -0.1), name="f")
    yield "mish", cr.Mish(var("a", (2, 3), -4, 4), name="f")
    yield (
        "hardtanh-ends",
        cr.Hardtanh(
            cr.Variable(np.array([-3.0, -0.5, -0.5, 0.2, 2.0, 0.9]), name="a"), min_val=-0.5, max_val=2.0, name="f"
        ),
    )
    yield (
        "softplus-beta-threshold",
        cr.Softplus(cr.Variable(np.array([-1.0, 0.3, 4.0, 30.0]), name="a"), beta=2.0, threshold=5.0, name="f"),
    )
    yield "softmax", cr.Softmax(var("a", (2, 3)), name="s")
    yield "softmax-axis0", cr.Softmax(var("a", (3, 2)), axis=0, name="s")
    yield "log-softmax", cr.LogSoftmax(var("a", (2, 3)), name="f")
    yield "matmul", cr.MatMul(var("A", (2, 3)), var("B", (3, 4)), name="f")
    yield "matmul-vec-mat", cr.MatMul(var("a", (3,)), var("B", (3, 2)), name="f")
    yield "matmul-mat-vec", cr.MatMul(var("A", (2, 3)), var("b", (3,)), name="f")
    yield "matmul-inner", cr.MatMul(var("a", (3,)), var("b", (3,)), name="f")
    yield "matmul-batched", cr.MatMul(var("A", (2, 2, 3)), var("B", (3, 2)), name="f")
    yield "linear-matrix", cr.Linear(var("x", (4, 3)), var("k", (3, 2)), var("b", (2,)), name="f")
    yield "linear-scalar", cr.Linear(var("x"), var("k"), var("b"), name="f")
    yield "sum", cr.Sum(var("a", (2, 3)), name="f")
    yield "sum-axis", cr.Sum(var("a", (2, 3)), axis=1, name="f")
    yield "sum-keepdims", cr.Sum(var("a", (2, 3)), axis=0, keepdims=True, name="f")
    yield "mean", cr.Mean(var("a", (2, 3)), name="f")
    yield "mean-axis", cr.Mean(var("a", (2, 3)), axis=0, name="f")
    yield "max-ties", cr.Max(cr.Variable(np.array([1.0, 3.0, 3.0]), name="a"), name="f")
    yield "min-axis", cr.Min(var("a", (2, 3)), axis=1, name="f")
    yield "var", cr.Var(var("a", (2, 3)), name="f")
    yield "var-ddof", cr.Var(var("a", (4,)), ddof=1, name="f")
    yield "sum-two-axes", cr.Sum(var("a", (2, 3, 4)), axis=(0, 2), name="f")
    yield "prod", cr.Prod(var("a", (2, 3), 0.5, 1.5), axis=1, name="f")
    yield "prod-all", cr.Prod(var("a", (4,), 0.5, 1.5), name="f")
    yield (
        "prod-zeros",
        cr.Prod(cr.Variable(np.array([[1.5, 0.0, 2.0], [0.0, 3.0, 0.0], [1.0, 2.0, 3.0]]), name="a"), axis=1, name="f"),
    )
    yield "prod-keepdims-tuple", cr.Prod(var("a", (2, 3, 2), 0.5, 1.5), axis=(0, 2), keepdims=True, name="f")
    yield "std", cr.Std(var("a", (2, 3)), axis=1, name="f")
    yield "std-ddof-all", cr.Std(var("a", (5,)), ddof=1, name="f")
    yield (
        "std-constant-row",
        cr.Std(cr.Variable(np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 3.0]]), name="a"), axis=1, ddof=1, name="f"),
    )
    yield "logsumexp", cr.LogSumExp(var("a", (2, 3)), axis=0, name="f")
    yield "logsumexp-all", cr.LogSumExp(var("a", (2, 3)), name="f")
    yield "logsumexp-two-axes", cr.LogSumExp(var("a", (2, 3, 2)), axis=(1, 2), name="f")
    yield "norm", cr.Norm(var("a", (2, 3)), axis=1, name="f")
    yield "norm-all", cr.Norm(var("a", (4,)), name="f")
    yield "norm-zero-row", cr.Norm(cr.Variable(np.array([[0.0, 0.0], [3.0, -4.0]]), name="a"), axis=1, name="f")
    yield "norm-1", cr.Norm(var("a", (2, 3)), ord=1, axis=0, name="f")
    yield "norm-3", cr.Norm(var("a", (2, 3)), ord=3, axis=-1, keepdims=True, name="f")
    yield "norm-half-with-zero", cr.Norm(cr.Variable(np.array([0.0, 2.0, -0.5]), name="a"), ord=0.5, name="f")
    yield (
        "norm-inf-ties",
        cr.Norm(cr.Variable(np.array([[1.0, -3.0, 3.0], [0.5, 2.0, 1.0]]), name="a"), ord=np.inf, axis=1, name="f"),
    )
    yield "norm-minus-inf", cr.Norm(var("a", (3,)), ord=-np.inf, name="f")
    yield "norm-0", cr.Norm(var("a", (2, 3)), ord=0, axis=1, name="f")
    yield "cumsum", cr.CumSum(var("a", (3, 4)), axis=1, name="f")
    yield "cumsum-axis0", cr.CumSum(var("a", (3, 2)), axis=-2, name="f")
    yield "cumsum-one", cr.CumSum(var("a", (1,)), axis=0, name="f")
    yield "einsum-matmul", cr.einsum("ij,jk->ik", var("A", (2, 3)), var("B", (3, 4)))
    yield "einsum-attention", cr.einsum("bqd,bkd->bqk", var("Q", (2, 3, 2)), var("K", (2, 4, 2)))
    yield "einsum-trace", cr.einsum("ii->", var("A", (3, 3)))
    yield "einsum-diagonal-and-sum", cr.einsum("iij,k->ik", var("A", (3, 3, 2)), var("b", (4,)))
    yield "einsum-inner", cr.einsum("i,i", var("a", (3,)), var("b", (3,)))
    yield "einsum-ellipsis", cr.einsum("...ij,...jk", var("A", (2, 2, 3)), var("B", (3, 2)))
    yield "einsum-three", cr.einsum("i,ij,j->", var("a", (2,)), var("M", (2, 3)), var("b", (3,)))
    yield "mse", cr.MSE(var("y", (3, 2)), var("yhat", (3, 2)), name="loss")
    yield "mse-scalar", cr.MSE(var("y"), var("yhat"), name="loss")
    yield "mse-sum", cr.MSE(var("y", (3,)), var("yhat", (3,)), reduction="sum", name="loss")
    yield "mse-none", cr.MSE(var("y", (3,)), var("yhat", (3,)), reduction="none", name="loss")
    yield "bce", cr.BinaryCrossEntropy(var("p", (4,), 0.1, 0.9), var("t", (4,), 0.0, 1.0), name="loss")
    yield "bce-logits", cr.BCEWithLogits(var("x", (2, 2)), var("t", (2, 2), 0.0, 1.0), name="loss")
    yield (
        "cross-entropy-labels",
        cr.CrossEntropy(var("x", (4, 3)), cr.Constant(np.array([0, 2, 1, 2]), name="t"), name="loss"),
    )
    yield "cross-entropy-probs", cr.CrossEntropy(var("x", (2, 3)), var("t", (2, 3), 0.0, 1.0), name="loss")
    yield (
        "cross-entropy-none",
        cr.CrossEntropy(var("x", (2, 3)), cr.Constant(np.array([1, 0]), name="t"), reduction="none", name="loss"),
    )
    yield "nll", cr.NLLLoss(var("x", (3, 4)), cr.Constant(np.array([3, 0, 1]), name="t"), name="loss")
    yield "reshape", cr.reshape(var("a", (2, 3)), (3, 2))
    yield "squeeze", cr.squeeze(var("a", (2, 1, 3)), 1)
    yield "transpose", cr.transpose(var("a", (2, 3)))
    yield "transpose-3d", cr.transpose(var("a", (2, 3, 4)), (1, 2, 0))
    yield "swapaxes", cr.swapaxes(var("a", (2, 3, 4)))
    yield "broadcast-to", cr.broadcast_to(var("a", (3,)), (2, 3))
    yield "cast", cr.astype(var("a", (3,)), np.float32)
    yield "flip", cr.flip(var("a", (2, 3)), 1)
    yield "flip-all", cr.flip(var("a", (2, 3)))
    yield "flip-axes", cr.flip(var("a", (2, 3, 2)), (0, 2))
    yield "tril", cr.tril(var("a", (3, 4)))
    yield "triu-k", cr.triu(var("a", (2, 3, 3)), k=1)
    yield "tril-one-element", cr.tril(var("a", (1, 1)), k=-1)
    t = cr.Constant(np.array([[0, 2, 2], [1, 1, 0]]), name="t")
    yield "gather", cr.gather(var("a", (2, 4)), 1, t)
    yield "gather-cropped", cr.gather(var("a", (3, 4)), 0, t)
    yield (
        "take-along-axis-broadcast",
        cr.take_along_axis(var("a", (2, 4)), cr.Constant(np.array([[3, 0]]), name="t"), axis=1),
    )
    yield "gather-one", cr.gather(var("a", (2, 3)), 1, cr.Constant(np.array([[2]]), name="t"))
    yield "scatter-along", ops.scatter_along(var("v", (2, 3)), t, 1, (2, 4))
    yield (
        "scatter-along-broadcast",
        ops.scatter_along(var("v", (2, 3)), cr.Constant(np.array([[1, 0, 1]]), name="t"), 0, (2, 3)),
    )


CASES = list(cases())


def bindings(op, g):
    """The values a formula's names stand for: the inputs, the op itself, g, and the counts."""
    names = {n.name: cr.Constant(n.value, name=n.name) for n in op.inputs}
    names[op.name] = cr.Constant(op.value, name=op.name)
    names["g"] = cr.Constant(g, name="g")
    return names


def evaluate(text, op, g, notes):
    names = bindings(op, g)
    for key, fields in notes:
        if key.startswith("note.count"):
            names[fields["n"]] = cr.Constant(float(fields["value"]), name=fields["n"])
    return np.asarray(parse(text, names).value, dtype=np.float64)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_every_printed_local_derivative_parses_back_to_the_vjp(case):
    cr.set_default_dtype("float64")
    op = case
    out = np.asarray(op.value)
    checked = 0
    for i in range(len(op.inputs)):
        if not follows(op, i):
            continue
        scalar_out = out.size == 1
        sym, notes = edge_form(op, i)
        if sym is None:
            continue
        check_syntax(sym.text)
        upstreams = (
            [np.ones_like(out)]
            if scalar_out
            else [RNG.normal(size=out.shape)] + [np.eye(out.size)[p].reshape(out.shape) for p in range(out.size)]
        )
        for g in upstreams:
            want = known(vjp_step(op, i, g).part)
            got = evaluate(sym.text, op, g, notes) * (g if scalar_out else 1.0)
            np.testing.assert_allclose(
                np.broadcast_to(got, want.shape),
                want,
                rtol=1e-6,
                atol=1e-9,
                err_msg=f"{sym.text} for input {i} of {type(op).__name__}",
            )
        checked += 1
    assert checked, "no edge of this op was checked"


def test_matrix_products_print_transposes_in_their_true_order_and_never_mix_with_elementwise():
    cr.set_default_dtype("float64")
    A, B = var("A", (2, 3)), var("B", (3, 4))
    op = cr.MatMul(A, B, name="f")
    assert known(edge_form(op, 0)[0]).text == "g @ Bᵀ" and known(edge_form(op, 1)[0]).text == "Aᵀ @ g"
    t = cr.Tanh(var("z", (2, 2)), name="h")
    product = symbols.matmul(
        symbols.name("X", False), known(edge_form(t, 0, symbols.matmul(symbols.G, symbols.name("W", False)))[0])
    )
    assert product.text == "X @ ((g @ W) ⊙ (1 - h²))"


@pytest.mark.parametrize(
    "text",
    [
        "scatter(g)",
        "col2im(g)",
        "conv_transpose2d(g, W)",
        "sum(g, axis=(0, 2, 3))",
        "correlate(x, g)",
        "maxpool_backward(g)",
    ],
)
def test_forms_of_ops_that_move_elements_are_well_formed(text):
    check_syntax(text)


def test_every_registered_op_has_a_form():
    from chainrule.see.edges import FORMS

    op_classes = {v for v in vars(ops).values() if isinstance(v, type) and issubclass(v, cr.Op)}
    without = {c.__name__ for c in op_classes if c.differentiable and not any(k in FORMS for k in c.__mro__)}
    assert without == set()


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: cr.Mul(var("x"), const("-2", -2.0), name="f"), "-2"),
        (lambda: cr.Div(var("a"), var("b", (), 1, 2), name="f"), "-a / b²"),
    ],
)
def test_negative_numbers_and_compound_factors_are_bracketed(build, expected):
    cr.set_default_dtype("float64")
    op = build()
    index = 0 if expected == "-2" else 1
    sym = known(edge_form(op, index)[0])
    assert sym.text == expected
    assert symbols.chain([symbols.number(1.5), sym]).text == f"1.5 · ({expected})"
    assert symbols.chain([symbols.number(-0.25), symbols.number(2.0)]).text == "(-0.25) · 2.0"


CASE = dict(CASES)


@pytest.mark.parametrize(
    "case, key, fields",
    [
        ("hardtanh-ends", "note.end_of_range", {"x": "a", "low": "-0.5", "high": "2.0", "count": 3}),
        ("elu-with-zero", "note.kink_zero", {"op": "elu", "x": "a", "count": 1, "rule": "α·e⁰ = 0.5"}),
        ("prod-zeros", "note.prod_zero", {"x": "a", "op": "f", "count": 3}),
        ("std-constant-row", "note.zero_scale", {"what": "f", "op": "f", "count": 1}),
        ("norm-zero-row", "note.zero_scale", {"what": "f", "op": "f", "count": 1}),
        ("norm-inf-ties", "note.tie_reduce", {"op": "f", "pick": "max |a|"}),
    ],
)
def test_the_special_rule_a_formula_applies_is_noted_in_both_languages(case, key, fields):
    from chainrule.see.phrases import say

    cr.set_default_dtype("float64")
    notes = edge_form(CASE[case], 0)[1]
    assert (key, fields) in notes
    english, chinese = say(key, "en", **fields), say(key, "zh", **fields)
    assert fields["x" if "x" in fields else "op"] in english and fields["x" if "x" in fields else "op"] in chinese


@pytest.mark.parametrize("case", ["prod", "std", "norm", "elu-scalar", "hardtanh-ends", "erf"])
def test_the_plain_case_has_no_special_rule_to_note(case):
    cr.set_default_dtype("float64")
    keys = {key for key, _ in edge_form(CASE[case], 0)[1]}
    assert not keys & {"note.prod_zero", "note.zero_scale", "note.kink_zero"}


def test_gelus_formula_follows_its_approximate_option():
    cr.set_default_dtype("float64")
    exact, tanh = (known(edge_form(CASE[name], 0)[0]).text for name in ("gelu-exact", "gelu-tanh"))
    assert "erf(a / sqrt(2))" in exact and "tanh" not in exact
    assert "tanh(" in tanh and "erf" not in tanh


def test_one_element_of_a_new_elementwise_op_is_explained_with_its_formula():
    cr.set_default_dtype("float64")
    W = cr.Variable(np.array([[0.3, -0.8], [1.2, 0.5]]), name="W")
    squared = cr.Mul(W, W, name="sq")
    loss = cr.sum(cr.SiLU(W, name="s") * cr.Erf(W, name="e") + cr.Log1p(squared, name="l"))
    e = chain(cr.explain(loss, W, element=(0, 1)))
    text = str(e)
    for formula in (
        "(sigmoid(W[0, 1]) · (1 + W[0, 1] · (1 - sigmoid(W[0, 1]))))",
        "(2 / sqrt(pi) · exp(-W[0, 1]²))",
        "(1 / (1 + sq[0, 1]))",
    ):
        assert formula in text
    w = torch.tensor(W.value, requires_grad=True)
    (torch.nn.functional.silu(w) * torch.erf(w) + torch.log1p(w * w)).sum().backward()
    np.testing.assert_allclose(float(known(e.gradient)), known(w.grad).numpy()[0, 1], rtol=1e-12)
