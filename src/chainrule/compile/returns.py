"""``return`` in a body that is copied into a program: every ``return`` must be the last
thing its path runs (code after an ``if`` that may return moves into its branches),
and then becomes an assignment to the program's result variables."""

from __future__ import annotations

import ast
from typing import Any

from .source import clone, refuse


def ends(body: list) -> bool:
    """Whether ``body`` never falls through (it ends in return or raise on every path)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return ends(last.body) and ends(last.orelse)
    if isinstance(last, ast.Try):
        return (ends(last.body) or ends(last.orelse)) and all(ends(h.body) for h in last.handlers)
    if isinstance(last, ast.With):
        return ends(last.body)
    return False


def has_return(stmts: list) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def tail_returns(body: list) -> list:
    """Rewrite ``body`` so that every ``return`` is the last thing its path runs: code after
    an ``if`` that may return moves into the branches that fall through."""
    out: list = []
    for i, stmt in enumerate(body):
        rest = body[i + 1 :]
        if isinstance(stmt, ast.If) and has_return([stmt]) and rest:
            stmt.body = tail_returns(stmt.body if ends(stmt.body) else stmt.body + clone(rest))
            stmt.orelse = tail_returns(stmt.orelse if ends(stmt.orelse) else stmt.orelse + clone(rest))
            return out + [stmt]
        if isinstance(stmt, ast.If):
            stmt.body, stmt.orelse = tail_returns(stmt.body), tail_returns(stmt.orelse)
        elif isinstance(stmt, (ast.Try, ast.With)) and has_return([stmt]) and not rest:
            stmt.body = tail_returns(stmt.body)  # in tail position: normalise inside it
            for handler in getattr(stmt, "handlers", ()):
                handler.body = tail_returns(handler.body)
        out.append(stmt)
        if isinstance(stmt, (ast.Return, ast.Raise)):
            return out  # unreachable code after it
    return out


def check_tails(body: list, tail: bool) -> None:
    """Refuse a body where some ``return`` is not the last thing its path runs (inside a
    loop, or before more code in a ``try`` or ``with`` block): it has to be called."""
    for i, stmt in enumerate(body):
        last = tail and i == len(body) - 1
        if isinstance(stmt, ast.Return):
            if not last:
                raise refuse("a return that is not the last thing its path runs")
        elif isinstance(stmt, ast.If):
            check_tails(stmt.body, last)
            check_tails(stmt.orelse, last)
        elif isinstance(stmt, ast.Try):
            plain = last and not stmt.finalbody and not stmt.orelse
            check_tails(stmt.body, plain)
            for handler in stmt.handlers:
                check_tails(handler.body, plain)
            check_tails(stmt.orelse + stmt.finalbody, False)
        elif isinstance(stmt, ast.With):
            check_tails(stmt.body, last)
        elif has_return([stmt]):
            raise refuse("a return inside a loop")


def results_assigned(body: list, results: int | None, wanted: tuple | None = None) -> tuple[list, tuple[bool, ...]]:
    """Every ``return value`` as assignments to ``__R__`` (or ``__R<k>__`` per element).
    A vjp's tuple is split into its elements; a static ``None`` element is no gradient,
    and an element that is not ``wanted`` is not computed."""
    returns = [n for s in body for n in ast.walk(s) if isinstance(n, ast.Return)]
    if results is None:
        parts: tuple[bool, ...] = (True,)
    else:
        parts = tuple(
            (wanted is None or wanted[k]) and any(not _is_none(_element(r, k, results)) for r in returns)
            for k in range(results)
        )
    _ReturnRewriter(results, parts).visit(ast.Module(body=body, type_ignores=[]))
    return body, parts


def _is_none(expr: ast.expr | None) -> bool:
    return expr is None or (isinstance(expr, ast.Constant) and expr.value is None)


def _element(ret: ast.Return, k: int, results: int) -> ast.expr | None:
    """Element k of a returned tuple literal (a non-literal counts as present)."""
    value = ret.value
    if (
        isinstance(value, ast.Tuple)
        and len(value.elts) == results
        and not any(isinstance(e, ast.Starred) for e in value.elts)
    ):
        return value.elts[k]
    return ast.Name(id="__RT__", ctx=ast.Load())


class _ReturnRewriter(ast.NodeTransformer):
    def __init__(self, results: int | None, parts: tuple[bool, ...]) -> None:
        self.results, self.parts = results, parts

    def visit_Return(self, node: ast.Return) -> Any:
        value = node.value or ast.Constant(None)
        if self.results is None:
            return ast.Assign(targets=[ast.Name(id="__R__", ctx=ast.Store())], value=value)
        if (
            isinstance(value, ast.Tuple)
            and len(value.elts) == self.results
            and not any(isinstance(e, ast.Starred) for e in value.elts)
        ):
            return [
                ast.Assign(targets=[ast.Name(id=f"__R{k}__", ctx=ast.Store())], value=e)
                for k, e in enumerate(value.elts)
                if self.parts[k]
            ] or [ast.Pass()]
        whole = ast.Assign(targets=[ast.Name(id="__RT__", ctx=ast.Store())], value=value)
        picks = [
            ast.Assign(
                targets=[ast.Name(id=f"__R{k}__", ctx=ast.Store())],
                value=ast.Subscript(value=ast.Name(id="__RT__", ctx=ast.Load()), slice=ast.Constant(k), ctx=ast.Load()),
            )
            for k in range(self.results)
            if self.parts[k]
        ]
        return [whole] + picks
