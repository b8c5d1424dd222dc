"""One module per ``chainrule`` subcommand, each with ``register(subparsers)``."""
