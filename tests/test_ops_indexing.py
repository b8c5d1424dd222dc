"""Indexing and assembly against PyTorch, central differences and grad-of-grad.

``x[index]``'s vjp scatter-adds the gradient into zeros: an advanced index that
picks an element twice sends it both gradients. concat/stack slice the gradient
back into pieces; pad crops it.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

from oracle import Case, Fixed, params, run_case

ROWS = [0, 2, 0, 2, 1]  # repeated rows: their gradients add up
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
# (name, index for chainrule, index for torch, input shape)
INDICES = [
    ("int", 1, 1, (3, 4)),
    ("negative_int", -1, -1, (4,)),
    ("int_pair", (2, 3), (2, 3), (3, 4)),
    ("slice", slice(1, 3), slice(1, 3), (4,)),
    ("column", (slice(None), 2), (slice(None), 2), (3, 4)),
    ("step", (slice(None), slice(None, None, 2)), (slice(None), slice(None, None, 2)), (3, 4)),
    ("ellipsis_none", (Ellipsis, None, 1), (Ellipsis, None, 1), (2, 3, 4)),
    ("scalar_ellipsis", Ellipsis, Ellipsis, ()),
    ("rows_repeated", ROWS, torch.tensor(ROWS), (3, 4)),
    ("rows_array", np.array(ROWS), torch.tensor(ROWS), (3,)),
    (
        "pairs_repeated",
        (np.array([0, 1, 0, 0]), np.array([1, 3, 1, 1])),
        (torch.tensor([0, 1, 0, 0]), torch.tensor([1, 3, 1, 1])),
        (3, 4),
    ),
    (
        "grid",
        (np.array([[0], [2]]), np.array([[1, 1, 3]])),
        (torch.tensor([[0], [2]]), torch.tensor([[1, 1, 3]])),
        (3, 4),
    ),
    ("mixed", (Ellipsis, [3, 0, 3]), (Ellipsis, torch.tensor([3, 0, 3])), (2, 3, 4)),
    ("mixed_middle", (slice(None), [2, 0, 2], 1), (slice(None), torch.tensor([2, 0, 2]), 1), (2, 3, 4)),
    ("mask", MASK, torch.tensor(MASK), (3, 4)),
    ("row_mask", np.array([True, False, True]), torch.tensor([True, False, True]), (3, 4)),
]

CASES = [
    Case(f"getitem_{name}{shape}", lambda x, i=i: x[i], lambda x, t=t: x[t], (shape,)) for name, i, t, shape in INDICES
]
CASES += [
    Case("getitem_fn", lambda x: cr.getitem(x, (slice(None), [1, 1])), lambda x: x[:, [1, 1]], ((3, 4),)),
    # an index held by a node (integer data, no gradient)
    Case("getitem_node_index", lambda x, i: x[i], lambda x, i: x[i], ((3, 4), Fixed(np.array([2, 2, 0])))),
    Case("getitem_twice", lambda x: x[ROWS][:, 1:] * x[0, 1:], lambda x: x[ROWS][:, 1:] * x[0, 1:], ((3, 4),)),
]

# concat and stack: (name, chainrule, torch, input shapes)
JOINS: list[tuple[str, Callable[..., Any], Callable[..., Any], list[tuple[int, ...]]]] = [
    ("concat0", lambda *xs: cr.concat(xs), lambda *xs: torch.cat(xs), [(2, 4), (3, 4), (1, 4)]),
    ("concat1", lambda *xs: cr.concat(xs, axis=1), lambda *xs: torch.cat(xs, 1), [(3, 1), (3, 4)]),
    ("concat_neg", lambda *xs: cr.concat(list(xs), axis=-1), lambda *xs: torch.cat(xs, -1), [(2, 3, 4), (2, 3, 2)]),
    ("concat_1d", lambda *xs: cr.concat(xs), lambda *xs: torch.cat(xs), [(4,), (3,)]),
    ("concat_same_twice", lambda a: cr.concat([a, a * 2.0, a]), lambda a: torch.cat([a, a * 2.0, a]), [(3, 4)]),
    ("stack0", lambda *xs: cr.stack(xs), lambda *xs: torch.stack(xs), [(3, 4), (3, 4)]),
    ("stack1", lambda *xs: cr.stack(xs, axis=1), lambda *xs: torch.stack(xs, 1), [(3, 4), (3, 4), (3, 4)]),
    ("stack_last", lambda *xs: cr.stack(xs, axis=-1), lambda *xs: torch.stack(xs, -1), [(4,), (4,)]),
    ("stack_scalars", lambda *xs: cr.stack(xs), lambda *xs: torch.stack(xs), [(), (), ()]),
    ("stack_same_twice", lambda a: cr.stack([a, a]), lambda a: torch.stack([a, a]), [(3, 1)]),
]
CASES += [Case(name, f, tf, tuple(shapes)) for name, f, tf, shapes in JOINS]

# pad: numpy's ((before, after), ...) per axis; torch's is flat and starts from the last axis
PADS = [
    ("pad_2d", ((1, 2), (0, 3)), 0.0, (3, 4)),
    ("pad_value", ((1, 0), (2, 2)), 1.5, (3, 4)),
    ("pad_1d", ((2, 1),), 0.0, (4,)),
    ("pad_pair", (1, 2), -1.0, (2, 3, 4)),
    ("pad_int", 1, 0.0, (3, 1)),
]


def _torch_pad(width, ndim):
    w = np.broadcast_to(np.asarray(width), (ndim, 2))
    return tuple(int(v) for pair in w[::-1] for v in pair)


CASES += [
    Case(
        f"{name}{shape}",
        lambda x, w=w, v=v: cr.pad(x, w, value=v),
        lambda x, w=w, v=v: F.pad(x, _torch_pad(w, x.ndim), value=v),
        (shape,),
    )
    for name, w, v, shape in PADS
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_indexing(case, mode):
    run_case(case, mode)


def test_repeated_index_gradient_counts_every_pick():
    """∂ sum(x[[0, 0, 0, 1]]) / ∂x = [3, 1, 0]: plain math, no library."""
    x = cr.Variable(np.array([1.0, 2.0, 3.0]))
    x[[0, 0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 1.0, 0.0])


@pytest.mark.parametrize("width", [1, (2, 0), ((1, 2), (0, 3))])
def test_pad_in_a_define_then_run_graph_fits_each_fed_shape(width):
    """pad's widths are spread over the axes of the value it gets, at run time."""
    x = cr.Placeholder(name="x")
    graph = cr.Graph(cr.pad(x, width, value=2.0))
    for shape in [(3, 4), (2, 1)]:
        xv = np.arange(np.prod(shape), dtype=float).reshape(shape)
        np.testing.assert_array_equal(graph.forward({x: xv}), np.pad(xv, width, constant_values=2.0))
        graph.backward(np.ones(graph.output.shape))
        np.testing.assert_array_equal(x.grad, np.ones(shape))


def test_an_index_fed_through_a_placeholder_is_read_on_every_run():
    """x[i] with i a Placeholder: each run indexes with what was fed that time."""
    x, i = cr.Placeholder(name="x"), cr.Placeholder(name="i", requires_grad=False)
    graph = cr.Graph(cr.sum(x[i, 1:] * 2.0))
    xv = np.arange(12.0).reshape(3, 4)
    for rows in ([0, 0, 2], [1]):
        want = np.zeros_like(xv)
        for r in rows:  # a row given twice gets twice the gradient
            want[r, 1:] += 2.0
        assert graph.forward({x: xv, i: rows}) == pytest.approx(2 * xv[rows, 1:].sum())
        graph.backward()
        np.testing.assert_array_equal(x.grad, want)
