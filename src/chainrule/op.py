"""``Op``: a node computed from its inputs, the base class of every operation.

An op class writes its math as ``forward(self, *arrays)`` and its
vector-Jacobian product as ``vjp(self, g, out, *inputs)`` side by side (see
``ops/``). This file holds what they share: building a node eagerly, the one
place input dtypes are reconciled and options are checked, turning NumPy's
complaints into errors that name the node, and the lesson's argument-less
``node.forward()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import hooks, release
from .dtype import FLOAT, reconcile
from .errors import ChainruleError, GradientError, MissingFeedError, OptionError, ShapeError, describe, option_error
from .grad_mode import grad_mode
from .memory import collector
from .node import COMPUTE_ERRORS, Node, Placeholder, _argument_less, as_node, creation_order


def _lift(inputs: tuple) -> tuple:
    """Inputs as nodes; Python numbers take the dtype of the first floating node (or stay
    weak Python numbers while some input has no value: see ``as_node``)."""
    like = None
    for i in inputs:
        if isinstance(i, Node):
            if i.value is None:
                like = i
                break
            dt = getattr(i.value, "dtype", None)
            if dt is not None and dt.kind == "f" and like is None:
                like = i
    return tuple(as_node(i, like) for i in inputs)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _Forward:
    """An op's ``forward`` as its class wrote it (the math on arrays), which also
    answers the lesson's argument-less ``node.forward()``.

    On the class it *is* the function the op wrote (``help(cr.Sigmoid.forward)``
    shows its own text); on a node, ``node.forward(x)`` runs the math and
    ``node.forward()`` recomputes and stores ``node.value`` from the inputs'
    values; ``super().forward(x)`` in a subclass works as usual.
    """

    def __init__(self, math: Callable[..., Any]) -> None:
        self.math = math

    def __get__(self, node: Any, cls: type | None = None) -> Any:
        if node is None:
            return self.math
        return _BoundForward(node, self.math)


class _BoundForward:
    __slots__ = ("node", "math")

    def __init__(self, node: Op, math: Callable[..., Any]) -> None:
        self.node, self.math = node, math

    def __call__(self, *arrays: Any) -> Any:
        if arrays:
            return self.math(self.node, *arrays)
        return self.node._forward_step()


class Op(Node):
    """A node computed from its inputs.

    A subclass writes ``forward(self, *arrays) -> array`` (the math) and
    ``vjp(self, g, out, *inputs) -> tuple`` (one gradient per input, ``None``
    where an input is not differentiable), using chainrule's own functions so
    the same rule runs on arrays (ordinary backward) or on nodes
    (``create_graph=True``). Op attributes (``axis``, ``keepdims``...) are
    declared as class attributes with their defaults and passed by keyword;
    ``check_options`` checks them when the node is built.

    ``dtypes`` declares how the engine reconciles the inputs' dtypes before the
    op computes (``"promote"`` for arithmetic, ``"float"`` for ops whose results are
    real numbers, ``"narrow"`` for losses, None to leave them; ``dtype_keep``: input
    positions left alone, such as labels): op bodies never cast. The engine also
    casts each gradient back to its input's dtype, as it sums it back to its
    input's shape.

    ``formula`` and ``derivatives`` are the short symbolic forms that
    narration and ``explain`` print: ``formula.format(*input_names)`` and one
    local-derivative string per input.
    """

    formula = ""
    derivatives: tuple = ()
    differentiable = True
    # What the vjp reads: "output", "inputs" (all), or input positions. An input left out may
    # still have its shape, dtype and ndim read. release.py frees the values nothing reads.
    vjp_reads: tuple = ("inputs", "output")
    _checks = False
    _releasable = False  # whether the vjp leaves its own output unread (from vjp_reads)
    _reads_inputs: frozenset | None = None  # the input positions it reads; None: all

    def __init_subclass__(cls, **kwargs: Any) -> None:
        math = cls.__dict__.get("forward")
        if _argument_less(math):
            raise TypeError(
                f"{cls.__name__}.forward(self) takes no arrays: an Op writes forward(self, *arrays) "
                "returning the value (and vjp(self, g, out, *inputs)). For the lesson's "
                "forward(self) that sets self.value, subclass cr.Node instead"
            )
        super().__init_subclass__(**kwargs)
        cls._checks = cls.check_options is not Op.check_options  # most ops have no options to check
        if "vjp" in cls.__dict__ and "vjp_reads" not in cls.__dict__:
            cls.vjp_reads = Op.vjp_reads  # a new vjp reads everything unless it says otherwise
        reads = cls.vjp_reads
        cls._releasable = "output" not in reads
        cls._reads_inputs = None if "inputs" in reads else frozenset(r for r in reads if r != "output")
        if math is not None:
            cls._math = math  # type: ignore[method-assign]  # the engine calls the math directly
            cls.forward = _Forward(math)  # type: ignore[method-assign,assignment]  # see _Forward

    def __init__(self, *inputs: Any, name: str | None = None, **attrs: Any) -> None:
        # The hot path of eager mode: every op built runs this, so it is written flat, the usual
        # binary and unary ops first (no loop over their inputs).
        if len(inputs) == 2:
            a, b = inputs
            if not (isinstance(a, Node) and isinstance(b, Node)):
                a, b = inputs = _lift(inputs)
            requires_grad = a.requires_grad or b.requires_grad
            values: Sequence[Any] = (a.value, b.value)
            ready = values[0] is not None and values[1] is not None
        elif len(inputs) == 1:
            a = inputs[0]
            if not isinstance(a, Node):
                (a,) = inputs = _lift(inputs)
            requires_grad, values = a.requires_grad, (a.value,)
            ready = values[0] is not None
        else:
            if not all(isinstance(i, Node) for i in inputs):
                inputs = _lift(inputs)
            requires_grad = any(n.requires_grad for n in inputs)
            values = [n.value for n in inputs]
            ready = all(v is not None for v in values)
        self.inputs = inputs
        self._name = name
        self.grad = self._outputs = self._gradients = None
        self._seq = seq = next(creation_order)
        if seq >= collector.next_check:  # a big graph is being built: see memory.CollectorPolicy
            collector.grown(self)
        if attrs:
            self._set_attrs(attrs)
        if self._checks:
            self.check_options()
        self.requires_grad = wanted = True if requires_grad and self.differentiable and grad_mode.enabled else False
        if not ready:  # define-then-run: a Graph computes it once the placeholders are fed
            self.value = None
            return
        # eager: compute now (``_compute``, inlined: this runs once per op built)
        policy = self.dtypes
        if policy is not None:  # (inline: most ops' inputs have one floating dtype already)
            first = getattr(values[0], "dtype", None)
            if len(values) > 1 and (first is None or getattr(values[1], "dtype", None) is not first or len(values) > 2):
                values = reconcile(values, policy, self.dtype_keep)
            elif policy is FLOAT and first is not None and first.kind in "iub":  # integers alone: a float
                values = reconcile(values, policy, self.dtype_keep)
        try:
            self.value = value = self._math(*values)
        except OptionError:
            raise
        except COMPUTE_ERRORS as exc:
            raise self.input_error(exc, values) from exc
        if not wanted:
            if not grad_mode.enabled:
                self.inputs = ()  # no_grad(): the value, and no graph holding every value before it
            return
        if release.candidates:  # some big value may be released: this op pins it or holds it
            release.built(self)
        # its vjp does not read its value: a big one may go once nothing holds it (the size is
        # checked here first: this runs once per op built, and most values are small)
        if self._releasable and getattr(value, "nbytes", 0) >= release.THRESHOLD:
            release.consider(self)

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
        op.inputs, op._name = (), None
        if attrs:
            # not checked for unknown names here: the lower-case functions (every caller) pass
            # only the op's own attributes, and this path runs several times per backward step
            op.__dict__.update(attrs)
            op.check_options()
        return op._compute(args)

    # ------------------------------------------------------------ computing
    def _math(self, *arrays: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def _compute(self, values: Sequence[Any]) -> Any:
        """The math on these input values, in the dtypes the op declares, with NumPy's
        complaints turned into errors that name this op, its inputs and their shapes."""
        policy = self.dtypes
        if policy is not None:
            first = getattr(values[0], "dtype", None) if policy is FLOAT and len(values) == 1 else None
            if first is None or first.kind != "f":  # (exp of a float array, each run: nothing to do)
                values = reconcile(values, policy, self.dtype_keep)
        try:
            return self._math(*values)
        except OptionError:  # already names this op and the option
            raise
        except COMPUTE_ERRORS as exc:
            raise self.input_error(exc, values) from exc

    def _evaluate(self) -> Any:
        """The value from the inputs' current values (``Graph.forward`` runs this per op)."""
        return self._compute([n.value for n in self.inputs])

    def _forward_step(self) -> Any:
        """The lesson's ``node.forward()``: recompute and store ``value`` from the inputs' values."""
        for n in self.inputs:
            if n.value is None:
                what = "was not fed" if isinstance(n, Placeholder) else "has no value yet"
                raise MissingFeedError(
                    f"{type(self).__name__} '{self.name}'.forward(): its input {describe(n)} "
                    f"{what}; feed the placeholders and call forward() on the nodes in "
                    "topological order"
                )
        self.value = self._evaluate()
        hooks.notify("forward", self, False)
        return self.value

    def input_error(self, exc: Exception, values: Sequence[Any]) -> ChainruleError:
        """The error for NumPy's complaint ``exc`` about this op's input ``values``: an
        OptionError for an axis out of range, else a ShapeError."""
        if self.inputs:
            inputs = ", ".join(describe(n, v) for n, v in zip(self.inputs, values))
        else:
            inputs = ", ".join(f"shape {np.shape(v)}" for v in values)
        if isinstance(exc, np.exceptions.AxisError):
            return OptionError(f"{type(self).__name__} '{self.name}' with inputs {inputs}: {exc}")
        return ShapeError(f"{type(self).__name__} '{self.name}' cannot combine its inputs {inputs}: {exc}")

    # ------------------------------------------------------------ options
    def check_options(self) -> None:
        """Check this op's options when the node is built (raise ``OptionError``, see
        ``check_choice``). Inputs are known; their values may not be yet."""

    def check_choice(self, option: str, allowed: Sequence[Any]) -> None:
        """``option`` must be one of ``allowed``."""
        value = getattr(self, option)
        if value not in allowed:
            raise self.option_error(option, "is not one of " + ", ".join(repr(a) for a in allowed))

    def check_axis(self, option: str = "axis", many: bool = True, none: bool = True) -> None:
        """``option`` must be an int (or, with ``many``, a tuple of distinct ints; with ``none``,
        None). Whether it is in range is known once the input has a value: NumPy's complaint
        then becomes an OptionError too (see ``input_error``)."""
        value = getattr(self, option)
        if value is None and none:
            return
        items = value if many and isinstance(value, tuple) else (value,)
        if not all(_is_int(a) for a in items) or len(set(items)) != len(items):
            allowed = "an int" + (", a tuple of distinct ints" if many else "") + (" or None" if none else "")
            raise self.option_error(option, f"is not {allowed}")

    def option_error(self, option: str, allowed: str) -> OptionError:
        """``MSE 'loss': reduction='avg' is not one of 'mean', 'sum', 'none'``."""
        return option_error(f"{type(self).__name__} '{self.name}'", option, getattr(self, option), allowed)

    # ------------------------------------------------------------ gradients
    def vjp(self, g: Any, out: Any, *inputs: Any) -> tuple:
        raise GradientError(f"{type(self).__name__} '{self.name}' is not differentiable")
