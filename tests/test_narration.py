"""Narrated forward and backward passes: the lesson's numbers, in English and Chinese.

Every expected number comes from ``lesson_helpers`` (plain Python ``math``), never
from chainrule's own output; the lesson's printed digits are checked literally too.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

import chainrule as cr
from chainrule.see.narration import narrate_backward, narrate_forward
from chainrule.see.phrases import LANGS, PHRASES

from lesson_helpers import (
    CJK,
    LESSON_BACKWARD,
    LESSON_FORWARD,
    B,
    K,
    X,
    Y,
    build_lesson,
    has_number,
    lesson_math,
    line_with,
    numbers_in,
)


@pytest.fixture
def lesson():
    return build_lesson()


@pytest.mark.parametrize("lang", LANGS)
def test_forward_narration_has_the_lessons_numbers(lesson, lang, capsys):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y}, narrate=True, lang=lang)
    text = capsys.readouterr().out
    expected = lesson_math()
    values = numbers_in(text)
    for name in ("linear", "sigmoid", "loss"):
        assert has_number(values, expected[name]), name
        # each op's own line shows its formula and its value
        assert has_number(numbers_in(line_with(text, f"{name} = ")), expected[name])
    for leaf in (X, Y, K, B):
        assert has_number(values, leaf)
    for digits in LESSON_FORWARD:
        assert digits in text
    assert "linear = k·x + b = 1.4512183820274032" in text
    if lang == "zh":
        assert "我是 x" in text and "人类爸爸" in text
    else:
        assert "I am x (Placeholder): I was fed 3.0" in text and not CJK.search(text)


@pytest.mark.parametrize("lang", LANGS)
def test_backward_narration_has_the_lessons_gradients(lesson, lang, capsys):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    graph.backward(narrate=True, lang=lang)
    text = capsys.readouterr().out
    expected = lesson_math()
    for node, key in (
        ("y", "d_y"),
        ("sigmoid", "d_sigmoid"),
        ("linear", "d_linear"),
        ("k", "d_k"),
        ("b", "d_b"),
        ("x", "d_x"),
    ):
        # the node's own line: ∂loss/∂node = value
        line = line_with(text, f"∂loss/∂{node} = ")
        assert has_number(numbers_in(line.split(f"∂loss/∂{node} = ")[1]), expected[key]), node
    # what sigmoid sends to linear: upstream · σ(1-σ) = upstream · local = result
    send = line_with(text, "sigmoid · (1 - sigmoid)")
    assert [has_number(numbers_in(send), expected[k]) for k in ("d_sigmoid", "local_sigmoid", "d_linear")] == [
        True,
        True,
        True,
    ]
    for digits in LESSON_BACKWARD:
        assert digits in text
    assert bool(CJK.search(text)) == (lang == "zh")


def test_unfed_placeholder_keeps_its_value(lesson, capsys):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    graph.forward({n["x"]: 2.0}, narrate=True)
    text = capsys.readouterr().out
    assert "I am x (Placeholder): I was fed 2.0" in text
    assert "I am y (Placeholder): nobody fed me this time, I keep 0.6087876106387002" in text


def test_fan_out_says_the_gradient_is_a_sum(capsys):
    cr.set_default_dtype("float64")
    x = cr.Placeholder(name="x")
    y = cr.Add(cr.Mul(x, x, name="mul"), x, name="y")
    graph = cr.Graph(y)
    graph.forward({x: 1.5})
    graph.backward(narrate=True)
    text = capsys.readouterr().out
    x_line = line_with(text, "∂y/∂x = ")
    assert has_number(numbers_in(x_line), 2 * 1.5 + 1) and "3 places use me" in x_line and "their sum" in x_line
    # the product sends one gradient per slot: x₁ and x₂
    assert "→ to x₁:" in text and "→ to x₂:" in text


def test_tensors_are_summarised_by_shape(capsys):
    rng = np.random.default_rng(0)
    X_ = cr.Placeholder(name="X")
    W = cr.Variable(rng.normal(size=(3, 2)), name="W")
    b = cr.Variable(np.zeros(2), name="b")
    loss = cr.mean(cr.sigmoid(cr.linear(X_, W, b)))
    graph = cr.Graph(loss)
    graph.forward({X_: rng.normal(size=(40, 3)).astype(np.float32)}, narrate=True)
    graph.backward(narrate=True)
    text = capsys.readouterr().out
    assert "a (40, 3) tensor [[" in text and "(min " in text and ", max " in text
    assert "with g the (40, 2) gradient I received, Xᵀ @ g gives a (3, 2) tensor [[" in text
    # b was added to each of the 40 rows: its gradient is g summed over axis 0, and the narration says so
    assert "→ to b: with g the (40, 2) gradient I received, sum(g, axis=0) gives a (2,) tensor" in text
    assert "summed over axis 0 back to b's shape (2,): b was broadcast to (40, 2)" in text


def test_float32_values_print_their_own_shortest_digits(capsys):
    x = cr.Placeholder(name="x")
    graph = cr.Graph(x * 2.0)
    graph.forward({x: 0.1}, narrate=True)
    text = capsys.readouterr().out
    assert "I was fed 0.1" in text and "= 0.2" in text


def test_constants_and_no_grad_nodes_say_so():
    cr.set_default_dtype("float64")
    x = cr.Variable(2.0, name="x")
    c = cr.Constant(3.0, name="c")
    graph = cr.Graph(cr.Mul(x, c, name="out"))
    graph.forward()
    graph.backward()
    forward, backward = narrate_forward(graph), narrate_backward(graph)
    assert "I am c (Constant): I always hold 3.0" in forward
    assert "I am c (Constant): I need no gradient" in backward and "→ c needs no gradient" in backward


def test_every_sentence_exists_in_both_languages_with_the_same_fields():
    import chainrule.cli.main  # noqa: F401 - the command line registers its sentences in the same table

    fields = string.Formatter()
    for key, forms in PHRASES.items():
        assert set(forms) == set(LANGS), key
        assert all(forms[lang].strip() for lang in LANGS), key
        names = [{f for _, f, _, _ in fields.parse(forms[lang]) if f} for lang in LANGS]
        assert names[0] == names[1], key
        # a sentence with English words has Chinese words in its other form
        literal = "".join(text for text, _, _, _ in fields.parse(forms["en"])).replace("vjp", "")
        if re.search(r"[A-Za-z]{3,}", literal):
            assert CJK.search(forms["zh"]), key


def test_unknown_language_is_refused(lesson):
    graph, n = lesson
    graph.forward({n["x"]: X, n["y"]: Y})
    with pytest.raises(ValueError, match="lang"):
        narrate_forward(graph, lang="fr")
