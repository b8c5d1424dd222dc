"""The command line: ``chainrule demo | explain | train``.

Each subcommand lives in ``commands/`` and registers itself here; this file
only builds the parser and turns expected failures into one-line messages:
a bad option or value prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .commands import demo, explain, train

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, with each usage error as one line (``chainrule train: error: ...``), exit status 2.
    Subcommands get the same class (argparse builds subparsers with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chainrule", description="Automatic differentiation you can watch: the chain rule, step by step."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,explain,train}")
    for command in (demo, explain, train):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(explain.expression_last(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`chainrule demo | head`): stop quietly, as Unix tools do,
        # and keep Python from complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
