"""The losses' PyTorch options against torch.nn.functional: cross_entropy and nll_loss
with ``weight`` (per class), ``ignore_index`` (appearing in the targets),
``label_smoothing``, every reduction, labels and probabilities, 1-D to 3-D logits;
binary_cross_entropy with ``weight`` (per element, broadcast);
binary_cross_entropy_with_logits with ``weight`` and ``pos_weight``. Values and
gradients eagerly and define-then-run, central differences and second order.
Then the issue's repros: BCE's target gradient at p = 1e-30, and the canonical
classification graph with integer labels fed through a placeholder."""

import sys
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import KINK, Case, Fixed, params, raises_naming, run_case

rng = np.random.default_rng(11)
REDUCTIONS = ("mean", "sum", "none")
# logits shape -> labels (class axis 1, or 0 for one example), some equal to ignore_index
LABELS = {
    (6, 4): np.array([0, 3, -100, 1, 1, 2]),
    (2, 4, 3): np.array([[0, 3, 2], [-100, 1, 1]]),
    (4,): np.array(2),
    (3, 5): np.array([4, 4, 0]),
}
WEIGHT = {4: Fixed(rng.uniform(0.2, 2.0, 4)), 5: Fixed(rng.uniform(0.2, 2.0, 5))}
OPTIONS = [
    dict(),
    dict(weight=True),
    dict(ignore_index=1),
    dict(label_smoothing=0.2),
    dict(weight=True, label_smoothing=0.1),
    dict(weight=True, ignore_index=0, label_smoothing=0.3),
]


def _ce_case(shape, labels, opts, reduction, fn="cross_entropy"):
    classes = shape[1] if len(shape) > 1 else shape[0]
    kw = {k: v for k, v in opts.items() if k != "weight"}
    if "ignore_index" in opts:  # the ignored examples carry this ignore_index instead of -100
        labels = np.where(labels == -100, opts["ignore_index"], labels)
    args = (shape, Fixed(labels)) + ((WEIGHT[classes],) if opts.get("weight") else ())
    cr_fn, t_fn = getattr(cr, fn), getattr(F, fn)
    if fn == "nll_loss":
        kw.pop("label_smoothing", None)
    name = f"{fn}{shape}-{'-'.join(f'{k}={v}' for k, v in opts.items()) or 'plain'}-{reduction}"
    return Case(
        name,
        lambda x, t, *w: cr_fn(x, t, *w, reduction=reduction, **kw),
        lambda x, t, *w: t_fn(x, t, *w, reduction=reduction, **kw),
        args,
    )


CASES = [
    _ce_case(s, labels, opts, r)
    for s, labels in LABELS.items()
    for opts in OPTIONS
    for r in REDUCTIONS
    if r == "mean" or s == (6, 4)
]
CASES += [
    _ce_case(s, labels, opts, r, "nll_loss")
    for s, labels in list(LABELS.items())[:2]
    for opts in OPTIONS[:3] + OPTIONS[5:]
    for r in REDUCTIONS
]
# probability targets (differentiable too), with weights and smoothing
PROBABILITY_OPTIONS: list[dict[str, Any]] = [
    dict(),
    dict(weight=True),
    dict(label_smoothing=0.25),
    dict(weight=True, label_smoothing=0.1),
]
for opts in PROBABILITY_OPTIONS:
    for r in REDUCTIONS:
        w = (WEIGHT[4],) if opts.get("weight") else ()
        kw = {k: v for k, v in opts.items() if k != "weight"}
        CASES.append(
            Case(
                f"cross_entropy_probs-{opts}-{r}",
                lambda x, t, *w, r=r, kw=kw: cr.cross_entropy(x, t, *w, reduction=r, **kw),
                lambda x, t, *w, r=r, kw=kw: F.cross_entropy(x, t, w[0] if w else None, reduction=r, **kw),
                ((5, 4), (5, 4)) + w,
                low=0.0,
                high=1.0,
            )
        )
# empty batch: mean is NaN, sum 0 (as PyTorch); every label ignored: NaN, and zero gradients.
# Kept out of the module's lists of cases, which forward mode (test_forward_mode.py) compares with
# torch.func.jvp: its tangent of a mean over nothing is 0/0 = NaN, the transposed vjp's 0.
NOTHING_KEPT = tuple(
    Case(
        f"cross_entropy_empty-{r}",
        lambda x, t, r=r: cr.cross_entropy(x, t, reduction=r),
        lambda x, t, r=r: F.cross_entropy(x, t, reduction=r),
        ((0, 4), Fixed(np.zeros(0, int))),
        modes=None if r != "mean" else KINK,
    )
    for r in REDUCTIONS
)
NOTHING_KEPT += (
    Case(
        "cross_entropy_all_ignored",
        lambda x, t: cr.cross_entropy(x, t),
        lambda x, t: F.cross_entropy(x, t),
        ((3, 4), Fixed(np.full(3, -100))),
        modes=KINK,
    ),
)
# binary cross-entropy with per-element weights (broadcast), with logits and pos_weight
BCE_W = [Fixed(rng.uniform(0.5, 2.0, (3, 4))), Fixed(rng.uniform(0.5, 2.0, 4)), Fixed(np.array(1.5))]
for r in REDUCTIONS:
    for i, weight in enumerate(BCE_W):
        CASES.append(
            Case(
                f"bce_weight{i}-{r}",
                lambda p, t, w, r=r: cr.binary_cross_entropy(p, t, w, reduction=r),
                lambda p, t, w, r=r: F.binary_cross_entropy(p, t, w, reduction=r),
                ((3, 4), (3, 4), weight),
                low=0.05,
                high=0.95,
            )
        )
    for name, keys in [("weight", ("weight",)), ("pos_weight", ("pos_weight",)), ("both", ("weight", "pos_weight"))]:
        extra = tuple(Fixed(rng.uniform(0.5, 2.0, 4)) for _ in keys)

        def cr_fn(x, t, *e, r=r, keys=keys):
            return cr.binary_cross_entropy_with_logits(x, t, reduction=r, **dict(zip(keys, e)))

        def t_fn(x, t, *e, r=r, keys=keys):
            return F.binary_cross_entropy_with_logits(x, t, reduction=r, **dict(zip(keys, e)))

        CASES.append(Case(f"bce_logits_{name}-{r}", cr_fn, t_fn, ((3, 4), (3, 4)) + extra))
        CASES.append(
            Case(
                f"bce_logits_{name}_3d-{r}",
                cr_fn,
                t_fn,
                ((2, 3, 4), Fixed(rng.integers(0, 2, (2, 3, 4)).astype(float))) + extra,
            )
        )


@pytest.mark.parametrize("case, mode", params(CASES + list(NOTHING_KEPT)))
def test_loss_option(case, mode):
    run_case(case, mode)


def test_bce_target_gradient_at_a_tiny_probability_is_torchs():
    """∂BCE/∂t = ln(1-p) - ln p with the logs clamped at -100: 69.08 at p = 1e-30 (not 27.63)."""
    p, t = cr.Variable(np.array([1e-30, 0.5, 1.0, 0.0])), cr.Variable(np.array([0.3, 0.2, 0.7, 0.1]))
    _, gt = cr.grad(cr.binary_cross_entropy(p, t, reduction="sum"), [p, t])
    tp, tt = torch.tensor(p.value, requires_grad=True), torch.tensor(t.value, requires_grad=True)
    F.binary_cross_entropy(tp, tt, reduction="sum").backward()
    assert tt.grad is not None
    np.testing.assert_allclose(gt, tt.grad.numpy(), rtol=1e-12)
    assert gt[0] == pytest.approx(69.0775527898, rel=1e-9)


@pytest.mark.parametrize("requires_grad", [True, False])
def test_the_canonical_classification_graph_runs_define_then_run(requires_grad):
    """Integer labels fed through a placeholder stay labels (the issue's repro raised ShapeError)."""
    rng = np.random.default_rng(0)
    X, labels = cr.Placeholder(name="X"), cr.Placeholder(name="labels", requires_grad=requires_grad)
    W = cr.Variable(rng.standard_normal((4, 3)), name="W")
    graph = cr.Graph(cr.cross_entropy(X @ W, labels))
    xv, yv = rng.standard_normal((5, 4)), np.array([0, 1, 2, 0, 1])
    loss = graph.forward({X: xv, labels: yv})
    graph.backward()
    tW = torch.tensor(W.value, requires_grad=True)
    tl = F.cross_entropy(torch.tensor(xv) @ tW, torch.tensor(yv))
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    assert tW.grad is not None
    np.testing.assert_allclose(W.grad, tW.grad.numpy(), rtol=1e-10)
    assert labels.grad is None and labels.value.dtype.kind == "i"
    # the same graph fed a new batch with a label out of range: a clear error, nothing changed
    with pytest.raises(cr.errors.OptionError, match=r"target='0\.\.7' holds class labels outside \[0, 3\)"):
        graph.forward({X: xv, labels: np.array([0, 1, 7, 0, 1])})
    assert graph.output.value == loss


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, t: cr.cross_entropy(x, t, "sum"), "reduction is a keyword"),
        (lambda x, t: cr.cross_entropy(x, t, label_smoothing=1.5), r"label_smoothing=1\.5 is not a number in \[0, 1\]"),
        (lambda x, t: cr.cross_entropy(x, t, ignore_index=0.5), "ignore_index=0.5 is not an int"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda x, t: cr.cross_entropy(x, np.full((3, 4), 0.25), ignore_index=1), "ignore_index=1 applies to integer"),
        (lambda x, t: cr.binary_cross_entropy_with_logits(x, np.ones((3, 4)), "mean"), "reduction is a keyword"),
    ],
)
def test_loss_options_are_checked(call, message):
    x = cr.Variable(np.zeros((3, 4)))
    with pytest.raises((TypeError, ValueError), match=message):
        call(x, np.array([0, 1, 2]))


@pytest.mark.parametrize(
    "call, target, words",
    [
        (cr.cross_entropy, np.zeros(5, int), ["cross_entropy", "(10,)", "(5,)", "integer class labels"]),
        (cr.nll_loss, np.zeros((10, 2), int), ["nll_loss", "(10,)", "(10, 2)", "without its class axis"]),
        (cr.cross_entropy, np.zeros(10), ["cross_entropy", "(10, 2)", "(10,)", "probabilities"]),
        (cr.cross_entropy, np.zeros((10, 3)), ["cross_entropy", "(10, 2)", "(10, 3)", "probabilities"]),
        (cr.binary_cross_entropy, np.ones(10), ["binary_cross_entropy", "(10,)", "(10, 1)"]),
        (cr.binary_cross_entropy_with_logits, np.ones(10), ["binary_cross_entropy_with_logits", "(10,)", "(10, 1)"]),
        (cr.binary_cross_entropy_with_logits, np.ones((10, 3)), ["binary_cross_entropy_with_logits", "(10, 3)"]),
    ],
)
def test_a_target_of_the_wrong_shape_is_a_shape_error_not_a_broadcast(call, target, words):
    """Broadcast, these targets gave a loss over the wrong elements without a word (nll_loss of
    (10, 2) integer labels computed a number; an (N,) target against (N, 1) probabilities made
    N×N losses); PyTorch refuses them too. A binary target that broadcasts to the input's shape
    stays allowed."""
    binary = call in (cr.binary_cross_entropy, cr.binary_cross_entropy_with_logits)
    x = cr.Variable(np.full((10, 1) if binary else (10, 2), 0.5), name="scores")
    raises_naming(cr.errors.ShapeError, lambda: call(x, target), "scores", *words)
    assert x.grad is None
    if binary:  # one column of targets for three columns of inputs: broadcast one way, as NumPy does
        wide, tx = cr.Variable(np.full((10, 3), 0.5)), torch.full((10, 3), 0.5, dtype=torch.float64)
        want = {
            cr.binary_cross_entropy: F.binary_cross_entropy,
            cr.binary_cross_entropy_with_logits: F.binary_cross_entropy_with_logits,
        }
        assert float(call(wide, np.ones((10, 1))).value) == pytest.approx(
            float(want[call](tx, torch.ones(10, 3, dtype=torch.float64)))
        )


def test_mse_of_a_column_against_a_row_of_targets_warns_at_the_callers_line():
    """(N, 1) predictions against (N,) targets compare every prediction with every target;
    PyTorch warns, so does chainrule, pointing at the user's line. Broadcasting one side to
    the other's shape, as the lesson's scalars do, stays silent."""
    import warnings

    column, row = cr.Variable(np.zeros((10, 1))), np.ones(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cr.mse(column, row)
        line = sys._getframe().f_lineno - 1
        cr.mse(cr.Variable(np.zeros((3, 4))), np.ones((1, 4)))
        cr.mse(cr.Variable(np.zeros(3)), 1.0)
        cr.nn.MSELoss()(column, row)  # the layer reshapes the (N,) target to the column
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
    assert "(10, 1)" in str(caught[0].message) and "(10, 10)" in str(caught[0].message)
    assert cr.mse(2.0, 3.0) == 1.0  # Python numbers, as NumPy takes them (it raised AttributeError)


def test_label_smoothing_over_no_classes_is_a_clear_error():
    """ε/C with C = 0 raised ZeroDivisionError; now a ShapeError naming the op and the shape."""
    x = cr.Variable(np.zeros((3, 0)), name="logits")
    raises_naming(
        cr.errors.ShapeError,
        lambda: cr.cross_entropy(x, np.zeros((3, 0)), label_smoothing=0.25),
        "cross_entropy",
        "logits",
        "(3, 0)",
        "label_smoothing=0.25",
    )
    assert x.grad is None


def test_classification_losses_take_plain_arrays():
    """Arrays in, an array out (the fast path a vjp or a user takes), labels still checked."""
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(labels)).item()
    assert float(cr.cross_entropy(x, labels)) == pytest.approx(expected, rel=1e-12)
    assert float(cr.nn.CrossEntropyLoss()(x, labels)) == pytest.approx(expected, rel=1e-12)
    expected_nll = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(labels)).item()
    assert float(cr.nll_loss(x, labels)) == pytest.approx(expected_nll, rel=1e-12)
    with pytest.raises(cr.errors.OptionError, match="outside"):
        cr.cross_entropy(x, np.array([0, 2, 5, 2]))


@pytest.mark.parametrize("shape, labels", [((5, 4), [3, 0, 1, 3, 2]), ((2, 4, 3), [[0, 3, 2], [1, 1, 0]]), ((4,), 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_keeps_its_softmax_only_until_its_backward(shape, labels, reduction):
    """The plain cross-entropy keeps its softmax's parts from the forward pass for the vjp and
    drops them there; a second backward, and a Graph re-run with other logits and labels,
    compute them again from what they are given: every gradient is PyTorch's."""
    rng = np.random.default_rng(8)
    labels = np.array(labels)

    # a different upstream gradient for each example's loss ("none"), or one for the whole loss
    weights = np.arange(1.0, labels.size + 1).reshape(labels.shape) if reduction == "none" else np.array(1.5)

    def torch_grad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = torch.tensor(x, requires_grad=True)
        loss = F.cross_entropy(t, torch.tensor(y), reduction=reduction)
        (gx,) = torch.autograd.grad((loss * torch.tensor(weights)).sum(), t)
        return gx.numpy()

    def weigh(loss: Any) -> Any:
        return cr.sum(loss * weights)

    x0 = rng.standard_normal(shape)
    X = cr.Variable(x0)
    loss = cr.cross_entropy(X, labels, reduction=reduction)
    assert loss._softmax is not None
    total = weigh(loss)
    for _ in range(2):  # the first backward drops the parts; the second computes them again
        total.backward(retain_graph=True)
        assert loss._softmax is None
        np.testing.assert_allclose(X.grad, torch_grad(x0, labels), rtol=1e-12, atol=1e-15)
        X.grad = None
    assert cr.cross_entropy(cr.Variable(x0, requires_grad=False), labels)._softmax is None  # nothing to keep it for
    p, t = cr.Placeholder(name="logits"), cr.Placeholder(name="labels", requires_grad=False)
    graph = cr.Graph(weigh(cr.cross_entropy(p, t, reduction=reduction)))
    others = rng.integers(0, shape[1 if len(shape) > 1 else 0], np.shape(labels))
    for x, y in ((x0, labels), (rng.standard_normal(shape), others), (x0, labels)):
        graph.forward({p: x, t: y})
        graph.backward()
        np.testing.assert_allclose(p.grad, torch_grad(x, y), rtol=1e-12, atol=1e-15)
