"""What PyTorch and NumPy users expect of a node: ``shape``, ``dtype``, ``item()``,
``numpy()``, ``len()``, ``float()``, ``np.asarray(node)``, ``repr``.

A mixin of ``Node`` (in ``node.py``), kept apart so that the lesson's part of a
node, its inputs, value, gradients and two steps, reads on its own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import describe


def summarise(value: Any) -> str:
    """An array on one line, long ones elided with ``...`` as NumPy does."""
    value = np.asarray(value)
    if value.ndim == 0:
        return str(value[()])
    text = np.array2string(value, separator=", ", threshold=20, edgeitems=3)
    return " ".join(text.split())


class ArrayMethods:
    """Array conveniences for an object with ``value`` (an ndarray or NumPy scalar) and ``name``."""

    __slots__ = ()
    value: Any
    name: str
    grad: Any

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

    def __repr__(self) -> str:
        """The lesson's ``Placeholder: y`` (all there is before a value exists), then the value
        summarised as NumPy does, its dtype, and whether it takes a gradient:
        ``Variable: W = [[0.5, -1. ], [2. , 0.25]] (float32, requires_grad=True, grad=None)``."""
        head = f"{type(self).__name__}: {self.name}"
        if self.value is None:
            return head
        value = np.asarray(self.value)
        about = [str(value.dtype)]
        if self.requires_grad:
            about.append("requires_grad=True")
            about.append("grad=None" if self.grad is None else f"grad={summarise(self.grad)}")
        return f"{head} = {summarise(value)} ({', '.join(about)})"

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.name} = {self.value}"
