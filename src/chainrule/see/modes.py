"""Why backpropagation runs backward: one derivative computed both ways on the same graph.

``explain(output, node, mode="both")`` works out ∂output/∂node twice:

- **forward mode**: the derivative ∂node/∂node = 1 flows *up*, in topological
  order; each op multiplies its inputs' derivatives with respect to ``node`` by
  its local derivatives (the engine's jvp, ``forward_mode.tangent_of``). One
  pass gives the derivative of everything with respect to one input element.
- **backward mode**: ∂output/∂output = 1 flows *down*, in reverse order; each
  op multiplies the gradient it holds by its local derivatives and sends the
  products to its inputs (the engine's vjp). One pass gives the derivative of
  one output element with respect to everything.

Then it counts what each mode needs for *every* derivative of the output with
respect to the graph's inputs: passes (one per input element, or one per
output element) and multiplications (one per nonzero entry of a local
Jacobian crossed, read off each op's own vjp), which is the lesson's question
"why do we go backward?" answered with numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backprop import input_values, sort
from ..broadcast import fit_gradient
from ..errors import GradientError, describe, option_error
from ..forward_mode import tangent_of
from ..node import Node
from . import symbols as sym
from .chain import edge_form, edge_symbol, follows, is_scalar, local_derivative, vjp_step
from .element import element_name, selected_element
from .phrases import check_lang, describe_value, number, say, shape_text

__all__ = ["ModesExplanation", "Pass", "Step", "Term", "explain_modes"]

MODES = ("forward", "backward", "both")
MAX_ENTRIES = 1_000_000  # local-Jacobian entries read to count multiplications
INDENT = "    "


@dataclass(frozen=True, eq=False)
class Term:
    """One edge's share of a step: the derivative arriving along edge (op, index),
    times the local derivative ∂op/∂op.inputs[index]."""

    op: Node
    index: int
    incoming: Any  # forward: ∂input/∂seed; backward: ∂top/∂op
    contribution: Any  # forward: the jvp of ``incoming``; backward: its vjp
    multiplications: int | None


@dataclass(frozen=True, eq=False)
class Step:
    """The derivative one pass gives one node: the sum of its terms (the seed has none)."""

    node: Node
    terms: tuple[Term, ...]
    value: Any


@dataclass(frozen=True, eq=False)
class Pass:
    """One pass of one mode, and what a whole derivative costs in that mode."""

    direction: str  # "forward" or "backward"
    seed: str  # what the pass starts from: "k", "W1[0, 0]" (forward); "loss" (backward)
    steps: tuple[Step, ...]
    ends: tuple[Node, ...]  # one pass per element of these: the inputs (forward), the output (backward)
    passes: int
    multiplications: int | None  # in the pass shown (None: not counted, see ``limit``)
    total: int | None  # in all the passes
    limit: int = MAX_ENTRIES  # local-Jacobian entries read at most to count multiplications
    index: tuple = ()  # the element the pass starts from

    def step(self, node: Node) -> Step | None:
        return next((s for s in self.steps if s.node is node), None)


@dataclass(eq=False)
class ModesExplanation:
    """∂output/∂node by forward and by backward mode. ``str()`` writes it out."""

    output: Node
    node: Node
    forward: Pass | None
    backward: Pass | None
    value: Any  # ∂top/∂seed: the one number both passes give
    connected: bool  # whether the output depends on the node at all
    element: tuple = ()  # the element of ``node`` the forward pass starts from
    lang: str = "en"

    def render(self, lang: str | None = None) -> str:
        """The explanation as text in ``lang`` ("en" or "zh"; default: the one it was made with)."""
        lang = check_lang(lang or self.lang)
        if self.node is self.output:
            return say("explain.self", lang, out=self.output.name)
        if not self.connected:
            return say("explain.none", lang, out=self.output.name, wrt=self.node.name)
        top = element_name(self.output, (0,) * np.ndim(self.output.value))
        seed = element_name(self.node, self.element)
        both = self.forward is not None and self.backward is not None
        blocks = [say("modes.title", lang, out=self.output.name, wrt=self.node.name)] if both else []
        if self.forward is not None:
            blocks.append(_render_pass(self.forward, top, lang))
        if self.backward is not None:
            blocks.append(_render_pass(self.backward, top, lang))
        if both:
            blocks.append(self._agreement(top, seed, lang))
        blocks.append(
            "\n".join(
                [say("modes.cost", lang, out=self.output.name)]
                + [INDENT + _cost_line(p, lang) for p in (self.forward, self.backward) if p]
            )
        )
        if self.forward is not None and self.backward is not None:
            fewer = self.backward.passes < self.forward.passes
            blocks.append(say("modes.why_backward" if fewer else "modes.why_forward", lang))
        blocks.append(say("modes.multiplication", lang))
        return "\n\n".join(blocks)

    def _agreement(self, top: str, seed: str, lang: str) -> str:
        """The two passes' numbers: the same derivative, perhaps rounded differently."""
        forward = self.forward.step(self.output) if self.forward is not None else None
        ahead = number(_at(forward.value)) if forward is not None else number(self.value)
        if ahead == number(self.value):
            return say("modes.same", lang, top=top, seed=seed, value=number(self.value))
        return say("modes.same_rounded", lang, top=top, seed=seed, forward=ahead, backward=number(self.value))

    __str__ = render

    def __repr__(self) -> str:
        return f"<ModesExplanation ∂{self.output.name}/∂{self.node.name}: forward and backward mode>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.render())}</pre>"


# ---------------------------------------------------------------- building
def explain_modes(
    output: Node,
    node: Node,
    mode: str = "both",
    lang: str = "en",
    max_entries: int = MAX_ENTRIES,
    gradient: Any = None,
    element: Any = None,
) -> ModesExplanation:
    """∂output/∂node computed by forward mode, by backward mode, or both (``mode``), at
    the nodes' current values, with the passes and multiplications each mode needs.

    A tensor is one pass per element: the forward pass shown starts from one element
    of ``node`` (``element``, an index such as ``(0, 2)``, or ``node`` given as
    ``W[0, 2]``; default the first), the backward pass from the first element of ``output``.
    Multiplications are counted from each op's local Jacobian (read with its vjp,
    one output element at a time); past ``max_entries`` entries in all they are not
    counted. Leaves every ``.grad`` untouched. (``gradient``, which seeds the paths of
    ``explain``, has no meaning here: giving one is an error.)
    """
    check_lang(lang)
    if mode not in MODES:
        raise option_error("explain", "mode", mode, "is not one of 'paths', " + ", ".join(map(repr, MODES)))
    if gradient is not None:
        raise option_error(
            "explain",
            "gradient",
            "<given>",
            f"seeds mode='paths' only; mode={mode!r} starts each pass from one element of the output or of the node",
        )
    order = sort(output)
    node, element = selected_element(node, element, order)
    if output.value is None:
        raise GradientError(f"explain: output {describe(output)} has no value yet; run forward first")
    if not node.requires_grad:
        raise GradientError(f"explain: {describe(node)} does not require grad, so it has no gradient")
    element = element or (0,) * np.ndim(node.value)
    costs = _edge_costs(order, max_entries)
    forward = _forward(order, output, node, element, costs, max_entries) if mode in ("forward", "both") else None
    backward = _backward(order, output, costs, max_entries) if mode in ("backward", "both") else None
    if backward is not None:
        step, at = backward.step(node), element
    else:
        assert forward is not None  # mode is "forward" (checked above)
        step, at = forward.step(output), ()
    value = _at(step.value, at) if step is not None else np.zeros((), np.asarray(output.value).dtype)[()]
    return ModesExplanation(output, node, forward, backward, value, step is not None, element, lang)


def _one_hot(node: Node, element: tuple) -> Any:
    """1 at ``element`` of the node, 0 elsewhere, in its shape and dtype."""
    value = np.asarray(node.value)
    seed = np.zeros(value.shape, value.dtype)
    seed[element] = 1
    return seed[()]


def _at(value: Any, element: tuple = ()) -> Any:
    """One element of a derivative: ``element`` of it, or its first."""
    arr = np.asarray(value)
    return arr[element] if element and arr.ndim else arr.reshape(-1)[0]


def _forward(order: list[Node], output: Node, node: Node, element: tuple, costs: dict | None, limit: int) -> Pass:
    """The tangent of every node when element ``element`` of ``node`` moves by 1."""
    tangents = {node: _one_hot(node, element)}
    steps = [Step(node, (), tangents[node])]
    for op in order:
        if op is node or not op.inputs or not op.requires_grad:
            continue
        terms = []
        for i, inp in enumerate(op.inputs):
            if inp in tangents and follows(op, i):
                only = [tangents[inp] if j == i else None for j in range(len(op.inputs))]
                part = tangent_of(op, only)
                part = np.zeros_like(np.asarray(op.value)) if part is None else part
                terms.append(Term(op, i, tangents[inp], part, _cost(costs, op, i)))
        if terms:
            tangents[op] = _sum(t.contribution for t in terms)
            steps.append(Step(op, tuple(terms), tangents[op]))
    leaves = [n for n in order if not n.inputs and n.requires_grad]
    total = None if costs is None else sum(n.size * sum(costs[e] for e in _edges_from(order, n)) for n in leaves)
    return _finish(
        "forward", element_name(node, element), steps, tuple(leaves), sum(n.size for n in leaves), total, limit, element
    )


def _backward(order: list[Node], output: Node, costs: dict | None, limit: int) -> Pass:
    """The gradient of ``output``'s first element with respect to every node."""
    consumers: dict = {}
    for op in order:
        for i, inp in enumerate(op.inputs):
            if follows(op, i):
                consumers.setdefault(inp, []).append((op, i))
    grads = {output: _one_hot(output, (0,) * np.ndim(output.value))}
    steps = [Step(output, (), grads[output])]
    for node in reversed(order):
        terms = [
            Term(op, i, grads[op], _sent(op, i, grads[op]), _cost(costs, op, i))
            for op, i in consumers.get(node, ())
            if op in grads
        ]
        if terms and node is not output:
            grads[node] = _sum(t.contribution for t in terms)
            steps.append(Step(node, tuple(terms), grads[node]))
    total = None if costs is None else output.size * sum(costs.values())
    first = (0,) * np.ndim(output.value)
    return _finish("backward", element_name(output, first), steps, (output,), output.size, total, limit, first)


def _finish(
    direction: str, seed: str, steps: list[Step], ends: tuple, passes: int, total: int | None, limit: int, index: tuple
) -> Pass:
    shown = None if total is None else sum(t.multiplications or 0 for s in steps for t in s.terms)  # all counted
    return Pass(direction, seed, tuple(steps), ends, passes, shown, total, limit, index)


def _sent(op: Node, index: int, g: Any) -> Any:
    part = vjp_step(op, index, g).part
    return np.zeros_like(np.asarray(op.inputs[index].value)) if part is None else part


def _sum(parts: Any) -> Any:
    total = None
    for part in parts:
        total = part if total is None else total + part
    return total


def _edges_from(order: list[Node], leaf: Node) -> list[tuple[Node, int]]:
    """The edges a forward pass from ``leaf`` crosses: those out of every node that depends on it."""
    reached, edges = {leaf}, []
    for op in order:
        crossed = [(op, i) for i, inp in enumerate(op.inputs) if inp in reached and follows(op, i)]
        if crossed and op.requires_grad:
            edges += crossed
            reached.add(op)
    return edges


# ---------------------------------------------------------------- counting multiplications
def _cost(costs: dict | None, op: Node, index: int) -> int | None:
    return None if costs is None else costs[(op, index)]


def _edge_costs(order: Sequence[Node], max_entries: int) -> dict | None:
    """{(op, index): nonzero entries of ∂op/∂input}, for every edge a derivative crosses; None
    when the local Jacobians hold more than ``max_entries`` entries in all (too many to read)."""
    ops = [op for op in order if op.inputs and op.requires_grad]
    entries = sum(op.size * op.inputs[i].size for op in ops for i in range(len(op.inputs)) if follows(op, i))
    if entries > max_entries:
        return None
    costs = {}
    for op in ops:
        counts = _jacobian_nonzeros(op)
        costs.update({(op, i): n for i, n in enumerate(counts) if follows(op, i)})
    return costs


def _jacobian_nonzeros(op: Node) -> list[int]:
    """Per input, the nonzero entries of the op's local Jacobian: row by row, the vjp of
    each unit vector of the output (a scalar op: its local derivatives)."""
    value = np.asarray(op.value)
    counts = [0] * len(op.inputs)
    if value.ndim == 0 and all(is_scalar(i.value) for i in op.inputs):
        for i in range(len(op.inputs)):
            local = local_derivative(op, i) if follows(op, i) else None
            counts[i] = int(local is not None and np.any(np.asarray(local) != 0))
        return counts
    values = input_values(op)
    for k in range(value.size):
        row = np.zeros(value.size, value.dtype)
        row[k] = 1
        parts = op.vjp(row.reshape(value.shape)[()], op.value, *values)
        for i, part in enumerate(parts):
            if part is not None and follows(op, i):
                counts[i] += int(np.count_nonzero(fit_gradient(np.asarray(part), op.inputs[i].value)))
    return counts


# ---------------------------------------------------------------- writing
def _render_pass(p: Pass, top: str, lang: str) -> str:
    forward = p.direction == "forward"
    start = p.steps[0].node
    lines = [say("modes.forward" if forward else "modes.backward", lang, seed=p.seed, top=top)]
    if is_scalar(start.value):
        lines.append(INDENT + f"∂{p.seed}/∂{p.seed} = 1")
    else:
        index = "[" + ", ".join(map(str, p.index)) + "]"
        name, seed = (start.name, p.seed) if forward else (top, start.name)
        lines.append(INDENT + say("modes.seed_tensor", lang, name=name, seed=seed, index=index))
    for step in p.steps[1:]:
        lines += [INDENT + line for line in _render_step(step, p, top, lang)]
    mults = _count(p.multiplications, p.limit, lang)
    inputs = _names([n for n in p.ends], lang) if forward else _names(_leaves(p), lang)
    lines.append(
        say(
            "modes.forward_pass" if forward else "modes.backward_pass",
            lang,
            mults=mults,
            seed=p.seed,
            top=top,
            inputs=inputs,
        )
    )
    return "\n".join(lines)


def _render_step(step: Step, p: Pass, top: str, lang: str) -> list[str]:
    """``∂sigmoid/∂k = ∂sigmoid/∂linear · ∂linear/∂k``, then the forms, the numbers, the value."""
    forward = p.direction == "forward"
    name = step.node.name
    lhs = f"∂{name}/∂{p.seed}" if forward else f"∂{top}/∂{name}"
    symbols: list[str] = []
    forms: list[str] = []
    numbers: list[str] = []
    scalar = all(is_scalar(t.op.value) and is_scalar(t.op.inputs[t.index].value) for t in step.terms)
    for t in step.terms:
        local = edge_symbol(t.op, t.index)
        incoming = f"∂{t.op.inputs[t.index].name}/∂{p.seed}" if forward else f"∂{top}/∂{t.op.name}"
        if scalar:  # the local derivative as a formula, then as a number, times what arrived
            arrived = sym.number(t.incoming)
            for factor, row in (
                (edge_form(t.op, t.index)[0] or sym.name(local), forms),
                (sym.number(local_derivative(t.op, t.index)), numbers),
            ):
                row.append(str(sym.chain([factor, arrived] if forward else [arrived, factor])))
        else:
            src, dst = (t.op.inputs[t.index], t.op) if forward else (t.op, t.op.inputs[t.index])
            product = "jvp" if forward else "vjp"  # notation, the same in every language
            numbers.append(f"{product} {shape_text(np.shape(src.value))}→{shape_text(np.shape(dst.value))}")
        symbols.append(f"{local} · {incoming}" if forward else f"{incoming} · {local}")
    rows = [f"{lhs} = {' + '.join(symbols)}"]
    rows += [f"{INDENT}= {' + '.join(part)}" for part in (forms, numbers) if part]
    rows.append(f"{INDENT}= {describe_value(step.value, lang)}")
    return rows


def _leaves(p: Pass) -> list[Node]:
    return [s.node for s in p.steps if not s.node.inputs]


def _names(nodes: list[Node], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(
        n.name if n.size == 1 else f"{n.name} {shape_text(n.shape)}" for n in nodes
    )


def _count(n: int | None, limit: int, lang: str) -> str:
    return f"{n:,}" if n is not None else say("modes.uncounted", lang, limit=f"{limit:,}")


def _cost_line(p: Pass, lang: str) -> str:
    key = "modes.cost_forward" if p.direction == "forward" else "modes.cost_backward"
    return say(key, lang, ends=_names(list(p.ends), lang), passes=f"{p.passes:,}", mults=_count(p.total, p.limit, lang))
