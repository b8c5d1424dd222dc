"""Narrowing for the type checker, checked at run time: what a test knows about a value.

``explain`` answers with an ``Explanation`` (mode="paths", the default) or a
``ModesExplanation`` (the other modes); many results are None only in a stage the
test is not in (before a forward pass, on a tensor path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from chainrule.see.explanation import Explanation, Path
from chainrule.see.modes import ModesExplanation

T = TypeVar("T")


def known(value: T | None) -> T:
    """``value``, which the test knows is there."""
    assert value is not None
    return value


def chain(e: object) -> Explanation:
    """An answer of ``explain`` in mode="paths": the chain rule's paths."""
    assert isinstance(e, Explanation), type(e)
    return e


def modes(e: object) -> ModesExplanation:
    """An answer of ``explain`` in mode="forward", "backward" or "both"."""
    assert isinstance(e, ModesExplanation), type(e)
    return e


def path_values(paths: Sequence[Path]) -> list[float]:
    """Each path's number (every path a scalar one)."""
    values = [p.value for p in paths if p.value is not None]
    assert len(values) == len(paths), "a tensor path has no single number"
    return values
