"""``poolconf check BACKEND``: run the conformance suite on a backend and give a verdict.

This process never imports the backend. It checks the vectors against their manifest,
loads the backend once in a throw-away process (so a backend that cannot load, or exits
while loading, is a one-line usage error), then runs ``pytest --pyargs
poolconf.conformance`` in its own process group with pytest-xdist workers and a per-test
timeout kept by each worker's watchdog: a backend that crashes, hangs, exits or runs away
with memory ends only its worker, and the test it was running fails saying so. The
verdict comes from the run's own record (``conformance/verdict.py``): one line, and an
exit status that says what was established (0 conforms, 1 does not conform, 2 usage
error, 3 nothing established or an incomplete run, 4 internal error, 130/143 interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

from poolconf.conformance import vector_format as vf
from poolconf.conformance import verdict as vd
from poolconf.conformance.options import OPTIONS
from poolconf.conformance.plugin import PACKAGE_DIR

EPILOG = """exit status (and the verdict word of the last line):
  0        CONFORMS             every test ran, none failed, the profile's ops are established
  1        DOES NOT CONFORM     a test failed, a known failure passed or is stale, or an op the
                                profile requires established nothing
  2        usage error          bad options, a backend that cannot load, vectors that do not
                                match their manifest
  3        NOTHING ESTABLISHED  no op passed a test (everything unsupported)
           INCOMPLETE           tests never ran (the run was cut short or left no record)
  4        internal error       poolconf itself failed
  130/143  INTERRUPTED          SIGINT / SIGTERM ended the run
"""
DEFAULT_TIMEOUT = 60.0
THOROUGH_TIMEOUT = 600.0
DEFAULT_MAX_WORKER_RESTART = 50
PROBE_SECONDS = 300.0
GRACE_SECONDS = 5.0
PROBE = """
import json, sys
from poolconf.conformance.backend import load_backend
backend = load_backend(sys.argv[1])
print("POOLCONF-PROBE " + json.dumps({"ops": backend.ops, "declarations": backend.declarations}))
"""


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
        help="pytest-xdist workers (default 1; 0 runs in one process, where a crash or a hang "
        "ends the whole run: the verdict is then INCOMPLETE)",
    )  # fmt: skip
    runner.add_argument(
        "--timeout", type=_timeout, default=None, metavar="S",
        help=f"seconds per test before it fails as timed out and its worker is replaced "
        f"(default {DEFAULT_TIMEOUT:.0f}, {THOROUGH_TIMEOUT:.0f} with --thorough)",
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


def pytest_command(args: argparse.Namespace, ini: str, report: str) -> list[str]:
    """The pytest command line ``poolconf check`` runs."""
    cmd = [sys.executable, "-m", "pytest"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        cmd += ["-p", "poolconf.conformance.plugin", "-p", "xdist.plugin", "-p", "pytest_timeout"]
    cmd += [
        "--pyargs", "poolconf.conformance",
        "-c", ini, "--rootdir", str(PACKAGE_DIR),
        "-p", "no:cacheprovider",
        # every check builds its own failure message; pytest's assertion rewriting would
        # only recompile Hypothesis and the harness on each start (about 4 s, and again
        # in each worker, wherever the rewritten bytecode cannot be cached)
        "--assert=plain",
        "--basetemp", str(pathlib.Path(ini).parent / "tmp"),
        "--tb=short",
        "--poolconf-backend", args.backend,
    ]  # fmt: skip
    for option in OPTIONS:
        value = report if option.name == "report-json" else getattr(args, option.dest)
        if option.kind == "flag" and value:
            cmd.append(option.pytest_flag)
        elif option.kind != "flag" and value is not None:
            path_like = option.metavar in ("FILE", "PATH", "DIR")
            cmd += [option.pytest_flag, os.path.abspath(value) if path_like else str(value)]
    if args.workers != "0":
        # an idle worker takes tests queued on a busy one (xdist's default hands out fixed
        # chunks, and a worker left with a queue of slow properties ran alone for most of
        # a full check)
        cmd += ["-n", args.workers, "--dist", "worksteal"]
        cmd += ["--max-worker-restart", str(args.max_worker_restart)]
    timeout = args.timeout or (THOROUGH_TIMEOUT if args.thorough else DEFAULT_TIMEOUT)
    cmd += ["--timeout", f"{timeout:g}"]
    if args.junit_xml:
        cmd += ["--junit-xml", os.path.abspath(args.junit_xml)]
        cmd += ["-o", f"junit_suite_name=poolconf-{args.backend}"]
    if args.keyword:
        cmd += ["-k", args.keyword]
    return cmd + list(args.pytest_args or [])


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores(env: dict[str, str], workers: str) -> None:
    """Under ``-n N`` (N > 1) give each worker's thread pools (OpenMP: torch; OpenBLAS,
    MKL: NumPy's matmul) an equal share of the cores, at least one, unless the caller
    sized them: N pools as wide as the machine spin against each other (a full torch check
    with ``-n 2`` on 2 cores took 122 s, 95 s with one thread per worker)."""
    if any(name in env for name in THREAD_VARIABLES):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    n = cores if workers in ("auto", "logical") else int(workers)
    if n > 1:
        env.update(dict.fromkeys(THREAD_VARIABLES, str(max(1, cores // n))))


def _error(message: str, status: int) -> int:
    print(f"poolconf check: {message}", file=sys.stderr)
    return status


def _probe(backend: str, env: dict[str, str]) -> str | None:
    """Load the backend in a throw-away process: None when it loads, else why not."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, backend],
            env=env, capture_output=True, text=True, timeout=PROBE_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"backend {backend!r} did not finish loading within {PROBE_SECONDS:.0f} s"
    if any(line.startswith("POOLCONF-PROBE ") for line in proc.stdout.splitlines()):
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    if lines:
        return f"backend {backend!r} cannot be loaded: {lines[-1].strip()}"
    return f"backend {backend!r} ended the process while loading (exit status {proc.returncode})"


class _Interrupt:
    """Forwards SIGINT and SIGTERM to the pytest run's process group, and remembers them."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.group: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Interrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signum
        if self.group is not None:
            os.killpg(self.group, signum)


def _wait(proc: subprocess.Popen[bytes], interrupt: _Interrupt) -> int:
    """The run's exit status; after an interrupt, its whole group is ended."""
    while True:
        try:
            status = proc.wait(timeout=0.5 if interrupt.signal is None else GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if interrupt.signal is not None:
                os.killpg(proc.pid, signal.SIGKILL)
    if interrupt.signal is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind by the controller
        except (ProcessLookupError, PermissionError):
            pass
    return status


def _read(report: pathlib.Path) -> dict[str, Any] | None:
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run(args: argparse.Namespace) -> int:
    vectors = pathlib.Path(args.vectors) if args.vectors else None
    root = vectors or (pathlib.Path(v) if (v := os.environ.get("POOLCONF_VECTORS")) else None)
    errors = vf.manifest_errors(root or vf.vectors_dir())
    if errors:
        return _error(f"the vectors do not match their manifest: {errors[0]}", vd.USAGE)
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="poolconf-check-"))
    try:
        return _run(args, run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run(args: argparse.Namespace, run_dir: pathlib.Path) -> int:
    env = dict(os.environ)
    # the backend may be a module in the current folder; workers need to find it too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    env["POOLCONF_RUN_DIR"] = str(run_dir)
    env["POOLCONF_VERDICT_LINE"] = "last"  # this process prints it, after pytest's own lines
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(run_dir / "hypothesis")
    share_cores(env, args.workers)
    problem = _probe(args.backend, env)
    if problem:
        return _error(problem, vd.USAGE)
    ini = run_dir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")  # isolate the run from any project config
    report = pathlib.Path(args.report_json or run_dir / "report.json").resolve()
    report.unlink(missing_ok=True)
    cmd = pytest_command(args, str(ini), str(report))
    with _Interrupt() as interrupt:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        interrupt.group = proc.pid
        status = _wait(proc, interrupt)
    if interrupt.signal is not None:
        name = signal.Signals(interrupt.signal).name
        print(f"poolconf: {args.backend} INTERRUPTED by {name}: no verdict", file=sys.stderr)
        return vd.INTERRUPTED.get(name, 128 + interrupt.signal)
    if status == 4:  # pytest's usage error: already printed
        return vd.USAGE
    if status == 3:
        return _error("internal error in the pytest run (see above)", vd.INTERNAL)
    profile = args.profile or os.environ.get("POOLCONF_PROFILE") or "full"
    record = _read(report)
    verdict = vd.decide(record, backend=args.backend, profile=profile)
    if record is None:
        print(flush=True)  # the run may have ended in the middle of a line
    print(verdict.line)
    return verdict.status
