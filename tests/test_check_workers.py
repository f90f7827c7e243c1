"""How ``poolconf check`` runs its workers: work stealing, and thread pools sized to a
share of the cores."""

from __future__ import annotations

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
