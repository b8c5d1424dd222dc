"""``chainrule explain EXPR --at x=3,k=0.36,b=0.37 --wrt k``: the chain rule for any formula.

Builds the graph of EXPR (see ``expr.py``: names, numbers, + - * / **, the
lower-case chainrule functions), feeds the values, narrates the forward and
backward passes, then explains ∂EXPR/∂name for each ``--wrt`` name (all the
expression's variables by default). ``--draw out.svg`` renders the graph with
the chain-rule paths highlighted; ``--html page.html`` writes the explorer. A mistake in the input is one message with
a caret under its column and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ... import dtype as _dtype
from ...errors import ChainruleError
from ..expr import ExprError, parse
from ...graph import Graph
from ...node import Placeholder
from ...see.phrases import LANGS, describe_value, say
from ...see.explore import explore
from ...see.viz import GraphvizNotFound, draw, to_dot

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain", help="explain the gradient of an expression, step by step",
        description="Build the graph of EXPR, narrate the forward and backward passes and write out the "
                    "chain rule for the gradient. Example: chainrule explain \"sigmoid(k*x+b)\" "
                    "--at x=3,k=0.36,b=0.37 --wrt k  (an EXPR that starts with '-' goes last, after '--': "
                    "chainrule explain --at x=3 -- \"-x**2\").")
    parser.add_argument("expr", metavar="EXPR", help="e.g. \"sigmoid(k*x+b)\" or \"x*x + x\"")
    parser.add_argument("--at", default="", metavar="NAME=VALUE,...",
                        help="the variables' values, e.g. x=3,k=0.36,b=0.37")
    parser.add_argument("--wrt", default=None, metavar="NAME[,NAME...]",
                        help="differentiate with respect to these variables (default: all of them)")
    parser.add_argument("--draw", default=None, metavar="FILE",
                        help="also draw the graph to FILE (.svg, .png or .pdf)")
    parser.add_argument("--html", default=None, metavar="PATH",
                        help="also write the explorer of the graph, one self-contained HTML page, to PATH")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the narration (en or zh)")
    parser.add_argument("--max-paths", type=int, default=64,
                        help="list at most this many chain-rule paths, summarise beyond (default 64)")
    parser.add_argument("--quiet", action="store_true", help="skip the forward and backward narration")
    parser.set_defaults(run=run)


def parse_bindings(text: str) -> dict[str, float]:
    """``"x=3, k=0.36"`` -> ``{"x": 3.0, "k": 0.36}``; ExprError (with a column) on a mistake."""
    bindings: dict[str, float] = {}
    pos = 0
    for item in text.split(","):
        start = pos + len(item) - len(item.lstrip())
        pos += len(item) + 1
        if not item.strip():
            if text.strip():
                raise ExprError("expected NAME=VALUE", text, start)
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise ExprError(f"expected NAME=VALUE, got {item.strip()!r}", text, start)
        if name in bindings:
            raise ExprError(f"'{name}' is given twice", text, start)
        try:
            bindings[name] = float(value)
        except ValueError:
            raise ExprError(f"'{value.strip()}' is not a number", text, start + item.strip().index("=") + 1) \
                from None
    return bindings


def _fail(what: str, error: ExprError) -> int:
    print(f"chainrule explain: error in {what}: {error}\n{error.caret()}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Parse, narrate, explain, draw. Returns the exit code."""
    previous = _dtype.get_default_dtype()
    _dtype.set_default_dtype("float64")  # full digits, as in the lesson
    try:
        return _run(args)
    finally:
        _dtype.set_default_dtype(previous)


def _run(args: argparse.Namespace) -> int:
    try:
        bindings = parse_bindings(args.at)
    except ExprError as error:
        return _fail("--at", error)
    variables = {name: Placeholder(name=name) for name in bindings}
    try:
        output = parse(args.expr, variables)
    except ExprError as error:
        return _fail("EXPR", error)
    graph = Graph(output)
    used = [node for node in variables.values() if any(n is node for n in graph.placeholders)]
    try:
        wrt = _wrt_nodes(args.wrt, variables, used)
    except ExprError as error:
        return _fail("--wrt", error)
    lang = args.lang
    shown = ", ".join(f"{n.name} = {describe_value(np.float64(bindings[n.name]), lang)}" for n in used)
    print(say("cli.expression", lang, expr=args.expr, bindings=shown or "—"))
    print(say("cli.order", lang, order=" → ".join(n.name for n in graph.order)))
    if not args.quiet:
        print()
    try:
        with np.errstate(all="ignore"):  # log(-1) is nan, 1/0 is inf: shown, not warned about
            graph.forward({n: bindings[n.name] for n in used}, narrate=not args.quiet, lang=lang)
            if not output.requires_grad:
                print(say("explain.nothing", lang, out=output.name))
                return 0
            if not args.quiet:
                print()
            graph.backward(narrate=not args.quiet, lang=lang)
            for node in wrt:
                print()
                print(graph.explain(node, lang=lang, max_paths=args.max_paths))
            if args.html:
                explore(graph, lang=lang).save(args.html)
                print(say("demo.wrote", lang, path=args.html))
            if args.draw:
                return _draw(graph, args.draw, wrt[0] if wrt else None, lang)
    except ChainruleError as error:
        print(f"chainrule explain: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"chainrule explain: error in --html: {error}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _wrt_nodes(text: str | None, variables: dict[str, Placeholder], used: list[Placeholder]) -> list[Placeholder]:
    """The nodes named by ``--wrt`` (default: every variable the expression uses)."""
    if text is None:
        return used
    nodes = []
    pos = 0
    for item in text.split(","):
        name = item.strip()
        start = pos + len(item) - len(item.lstrip())
        pos += len(item) + 1
        node = variables.get(name)
        if node is None:
            known = ", ".join(n.name for n in used) or "none"
            raise ExprError(f"'{name}' is not a variable of the expression (variables: {known})", text, start)
        if not any(n is node for n in used):  # identity: == on nodes builds a Compare op
            raise ExprError(f"the expression does not use '{name}', so its gradient is 0", text, start)
        nodes.append(node)
    return nodes


def _draw(graph: Graph, path: str, highlight: Any, lang: str) -> int:
    """Render the picture; without Graphviz write the DOT text next to it and say how to render it."""
    try:
        draw(graph, path, highlight=highlight)
    except GraphvizNotFound:
        dot_path = str(Path(path).with_suffix(".dot"))
        Path(dot_path).write_text(to_dot(graph, highlight=highlight), encoding="utf-8")
        print(say("demo.no_dot", lang, path=dot_path), file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"chainrule explain: error in --draw: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(say("demo.wrote", lang, path=path))
    return 0
