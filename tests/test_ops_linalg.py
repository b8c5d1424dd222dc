"""matmul (every case of NumPy's rules) and the lesson's Linear against PyTorch,
central differences and grad-of-grad. ``cr.linear(x, k, b) = x @ k + b`` with k
of shape (in, out) (or k·x + b for scalars), compared with torch ``x @ k + b``."""

import pytest
import torch

import chainrule as cr

from oracle import Case, params, run_case

# matmul operand shapes: vectors, matrices, batches, broadcast batch dims
PAIRS = [
    ((4,), (4,)),  # inner product -> scalar
    ((4,), (4, 3)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((3, 4), (4, 2)),
    ((1, 4), (4, 1)),
    ((2, 3, 4), (4, 5)),  # batch @ matrix: the matrix's gradient sums over the batch
    ((3, 4), (2, 4, 5)),  # matrix @ batch
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims (2, 1) x (5,)
    ((4,), (2, 4, 3)),  # vector @ batch
    ((2, 3, 4), (4,)),  # batch @ vector
]

CASES = [Case(f"matmul{a}{b}", cr.matmul, torch.matmul, (a, b)) for a, b in PAIRS]
CASES += [Case(f"op_matmul{a}{b}", lambda x, y: x @ y, lambda x, y: x @ y, (a, b)) for a, b in PAIRS[2:6]]
CASES += [Case(f"method_matmul{a}{b}", lambda x, y: x.matmul(y), torch.matmul, (a, b)) for a, b in PAIRS[3:4]]

# linear: (x, k, b) shapes
LINEAR = [
    ((), (), ()),  # the lesson: k·x + b on scalars
    ((4,), (), ()),  # scalar weight, elementwise
    ((4,), (4, 3), (3,)),  # one example
    ((5, 4), (4, 3), (3,)),  # a batch
    ((5, 4), (4, 3), ()),  # scalar bias
    ((5, 4), (4, 3), (5, 3)),  # full bias
    ((2, 5, 4), (4, 3), (3,)),  # batched examples
]
CASES += [
    Case(f"linear{x}{k}{b}", cr.linear, lambda x, k, b: x @ k + b if k.ndim >= 2 else k * x + b, (x, k, b))
    for x, k, b in LINEAR
]
CASES += [
    Case(
        f"Linear{x}{k}{b}",
        lambda x, k, b: cr.Linear(x, k, b, name="lin"),
        lambda x, k, b: x @ k + b if k.ndim >= 2 else k * x + b,
        (x, k, b),
    )
    for x, k, b in LINEAR[2:4]
]


@pytest.mark.parametrize("case, mode", params(CASES))
def test_linalg(case, mode):
    run_case(case, mode)
