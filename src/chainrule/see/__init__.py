"""Seeing the chain rule (the teaching layer, above the engine): local derivatives
(``chain.py``), ``explain``, the narration and its bilingual phrase table, and drawings.

The engine never imports this package; ``chainrule/__init__.py`` attaches its
conveniences (``graph.explain``, ``graph.draw``, Jupyter pictures) to the engine's
classes when the package loads.
"""
from .explain import explain

__all__ = ["explain"]
