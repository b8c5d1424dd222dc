"""Formulas as a reader (and ``chainrule explain``'s parser) reads them back.

A ``Sym`` is a piece of formula text that knows how tightly it binds, so that
combining two of them adds exactly the brackets that precedence needs:
``times(Sym("2"), one_minus_s)`` gives ``2 · (1 - s)``, a negative number
in a product is written ``(-0.4)``, and ``⊙`` (elementwise) never mixes with
``@`` (matrix product) without brackets. The notation is the one
``cli/expr.py`` parses: ``+ - · ⊙ / @``, postfix ``ᵀ`` and ``²``, ``^`` for
other powers, function calls with keywords (``sum(g, axis=0)``) and
Iverson's bracket ``[x > 0]`` (1 where true, else 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

# how tightly a piece binds, loosest first
SUM, PRODUCT, UNARY, POWER, POSTFIX, ATOM = range(1, 7)
_PLAIN_NAME = re.compile(r"(?:(?![ᵀ²³¹⁰⁴-⁹])[^\W\d])(?:(?![ᵀ²³¹⁰⁴-⁹])\w)*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Sym:
    """Formula text plus what combining it needs to know.

    ``strength``: how tightly the text binds (SUM ... ATOM); ``operator``: the
    product operator at its top level (``·``, ``⊙``, ``@``, ``/``) or "";
    ``scalar``: it stands for one number (products with it use ``·``);
    ``one``: it is the number 1 (dropped from products and quotients);
    ``known``: False for a bare symbol standing in for a derivative nobody wrote
    down (a learner's node without ``derivatives``: ``∂sq/∂x``).
    """

    text: str
    strength: int = ATOM
    operator: str = ""
    scalar: bool = True
    one: bool = False
    known: bool = True

    def __str__(self) -> str:
        return self.text


ONE = Sym("1", one=True)
G = Sym("g", scalar=False)  # the gradient arriving from above, in a vector-Jacobian product


def name(text: str, scalar: bool = True) -> Sym:
    """A node's name. Names the parser reads as one token are atoms; a number-like
    name (a constant's) is a number; anything else (``0.weight``) is kept whole."""
    if _NUMBER.fullmatch(text) or _PLAIN_NAME.fullmatch(text):
        return Sym(text, ATOM, scalar=scalar, one=text in ("1", "1.0"))
    if text.startswith("-") and _NUMBER.fullmatch(text[1:]):
        return Sym(text, UNARY, scalar=scalar)
    return Sym(text, ATOM, scalar=scalar)


def number(value: Any) -> Sym:
    """A number at full precision (its own dtype's shortest repr)."""
    text = str(np.asarray(value).reshape(-1)[0]) if np.size(value) else "nan"
    if text.startswith("-"):
        return Sym(text, UNARY)
    return Sym(text, ATOM, one=float(text) == 1.0 if text not in ("nan", "inf") else False)


def wrap(sym: Sym, needed: int) -> str:
    """The text, bracketed if it binds less tightly than ``needed``."""
    return sym.text if sym.strength >= needed else f"({sym.text})"


def _right(sym: Sym, needed: int) -> str:
    """A right operand: bracketed when looser than ``needed`` or when it starts with a sign."""
    return f"({sym.text})" if sym.strength < needed or sym.strength == UNARY else sym.text


def add(a: Sym, b: Sym) -> Sym:
    return Sym(f"{a.text} + {_right(b, SUM)}", SUM, scalar=a.scalar and b.scalar)


def sub(a: Sym, b: Sym) -> Sym:
    return Sym(f"{a.text} - {_right(b, PRODUCT)}", SUM, scalar=a.scalar and b.scalar)


def neg(a: Sym) -> Sym:
    if a.one:
        return Sym("-1", UNARY)
    if a.strength == UNARY and a.text.startswith("-") and _NUMBER.fullmatch(a.text[1:]):
        return Sym(a.text[1:], ATOM, scalar=a.scalar)
    return Sym("-" + wrap(a, PRODUCT) if a.strength != UNARY else f"-({a.text})", UNARY, scalar=a.scalar)


def _product(a: Sym, b: Sym, operator: str) -> Sym:
    mixes = {a.operator, operator} - {"·", "/"}  # · and / read left to right; ⊙ and @ never mix
    left = (
        a.text
        if a.strength > PRODUCT or (a.strength == PRODUCT and (a.operator == operator or not mixes))
        else f"({a.text})"
    )
    if a.strength == UNARY:  # -2 · x reads fine; -2 @ x does not
        left = a.text if operator in ("·", "/") else f"({a.text})"
    scalar = a.scalar and b.scalar if operator != "@" else False
    # a · (b · c) is a · b · c: the same associative product needs no brackets on the right
    right = b.text if b.strength == PRODUCT and b.operator == operator and operator != "/" else _right(b, POWER)
    return Sym(f"{left} {operator} {right}", PRODUCT, operator, scalar)


def times(a: Sym, b: Sym) -> Sym:
    """Elementwise product: ``·`` when either side is one number, ``⊙`` between tensors; 1 is dropped."""
    if a.one:
        return b
    if b.one:
        return a
    return _product(a, b, "·" if a.scalar or b.scalar else "⊙")


def chain(factors: list[Sym]) -> Sym:
    """Factors multiplied along a path, each compound one in brackets so that it reads as one
    factor, and ones kept (the lesson's ``∂linear/∂b = 1`` stays visible)."""
    text = " · ".join(f.text if f.strength >= POSTFIX else f"({f.text})" for f in factors)
    return Sym(text, PRODUCT if len(factors) > 1 else factors[0].strength, "·")


def matmul(a: Sym, b: Sym) -> Sym:
    return _product(a, b, "@")


def div(a: Sym, b: Sym) -> Sym:
    if b.one:
        return a
    return _product(a, b, "/")


def square(a: Sym) -> Sym:
    return Sym(wrap(a, POSTFIX) + "²", POSTFIX, scalar=a.scalar)


def power(a: Sym, b: Sym) -> Sym:
    if b.text in ("2", "2.0"):
        return square(a)
    if b.one:
        return a
    return Sym(f"{wrap(a, POSTFIX)}^{wrap(b, ATOM)}", POWER, scalar=a.scalar)


def transpose(a: Sym) -> Sym:
    """The matrix transpose (last two axes swapped)."""
    return Sym(wrap(a, POSTFIX) + "ᵀ", POSTFIX, scalar=a.scalar)


def call(function: str, *args: Sym, scalar: bool | None = None, **keywords: Any) -> Sym:
    """``f(a, b, axis=0)``: keyword values are Python values (ints, bools)."""
    parts = [a.text for a in args] + [f"{k}={v}" for k, v in keywords.items()]
    if scalar is None:
        scalar = all(a.scalar for a in args)
    return Sym(f"{function}({', '.join(parts)})", ATOM, scalar=scalar)


def shape_tuple(shape: tuple) -> Sym:
    """A shape or axes as the parser reads a tuple: ``(2, 3)``, ``(3,)``, ``()``."""
    inner = ", ".join(str(int(d)) for d in shape)
    return Sym(f"({inner},)" if len(shape) == 1 else f"({inner})", scalar=False)


def iverson(a: Sym, relation: str, b: Sym) -> Sym:
    """``[a > b]``: 1 where the comparison holds, 0 elsewhere."""
    return Sym(f"[{a.text} {relation} {b.text}]", ATOM, scalar=a.scalar and b.scalar)


def unknown(symbol: str, scalar: bool = True) -> Sym:
    """A derivative known only by its symbol (``∂sq/∂x``): its number comes from the node's vjp."""
    return Sym(symbol, ATOM, scalar=scalar, known=False)


def opaque(text: str, scalar: bool = True) -> Sym:
    """A form written by an op itself (not built here): bracketed unless it is one token."""
    text = text.strip()
    if _NUMBER.fullmatch(text) or _PLAIN_NAME.fullmatch(text):
        return Sym(text, ATOM, scalar=scalar, one=text in ("1", "1.0"))
    return Sym(f"({text})", ATOM, scalar=scalar)
