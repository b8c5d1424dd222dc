"""Every error of issue 2 point 8 has its own class in ``chainrule.errors`` and a
message that names the node (and, for shapes, the op, both nodes and shapes);
a failed ``Graph.forward`` leaves every value as it was."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors


def lesson_graph():
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(np.ones((3, 2)), name="k"), cr.Variable(np.zeros(2), name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b, name="linear"), name="sigmoid"), name="loss")
    return cr.Graph(loss), x, y, k


def test_each_error_is_its_own_class_and_a_builtin_one():
    classes = [
        errors.ShapeError,
        errors.MissingFeedError,
        errors.FeedError,
        errors.GradientError,
        errors.CycleError,
        errors.GradcheckError,
    ]
    assert len(set(classes)) == len(classes)
    for cls, builtin in zip(classes, [ValueError, KeyError, TypeError, ValueError, ValueError, AssertionError]):
        assert issubclass(cls, errors.ChainruleError) and issubclass(cls, builtin)


def test_missing_feed_names_the_placeholder():
    graph, x, y, _ = lesson_graph()
    with pytest.raises(errors.MissingFeedError, match="'y'") as info:
        graph.forward({x: np.ones((4, 3))})
    assert "'x'" not in str(info.value)


@pytest.mark.parametrize(
    "build, op, left, right",
    [
        (lambda a, b: a + b, "Add", (3, 4), (2, 5)),
        (lambda a, b: a * b, "Mul", (3, 4), (4, 3)),
        (lambda a, b: a @ b, "MatMul", (3, 4), (3, 4)),
        (lambda a, b: cr.maximum(a, b), "Maximum", (2,), (3,)),
        (lambda a, b: cr.concat([a, b], axis=1), "Concat", (3, 4), (2, 4)),
        (lambda a, b: cr.mse(a, b), "MSE", (3,), (4,)),
    ],
)
def test_shape_mismatch_names_op_nodes_and_shapes(build, op, left, right):
    a, b = cr.Variable(np.ones(left), name="left_in"), cr.Variable(np.ones(right), name="right_in")
    with pytest.raises(errors.ShapeError) as info:
        build(a, b)
    msg = str(info.value)
    for part in (op, "'left_in'", "'right_in'", str(left), str(right)):
        assert part in msg, f"{part!r} missing from: {msg}"


def test_shape_mismatch_in_a_define_then_run_graph():
    graph, x, y, k = lesson_graph()
    with pytest.raises(errors.ShapeError) as info:
        graph.forward({x: np.ones((4, 5)), y: np.ones((4, 2))})
    msg = str(info.value)
    for part in ("Linear", "'linear'", "'x'", "'k'", "(4, 5)", "(3, 2)"):
        assert part in msg, f"{part!r} missing from: {msg}"


def test_feeding_a_non_placeholder():
    graph, x, y, k = lesson_graph()
    with pytest.raises(errors.FeedError, match="'k'"):
        graph.forward({x: np.ones((4, 3)), y: np.ones((4, 2)), k: np.ones((3, 2))})
    with pytest.raises(errors.FeedError, match="'z'"):
        graph.forward({"z": 1.0})
    stray = cr.Placeholder(name="stray")
    with pytest.raises(errors.FeedError, match="'stray'"):
        graph.forward({x: np.ones((4, 3)), y: np.ones((4, 2)), stray: 1.0})


def test_backward_of_a_non_scalar_needs_a_gradient():
    w = cr.Variable(np.ones(3), name="w")
    h = cr.exp(w)
    h.name = "h_vector"
    with pytest.raises(errors.GradientError, match="'h_vector'"):
        h.backward()
    with pytest.raises(errors.GradientError, match="'h_vector'"):
        cr.Graph(h).backward()
    with pytest.raises(errors.GradientError, match=r"\(2,\)"):
        h.backward(np.ones(2))  # wrong shape
    h.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(w.grad, np.e * np.array([1.0, 2.0, 3.0]), rtol=1e-6)


def test_backward_without_anything_to_differentiate():
    c = cr.Constant(np.ones(3), name="data")
    total = cr.sum(c * 2.0)
    total.name = "total"
    with pytest.raises(errors.GradientError, match="'total'"):
        total.backward()


def test_a_cycle_in_hand_wired_nodes():
    a = cr.Variable(1.0, name="a")
    b = cr.mul(a, 2.0)
    c = cr.add(b, 1.0)
    b.name, c.name = "b_node", "c_node"
    b.inputs = (c, b.inputs[1])  # b <- c <- b
    with pytest.raises(errors.CycleError, match="'(b_node|c_node)'"):
        cr.topological_sort(c)
    with pytest.raises(errors.CycleError):
        cr.Graph(c)
    with pytest.raises(errors.CycleError):
        c.backward()


def test_a_failed_forward_leaves_every_value_as_it_was():
    graph, x, y, k = lesson_graph()
    graph.forward({x: np.ones((4, 3)), y: np.full((4, 2), 0.5)})
    before = {id(n): np.copy(n.value) for n in graph.order}
    # y's shape only breaks the last op, after every other node was recomputed
    with pytest.raises(errors.ShapeError):
        graph.forward({x: np.full((4, 3), 2.0), y: np.ones((4, 7))})
    with pytest.raises(errors.MissingFeedError):
        cr.Graph(graph.output, cr.Placeholder(name="unfed") * 2.0).forward({x: np.zeros((4, 3))})
    for n in graph.order:
        np.testing.assert_array_equal(n.value, before[id(n)], err_msg=n.name)


class WrongSquare(cr.Op):
    """x² with a deliberately wrong vjp (x instead of 2x): gradcheck must catch it."""

    def forward(self, x):
        return x * x

    def vjp(self, g, out, x):
        return (g * x,)


def test_gradcheck_names_the_input_and_the_worst_element():
    with pytest.raises(errors.GradcheckError, match=r"input 0 \('w'.*index \(\d+,\)"):
        cr.gradcheck(lambda w: WrongSquare(w), [cr.Variable(np.array([0.5, -1.0, 2.0]), name="w")])
    assert cr.gradcheck(lambda w: w * w, [np.array([0.5, -1.0, 2.0])])
