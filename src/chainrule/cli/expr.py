"""A small, safe expression language that builds chainrule graphs (``chainrule explain``).

    sigmoid(k*x + b)      loss = (y - σ(k·x + b))^2      -x**2 + exp(-x)      θ² · ln(θ)

It reads what a learner writes and everything chainrule prints (``explain``'s
local derivatives parse back with it, see ``see/symbols.py``)::

    statement := [NAME "="] expr                      the result gets the name (loss = ...)
    expr      := term (("+" | "-") term)*
    term      := unary (("*" | "·" | "×" | "⊙" | "/" | "@") unary)*
    unary     := ("-" | "+")* power                   -x**2 is -(x**2), as in Python
    power     := postfix [("**" | "^") unary]         to the right: a^b^c is a^(b^c)
    postfix   := atom ("ᵀ" | "²" | "³")*              matrix transpose, square, cube
    atom      := NUMBER | NAME | NAME "(" args ")" | "(" expr ")" | tuple | "[" expr REL expr "]"
    tuple     := "(" expr "," [expr ("," expr)*] [","] ")"     for axes and shapes: sum(g, axis=(0, 2))
    args      := arg ("," arg)*          arg := [NAME "="] expr        (keywords: sum(x, axis=0))

``·``, ``×`` and ``⊙`` multiply elementwise, ``@`` is the matrix product,
``−`` is a minus sign, ``[a > b]`` is 1 where the comparison holds and 0
elsewhere (Iverson's bracket; REL is one of > < >= <= ≥ ≤ == !=). Names may
use any letters (``θ``, ``ŷ``, ``β₁``); functions are chainrule's lower-case
functions (``FUNCTIONS``); ``pi``, ``e``, ``True`` and ``False`` are constants
unless a variable takes the name.

Nothing is ever passed to ``eval``: a tokenizer and a recursive-descent parser
call a builder. Chains of operators are loops, and only brackets nest (at most
``MAX_DEPTH`` deep), so no input can exhaust Python's stack; names are counted,
not searched, so parsing takes time linear in the text, up to ``MAX_CHARS``.
Mistakes raise ``ExprError``, which knows the column.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from .. import ops
from ..errors import ChainruleError, ExprError
from ..node import Constant, Node
from ..op import Op

MAX_DEPTH = 100  # brackets and calls nested deeper than this are refused
MAX_CHARS = 2_000_000  # longer expressions are refused (a 1 MB one parses in seconds)


def _onehot(labels: Any, classes: Any) -> np.ndarray:
    """One-hot rows of integer ``labels`` (a constant: it takes no gradient)."""
    labels = np.asarray(labels.value if isinstance(labels, Node) else labels).astype(int)
    count = int(np.asarray(classes.value if isinstance(classes, Node) else classes))
    return Constant((labels[..., None] == np.arange(count)).astype(np.float64), name="onehot")


def _outer(a: Any, b: Any) -> Any:
    """The outer product of two vectors: a column times a row."""
    return ops.mul(ops.unsqueeze(a, -1), ops.unsqueeze(b, -2))


def _reduction(function: Callable[..., Any]) -> Callable[..., Any]:
    """``sum(x)``, ``sum(x, axis)``, ``sum(x, axis=0, keepdims=True)``: axis and keepdims as Python values."""
    def call(x: Any, axis: Any = None, keepdims: Any = False) -> Any:
        return function(x, axis=_integer(axis), keepdims=bool(_plain(keepdims)))
    return call


def _softmax(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(x: Any, axis: Any = -1) -> Any:
        return function(x, axis=_integer(axis))
    return call


def _plain(value: Any) -> Any:
    return np.asarray(value.value) if isinstance(value, Node) else value


def _integer(value: Any) -> Any:
    """An axis or a shape as Python ints: ``0``, or ``(0, 2)`` from a tuple."""
    if value is None:
        return None
    numbers = np.asarray(_plain(value), dtype=float)
    if not np.all(numbers == np.round(numbers)):
        raise ValueError(f"an axis or a size must be a whole number, got {numbers.tolist()}")
    return int(numbers) if numbers.ndim == 0 else tuple(int(v) for v in numbers)


def _with_axes(function: Callable[..., Any], *names: str) -> Callable[..., Any]:
    """A function whose arguments after the first are axes or shapes (``unsqueeze(g, axis=1)``)."""
    def call(x: Any, *args: Any, **keywords: Any) -> Any:
        return function(x, *[_integer(a) for a in args], **{k: _integer(v) for k, v in keywords.items()})
    return call


class Function(NamedTuple):
    """A function the language knows: what builds the node, how many positional
    arguments it takes (least, most) and which keywords."""

    build: Callable[..., Any]
    least: int
    most: int
    keywords: tuple = ()


def _unary(build: Callable[..., Any]) -> Function:
    return Function(build, 1, 1)


def _binary(build: Callable[..., Any]) -> Function:
    return Function(build, 2, 2)


FUNCTIONS: dict[str, Function] = {
    **{name: _unary(getattr(ops, name)) for name in (
        "sigmoid", "tanh", "relu", "softplus", "gelu", "exp", "log", "sqrt", "sin", "cos", "abs", "neg", "sign")},
    "σ": _unary(ops.sigmoid), "ln": _unary(ops.log),
    "leaky_relu": Function(lambda x, negative_slope=0.01: ops.leaky_relu(x, float(_plain(negative_slope))), 1, 2,
                           ("negative_slope",)),
    **{name: _binary(getattr(ops, name)) for name in (
        "add", "sub", "mul", "div", "pow", "maximum", "minimum", "mse", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "matmul")},
    "cross_entropy": _binary(ops.cross_entropy), "nll_loss": _binary(ops.nll_loss),
    "linear": Function(ops.linear, 3, 3),
    **{name: Function(_reduction(getattr(ops, name)), 1, 3, ("axis", "keepdims"))
       for name in ("sum", "mean", "max", "min")},
    "softmax": Function(_softmax(ops.softmax), 1, 2, ("axis",)),
    "log_softmax": Function(_softmax(ops.log_softmax), 1, 2, ("axis",)),
    "onehot": _binary(_onehot), "outer": _binary(_outer), "where": Function(ops.where, 3, 3),
    "unsqueeze": Function(_with_axes(ops.unsqueeze), 1, 2, ("axis",)),
    "reshape": Function(_with_axes(ops.reshape), 2, 2),
    "transpose": Function(_with_axes(ops.transpose), 1, 2, ("axes",)),
    "swapaxes": Function(_with_axes(ops.swapaxes), 1, 3, ("axis1", "axis2")),
}
CONSTANTS = {"pi": math.pi, "e": math.e, "True": 1.0, "False": 0.0}
_BINARY = {"+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "**": ops.pow, "@": ops.matmul}
RELATIONS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "≥": ">=", "≤": "<=", "==": "==", "!=": "!="}
# what each written operator means (several spellings, one op)
_SPELLING = {"·": "*", "×": "*", "⊙": "*", "^": "**", "−": "-"}
_POSTFIX = "ᵀ²³"
_PRODUCT = ("*", "/", "@")

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>(?:(?![ᵀ²³¹⁰⁴-⁹])[^\W\d])(?:(?![ᵀ²³¹⁰⁴-⁹])\w)*)
  | (?P<op>\*\*|>=|<=|==|!=|[-+*/^()\[\],=<>·×⊙@−ᵀ²³≥≤])
""", re.VERBOSE)


class Token(NamedTuple):
    kind: str  # "number", "name", "op" or "end"
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
        if kind == "op":
            word = found.group()
            add(Token(kind, spelling(word, word), found.start()))
        elif kind != "space":
            add(Token(kind, found.group(), found.start()))
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
        return _Parser(text, _NodeBuilder(variables)).statement()


def check_syntax(text: str) -> None:
    """Raise ExprError if ``text`` is not well formed; any name and any function are accepted.

    (``explain`` prints derivatives such as ``col2im(g)`` whose functions exist
    only in the engine: they must still read unambiguously.)"""
    _Parser(text, _SyntaxBuilder()).statement()


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
        node = self.expr()
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

    def nested(self, token: Token) -> "_Depth":
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


# ---------------------------------------------------------------- builders
class _SyntaxBuilder:
    """Builds nothing: accepts every name and function, so only the grammar is checked."""

    def number(self, token: Token, parser: _Parser) -> None:
        return None

    def name(self, token: Token, parser: _Parser) -> None:
        return None

    def call(self, name: Token, args: list, keywords: dict, parser: _Parser) -> None:
        return None

    def binary(self, op: Token, left: Any, right: Any, parser: _Parser) -> None:
        return None

    def negate(self, sign: Token, node: Any, parser: _Parser) -> None:
        return None

    def postfix(self, op: Token, node: Any, parser: _Parser) -> None:
        return None

    def compare(self, relation: Token, left: Any, right: Any, parser: _Parser) -> None:
        return None

    def tuple(self, bracket: Token, items: list, parser: _Parser) -> None:
        return None

    def name_result(self, node: Any, name: Token, parser: _Parser) -> None:
        return None


class _NodeBuilder:
    """Builds chainrule nodes and gives each op node a readable, unique name."""

    def __init__(self, variables: Mapping[str, Node]) -> None:
        self.variables = dict(variables)
        self.counts: dict[str, int] = {}  # base name -> how many nodes carry it so far
        self.literals: set[Node] = set()  # the Constants written as numbers (so that -2 is one number)

    def number(self, token: Token, parser: _Parser) -> Node:
        node = Constant(float(token.text), name=token.text)
        self.literals.add(node)
        return node

    def name(self, token: Token, parser: _Parser) -> Node:
        name = token.text
        if name in self.variables:
            return self.variables[name]
        if name in CONSTANTS:
            return Constant(CONSTANTS[name], name=name)
        if name in FUNCTIONS:
            raise parser.error(f"'{name}' is a function: call it, as in {name}(x)", token)
        known = ", ".join(sorted(self.variables)) or "none"
        raise parser.error(f"unknown name '{name}' (variables with a value: {known})", token)

    def call(self, name: Token, args: list, keywords: dict, parser: _Parser) -> Node:
        spec = FUNCTIONS.get(name.text)
        if spec is None:
            raise parser.error(f"unknown function '{name.text}' (functions: {', '.join(sorted(FUNCTIONS))})", name)
        if not spec.least <= len(args) <= spec.most:
            want = str(spec.least) if spec.least == spec.most else f"{spec.least} to {spec.most}"
            plural = "" if want == "1" else "s"
            raise parser.error(f"{name.text}() takes {want} argument{plural}, got {len(args)}", name)
        for key, (token, _) in keywords.items():
            if key not in spec.keywords:
                allowed = ", ".join(spec.keywords) or "none"
                raise parser.error(f"{name.text}() has no keyword '{key}' (keywords: {allowed})", token)
        return self.build(name, spec.build, *args, **{k: v for k, (_, v) in keywords.items()}, parser=parser)

    def binary(self, op: Token, left: Node, right: Node, parser: _Parser) -> Node:
        return self.build(op, _BINARY[op.text], left, right, parser=parser)

    def negate(self, sign: Token, node: Node, parser: _Parser) -> Node:
        if node in self.literals:  # -2 is one number, not neg(2)
            negative = Constant(-node.value, name="-" + node.name)
            self.literals.add(negative)
            return negative
        return self.build(sign, ops.neg, node, parser=parser)

    def postfix(self, op: Token, node: Node, parser: _Parser) -> Node:
        if op.text == "ᵀ":
            return self.build(op, ops.swapaxes, node, parser=parser)
        return self.build(op, ops.pow, node, Constant(2.0 if op.text == "²" else 3.0, name="2" if op.text == "²"
                                                      else "3"), parser=parser)

    def compare(self, relation: Token, left: Node, right: Node, parser: _Parser) -> Node:
        test = self.build(relation, ops.compare, left, right, RELATIONS[relation.text], parser=parser)
        return self.build(relation, ops.astype, test, np.float64, parser=parser)

    def tuple(self, bracket: Token, items: list, parser: _Parser) -> Node:
        """A tuple of numbers: a constant vector (axes and shapes read it as ints)."""
        if not all(isinstance(item, Constant) and np.size(item.value) == 1 for item in items):
            raise parser.error("a tuple may hold only numbers (it is for axes and shapes)", bracket)
        values = [float(np.asarray(item.value)) for item in items]
        return Constant(np.array(values), name="(" + ", ".join(item.name for item in items) + ")")

    def name_result(self, node: Node, name: Token, parser: _Parser) -> None:
        if name.text in self.variables or name.text in CONSTANTS or name.text in FUNCTIONS:
            raise parser.error(f"'{name.text}' is already taken; give the result another name", name)
        if not isinstance(node, Op):
            raise parser.error(f"'{name.text} = ...' needs a formula on the right, not a single value", name)
        node.name = name.text

    def build(self, token: Token, function: Callable[..., Any], *args: Any, parser: _Parser, **keywords: Any) -> Any:
        """Apply ``function`` and name the new op node after its op."""
        try:
            node = function(*args, **keywords)
        except (ChainruleError, ValueError, TypeError, IndexError) as exc:
            raise parser.error(str(exc), token) from exc
        if isinstance(node, Op) and node._name is None:
            node.name = self.fresh(type(node).__name__.lower())
        return node

    def fresh(self, base: str) -> str:
        """``mul``, then ``mul_2``, ``mul_3``...: never a variable's name. A counter per
        base name, so naming n nodes costs n steps, not n²."""
        n = self.counts.get(base, 0)
        while True:
            n += 1
            name = base if n == 1 else f"{base}_{n}"
            if name not in self.variables:
                self.counts[base] = n
                return name
