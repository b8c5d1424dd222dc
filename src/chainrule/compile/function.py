"""``cr.compile(fn)``: a function of nodes, compiled; calling it gives one node.

    fast = cr.compile(model)                 # any function of nodes (a Module is one)
    loss = cr.cross_entropy(fast(X), y)      # an ordinary node: backward runs the compiled vjp
    loss.backward()

The first call with a new signature (the types, shapes and dtypes of the
arguments and of the Variables the function reads) traces the function: it
runs once, eagerly, on placeholders fed with the arguments, and the graph it
builds is compiled. Every call returns a ``CompiledCall`` node whose inputs are
the arguments and those Variables; its forward is the compiled forward and its
vjp the compiled backward, so the engine adds the gradients into the
Variables' ``.grad`` as it does for any op. A function that returns something
other than one node, or that draws random numbers or updates state in Python
(dropout masks, batch-norm statistics), is not a fixed graph: see
``Module.compile`` for how modules deal with that.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..errors import GradientError, describe
from ..graph import Graph
from ..memory import current_pass
from ..node import Constant, Node, Placeholder, as_node, is_grad_enabled
from ..op import Op
from .graph import MAX_PROGRAMS, CompiledGraph, conform
from .program import Program, info


class CompiledCall(Op):
    """One call of a compiled function: a single node whose forward and vjp are the
    compiled program's (see ``chainrule.compile.function``)."""

    compiled: Any = None  # the CompiledGraph of the traced function (an option, given when the node is built)
    formula = "compiled({0}, ...)"
    derivatives = ("compiled vjp",)
    saved_for_backward = ("_saved",)  # the program's saved arrays, released after the vjp
    _saved: list | None
    _program: Program

    def forward(self, *values: Any) -> Any:
        outs, saved, program = self.compiled._run_forward(list(values))
        self._saved, self._program = [saved], program
        return outs[0]

    def vjp(self, g: Any, out: Any, *inputs: Any) -> tuple[Any, ...]:
        if isinstance(g, Node):
            raise GradientError(
                f"{describe(self)} is a compiled function: it cannot be differentiated twice "
                "(create_graph=True); call the function itself, uncompiled, for that"
            )
        saved = getattr(self, "_saved", None)
        if saved is None:
            raise GradientError(
                f"{describe(self)}: the compiled call's saved values were released by an earlier "
                "backward(); pass retain_graph=True to keep them for a second backward"
            )
        if current_pass.releasing:  # the program's backward deletes each array after its last use
            self._saved = None
        else:
            saved = list(saved)
        grads = self._program.backward(conform(self._program, g), saved, _commit=False)
        by_feed = dict(zip(self.compiled.wrt, grads))
        return tuple(by_feed.get(feed) for feed in self.compiled.feeds)


class CompiledFunction:
    """A function of nodes compiled per input signature (see the module docstring)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__wrapped__ = fn
        self._traces: dict[tuple, tuple] = {}  # signature -> (CompiledGraph, variables read)
        try:
            self._names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._names = []

    def __call__(self, *args: Any) -> Node:
        nodes = [a if isinstance(a, Node) else as_node(a) for a in args]
        key = tuple(info(n.value) for n in nodes) + tuple(n.requires_grad for n in nodes) + (is_grad_enabled(),)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._trace(nodes)
            if len(self._traces) >= MAX_PROGRAMS:
                self._traces.pop(next(iter(self._traces)))
            self._traces[key] = trace
        compiled, variables = trace
        return CompiledCall(*nodes, *variables, compiled=compiled)

    def _trace(self, nodes: list) -> tuple:
        """Run the function once on fed placeholders and compile the graph it builds."""
        names = self._names + [f"arg{k}" for k in range(len(self._names), len(nodes))]
        placeholders = []
        for name, node in zip(names, nodes):
            p = Placeholder(name=name, requires_grad=node.requires_grad)
            p.value = node.value
            placeholders.append(p)
        out = self.fn(*placeholders)
        if not isinstance(out, Node):
            raise TypeError(
                f"compile: {getattr(self.fn, '__name__', 'the function')} returned "
                f"{type(out).__name__}; a compiled function returns one node"
            )
        graph = Graph(out)
        mine = set(placeholders)
        variables = [n for n in graph.order if not n.inputs and n not in mine and not isinstance(n, Constant)]
        feeds = placeholders + variables
        compiled = CompiledGraph(graph, wrt=[f for f in feeds if f.requires_grad], feeds=feeds, commit=False)
        compiled.release_values()  # the trace's arrays go (a program is written from the leaves' values)
        compiled._run_forward([n.value for n in feeds])
        return compiled, variables

    @property
    def source(self) -> str:
        """The source of the program the last traced signature uses."""
        if not self._traces:
            raise RuntimeError("no program yet: a compiled function traces itself on its first call")
        compiled = next(reversed(self._traces.values()))[0]
        return compiled.source

    def __repr__(self) -> str:
        return f"CompiledFunction({getattr(self.fn, '__name__', repr(self.fn))}; {len(self._traces)} traced)"
