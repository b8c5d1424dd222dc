"""What an expression builds: its functions, constants and operators, and the two builders the parser calls.

``FUNCTIONS`` maps each name to chainrule's lower-case function (with how many
arguments and which keywords it takes), the functions every printed formula
uses included; ``NodeBuilder`` builds op nodes and names them (``mul``,
``mul_2``...: a counter per name, so naming is linear) and keeps strings as
arguments only; ``SyntaxBuilder`` builds nothing, for checking that a text
is well formed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..dtype import get_default_dtype
from ..errors import ChainruleError
from ..node import Constant, Node
from ..op import Op


def _onehot(labels: Any, classes: Any) -> Constant:
    """One-hot rows of integer ``labels`` (a constant: it takes no gradient)."""
    labels = np.asarray(labels.value if isinstance(labels, Node) else labels).astype(int)
    count = int(np.asarray(classes.value if isinstance(classes, Node) else classes))
    return Constant((labels[..., None] == np.arange(count)).astype(np.float64), name="onehot")


def _outer(a: Any, b: Any) -> Any:
    """The outer product of two vectors: a column times a row."""
    return ops.mul(ops.unsqueeze(a, -1), ops.unsqueeze(b, -2))


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


def _with_axes(function: Callable[..., Any]) -> Callable[..., Any]:
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


def _reduction(function: Callable[..., Any], **options: Callable[[Any], Any]) -> Function:
    """``sum(x)``, ``sum(x, axis)``, ``sum(x, axis=0, keepdims=True)``: axis and keepdims as Python
    values; ``options`` are the function's own keywords and how each is read (``std(x, ddof=1)``)."""

    def call(x: Any, axis: Any = None, keepdims: Any = False, **given: Any) -> Any:
        extra = {key: options[key](value) for key, value in given.items()}
        return function(x, axis=_integer(axis), keepdims=bool(_plain(keepdims)), **extra)

    return Function(call, 1, 3, ("axis", "keepdims", *options))


def _real(value: Any) -> float:
    return float(_plain(value))


MAX_ELEMENTS = 10**7  # the most elements a shape written in an expression may ask for (ones, eye, broadcast_to)


def _shape(value: Any, function: str) -> Any:
    """A shape (or a size) written in an expression, refused beyond MAX_ELEMENTS elements."""
    shape = _integer(value)
    if function == "eye" and not isinstance(shape, int):
        raise ValueError(f"eye(n) takes one size n, got {shape}")
    count = shape * shape if function == "eye" else math.prod(np.atleast_1d(shape).tolist())
    if count > MAX_ELEMENTS:
        raise ValueError(f"{function}() would make {count:,} elements; the limit is {MAX_ELEMENTS:,}")
    return shape


def _constant(name: str) -> Function:
    """``eye(3)``, ``ones((2, 3))``: a constant array of the default float dtype (it takes no gradient)."""

    def build(size: Any) -> Constant:
        values = getattr(np, name)(_shape(size, name))
        return Constant(values.astype(get_default_dtype()), name=name)

    return Function(build, 1, 1)


FUNCTIONS: dict[str, Function] = {
    **{
        name: _unary(getattr(ops, name))
        for name in (
            "sigmoid",
            "tanh",
            "relu",
            "softplus",
            "exp",
            "log",
            "sqrt",
            "sin",
            "cos",
            "abs",
            "neg",
            "sign",
            "erf",
            "log1p",
            "expm1",
            "silu",
            "mish",
        )
    },
    "gelu": Function(ops.gelu, 1, 2, ("approximate",)),
    "elu": Function(lambda x, alpha=1.0: ops.elu(x, _real(alpha)), 1, 2, ("alpha",)),
    "hardtanh": Function(
        lambda x, min_val=-1.0, max_val=1.0: ops.hardtanh(x, _real(min_val), _real(max_val)),
        1,
        3,
        ("min_val", "max_val"),
    ),
    "σ": _unary(ops.sigmoid),
    "ln": _unary(ops.log),
    "leaky_relu": Function(
        lambda x, negative_slope=0.01: ops.leaky_relu(x, float(_plain(negative_slope))), 1, 2, ("negative_slope",)
    ),
    **{
        name: _binary(getattr(ops, name))
        for name in (
            "add",
            "sub",
            "mul",
            "div",
            "floor_divide",
            "remainder",
            "pow",
            "maximum",
            "minimum",
            "mse",
            "binary_cross_entropy",
            "binary_cross_entropy_with_logits",
            "matmul",
        )
    },
    "cross_entropy": _binary(ops.cross_entropy),
    "nll_loss": _binary(ops.nll_loss),
    "linear": Function(ops.linear, 3, 3),
    **{name: _reduction(getattr(ops, name)) for name in ("sum", "mean", "max", "min", "prod", "logsumexp")},
    **{name: _reduction(getattr(ops, name), ddof=_integer) for name in ("var", "std")},
    "norm": _reduction(ops.norm, ord=_real),
    "softmax": Function(_softmax(ops.softmax), 1, 2, ("axis",)),
    "log_softmax": Function(_softmax(ops.log_softmax), 1, 2, ("axis",)),
    "onehot": _binary(_onehot),
    "outer": _binary(_outer),
    "where": Function(ops.where, 3, 3),
    "unsqueeze": Function(_with_axes(ops.unsqueeze), 1, 2, ("axis",)),
    "reshape": Function(_with_axes(ops.reshape), 2, 2),
    "transpose": Function(_with_axes(ops.transpose), 1, 2, ("axes",)),
    "swapaxes": Function(_with_axes(ops.swapaxes), 1, 3, ("axis1", "axis2")),
    "broadcast_to": Function(lambda x, shape: ops.broadcast_to(x, _shape(shape, "broadcast_to")), 2, 2),
    **{name: Function(_with_axes(getattr(ops, name)), 1, 2, ("axis",)) for name in ("cumsum", "flip")},
    **{name: Function(_with_axes(getattr(ops, name)), 1, 2, ("k",)) for name in ("tril", "triu")},
    "gather": Function(lambda x, axis, index: ops.gather(x, _integer(axis), index), 1, 3, ("axis", "index")),
    "scatter_along": Function(
        lambda g, index, axis, shape: ops.scatter_along(g, index, _integer(axis), _shape(shape, "scatter_along")),
        1,
        4,
        ("index", "axis", "shape"),
    ),
    "einsum": Function(ops.einsum, 2, 27),
    "eye": _constant("eye"),
    "ones": _constant("ones"),
}
CONSTANTS = {"pi": math.pi, "e": math.e, "True": 1.0, "False": 0.0}
_BINARY = {
    "+": ops.add,
    "-": ops.sub,
    "*": ops.mul,
    "/": ops.div,
    "//": ops.floor_divide,
    "%": ops.remainder,
    "**": ops.pow,
    "@": ops.matmul,
}
RELATIONS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "≥": ">=", "≤": "<=", "==": "==", "!=": "!="}
# what each written operator means (several spellings, one op)


class _Text(str):
    """A string written in quotes, which remembers where (for an error that points at it)."""

    token: Any  # the string's token: its quotes and its column

    def __new__(cls, token: Any) -> _Text:
        text = super().__new__(cls, token.text[1:-1])
        text.token = token
        return text


class SyntaxBuilder:
    """Builds nothing: accepts every name and function, so only the grammar is checked."""

    def number(self, token: Any, parser: Any) -> None:
        return None

    def name(self, token: Any, parser: Any) -> None:
        return None

    def call(self, name: Any, args: list, keywords: dict, parser: Any) -> None:
        return None

    def binary(self, op: Any, left: Any, right: Any, parser: Any) -> None:
        return None

    def negate(self, sign: Any, node: Any, parser: Any) -> None:
        return None

    def postfix(self, op: Any, node: Any, parser: Any) -> None:
        return None

    def compare(self, relation: Any, left: Any, right: Any, parser: Any) -> None:
        return None

    def tuple(self, bracket: Any, items: list, parser: Any) -> None:
        return None

    def name_result(self, node: Any, name: Any, parser: Any) -> None:
        return None

    def string(self, token: Any, parser: Any) -> None:
        return None

    def value(self, node: Any, token: Any, parser: Any) -> None:
        return None


class NodeBuilder:
    """Builds chainrule nodes and gives each op node a readable, unique name."""

    def __init__(self, variables: Mapping[str, Node]) -> None:
        self.variables = dict(variables)
        self.counts: dict[str, int] = {}  # base name -> how many nodes carry it so far
        self.literals: set[Node] = set()  # the Constants written as numbers (so that -2 is one number)

    def number(self, token: Any, parser: Any) -> Node:
        # float64, the number as written: next to arrays it takes their dtype, rounded once (a
        # default-float32 constant would round 0.7 first, and float64 data would see 0.69999999)
        node = Constant(float(token.text), name=token.text, dtype=np.float64)
        self.literals.add(node)
        return node

    def name(self, token: Any, parser: Any) -> Node:
        name = token.text
        if name in self.variables:
            return self.variables[name]
        if name in CONSTANTS:
            return Constant(CONSTANTS[name], name=name)
        if name in FUNCTIONS:
            raise parser.error(f"'{name}' is a function: call it, as in {name}(x)", token)
        known = ", ".join(sorted(self.variables)) or "none"
        raise parser.error(f"unknown name '{name}' (variables with a value: {known})", token)

    def call(self, name: Any, args: list, keywords: dict, parser: Any) -> Node:
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

    def string(self, token: Any, parser: Any) -> str:
        return _Text(token)

    def value(self, node: Any, token: Any, parser: Any) -> None:
        """Refuse a string where a value is needed (a string is only a function's argument)."""
        if isinstance(node, _Text):
            raise parser.error(
                f"the string {node.token.text} can only be an argument, as in einsum('ij,jk->ik', A, B)", node.token
            )

    def binary(self, op: Any, left: Node, right: Node, parser: Any) -> Node:
        self.value(left, op, parser)
        self.value(right, op, parser)
        return self.build(op, _BINARY[op.text], left, right, parser=parser)

    def negate(self, sign: Any, node: Node, parser: Any) -> Node:
        self.value(node, sign, parser)
        if node in self.literals:  # -2 is one number, not neg(2)
            negative = Constant(-node.value, name="-" + node.name)
            self.literals.add(negative)
            return negative
        return self.build(sign, ops.neg, node, parser=parser)

    def postfix(self, op: Any, node: Node, parser: Any) -> Node:
        self.value(node, op, parser)
        if op.text == "ᵀ":
            return self.build(op, ops.swapaxes, node, parser=parser)
        return self.build(
            op,
            ops.pow,
            node,
            Constant(2.0 if op.text == "²" else 3.0, name="2" if op.text == "²" else "3"),
            parser=parser,
        )

    def compare(self, relation: Any, left: Node, right: Node, parser: Any) -> Node:
        self.value(left, relation, parser)
        self.value(right, relation, parser)
        test = self.build(relation, ops.compare, left, right, RELATIONS[relation.text], parser=parser)
        return self.build(relation, ops.astype, test, np.float64, parser=parser)

    def tuple(self, bracket: Any, items: list, parser: Any) -> Node:
        """A tuple of numbers: a constant vector (axes and shapes read it as ints)."""
        if not all(isinstance(item, Constant) and np.size(item.value) == 1 for item in items):
            raise parser.error("a tuple may hold only numbers (it is for axes and shapes)", bracket)
        values = [float(np.asarray(item.value)) for item in items]
        return Constant(np.array(values), name="(" + ", ".join(item.name for item in items) + ")")

    def name_result(self, node: Node, name: Any, parser: Any) -> None:
        if name.text in self.variables or name.text in CONSTANTS or name.text in FUNCTIONS:
            raise parser.error(f"'{name.text}' is already taken; give the result another name", name)
        if not isinstance(node, Op):
            raise parser.error(f"'{name.text} = ...' needs a formula on the right, not a single value", name)
        node.name = name.text

    def build(self, token: Any, function: Callable[..., Any], *args: Any, parser: Any, **keywords: Any) -> Any:
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
