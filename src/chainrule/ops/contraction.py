"""Einstein summation: ``einsum`` (NumPy's and PyTorch's subscripts) and ``outer``.

The vjp of an einsum is an einsum: for the operand with subscripts ``ab``, the
gradient is the einsum of the upstream gradient (output subscripts) with the
other operands, written back to ``ab``. Two twists, each again an einsum:

- a letter repeated in the operand (``ii``, a diagonal) gets a fresh letter and
  an identity matrix joining the two, so the gradient lands on the diagonal;
- a letter only that operand has (summed away, as ``j`` in ``ij->i``) gets a
  vector of ones of its length, which spreads the gradient along it.

So the backward pass is made of einsums too, and attention written with einsum
can be differentiated twice. ``...`` stands for the leading axes, worked out
from the values at run time (NumPy's broadcasting of length-1 axes included;
the engine sums a broadcast gradient back to its input's shape).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtype import PROMOTE
from ..errors import option_error
from ..op import Op
from .shape import broadcast_to, reshape


def parse(subscripts: str, ndims: Sequence[int]) -> tuple[list[str], str]:
    """The operands' and the output's subscripts with ``...`` written out as letters
    (right-aligned across operands) and the implicit output made explicit."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum '{subscripts}' names {len(terms)} operands but got {len(ndims)}")
    used = set(spec) - set(".,->")
    free = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    widths = [ndim - len(t.replace("...", "")) for t, ndim in zip(terms, ndims)]
    ellipsis = "".join(free[: max([w for t, w in zip(terms, widths) if "..." in t], default=0)])
    out_terms = []
    for term, width in zip(terms, widths):
        if "..." in term:
            term = term.replace("...", ellipsis[len(ellipsis) - width :] if width else "")
        elif width:
            raise ValueError(f"einsum '{subscripts}': operand '{term}' has {width + len(term)} dimensions")
        out_terms.append(term)
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        letters = "".join(out_terms)
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    return out_terms, output


class Einsum(Op):
    """einsum(subscripts, *operands), e.g. "bhqd,bhkd->bhqk"; ∂/∂operand: the einsum of
    the upstream gradient with the other operands, back to that operand's subscripts."""

    subscripts = ""
    dtypes = PROMOTE
    derivatives = ("einsum",)

    @property
    def formula(self) -> str:
        return "einsum(" + self.subscripts + ", " + ", ".join(f"{{{i}}}" for i in range(len(self.inputs))) + ")"

    def check_options(self) -> None:
        if not isinstance(self.subscripts, str) or set(self.subscripts) - set(string.ascii_letters + ".,-> "):
            raise self.option_error("subscripts", "is not an einsum string of letters, ',', '->' and '...'")

    def forward(self, *xs: Any) -> Any:
        terms, output = parse(self.subscripts, [np.ndim(x) for x in xs])
        return np.einsum(",".join(terms) + "->" + output, *xs, optimize=len(xs) > 2)

    def vjp(self, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        terms, output = parse(self.subscripts, [np.ndim(x) for x in xs])
        return tuple(
            self._operand_grad(g, xs, terms, output, i) if self.inputs[i].requires_grad else None
            for i in range(len(xs))
        )

    @staticmethod
    def _operand_grad(g: Any, xs: Sequence[Any], terms: list[str], output: str, i: int) -> Any:
        subs, extras, target = gradient_terms(terms, output, i, dict(zip(terms[i], np.shape(xs[i]))))
        operands = [g] + [x for j, x in enumerate(xs) if j != i]
        operands += [np.eye(n, dtype=g.dtype) if kind == "eye" else np.ones(n, dtype=g.dtype) for kind, n in extras]
        part = einsum(",".join(subs) + "->" + target, *operands)
        return _fit_letters(part, np.shape(xs[i]))


def _fit_letters(part: Any, shape: tuple) -> Any:
    """An operand's gradient where einsum broadcast a letter (length 1 in some operands, n in
    others, as NumPy and PyTorch allow): spread along a letter this operand has at length n
    where the others had 1, each of the n elements getting the same share. (Along a letter
    it has at length 1, the engine sums the gradient back, as for any broadcast input.)"""
    full = np.broadcast_shapes(np.shape(part), shape)
    return part if np.shape(part) == full else broadcast_to(part, full)


def gradient_terms(terms: list[str], output: str, i: int, sizes: dict) -> tuple[list[str], list, str]:
    """Operand ``i``'s gradient as an einsum: the subscripts of g, of the other operands and of
    the extra operands, the extras themselves (``("eye", n)``: a repeated letter gets a fresh one
    tied to it by the identity; ``("ones", n)``: a letter only this operand has is spread along),
    and the subscripts it is written back to. ``sizes``: each of the operand's letters' length."""
    subs = [output] + [t for j, t in enumerate(terms) if j != i]
    fresh = iter(c for c in string.ascii_letters if c not in "".join(terms) + output)
    extras: list[tuple[str, int]] = []
    target = ""
    for letter in terms[i]:
        if letter in target:  # a diagonal: a new letter, tied to this one by the identity
            new = next(fresh)
            extras.append(("eye", sizes[letter]))
            subs.append(letter + new)
            letter = new
        target += letter
    for letter in dict.fromkeys(terms[i]):
        if letter not in "".join(subs):  # summed away inside this operand only: spread along it
            extras.append(("ones", sizes[letter]))
            subs.append(letter)
    return subs, extras, target


def einsum(subscripts: str, *operands: Any) -> Any:
    """Einstein summation (``np.einsum`` / ``torch.einsum``): ``einsum("ij,jk->ik", a, b)``;
    implicit output and ``...`` as in NumPy. Differentiable to any order."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])  # torch.einsum also takes the operands as one list
    if not isinstance(subscripts, str):
        raise option_error("einsum", "subscripts", subscripts, "is not a string")
    return Einsum.apply(*operands, subscripts=subscripts)


def outer(a: Any, b: Any) -> Any:
    """The outer product of two vectors, a[i]·b[j] (``torch.outer``, ``np.outer``)."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))
