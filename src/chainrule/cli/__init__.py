"""The command line (the top layer): ``chainrule demo | explain | train``, and the
expression language ``chainrule explain`` reads (``expr.py``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
