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

from poolconf.conformance.options import OPTIONS
from poolconf.conformance.plugin import PACKAGE_DIR

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


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{seconds:g} must be > 0 seconds")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "backend",
        help="registered name (reference, numpy-strided, torch, ...), module path, or "
        "module:attribute",
    )
    for option in OPTIONS:
        option.add_to(parser.add_argument, option.cli_flag)
    runner = parser.add_argument_group("how the run is carried out")
    runner.add_argument(
        "-n", dest="workers", type=_workers, default="1", metavar="N|auto",
        help="pytest-xdist workers (default 1; 0 runs in one process, without crash isolation)",
    )  # fmt: skip
    runner.add_argument(
        "--timeout", type=_timeout, default=None, metavar="S",
        help=f"seconds per test before it fails (default {DEFAULT_TIMEOUT:.0f}, "
        f"{THOROUGH_TIMEOUT:.0f} with --thorough)",
    )  # fmt: skip
    runner.add_argument(
        "--timeout-method", choices=("signal", "thread"), default="signal",
        help="pytest-timeout method: signal fails the test; thread also stops a hang inside "
        "native code, by killing the worker (default signal)",
    )  # fmt: skip
    runner.add_argument(
        "--max-worker-restart", type=int, default=DEFAULT_MAX_WORKER_RESTART, metavar="N",
        help=f"worker crashes tolerated before the run stops (default {DEFAULT_MAX_WORKER_RESTART})",
    )  # fmt: skip
    runner.add_argument("--junit-xml", metavar="P", help="write a JUnit XML report")
    runner.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression")
    runner.add_argument(
        "--pytest-arg", dest="pytest_args", action="append", default=[], metavar="ARG",
        help="one more argument for pytest (repeatable), e.g. --pytest-arg=-x",
    )  # fmt: skip


def _abs(path: str) -> str:
    return os.path.abspath(path)


def pytest_command(args: argparse.Namespace, ini: str) -> list[str]:
    """The pytest command line ``poolconf check`` runs."""
    cmd = [sys.executable, "-m", "pytest"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        cmd += ["-p", "poolconf.conformance.plugin", "-p", "xdist.plugin", "-p", "pytest_timeout"]
    cmd += [
        "--pyargs", "poolconf.conformance",
        "-c", ini, "--rootdir", str(PACKAGE_DIR),
        "-p", "no:cacheprovider",
        "--tb=short",
        "--poolconf-backend", args.backend,
    ]  # fmt: skip
    for option in OPTIONS:
        value = getattr(args, option.dest)
        if option.kind == "flag" and value:
            cmd.append(option.pytest_flag)
        elif option.kind != "flag" and value is not None:
            path_like = option.metavar in ("FILE", "PATH", "DIR")
            cmd += [option.pytest_flag, _abs(value) if path_like else str(value)]
    if args.workers != "0":
        cmd += ["-n", args.workers, "--max-worker-restart", str(args.max_worker_restart)]
    timeout = args.timeout or (THOROUGH_TIMEOUT if args.thorough else DEFAULT_TIMEOUT)
    cmd += ["--timeout", f"{timeout:g}", "--timeout-method", args.timeout_method]
    if args.junit_xml:
        cmd += ["--junit-xml", _abs(args.junit_xml)]
    if args.keyword:
        cmd += ["-k", args.keyword]
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
