"""Numerical gradient checking: central finite differences in float64 against
the engine's vector-Jacobian products. Public, so users can check their own ops."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import GradcheckError
from .graph import grad
from .node import Constant, Node, Variable


def _outputs(result: Any) -> list[Node]:
    return [result] if isinstance(result, Node) else [r for r in result if isinstance(r, Node)]


def _as_variables(inputs: Sequence[Any]) -> list[Variable]:
    return [
        Variable(
            np.array(x.value if isinstance(x, Node) else x, dtype=np.float64),
            name=getattr(x, "name", None) or f"input{i}",
        )
        for i, x in enumerate(inputs)
    ]


def _vjp(outs: list[Node], xs: Sequence[Node], us: list[np.ndarray], create_graph: bool = False) -> list:
    """Σ ⟨u, ∂out/∂x⟩ for each x; an output that depends on no input (a linear
    op's first derivative, say) contributes zero."""
    live = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
    if live:
        return grad([o for o, _ in live], xs, grad_outputs=[u for _, u in live], create_graph=create_graph)
    zeros = [np.zeros_like(x.value) for x in xs]
    return [Constant(z) for z in zeros] if create_graph else zeros


def _worst_mismatch(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> tuple | None:
    """The index where ``got`` is furthest outside ``want``'s tolerance, or None if all agree."""
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    if not err.size or np.max(err) <= 0:
        return None
    return tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s gradients at ``inputs`` against central differences.

    ``fn`` takes one node per input and returns a node (or a list of nodes).
    Everything is done in float64. A random upstream gradient u (not all
    ones, which hides transposes) is pushed back; the finite-difference side
    differentiates ⟨u, fn(x)⟩. Returns True, or raises GradcheckError naming
    the input, the worst element, and both values.
    """
    rng = np.random.default_rng(seed)
    xs = _as_variables(inputs)
    outs = _outputs(fn(*xs))
    us = [rng.standard_normal(np.shape(o.value)) for o in outs]
    analytic = _vjp(outs, xs, us)

    def project(values: list[np.ndarray]) -> float:
        probe = [Variable(v, name=x.name) for v, x in zip(values, xs)]
        return float(sum(np.sum(u * np.asarray(o.value, dtype=np.float64)) for u, o in zip(us, _outputs(fn(*probe)))))

    base = [np.array(x.value) for x in xs]
    for k, x in enumerate(xs):
        numeric = np.zeros_like(base[k])
        for idx in np.ndindex(base[k].shape):
            shifted = [b.copy() for b in base]
            shifted[k][idx] = base[k][idx] + eps
            plus = project(shifted)
            shifted[k][idx] = base[k][idx] - eps
            minus = project(shifted)
            numeric[idx] = (plus - minus) / (2 * eps)
        got = np.asarray(analytic[k], dtype=np.float64)
        worst = _worst_mismatch(got, numeric, atol, rtol)
        if worst is not None:
            raise GradcheckError(
                f"gradcheck: gradient of input {k} ('{x.name}', shape {base[k].shape}) differs "
                f"at index {worst}: analytic {got[worst]!r}, "
                f"numerical {numeric[worst]!r} (atol={atol}, rtol={rtol})"
            )
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: ``gradcheck`` of x ↦ ∂⟨u, fn(x)⟩/∂x built with ``create_graph=True``.

    The vjp rules run on nodes there, and on arrays in an ordinary backward, so
    first the two first derivatives are checked to agree (``gradcheck`` has
    checked the array one against finite differences); then the node one is
    differentiated again and checked against its own finite differences.
    """
    rng = np.random.default_rng(seed + 1)
    xs = _as_variables(inputs)
    probe = _outputs(fn(*xs))
    us = [rng.standard_normal(np.shape(o.value)) for o in probe]

    def first_derivative(*xs: Node) -> list[Node]:
        return _vjp(_outputs(fn(*xs)), list(xs), us, create_graph=True)

    plain = _vjp(probe, xs, us)
    for k, (node, arr) in enumerate(zip(first_derivative(*xs), plain)):
        got, want = np.asarray(node.value, dtype=np.float64), np.asarray(arr, dtype=np.float64)
        worst = _worst_mismatch(got, want, atol, rtol)
        if worst is not None:
            raise GradcheckError(
                f"gradgradcheck: the gradient of input {k} ('{xs[k].name}') built as a graph "
                f"(create_graph=True) differs from the ordinary one at index "
                f"{worst}: {got[worst]!r} vs {want[worst]!r}"
            )
    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
