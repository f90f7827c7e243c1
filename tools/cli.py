"""The ``poolconf`` command: ``vectors generate|verify``, ``check``, ``explain``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from poolconf import __version__

SUBCOMMANDS = {
    # name: (module, help)
    "vectors": ("poolconf.tools.vectors_cli", "generate or verify the golden vectors"),
    "check": ("poolconf.tools.check_cli", "check a backend against the spec"),
    "explain": ("poolconf.tools.explain_cli", "print a vector case or failing test and rerun it"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poolconf", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"poolconf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
