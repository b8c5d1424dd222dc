"""Copying chainrule's own helper functions into an op's body (see ``fold.py``): a call
``_reduce(d * d, "mean")`` in a statement becomes the helper's body, placed before the
statement with its names made unique, its arguments bound first and its constant
arguments folded in; the call becomes the name of its result."""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .returns import check_tails, results_assigned, tail_returns
from .source import assigned_names, comprehension_names, once_assigned, parsed, refuse

if TYPE_CHECKING:
    from .fold import Folder

_helper_ids = iter(range(1, 1 << 62))


_HOISTED = re.compile(r"h\d+_")


class Hoister(ast.NodeTransformer):
    """Calls of chainrule's own helper functions in a statement: each one's body is inlined
    into ``out`` (before the statement) and the call becomes the name of its result. Calls
    that may not run (inside ``a if t else b``, ``and``/``or``, comprehensions) stay calls."""

    def __init__(self, folder: Folder, out: list) -> None:
        self.folder, self.out = folder, out

    def _skip(self, node: ast.AST) -> ast.AST:
        return node

    visit_IfExp = visit_BoolOp = visit_Lambda = visit_ListComp = visit_SetComp = _skip
    visit_DictComp = visit_GeneratorExp = _skip

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)  # arguments first: they are evaluated first
        func = node.func
        if not isinstance(func, ast.Name):
            return node
        fn = self.folder.globals.get(func.id)
        if fn is None or func.id in self.folder.assigned or not _helper(fn):
            return node
        result = _inline_helper(fn, node, self.folder, self.out)
        return node if result is None else result


def _helper(fn: Any) -> bool:
    return inspect.isfunction(fn) and fn.__module__.startswith("chainrule.") and parsed(fn) is not None


def _inline_helper(fn: Callable, call: ast.Call, folder: Folder, out: list) -> ast.expr | None:
    """Append ``fn``'s body (for this call's arguments) to ``out``; return its result's name."""
    node = parsed(fn)
    bound = None if node is None else _bound_arguments(node, call)
    if node is None or bound is None:
        return None
    n = next(_helper_ids)
    body = copy.deepcopy([s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))])
    folded = _folded_body(fn, body, bound, folder)
    if folded is None:
        return None
    body, static = folded
    prefix = f"h{n}_"
    names = {p: prefix + p for p in bound if p not in static}
    names.update(
        {
            v: prefix + v
            for v in assigned_names(body) | comprehension_names(body)
            if v not in names and not _HOISTED.match(v)
        }
    )  # a nested helper's names are unique already
    names["__R__"] = prefix + "ret"
    renamer = _HelperNames(names, fn.__globals__, folder)
    try:
        body = [renamer.visit(stmt) for stmt in body]
    except ValueError:
        return None
    used = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    out += [
        ast.Assign(targets=[ast.Name(id=names[p], ctx=ast.Store())], value=a)
        for p, a in bound.items()
        if p in names and names[p] in used
    ] + body  # (an unused argument: dropped)
    folder.assigned |= set(names.values())
    if prefix + "ret" not in assigned_names(body):  # a helper that returns nothing (it warns, say): None
        return ast.Constant(value=None)
    return ast.Name(id=prefix + "ret", ctx=ast.Load())


def _bound_arguments(node: ast.FunctionDef, call: ast.Call) -> dict[str, ast.expr] | None:
    """The helper's parameters bound to the call's arguments (defaults filled in), or None
    when the call passes something else (a starred argument, an unknown keyword)."""
    params = [a.arg for a in node.args.args]
    if any(isinstance(a, ast.Starred) for a in call.args) or len(call.args) > len(params):
        return None
    bound = dict(zip(params, call.args))
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in params or kw.arg in bound:
            return None
        bound[kw.arg] = kw.value
    for p, default in zip(params[len(params) - len(node.args.defaults) :], node.args.defaults):
        bound.setdefault(p, copy.deepcopy(default))
    return bound if set(bound) == set(params) else None


def _folded_body(fn: Callable, body: list, bound: dict[str, ast.expr], folder: Folder) -> tuple[list, dict] | None:
    """The helper's body folded for these arguments, its returns turned into assignments of
    the result; and the arguments fixed as constants. None if it cannot be copied in."""
    # an argument that is one of the op's own (with an example) keeps its example in the helper,
    # so the helper's tests on its type, shape or dtype are decided too
    known = {p: folder.examples[a.id] for p, a in bound.items() if isinstance(a, ast.Name) and a.id in folder.examples}
    constant = {p: a.value for p, a in bound.items() if isinstance(a, ast.Constant)}
    child = folder.child(
        fn.__globals__, known, (assigned_names(body) | set(bound)) - set(constant), once_assigned(body)
    )
    child.static = constant
    try:
        body = tail_returns(child.statements(body))
        check_tails(body, tail=True)
    except ValueError:
        return None
    body, _ = results_assigned(body, None)
    return body, child.static


class _HelperNames(ast.NodeTransformer):
    """A helper's names made unique in the body it is inlined into; its globals become
    ``__hg<k>`` names bound to the objects they name in the helper's own module."""

    def __init__(self, names: dict, module_globals: dict, folder: Folder) -> None:
        self.names, self.module_globals, self.folder = names, module_globals, folder

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            return ast.copy_location(ast.Name(id=self.names[node.id], ctx=node.ctx), node)
        if node.id in self.folder.extra or _HOISTED.match(node.id):  # already made unique (fixed values, helpers)
            return node
        if node.id in self.module_globals:
            obj = self.module_globals[node.id]
            marker = next((k for k, v in self.folder.extra.items() if v is obj), None)
            if marker is None:
                marker = f"hg{len(self.folder.extra)}_{node.id}"
                self.folder.extra[marker] = obj
                self.folder.globals[marker] = obj
            return ast.copy_location(ast.Name(id=marker, ctx=node.ctx), node)
        if hasattr(builtins, node.id):
            return node
        raise refuse(f"{node.id} is not visible from the helper")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name:
            node.name = self.names.get(node.name, node.name)
        return self.generic_visit(node)
