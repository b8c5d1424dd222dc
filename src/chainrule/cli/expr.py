"""A small, safe expression language that builds chainrule graphs (``chainrule explain``).

    sigmoid(k*x + b)      (x - 2)**2 / x      -x**2 + exp(-x)      mse(y, tanh(w*x))

Grammar (usual precedence; ``**`` binds tighter than unary minus and groups
to the right, as in Python)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+")* power
    power  := atom ("**" unary)*
    atom   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Names are the variables you give values to; functions are chainrule's own
lower-case functions (``FUNCTIONS``); ``pi`` and ``e`` are constants unless
you name a variable so. Nothing is ever passed to ``eval``: a tokenizer and a
recursive-descent parser build op nodes directly. Mistakes raise ``ExprError``,
which knows the column and draws a caret under it. Only parentheses nest
(limited to ``MAX_DEPTH``); chains of operators are loops, so a long
expression cannot exhaust Python's stack.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .. import ops
from ..errors import ChainruleError, ExprError
from ..node import Constant, Node
from ..op import Op

MAX_DEPTH = 100

# name -> (function building the node, number of arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "sigmoid": (ops.sigmoid, 1), "tanh": (ops.tanh, 1), "relu": (ops.relu, 1),
    "leaky_relu": (ops.leaky_relu, 1), "softplus": (ops.softplus, 1), "gelu": (ops.gelu, 1),
    "exp": (ops.exp, 1), "log": (ops.log, 1), "sqrt": (ops.sqrt, 1), "sin": (ops.sin, 1),
    "cos": (ops.cos, 1), "abs": (ops.abs, 1), "neg": (ops.neg, 1),
    "add": (ops.add, 2), "sub": (ops.sub, 2), "mul": (ops.mul, 2), "div": (ops.div, 2), "pow": (ops.pow, 2),
    "maximum": (ops.maximum, 2), "minimum": (ops.minimum, 2),
    "mse": (ops.mse, 2), "binary_cross_entropy": (ops.binary_cross_entropy, 2),
    "linear": (ops.linear, 3),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {"+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "**": ops.pow}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>\*\*|[-+*/(),])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an "end" token; ExprError at the first bad character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = ": write ** for powers" if char == "^" else ""
            raise ExprError(f"unexpected character {char!r}{hint}", text, pos)
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse(text: str, variables: Mapping[str, Node]) -> Node:
    """Build the graph of ``text``; names refer to the nodes in ``variables``.

    Op nodes are named after their op (``mul``, ``add``, ``sigmoid``; ``mul_2``
    for the second product), numbers become Constants named as written.
    Raises ExprError for any mistake, pointing at its column.
    """
    return _Parser(text, variables).parse()


class _Parser:
    def __init__(self, text: str, variables: Mapping[str, Node]) -> None:
        self.text = text
        self.variables = dict(variables)
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.used_names = set(self.variables)

    # ---- tokens
    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> ExprError:
        token = token or self.token
        return ExprError(message, self.text, token.position)

    def take(self, *texts: str) -> Token | None:
        """The current token, consumed, if it is one of ``texts``."""
        token = self.token
        if token.kind == "op" and token.text in texts:
            self.i += 1
            return token
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            found = "the end" if self.token.kind == "end" else repr(self.token.text)
            raise self.error(f"expected '{text}' but found {found}")

    # ---- grammar
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.error("the expression is empty")
        node = self.expr()
        if self.token.kind != "end":
            raise self.error(f"unexpected {self.token.text!r}: expected an operator or the end")
        return node

    def expr(self) -> Node:
        node = self.term()
        while (op := self.take("+", "-")) is not None:
            node = self.binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (op := self.take("*", "/")) is not None:
            node = self.binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        signs = []
        while (op := self.take("-", "+")) is not None:
            signs.append(op)
        node = self.power()
        for op in reversed(signs):  # the innermost sign applies first
            if op.text == "-":
                node = self.build(op, ops.neg, node)
        return node

    def power(self) -> Node:
        # a ** b ** c is a ** (b ** c): collect the chain, then fold from the right
        operands = [self.atom()]
        carets = []
        while (op := self.take("**")) is not None:
            carets.append(op)
            operands.append(self.unary())
        node = operands.pop()
        while carets:
            node = self.binary(carets.pop(), operands.pop(), node)
        return node

    def atom(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.i += 1
            return Constant(float(token.text), name=token.text)
        if token.kind == "name":
            self.i += 1
            if self.take("("):
                return self.call(token)
            return self.lookup(token)
        if self.take("("):
            self.enter(token)
            node = self.expr()
            self.expect(")")
            self.depth -= 1
            return node
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise self.error(f"expected a number, a name or '(' but found {found}")

    def call(self, name: Token) -> Node:
        entry = FUNCTIONS.get(name.text)
        if entry is None:
            raise self.error(f"unknown function '{name.text}' (functions: {', '.join(sorted(FUNCTIONS))})", name)
        function, arity = entry
        self.enter(name)
        args = [self.expr()]
        while self.take(","):
            args.append(self.expr())
        self.expect(")")
        self.depth -= 1
        if len(args) != arity:
            plural = "s" if arity != 1 else ""
            raise self.error(f"{name.text}() takes {arity} argument{plural}, got {len(args)}", name)
        return self.build(name, function, *args)

    def lookup(self, token: Token) -> Node:
        name = token.text
        if name in self.variables:
            return self.variables[name]
        if name in CONSTANTS:
            return Constant(CONSTANTS[name], name=name)
        if name in FUNCTIONS:
            raise self.error(f"'{name}' is a function: call it, as in {name}(x)", token)
        known = ", ".join(sorted(self.variables)) or "none"
        raise self.error(f"unknown name '{name}' (variables with a value: {known})", token)

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"parentheses nested more than {MAX_DEPTH} deep", token)

    # ---- building nodes
    def binary(self, op: Token, left: Node, right: Node) -> Node:
        return self.build(op, _BINARY[op.text], left, right)

    def build(self, token: Token, function: Callable[..., Any], *args: Node) -> Node:
        """Apply ``function`` and give the new op node a readable, unique name."""
        try:
            node = function(*args)
        except ChainruleError as exc:
            raise self.error(str(exc), token) from exc
        if isinstance(node, Op):
            node.name = self.fresh(type(node).__name__.lower())
        return node

    def fresh(self, base: str) -> str:
        """``mul``, then ``mul_2``, ``mul_3``...: never a variable's name."""
        name, n = base, 1
        while name in self.used_names:
            n += 1
            name = f"{base}_{n}"
        self.used_names.add(name)
        return name
