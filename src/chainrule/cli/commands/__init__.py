"""One module per ``chainrule`` subcommand, each with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def nonnegative(kind: type, positive: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` that reads a ``kind`` (int or float) that is finite and
    at least 0 (above 0 with ``positive``), so a bad option is a usage error, not a traceback."""
    def parse(text: str) -> float:
        value = kind(text)
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {'above' if positive else 'at least'} 0, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its "invalid int value" message
    return parse
