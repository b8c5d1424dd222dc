"""The ONNX graph under construction: operators, initializers, inputs, and the
ONNX name of each chainrule node's value. The op table (``onnx_ops.py``)
writes into it; ``onnx.py`` assembles the model from it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..node import Node


class Builder:
    """The ONNX graph being built: operators, initializers, inputs, and the ONNX
    name of each chainrule node's value (``names``, by node id)."""

    def __init__(self, onnx: Any, batch: int | None) -> None:
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.batch = batch  # the example's batch size, None without a dynamic batch axis
        self.nodes: list = []
        self.initializers: list = []
        self.graph_inputs: list = []
        self.names: dict[int, str] = {}
        self.batched: set[int] = set()  # nodes whose axis 0 is the batch axis
        self.reduced: set[int] = set()  # ops that sum, average... over the batch axis: theirs is not one
        self._used: set[str] = set()
        self._count: dict[str, int] = {}
        self._leaves: dict[int, Node] = {}
        self._made: dict[tuple, str] = {}  # (node id, dtype) -> name, for leaves and casts

    def fresh(self, hint: str) -> str:
        """A value name not used yet."""
        name = hint
        while name in self._used:
            self._count[hint] = self._count.get(hint, 0) + 1
            name = f"{hint}_{self._count[hint]}"
        self._used.add(name)
        return name

    def elem_type(self, node: Node) -> int:
        return self.helper.np_dtype_to_tensor_dtype(np.asarray(node.value).dtype)

    def dims(self, node: Node) -> list:
        shape: list = list(np.shape(node.value))
        if id(node) in self.batched:
            shape[0] = "batch"
        return shape

    def input(self, placeholder: Node, name: str) -> None:
        self.names[id(placeholder)] = name = self.fresh(name)
        if self.batch is not None and np.ndim(placeholder.value) >= 1:
            self.batched.add(id(placeholder))
        self.graph_inputs.append(
            self.helper.make_tensor_value_info(name, self.elem_type(placeholder), self.dims(placeholder))
        )

    def initializer(self, leaf: Node, name: str | None) -> None:
        """Reserve ``name`` for a variable or constant; its tensor is written when an operator
        first reads it, in the dtype that operator needs (so no initializer goes unused)."""
        self.names[id(leaf)] = self.fresh(name or leaf.name)
        self._leaves[id(leaf)] = leaf

    def constant(self, array: Any, hint: str = "const", exact: bool = False) -> str:
        name = hint if exact else self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values: Any) -> str:
        return self.constant(np.asarray(values, dtype=np.int64).reshape(-1), "ints")

    def scalar(self, value: float, dtype: np.dtype) -> str:
        return self.constant(np.asarray(value, dtype=dtype), "scalar")

    def add(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        """Append one ONNX operator; returns its output's name."""
        out = self.fresh(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def value(self, node: Node, dtype: Any = None) -> str:
        """The name of ``node``'s value, as ``dtype`` if given (a cast initializer for a leaf,
        a Cast operator otherwise): ONNX operators take no mixed dtypes."""
        name, have = self.names[id(node)], np.asarray(node.value).dtype
        want = have if dtype is None else np.dtype(dtype)
        leaf = self._leaves.get(id(node))
        if leaf is None and want == have:
            return name
        key = (id(node), want.str)
        if key not in self._made:
            if leaf is not None:  # the initializer itself, or a copy in the dtype wanted
                array = np.asarray(leaf.value).astype(want, copy=False)
                self._made[key] = (
                    self.constant(array, name, exact=True) if want == have else self.constant(array, f"{name}_{want}")
                )
            else:
                self._made[key] = self.add("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(want))
        return self._made[key]

    def same(self, op: Node) -> list[str]:
        """Every input of ``op`` in its output's dtype (what the engine's dtype rule did)."""
        dtype = np.asarray(op.value).dtype
        return [self.value(i, dtype) for i in op.inputs]

    def is_batched(self, node: Node) -> bool:
        return id(node) in self.batched

    def track_batch(self, op: Node) -> None:
        """``op``'s axis 0 is the batch axis if an input's is and the size is the batch's."""
        if (
            self.batch is not None
            and np.ndim(op.value) >= 1
            and np.shape(op.value)[0] == self.batch
            and id(op) not in self.reduced
            and any(id(i) in self.batched for i in op.inputs)
        ):
            self.batched.add(id(op))

    def rename(self, node: Node, name: str) -> None:
        """Make ``name`` (a graph output) hold ``node``'s value."""
        self._used.add(name)
        self.nodes.append(self.helper.make_node("Identity", [self.value(node)], [name], name=f"{name}_identity"))
