"""``Parameter``: a Variable that a Module holds as one of its parameters (``torch.nn.Parameter``).

A module finds its parameters by walking its attributes, so any ``Variable``
attribute already counts; ``Parameter`` says so by its type, takes PyTorch's
arguments (``Parameter(data, requires_grad=True)``), and is what the built-in
layers hold, so ``isinstance(layer.weight, nn.Parameter)`` is true as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtype as _dtype
from ..node import Node, Variable


class Parameter(Variable):
    """A trainable tensor of a module: ``self.scale = nn.Parameter(np.ones(4))``.

    ``data``: an array, a number, or a node (its value is shared); None gives an
    empty array of the default dtype. Floating data keeps its dtype; Python
    numbers and integers become the default float dtype.
    """

    __slots__ = ()

    def __init__(
        self, data: Any = None, requires_grad: bool = True, *, name: str | None = None, dtype: Any = None
    ) -> None:
        if isinstance(data, Node):
            data = data.value
        if data is None:
            data = np.empty(0, dtype=_dtype.get_default_dtype() if dtype is None else dtype)
        super().__init__(data, name=name, requires_grad=requires_grad, dtype=dtype)
