"""Running ``poolconf check`` on a mutant, the way a user would, and reading the verdict.

Each run is the real command (``python -m poolconf.tools.cli check SPEC --only PART
--report-json R``) in a subprocess with ``tests/`` on ``PYTHONPATH``; the verdict comes
from its exit status and JSON report, never from a re-implementation of the checks.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent
CLAUSE = re.compile(r"\[(POOL-[A-Z0-9]+-\d+)\]")


@dataclass
class Verdict:
    """What one ``poolconf check`` run said about a backend."""

    spec: str
    part: str
    returncode: int
    seconds: float
    totals: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    op_clauses: dict[str, Any] = field(default_factory=dict)
    output_tail: str = ""

    @property
    def killed(self) -> bool:
        """The check failed (exit status 1 with at least one failing test)."""
        return self.returncode == 1 and bool(self.failures)

    @property
    def nothing_established(self) -> bool:
        """Every test ran and was declined (exit status 3 with a report of only skips): a
        backend without any op the part checks, such as a seed without gradients."""
        ran = sum(self.totals.values())
        return self.returncode == 3 and ran > 0 and self.totals.get("skipped", 0) == ran

    @property
    def broken(self) -> bool:
        """The run itself went wrong (usage error, crash of the harness, no report)."""
        if self.nothing_established:
            return False
        return self.returncode not in (0, 1) or (self.returncode == 1 and not self.failures)

    @property
    def first_test(self) -> str:
        return self.failures[0]["id"].rsplit("::", 1)[-1] if self.failures else ""

    @property
    def first_clause(self) -> str:
        return clause_of(self.failures[0]) if self.failures else ""

    def clauses_hit(self) -> set[str]:
        """Every clause named by a failing test (its marker) or its failure message."""
        hit: set[str] = set()
        for f in self.failures:
            hit.update(f.get("clauses") or ())
            hit.update(CLAUSE.findall(f.get("message") or ""))
        return hit


def clause_of(failure: dict[str, Any]) -> str:
    """The clause a failure message ends with (the one the check judged by), else the
    test's first marked clause."""
    first_line = (failure.get("message") or "").strip().splitlines()[:1]
    found = CLAUSE.findall(first_line[0]) if first_line else []
    if found:
        return found[-1]
    clauses = failure.get("clauses") or []
    return clauses[0] if clauses else "(no clause)"


def run_check(
    spec: str, part: str, *, timeout: float = 600.0, extra: tuple[str, ...] = ()
) -> Verdict:
    """``poolconf check SPEC --only PART`` in one process (``-n 0``), timed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    with tempfile.TemporaryDirectory(prefix="poolconf-mutant-") as tmp:
        report = pathlib.Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "poolconf.tools.cli",
            "check",
            spec,
            "--only",
            part,
            "-n",
            "0",
            "--report-json",
            str(report),
            *extra,
        ]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"")[-4000:] if isinstance(exc.stdout, bytes) else str(exc.stdout)
            return Verdict(spec, part, 124, time.perf_counter() - start, output_tail=str(out))
        seconds = time.perf_counter() - start
        tail = (proc.stdout + proc.stderr)[-4000:]
        if not report.exists():
            return Verdict(spec, part, proc.returncode, seconds, output_tail=tail)
        data = json.loads(report.read_text(encoding="utf-8"))
    return Verdict(
        spec,
        part,
        proc.returncode,
        seconds,
        totals=data.get("totals", {}),
        failures=data.get("failures", []),
        op_clauses=data.get("op_clauses", {}),
        output_tail=tail,
    )
