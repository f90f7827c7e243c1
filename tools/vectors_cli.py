"""``poolconf vectors generate|verify``: regenerate or check the golden vectors."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from poolconf.conformance import vector_format as vf
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
    mode = g.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming the files that differ from a fresh generation",
    )
    mode.add_argument(
        "--assign-ids",
        action="store_true",
        help="first give every new case name the next tcId of its file and record it in the "
        "registry (poolconf.tools.cases, tcids.json), then generate",
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


VECTOR_FOLDER_FILES = ("*_test.json", vf.MANIFEST, "__init__.py", "__pycache__")


def _out_problem(out: str | None) -> str:
    """Why ``--out`` cannot receive vectors ('' when it can): it must be a new or empty
    folder, or one poolconf generated (its manifest lists every vector file in it), so
    generation never overwrites or removes a file it did not write."""
    if out is None:
        return ""
    path = pathlib.Path(out)
    if path.exists() and not path.is_dir():
        return f"--out {out!r} is a file, not a folder"
    if not path.exists():
        return ""
    foreign = sorted(
        p.name for p in path.iterdir() if not any(p.match(pat) for pat in VECTOR_FOLDER_FILES)
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        return (
            f"--out {out!r} holds files that are not poolconf vectors ({shown}); give an "
            "empty or new folder, or a vectors folder"
        )
    if not any(path.glob("*_test.json")):
        return ""
    # vector files are poolconf's own only when its manifest lists them
    problems = [
        e
        for e in vf.manifest_errors(path)
        if e.endswith(f"not listed in {vf.MANIFEST}") or e.startswith(f"{vf.MANIFEST}:")
    ]
    if problems:
        return (
            f"--out {out!r} holds vector files that poolconf did not write ({problems[0]}); "
            "give an empty or new folder, or a folder poolconf generated"
        )
    return ""


def _generate(args: argparse.Namespace) -> int:
    problem = "" if args.check else _out_problem(args.out)
    if problem:
        print(f"poolconf vectors generate: error: {problem}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    try:
        if args.assign_ids:
            for line in gen.assign_ids():
                print(f"registered: {line}")
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
