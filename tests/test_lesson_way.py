"""The lesson's own way of working (seed/), checked against the lesson's numbers.

The hand-written node loops (``for n in order: n.forward()``, then
``loss.grad = 1; for n in reversed(order): n.backward()``) give the lesson's
numbers on every repetition, whatever ran before; gradient descent written the
lesson's way matches the same descent through ``Graph`` step for step; and a
learner's own node classes, typed in as the lesson writes them, run next to the
built-in ops under every entry point. Expected numbers come from the lesson's
text (issue 2's table) or plain ``math``, never from chainrule.
"""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GradientError
from narrow import chain

from lesson_helpers import B, K, X, Y, build_lesson, lesson_math

D_K, D_B, D_X, D_Y = 0.18583185743835806, 0.06194395247945269, 0.02224721841122111, -0.402796525409167


def hand_loop(order, loss):
    """The lesson's two loops, exactly as a learner types them."""
    for node in order:
        node.forward()
    loss.grad = 1.0
    for node in reversed(order):
        node.backward()


def assert_lesson_grads(n):
    for name, want in (("k", D_K), ("b", D_B), ("x", D_X), ("y", D_Y)):
        assert float(n[name].grad) == pytest.approx(want, rel=1e-15, abs=0), name


@pytest.mark.parametrize("before", ["fresh", "graph_backward", "loss_backward", "previous_loop"])
def test_hand_loop_gives_the_lessons_numbers_whatever_ran_before(before):
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    if before == "graph_backward":
        graph.backward()
    elif before == "loss_backward":
        n["loss"].backward()
    order = cr.topological_sort(n["loss"])
    if before == "previous_loop":
        hand_loop(order, n["loss"])
    for _ in range(2):
        hand_loop(order, n["loss"])
        assert_lesson_grads(n)
        # each node's gradients dict holds what it sent each input, as the lesson keeps them
        assert float(n["linear"].gradients[n["k"]]) == pytest.approx(D_K, rel=1e-15)
        assert float(n["loss"].gradients[n["sigmoid"]]) == pytest.approx(-D_Y, rel=1e-15)


@pytest.mark.parametrize("x", [X, int(X)])
def test_values_set_as_the_seeds_feed_dict_sets_them(x):
    """The seed's topological sort writes ``n.value = feed_dict[n]``: plain Python numbers (an int
    too), not fed arrays. The loops then run, and give the lesson's numbers, as after a feed."""
    graph, n = build_lesson()
    n["x"].value, n["y"].value = x, Y
    order = cr.topological_sort(n["loss"])
    for _ in range(2):
        hand_loop(order, n["loss"])
        assert_lesson_grads(n)
    for name in ("x", "y", "k", "b"):
        n[name].grad = None  # leaves accumulate, as in PyTorch
    n["loss"].backward()  # the whole pass, PyTorch's way, on the same values
    assert_lesson_grads(n)


def test_readme_block_order_graph_backward_then_hand_loop():
    """The README's block: Graph.backward, then the node loop; k.grad stays the lesson's number."""
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    graph.backward()
    assert float(n["k"].grad) == pytest.approx(D_K, rel=1e-15)
    order = cr.topological_sort(n["loss"])
    for _ in range(3):
        hand_loop(order, n["loss"])
    assert float(n["k"].grad) == pytest.approx(D_K, rel=1e-15)


def plain_descent(steps, lr):
    """The same descent in plain math: the loss before each update."""
    k, b, losses = K, B, []
    for _ in range(steps):
        s = 1 / (1 + math.exp(-(k * X + b)))
        losses.append((Y - s) ** 2)
        d_linear = -2 * (Y - s) * s * (1 - s)
        k, b = k - lr * d_linear * X, b - lr * d_linear
    return losses


def test_gradient_descent_the_lessons_way_matches_graph_step_for_step():
    _, hand = build_lesson()
    order = cr.topological_sort(hand["loss"])
    for name, value in (("x", X), ("y", Y)):
        placeholder = hand[name]
        assert isinstance(placeholder, cr.Placeholder)
        placeholder.feed(value)
    graph, through = build_lesson()
    feed = {through["x"]: X, through["y"]: Y}
    hand_losses, graph_losses = [], []
    for _ in range(100):
        hand_loop(order, hand["loss"])  # forward loop, loss.grad = 1, reversed backward loop
        hand_losses.append(float(hand["loss"].value))
        for name in ("k", "b"):
            hand[name].value -= 0.1 * hand[name].grad
        graph_losses.append(float(graph.forward(feed)))
        graph.backward()
        for name in ("k", "b"):
            through[name].value -= 0.1 * through[name].grad
    assert hand_losses == graph_losses  # the same arithmetic, bit for bit
    np.testing.assert_allclose(hand_losses, plain_descent(100, 0.1), rtol=1e-9)
    assert hand_losses[-1] < 1e-10 and all(a > b for a, b in zip(hand_losses, hand_losses[1:]))


def test_backward_on_an_unsorted_node_is_a_whole_pass():
    """``y.grad = 1; y.backward()`` on a node nobody sorted reaches every leaf."""
    x = cr.Variable(0.5, dtype="float64")
    h = cr.sin(x)
    y = h * h
    y.grad = 1.0
    y.backward()
    assert float(x.grad) == pytest.approx(2 * math.sin(0.5) * math.cos(0.5), rel=1e-14)


def test_a_step_out_of_order_says_how_to_fix_it():
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    cr.topological_sort(n["loss"])
    with pytest.raises(GradientError, match=r"one step of the lesson's backward loop.*'loss' has not sent"):
        n["sigmoid"].backward()
    assert n["sigmoid"].grad is None and n["linear"].grad is None  # nothing changed


def test_outputs_are_the_consumers_in_the_sorted_graph():
    x, k = cr.Placeholder(name="x"), cr.Variable(K, name="k")
    linear = cr.Linear(x, k, 1.0, name="linear")
    loss = cr.Sigmoid(linear, name="loss")
    assert x.outputs == [] and loss.outputs == []  # built nodes keep no consumers until sorted
    cr.topological_sort(loss)
    assert x.outputs == [linear] and linear.outputs == [loss] and loss.outputs == []
    sq = x * x
    cr.topological_sort(sq)  # a later sort replaces them; a node used twice is one consumer
    assert x.outputs == [sq]


def test_forward_step_on_an_unfed_input_names_it():
    _, n = build_lesson()
    with pytest.raises(cr.errors.MissingFeedError, match="'x'.*was not fed"):
        n["linear"].forward()


def test_talking_nodes_in_both_languages(capsys):
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    order = cr.topological_sort(n["loss"])
    for lang, word in (("en", "I am linear"), ("zh", "我是 linear")):
        with cr.narrate(lang=lang):
            hand_loop(order, n["loss"])
        text = capsys.readouterr().out
        assert word in text and "0.18583185743835806" in text
    hand_loop(order, n["loss"])
    assert capsys.readouterr().out == ""  # outside the block, the loops are silent


# ---------------------------------------------------------------- a learner's own classes
class Square(cr.Node):
    """A learner's node, the lesson's way: forward sets value, backward fills gradients."""

    def __init__(self, x, name=None):
        cr.Node.__init__(self, inputs=[x], name=name)

    def forward(self):
        self.value = self.inputs[0].value ** 2

    def backward(self):
        upstream = sum(out.gradients[self] for out in self.outputs)
        self.gradients[self.inputs[0]] = upstream * 2 * self.inputs[0].value


def square_graph(x_value):
    x = cr.Variable(np.array(x_value, dtype=np.float64), name="x")
    sq = Square(cr.sin(x), name="sq")
    loss = cr.sum(cr.tanh(sq) * 3.0)
    return x, sq, loss


def expected_square_grad(x):
    """d/dx Σ 3·tanh(sin(x)²) by hand."""
    s = np.sin(x)
    return 3 * (1 - np.tanh(s**2) ** 2) * 2 * s * np.cos(x)


def test_learner_node_eager_backward_and_grad():
    xv = np.array([0.3, -1.1, 2.0])
    x, sq, loss = square_graph(xv)
    np.testing.assert_allclose(sq.value, np.sin(xv) ** 2)  # computed when built, like any op
    assert sq.requires_grad
    loss.backward()
    np.testing.assert_allclose(x.grad, expected_square_grad(xv), rtol=1e-12)
    np.testing.assert_allclose(cr.grad(loss, x), expected_square_grad(xv), rtol=1e-12)


def test_learner_node_in_graph_and_in_the_node_loops():
    x = cr.Placeholder(name="x")
    sq = Square(cr.sin(x), name="sq")
    loss = cr.sum(cr.tanh(sq) * 3.0)
    graph = cr.Graph(loss)
    xv = np.array([0.3, -1.1, 2.0])
    graph.forward({x: xv})
    graph.backward()
    np.testing.assert_allclose(x.grad, expected_square_grad(xv), rtol=1e-12)
    x.grad = None
    hand_loop(graph.order, loss)
    np.testing.assert_allclose(x.grad, expected_square_grad(xv), rtol=1e-12)


def test_learner_node_passes_gradcheck_and_explains_itself():
    assert cr.gradcheck(lambda v: Square(v * 1.5), [np.array([0.2, -0.7, 1.3])])
    x = cr.Variable(0.7, dtype="float64", name="x")
    loss = cr.sigmoid(Square(x, name="sq"))
    e = chain(cr.explain(loss, x))
    s = 1 / (1 + math.exp(-0.49))
    assert e.value == pytest.approx(s * (1 - s) * 2 * 0.7, rel=1e-14)
    assert len(e.paths) == 1 and e.paths[0].factors[-1].symbol == "∂sq/∂x"


def test_learner_node_cannot_be_differentiated_twice_and_says_why():
    x = cr.Variable(0.7, dtype="float64")
    with pytest.raises(GradientError, match="lesson's way"):
        cr.grad(Square(x), x, create_graph=True)


def test_op_subclass_written_the_lesson_way_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="subclass cr.Node"):

        class Bad(cr.Op):  # noqa: F841
            def forward(self):
                self.value = self.inputs[0].value


def test_op_keeps_its_own_forward():
    """An op's forward is its math (help() shows it); super().forward works in a subclass;
    the lesson's argument-less node.forward() recomputes the value."""
    assert cr.Sigmoid.forward.__qualname__ == "Sigmoid.forward"

    class Doubled(cr.Sigmoid):
        """2σ(x)."""

        def forward(self, x):
            return 2 * super().forward(x)

        def vjp(self, g, out, x):
            return (g * out * (1 - out / 2),)

    x = cr.Variable(np.array([0.0, 1.0]), dtype="float64")
    y = Doubled(x)
    np.testing.assert_allclose(y.value, 2 / (1 + np.exp(-x.value)))
    x.value = np.array([2.0, -1.0])
    y.forward()  # type: ignore[call-arg]  # Op wraps forward: called with no arrays it recomputes the value
    np.testing.assert_allclose(y.value, 2 / (1 + np.exp(-x.value)))
    assert cr.gradcheck(lambda v: Doubled(v), [np.array([0.3, -0.4])])


# ---------------------------------------------------------------- the seed's own classes
class LessonNode(cr.Node):
    """The lesson's Node, typed in on chainrule's: it keeps the lesson's outputs bookkeeping."""

    def __init__(self, inputs=[], name=None):  # noqa: B006 - the lesson's own signature
        cr.Node.__init__(self, inputs=inputs, name=name)
        for node in self.inputs:
            node.outputs.append(self)


class LessonPlaceholder(LessonNode):
    def __init__(self, name=None):
        LessonNode.__init__(self, name=name)

    def forward(self, value=None):
        if value is not None:
            self.value = value

    def backward(self):
        self.gradients[self] = sum(n.gradients[self] for n in self.outputs)  # bug fixed: every consumer


class LessonLinear(LessonNode):
    def __init__(self, x, k, b, name=None):
        LessonNode.__init__(self, inputs=[x, k, b], name=name)

    def forward(self):
        x, k, b = self.inputs[0], self.inputs[1], self.inputs[2]
        self.value = k.value * x.value + b.value

    def backward(self):
        x, k = self.inputs[0], self.inputs[1]
        upstream = sum(n.gradients[self] for n in self.outputs)
        self.gradients[self.inputs[0]] = upstream * k.value
        self.gradients[self.inputs[1]] = upstream * x.value
        self.gradients[self.inputs[2]] = upstream * 1


class LessonSigmoid(LessonNode):
    def __init__(self, x, name=None):
        LessonNode.__init__(self, inputs=[x], name=name)
        self.x = self.inputs[0]

    def _sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def forward(self):
        self.value = self._sigmoid(self.x.value)

    def backward(self):
        self.value = self._sigmoid(self.x.value)
        upstream = sum(n.gradients[self] for n in self.outputs)
        self.gradients[self.inputs[0]] = upstream * self.value * (1 - self.value)


class LessonLoss(LessonNode):
    def __init__(self, y, yhat, name=None):
        LessonNode.__init__(self, inputs=[y, yhat], name=name)
        self.y = self.inputs[0]
        self.yhat = self.inputs[1]

    def forward(self):
        y_v, yhat_v = np.array(self.y.value), np.array(self.yhat.value)
        self.value = np.mean((y_v - yhat_v) ** 2)

    def backward(self):
        y_v, yhat_v = np.array(self.y.value), np.array(self.yhat.value)
        n = y_v.size  # bug fixed: the gradient of a mean, per element
        self.gradients[self.inputs[0]] = 2 * (y_v - yhat_v) / n
        self.gradients[self.inputs[1]] = -2 * (y_v - yhat_v) / n


def seed_graph():
    cr.set_default_dtype("float64")
    x, y = LessonPlaceholder(name="x"), LessonPlaceholder(name="y")
    k, b = LessonPlaceholder(name="k"), LessonPlaceholder(name="b")
    linear = LessonLinear(x=x, k=k, b=b, name="linear")
    sigmoid = LessonSigmoid(x=linear, name="sigmoid")
    loss = LessonLoss(y=y, yhat=sigmoid, name="loss")
    return dict(x=x, y=y, k=k, b=b, linear=linear, sigmoid=sigmoid, loss=loss)


def test_the_seeds_classes_in_the_lessons_loops():
    n = seed_graph()
    order = cr.topological_sort(n["loss"])
    assert [node.name for node in order][-3:] == ["linear", "sigmoid", "loss"]
    for name, value in (("x", X), ("y", Y), ("k", K), ("b", B)):
        n[name].forward(value)
    truth = lesson_math()
    for _ in range(2):
        for node in order:
            node.forward()
        assert float(n["loss"].value) == pytest.approx(truth["loss"], rel=1e-15)
        for node in reversed(order):
            node.backward()
        for name, key in (("k", "d_k"), ("b", "d_b"), ("x", "d_x"), ("y", "d_y")):
            assert float(n[name].gradients[n[name]]) == pytest.approx(truth[key], rel=1e-15), name


def test_the_seeds_classes_through_graph_and_explain():
    n = seed_graph()
    graph = cr.Graph(n["loss"])
    assert graph.forward({n["x"]: X, n["y"]: Y, n["k"]: K, n["b"]: B}) == pytest.approx(0.04056126022042443, rel=1e-15)
    graph.backward()
    for name, want in (("k", D_K), ("b", D_B), ("x", D_X), ("y", D_Y)):
        assert float(n[name].grad) == pytest.approx(want, rel=1e-15), name
    e = graph.explain(n["k"])
    assert e.value == pytest.approx(D_K, rel=1e-15)
    assert [f.value for f in e.paths[0].factors] == pytest.approx([-D_Y, lesson_math()["local_sigmoid"], X], rel=1e-15)
