"""``Op``: a node computed from its inputs, the base class of every operation.

An op class writes its math as ``forward(self, *arrays)`` and its
vector-Jacobian product as ``vjp(self, g, out, *inputs)`` side by side (see
``ops/``). This file holds what they share: building a node eagerly,
checking inputs, and the lesson's node-by-node ``forward()``/``backward()``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .broadcast import unbroadcast
from .errors import GradientError, ShapeError, describe
from .node import Node, _grad_mode, as_node, creation_order

COMPUTE_ERRORS = (ValueError, IndexError, TypeError)  # what NumPy raises on inputs it cannot combine


def _lift(inputs: tuple) -> tuple:
    """Inputs as nodes; Python numbers take the dtype of the first floating node."""
    like = None
    for i in inputs:
        if isinstance(i, Node):
            dt = getattr(i.value, "dtype", None)
            if dt is not None and dt.kind == "f":
                like = i
                break
    return tuple(as_node(i, like) for i in inputs)


class Op(Node):
    """A node computed from its inputs.

    A subclass writes ``forward(self, *arrays) -> array`` (the math) and
    ``vjp(self, g, out, *inputs) -> tuple`` (one gradient per input, ``None``
    where an input is not differentiable), using chainrule's own functions so
    the same rule runs on arrays (ordinary backward) or on nodes
    (``create_graph=True``). Op attributes (``axis``, ``keepdims``...) are
    declared as class attributes with their defaults and passed by keyword.

    ``formula`` and ``derivatives`` are the short symbolic forms that
    narration and ``explain`` print: ``formula.format(*input_names)`` and one
    local-derivative string per input.
    """

    formula = ""
    derivatives: tuple = ()
    differentiable = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The subclass's forward(*arrays) is the math; keep it as _compute so that
        # the lesson's argument-less node.forward() (below) stays available too.
        math = cls.__dict__.get("forward")
        if math is not None:
            cls._compute = math
            delattr(cls, "forward")

    def __init__(self, *inputs: Any, name: str | None = None, **attrs: Any) -> None:
        # The hot path of eager mode: every op built runs this, so it is written flat.
        if attrs:
            self._set_attrs(attrs)
        for i in inputs:
            if not isinstance(i, Node):
                inputs = _lift(inputs)
                break
        self.inputs = inputs
        self._name = name
        self._grad = None
        self._seeded = False
        self._seq = next(creation_order)
        requires_grad = False
        values = []
        ready = True
        for n in inputs:
            if n.requires_grad:
                requires_grad = True
            v = n.value
            if v is None:
                ready = False
            values.append(v)
        self.requires_grad = requires_grad and self.differentiable and _grad_mode.enabled
        # eager: compute now if every input has a value (define-then-run graphs fill it later)
        if not ready:
            self.value = None
            return
        try:  # compute_checked, inlined: this line runs once per op built
            self.value = self._compute(*values)
        except COMPUTE_ERRORS as exc:
            raise self.shape_error(exc, values) from exc

    def _set_attrs(self, attrs: dict) -> None:
        for key, val in attrs.items():
            if not hasattr(type(self), key) or key.startswith("_") or key in Node.__slots__:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{key}'")
            setattr(self, key, val)

    @classmethod
    def apply(cls, *args: Any, **attrs: Any) -> Any:
        """Arrays in → array out (the fast path backward uses); any node in → a node."""
        for a in args:
            if isinstance(a, Node):
                return cls(*args, **attrs)
        op = cls.__new__(cls)
        if attrs:
            # not validated here: the lower-case functions (every caller) pass only the
            # op's own attributes, and this path runs several times per backward step
            op.__dict__.update(attrs)
        return op._compute(*args)

    def compute_checked(self, values: Sequence[Any]) -> Any:
        """``forward`` on these input values, turning NumPy's complaints into a
        ShapeError that names this op, its input nodes and their shapes."""
        try:
            return self._compute(*values)
        except COMPUTE_ERRORS as exc:
            raise self.shape_error(exc, values) from exc

    def shape_error(self, exc: Exception, values: Sequence[Any] | None = None) -> ShapeError:
        """The ShapeError for NumPy's complaint ``exc`` about this op's inputs
        (``values``: the input values it was given, if not yet stored in the inputs)."""
        if values is None:
            values = [n.value for n in self.inputs]
        inputs = ", ".join(describe(n, v) for n, v in zip(self.inputs, values))
        return ShapeError(f"{type(self).__name__} '{self.name}' cannot combine its inputs {inputs}: {exc}")

    def forward(self, *arrays: Any) -> Any:
        """With no arguments (the lesson's ``node.forward()``): recompute and store
        ``value`` from the inputs' values. With arrays: return the math on them."""
        if arrays:
            return self._compute(*arrays)
        self.value = self.compute_checked([n.value for n in self.inputs])
        return self.value

    def _compute(self, *arrays: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def vjp(self, g: Any, out: Any, *inputs: Any) -> tuple:
        raise GradientError(f"{type(self).__name__} '{self.name}' is not differentiable")

    def _push_grad(self) -> None:
        """The lesson's backward step: ``input.grad += vjp(self.grad)`` for each input."""
        values = [n.value for n in self.inputs]
        parts = self.vjp(self.grad, self.value, *values)
        for node, part in zip(self.inputs, parts):
            if part is None or not node.requires_grad:
                continue
            part = unbroadcast(part, np.shape(node.value))
            node.grad = part if node.grad is None else node.grad + part

    def describe_shapes(self) -> str:
        return ", ".join(describe(n) for n in self.inputs)
