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
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .fold import Folder
from .returns import check_tails, results_assigned, tail_returns
from .source import assigned_names, comprehension_names, once_assigned, parsed, refuse


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
        self.aliases = {
            int(m.group(1) or 0): int(m.group(2))
            for m in re.finditer(r"^ᐸR(\d*)ᐳ = ᐸP(\d+)ᐳ$", self.text, re.M)
            if self.text.count(f"ᐸR{m.group(1)}ᐳ") == 1
        }
        text = "\n".join(
            line
            for line in self.text.split("\n")
            if not _ALIAS_LINE.match(line) or self.text.count(line.split(" = ")[0]) > 1
        )
        pieces = _MARK.split(text)  # text, marker, text, marker, ..., text
        keys = pieces[1::2]
        self.reads = {int(k[1:]) for k in keys if k[0] == "P"}  # the arguments the body uses
        self.locals = sorted({k[1:] for k in keys if k[0] == "L"} | ({"parts"} if "RT" in keys else set()))
        self.uses_self = "SELF" in keys
        self.global_keys = sorted({k for k in keys if k[0] == "G"})
        fields = [("{pre}" + k[1:]) if k[0] == "L" else "{" + k + "}" for k in keys]
        literal = [p.replace("{", "{{").replace("}", "}}") for p in pieces[0::2]]
        self.format = "".join(x for pair in zip(literal, fields + [""]) for x in pair)  # str.format_map-ready


_TEMPLATES: dict[tuple, Template | None] = {}


def template(
    fn: Callable, self_obj: Any, examples: list, results: int | None, key: tuple, wanted: tuple | None = None
) -> Template | None:
    """The specialised body of ``fn`` (a method: ``self`` plus one argument per example),
    or None if it has to be called. ``results``: None for one result (forward), else the
    number of results of a tuple (a vjp's one gradient per input), of which only the
    ``wanted`` ones are computed."""
    full = (fn, results, key, wanted)
    if full not in _TEMPLATES:
        if len(_TEMPLATES) >= 20_000:  # many shapes over a long session: start afresh
            _TEMPLATES.clear()
        try:
            _TEMPLATES[full] = _build(fn, self_obj, examples, results, wanted)
        except Exception:  # noqa: BLE001 - whatever stops the inlining, the op is called instead
            _TEMPLATES[full] = None
    return _TEMPLATES[full]


def _build(fn: Callable, self_obj: Any, examples: list, results: int | None, wanted: tuple | None) -> Template:
    node = parsed(fn)
    if node is None:
        raise refuse("no source or an unusual signature")
    node = copy.deepcopy(node)  # the cached definition stays as parsed: each build rewrites its own copy
    names = [a.arg for a in node.args.args]
    if len(names) != len(examples) + 1:
        raise refuse("another number of arguments")
    self_name, params = names[0], names[1:]
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    assigned = assigned_names(body)
    folder = Folder(fn.__globals__, self_name, self_obj, dict(zip(params, examples)), assigned, once_assigned(body))
    body = tail_returns(folder.statements(body))
    check_tails(body, tail=True)
    body, parts = results_assigned(body, results, wanted)
    # an argument the body still rebinds is copied into a local first: the program's variable must not change
    rebound = [p for p in params if p in assigned_names(body)]
    body = [
        ast.Assign(
            targets=[ast.Name(id=p, ctx=ast.Store())], value=ast.Name(id=f"ᐸP{params.index(p)}ᐳ", ctx=ast.Load())
        )
        for p in rebound
    ] + body
    local_names = (assigned_names(body) | comprehension_names(body)) - (set(params) - set(rebound)) - {self_name}
    renamer = _Renamer(
        self_name, [p if p not in rebound else None for p in params], local_names, {**fn.__globals__, **folder.extra}
    )
    module = ast.fix_missing_locations(ast.Module(body=[renamer.visit(s) for s in body], type_ignores=[]))
    return Template(ast.unparse(module), renamer.globals_used, parts)


class _Renamer(ast.NodeTransformer):
    """Arguments, ``self``, locals and globals to the template's markers."""

    def __init__(self, self_name: str, params: list[str | None], local_names: set[str], module_globals: dict) -> None:
        self.map = {self_name: "ᐸSELFᐳ", **{p: f"ᐸP{k}ᐳ" for k, p in enumerate(params) if p is not None}}
        self.locals, self.module_globals = local_names, module_globals
        self.globals_used: dict[str, Any] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        name = node.id
        if name in self.map:
            new = self.map[name]
        elif name.startswith("__R") and name.endswith("__"):
            new = f"ᐸ{name[2:-2]}ᐳ"
        elif name.startswith("ᐸ"):  # already a marker (a rebound argument's copy)
            return node
        elif name in self.locals:
            new = f"ᐸL{name}ᐳ"
        else:
            if name in self.module_globals:
                self.globals_used[name] = self.module_globals[name]
            elif hasattr(builtins, name):
                return node  # builtins stay as they are
            else:
                raise refuse(f"{name} is not visible")
            new = f"ᐸG{name}ᐳ"
        return ast.copy_location(ast.Name(id=new, ctx=node.ctx), node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name:
            node.name = f"ᐸL{node.name}ᐳ"
        return self.generic_visit(node)


_MARK = re.compile(r"ᐸ(P\d+|SELF|R\d*|RT|L\w+?|G\w+?)ᐳ")


_ALIAS_LINE = re.compile(r"^ᐸR\d*ᐳ = ᐸP\d+ᐳ$")


def instantiate(
    t: Template, args: list[str], self_name: str, results: list[str], prefix: str, globals_named: dict[str, str]
) -> str:
    """The template's text with the program's names: ``args[k]`` for argument k,
    ``results`` for the results, ``prefix`` before each local, ``globals_named[key]`` for
    each of ``t.global_keys``. Aliases (``t.aliases``) are left out: the caller names the
    argument as the result."""
    names = {f"P{k}": a for k, a in enumerate(args)}
    names.update({f"R{k}": r for k, r in enumerate(results)})
    names.update(globals_named, pre=prefix, SELF=self_name, R=results[0], RT=f"{prefix}parts")
    return t.format.format_map(names)
