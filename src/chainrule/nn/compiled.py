"""Compiled modules and training steps: ``model.compile()`` and ``fit(compile=True)``.

    fast = model.compile()                  # call it as the model: a node out, backward as usual
    cr.fit(model, cr.cross_entropy, opt, train, compile=True)   # each step one compiled program

Both trace one call per input signature (the batch's shape and dtype: the
last, smaller batch of an epoch gets its own program) and reuse it. A trace
stands for every call only while the model runs the same operations each time:
``Dropout`` and batch norm in training mode draw random masks or update running
statistics in Python, so while any submodule's ``traces_alike()`` is False the
model runs uncompiled, and says so once.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..compile.function import CompiledFunction
from ..compile.graph import MAX_PROGRAMS, CompiledGraph
from ..compile.program import info
from ..graph import Graph
from ..node import Node, Placeholder, Variable


def traces_alike(model: Any) -> bool:
    """Whether every call of ``model`` runs the same operations (see the module docstring)."""
    modules = model.modules() if hasattr(model, "modules") else [model]
    return all(getattr(m, "traces_alike", lambda: True)() for m in modules)


def _say_uncompiled(model: Any, what: str) -> None:
    names = sorted({type(m).__name__ for m in model.modules() if not m.traces_alike()})
    warnings.warn(
        f"{what}: {', '.join(names)} in training mode draw random numbers or update statistics on "
        "every call, so the model runs uncompiled (it compiles in eval mode)",
        stacklevel=3,
    )


class CompiledModule:
    """``model.compile()``: called like the model, it returns the output node of a compiled
    program (``cr.compile``), one program per input signature."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.function = CompiledFunction(module)
        self._told = False

    def __call__(self, *args: Any) -> Any:
        if not traces_alike(self.module):
            if not self._told:
                self._told = True
                _say_uncompiled(self.module, "compile")
            return self.module(*args)
        return self.function(*args)

    @property
    def source(self) -> str:
        """The generated source of the program the last traced signature uses."""
        return self.function.source

    def __repr__(self) -> str:
        return f"CompiledModule({type(self.module).__name__})"


class CompiledStep:
    """``fit(compile=True)``: forward, loss and backward of one batch as one compiled program
    per batch signature. Returns the loss and the output values; each parameter's ``.grad``
    is replaced by its gradient, which after ``zero_grad()`` is exactly what the eager
    step's ``loss.backward()`` leaves there."""

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any]) -> None:
        self.model, self.loss_fn = model, loss_fn
        self._graphs: dict[tuple, tuple] = {}

    def __call__(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        key = (info(xb), info(yb))
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._trace(xb, yb)
            if len(self._graphs) >= MAX_PROGRAMS:
                self._graphs.pop(next(iter(self._graphs)))
            self._graphs[key] = entry
        compiled, x, y = entry
        loss, out = compiled.forward({x: xb, y: yb})
        compiled.backward()
        return loss, out

    def _trace(self, xb: Any, yb: Any) -> tuple:
        x, y = Placeholder(name="x", requires_grad=False), Placeholder(name="y", requires_grad=False)
        x.feed(xb)
        y.feed(yb)
        out = self.model(x)
        loss = self.loss_fn(out, y)
        if not isinstance(out, Node) or not isinstance(loss, Node):
            raise TypeError("fit(compile=True): the model and the loss must return nodes")
        graph = Graph(loss, out)
        wrt = [n for n in graph.order if isinstance(n, Variable) and n.requires_grad]
        compiled = CompiledGraph(graph, wrt=wrt)
        compiled.release_values()  # the trace's arrays go (a program is written from the leaves' values)
        return compiled, x, y


def compilable_batch(xb: Any, yb: Any) -> bool:
    return isinstance(xb, np.ndarray) and isinstance(yb, np.ndarray)


def compiled_step(model: Any, loss_fn: Callable[[Any, Any], Any]) -> CompiledStep | None:
    """``fit(compile=True)``'s step, or None (with one line saying why) for a model whose
    training calls are not all alike (dropout, batch norm in training mode)."""
    if hasattr(model, "modules"):
        model.train()
        if not traces_alike(model):
            names = sorted({type(m).__name__ for m in model.modules() if not m.traces_alike()})
            print(
                f"fit(compile=True): {', '.join(names)} draw random numbers or update statistics on every "
                "training call, so the steps run uncompiled",
                file=sys.stderr,
                flush=True,
            )
            return None
    return CompiledStep(model, loss_fn)
