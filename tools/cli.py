"""The ``poolconf`` command: ``vectors generate|verify``, ``check``, ``explain``, ``matrix``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from poolconf import __version__
from poolconf.conformance.backend import BackendLoadError

USAGE, INTERNAL, INTERRUPTED = 2, 4, 130
SUBCOMMANDS = {
    # name: (module, help)
    "vectors": ("poolconf.tools.vectors_cli", "generate or verify the golden vectors"),
    "check": ("poolconf.tools.check_cli", "check a backend against the spec"),
    "explain": ("poolconf.tools.explain_cli", "print a vector case or failing test and rerun it"),
    "matrix": ("poolconf.tools.matrix_cli", "check several libraries and publish the matrix"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poolconf", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"poolconf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(
            name,
            help=help_text,
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"poolconf {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BackendLoadError as exc:  # the user's backend, not poolconf: one line, usage error
        print(f"poolconf {args.command}: error: {exc}", file=sys.stderr)
        return USAGE
    except Exception:  # a bug in poolconf: the traceback is for its report
        traceback.print_exc()
        print(f"poolconf {args.command}: internal error (see the traceback above)", file=sys.stderr)
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
