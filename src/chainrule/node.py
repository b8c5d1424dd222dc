"""Nodes: a value plus how it was made.

The lesson's ``Node`` holds its ``inputs``, a ``name``, a ``value``, its
``outputs`` (the nodes that consume it) and a ``gradients`` dict; here that is
the whole of a node too:

- leaves: ``Placeholder`` (fed from outside on every run), ``Variable``
  (trainable, keeps its value across runs) and ``Constant``;
- ``Op`` (in ``op.py``): a node computed from its inputs by array math;
- a learner's own subclass of ``Node``, written the lesson's way, with an
  argument-less ``forward()`` that sets ``self.value`` and ``backward()`` that
  fills ``self.gradients``: it works next to the built-in ops (see ``vjp``).

An eager node never holds references to its consumers, so a training loop that
rebuilds its graph every step does not leak: ``outputs`` is filled only by
``cr.topological_sort`` and ``cr.Graph``, for the lesson's loops. The Python
operators (``+ - * / ** @``, indexing, comparisons) are installed on ``Node``
by ``ops/operators.py``, because they build op nodes and ``ops/`` sits above.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dtype as _dtype
from . import hooks
from .arraylike import ArrayMethods
from .backprop import backpropagate, run_backward
from .errors import GradientError, ShapeError, describe
from .grad_mode import grad_mode
from .grad_mode import is_grad_enabled as is_grad_enabled  # (re-exported: chainrule.node.no_grad still works)
from .grad_mode import no_grad as no_grad

_serial = itertools.count()
creation_order = itertools.count()  # every node's _seq: a node is always created after its inputs
COMPUTE_ERRORS = (ValueError, IndexError, TypeError)  # what NumPy raises on inputs it cannot combine


def value_of(x: Any) -> Any:
    """The value of a node, or ``x`` itself (an array, a number)."""
    return x.value if isinstance(x, Node) else x


def _argument_less(method: Any) -> bool:
    """Whether ``method`` can be called with no arguments but ``self``: the lesson's
    ``forward(self)``, as opposed to an op's ``forward(self, *arrays)``."""
    if not inspect.isfunction(method):
        return False
    params = list(inspect.signature(method).parameters.values())[1:]
    return all(
        p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) or (p.kind != p.VAR_POSITIONAL and p.default is not p.empty)
        for p in params
    )


def _as_scalar_or_array(value: Any) -> Any:
    """A computed value as an ndarray, or a NumPy scalar for one element: arithmetic on
    NumPy scalars is several times faster than on 0-d arrays, and scalar graphs (the
    lesson's) are all such steps."""
    if isinstance(value, np.generic):
        return value
    arr = np.asarray(value)
    return arr[()] if arr.ndim == 0 else arr


# ---------------------------------------------------------------- Node
class Node(ArrayMethods):
    """A value plus how it was made: ``inputs``, ``name``, ``value``, ``grad``;
    ``outputs`` and ``gradients`` for the lesson's node-by-node loops."""

    __slots__ = ("inputs", "_name", "value", "grad", "requires_grad", "_seq", "_outputs", "_gradients", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> node defers to the node's reflected operator
    __hash__ = object.__hash__  # == is elementwise (like NumPy), identity stays hashable
    dtypes: str | None = None  # an op's dtype policy (see op.py); a learner's node computes as written
    saved_for_backward: tuple = ()  # attributes holding arrays kept for the vjp, dropped after it (memory.py)
    dtype_keep: tuple = ()

    inputs: tuple[Node, ...]
    value: Any
    grad: Any
    requires_grad: bool
    _name: str | None
    _seq: int
    _outputs: list[Any] | None
    _gradients: dict[Any, Any] | None

    def __init__(self, inputs: Sequence[Any] = (), name: str | None = None) -> None:
        self.inputs = tuple(as_node(i) for i in inputs)
        self._name = name
        self.value = None
        self.grad = None  # ∂output/∂self after a backward pass (same shape as value), or None
        # a leaf the lesson builds wants its gradient; a computed node wants one if an input does
        self.requires_grad = any(i.requires_grad for i in self.inputs) and grad_mode.enabled if self.inputs else True
        self._seq = next(creation_order)
        self._outputs = None
        self._gradients = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A learner's node written the lesson's way computes its value as soon as it is
        # built, like every op does (once its own __init__ has set it up).
        if _argument_less(cls.__dict__.get("forward")):
            _compute_when_built(cls)

    @property
    def name(self) -> str:
        """The given name, or ``<op>_<n>`` numbered when first asked for (naming every
        node at build time would cost a string per node on the hot path)."""
        if self._name is None:
            self._name = f"{type(self).__name__.lower()}_{next(_serial)}"
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def outputs(self) -> list:
        """The nodes that consume this one, in the graph ``cr.topological_sort`` or
        ``cr.Graph`` last sorted it into (empty until then)."""
        if self._outputs is None:
            self._outputs = []
        return self._outputs

    @outputs.setter
    def outputs(self, nodes: list) -> None:
        self._outputs = nodes

    @property
    def gradients(self) -> dict:
        """``gradients[input]``: ∂output/∂input through this node, as its last backward
        step sent it (the lesson's dict). ``input.grad`` is the sum over its consumers."""
        if self._gradients is None:
            self._gradients = {}
        return self._gradients

    @gradients.setter
    def gradients(self, sent: dict) -> None:
        self._gradients = sent

    # ------------------------------------------------------------ the lesson's two steps
    def forward(self) -> Any:
        """A leaf keeps its value (the lesson's loop calls this on every node)."""
        hooks.notify("forward", self, False)
        return self.value

    def backward(self, gradient: Any = None, retain_grads: bool = False, retain_graph: bool = False) -> None:
        """Backpropagate. One method, two meanings, told apart by ``self.outputs``:

        - **Nothing consumes this node** in a sorted graph (``outputs`` is empty: an
          output, like the lesson's ``loss``, or any node never given to
          ``cr.topological_sort``/``cr.Graph``): a whole backward pass starts here,
          PyTorch's ``loss.backward()``. ∂self/∂self is ``gradient``, else the
          ``.grad`` you set (the lesson's ``loss.grad = 1``), else 1 for a
          one-element node; every leaf that requires grad *adds* ∂self/∂leaf to
          its ``.grad``; intermediate nodes keep theirs only with ``retain_grads``.
          Intermediate values that nothing outside the graph holds are released as
          the pass goes (PyTorch's ``retain_graph=False``); ``retain_graph=True``
          keeps them all, for a second backward.
        - **It has consumers** (``outputs``, filled by the sort) and no ``gradient``
          is given: one step of the lesson's loop ``for n in reversed(order):
          n.backward()``. ``.grad`` becomes the sum of what the consumers sent
          (``c.gradients[self]``: replaced, never added to a stale value), then this
          node sends ∂output/∂input to each input in ``self.gradients``.

        Passing ``gradient`` always means the first. ``cr.backward(node)`` is the
        first by name, whatever the node.
        """
        consumers = self._outputs
        if gradient is None and consumers:
            self._backward_step(consumers)
            return
        if gradient is None and self.grad is not None and self.inputs:
            gradient = self.grad  # seeded by hand, as the lesson does
        run_backward(self, gradient, retain_grads=retain_grads, retain_graph=retain_graph)
        hooks.notify("backward", self)

    def _backward_step(self, consumers: list[Any]) -> None:
        """The lesson's single backward step (see ``backward``)."""
        total = None
        if self.requires_grad:
            for consumer in consumers:
                sent = consumer._gradients
                if sent is None or self not in sent:
                    raise GradientError(
                        f"{describe(self)}.backward() is one step of the lesson's backward loop: it adds up "
                        f"what its consumers sent it, but '{consumer.name}' has not sent anything yet. Call "
                        "backward() on the nodes in reversed(topological_sort(output)), output first "
                        "(output.grad = 1), or pass gradient= to start a whole backward pass here"
                    )
                part = sent[self]
                if part is not None:
                    total = part if total is None else total + part
        if self.requires_grad or self.inputs:
            self.grad = total
        if self.inputs:
            if total is None:
                self._gradients = dict.fromkeys(self.inputs)
            else:  # the backward loop on this one node: it records what the node sends
                backpropagate([self], [(self, total)], keep="none", record=self)
        hooks.notify("backward", self)

    def vjp(self, g: Any, out: Any, *inputs: Any) -> tuple:
        """The vector-Jacobian product of a node written the lesson's way: hand its own
        ``backward()`` the upstream gradient ``g`` the way the lesson does (as what a
        consumer sent it, ``self.outputs[0].gradients[self]``) and read what it wrote
        into ``self.gradients``. Its local derivative is this with ``g`` = 1."""
        own_backward = type(self).backward
        if own_backward is Node.backward:
            raise GradientError(
                f"{describe(self)} has no backward() of its own: write backward(self) "
                "filling self.gradients[input], or subclass cr.Op and write vjp()"
            )
        if isinstance(g, Node):
            raise GradientError(
                f"{describe(self)} is written the lesson's way (with NumPy), so it cannot be "
                "differentiated twice (create_graph=True); write it as a cr.Op with a vjp"
            )
        saved = self._outputs, self._gradients
        self._outputs, self._gradients = [_Upstream(self, g)], {}
        try:
            own_backward(self)
            sent = self.gradients
        finally:  # asking for a vjp leaves the node as it was (a Graph pass records its own step)
            self._outputs, self._gradients = saved
        return tuple(_lesson_part(sent, inp) for inp in self.inputs)  # a node used twice gets its total once

    def detach(self) -> Constant:
        """A Constant holding this node's value (no history)."""
        return Constant(self.value, name=f"{self.name}.detach")

    def _evaluate(self) -> Any:
        """Run the learner's own ``forward()`` and return the value it set."""
        try:
            self.forward()
        except COMPUTE_ERRORS as exc:
            inputs = ", ".join(describe(n) for n in self.inputs)
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' cannot compute from its inputs {inputs}: {exc}"
            ) from exc
        if self.value is None:
            raise ShapeError(f"{type(self).__name__} '{self.name}': forward() must set self.value")
        self.value = _as_scalar_or_array(self.value)
        return self.value


def _lesson_part(sent: dict, node: Node) -> Any:
    """What a lesson-style backward wrote for ``node`` (once per input node), as an array."""
    part = sent.pop(node, None)
    return None if part is None else _as_scalar_or_array(part)


class _Upstream:
    """The consumer a lesson-style node reads its upstream gradient from during a whole
    backward pass: ``self.outputs[0].gradients[self]`` is ``g``."""

    name = "upstream"

    def __init__(self, node: Node, g: Any) -> None:
        self.gradients = {node: g}


def _compute_when_built(cls: type[Node]) -> None:
    """Wrap ``cls.__init__`` so that an instance whose inputs all have values computes
    its own value once built (the outermost class's __init__ does it, once)."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Node, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self) is cls and self.inputs and all(i.value is not None for i in self.inputs):
            self._evaluate()

    cls.__init__ = __init__  # type: ignore[method-assign]  # replacing the class's __init__ is the point


# ---------------------------------------------------------------- leaves
class Placeholder(Node):
    """An input fed from outside on every run (``graph.forward({x: 3.0})``).

    ``requires_grad`` defaults to True so that, as in the lesson, ``x.grad``
    holds ∂loss/∂x after a backward pass; pass False for data you will never
    differentiate (it saves the work).

    What a feed becomes: a Python number, the default float dtype (like
    ``cr.Variable(3)``); a floating array, itself (its dtype kept); an integer
    or bool array or list (class labels, indices), itself, still integer, and
    then the placeholder takes no gradient, as PyTorch's integer tensors take
    none. So ``cross_entropy(X @ W, labels)`` works with labels fed as integers,
    and ``labels.grad`` stays None. (``dtype=`` converts every feed to that dtype.)
    """

    __slots__ = ("dtype_", "_wants_grad")

    def __init__(self, name: str | None = None, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__((), name)
        self.requires_grad = requires_grad
        self.dtype_ = None if dtype is None else np.dtype(dtype)

    @property
    def requires_grad(self) -> bool:
        """As asked when built, while the value fed is floating (integer data has no gradient); a
        Python number set straight into ``value`` (the lesson's ``x.value = 3``) counts as floating."""
        dtype = getattr(self.value, "dtype", None)
        return self._wants_grad and (dtype is None or dtype.kind == "f")

    @requires_grad.setter
    def requires_grad(self, wanted: bool) -> None:
        self._wants_grad = bool(wanted)

    def feed(self, data: Any) -> None:
        """Set this placeholder's value (what the lesson's ``feed_dict`` does)."""
        self.value = self.convert(data)

    def convert(self, data: Any) -> np.ndarray | np.generic:
        if isinstance(data, np.generic) and data.dtype.kind == "f" and self.dtype_ is None:
            return data  # a NumPy float scalar computes faster than a 0-d array
        if isinstance(data, (int, float)) and self.dtype_ is None:
            return _dtype.as_array(float(data))  # a Python number: the default float, as a Variable's
        return _dtype.as_array(data, self.dtype_, float_only=False)

    def forward(self, value: Any = None) -> Any:
        """Keep the fed value, or feed ``value`` first."""
        if value is not None:
            self.feed(value)
        hooks.notify("forward", self, self.value is not None)
        return self.value


class Variable(Node):
    """A trainable leaf: holds its value across runs, accumulates ``.grad``."""

    __slots__ = ()

    def __init__(self, value: Any, name: str | None = None, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__((), name)
        self.value = _as_scalar_or_array(_dtype.as_array(value, dtype))
        self.requires_grad = requires_grad


class Constant(Node):
    """A leaf that never needs a gradient (Python numbers, data, labels)."""

    __slots__ = ()

    def __init__(self, value: Any, name: str | None = None, dtype: Any = None) -> None:
        super().__init__((), name)
        self.value = _as_scalar_or_array(_dtype.as_array(value, dtype, float_only=False))
        self.requires_grad = False


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Node:
    """A leaf from data, like ``torch.tensor``: a Variable if it requires grad, else a Constant."""
    if requires_grad:
        return Variable(data, name=name, dtype=dtype)
    return Constant(data, name=name, dtype=dtype)


_number_constants: dict[tuple, Constant] = {}
# id(number) -> (number, the dtype it was lifted against, the default dtype then, its Constant):
# a loop that writes ``h * 1.0001`` lifts the same number object against the same dtype object
# every step, found here by identity, without hashing a key of dtypes (W3: about 0.1 µs a lift)
_lifted: dict[int, tuple] = {}


def as_node(x: Any, like: Node | None = None) -> Node:
    """``x`` itself if it is a node, else a Constant; Python numbers take the
    dtype of ``like`` when that is floating (so ``h * 1.0001`` stays float32).

    When ``like`` has no value yet (a define-then-run graph, built before its
    placeholders are fed), the dtype is not known: the Constant keeps the Python
    number itself, which NumPy treats as weak, so ``x * 0.1`` is computed in the
    dtype fed for x, at full precision, as eagerly.

    The Constant for a Python number is shared (at most a few thousand are
    kept): a loop that writes ``h * 1.0001`` builds one constant node, not one
    per step, which also keeps the graph that the sort walks small.
    """
    if isinstance(x, Node):
        return x
    kind = type(x)
    if kind is float or kind is int:
        value = None if like is None else like.value
        like_dtype = getattr(value, "dtype", None)
        if like_dtype is not None:  # first, the same number object against the same dtype as last time
            seen = _lifted.get(id(x))  # (the entry holds x: its id is not reused while it is there)
            if seen is not None and seen[0] is x and seen[1] is like_dtype and seen[2] is _dtype._default:
                return seen[3]
        weak = like is not None and value is None
        dt = like_dtype if like_dtype is not None and like_dtype.kind == "f" else None
        # the default float dtype is part of the key: it may change between uses
        key = (kind, x, "weak" if weak else dt, _dtype._default)  # (the attribute: a call costs more here)
        node = _number_constants.get(key)
        if node is None:
            if len(_number_constants) >= 4096:
                _number_constants.clear()
            node = _number_constants[key] = Constant(x, name=repr(x), dtype=dt)
            # kept as a 0-d array: NumPy multiplies an array by a 0-d array faster than by a scalar;
            # or as the Python number itself, weak, until the graph's dtype is known
            node.value = x if weak else np.asarray(node.value)
        if like_dtype is not None:
            if len(_lifted) >= 4096:
                _lifted.clear()
            _lifted[id(x)] = (x, like_dtype, _dtype._default, node)
        return node
    return Constant(x)
