"""Nodes: a value plus how it was made.

The lesson's ``Node`` holds its ``inputs``, a ``name``, a ``value`` and the
gradient of the loss with respect to itself. Here that is the whole of a node:

- leaves: ``Placeholder`` (fed from outside on every run), ``Variable``
  (trainable, keeps its value across runs) and ``Constant``;
- ``Op`` (in ``op.py``): a node computed from its inputs.

A node never holds references to its consumers; those are found by the
topological sort (``graph.py``). The Python operators (``+ - * / ** @``,
indexing, comparisons) are installed on ``Node`` by ``ops/operators.py``,
because they build op nodes and ``ops/`` sits above this file.
"""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np

from . import dtype as _dtype
from .errors import describe

_serial = itertools.count()
creation_order = itertools.count()  # every node's _seq: a node is always created after its inputs


# ---------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """False inside ``no_grad()`` (in this thread)."""
    return _grad_mode.enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Build nodes that record no gradient history, like ``torch.no_grad()``.

    Values are still computed; the new nodes have ``requires_grad=False``, so
    backward passes never enter them. Thread-local.
    """
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


# ---------------------------------------------------------------- Node
class Node:
    """A value plus how it was made: ``inputs``, ``name``, ``value``, ``grad``."""

    __slots__ = ("inputs", "_name", "value", "_grad", "_seeded", "requires_grad", "_seq", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> node defers to the node's reflected operator
    __hash__ = object.__hash__  # == is elementwise (like NumPy), identity stays hashable

    inputs: tuple
    value: Any
    requires_grad: bool

    def __init__(self, inputs: Sequence["Node"] = (), name: str | None = None) -> None:
        self.inputs = tuple(inputs)
        self._name = name
        self.value = None
        self._grad = None
        self._seeded = False
        self.requires_grad = False
        self._seq = next(creation_order)

    @property
    def grad(self) -> Any:
        """∂output/∂self after a backward pass (same shape as ``value``), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        # Set by you (the lesson seeds loss.grad = 1) or by a consumer's single
        # backward step: backward() on this node is then the next single step.
        self._grad = value
        self._seeded = value is not None

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

    # the lesson's two steps, overridden by leaves and ops
    def forward(self) -> Any:
        """Recompute ``value`` from the inputs' values (leaves keep theirs)."""
        return self.value

    def backward(self, gradient: Any = None, retain_grads: bool = False) -> None:
        """Backpropagate, in one of the two ways the lesson and PyTorch use it.

        - Usually it is PyTorch's ``loss.backward()``: seed ``∂self/∂self = 1``
          (or ``gradient`` for a non-scalar) and run the whole backward pass;
          leaves accumulate into ``.grad``, intermediate nodes keep theirs only
          with ``retain_grads=True``.
        - If you set ``.grad`` yourself (as the lesson seeds ``loss.grad = 1``),
          or a consumer's single step pushed into it, it is the lesson's single
          step: push ``.grad`` through this op's vjp into each input. Gradients
          written by a whole backward pass (``Graph.backward``) do not count.
        """
        if self._seeded and gradient is None:
            self._push_grad()
            return
        from .graph import backward as run_backward  # graph.py sits above nodes

        run_backward(self, gradient, retain_grads=retain_grads)

    def _push_grad(self) -> None:
        """Leaves have nobody to push to."""

    # conveniences that PyTorch and NumPy users expect
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    @property
    def is_leaf(self) -> bool:
        return not self.inputs

    def numpy(self) -> np.ndarray:
        """The value as an ndarray."""
        return np.asarray(self.value)

    def item(self) -> float:
        """The value of a one-element node as a Python number."""
        return np.asarray(self.value).item()

    def tolist(self) -> Any:
        return np.asarray(self.value).tolist()

    def detach(self) -> "Constant":
        """A Constant holding this node's value (no history)."""
        return Constant(self.value, name=f"{self.name}.detach")

    def zero_grad(self) -> None:
        self.grad = None

    def __len__(self) -> int:
        return len(self.value)

    def __bool__(self) -> bool:
        if np.size(self.value) != 1:
            raise ValueError(f"truth value of node {describe(self)} is ambiguous: it has more than one element")
        return bool(np.asarray(self.value).item())

    def __float__(self) -> float:
        return float(np.asarray(self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.name}"

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.name} = {self.value}"

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a node as the graph that made it (None: text, when Graphviz is missing)."""
        from .see.viz import node_repr_svg  # viz.py sits above nodes

        return node_repr_svg(self)

    # ------------------------------------------------------------ arrays and DLPack (NumPy, PyTorch, ...)
    # np.asarray(node) is the value itself (no copy); np.array(node) copies, as for any array.
    # A node is a DLPack producer: torch.from_dlpack(node) and np.from_dlpack(node) share its memory.
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = np.asarray(self.value)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            if copy is False:
                raise ValueError(f"node {describe(self)} is {arr.dtype}: no {np.dtype(dtype)} view without a copy")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, **kwargs: Any) -> Any:
        return np.asarray(self.value).__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple:
        return np.asarray(self.value).__dlpack_device__()


# ---------------------------------------------------------------- leaves
class Placeholder(Node):
    """An input fed from outside on every run (``graph.forward({x: 3.0})``).

    ``requires_grad`` defaults to True so that, as in the lesson, ``x.grad``
    holds ∂loss/∂x after a backward pass; pass False for data you will never
    differentiate (it saves the work). Integer and bool feeds become the
    default float dtype when the placeholder is differentiable.
    """

    __slots__ = ("dtype_",)

    def __init__(self, name: str | None = None, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__((), name)
        self.requires_grad = requires_grad
        self.dtype_ = None if dtype is None else np.dtype(dtype)

    def feed(self, data: Any) -> None:
        """Set this placeholder's value (what the lesson's ``feed_dict`` does)."""
        self.value = self.convert(data)

    def convert(self, data: Any) -> np.ndarray:
        if isinstance(data, np.generic) and data.dtype.kind == "f" and self.dtype_ is None:
            return data  # a NumPy float scalar computes faster than a 0-d array
        return _dtype.as_array(data, self.dtype_, float_only=self.requires_grad)

    def forward(self, value: Any = None) -> Any:
        """Keep the fed value, or feed ``value`` first."""
        if value is not None:
            self.feed(value)
        return self.value


def _scalar_or_array(arr: np.ndarray) -> Any:
    """A 0-d array as a NumPy scalar: arithmetic on NumPy scalars is several times
    faster than on 0-d arrays, and scalar graphs (the lesson's) are all such steps."""
    return arr[()] if arr.ndim == 0 else arr


class Variable(Node):
    """A trainable leaf: holds its value across runs, accumulates ``.grad``."""

    __slots__ = ()

    def __init__(self, value: Any, name: str | None = None, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__((), name)
        self.value = _scalar_or_array(_dtype.as_array(value, dtype))
        self.requires_grad = requires_grad


class Constant(Node):
    """A leaf that never needs a gradient (Python numbers, data, labels)."""

    __slots__ = ()

    def __init__(self, value: Any, name: str | None = None, dtype: Any = None) -> None:
        super().__init__((), name)
        self.value = _scalar_or_array(_dtype.as_array(value, dtype, float_only=False))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Node:
    """A leaf from data, like ``torch.tensor``: a Variable if it requires grad, else a Constant."""
    if requires_grad:
        return Variable(data, name=name, dtype=dtype)
    return Constant(data, name=name, dtype=dtype)


_number_constants: dict[tuple, "Constant"] = {}


def as_node(x: Any, like: Node | None = None) -> Node:
    """``x`` itself if it is a node, else a Constant; Python numbers take the
    dtype of ``like`` when that is floating (so ``h * 1.0001`` stays float32).

    The Constant for a Python number is shared (at most a few thousand are
    kept): a loop that writes ``h * 1.0001`` builds one constant node, not one
    per step, which also keeps the graph that the sort walks small.
    """
    if isinstance(x, Node):
        return x
    kind = type(x)
    if kind is float or kind is int:
        dt = getattr(like.value, "dtype", None) if like is not None else None
        if dt is not None and dt.kind != "f":
            dt = None
        key = (kind, x, dt)
        node = _number_constants.get(key)
        if node is None:
            if len(_number_constants) >= 4096:
                _number_constants.clear()
            node = _number_constants[key] = Constant(x, name=repr(x), dtype=dt)
            # kept as a 0-d array: NumPy multiplies an array by a 0-d array faster than by a scalar
            node.value = np.asarray(node.value)
        return node
    return Constant(x)
