"""Where a value or a gradient first stops being a number.

A NaN or an infinity spreads to everything computed from it, so the useful
thing to say is where it appeared first: the op whose inputs were all finite
but whose value is not (``log`` of -1), or the step of a path where the
gradient turned NaN. Flags are (phrase key, fields) pairs; ``words`` turns
their fields into text in either language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..node import Node
from .chain import nonfinite_kind, nonfinite_origins
from .phrases import describe_value, say
from .values import is_finite

Flag = tuple[str, dict[str, Any]]


def value_flags(order: Sequence[Node]) -> tuple[Flag, ...]:
    """A flag for each node of ``order`` where a NaN or infinity first appears."""
    return tuple(value_flag(n) for n in nonfinite_origins(order))


def value_flag(node: Node) -> Flag:
    """The flag of one node whose value is not finite though its inputs are."""
    return (
        "flag.value",
        {
            "name": node.name,
            "kind": type(node).__name__,
            "value": node.value,
            "what": nonfinite_kind(node.value),
            "inputs": [(inp.name, inp.value) for inp in node.inputs],
        },
    )


def path_flags(paths: Sequence[Any]) -> tuple[Flag, ...]:
    """A flag for each path step where the gradient turns NaN or infinite (the first on each path)."""
    flags: list[Flag] = []
    for path in paths:
        for factor in path.factors:
            if factor.gradient is not None and not is_finite(factor.gradient):
                flag = ("flag.gradient", {"symbol": factor.symbol, "what": nonfinite_kind(factor.gradient)})
                if flag not in flags:
                    flags.append(flag)
                break
    return tuple(flags)


def words(flag: Flag, lang: str) -> str:
    """The flag as a sentence in ``lang``."""
    key, fields = flag
    text = dict(fields)
    text["what"] = say(f"word.{fields['what']}", lang)
    if "value" in fields:
        text["value"] = describe_value(fields["value"], lang)
    if "inputs" in fields:
        text["inputs"] = ", ".join(f"{name} = {describe_value(v, lang)}" for name, v in fields["inputs"]) or "—"
    return say(key, lang, **text)
