"""How ``poolconf check`` runs its pytest: workers with work stealing and thread pools
sized to a share of the cores; narrowed runs that collect only their modules."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from poolconf.tools import check_cli, cli


def test_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``-n N`` each worker's OpenMP/BLAS pools get cores // N threads (at least
    one), unless the caller sized a pool; one worker keeps the libraries' own default.
    The check runs with ``--dist worksteal``."""
    monkeypatch.setattr(check_cli.os, "sched_getaffinity", lambda pid: set(range(8)))
    threads = {}
    for workers in ("0", "1", "2", "3", "16", "auto"):
        env: dict[str, str] = {}
        check_cli.share_cores(env, workers)
        threads[workers] = {env.get(v) for v in check_cli.THREAD_VARIABLES}
    assert threads == {
        "0": {None}, "1": {None}, "2": {"4"}, "3": {"2"}, "16": {"1"}, "auto": {"1"}
    }  # fmt: skip
    env = {"OPENBLAS_NUM_THREADS": "3"}
    check_cli.share_cores(env, "2")
    assert env == {"OPENBLAS_NUM_THREADS": "3"}
    args = cli.build_parser().parse_args(["check", "numpy-strided", "-n", "2"])
    cmd = check_cli.pytest_command(args, "pytest.ini", "report.json")
    assert cmd[cmd.index("--dist") + 1] == "worksteal"


def test_narrowed_run_judges_only_its_modules(tmp_path: pathlib.Path) -> None:
    """``--only KIND`` collects (imports) only the modules of those kinds; a known-failure
    id naming a test of a module left out is not judged stale by such a run, while an id
    naming a collected module, or no module of the suite, still is."""
    xfail = tmp_path / "known.txt"
    xfail.write_text(
        "test_vector[nope_test#x]   # vectors module\n"
        "test_forward_matches_reference[nope]   # properties module, by function\n"
        "test_properties.py::test_nothing_here   # properties module, by path\n"
        "test_nowhere   # no module of the suite\n",
        encoding="utf-8",
    )
    stale = {}
    for only in ("hygiene", "properties", "vectors"):
        report = tmp_path / f"{only}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "poolconf", "check", "numpy-strided", "--only", only,
             "-n", "0", "-k", "no_such_test", "--xfail-file", str(xfail),
             "--report-json", str(report)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stdout + proc.stderr
        record = json.loads(report.read_text(encoding="utf-8"))
        stale[only] = sorted(record["stale_xfail_ids"])
    assert stale == {
        "hygiene": ["test_nowhere"],
        "properties": [
            "test_forward_matches_reference[nope]",
            "test_nowhere",
            "test_properties.py::test_nothing_here",
        ],
        "vectors": ["test_nowhere", "test_vector[nope_test#x]"],
    }
