"""The version of chainrule, in this one place: ``chainrule.__version__``, the package
metadata (``pyproject.toml`` reads it) and the files chainrule writes all take it from here."""

__version__ = "0.2.0"
