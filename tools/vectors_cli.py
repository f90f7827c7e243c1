"""``poolconf vectors generate|verify``: regenerate or check the golden vectors."""

from __future__ import annotations

import argparse
import os
import sys
import time

from poolconf.tools import generate as gen
from poolconf.tools import verify


def _jobs(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0 (0: one per CPU)")
    return n or (os.cpu_count() or 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="vectors_command", required=True)
    g = sub.add_parser("generate", help="regenerate the vector files from the declared cases")
    g.add_argument(
        "--out", metavar="DIR", help="target folder (default: the installed poolconf.vectors)"
    )
    g.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming the files that differ from a fresh generation",
    )
    g.add_argument(
        "-j", "--jobs", type=_jobs, default=1, metavar="N", help="worker processes (0: all CPUs)"
    )
    v = sub.add_parser("verify", help="check schema, tcIds, flags, format, manifest and recompute")
    v.add_argument(
        "--dir", metavar="DIR", help="vectors folder (default: the installed poolconf.vectors)"
    )
    v.add_argument(
        "--no-recompute", action="store_true", help="skip recomputing with the reference"
    )
    v.add_argument(
        "-j", "--jobs", type=_jobs, default=1, metavar="N", help="worker processes (0: all CPUs)"
    )


def run(args: argparse.Namespace) -> int:
    if args.vectors_command == "generate":
        return _generate(args)
    return _verify(args)


def _generate(args: argparse.Namespace) -> int:

    start = time.perf_counter()
    try:
        if args.check:
            diffs = gen.check(args.out, jobs=args.jobs)
            for name in diffs:
                print(f"differs: {name}")
            status = "up to date" if not diffs else f"{len(diffs)} files differ"
            print(
                f"poolconf vectors generate --check: {status} ({time.perf_counter() - start:.1f} s)"
            )
            return 1 if diffs else 0
        rep = gen.generate(args.out, jobs=args.jobs)
    except gen.GenerationError as e:
        print(f"poolconf vectors generate: error: {e}", file=sys.stderr)
        return 1
    for name in rep.changed:
        print(f"wrote: {name}")
    print(
        f"poolconf vectors generate: {rep.files} files, {rep.tests} tests, "
        f"{rep.total_bytes} bytes, {len(rep.changed)} changed ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:

    rep = verify.verify(args.dir, recompute=not args.no_recompute, jobs=args.jobs)
    for err in rep.errors:
        print(err)
    print(rep.summary())
    return 0 if rep.ok else 1
