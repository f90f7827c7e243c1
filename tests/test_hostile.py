"""Hostile and broken backends get a verdict a CI gate can rely on.

Each backend in ``hostile_backends/`` misbehaves in one way: it exits, raises at import,
segfaults, hangs in Python or in C (with or without the interpreter lock), eats memory,
returns huge wrong arrays, floods its output, changes NumPy's global state, supports
nothing, or lacks what its profile requires. Each is run through a real ``poolconf
check`` subprocess (kept short with ``--only`` and the small vector set of
``fixtures_backends/vector_builder.py``), and the test asserts the exit status, the
verdict word on the last line, a message, and an upper bound on wall time.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from poolconf.conformance import verdict as vd

HERE = pathlib.Path(__file__).resolve().parent
HOSTILE = HERE / "hostile_backends"
sys.path.insert(0, str(HERE / "fixtures_backends"))
import vector_builder  # noqa: E402 - after the sys.path entry for the fixtures


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return vector_builder.build(tmp_path_factory.mktemp("vectors"))


@dataclass
class Run:
    status: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def last_line(self) -> str:
        lines = [line for line in self.out.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def _env(tmp: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HOSTILE), env.get("PYTHONPATH", "")])
    env["TMPDIR"] = str(tmp)  # the run's temporary folders land here, to be looked for
    for name in ("POOLCONF_BACKEND", "POOLCONF_PROFILE", "POOLCONF_ONLY"):
        env.pop(name, None)
    return env


def _command(vectors: pathlib.Path, backend: str, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "poolconf", "check", backend, "--vectors", str(vectors), *args]


def check(
    vectors: pathlib.Path, backend: str, *args: str, tmp: pathlib.Path, limit: float = 120
) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        _command(vectors, backend, args),
        capture_output=True, text=True, env=_env(tmp), cwd=tmp, timeout=limit, check=False,
    )  # fmt: skip
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def _leftovers(tmp: pathlib.Path) -> list[str]:
    """Temporary folders of a run still in ``tmp``, and processes still using them."""
    folders = sorted(p.name for p in tmp.glob("poolconf-*"))
    pids = subprocess.run(
        ["pgrep", "-f", str(tmp)], capture_output=True, text=True, check=False
    ).stdout.split()
    return folders + [f"pid {p}" for p in pids if int(p) != os.getpid()]


ONLY_VECTORS = ("--only", "vectors")
DNC = "DOES NOT CONFORM"


@dataclass
class Hostile:
    """One hostile backend run: what it is given and what the verdict must be."""

    backend: str
    args: tuple[str, ...]
    status: int  # the exit status
    word: str  # the verdict word of the last line ("" for a one-line usage error)
    message: str  # text the output must hold
    seconds: float  # the longest the run may take

    @property
    def id(self) -> str:
        return self.backend + ("-n0" if "-n" in self.args else "")


CASES = [
    Hostile("exit_at_import", (), vd.USAGE, "", "ended the process while loading", 30),
    Hostile("raise_at_import", (), vd.USAGE, "", "RuntimeError: this backend refuses", 30),
    Hostile("system_exit_at_import", (), vd.USAGE, "", "ended the process while loading", 30),
    Hostile(
        "exit_at_import_under_pytest", ONLY_VECTORS, vd.NOTHING, "INCOMPLETE",
        "ended before collecting any test", 60,
    ),
    Hostile(
        "exit_in_op", ONLY_VECTORS, vd.DOES_NOT_CONFORM, DNC,
        "crashed (the worker process died) in avg_pool(", 60,
    ),
    Hostile(
        "exit_in_op", (*ONLY_VECTORS, "-n", "0"), vd.NOTHING, "INCOMPLETE",
        "ended without its record", 60,
    ),
    Hostile(
        "system_exit_in_op", ONLY_VECTORS, vd.DOES_NOT_CONFORM, DNC,
        "avg_pool raised SystemExit", 60,
    ),
    Hostile(
        "keyboard_interrupt", (*ONLY_VECTORS, "-n", "0"), vd.DOES_NOT_CONFORM, DNC,
        "avg_pool raised KeyboardInterrupt, and no interrupt signal", 60,
    ),
    Hostile(
        "keyboard_interrupt", ONLY_VECTORS, vd.DOES_NOT_CONFORM, DNC,
        "avg_pool raised KeyboardInterrupt, and no interrupt signal", 60,
    ),
    Hostile(
        "segfault", ONLY_VECTORS, vd.DOES_NOT_CONFORM, DNC,
        "crashed (the worker process died) in avg_pool(", 60,
    ),
    Hostile(
        "hang_python", (*ONLY_VECTORS, "--timeout", "2"), vd.DOES_NOT_CONFORM, DNC,
        "timed out after 2 s in avg_pool(", 60,
    ),
    Hostile(
        "hang_native", (*ONLY_VECTORS, "--timeout", "2"), vd.DOES_NOT_CONFORM, DNC,
        "avg_pool hung earlier in this run", 60,
    ),
    Hostile(
        "hang_native_holding_gil", (*ONLY_VECTORS, "--timeout", "2"), vd.DOES_NOT_CONFORM, DNC,
        "never let go of the interpreter", 60,
    ),
    Hostile(
        "memory_hog", (*ONLY_VECTORS, "--memory-limit", "1"), vd.DOES_NOT_CONFORM, DNC,
        "exceeded the memory limit", 60,
    ),
    Hostile(
        "big_wrong_output", (*ONLY_VECTORS, "-n", "0", "--memory-limit", "1.5"),
        vd.DOES_NOT_CONFORM, DNC, "output.shape=(67108864,)", 90,
    ),
    Hostile(
        "numpy_raise", ("--only", "vectors,properties", "-k", "vector or special"),
        vd.CONFORMS, "CONFORMS", "", 120,
    ),
    Hostile(
        "all_unsupported", ONLY_VECTORS, vd.NOTHING, "NOTHING ESTABLISHED", "no op passed", 60
    ),
    Hostile(
        "forward_only", (*ONLY_VECTORS, "--profile", "core"), vd.DOES_NOT_CONFORM, DNC,
        "requires max_pool_grad, avg_pool_grad, not established", 60,
    ),
    Hostile(
        "wrong_shape", ("--only", "vectors,metamorphic,hygiene", "-k", "avg_pool", "--no-shrink"),
        vd.DOES_NOT_CONFORM, DNC, "output.shape=", 120,
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_backend_gets_a_true_verdict(
    vectors: pathlib.Path, tmp_path: pathlib.Path, case: Hostile
) -> None:
    run = check(vectors, case.backend, *case.args, tmp=tmp_path, limit=case.seconds + 60)
    assert run.status == case.status, run.text[-6000:]
    if case.word:
        assert run.last_line.startswith(f"poolconf: {case.backend} {case.word}"), run.text[-6000:]
    else:  # a usage error: one line on stderr, no traceback
        assert run.err.count("\n") == 1 and "Traceback" not in run.text, run.text[-6000:]
    assert case.message in run.text, run.text[-6000:]
    assert run.seconds < case.seconds, f"{run.seconds:.0f} s"
    assert _leftovers(tmp_path) == []


def test_an_exit_from_a_thread_never_passes(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The backend's thread ends the worker at a moment of its own choosing: during a test
    (that test crashed: does not conform) or between tests (tests never ran: incomplete)."""
    run = check(
        vectors, "exit_from_thread", "--only", "vectors,properties", "-k", "vector or special",
        "--max-worker-restart", "2", tmp=tmp_path, limit=120,
    )  # fmt: skip
    assert run.status in (vd.DOES_NOT_CONFORM, vd.NOTHING), run.text[-6000:]
    word = "DOES NOT CONFORM" if run.status == vd.DOES_NOT_CONFORM else "INCOMPLETE"
    assert run.last_line.startswith(f"poolconf: exit_from_thread {word}"), run.text[-6000:]
    assert run.seconds < 90
    assert _leftovers(tmp_path) == []


def test_a_syntax_error_in_a_backend_module_is_a_usage_error(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "syntax_error.py").write_text("def max_pool(x:\n", encoding="utf-8")
    run = check(vectors, "syntax_error", tmp=tmp_path)
    assert run.status == vd.USAGE, run.text
    assert "SyntaxError" in run.err and "Traceback" not in run.text
    assert run.err.count("\n") == 1


def test_output_floods_are_cut(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    run = check(vectors, "print_flood", *ONLY_VECTORS, "-n", "0", tmp=tmp_path)
    assert run.status == vd.DOES_NOT_CONFORM, run.text[-4000:]
    assert "characters in all; the middle is left out" in run.text
    # two failing cases print 5 MB each; what reaches the log is a few kB per failure
    assert len(run.text) < 200_000, len(run.text)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_whole_run_and_its_temporary_folders(
    vectors: pathlib.Path, tmp_path: pathlib.Path, sig: signal.Signals
) -> None:
    cmd = _command(vectors, "hang_native", (*ONLY_VECTORS, "--timeout", "600"))
    proc = subprocess.Popen(
        cmd, env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("poolconf-check-*/calls/*")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until a worker is making backend calls
    time.sleep(1.0)
    start = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 15
    assert proc.returncode == vd.INTERRUPTED[sig.name], out + err
    assert f"INTERRUPTED by {sig.name}" in err
    time.sleep(0.5)
    assert _leftovers(tmp_path) == []


def test_no_hypothesis_folder_in_the_current_directory(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = check(
        vectors, "numpy-strided", "--only", "properties", "-k", "special and max_pool",
        "--examples", "2",
        tmp=tmp_path,
    )  # fmt: skip
    assert run.status == vd.CONFORMS, run.text[-4000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_check_of_a_backend_that_hangs_in_one_op_finishes(tmp_path: pathlib.Path) -> None:
    """The first hang costs the timeout; every later call of that op fails at once ("hung
    earlier"), so a check of every module against the installed vectors pays one timeout,
    not one per test of the op. The evidence is in the messages; the wall-clock bound is
    loose, so that a loaded machine cannot make it flaky."""
    report = tmp_path / "report.json"
    cmd = [
        sys.executable, "-m", "poolconf", "check", "hang_python", "--profile", "core",
        "--timeout", "20", "--no-shrink", "--report-json", str(report),
    ]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=900,
        check=False,
    )  # fmt: skip
    seconds = time.monotonic() - start
    # one timeout per test of the op would be far past this (over 25 tests x 20 s)
    assert seconds < 300, f"{seconds:.0f} s"
    assert proc.returncode == vd.DOES_NOT_CONFORM, proc.stdout[-4000:] + proc.stderr
    data = json.loads(report.read_text())
    failures = data["failures"]
    timed_out = [f for f in failures if "timed out after 20" in f["message"]]
    assert len(timed_out) == 1, timed_out
    rest = [f for f in failures if f not in timed_out]
    assert len(rest) >= 10 and all("hung earlier" in f["message"] for f in rest), rest
    assert {f["op"] for f in failures} <= {"avg_pool", "avg_pool_grad"}
    assert data["never_ran"] == [] and data["totals"]["passed"] > 50
