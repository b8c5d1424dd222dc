"""``cr.from_dlpack``: a node that shares memory with an array from another library.

DLPack is the protocol array libraries use to hand each other memory without a
copy: ``cr.from_dlpack(torch_tensor)`` or ``cr.from_dlpack(numpy_array)``
makes a node whose value *is* that memory (writes on either side show on the
other), and a node is itself a DLPack producer (``torch.from_dlpack(node)``,
``np.from_dlpack(node)``; see the end of ``Node`` in ``node.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..node import Constant, Node, Variable


def from_dlpack(x: Any, requires_grad: bool = False, name: str | None = None) -> Node:
    """A node whose value shares memory with ``x``, any DLPack producer on the CPU (a
    PyTorch CPU tensor, a NumPy array, a JAX or CuPy host array...), like ``torch.from_dlpack``.

    A Constant, or with ``requires_grad=True`` a Variable (trainable: a floating
    array keeps its memory; an integer one becomes the default float, a copy).
    """
    try:
        array = np.from_dlpack(x)
    except (TypeError, AttributeError, BufferError) as exc:
        raise TypeError(
            f"cr.from_dlpack needs a CPU array that supports DLPack (a PyTorch CPU tensor, a NumPy "
            f"array...), got {type(x).__name__}: {exc}"
        ) from exc
    return Variable(array, name=name) if requires_grad else Constant(array, name=name)
