"""Deciding once what a fixed graph already knows, in an op's body (see ``inline.py``):
options and needed gradients become constants, branches fixed by types, shapes, dtypes
and options become the branch taken, small helpers the body calls are copied in."""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .returns import check_tails, ends, results_assigned, tail_returns
from .source import assigned_names, comprehension_names, copy_expr, once_assigned, parsed, refuse, written_attributes

_PLAIN = (bool, int, float, str, type(None))
_PURE = {"len", "tuple", "min", "max", "abs", "int", "float", "bool", "sorted", "sum", "range", "list"}
_SAME_ARRAY = (np.asarray, np.asanyarray)  # of an ndarray: the array itself


class Shaped:
    """What a static test may see of an argument: its type, shape, ndim, dtype and size."""

    __slots__ = ("_cls", "shape", "ndim", "dtype", "size")

    def __init__(self, value: Any) -> None:
        self._cls = type(value)
        self.shape, self.dtype = np.shape(value), getattr(value, "dtype", None)
        self.ndim, self.size = len(self.shape), int(np.prod(self.shape, dtype=np.int64))

    @property  # isinstance() consults __class__: a stand-in for an ndarray passes for one
    def __class__(self) -> type:
        return self._cls

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d value")
        return self.shape[0]

    def __getattr__(self, name: str) -> Any:  # TypeError, not AttributeError: hasattr() must not say no
        raise TypeError(f"a stand-in does not know .{name}")

    def refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a stand-in has no values")

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __array__ = __getitem__ = __iter__ = refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = refuse
    __neg__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __float__ = __int__ = __index__ = refuse
    __hash__ = None


def plain(value: Any) -> bool:
    """A value a program may hold fixed: Python literals, tuples of them, NumPy dtypes."""
    if isinstance(value, tuple):
        return all(plain(v) for v in value)
    return type(value) in _PLAIN or isinstance(value, np.dtype)


def _literal(value: Any) -> bool:
    return all(map(_literal, value)) if isinstance(value, tuple) else type(value) in _PLAIN


class Folder(ast.NodeTransformer):
    """Decides what the fixed graph already knows (see the module docstring)."""

    def __init__(
        self,
        module_globals: dict,
        self_name: str | None,
        self_obj: Any,
        examples: dict,
        assigned: set,
        once: set,
        extra: dict | None = None,
        level: int = 0,
    ) -> None:
        self.extra = {} if extra is None else extra  # globals of inlined helpers: marker name -> object
        self.globals = {**module_globals, **self.extra}
        self.self_name, self.self_obj = self_name, self_obj
        self.examples, self.assigned, self.once = examples, assigned, once
        self._examples_seen = dict(examples)  # every example a name had, rebound or not
        self.static: dict[str, Any] = {}  # locals fixed at compile time
        self.depth = 0  # > 0 inside a block that may not run
        self.level = level  # how deep in inlined helpers this body is
        self.visible = {n for n in list(self.globals) + dir(builtins) if n not in assigned}

    # ---- statements
    def statements(self, body: list) -> list:
        out = []
        for stmt in body:
            done = self.statement(stmt)
            out += done
            for name in assigned_names(done) & set(self.examples):
                del self.examples[name]  # an argument rebound here: its example no longer says what it is
            self._carry_example(done)
            if ends(out):
                break  # what follows cannot run (a decided branch returned)
        return out

    def statement(self, stmt: ast.stmt) -> list:
        if isinstance(stmt, ast.If):
            decided = self.decide(stmt.test)
            if decided is not None:
                return self.statements(stmt.body if decided else stmt.orelse)
            stmt.test = self.visit(stmt.test)
            stmt.body, stmt.orelse = self.nested(stmt.body), self.nested(stmt.orelse)
            return [stmt] if stmt.body else [ast.If(test=stmt.test, body=[ast.Pass()], orelse=stmt.orelse)]
        if isinstance(stmt, ast.Assign) and self._fix_assignment(stmt):
            return []
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, field, None), list):
                setattr(stmt, field, self.nested(getattr(stmt, field)))
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                handler.body = self.nested(handler.body)
        for field, value in ast.iter_fields(stmt):
            if isinstance(value, ast.expr):
                setattr(stmt, field, self.visit(value))
            elif isinstance(value, list) and value and isinstance(value[0], ast.expr):
                setattr(stmt, field, [self.visit(v) for v in value])
            elif isinstance(value, list) and value and isinstance(value[0], ast.withitem):
                for item in value:
                    item.context_expr = self.visit(item.context_expr)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)) and self.level < 3:
            hoisted: list = []
            stmt = _Hoister(self, hoisted).visit(stmt)
            return hoisted + [stmt]
        return [stmt]

    def nested(self, body: list) -> list:
        """A block that may not run: nothing assigned in it becomes static."""
        self.depth += 1
        try:
            return self.statements(body)
        finally:
            self.depth -= 1

    def _carry_example(self, done: list) -> None:
        """``x = np.asarray(x)`` of an array keeps the same array: its example still holds."""
        if len(done) != 1 or not isinstance(done[0], ast.Assign) or self.depth:
            return
        stmt = done[0]
        call = stmt.value
        if (
            len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(call, ast.Call)
            and len(call.args) == 1
            and not call.keywords
            and isinstance(call.args[0], ast.Name)
        ):
            ok, fn = self._eval(call.func, {})
            example = self._examples_seen.get(call.args[0].id)
            if ok and fn in _SAME_ARRAY and type(example) is np.ndarray:
                self.examples[stmt.targets[0].id] = self._examples_seen[stmt.targets[0].id] = example

    def _fix_assignment(self, stmt: ast.Assign) -> bool:
        """``name = <static>`` (or ``a, b = <static tuple>``): remember the value, drop the line."""
        if len(stmt.targets) != 1:
            return False
        target = stmt.targets[0]
        names = (
            [target.id]
            if isinstance(target, ast.Name)
            else [t.id for t in target.elts]
            if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts)
            else []
        )
        if not names or self.depth or not all(n in self.once for n in names):
            stmt.value = self.visit(stmt.value)
            return False
        ok, value = self.evaluate(stmt.value)
        if ok and len(names) > 1 and not (isinstance(value, tuple) and len(value) == len(names)):
            ok = False
        if not ok:
            stmt.value = self.visit(stmt.value)
            return False
        self.static.update(zip(names, value if len(names) > 1 else (value,)))
        return True

    # ---- expressions
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.static:
            return ast.copy_location(self.constant(self.static[node.id]), node)
        return node

    def constant(self, value: Any) -> ast.expr:
        """A fixed value in the body: a literal, or (a dtype) a name bound to it in the program."""
        if _literal(value):
            return ast.Constant(value)
        marker = next((k for k, v in self.extra.items() if v is value), None)
        if marker is None:
            marker = f"hg{len(self.extra)}_fixed"
            self.extra[marker] = self.globals[marker] = value
        return ast.Name(id=marker, ctx=ast.Load())

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        decided = self.decide(node.test)
        if decided is not None:
            return self.visit(node.body if decided else node.orelse)
        return self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        """``False or x`` → ``x``, ``True or x`` → True (leading constants only: ``x or False``
        is not ``x`` when x is falsy)."""
        node = self.generic_visit(node)
        values = list(node.values)
        while len(values) > 1 and isinstance(values[0], ast.Constant):
            if bool(values[0].value) == isinstance(node.op, ast.Or):
                return values[0]  # short-circuits here
            values.pop(0)
        return values[0] if len(values) == 1 else ast.BoolOp(op=node.op, values=values)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        return self._constant(self.generic_visit(node), [node.left, *node.comparators])

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        return self._constant(self.generic_visit(node), [node.operand])

    def _constant(self, node: ast.expr, operands: list) -> ast.AST:
        """``'mean' == 'none'`` → False: an expression of constants is a constant."""
        if not all(isinstance(o, ast.Constant) for o in operands):
            return node
        ok, value = self._eval(node, {})
        return ast.copy_location(self.constant(value), node) if ok and plain(value) else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            return self.generic_visit(node)  # a target stays a target
        ok, value = self._self_only(node)
        return ast.copy_location(self.constant(value), node) if ok else self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        ok, value = self._self_only(node)
        if ok:
            return ast.copy_location(self.constant(value), node)
        node = self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in _PURE
            and node.func.id not in self.globals
            and node.func.id not in self.assigned
            and not node.keywords
            and all(isinstance(a, ast.Constant) for a in node.args)
        ):  # len((100, 1)) → 2
            ok, value = self._eval(node, {})
            if ok and plain(value):
                return ast.copy_location(self.constant(value), node)
        return node

    def _self_only(self, node: ast.expr) -> tuple[bool, Any]:
        """``self.option``, ``self.inputs[0].requires_grad``, ``self._needs(1)``: fixed for this op."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if self.self_name not in names or not names <= {self.self_name} | set(self.static) | self.visible:
            return False, None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and not self._option(node.attr):
            return False, None
        ok, value = self._real(node)
        return (ok and plain(value)), value

    def _option(self, attr: str) -> bool:
        """An option of the op (instance or plain class data), not a property, a method or state
        its methods write (an array kept from the forward pass for the vjp)."""
        if attr in written_attributes(type(self.self_obj)):
            return False
        if attr in getattr(self.self_obj, "__dict__", {}):
            return True
        found = inspect.getattr_static(type(self.self_obj), attr, None)
        return plain(found) and not attr.startswith("__")

    # ---- deciding tests
    def decide(self, test: ast.expr) -> bool | None:
        """The test's value if it is fixed for this program, else None."""
        ok, value = self.evaluate(test)
        if not ok:
            return None
        try:
            return bool(value)
        except Exception:  # noqa: BLE001 - anything but a plain answer: decide at run time
            return None

    def evaluate(self, expr: ast.expr) -> tuple[bool, Any]:
        """(True, value) if ``expr`` is fixed: the same on the real arguments and on stand-ins."""
        names = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        allowed = {self.self_name} | set(self.examples) | set(self.static) | self.visible
        if not names <= allowed:
            return False, None
        ok, real = self._real(expr)
        if not ok:
            return False, None
        stand_ins = {k: Shaped(v) for k, v in self.examples.items()}
        ok, shaped = self._eval(expr, stand_ins)
        if not ok or not plain(shaped) or type(shaped) is not type(real) or shaped != real:
            return False, None
        return True, real

    def _real(self, expr: ast.expr) -> tuple[bool, Any]:
        return self._eval(expr, self.examples)

    def _eval(self, expr: ast.expr, args: dict) -> tuple[bool, Any]:
        env = {**self.globals, **self.static, **args, self.self_name: self.self_obj}
        code = compile(ast.fix_missing_locations(ast.Expression(body=copy_expr(expr))), "<static test>", "eval")
        try:
            with np.errstate(all="ignore"):
                return True, eval(code, env)  # noqa: S307 - the op's own expression, on stand-ins
        except Exception:  # noqa: BLE001 - whatever it needs, it is not fixed
            return False, None


_helper_ids = iter(range(1, 1 << 62))


_HOISTED = re.compile(r"h\d+_")


class _Hoister(ast.NodeTransformer):
    """Calls of chainrule's own helper functions (``_reduce(d * d, "mean")``) in a statement:
    each one's body is inlined before the statement (its arguments bound first, constant
    ones folded in), and the call becomes the name of its result. Calls that may not run
    (inside ``a if t else b``, ``and``/``or``, comprehensions) stay calls."""

    def __init__(self, folder: Folder, out: list) -> None:
        self.folder, self.out = folder, out

    def _skip(self, node: ast.AST) -> ast.AST:
        return node

    visit_IfExp = visit_BoolOp = visit_Lambda = visit_ListComp = visit_SetComp = _skip
    visit_DictComp = visit_GeneratorExp = _skip

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)  # arguments first: they are evaluated first
        fn = self.folder.globals.get(node.func.id) if isinstance(node.func, ast.Name) else None
        if fn is None or node.func.id in self.folder.assigned or not _helper(fn):
            return node
        result = _inline_helper(fn, node, self.folder, self.out)
        return node if result is None else result


def _helper(fn: Any) -> bool:
    return inspect.isfunction(fn) and fn.__module__.startswith("chainrule.") and parsed(fn) is not None


def _inline_helper(fn: Callable, call: ast.Call, folder: Folder, out: list) -> ast.expr | None:
    """Append ``fn``'s body (for this call's arguments) to ``out``; return its result's name."""
    node = parsed(fn)
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
    if set(bound) != set(params):
        return None
    n = next(_helper_ids)
    body = copy.deepcopy([s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))])
    rebound = assigned_names(body)
    assigned = rebound | set(params)
    # an argument that is one of the op's own (with an example) keeps its example in the helper,
    # so the helper's tests on its type, shape or dtype are decided too
    known = {p: folder.examples[a.id] for p, a in bound.items() if isinstance(a, ast.Name) and a.id in folder.examples}
    child = Folder(
        fn.__globals__,
        None,
        None,
        known,
        assigned - {p for p, a in bound.items() if isinstance(a, ast.Constant)},
        once_assigned(body),
        folder.extra,
        folder.level + 1,
    )
    child.static = {p: a.value for p, a in bound.items() if isinstance(a, ast.Constant)}
    try:
        body = tail_returns(child.statements(body))
        check_tails(body, tail=True)
    except ValueError:
        return None
    body, _ = results_assigned(body, None)
    prefix = f"h{n}_"
    names = {p: prefix + p for p in bound if p not in child.static}
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
    return ast.Name(id=prefix + "ret", ctx=ast.Load())


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

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = self.names.get(node.name, node.name)
        return self.generic_visit(node)
