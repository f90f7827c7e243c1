"""``poolconf check BACKEND``: run the conformance suite on a backend and give a verdict.

Runs ``pytest --pyargs poolconf.conformance`` in a subprocess with pytest-xdist (at
least one worker, so a backend that kills its process only loses the test it was
running: the worker is replaced and the run finishes, naming the case) and
pytest-timeout (a test that runs longer than ``--timeout`` seconds fails). The exit
status is pytest's: 0 only when every test that is not a known failure passed
(skips are fine) and no known-failure id is stale.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

from poolconf.conformance.plugin import ONLY_KINDS, PACKAGE_DIR, THOROUGH_EXAMPLES
from poolconf.conformance.profiles import PROFILE_NAMES

DEFAULT_TIMEOUT = 60.0
THOROUGH_TIMEOUT = 600.0
DEFAULT_MAX_WORKER_RESTART = 50


def _workers(value: str) -> str:
    if value == "auto" or value == "logical":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-n {value!r}: a number of workers or 'auto'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"-n {n}: must be >= 0")
    return str(n)


def _only(value: str) -> str:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ONLY_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"--only {value!r}: choose from {', '.join(ONLY_KINDS)}")
    return ",".join(kinds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "backend",
        help="registered name (reference, numpy-strided, torch, ...), "
        "module path, or module:attribute",
    )
    parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="full", help="spec profile (default: full)"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=None,
        metavar="N",
        help="Hypothesis examples per property (default 25)",
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help=f"{THOROUGH_EXAMPLES} examples per property, timeout {THOROUGH_TIMEOUT:.0f} s",
    )
    parser.add_argument(
        "-n",
        dest="workers",
        type=_workers,
        default="1",
        metavar="N|auto",
        help="pytest-xdist workers (default 1; 0 runs in one process, without crash isolation)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help=f"seconds per test before it fails (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--timeout-method",
        choices=("signal", "thread"),
        default="signal",
        help="pytest-timeout method: signal fails the test; thread also stops a "
        "hang inside native code, by killing the worker (default signal)",
    )
    parser.add_argument(
        "--max-worker-restart",
        type=int,
        default=DEFAULT_MAX_WORKER_RESTART,
        metavar="N",
        help="worker crashes tolerated before the run stops "
        f"(default {DEFAULT_MAX_WORKER_RESTART})",
    )
    parser.add_argument("--xfail-file", metavar="F", help="known failures: one test id per line")
    parser.add_argument("--report-json", metavar="P", help="write the poolconf summary as JSON")
    parser.add_argument("--junit-xml", metavar="P", help="write a JUnit XML report")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression")
    parser.add_argument(
        "--only", type=_only, metavar="KINDS", help=f"comma list of {', '.join(ONLY_KINDS)}"
    )
    parser.add_argument(
        "--vectors", metavar="DIR", help="golden vectors folder (default: installed)"
    )
    parser.add_argument(
        "--pytest-arg",
        dest="pytest_args",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for pytest (repeatable), e.g. --pytest-arg=-x",
    )


def _abs(path: str | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def pytest_command(args: argparse.Namespace, ini: str) -> list[str]:
    """The pytest command line ``poolconf check`` runs."""
    cmd = [sys.executable, "-m", "pytest"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        cmd += ["-p", "poolconf.conformance.plugin", "-p", "xdist.plugin", "-p", "pytest_timeout"]
    cmd += [
        "--pyargs",
        "poolconf.conformance",
        "-c",
        ini,
        "--rootdir",
        str(PACKAGE_DIR),
        "-p",
        "no:cacheprovider",
        "--tb=short",
        "--poolconf-backend",
        args.backend,
        "--poolconf-profile",
        args.profile,
    ]
    if args.examples is not None:
        cmd += ["--poolconf-examples", str(args.examples)]
    if args.thorough:
        cmd.append("--poolconf-thorough")
    if args.workers != "0":
        cmd += ["-n", args.workers, "--max-worker-restart", str(args.max_worker_restart)]
    timeout = (
        args.timeout
        if args.timeout is not None
        else (THOROUGH_TIMEOUT if args.thorough else DEFAULT_TIMEOUT)
    )
    if timeout > 0:
        cmd += ["--timeout", f"{timeout:g}", "--timeout-method", args.timeout_method]
    for opt, value in (
        ("--xfail-file", _abs(args.xfail_file)),
        ("--poolconf-report-json", _abs(args.report_json)),
        ("--junit-xml", _abs(args.junit_xml)),
        ("--poolconf-vectors", _abs(args.vectors)),
        ("-k", args.keyword),
        ("--poolconf-only", args.only),
    ):
        if value:
            cmd += [opt, value]
    if args.junit_xml:
        cmd += ["-o", f"junit_suite_name=poolconf-{args.backend}"]
    return cmd + list(args.pytest_args or [])


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    # the backend may be a module in the current folder; xdist workers need to find it too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="poolconf-check-") as tmp:
        ini = pathlib.Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")  # isolate the run from any project config
        cmd = pytest_command(args, str(ini))
        try:
            return subprocess.call(cmd, env=env)
        except KeyboardInterrupt:
            return 130
