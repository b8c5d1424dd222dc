"""Deciding once what a fixed graph already knows, in an op's body (see ``inline.py``):
options and needed gradients become constants, branches fixed by types, shapes, dtypes
and options become the branch taken, small helpers the body calls are copied in."""

from __future__ import annotations

import ast
import builtins
import inspect
from typing import Any

import numpy as np

from .hoist import Hoister
from .returns import ends
from .source import assigned_names, copy_expr, written_attributes

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

    @property  # type: ignore[misc]  # isinstance() consults __class__: a stand-in for an ndarray passes for one
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
    __hash__ = None  # type: ignore[assignment]  # no values, so no hash: as Python spells it


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

    def child(self, module_globals: dict, examples: dict, assigned: set, once: set) -> Folder:
        """The folder for a helper's body copied into this one (``hoist.py``)."""
        return Folder(module_globals, None, None, examples, assigned, once, self.extra, self.level + 1)

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
            stmt = Hoister(self, hoisted).visit(stmt)
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
        names = _target_names(stmt.targets[0])
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
        self.generic_visit(node)  # (it transforms the node in place, and returns it)
        values = list(node.values)
        while len(values) > 1 and isinstance(values[0], ast.Constant):
            if bool(values[0].value) == isinstance(node.op, ast.Or):
                return values[0]  # short-circuits here
            values.pop(0)
        return values[0] if len(values) == 1 else ast.BoolOp(op=node.op, values=values)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        return self._constant(node, [node.left, *node.comparators])

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return self._constant(node, [node.operand])

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
        self.generic_visit(node)
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


def _target_names(target: ast.expr) -> list[str]:
    """The names ``name = ...`` or ``a, b = ...`` binds (none for any other target)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple):
        names = [t.id for t in target.elts if isinstance(t, ast.Name)]
        return names if len(names) == len(target.elts) else []
    return []
