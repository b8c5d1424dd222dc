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
from ...node import Node, Placeholder, Variable
from ...ops import MSE, Linear, Sigmoid
from ...see import plots
from ...see.explore import explore
from ...see.narration import formula_text
from ...see.phrases import LANGS, say
from ...see.phrases import register as register_phrases
from ...see.values import display_width, number
from ...see.viz import GraphvizNotFound, render, to_dot
from . import in_range

# the lesson's numbers
LESSON = {"x": 3.0, "y": 0.6087876106387002, "k": 0.35915077292816744, "b": 0.3737660632429008}
REPORTS = 10  # how many times the descent prints the loss

register_phrases(
    {
        "demo.title": {
            "en": "chainrule demo: the lesson end to end, in float64",
            "zh": "chainrule 演示：把本节课完整地走一遍（float64）",
        },
        "demo.build": {"en": "1. Build the lesson's graph: {formulas}", "zh": "1. 搭建课上的计算图：{formulas}"},
        "demo.order": {
            "en": "2. Topological order (every node after its inputs): {order}",
            "zh": "2. 拓扑排序（每个节点都排在它的输入之后）：{order}",
        },
        "demo.forward": {"en": "3. Forward pass with x = {x}, y = {y}", "zh": "3. 前向传播：x = {x}，y = {y}"},
        "demo.backward": {"en": "4. Backward pass", "zh": "4. 反向传播"},
        "demo.explain": {
            "en": "5. The chain rule, spelled out for ∂loss/∂k and ∂loss/∂b",
            "zh": "5. 把链式法则写出来：∂loss/∂k 和 ∂loss/∂b",
        },
        "demo.descent": {
            "en": "6. Gradient descent on k and b (the next lesson): {steps:step|steps} of "
            "k ← k - {lr}·∂loss/∂k, b ← b - {lr}·∂loss/∂b",
            "zh": "6. 对 k 和 b 做梯度下降（下节课的内容）：共 {steps} 步，"
            "每步 k ← k - {lr}·∂loss/∂k，b ← b - {lr}·∂loss/∂b",
        },
        "demo.step": {
            "en": "step {step:>5}: loss = {loss}   k = {k}   b = {b}",
            "zh": "第 {step:>5} 步：loss = {loss}   k = {k}   b = {b}",
        },
        "demo.bar": {"en": "gradient descent", "zh": "梯度下降"},
        "demo.result": {
            "en": "after {steps:step|steps}, loss: {start} → {end}",
            "zh": "{steps} 步之后，loss：{start} → {end}",
        },
        "demo.files": {"en": "7. Pictures, in {out}", "zh": "7. 图片保存在 {out}"},
        "demo.no_plots": {"en": "7. No pictures (--no-plots).", "zh": "7. 不画图（--no-plots）。"},
        "demo.no_matplotlib": {
            "en": 'matplotlib is not installed, so {path} was not written: pip install "chainrule[viz]"',
            "zh": '没有安装 matplotlib，所以没有生成 {path}：pip install "chainrule[viz]"',
        },
        "demo.no_cjk_font": {
            "en": "no font with Chinese glyphs was found, so the labels of {path} are in English "
            "(apt-get install fonts-wqy-microhei or fonts-noto-cjk)",
            "zh": "没有找到含中文字形的字体，所以 {path} 的标注用英文（可安装 fonts-wqy-microhei 或 fonts-noto-cjk）",
        },
        "plot.step": {"en": "step", "zh": "步数"},
        "plot.loss": {"en": "loss = (y - σ(k·x + b))²", "zh": "损失 loss = (y - σ(k·x + b))²"},
        "plot.descent": {"en": "gradient descent on k and b (lr = {lr})", "zh": "对 k 和 b 做梯度下降（lr = {lr}）"},
    }
)


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="replay the lesson: forward, backward, the chain rule, gradient descent, pictures",
        description="The lesson end to end: its graph and numbers, narrated forward and backward passes, "
        "the chain rule for ∂loss/∂k and ∂loss/∂b, gradient descent, graph.svg and loss.png.",
    )
    parser.add_argument(
        "--out",
        default="chainrule-demo",
        metavar="DIR",
        help="where to write graph.svg and loss.png (default ./chainrule-demo/)",
    )
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the narration (en or zh)")
    parser.add_argument(
        "--steps",
        type=in_range(int, 0, 1_000_000),
        default=100,
        help="gradient descent steps, 0 to 1,000,000 (default 100)",
    )
    parser.add_argument(
        "--lr", type=in_range(float, 0, 1e6, low_open=True), default=0.1, help="learning rate, above 0 (default 0.1)"
    )
    parser.add_argument("--no-plots", action="store_true", help="print only; write no pictures")
    parser.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help="also write the lesson's explorer, one self-contained HTML page, to PATH",
    )
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
    formulas = ("，" if lang == "zh" else ", ").join(
        f"{name} = {formula_text(n[name])}" for name in ("linear", "sigmoid", "loss")
    )
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
    # the picture shows the lesson's numbers, before training, and both paths just explained
    dot = to_dot(graph, highlight=[n["k"], n["b"]], lang=lang)
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
    print(say("viz.wrote", lang, path=path))
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
        tqdm.write(say("demo.step", lang, step=step, loss=number(loss.value), k=number(k.value), b=number(b.value)))

    report(0)
    # the bar goes to stderr and the numbers to stdout, so redirected output stays clean
    for step in tqdm(
        range(1, steps + 1),
        desc=say("demo.bar", lang),
        unit="step",
        file=sys.stderr,
        leave=False,
        mininterval=0.05,
        disable=None,
    ):  # None: no bar when not a terminal
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
        print(say("viz.no_dot", lang, path=path))
        return
    path = out / "graph.svg"
    path.write_bytes(picture)
    print(say("viz.wrote", lang, path=path))


def _write_loss_plot(losses: list[float], lr: float, path: Path, lang: str) -> None:
    """The loss curve, labelled in ``lang`` (English when no Chinese font is installed)."""
    try:
        fig = plots.matplotlib_figure(6, 3.6)
    except ImportError:
        print(say("demo.no_matplotlib", lang, path=path))
        return
    text_lang, fonts = plots.text_context(lang)
    if text_lang != lang:
        print(say("demo.no_cjk_font", lang, path=path), file=sys.stderr)
    with fonts:
        ax = fig.subplots()
        steps = np.arange(len(losses))
        ax.plot(steps, losses, color="#dc2626")
        if min(losses) > 0:
            plots.log_axis(ax, losses)
        plots.integer_ticks(ax)
        ax.set_xlabel(say("plot.step", text_lang))
        ax.set_ylabel(say("plot.loss", text_lang))
        ax.set_title(say("plot.descent", text_lang, lr=lr))
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        plots.save(fig, path)
    print(say("viz.wrote", lang, path=path))
