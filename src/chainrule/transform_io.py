"""What a function transform is given and gives back (see ``transforms.py``): the outputs
of its function checked (nodes; one element for a gradient), the vectors ``v`` checked
against the inputs or outputs they pair with, and results packed in their structure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import GradientError, NotANodeError, TangentShapeError
from .node import Node


def name_of(f: Any) -> str:
    return getattr(f, "__name__", None) or repr(f)


def outputs_of(result: Any, f: Any, what: str) -> tuple[bool, list[Node]]:
    """(whether ``f`` returned a tuple, its output nodes); NotANodeError for anything else."""
    is_tuple = isinstance(result, (tuple, list))
    items = list(result) if is_tuple else [result]
    for i, item in enumerate(items):
        if not isinstance(item, Node):
            where = f" (output {i})" if is_tuple else ""
            hint = (
                " If it is what an inner transform returned, give that transform create_graph=True "
                "so that it returns nodes."
                if isinstance(item, (np.ndarray, np.generic))
                else ""
            )
            raise NotANodeError(
                f"{what}: the function '{name_of(f)}' returned a {type(item).__name__}{where}, "
                "not a node: build its result with chainrule's operations on the nodes it is "
                f"given (cr.sin(x), x @ W), not with NumPy on their values.{hint}"
            )
    if not items:
        raise NotANodeError(f"{what}: the function '{name_of(f)}' returned an empty {type(result).__name__}")
    return is_tuple, items


def scalar_output(result: Any, f: Any, what: str) -> Node:
    """The function's one output, which must be one node with one element (a loss)."""
    is_tuple, outs = outputs_of(result, f, what)
    if is_tuple or outs[0].size != 1:
        shape = tuple(o.shape for o in outs) if is_tuple else outs[0].shape
        raise GradientError(
            f"{what}: the function '{name_of(f)}' must return one node with one element "
            f"(a loss), but it returned shape {shape}; use cr.jacobian or cr.vjp for more"
        )
    return outs[0]


def checked_vectors(v: Any, like: list[Node], is_tuple: bool, what: str, kind: str, create_graph: bool) -> list:
    """``v`` checked against ``like`` (the inputs or outputs it pairs with), as arrays in
    their dtypes (nodes kept with ``create_graph``, so the result depends on them)."""
    if v is None:
        if len(like) != 1 or like[0].size != 1:
            raise GradientError(
                f"{what}: v can be left out only when the {kind} is one element; "
                f"give v with the {kind}'s shape {_shapes(like, is_tuple)}"
            )
        return [np.ones(like[0].shape, like[0].dtype)[()]]
    items = list(v) if is_tuple and isinstance(v, (tuple, list)) else [v]
    if len(items) != len(like) or (is_tuple and not isinstance(v, (tuple, list))):
        raise TangentShapeError(
            f"{what}: v must have the structure of the {kind} ({_shapes(like, is_tuple)}), "
            f"but it has {_shapes(items, isinstance(v, (tuple, list)))}"
        )
    result = []
    for i, (vec, node) in enumerate(zip(items, like)):
        if np.shape(vec) != node.shape:
            label = f"{kind} {i} " if is_tuple else f"the {kind} "
            raise TangentShapeError(
                f"{what}: v{f'[{i}]' if is_tuple else ''} has shape {np.shape(vec)}, but "
                f"{label}'{node.name}' has shape {node.shape}"
            )
        if isinstance(vec, Node):
            result.append(vec if create_graph else np.asarray(vec.value, node.dtype)[()])
        else:
            result.append(np.asarray(vec, node.dtype)[()])
    return result


def _shapes(items: Sequence[Any], is_tuple: bool) -> str:
    shapes = [tuple(np.shape(x)) for x in items]
    return str(tuple(shapes)) if is_tuple else f"shape {shapes[0]}"


def pack(items: Sequence[Any], is_tuple: bool) -> Any:
    return tuple(items) if is_tuple else items[0]


def values_of(outs: list[Node], create_graph: bool) -> list:
    return list(outs) if create_graph else [o.value for o in outs]
