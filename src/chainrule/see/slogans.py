"""The lesson's first stage: the chain rule as symbols, before any number exists.

Before the forward pass the lesson has every node shout its slogan
("获取∂Loss / ∂Sigmoid"), then writes each gradient as the product of the
symbols along its path: ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k.
``explain`` does the same for any graph whose output has no value yet: every
path as a product of symbols and, where paths fan out, their sum.
"""

from __future__ import annotations

from ..node import Node
from .chain import edge_symbol, edges_into, enumerate_paths, path_counts
from .explanation import EdgeGroup, Explanation, Factor, Path, bounded_groups


def explain_symbols(output: Node, node: Node, order: list[Node], max_paths: int, lang: str) -> Explanation:
    """Every path from ``output`` down to ``node`` as symbols only (nothing has a value yet)."""
    down, up = path_counts(order, output, node)
    n_paths = up.get(id(node), 0)
    paths: tuple[Path, ...] = ()
    groups: tuple[EdgeGroup, ...] = ()
    if n_paths <= max_paths:
        paths = tuple(
            Path(tuple(Factor(op, i, edge_symbol(op, i), None, None, (), ()) for op, i in edges), None)
            for edges in enumerate_paths(output, node, down)
        )
    else:
        groups = bounded_groups([(op, i, up[id(op)]) for op, i in edges_into(order, node, up)], edge_symbol, None, None)
    return Explanation(output, node, paths, n_paths, None, max_paths, groups, lang, symbolic=True)
