"""Reading an op's source for inlining: its parsed definition (or None when it cannot be
copied in), and the names a body binds."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

_UNSUPPORTED = (
    ast.Lambda,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Global,
    ast.Nonlocal,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
)


_DEFINITIONS: dict[Callable, ast.FunctionDef | None] = {}
_INLINABLE: dict[Callable, ast.FunctionDef | None] = {}
_WRITTEN: dict[type, frozenset[str]] = {}


def definition(fn: Callable) -> ast.FunctionDef | None:
    """The function's parsed definition (read once), or None if its source is not available."""
    if fn not in _DEFINITIONS:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            tree = None
        node = tree.body[0] if tree is not None and tree.body else None
        _DEFINITIONS[fn] = node if isinstance(node, ast.FunctionDef) else None
    return _DEFINITIONS[fn]


def parsed(fn: Callable) -> ast.FunctionDef | None:
    """The function's definition, or None if its source is not available or not inlinable."""
    if fn not in _INLINABLE:
        node = definition(fn)
        _INLINABLE[fn] = node if node is not None and _inlinable(node) else None
    return _INLINABLE[fn]


def _inlinable(node: ast.FunctionDef) -> bool:
    """A plain signature, no decorators, nothing in the body that copying it in cannot keep."""
    if not _simple_signature(node.args) or node.decorator_list:
        return False
    return not any(isinstance(n, _UNSUPPORTED) for n in ast.walk(ast.Module(body=node.body, type_ignores=[])))


def written_attributes(cls: type) -> frozenset[str]:
    """The attributes of ``self`` that the class's methods (``__init__`` aside) assign or delete:
    state an op keeps between its forward and its vjp, never a fixed option."""
    if cls not in _WRITTEN:
        found: set[str] = set()
        for klass in cls.__mro__[:-1]:
            for name, fn in vars(klass).items():
                node = definition(fn) if name != "__init__" and inspect.isfunction(fn) else None
                if node is None or not node.args.args:
                    continue
                me = node.args.args[0].arg
                found.update(
                    n.attr
                    for n in ast.walk(node)
                    if isinstance(n, ast.Attribute)
                    and isinstance(n.ctx, (ast.Store, ast.Del))
                    and isinstance(n.value, ast.Name)
                    and n.value.id == me
                )
        _WRITTEN[cls] = frozenset(found)
    return _WRITTEN[cls]


def _simple_signature(args: ast.arguments) -> bool:
    """Positional parameters only (defaults allowed: constants, filled in where a call omits them)."""
    return not (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs) and all(
        isinstance(d, ast.Constant) for d in args.defaults
    )


def refuse(reason: str) -> ValueError:
    """This body cannot be inlined: it is called instead (``template`` catches the error)."""
    return ValueError(f"not inlinable: {reason}")


def assigned_names(body: list) -> set[str]:
    found = set()
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            found.add(n.id)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            found.add(n.name)
    return found


def comprehension_names(body: list) -> set[str]:
    found = set()
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.comprehension):
            found |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    return found


def once_assigned(body: list) -> set[str]:
    """Names bound exactly once, by a plain assignment at the top level of ``body``."""
    counts: dict[str, int] = {}
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            counts[n.id] = counts.get(n.id, 0) + 1
    return {k for k, c in counts.items() if c == 1}


def clone(stmts: list) -> list:
    module = ast.fix_missing_locations(ast.Module(body=list(stmts), type_ignores=[]))
    return ast.parse(ast.unparse(module)).body


def copy_expr(node: ast.AST) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body
