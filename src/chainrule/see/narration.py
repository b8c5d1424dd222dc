"""The lesson's narration, for any graph: every node says what it did.

``narrate_forward`` walks the topological order: fed placeholders say they
were fed ("I am x: I was fed 3.0"), ops show their formula with their inputs'
names and the value they computed, and a NaN or infinity is flagged at the
node that made it. ``narrate_backward`` walks it in reverse: each op says
which gradient it received and what it sends to each input (upstream
gradient · local derivative, as formulas and numbers, with the 1/N, broadcast
sums, ties and kinks said aloud), each leaf says which gradient it got.
``Narrator`` prints the same lines as the engine reports each node (see
``hooks.py``): ``Graph.forward(narrate=True)``, ``Graph.backward(narrate=True)``,
and the lesson's own loops inside ``with cr.narrate():``. Every sentence comes
from the bilingual table in ``phrases.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import hooks
from ..hooks import Watcher
from ..node import Constant, Node, Placeholder, Variable
from . import symbols as s
from .chain import edge_form, follows, input_label, is_scalar, local_derivative, nonfinite_kind, vjp_step
from .flags import value_flag, words
from .phrases import check_lang, describe_value, say
from .values import is_finite, shape_text

INDENT = "    "


def formula_text(op: Node) -> str:
    """The op's formula with its inputs' names: ``k·x + b``."""
    names = [n.name for n in op.inputs]
    form = getattr(op, "formula", "") or ""
    try:
        if form:
            return form.format(*names)
    except (IndexError, KeyError, ValueError):  # literal braces: fall through to the generic form
        pass
    return f"{type(op).__name__}({', '.join(names)})"


def _kind(node: Node) -> str:
    return type(node).__name__


def forward_line(node: Node, fed: bool, lang: str = "en") -> str:
    """What one node did in a forward pass (``fed``: a placeholder fed this time), plus a
    flag line when its value is NaN or infinite though its inputs are finite."""
    fields = {"name": node.name, "kind": _kind(node), "value": describe_value(node.value, lang)}
    if node.value is None:
        key = "forward.unset"
    elif isinstance(node, Placeholder) or not (node.inputs or isinstance(node, (Variable, Constant))):
        key = "forward.fed" if fed else "forward.kept"  # a placeholder, or a learner's own leaf
    elif isinstance(node, Variable):
        key = "forward.variable"
    elif isinstance(node, Constant) or not node.inputs:
        key = "forward.constant"
    else:
        key = "forward.op"
        fields["formula"] = formula_text(node)
    line = say(key, lang, **fields)
    if (
        node.value is not None
        and not is_finite(node.value)
        and node.inputs
        and all(i.value is None or is_finite(i.value) for i in node.inputs)
    ):
        line += "\n" + INDENT + words(value_flag(node), lang)
    return line


def narrate_forward(graph: Any, fed: set[int] | None = None, lang: str = "en") -> str:
    """What every node of ``graph`` did in the last forward pass, in topological order.

    ``fed`` holds the ``id()`` of the placeholders fed in that call (the others
    kept their earlier value). Returns the text; ``Graph.forward`` prints it.
    """
    check_lang(lang)
    fed = fed if fed is not None else {id(p) for p in graph.order if isinstance(p, Placeholder)}
    lines = [say("forward.title", lang)]
    for step, node in enumerate(graph.order, start=1):
        lines.append(f"{step:>3}. " + forward_line(node, id(node) in fed, lang))
    return "\n".join(lines)


def narrate_backward(graph: Any, lang: str = "en") -> str:
    """Every gradient of the last backward pass, in reverse topological order.

    Call after ``graph.backward()``: every node's ``.grad`` holds ∂output/∂node.
    Ops list the gradient they send to each input; a node used in several
    places says that what it received is the sum of what each use sent.
    """
    check_lang(lang)
    lines = [say("backward.title", lang)]
    for step, node in enumerate(reversed(graph.order), start=1):
        first, *sends = backward_lines(node, graph.outputs[0], lang)
        lines += [f"{step:>3}. " + first, *sends]
    return "\n".join(lines)


def backward_lines(node: Node, out: Node, lang: str = "en") -> list[str]:
    """What one node says in a backward pass: the gradient it holds (a sum when several
    consumers sent one), then what it sends to each input. ``out``: the output."""
    lines = [_receive_line(node, out, _senders(node), lang)]
    if node.inputs and node.grad is not None:
        for i in range(len(node.inputs)):
            lines.extend(INDENT + line for line in _send_lines(node, i, lang))
    return lines


def _senders(node: Node) -> int:
    """How many gradients the node's consumers sent it, one per use (fan-out means a sum)."""
    return sum(
        sum(1 for i in c.inputs if i is node)
        for c in node.outputs
        if c._gradients is not None and c._gradients.get(node) is not None
    )


class Narrator(Watcher):
    """A watcher (see ``hooks.py``) that prints what each node does, as the lesson's
    nodes do: ``Graph.forward(narrate=True)``, or ``with cr.narrate(): node.forward()``."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = check_lang(lang)
        self.step = 0
        self.output: Node | None = None

    def begin(self, kind: str, graph: Any) -> None:
        self.step = 0
        self.output = graph.outputs[0]
        print(say(f"{kind}.title", self.lang))

    def forward(self, node: Node, fed: bool) -> None:
        self.step += 1
        print(f"{self.step:>3}. " + forward_line(node, fed, self.lang))

    def backward(self, node: Node) -> None:
        if self.output is None or not node.outputs:  # the node-by-node loop starts at the output
            self.output, self.step = node, 0
        self.step += 1
        first, *sends = backward_lines(node, self.output, self.lang)
        print("\n".join([f"{self.step:>3}. " + first, *sends]))


def narrate(lang: str = "en") -> Any:
    """``with cr.narrate(lang="zh"): for n in order: n.forward()``: every node the
    lesson's loops (or a ``Graph``) run says what it did, in English or Chinese."""
    return hooks.watching(Narrator(lang))


def _receive_line(node: Node, out: Node, senders: int, lang: str) -> str:
    """The node's own gradient (or why it has none)."""
    fields = {"name": node.name, "kind": _kind(node), "out": out.name}
    if node.grad is None:
        return say("backward.no_grad" if not node.requires_grad else "backward.unreached", lang, **fields)
    fields["value"] = describe_value(node.grad, lang)
    if node is out:
        return say("backward.output", lang, **fields)
    line = say("backward.received" if node.inputs else "backward.leaf", lang, **fields)
    if senders > 1:
        line += say("backward.summed", lang, count=senders)
    return line


def _send_lines(op: Node, index: int, lang: str) -> list[str]:
    """``→ to linear: 0.4027… · (sigmoid · (1 - sigmoid)) = 0.4027… · 0.1537… = 0.0619…``, then notes."""
    label = input_label(op, index)
    step = vjp_step(op, index, op.grad) if follows(op, index) else None
    if step is None or step.raw is None or step.part is None:  # raw and part are None together
        return [say("backward.no_grad_input", lang, input=label)]
    part, g, raw_shape = step.part, op.grad, step.raw.shape
    if is_scalar(g) and is_scalar(part):
        local = local_derivative(op, index)
        form, notes = edge_form(op, index, raw_shape=raw_shape)
        form = form if form is not None else s.unknown(f"∂{op.name}/∂{label}")
        upstream = s.number(g)
        line = say(
            "backward.send",
            lang,
            input=label,
            formula=s.chain([upstream, form]).text,
            numbers=s.chain([upstream, s.number(local)]).text,
            result=describe_value(part, lang),
        )
    elif is_scalar(g):
        form, notes = edge_form(op, index, s.ONE, raw_shape=raw_shape)
        line = say(
            "backward.send_scalar_g",
            lang,
            input=label,
            g=describe_value(g, lang),
            local=form.text if form is not None else f"∂{op.name}/∂{label}",
            result=describe_value(part, lang),
        )
    else:
        form, notes = edge_form(op, index, s.G, raw_shape=raw_shape)
        line = say(
            "backward.send_tensor",
            lang,
            input=label,
            src=shape_text(np.shape(g)),
            local=form.text if form is not None else f"∂{op.name}/∂{label}",
            result=describe_value(part, lang),
        )
    lines = [line] + [INDENT + "· " + say(key, lang, **fields) for key, fields in notes]
    if is_finite(g) and not is_finite(part):
        lines.append(
            INDENT + words(("flag.gradient", {"symbol": f"∂{op.name}/∂{label}", "what": nonfinite_kind(part)}), lang)
        )
    return lines
