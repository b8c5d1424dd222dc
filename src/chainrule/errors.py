"""Exceptions that name the node.

Every error chainrule raises on bad input is one of these. Each subclasses the
built-in exception a Python user would reach for (``ValueError``, ``KeyError``,
``TypeError``), so ``except ValueError`` keeps working, and each message names
the op, the nodes and the shapes involved.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any


class ChainruleError(Exception):
    """Base class of every chainrule error."""


class ShapeError(ChainruleError, ValueError):
    """An op got inputs whose shapes (or values) it cannot combine."""


class MissingFeedError(ChainruleError, KeyError):
    """A node needed by a forward pass has no value: a placeholder was not fed, or (in the
    lesson's node-by-node loop) an input was not computed first."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class FeedError(ChainruleError, TypeError):
    """A feed dictionary names something that cannot be fed."""


class DTypeError(ChainruleError, TypeError):
    """A value chainrule does not compute with: a string, None, an object, complex or
    date-time data (NumPy and PyTorch raise a TypeError too; nothing is converted)."""


class GradientError(ChainruleError, ValueError):
    """A backward pass was asked for something it cannot do."""


class ReleasedValueError(GradientError, AttributeError):
    """A value that a backward pass released was needed again (see ``memory.RELEASED``).
    Also an AttributeError, so ``getattr(value, name, default)`` and ``hasattr`` stay quiet."""


class CycleError(ChainruleError, ValueError):
    """Hand-wired nodes form a cycle, so there is no topological order."""


class GradcheckError(ChainruleError, AssertionError):
    """``gradcheck`` found an analytic gradient that disagrees with finite differences."""


class OptionError(ChainruleError, ValueError):
    """An op or layer option has a value it does not accept (checked when the node or layer is built)."""


# ---------------------------------------------------------------- function transforms (transforms.py)
class NotANodeError(ChainruleError, TypeError):
    """A function given to a transform (``cr.jvp``, ``cr.grad(f)``...) returned something that is
    not a node, so there is no graph to differentiate."""


class TangentShapeError(ShapeError):
    """The vector ``v`` given to ``jvp``, ``vjp`` or ``hvp`` does not have the shape of the
    inputs (or outputs) it pairs with."""


class ArgnumsError(ChainruleError, TypeError):
    """``argnums`` is not an int or a tuple of distinct ints, or names an argument the call does not have."""


def option_error(owner: str, option: str, value: object, allowed: str) -> OptionError:
    """``MSE 'loss': reduction='avg' is not one of 'mean', 'sum', 'none'``: the owner (an op
    and its node's name, or a layer), the option, the value given and what is allowed."""
    return OptionError(f"{owner}: {option}={value!r} {allowed}")


_OWN = object()


def describe(node: Any, value: Any = _OWN) -> str:
    """``'name' (OpName, shape (3, 4))``: how every message refers to a node.
    ``value``: the value to report instead of ``node.value`` (a forward pass in
    progress has not stored its new values yet)."""
    if value is _OWN:
        value = getattr(node, "value", None)
    if getattr(value, "released_by_backward", False) is True:
        shape = value.note  # "value released by backward()" or "... after forward"
    else:
        shape = "no value" if value is None else f"shape {tuple(getattr(value, 'shape', ()))}"
    return f"'{node.name}' ({type(node).__name__}, {shape})"


# ---------------------------------------------------------------- training stack (nn, optim, data, serialize)
class StateDictError(ChainruleError, KeyError):
    """A state dict does not fit its module or optimizer: missing, unexpected or mis-shaped keys."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NonFiniteGradientError(ChainruleError, FloatingPointError):
    """An optimizer step met a NaN or infinite gradient (no parameter was changed)."""


class SerializationError(ChainruleError, ValueError):
    """A saved file is truncated, corrupt, not a chainrule file, or does not fit its target."""


class ExportError(ChainruleError, ValueError):
    """A model or graph cannot be exported (to ONNX): an op or an op option with no mapping."""


class DatasetError(ChainruleError, KeyError):
    """An unknown bundled dataset, or data that cannot be batched."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------- seeing and the command line
class GraphvizNotFound(ChainruleError, RuntimeError):
    """Graphviz (the ``dot`` program) is needed to render a picture and is missing."""


class ExprError(ChainruleError, ValueError):
    """A mistake in an expression, at a column of its text."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(message)
        self.message, self.text, self.position = message, text, position

    def __str__(self) -> str:
        return f"{self.message} (at column {self.position + 1})"

    def caret(self) -> str:
        """The expression with a caret under the column: two lines."""
        return f"  {self.text}\n  {' ' * self.position}^"


class CompileError(ChainruleError, RuntimeError):
    """``compile`` could not write a program that reproduces its graph's numbers exactly
    (a bug to report; the graph itself still runs uncompiled)."""


class StaleProgram(ChainruleError):
    """Internal: a compiled program met a value whose type, shape or dtype is not the one it
    was written for; the compiled graph then writes (or picks) the program for it."""


def warn_user(message: str) -> None:
    """A ``UserWarning`` pointed at the first line outside chainrule (the user's call), however
    deep inside the library it is raised."""
    inside = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: FrameType | None = sys._getframe(1)  # warn_user's caller, stacklevel 2
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)
