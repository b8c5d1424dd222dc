"""An op's own ``forward`` and ``vjp``, copied into a compiled program.

A compiled program does not call each op: it runs the op's *own code*, the body
of its ``forward`` or ``vjp`` copied in with the arguments renamed to the
program's variables. The arithmetic is therefore the op's arithmetic, operation
for operation (the same numbers, bit for bit), without the cost of a call, and
nothing here repeats any op's math. On the way in, what a fixed graph already
knows is decided once:

- ``self.<option>`` (``axis``, ``reduction``...) becomes the option's value;
  ``self.inputs[i].requires_grad`` becomes whether the program needs input i's
  gradient, so a vjp's ``g * b if need_a else None`` drops the product nobody
  needs (dead-gradient elimination, by the op's own test);
- an ``if`` (or ``a if test else b``) whose test can be decided from the
  arguments' types, shapes and dtypes and the op's options alone becomes the
  branch taken (``Linear``'s matrix-or-scalar test); a local bound once to such
  a value becomes a constant;
- ``return value`` becomes an assignment to the program's variable.

How a test is decided: it is evaluated twice, once on the real example values
and once on stand-ins that show only ``type``, ``shape``, ``ndim``, ``dtype``
and ``size`` (and raise on anything else: arithmetic, comparisons, indexing,
``bool``). If both succeed and agree, the answer depends on nothing that can
change while the program's guards hold (the guards check exactly types,
shapes and dtypes), so it is fixed in the program.

A body that cannot become straight code (a ``return`` inside a loop, or before
more code inside ``try``/``with``; nested functions, ``yield``, ``global``) is
called instead, as is any op the program's self-check finds a difference for.
Each specialised body is turned into text once per op class, method and
static facts, and reused with new variable names (graphs of 100,000 nodes
compile in seconds).
"""
from __future__ import annotations

import ast
import builtins
import copy
import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

_UNSUPPORTED = (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global, ast.Nonlocal,
                ast.Yield, ast.YieldFrom, ast.Await)
_PLAIN = (bool, int, float, str, type(None))


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

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a stand-in has no values")

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __array__ = __getitem__ = __iter__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __neg__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __float__ = __int__ = __index__ = _refuse
    __hash__ = None


def _plain(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return type(value) in _PLAIN


@dataclass
class Template:
    """A specialised body as text, with ``ᐸP<k>ᐳ`` for argument k, ``ᐸSELFᐳ`` for the op,
    ``ᐸL<name>ᐳ`` for its locals, ``ᐸG<name>ᐳ`` for the globals it reads and ``ᐸR<k>ᐳ``
    for result k; ``parts[k]`` says whether result k is computed at all."""
    text: str
    globals_used: dict[str, Any]
    parts: tuple[bool, ...]

    def __post_init__(self) -> None:
        # result k that is just argument j (Add's vjp returns g itself): no line, the caller
        # names the argument as the result
        self.aliases = {int(m.group(1) or 0): int(m.group(2))
                        for m in re.finditer(r"^ᐸR(\d*)ᐳ = ᐸP(\d+)ᐳ$", self.text, re.M)
                        if self.text.count(f"ᐸR{m.group(1)}ᐳ") == 1}
        text = "\n".join(line for line in self.text.split("\n") if not _ALIAS_LINE.match(line)
                         or self.text.count(line.split(" = ")[0]) > 1)
        pieces = _MARK.split(text)  # text, marker, text, marker, ..., text
        keys = pieces[1::2]
        self.reads = {int(k[1:]) for k in keys if k[0] == "P"}  # the arguments the body uses
        self.locals = sorted({k[1:] for k in keys if k[0] == "L"})
        self.uses_self = "SELF" in keys
        self.global_keys = sorted({k for k in keys if k[0] == "G"})
        fields = [("{pre}" + k[1:]) if k[0] == "L" else "{" + k + "}" for k in keys]
        literal = [p.replace("{", "{{").replace("}", "}}") for p in pieces[0::2]]
        self.format = "".join(x for pair in zip(literal, fields + [""]) for x in pair)  # str.format_map-ready


_PARSED: dict[Callable, ast.FunctionDef | None] = {}
_TEMPLATES: dict[tuple, Template | None] = {}


def parsed(fn: Callable) -> ast.FunctionDef | None:
    """The function's definition, or None if its source is not available or not inlinable."""
    if fn not in _PARSED:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            _PARSED[fn] = None
            return None
        node = tree.body[0] if tree.body else None
        ok = isinstance(node, ast.FunctionDef) and _simple_signature(node.args) and not node.decorator_list
        ok = ok and not any(isinstance(n, _UNSUPPORTED) for n in ast.walk(ast.Module(body=node.body, type_ignores=[])))
        _PARSED[fn] = node if ok else None
    return _PARSED[fn]


def _simple_signature(args: ast.arguments) -> bool:
    return not (args.vararg or args.kwarg or args.kwonlyargs or args.defaults or args.posonlyargs)


def template(fn: Callable, self_obj: Any, examples: list, results: int | None, key: tuple,
             wanted: tuple | None = None) -> Template | None:
    """The specialised body of ``fn`` (a method: ``self`` plus one argument per example),
    or None if it has to be called. ``results``: None for one result (forward), else the
    number of results of a tuple (a vjp's one gradient per input), of which only the
    ``wanted`` ones are computed."""
    full = (fn, results, key, wanted)
    if full not in _TEMPLATES:
        try:
            _TEMPLATES[full] = _build(fn, self_obj, examples, results, wanted)
        except Exception:  # noqa: BLE001 - whatever stops the inlining, the op is called instead
            _TEMPLATES[full] = None
    return _TEMPLATES[full]


def _refuse(reason: str) -> ValueError:
    """This body cannot be inlined: it is called instead (``template`` catches the error)."""
    return ValueError(f"not inlinable: {reason}")


def _build(fn: Callable, self_obj: Any, examples: list, results: int | None, wanted: tuple | None) -> Template:
    node = parsed(fn)
    if node is None:
        raise _refuse("no source or an unusual signature")
    node = copy.deepcopy(node)  # the cached definition stays as parsed: each build rewrites its own copy
    names = [a.arg for a in node.args.args]
    if len(names) != len(examples) + 1:
        raise _refuse("another number of arguments")
    self_name, params = names[0], names[1:]
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    assigned = _assigned_names(body)
    folder = _Folder(fn.__globals__, self_name, self_obj, dict(zip(params, examples)), assigned, _once_assigned(body))
    body = _tail_returns(folder.statements(body))
    _check_tails(body, tail=True)
    body, parts = _results(body, results, wanted)
    local_names = (_assigned_names(body) | _comprehension_names(body)) - set(params) - {self_name}
    renamer = _Renamer(self_name, params, local_names, {**fn.__globals__, **folder.extra})
    module = ast.fix_missing_locations(ast.Module(body=[renamer.visit(s) for s in body], type_ignores=[]))
    return Template(ast.unparse(module), renamer.globals_used, parts)


def _assigned_names(body: list) -> set[str]:
    found = set()
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            found.add(n.id)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            found.add(n.name)
    return found


def _comprehension_names(body: list) -> set[str]:
    found = set()
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.comprehension):
            found |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    return found


def _once_assigned(body: list) -> set[str]:
    """Names bound exactly once, by a plain assignment at the top level of ``body``."""
    counts: dict[str, int] = {}
    for n in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            counts[n.id] = counts.get(n.id, 0) + 1
    return {k for k, c in counts.items() if c == 1}


class _Folder(ast.NodeTransformer):
    """Decides what the fixed graph already knows (see the module docstring)."""

    def __init__(self, module_globals: dict, self_name: str | None, self_obj: Any, examples: dict, assigned: set,
                 once: set, extra: dict | None = None, level: int = 0) -> None:
        self.extra = {} if extra is None else extra  # globals of inlined helpers: marker name -> object
        self.globals = {**module_globals, **self.extra}
        self.self_name, self.self_obj = self_name, self_obj
        self.examples, self.assigned, self.once = examples, assigned, once
        self.static: dict[str, Any] = {}  # locals fixed at compile time
        self.depth = 0  # > 0 inside a block that may not run
        self.level = level  # how deep in inlined helpers this body is
        self.visible = {n for n in list(self.globals) + dir(builtins) if n not in assigned}

    # ---- statements
    def statements(self, body: list) -> list:
        out = []
        for stmt in body:
            out += self.statement(stmt)
            if _ends(out):
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

    def _fix_assignment(self, stmt: ast.Assign) -> bool:
        """``name = <static>`` (or ``a, b = <static tuple>``): remember the value, drop the line."""
        if len(stmt.targets) != 1:
            return False
        target = stmt.targets[0]
        names = ([target.id] if isinstance(target, ast.Name) else
                 [t.id for t in target.elts] if isinstance(target, ast.Tuple)
                 and all(isinstance(t, ast.Name) for t in target.elts) else [])
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
            return ast.copy_location(ast.Constant(self.static[node.id]), node)
        return node

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
        return ast.copy_location(ast.Constant(value), node) if ok and _plain(value) else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        ok, value = self._self_only(node)
        return ast.copy_location(ast.Constant(value), node) if ok else self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        ok, value = self._self_only(node)
        return ast.copy_location(ast.Constant(value), node) if ok else self.generic_visit(node)

    def _self_only(self, node: ast.expr) -> tuple[bool, Any]:
        """``self.option``, ``self.inputs[0].requires_grad``, ``self._needs(1)``: fixed for this op."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if self.self_name not in names or not names <= {self.self_name} | set(self.static) | self.visible:
            return False, None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and not self._option(node.attr):
            return False, None
        ok, value = self._real(node)
        return (ok and _plain(value)), value

    def _option(self, attr: str) -> bool:
        """An option of the op (instance or plain class data), not a property or a method."""
        if attr in getattr(self.self_obj, "__dict__", {}):
            return True
        found = inspect.getattr_static(type(self.self_obj), attr, None)
        return _plain(found) and not attr.startswith("__")

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
        if not ok or not _plain(shaped) or type(shaped) is not type(real) or shaped != real:
            return False, None
        return True, real

    def _real(self, expr: ast.expr) -> tuple[bool, Any]:
        return self._eval(expr, self.examples)

    def _eval(self, expr: ast.expr, args: dict) -> tuple[bool, Any]:
        env = {**self.globals, **self.static, **args, self.self_name: self.self_obj}
        code = compile(ast.fix_missing_locations(ast.Expression(body=_copy(expr))), "<static test>", "eval")
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

    def __init__(self, folder: "_Folder", out: list) -> None:
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


def _inline_helper(fn: Callable, call: ast.Call, folder: "_Folder", out: list) -> ast.expr | None:
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
    if set(bound) != set(params):
        return None
    n = next(_helper_ids)
    body = copy.deepcopy([s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))])
    assigned = _assigned_names(body) | set(params)
    child = _Folder(fn.__globals__, None, None, {}, assigned - {p for p, a in bound.items()
                                                                  if isinstance(a, ast.Constant)},
                    _once_assigned(body), folder.extra, folder.level + 1)
    child.static = {p: a.value for p, a in bound.items() if isinstance(a, ast.Constant)}
    try:
        body = _tail_returns(child.statements(body))
        _check_tails(body, tail=True)
    except ValueError:
        return None
    body, _ = _results(body, None)
    prefix = f"h{n}_"
    names = {p: prefix + p for p in bound if p not in child.static}
    names.update({v: prefix + v for v in _assigned_names(body) | _comprehension_names(body)
                  if v not in names and not _HOISTED.match(v)})  # a nested helper's names are unique already
    names["__R__"] = prefix + "ret"
    renamer = _HelperNames(names, fn.__globals__, folder)
    try:
        body = [renamer.visit(stmt) for stmt in body]
    except ValueError:
        return None
    out += [ast.Assign(targets=[ast.Name(id=names[p], ctx=ast.Store())], value=a)
            for p, a in bound.items() if p in names] + body
    folder.assigned |= set(names.values())
    return ast.Name(id=prefix + "ret", ctx=ast.Load())


class _HelperNames(ast.NodeTransformer):
    """A helper's names made unique in the body it is inlined into; its globals become
    ``__hg<k>`` names bound to the objects they name in the helper's own module."""

    def __init__(self, names: dict, module_globals: dict, folder: "_Folder") -> None:
        self.names, self.module_globals, self.folder = names, module_globals, folder

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            return ast.copy_location(ast.Name(id=self.names[node.id], ctx=node.ctx), node)
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
        raise _refuse(f"{node.id} is not visible from the helper")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = self.names.get(node.name, node.name)
        return self.generic_visit(node)


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node), mode="eval").body


def _ends(body: list) -> bool:
    """Whether ``body`` never falls through (it ends in return or raise on every path)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return _ends(last.body) and _ends(last.orelse)
    if isinstance(last, ast.Try):
        return (_ends(last.body) or _ends(last.orelse)) and all(_ends(h.body) for h in last.handlers)
    if isinstance(last, ast.With):
        return _ends(last.body)
    return False


def _has_return(stmts: list) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def _tail_returns(body: list) -> list:
    """Rewrite ``body`` so that every ``return`` is the last thing its path runs: code after
    an ``if`` that may return moves into the branches that fall through."""
    out: list = []
    for i, stmt in enumerate(body):
        rest = body[i + 1:]
        if isinstance(stmt, ast.If) and _has_return([stmt]) and rest:
            stmt.body = _tail_returns(stmt.body if _ends(stmt.body) else stmt.body + _clone(rest))
            stmt.orelse = _tail_returns(stmt.orelse if _ends(stmt.orelse) else stmt.orelse + _clone(rest))
            return out + [stmt]
        if isinstance(stmt, ast.If):
            stmt.body, stmt.orelse = _tail_returns(stmt.body), _tail_returns(stmt.orelse)
        elif isinstance(stmt, (ast.Try, ast.With)) and _has_return([stmt]) and not rest:
            stmt.body = _tail_returns(stmt.body)  # in tail position: normalise inside it
            for handler in getattr(stmt, "handlers", ()):
                handler.body = _tail_returns(handler.body)
        out.append(stmt)
        if isinstance(stmt, (ast.Return, ast.Raise)):
            return out  # unreachable code after it
    return out


def _check_tails(body: list, tail: bool) -> None:
    """Refuse a body where some ``return`` is not the last thing its path runs (inside a
    loop, or before more code in a ``try`` or ``with`` block): it has to be called."""
    for i, stmt in enumerate(body):
        last = tail and i == len(body) - 1
        if isinstance(stmt, ast.Return):
            if not last:
                raise _refuse("a return that is not the last thing its path runs")
        elif isinstance(stmt, ast.If):
            _check_tails(stmt.body, last)
            _check_tails(stmt.orelse, last)
        elif isinstance(stmt, ast.Try):
            plain = last and not stmt.finalbody and not stmt.orelse
            _check_tails(stmt.body, plain)
            for handler in stmt.handlers:
                _check_tails(handler.body, plain)
            _check_tails(stmt.orelse + stmt.finalbody, False)
        elif isinstance(stmt, ast.With):
            _check_tails(stmt.body, last)
        elif _has_return([stmt]):
            raise _refuse("a return inside a loop")


def _clone(stmts: list) -> list:
    module = ast.fix_missing_locations(ast.Module(body=list(stmts), type_ignores=[]))
    return ast.parse(ast.unparse(module)).body


def _results(body: list, results: int | None, wanted: tuple | None = None) -> tuple[list, tuple[bool, ...]]:
    """Every ``return value`` as assignments to ``__R__`` (or ``__R<k>__`` per element).
    A vjp's tuple is split into its elements; a static ``None`` element is no gradient,
    and an element that is not ``wanted`` is not computed."""
    returns = [n for s in body for n in ast.walk(s) if isinstance(n, ast.Return)]
    if results is None:
        parts: tuple[bool, ...] = (True,)
    else:
        parts = tuple((wanted is None or wanted[k]) and any(not _is_none(_element(r, k, results)) for r in returns)
                      for k in range(results))
    _ReturnRewriter(results, parts).visit(ast.Module(body=body, type_ignores=[]))
    return body, parts


def _is_none(expr: ast.expr | None) -> bool:
    return expr is None or (isinstance(expr, ast.Constant) and expr.value is None)


def _element(ret: ast.Return, k: int, results: int) -> ast.expr | None:
    """Element k of a returned tuple literal (a non-literal counts as present)."""
    value = ret.value
    if isinstance(value, ast.Tuple) and len(value.elts) == results and not any(
            isinstance(e, ast.Starred) for e in value.elts):
        return value.elts[k]
    return ast.Name(id="__RT__", ctx=ast.Load())


class _ReturnRewriter(ast.NodeTransformer):
    def __init__(self, results: int | None, parts: tuple[bool, ...]) -> None:
        self.results, self.parts = results, parts

    def visit_Return(self, node: ast.Return) -> Any:
        value = node.value or ast.Constant(None)
        if self.results is None:
            return ast.Assign(targets=[ast.Name(id="__R__", ctx=ast.Store())], value=value)
        if isinstance(value, ast.Tuple) and len(value.elts) == self.results and not any(
                isinstance(e, ast.Starred) for e in value.elts):
            return [ast.Assign(targets=[ast.Name(id=f"__R{k}__", ctx=ast.Store())], value=e)
                    for k, e in enumerate(value.elts) if self.parts[k]] or [ast.Pass()]
        whole = ast.Assign(targets=[ast.Name(id="__RT__", ctx=ast.Store())], value=value)
        picks = [ast.Assign(targets=[ast.Name(id=f"__R{k}__", ctx=ast.Store())],
                            value=ast.Subscript(value=ast.Name(id="__RT__", ctx=ast.Load()),
                                                slice=ast.Constant(k), ctx=ast.Load()))
                 for k in range(self.results) if self.parts[k]]
        return [whole] + picks


class _Renamer(ast.NodeTransformer):
    """Arguments, ``self``, locals and globals to the template's markers."""

    def __init__(self, self_name: str, params: list[str], local_names: set[str], module_globals: dict) -> None:
        self.map = {self_name: "ᐸSELFᐳ", **{p: f"ᐸP{k}ᐳ" for k, p in enumerate(params)}}
        self.locals, self.module_globals = local_names, module_globals
        self.globals_used: dict[str, Any] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        name = node.id
        if name in self.map:
            new = self.map[name]
        elif name.startswith("__R") and name.endswith("__"):
            new = f"ᐸ{name[2:-2]}ᐳ"
        elif name in self.locals:
            new = f"ᐸL{name}ᐳ"
        else:
            if name in self.module_globals:
                self.globals_used[name] = self.module_globals[name]
            elif hasattr(builtins, name):
                return node  # builtins stay as they are
            else:
                raise _refuse(f"{name} is not visible")
            new = f"ᐸG{name}ᐳ"
        return ast.copy_location(ast.Name(id=new, ctx=node.ctx), node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = f"ᐸL{node.name}ᐳ"
        return self.generic_visit(node)


# the markers: letters no name contains (ᐸ ᐳ are Canadian syllabics), so they never run together
_MARK = re.compile(r"ᐸ(P\d+|SELF|R\d*|RT|L\w+?|G\w+?)ᐳ")
_ALIAS_LINE = re.compile(r"^ᐸR\d*ᐳ = ᐸP\d+ᐳ$")


def instantiate(t: Template, args: list[str], self_name: str, results: list[str], prefix: str,
                globals_named: dict[str, str]) -> str:
    """The template's text with the program's names: ``args[k]`` for argument k,
    ``results`` for the results, ``prefix`` before each local, ``globals_named[key]`` for
    each of ``t.global_keys``. Aliases (``t.aliases``) are left out: the caller names the
    argument as the result."""
    names = {f"P{k}": a for k, a in enumerate(args)}
    names.update({f"R{k}": r for k, r in enumerate(results)})
    names.update(globals_named, pre=prefix, SELF=self_name, R=results[0], RT=f"{prefix}parts")
    return t.format.format_map(names)
