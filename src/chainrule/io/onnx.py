"""``cr.onnx.export``: a model or a graph as an ONNX file, for onnxruntime and every ONNX tool.

    cr.onnx.export(model, X[:1], "model.onnx")       # a Module, traced on an example batch
    cr.onnx.export(graph, {x: 3.0, y: 0.6}, "lesson.onnx")   # a Graph (or an output node)

How it works: a module's forward runs once, in eval mode, on placeholders
fed the example inputs; that builds the graph of op nodes it computes (its
trace). A Graph is its own trace. Each op becomes ONNX operators through
the table in ``onnx_ops.py`` (one small function per op class) at opset
``OPSET``; variables and constants become initializers (a module's
parameters under their ``state_dict`` names), placeholders become the graph
inputs, and the first axis of every input is a dynamic ``batch`` dimension.
An op class with no entry, or an option value its entry does not handle,
raises ExportError naming it: nothing is exported that would compute
something else. The model is checked with ``onnx.checker`` before the file is
written (all or nothing).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ExportError
from ..graph import Graph, topological_sort
from ..nn.module import Module
from ..node import Constant, Node, Placeholder, Variable
from .files import atomic_write, require
from .onnx_graph import Builder
from .onnx_ops import OPSET, TABLE, unhandled_options

__all__ = ["OPSET", "SUPPORTED", "export"]

SUPPORTED = sorted(cls.__name__ for cls in TABLE)  # the op classes that export
_IR_VERSION = 8  # the IR of opset 17: what onnxruntime 1.14 and later read


def export(
    model: Any,
    example_inputs: Any,
    path: str | os.PathLike,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
) -> str:
    """Write ``model`` to ``path`` as an ONNX model; returns the path.

    ``model``: an ``nn.Module`` (traced in eval mode on ``example_inputs``, an
    array or a tuple of arrays; its training mode is restored afterwards), a
    ``Graph`` or an output node (``example_inputs``: a feed dict, or None to
    use the values last fed). Inputs are named ``input`` (``input_0``, ...) for
    a module and after the placeholders for a graph; outputs ``output`` or
    after the output nodes. ``dynamic_batch``: the first axis of each input
    (and of everything computed along it) may have any size.
    """
    onnx = require("onnx", "onnx", "cr.onnx.export")
    path = os.fspath(path)
    if isinstance(model, Module):
        inputs, outputs, params = _trace_module(model, example_inputs, input_names)
        default_outputs = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    elif isinstance(model, (Graph, Node)):
        graph = model if isinstance(model, Graph) else Graph(model)
        graph.forward(example_inputs)  # fresh values for the trace (MissingFeedError if never fed)
        inputs, outputs = list(graph.placeholders), list(graph.outputs)
        params = {id(v): v.name for v in graph.variables}
        default_outputs = [node.name for node in outputs]
        if input_names:
            params.update({id(p): name for p, name in zip(inputs, input_names)})
    else:
        raise TypeError(f"cr.onnx.export takes an nn.Module, a Graph or a node, not {type(model).__name__}")
    proto = _build(onnx, inputs, outputs, params, list(output_names or default_outputs), dynamic_batch)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:  # a mapping bug, not the user's: say so plainly
        raise ExportError(f"the exported ONNX model does not pass onnx.checker: {exc}") from exc
    atomic_write(path, lambda f: f.write(proto.SerializeToString()))
    return path


def _trace_module(
    model: Module, example_inputs: Any, input_names: Sequence[str] | None
) -> tuple[list, list, dict[int, str]]:
    """Run ``model`` once (in eval mode) on placeholders fed the examples: (inputs, outputs, parameter names)."""
    examples = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    names = list(input_names or (["input"] if len(examples) == 1 else [f"input_{i}" for i in range(len(examples))]))
    if len(names) != len(examples):
        raise ValueError(f"cr.onnx.export: {len(examples)} example inputs but {len(names)} input names")
    inputs = []
    for name, example in zip(names, examples):
        array = np.asarray(example.value if isinstance(example, Node) else example)
        placeholder = Placeholder(name=name, requires_grad=False, dtype=array.dtype)
        placeholder.feed(array)
        inputs.append(placeholder)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        out = model(*inputs)
    finally:
        for module, mode in modes:
            module.training = mode
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(o, Node) for o in outputs):
        raise ExportError(
            f"{type(model).__name__}.forward returned {type(out).__name__}, not nodes computed from its inputs"
        )
    return inputs, outputs, {id(p): name for name, p in model.named_parameters()}


def _build(
    onnx: Any, inputs: list, outputs: list, names: dict[int, str], output_names: list[str], dynamic_batch: bool
) -> Any:
    """The ONNX ModelProto of the trace from ``inputs`` to ``outputs``."""
    if len(output_names) != len(outputs):
        raise ValueError(f"cr.onnx.export: {len(outputs)} outputs but {len(output_names)} output names")
    batch = next((np.shape(p.value)[0] for p in inputs if np.ndim(p.value) >= 1), None) if dynamic_batch else None
    b = Builder(onnx, batch)
    for p in inputs:
        b.input(p, names.get(id(p), p.name))
    for node in topological_sort(*outputs):
        if isinstance(node, (Variable, Constant)):
            b.initializer(node, names.get(id(node)))
        elif isinstance(node, Placeholder):
            if id(node) not in b.names:
                raise ExportError(f"placeholder '{node.name}' is used by the model but is not one of its inputs")
        else:
            _emit(b, node)
    h = onnx.helper
    graph_outputs = []
    for node, name in zip(outputs, output_names):
        b.rename(node, name)
        graph_outputs.append(h.make_tensor_value_info(name, b.elem_type(node), b.dims(node)))
    graph = h.make_graph(b.nodes, "chainrule", b.graph_inputs, graph_outputs, initializer=b.initializers)
    model = h.make_model(
        graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="chainrule", ir_version=_IR_VERSION
    )
    return model


def _emit(b: Builder, op: Node) -> None:
    """ONNX operators for one op node, by the table; ExportError if it has no faithful mapping."""
    entry = TABLE.get(type(op))
    if entry is None:
        raise ExportError(
            f"ONNX export has no mapping for op {type(op).__name__} ('{op.name}'); the ops "
            f"that export are {', '.join(SUPPORTED)}"
        )
    bad = unhandled_options(op, entry.options)
    if bad:
        raise ExportError(
            f"ONNX export of {type(op).__name__} ('{op.name}') does not handle its option {bad}; nothing was written"
        )
    b.names[id(op)] = entry.emit(b, op)
    b.track_batch(op)
