"""``chainrule demo``: the lesson (``seed/``), end to end, in a few seconds.

In the lesson's order: build its graph with its numbers (float64), print the
topological order, narrate the forward pass and the backward pass, spell out
the chain rule for ∂loss/∂k and ∂loss/∂b (``--html PATH``: also as the
explorer page, before training), then take the lesson's next step,
gradient descent on k and b, printing the loss as it falls (with a progress
bar), and finally draw the graph (``graph.svg``) and the loss curve
(``loss.png``) into ``--out``. Without Graphviz's ``dot`` it writes
``graph.dot`` and says how to render it; without matplotlib it says what to
install. Everything printed comes from the bilingual table (``--lang zh``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ... import dtype as _dtype
from ...graph import Graph
from ...see.narration import formula_text
from ...node import Node, Placeholder, Variable
from ...ops import MSE, Linear, Sigmoid
from ...see.phrases import LANGS, display_width, number, say
from ...see.explore import explore
from ...see.viz import GraphvizNotFound, render, to_dot
from . import nonnegative

# the lesson's numbers
LESSON = {"x": 3.0, "y": 0.6087876106387002, "k": 0.35915077292816744, "b": 0.3737660632429008}
REPORTS = 10  # how many times the descent prints the loss


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="replay the lesson: forward, backward, the chain rule, gradient descent, pictures",
        description="The lesson end to end: its graph and numbers, narrated forward and backward passes, "
                    "the chain rule for ∂loss/∂k and ∂loss/∂b, gradient descent, graph.svg and loss.png.")
    parser.add_argument("--out", default="chainrule-demo", metavar="DIR",
                        help="where to write graph.svg and loss.png (default ./chainrule-demo/)")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the narration (en or zh)")
    parser.add_argument("--steps", type=nonnegative(int), default=100, help="gradient descent steps (default 100)")
    parser.add_argument("--lr", type=nonnegative(float, positive=True), default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--no-plots", action="store_true", help="print only; write no pictures")
    parser.add_argument("--html", default=None, metavar="PATH",
                        help="also write the lesson's explorer, one self-contained HTML page, to PATH")
    parser.set_defaults(run=run)


def build_lesson() -> tuple[Graph, dict[str, Node]]:
    """The lesson's graph: linear = k·x + b, sigmoid = σ(linear), loss = MSE(y, sigmoid)."""
    x, y = Placeholder(name="x"), Placeholder(name="y")
    k, b = Variable(LESSON["k"], name="k"), Variable(LESSON["b"], name="b")
    linear = Linear(x, k, b, name="linear")
    sigmoid = Sigmoid(linear, name="sigmoid")
    loss = MSE(y, sigmoid, name="loss")
    nodes = {"x": x, "y": y, "k": k, "b": b, "linear": linear, "sigmoid": sigmoid, "loss": loss}
    return Graph(loss), nodes


def run(args: argparse.Namespace) -> int:
    """Replay the lesson. Returns the exit code."""
    previous = _dtype.get_default_dtype()
    _dtype.set_default_dtype("float64")  # the lesson's digits
    try:
        return _run(args)
    finally:
        _dtype.set_default_dtype(previous)


def _heading(text: str) -> None:
    print(f"\n{text}\n" + "─" * min(display_width(text), 72))


def _run(args: argparse.Namespace) -> int:
    lang = args.lang
    print(say("demo.title", lang))
    graph, n = build_lesson()
    formulas = ", ".join(f"{name} = {formula_text(n[name])}" for name in ("linear", "sigmoid", "loss"))
    _heading(say("demo.build", lang, formulas=formulas))
    _heading(say("demo.order", lang, order=" → ".join(node.name for node in graph.order)))

    _heading(say("demo.forward", lang, x=number(LESSON["x"]), y=number(LESSON["y"])))
    graph.forward({n["x"]: LESSON["x"], n["y"]: LESSON["y"]}, narrate=True, lang=lang)
    _heading(say("demo.backward", lang))
    graph.backward(narrate=True, lang=lang)
    _heading(say("demo.explain", lang))
    print(graph.explain(n["k"], lang=lang))
    print()
    print(graph.explain(n["b"], lang=lang))
    dot = to_dot(graph, highlight=n["k"])  # the picture shows the lesson's numbers, before training
    page = explore(graph, lang=lang) if args.html else None  # so does the explorer

    _heading(say("demo.descent", lang, steps=args.steps, lr=args.lr))
    losses = descend(graph, n, args.steps, args.lr, lang)
    print(say("demo.result", lang, steps=args.steps, start=number(losses[0]), end=number(losses[-1])))

    if args.no_plots:
        _heading(say("demo.no_plots", lang))
    else:
        out = Path(args.out)
        _heading(say("demo.files", lang, out=out))
        try:
            out.mkdir(parents=True, exist_ok=True)
            _write_graph(dot, out, lang)
            _write_loss_plot(losses, args.lr, out / "loss.png", lang)
        except OSError as error:
            print(f"chainrule demo: cannot write to {out}: {error}", file=sys.stderr)
            return 1
    return _write_page(page, args.html, lang) if page is not None else 0


def _write_page(page: Any, path: str, lang: str) -> int:
    try:
        page.save(path)
    except OSError as error:
        print(f"chainrule demo: cannot write {path}: {error}", file=sys.stderr)
        return 1
    print(say("demo.wrote", lang, path=path))
    return 0


def descend(graph: Graph, n: dict[str, Node], steps: int, lr: float, lang: str) -> list[float]:
    """The lesson's next step: k ← k - lr·∂loss/∂k, b ← b - lr·∂loss/∂b, ``steps`` times.

    Expects the gradients of a backward pass already in ``.grad``. Returns the
    loss before the first step and after each step.
    """
    k, b, loss = n["k"], n["b"], n["loss"]
    losses = [float(loss.value)]
    every = max(1, steps // REPORTS)

    def report(step: int) -> None:
        tqdm.write(say("demo.step", lang, step=step, loss=number(loss.value), k=number(k.value),
                       b=number(b.value)))

    report(0)
    # the bar goes to stderr and the numbers to stdout, so redirected output stays clean
    for step in tqdm(range(1, steps + 1), desc=say("demo.bar", lang), unit="step", file=sys.stderr,
                     leave=False, mininterval=0.05, disable=None):  # None: no bar when not a terminal
        for param in (k, b):
            param.value = np.asarray(param.value - lr * param.grad)
        graph.forward()
        graph.backward()
        losses.append(float(loss.value))
        if step % every == 0 or step == steps:
            report(step)
    return losses


def _write_graph(dot: str, out: Path, lang: str) -> None:
    """graph.svg, or graph.dot plus how to render it when Graphviz is missing."""
    try:
        picture = render(dot, "svg")
    except GraphvizNotFound:
        path = out / "graph.dot"
        path.write_text(dot, encoding="utf-8")
        print(say("demo.no_dot", lang, path=path))
        return
    path = out / "graph.svg"
    path.write_bytes(picture)
    print(say("demo.wrote", lang, path=path))


def _write_loss_plot(losses: list[float], lr: float, path: Path, lang: str) -> None:
    """The loss curve. A bare ``Figure`` (no pyplot): no GUI backend, no global state.

    Its labels are plain symbols and English words: matplotlib's bundled fonts
    have no Chinese glyphs, and a plot full of empty boxes helps nobody.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(say("demo.no_matplotlib", lang, path=path))
        return
    fig = Figure(figsize=(6, 3.6), dpi=110)
    ax = fig.subplots()
    steps = np.arange(len(losses))
    if min(losses) > 0:
        ax.semilogy(steps, losses, color="#dc2626")
    else:
        ax.plot(steps, losses, color="#dc2626")
    ax.set_xlabel("step")
    ax.set_ylabel("loss = (y - σ(k·x + b))²")
    ax.set_title(f"gradient descent on k and b (lr = {lr})")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    print(say("demo.wrote", lang, path=path))
