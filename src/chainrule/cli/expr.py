"""A small, safe expression language that builds chainrule graphs (``chainrule explain``).

    sigmoid(k*x + b)      loss = (y - σ(k·x + b))^2      -x**2 + exp(-x)      θ² · ln(θ)

It reads what a learner writes and everything chainrule prints (``explain``'s
local derivatives parse back with it, see ``see/symbols.py``)::

    statement := [NAME "="] expr                      the result gets the name (loss = ...)
    expr      := term (("+" | "-") term)*
    term      := unary (("*" | "·" | "×" | "⊙" | "/" | "//" | "%" | "@") unary)*
    unary     := ("-" | "+")* power                   -x**2 is -(x**2), as in Python
    power     := postfix [("**" | "^") unary]         to the right: a^b^c is a^(b^c)
    postfix   := atom ("ᵀ" | "²" | "³")*              matrix transpose, square, cube
    atom      := NUMBER | NAME | NAME "(" args ")" | "(" expr ")" | tuple | "[" expr REL expr "]" | STRING
    tuple     := "(" expr "," [expr ("," expr)*] [","] ")" | "(" ")"    axes and shapes: sum(g, axis=(0, 2))
    args      := arg ("," arg)*          arg := [NAME "="] expr        (keywords: sum(x, axis=0))

``·``, ``×`` and ``⊙`` multiply elementwise, ``@`` is the matrix product,
``%`` and ``//`` are ``remainder`` and ``floor_divide`` (as in Python),
``−`` is a minus sign, ``[a > b]`` is 1 where the comparison holds and 0
elsewhere (Iverson's bracket; REL is one of > < >= <= ≥ ≤ == !=), and a
STRING in quotes (``'ij,jk->ik'``) is only ever an argument (einsum's
subscripts, gelu's ``approximate='tanh'``). Names may use any letters (``θ``,
``ŷ``, ``β₁``); functions are chainrule's lower-case functions
(``expr_nodes.FUNCTIONS``); ``pi``, ``e``, ``True`` and ``False`` are
constants unless a variable takes the name.

Nothing is ever passed to ``eval``: a tokenizer and a recursive-descent parser
call a builder. Chains of operators are loops, and only brackets nest (at most
``MAX_DEPTH`` deep), so no input can exhaust Python's stack; names are counted,
not searched, so parsing takes time linear in the text, up to ``MAX_CHARS``.
Mistakes raise ``ExprError``, which knows the column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ..errors import ExprError
from ..node import Node
from .expr_nodes import CONSTANTS, RELATIONS, NodeBuilder, SyntaxBuilder

MAX_DEPTH = 100  # brackets and calls nested deeper than this are refused
MAX_CHARS = 2_000_000  # longer expressions are refused (a 1 MB one parses in seconds)

_SPELLING = {"·": "*", "×": "*", "⊙": "*", "^": "**", "−": "-"}
_POSTFIX = "ᵀ²³"
_PRODUCT = ("*", "/", "//", "%", "@")  # Python's precedence: all bind alike, left to right

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'[^'\n]*'|"[^"\n]*")
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>(?:(?![ᵀ²³¹⁰⁴-⁹])[^\W\d])(?:(?![ᵀ²³¹⁰⁴-⁹])\w)*)
  | (?P<op>\*\*|//|>=|<=|==|!=|[-+*/%^()\[\],=<>·×⊙@−ᵀ²³≥≤])
""",
    re.VERBOSE,
)


class Token(NamedTuple):
    kind: str  # "number", "name", "string" (with its quotes), "op" or "end"
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an "end" token; ExprError at the first bad character.

    Alternative spellings come out as the canonical operator (``·`` as ``*``,
    ``^`` as ``**``), at the column where they were written.
    """
    if len(text) > MAX_CHARS:
        raise ExprError(f"the expression has {len(text):,} characters; the limit is {MAX_CHARS:,}", text, MAX_CHARS)
    tokens: list[Token] = []
    pos, end = 0, len(text)
    spelling, add = _SPELLING.get, tokens.append
    for found in _TOKEN.finditer(text):  # one pass; a gap between matches is a character no token takes
        if found.start() != pos:
            break
        pos = found.end()
        kind = found.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "op":
            word = found.group()
            add(Token(kind, spelling(word, word), found.start()))
        elif kind != "space":
            add(Token(kind, found.group(), found.start()))
    if pos < end and text[pos] in "'\"":
        raise ExprError(f"a string must end on its line with the quote it starts with ({text[pos]})", text, pos)
    if pos < end:
        raise ExprError(f"unexpected character {text[pos]!r}", text, pos)
    tokens.append(Token("end", "", end))
    return tokens


def is_name(text: str) -> bool:
    """Whether ``text`` reads as one name in this language (``x``, ``θ``, ``W1``, ``β₁``)."""
    found = _TOKEN.fullmatch(text)
    return found is not None and found.lastgroup == "name" and text not in CONSTANTS


def parse(text: str, variables: Mapping[str, Node]) -> Node:
    """Build the graph of ``text``; names refer to the nodes in ``variables``.

    Op nodes are named after their op (``mul``, ``add``, ``sigmoid``; ``mul_2``
    for the second product), numbers become Constants named as written (a
    negative number is one Constant, ``-2``), and ``loss = ...`` names the
    result. Values are computed as the graph is built; NumPy's warnings about
    them (1/0, log(-1)) are silenced here, and ``explain`` flags the NaN or
    infinity where it first appears. Raises ExprError for any mistake.
    """
    with np.errstate(all="ignore"):
        return _Parser(text, NodeBuilder(variables)).statement()


def check_syntax(text: str) -> None:
    """Raise ExprError if ``text`` is not well formed; any name and any function are accepted.

    (``explain`` prints derivatives such as ``col2im(g)`` whose functions exist
    only in the engine: they must still read unambiguously.)"""
    _Parser(text, SyntaxBuilder()).statement()


# ---------------------------------------------------------------- the parser
class _Parser:
    def __init__(self, text: str, builder: Any) -> None:
        self.text = text
        self.builder = builder
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> ExprError:
        return ExprError(message, self.text, (token or self.token).position)

    def take(self, *texts: str) -> Token | None:
        """The current token, consumed, if it is one of the operators ``texts``."""
        token = self.tokens[self.i]
        if token.kind == "op" and token.text in texts:
            self.i += 1
            return token
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            found = "the end" if self.token.kind == "end" else repr(self.token.text)
            raise self.error(f"expected '{text}' but found {found}")

    def statement(self) -> Any:
        if self.token.kind == "end":
            raise self.error("the expression is empty")
        name = None
        if self.token.kind == "name" and self.tokens[self.i + 1][:2] == ("op", "="):
            name = self.token
            self.i += 2
            if self.token.kind == "end":
                raise self.error(f"nothing after '{name.text} ='")
        start = self.token
        node = self.expr()
        self.builder.value(node, start, self)
        if self.token.kind != "end":
            hint = " (to name the result, write NAME = ... at the start)" if self.token.text == "=" else ""
            raise self.error(f"unexpected {self.token.text!r}: expected an operator or the end{hint}")
        if name is not None:
            self.builder.name_result(node, name, self)
        return node

    def expr(self) -> Any:
        node = self.term()
        while (op := self.take("+", "-")) is not None:
            node = self.builder.binary(op, node, self.term(), self)
        return node

    def term(self) -> Any:
        node = self.unary()
        while (op := self.take(*_PRODUCT)) is not None:
            node = self.builder.binary(op, node, self.unary(), self)
        return node

    def unary(self) -> Any:
        # unary := signs power; power := postfix [** unary]. A chain -a ** -b ** c is read
        # in a loop and folded from the right, so its length never touches Python's stack.
        chain: list[tuple[list[Token], Any, Token | None]] = []
        while True:
            signs = []
            while (sign := self.take("-", "+")) is not None:
                signs.append(sign)
            base = self.postfix()
            caret = self.take("**")
            chain.append((signs, base, caret))
            if caret is None:
                break
        node = None
        for signs, base, caret in reversed(chain):
            node = base if node is None else self.builder.binary(caret, base, node, self)
            for sign in reversed(signs):  # the innermost sign applies first
                if sign.text == "-":
                    node = self.builder.negate(sign, node, self)
        return node

    def postfix(self) -> Any:
        node = self.atom()
        while (op := self.take(*_POSTFIX)) is not None:
            node = self.builder.postfix(op, node, self)
        return node

    def atom(self) -> Any:
        token = self.token
        if token.kind == "number":
            self.i += 1
            return self.builder.number(token, self)
        if token.kind == "name":
            self.i += 1
            if self.take("("):
                return self.call(token)
            return self.builder.name(token, self)
        if self.take("("):
            if self.take(")"):  # (): the empty tuple, the shape of a number
                return self.builder.tuple(token, [], self)
            with self.nested(token):
                items = [self.expr()]
                while self.take(","):  # (0, 2): a tuple, for axes and shapes; (3,) has one item
                    if self.token.text == ")":
                        break
                    items.append(self.expr())
                self.expect(")")
            if len(items) > 1 or self.tokens[self.i - 2].text == ",":
                return self.builder.tuple(token, items, self)
            return items[0]
        if self.take("["):
            return self.iverson(token)
        if token.kind == "string":
            self.i += 1
            return self.builder.string(token, self)
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise self.error(f"expected a number, a name or '(' but found {found}")

    def iverson(self, bracket: Token) -> Any:
        with self.nested(bracket):
            left = self.expr()
            relation = self.token
            if relation.kind != "op" or relation.text not in RELATIONS:
                raise self.error("expected a comparison (> < >= <= == !=) inside [ ]")
            self.i += 1
            right = self.expr()
            self.expect("]")
        return self.builder.compare(relation, left, right, self)

    def call(self, name: Token) -> Any:
        args: list[Any] = []
        keywords: dict[str, Any] = {}
        with self.nested(name):
            while True:
                if self.token.kind == "name" and self.tokens[self.i + 1][:2] == ("op", "="):
                    key = self.token
                    self.i += 2
                    if key.text in keywords:
                        raise self.error(f"keyword '{key.text}' given twice", key)
                    keywords[key.text] = (key, self.expr())
                elif keywords:
                    raise self.error("a positional argument cannot follow a keyword argument")
                else:
                    args.append(self.expr())
                if not self.take(","):
                    break
            self.expect(")")
        return self.builder.call(name, args, keywords, self)

    def nested(self, token: Token) -> _Depth:
        return _Depth(self, token)


class _Depth:
    """One level of brackets: refuses to go deeper than MAX_DEPTH."""

    def __init__(self, parser: _Parser, token: Token) -> None:
        self.parser, self.token = parser, token

    def __enter__(self) -> None:
        self.parser.depth += 1
        if self.parser.depth > MAX_DEPTH:
            raise self.parser.error(f"brackets nested more than {MAX_DEPTH} deep", self.token)

    def __exit__(self, *exc: Any) -> None:
        self.parser.depth -= 1
