"""Everything the explorer page shows about one graph, computed by the engine.

``page_data(graph, grads)`` returns one JSON-ready dict:

- ``nodes``: in topological order, each with its name, kind, formula, value,
  gradient ∂output/∂node, its table (tensors) and its box on the page;
- ``edges``: every input → op edge with its local derivative ∂op/∂input as
  the op's symbol and, for one-element ends, the number (the op's own vjp at
  an upstream gradient of one, as ``explain`` and the narration compute it);
- ``forward``: one narration sentence per node, in topological order;
- ``backward``: one step per edge, in reverse topological order: the
  gradient arriving at the op, the local derivative, the gradient sent, and
  the receiving node's running sum over the places that use it;
- ``explain``: per node, ``explain``'s chain rule (every path as a list of
  edges, its product, and the sum), computed by ``explain`` itself; for a
  tensor, also ``explain``'s one-element chains for the entries of its table
  (every path through single elements, each factor a number).

``grads`` holds every node's gradient from one backward pass; building the
page writes no ``.grad`` and no value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ChainruleError
from ..node import Constant, Node, Placeholder, Variable
from .chain import edge_form, edge_symbol, follows, input_label, is_scalar, local_derivative, vjp_step
from .edges import Note
from .explain import explain
from .layout import layout
from .narration import formula_text
from .page_values import Table, num, phrase, table_for, value_json, value_text
from .phrases import shape_text
from .symbols import Sym, chain

MAX_PATHS = 16  # per node, list at most this many paths on the page; beyond, group them by last edge
ELEMENT_PATHS = 8  # per tensor element, list at most this many paths through single elements
ELEMENT_BUDGET = 400  # one-element chains per page at most (a big model's page stays quick to build)
CHAR_W, LINE_H, PAD = 6.7, 15.0, 10.0  # the node boxes' text metrics, in pixels (see explorer.css)
BOX_ROWS, BOX_COLS = 2, 3  # a tensor's box shows this corner of its table
FORMULA_CHARS = 28  # longer formulas are cut in the box (the panel shows them whole)


def role(node: Node) -> str:
    """What kind of node it is, for colours and for the forward narration."""
    if isinstance(node, Placeholder):
        return "placeholder"
    if isinstance(node, Variable):
        return "variable"
    if isinstance(node, Constant) or not node.inputs:
        return "constant"
    return "op"


def edge_list(order: list[Node]) -> list[tuple[Node, int]]:
    """Every edge as (op, input index), ops in topological order, inputs in slot order."""
    return [(op, i) for op in order for i in range(len(op.inputs))]


def page_data(graph: Any, grads: dict[Node, Any], use_dot: bool = True) -> dict[str, Any]:
    """The page's data for ``graph`` (a ``Graph``) with the gradients ``grads``."""
    order = graph.order
    out = graph.outputs[0]
    index = {node: i for i, node in enumerate(order)}  # nodes hash by identity
    edges = edge_list(order)
    edge_id = {(id(op), i): e for e, (op, i) in enumerate(edges)}  # ids: == on nodes builds ops
    tables = [table_for(np.shape(node.value)) for node in order]
    sizes = [_box_size(node, grads.get(node), tables[i]) for i, node in enumerate(order)]
    placed = layout(order, [(index[op.inputs[i]], index[op]) for op, i in edges], sizes, use_dot=use_dot)
    nodes = [_node_json(node, grads.get(node), tables[i], placed.boxes[i]) for i, node in enumerate(order)]
    budget = [ELEMENT_BUDGET]  # one-element chains left to compute, shared by every tensor node
    return {
        "output": index[out],
        "size": [round(placed.width, 1), round(placed.height, 1)],
        "layout": placed.engine,
        "max_paths": MAX_PATHS,
        "element_paths": ELEMENT_PATHS,
        "nodes": nodes,
        "edges": [_edge_json(op, i, index, placed.curves[e]) for e, (op, i) in enumerate(edges)],
        "forward": [_forward_line(node) for node in order],
        "backward": _backward_steps(order, grads, edge_id),
        "explain": [_explain_json(graph, node, grads, edge_id, budget) for node in order],
    }


def _node_json(node: Node, grad: Any, table: Table | None, box: tuple) -> dict[str, Any]:
    kind = role(node)
    return {
        "name": node.name,
        "kind": type(node).__name__,
        "role": kind,
        "formula": formula_text(node) if kind == "op" else None,
        "shape": [int(d) for d in np.shape(node.value)],
        "st": shape_text(np.shape(node.value)),
        "value": value_json(node.value),
        "grad": value_json(grad),
        "rg": bool(node.requires_grad),
        "tab": table.to_json() if table is not None else None,
        "box": [round(v, 1) for v in box],
    }


def _box_size(node: Node, grad: Any, table: Table | None) -> tuple[float, float]:
    """The box's pixel size for the text the page writes in it (explorer/graph.js):
    name, kind (with the formula), then value and grad, each a number at full
    precision, or a shape plus the first rows of its table (few digits)."""
    kind = type(node).__name__
    head = f"{kind}: {formula_text(node)}" if role(node) == "op" else kind
    texts = [node.name, head[: FORMULA_CHARS + 1]]
    if table is None:
        texts += ["value " + _full(node.value), "grad " + _full(grad) + "  (9/9)"]  # room for a running-sum note
        lines = 4
    else:
        rows = min(table.rows, BOX_ROWS)
        texts += [" ".join(["-0.0000e-00"] * min(table.cols, BOX_COLS)) + " …"]
        lines = 2 + 2 * (1 + rows)
    width = max(len(t) for t in texts) * CHAR_W + 2 * PAD
    return max(width, 70.0), lines * LINE_H + PAD


def _full(value: Any) -> str:
    return "—" if value is None else num(value)[0]


def _edge_json(op: Node, i: int, index: dict[Node, int], curve: list) -> dict[str, Any]:
    """The edge input → op: ∂op/∂input as ``explain`` writes it (the local derivative, or the vjp
    of g for a tensor op, with the note that says a broadcast was summed), and its number."""
    inp = op.inputs[i]
    local: np.ndarray | None = None
    form: Sym | None = None
    notes: list[Note] = []
    if follows(op, i):
        try:
            form, notes = edge_form(op, i)
            if is_scalar(op.value) and is_scalar(inp.value):
                local = local_derivative(op, i)
        except (ChainruleError, ArithmeticError, TypeError, ValueError):  # shown as ∂op/∂input only
            form, notes, local = None, [], None
    return {
        "src": index[inp],
        "dst": index[op],
        "slot": i,
        "label": input_label(op, i),
        "sym": edge_symbol(op, i),
        "local": None if form is None else form.text,
        "lb": None if form is None else chain([form]).text,  # bracketed as a factor of a product, if compound
        "notes": [phrase(key, **fields) for key, fields in notes],
        "num": None if local is None else num(local),
        "fw": follows(op, i),
        "pts": [[round(x, 1), round(y, 1)] for x, y in curve],
    }


def _forward_line(node: Node) -> dict[str, Any]:
    """The narration's sentence for this node's forward step (``narration.py``'s keys)."""
    kind = role(node)
    fields: dict[str, Any] = {"name": node.name, "kind": type(node).__name__, "value": value_text(node.value)}
    key = {"placeholder": "forward.fed", "variable": "forward.variable", "constant": "forward.constant"}.get(kind)
    if key is None:
        key = "forward.op"
        fields["formula"] = formula_text(node)
    return phrase(key, **fields)


def _backward_steps(order: list[Node], grads: dict[Node, Any], edge_id: dict) -> list[dict[str, Any]]:
    """One step per edge that carries a gradient, in reverse topological order, with the
    receiving node's running sum (the same ``prev + part`` the engine adds up)."""
    sent: list[tuple[Node, int, Any]] = []
    for op in reversed(order):
        g = grads.get(op)
        if g is None or not op.inputs:
            continue
        for i in range(len(op.inputs)):
            part = vjp_step(op, i, g).part if follows(op, i) else None
            if part is not None:
                sent.append((op, i, part))
    total: dict[Node, int] = {}
    for op, i, _ in sent:
        total[op.inputs[i]] = total.get(op.inputs[i], 0) + 1
    running: dict[Node, Any] = {}
    arrived: dict[Node, int] = {}
    steps = []
    for op, i, part in sent:
        inp = op.inputs[i]
        prev = running.get(inp)
        running[inp] = part if prev is None else prev + part
        arrived[inp] = arrived.get(inp, 0) + 1
        # the local derivative is the edge's own number (edges[e].num): not repeated here
        # the caption says the upstream and sent gradients (numbers or summaries); the box shows the running sum
        steps.append(
            {
                "e": edge_id[(id(op), i)],
                "up": value_text(grads[op]),
                "res": value_text(part),
                "run": value_json(running[inp]),
                "n": arrived[inp],
                "of": total[inp],
            }
        )
    return steps


def _explain_json(
    graph: Any, node: Node, grads: dict[Node, Any], edge_id: dict, budget: list[int]
) -> dict[str, Any] | None:
    """``explain``'s answer for ∂output/∂node: paths as edge lists with their products, and the sum.

    A path of tensors also carries each step's formula (the vjp of g) and the path
    as one formula; a path of one-element nodes is all in its edges already."""
    out = graph.outputs[0]
    if node is out:
        return {"self": True}
    if grads.get(node) is None:
        return None
    try:
        e = explain(out, node, graph=graph, max_paths=MAX_PATHS, gradient=grads[out])
    except ChainruleError:  # e.g. a hand-written node whose vjp needs more than numbers: no panel paths
        return None
    paths = []
    for p in e.paths:
        path: dict[str, Any] = {"e": [edge_id[(id(f.op), f.index)] for f in p.factors], "p": value_json(p.contribution)}
        if any(f.value is None for f in p.factors):
            path["f"] = [f.local or f.symbol for f in p.factors]
            path["x"] = p.formula.text if p.formula is not None and len(p.factors) > 1 else None
        paths.append(path)
    notes = {(key, repr(fields)): phrase(key, **fields) for p in e.paths for f in p.factors for key, fields in f.notes}
    return {
        "n": str(e.n_paths),  # a string: Python counts 2**80 paths exactly, JavaScript's numbers would not
        "paths": paths,
        "groups": [
            {"e": edge_id[(id(g.op), g.index)], "n": str(g.count), "v": value_json(g.contribution)} for g in e.groups
        ],
        "notes": list(notes.values()),
        "g": value_json(e.gradient),
        "cells": _element_chains(graph, node, grads, budget),
    }


def _element_chains(graph: Any, node: Node, grads: dict[Node, Any], budget: list[int]) -> list | None:
    """For a tensor (one-element output), ``explain``'s chain of each entry of its table:
    every path through single elements, each factor's symbol, formula and number."""
    out = graph.outputs[0]
    table = table_for(np.shape(node.value))
    if table is None or not is_scalar(out.value) or budget[0] < len(table.flat):
        return None
    budget[0] -= len(table.flat)
    cells = []
    for flat in table.flat:
        element = tuple(int(i) for i in np.unravel_index(flat, table.shape))
        try:
            e = explain(out, node, graph=graph, max_paths=ELEMENT_PATHS, gradient=grads[out], element=element)
        except ChainruleError:
            return None
        cells.append(
            {
                "n": str(e.n_paths),
                "paths": [
                    {
                        "f": [
                            [f.symbol, None if f.form is None else chain([f.form]).text, num(f.value)]
                            for f in p.factors
                        ],
                        "p": num(p.contribution),
                    }
                    for p in e.paths
                ],
                "groups": [{"s": g.symbol, "n": str(g.count), "v": value_json(g.contribution)} for g in e.groups],
                "g": num(e.gradient),
            }
        )
    return cells
