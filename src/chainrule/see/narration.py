"""The lesson's narration, for any graph: every node says what it did.

``narrate_forward`` walks the topological order: fed placeholders say they
were fed ("I am x: I was fed 3.0"), ops show their formula with their inputs'
names and the value they computed. ``narrate_backward`` walks it in reverse:
each op says which gradient it received and what it sends to each input
(upstream gradient · local derivative), each leaf says which gradient it got.
``Graph.forward(narrate=True)`` and ``Graph.backward(narrate=True)`` print
these; every sentence comes from the bilingual table in ``phrases.py``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .chain import follows, input_label, is_scalar, local_derivative, local_symbol, vjp_step
from ..node import Constant, Node, Placeholder, Variable
from ..op import Op
from .phrases import check_lang, describe_value, number, say, shape_text

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


def narrate_forward(graph: Any, fed: set[int] | None = None, lang: str = "en") -> str:
    """What every node of ``graph`` did in the last forward pass, in topological order.

    ``fed`` holds the ``id()`` of the placeholders fed in that call (the others
    kept their earlier value). Returns the text; ``Graph.forward`` prints it.
    """
    check_lang(lang)
    fed = fed if fed is not None else {id(p) for p in graph.order if isinstance(p, Placeholder)}
    lines = [say("forward.title", lang)]
    for step, node in enumerate(graph.order, start=1):
        fields = {"name": node.name, "kind": _kind(node), "value": describe_value(node.value, lang)}
        if isinstance(node, Placeholder):
            key = "forward.fed" if id(node) in fed else "forward.kept"
        elif isinstance(node, Variable):
            key = "forward.variable"
        elif isinstance(node, Constant) or not node.inputs:
            key = "forward.constant"
        else:
            key = "forward.op"
            fields["formula"] = formula_text(node)
        lines.append(f"{step:>3}. " + say(key, lang, **fields))
    return "\n".join(lines)


def narrate_backward(graph: Any, lang: str = "en") -> str:
    """Every gradient of the last backward pass, in reverse topological order.

    Call after ``graph.backward()``: every node's ``.grad`` holds ∂output/∂node.
    Ops list the gradient they send to each input; a node used in several
    places says that what it received is the sum of what each use sent.
    """
    check_lang(lang)
    order = graph.order
    out = graph.outputs[0]
    # how many consumers sent a gradient to each node (fan-out means a sum)
    senders: dict[int, int] = {}
    for node in order:
        if node.grad is None or not isinstance(node, Op):
            continue
        for i, inp in enumerate(node.inputs):
            if follows(node, i):
                senders[id(inp)] = senders.get(id(inp), 0) + 1
    lines = [say("backward.title", lang)]
    for step, node in enumerate(reversed(order), start=1):
        lines.append(f"{step:>3}. " + _receive_line(node, out, senders.get(id(node), 0), lang))
        if isinstance(node, Op) and node.grad is not None:
            lines.extend(INDENT + _send_line(node, i, lang) for i in range(len(node.inputs)))
    return "\n".join(lines)


def _receive_line(node: Node, out: Node, senders: int, lang: str) -> str:
    """The node's own gradient (or why it has none)."""
    fields = {"name": node.name, "kind": _kind(node), "out": out.name}
    if node.grad is None:
        return say("backward.no_grad" if not node.requires_grad else "backward.unreached", lang, **fields)
    fields["value"] = describe_value(node.grad, lang)
    if node is out:
        return say("backward.output", lang, **fields)
    line = say("backward.received" if isinstance(node, Op) else "backward.leaf", lang, **fields)
    if senders > 1:
        line += say("backward.summed", lang, count=senders)
    return line


def _send_line(op: Node, index: int, lang: str) -> str:
    """``→ to linear: 0.4027… · σ(1-σ) = 0.4027… · 0.1537… = 0.0619…``."""
    label = input_label(op, index)
    if not follows(op, index):
        return say("backward.no_grad_input", lang, input=label)
    part = vjp_step(op, index, op.grad)
    if part is None:
        return say("backward.no_grad_input", lang, input=label)
    symbol = local_symbol(op, index) or f"∂{op.name}/∂{label}"
    if is_scalar(op.grad) and is_scalar(part):
        local = local_derivative(op, index)
        upstream = number(op.grad)
        # symbols, then numbers, as on the lesson's blackboard
        local_text = f"{symbol} = {upstream} · {number(local)}" if local is not None else symbol
        return say("backward.send", lang, input=label, upstream=upstream, local=local_text,
                   result=describe_value(part, lang))
    return say("backward.send_tensor", lang, input=label, src=shape_text(np.shape(op.grad)), local=symbol,
               result=describe_value(part, lang))
