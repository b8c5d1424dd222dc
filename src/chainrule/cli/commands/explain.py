"""``chainrule explain EXPR --at x=3,k=0.36,b=0.37 --wrt k``: the chain rule for any formula.

Builds the graph of EXPR (see ``expr.py``: names in any alphabet, numbers,
+ - * · × / ^ ** @, the lower-case chainrule functions, ``loss = ...`` to
name the result), feeds the values, narrates the forward and backward
passes, then explains ∂EXPR/∂name for each ``--wrt`` name (all the
expression's variables by default). ``--draw out.svg`` renders the graph with
the chain-rule paths highlighted; ``--html page.html`` writes the explorer. A mistake in the input is one message with
a caret under its column and exit status 2, never a traceback; an EXPR that
starts with ``-`` needs no ``--`` (``expression_last`` moves it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ... import dtype as _dtype
from ...errors import ChainruleError
from ...graph import Graph
from ...node import Placeholder
from ...see.explore import explore
from ...see.phrases import LANGS, describe_value, say
from ...see.phrases import register as register_phrases
from ...see.viz import GraphvizNotFound, draw, picture_format, to_dot
from ..expr import ExprError, is_name, parse
from . import in_range

EXIT_USAGE = 2
NARRATE_LIMIT = 300  # bigger graphs are explained without the node-by-node narration
CARET_WIDTH = 72  # how much of a long expression an error shows around its column
# explain's options that take a value (the rest are flags): to tell "-x**2" from an option
VALUE_OPTIONS = ("--at", "--wrt", "--draw", "--html", "--lang", "--max-paths")
FLAG_OPTIONS = ("--quiet", "-h", "--help")

register_phrases(
    {
        "cli.expression": {"en": "Expression: {expr}    with {bindings}", "zh": "表达式：{expr}    取值：{bindings}"},
        "cli.order": {"en": "Topological order: {order}", "zh": "拓扑排序：{order}"},
        "cli.long_order": {
            "en": "Topological order: {count:node|nodes}, from {first} to {last}",
            "zh": "拓扑排序：共 {count} 个节点，从 {first} 到 {last}",
        },
        "cli.quiet_big": {
            "en": "(The graph has {count:node|nodes}, more than {limit}: the node-by-node narration is left out.)",
            "zh": "（计算图有 {count} 个节点，超过 {limit} 个，这里不逐个节点讲解。）",
        },
    }
)


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain",
        help="explain the gradient of an expression, step by step",
        description="Build the graph of EXPR, narrate the forward and backward passes and write out the "
        'chain rule for the gradient. Example: chainrule explain "loss = (y - sigmoid(k*x+b))^2" '
        "--at x=3,y=0.61,k=0.36,b=0.37 --wrt k",
    )
    parser.add_argument(
        "expr",
        metavar="EXPR",
        help='e.g. "sigmoid(k*x+b)", "loss = (y - σ(k·x + b))^2" or "-x**2"; '
        "- reads it from standard input (for expressions longer than a command line)",
    )
    parser.add_argument(
        "--at", default="", metavar="NAME=VALUE,...", help="the variables' values, e.g. x=3,k=0.36,b=0.37"
    )
    parser.add_argument(
        "--wrt",
        default=None,
        metavar="NAME[,NAME...]",
        help="differentiate with respect to these variables (default: all of them)",
    )
    parser.add_argument("--draw", default=None, metavar="FILE", help="also draw the graph to FILE (.svg, .png or .pdf)")
    parser.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help="also write the explorer of the graph, one self-contained HTML page, to PATH",
    )
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the narration (en or zh)")
    parser.add_argument(
        "--max-paths",
        type=in_range(int, 0, 100_000),
        default=64,
        help="list at most this many chain-rule paths, summarise beyond (default 64)",
    )
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
        if not eq or not is_name(name):
            raise ExprError(f"expected NAME=VALUE, got {item.strip()!r}", text, start)
        if name in bindings:
            raise ExprError(f"'{name}' is given twice", text, start)
        try:
            bindings[name] = float(value)
        except ValueError:
            raise ExprError(f"'{value.strip()}' is not a number", text, start + item.strip().index("=") + 1) from None
    return bindings


def _fail(what: str, error: ExprError) -> int:
    print(f"chainrule explain: error in {what}: {error}\n{caret(error)}", file=sys.stderr)
    return EXIT_USAGE


def caret(error: ExprError) -> str:
    """The text with a caret under the error's column: two lines, cut to ``CARET_WIDTH``
    characters around the column when the text is long (a 1 MB expression stays two short lines)."""
    text, column = error.text, error.position
    start = max(0, min(column - CARET_WIDTH // 2, len(text) - CARET_WIDTH))
    shown = text[start : start + CARET_WIDTH]
    before, after = ("…" if start else ""), ("…" if start + CARET_WIDTH < len(text) else "")
    return f"  {before}{shown}{after}\n  {' ' * (column - start + len(before))}^"


def expression_last(argv: list[str], parser: Any = None) -> list[str]:
    """``chainrule explain -x**2 --at x=3`` as argparse needs it: an EXPR that starts with
    ``-`` (and is not one of explain's options) is moved to the end, after ``--``."""
    if "explain" not in argv[:1] or "--" in argv:
        return argv
    rest: list[str] = []
    moved: list[str] = []
    skip = False
    for token in argv[1:]:
        if skip:
            rest.append(token)
            skip = False
        elif token.startswith("-") and len(token) > 1 and not moved:
            option = token.split("=", 1)[0]
            if option in VALUE_OPTIONS or option in FLAG_OPTIONS or token.startswith("--"):
                rest.append(token)
                skip = option in VALUE_OPTIONS and "=" not in token
            else:
                moved.append(token)
        else:
            rest.append(token)
    return [argv[0], *rest, *(["--", *moved] if moved else [])]


def run(args: argparse.Namespace) -> int:
    """Parse, narrate, explain, draw. Returns the exit code."""
    previous = _dtype.get_default_dtype()
    _dtype.set_default_dtype("float64")  # full digits, as in the lesson
    try:
        return _run(args)
    finally:
        _dtype.set_default_dtype(previous)


def _run(args: argparse.Namespace) -> int:
    if args.expr == "-":
        args.expr = sys.stdin.read().strip()
    try:
        bindings = parse_bindings(args.at)
    except ExprError as error:
        return _fail("--at", error)
    if args.draw:
        try:
            picture_format(args.draw)
        except ValueError as error:
            print(f"chainrule explain: error in --draw: {error}", file=sys.stderr)
            return EXIT_USAGE
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
    with np.errstate(all="ignore"):  # log(-1) is nan, 1/0 is inf: flagged in the text, not warned about
        try:
            return _explain(graph, output, used, wrt, bindings, args)
        except ChainruleError as error:
            print(f"chainrule explain: error: {error}", file=sys.stderr)
            return EXIT_USAGE


def _explain(graph: Graph, output: Any, used: list, wrt: list, bindings: dict, args: argparse.Namespace) -> int:
    lang = args.lang
    shown = ("，" if lang == "zh" else ", ").join(
        f"{n.name} = {describe_value(np.float64(bindings[n.name]), lang)}" for n in used
    )
    expr = args.expr if len(args.expr) <= CARET_WIDTH else args.expr[:CARET_WIDTH] + "…"
    print(say("cli.expression", lang, expr=expr, bindings=shown or "—"))
    order = graph.order
    if len(order) <= NARRATE_LIMIT:
        print(say("cli.order", lang, order=" → ".join(n.name for n in order)))
    else:
        print(say("cli.long_order", lang, count=len(order), first=order[0].name, last=order[-1].name))
    narrate = not args.quiet and len(order) <= NARRATE_LIMIT
    if not args.quiet and not narrate:
        print(say("cli.quiet_big", lang, count=len(order), limit=NARRATE_LIMIT))
    if narrate:
        print()
    graph.forward({n: bindings[n.name] for n in used}, narrate=narrate, lang=lang)
    if not output.requires_grad:
        print(say("explain.nothing", lang, out=output.name))
        return 0
    if narrate:
        print()
    graph.backward(narrate=narrate, lang=lang)
    for node in wrt:
        print()
        print(graph.explain(node, lang=lang, max_paths=args.max_paths))
    if args.html and _page(graph, args.html, lang) != 0:
        return EXIT_USAGE
    if args.draw:
        return _draw(graph, args.draw, wrt or None, lang)
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


def _page(graph: Graph, path: str, lang: str) -> int:
    """Write the explorer page; a path that cannot be written is a usage error."""
    try:
        explore(graph, lang=lang).save(path)
    except OSError as error:
        print(f"chainrule explain: error in --html: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(say("viz.wrote", lang, path=path))
    return 0


def _draw(graph: Graph, path: str, highlight: Any, lang: str) -> int:
    """Render the picture; without Graphviz write the DOT text next to it and say how to render it.
    Any failure to write is one line on stderr and exit status 2."""
    try:
        try:
            draw(graph, path, highlight=highlight, lang=lang)
        except GraphvizNotFound:
            dot_path = str(Path(path).with_suffix(".dot"))
            Path(dot_path).write_text(to_dot(graph, highlight=highlight, lang=lang), encoding="utf-8")
            print(say("viz.no_dot", lang, path=dot_path), file=sys.stderr)
            return 1
    except (ValueError, OSError, ChainruleError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        print(f"chainrule explain: error in --draw: cannot write {path}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    print(say("viz.wrote", lang, path=path))
    return 0
