"""One module per ``chainrule`` subcommand, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def in_range(kind: type, low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` reading a ``kind`` (int or float) in [low, high] (above ``low`` with
    ``low_open``), so that a bad option is a one-line usage error (exit status 2), never a traceback."""
    noun = "a whole number" if kind is int else "a number"
    bounds = f"above {low:g}" if low_open else f"at least {low:g}"
    if math.isfinite(high):
        bounds += f" and at most {high:,g}" if kind is float else f" and at most {int(high):,}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
