"""Collecting outcomes and ULP errors, the terminal summary and ``--poolconf-report-json``.

Tests send what the summary needs through ``user_properties`` of their reports,
so the same code works in one process and under pytest-xdist (where reports
travel from the workers to the controller):

* ``("poolconf", {"op": ..., "clauses": [...]})`` from the ``poolconf`` marker;
* ``("poolconf_ulp", [[op, dtype, output_name, ulp_error], ...])`` from ``ulp_recorder``;
* ``("poolconf_examples", {"budget", "checked", "unsupported", "not_judged"})`` from a
  property run (``harness.run_property``), with ``"draws"`` (the checked shapes) from
  the scale tier.

A test's outcome is one of passed, failed, skipped, xfailed, xpassed; a test that
ended its xdist worker (a crash, or the watchdog ending a hang or a runaway) counts as
failed and is listed under "crashed".
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed")
NO_OP = "(no op)"
NO_CLAUSE = "(no clause)"
# test_vector[<file stem>#<name>], the name being the case's stable identity
VECTOR_ID = re.compile(r"test_vector(?:_grad)?\[(?P<id>[^\[\]#]+#[a-z][a-z0-9_]*)\]$")


class UlpRecorder:
    """The ``ulp_recorder`` fixture: ``record(op, dtype, output_name, ulp_error)``.

    Call it after every successful comparison; the harness keeps the largest error
    per (op, dtype, output) and shows it in the summary and the JSON report.
    ``op`` is the function called (``max_pool``, ``avg_pool_grad``), ``dtype`` the
    spec dtype name of the compared output, ``output_name`` one of ``output``,
    ``indices``, ``grad_input``, ``grad_input_all``, ``grad_weight``, ``grad_bias``."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], float] = {}

    def record(self, op: str, dtype: str, output_name: str, ulp_error: float) -> None:
        err = float(ulp_error)
        if math.isnan(err):
            return
        key = (str(op), str(dtype), str(output_name))
        if err > self._pending.get(key, -1.0):
            self._pending[key] = err

    __call__ = record

    def drain(self) -> list[list[Any]]:
        """The errors recorded since the last drain, as JSON-able rows."""
        rows = [[op, dtype, out, err] for (op, dtype, out), err in self._pending.items()]
        self._pending.clear()
        return rows


@dataclass
class TestRecord:
    nodeid: str
    name: str
    op: str = NO_OP
    clauses: tuple[str, ...] = ()
    outcome: str = "passed"
    message: str = ""
    crashed: bool = False
    phases: set[str] = field(default_factory=set)
    examples: dict[str, Any] | None = None
    cited: str = ""  # the clause the failure cites (the failing comparison's)

    @property
    def failure_clause(self) -> str:
        return self.cited or (self.clauses[0] if self.clauses else NO_CLAUSE)


def _short_message(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, "Skipped: why")
        msg = str(longrepr[2])
        return msg.removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    return str(longrepr).strip().splitlines()[-1] if str(longrepr).strip() else ""


def _name_of(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]


class Collector:
    """Aggregates reports (controller side) into the summary data."""

    def __init__(self) -> None:
        self.tests: dict[str, TestRecord] = {}
        self.ulp: dict[tuple[str, str, str], float] = {}
        self.stale_ids: list[str] | None = None
        self.notes: list[str] = []
        self.collected: set[str] = set()  # every test id collected (by any process)
        self.complete = False  # the session finished and this record was completed
        self.stopped = ""  # why the run stopped early, when it did
        self.restricted = ""  # how the run was narrowed (``--poolconf-only``, ``-k``, ...)
        self.verdict: Any = None  # the run's verdict (conformance.verdict.Verdict), once decided
        self.case_lookup: Any = None  # callable(test id) -> (op, clauses) or None

    # -- input -----------------------------------------------------------------
    def add(self, report: Any) -> None:
        nodeid = report.nodeid
        rec = self.tests.get(nodeid)
        if rec is None:
            rec = self.tests[nodeid] = TestRecord(nodeid, _name_of(nodeid))
        for key, value in getattr(report, "user_properties", ()) or ():
            if key == "poolconf" and isinstance(value, dict):
                rec.op = str(value.get("op") or NO_OP)
                rec.clauses = tuple(value.get("clauses") or ())
            elif key == "poolconf_examples" and isinstance(value, dict):
                rec.examples = value
            elif key == "poolconf_cited":
                rec.cited = str(value)
            elif key == "poolconf_ulp":
                for op, dtype, out, err in value:
                    k = (op, dtype, out)
                    if err > self.ulp.get(k, -1.0):
                        self.ulp[k] = float(err)
        when = getattr(report, "when", "call")
        rec.phases.add(when)
        if when not in ("setup", "call", "teardown"):  # xdist crash report ("???")
            rec.crashed = True
            self._fill_from_id(rec)
        wasxfail = getattr(report, "wasxfail", None)
        if report.failed:
            if rec.outcome != "failed":
                rec.outcome = "failed"
                rec.message = _short_message(report)
        elif report.skipped:
            if rec.outcome == "passed":
                rec.outcome = "xfailed" if wasxfail is not None else "skipped"
                rec.message = str(wasxfail) if wasxfail else _short_message(report)
        elif when == "call" and wasxfail is not None and rec.outcome == "passed":
            rec.outcome = "xpassed"

    def _fill_from_id(self, rec: TestRecord) -> None:
        if rec.op != NO_OP or self.case_lookup is None:
            return
        m = VECTOR_ID.search(rec.name)
        if m:
            found = self.case_lookup(m.group("id"), rec.name.startswith("test_vector_grad"))
            if found:
                rec.op, rec.clauses = found

    # -- views -----------------------------------------------------------------
    def totals(self) -> Counter:
        return Counter(r.outcome for r in self.tests.values())

    def by_op(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.tests.values():
            out[r.op][r.outcome] += 1
        return dict(sorted(out.items()))

    def by_op_clause(self) -> dict[str, dict[str, Counter]]:
        """op -> clause -> outcome counts; a test counts under every clause it names."""
        out: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for r in self.tests.values():
            for clause in r.clauses or (NO_CLAUSE,):
                out[r.op][clause][r.outcome] += 1
        return {op: dict(sorted(c.items())) for op, c in sorted(out.items())}

    def by_clause(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.tests.values():
            for clause in r.clauses or (NO_CLAUSE,):
                out[clause][r.outcome] += 1
        return dict(sorted(out.items()))

    def skip_reasons(self) -> dict[str, Counter]:
        """op -> skip reason -> count."""
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.tests.values():
            if r.outcome == "skipped":
                out[r.op][r.message] += 1
        return dict(sorted(out.items()))

    def failures(self) -> list[TestRecord]:
        return [r for r in self.tests.values() if r.outcome in ("failed", "xpassed")]

    def never_ran(self) -> list[str]:
        """Collected tests without an outcome: the run stopped before reaching them."""
        ran = {nodeid for nodeid, r in self.tests.items() if r.phases & {"setup", "call", "???"}}
        return sorted(self.collected - ran)

    def resolve_known(self, known: Mapping[str, str]) -> None:
        """Tests that crashed their worker and are listed as known failures (``known``:
        test id -> reason, as the workers matched them) count as known failures."""
        for r in self.tests.values():
            reason = known.get(r.nodeid)
            if r.crashed and r.outcome == "failed" and reason is not None:
                r.outcome, r.message = "xfailed", f"{reason} (crashed its worker)"

    def crashed(self) -> list[TestRecord]:
        return [r for r in self.tests.values() if r.crashed]

    def short_properties(self) -> list[TestRecord]:
        """Property tests that checked fewer examples than their budget."""
        return [
            r
            for r in self.tests.values()
            if r.examples and r.examples.get("checked", 0) < r.examples.get("budget", 0)
        ]

    def ulp_table(self) -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for (op, dtype, name), err in sorted(self.ulp.items()):
            out.setdefault(op, {}).setdefault(dtype, {})[name] = err
        return out

    # -- output ----------------------------------------------------------------
    def as_json(self, *, backend: str | None, profile: str, exitstatus: int) -> dict[str, Any]:
        def counts(c: Counter) -> dict[str, int]:
            return {k: int(c.get(k, 0)) for k in OUTCOMES}

        return {
            "backend": backend,
            "profile": profile,
            "exitstatus": int(exitstatus),
            "totals": counts(self.totals()),
            "ops": {op: counts(c) for op, c in self.by_op().items()},
            "clauses": {cl: counts(c) for cl, c in self.by_clause().items()},
            "op_clauses": {
                op: {cl: counts(c) for cl, c in per.items()}
                for op, per in self.by_op_clause().items()
            },
            "skip_reasons": {op: dict(c) for op, c in self.skip_reasons().items()},
            "failures": [
                {
                    "id": r.nodeid,
                    "op": r.op,
                    "clause": r.failure_clause,
                    "clauses": list(r.clauses),
                    "message": r.message,
                    "crashed": r.crashed,
                    "outcome": r.outcome,
                }
                for r in self.failures()
            ],
            "xfailed": [
                {"id": r.nodeid, "reason": r.message}
                for r in self.tests.values()
                if r.outcome == "xfailed"
            ],
            "max_ulp_error": {
                op: {
                    d: {n: (e if math.isfinite(e) else "inf") for n, e in outs.items()}
                    for d, outs in per.items()
                }
                for op, per in self.ulp_table().items()
            },
            "verdict": None if self.verdict is None else self.verdict.as_json(),
            "complete": self.complete,
            "stopped": self.stopped,
            "restricted": self.restricted,
            "collected": len(self.collected),
            "never_ran": self.never_ran(),
            "tests": [
                {
                    "id": r.nodeid,
                    "op": r.op,
                    "outcome": r.outcome,
                    "message": _first_line(r.message),
                }
                for r in self.tests.values()
            ],
            "examples": {
                r.nodeid: r.examples for r in self.tests.values() if r.examples is not None
            },
            "stale_xfail_ids": self.stale_ids,
            "notes": self.notes,
        }

    def write_json(self, path: str | os.PathLike, **kw: Any) -> None:
        data = self.as_json(**kw)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=False, allow_nan=False, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)

    def summary_lines(self, *, backend: str | None, profile: str) -> list[str]:
        lines: list[str] = []
        t = self.totals()
        lines.append(
            f"backend {backend!r}, profile {profile}: "
            + ", ".join(f"{t.get(k, 0)} {k}" for k in OUTCOMES)
        )
        header = f"{'op / clause':<34}{'passed':>8}{'failed':>8}{'skipped':>9}{'xfailed':>9}{'xpassed':>9}"
        lines.append(header)
        by_op = self.by_op()
        for op, per in self.by_op_clause().items():
            lines.append(_row(op, by_op[op]))
            for clause, c in per.items():
                lines.append(_row("  " + clause, c))
        skips = self.skip_reasons()
        if skips:
            lines.append("skipped, with reasons:")
            for op, reasons in skips.items():
                for reason, n in reasons.most_common():
                    lines.append(f"  {op}: {n} x {reason}")
        crashed = self.crashed()
        if crashed:
            lines.append("crashed (the test killed its worker process; the run went on):")
            for r in crashed:
                lines.append(f"  {r.nodeid} [{r.op}] [{', '.join(r.clauses) or NO_CLAUSE}]")
        fails = self.failures()
        if fails:
            lines.append("failures:")
            for r in fails:
                lines.append(f"  {r.nodeid} [{r.failure_clause}]: {_first_line(r.message)}")
        short = self.short_properties()
        if short:
            lines.append("properties that checked fewer examples than their budget:")
            for r in short:
                e = r.examples or {}
                others = {**e.get("unsupported", {}), **e.get("not_judged", {})}
                why = "; ".join(
                    f"{k} (x{v})" for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:2]
                )
                lines.append(f"  {r.name}: {e.get('checked')} of {e.get('budget')} ({why})")
        table = self.ulp_table()
        if table:
            lines.append("largest ULP error per op and dtype (output: ULPs):")
            for op, by_dtype in table.items():
                for dtype, outs in by_dtype.items():
                    body = ", ".join(f"{name}: {_fmt(err)}" for name, err in outs.items())
                    lines.append(f"  {op:<26}{dtype:<10}{body}")
        if self.stale_ids:
            lines.append("stale known-failure ids (they match no test; remove them):")
            lines.extend(f"  {s}" for s in self.stale_ids)
        lines.extend(self.notes)
        return lines


def _row(label: str, c: Counter) -> str:
    return (
        f"{label[:33]:<34}{c.get('passed', 0):>8}{c.get('failed', 0):>8}{c.get('skipped', 0):>9}"
        f"{c.get('xfailed', 0):>9}{c.get('xpassed', 0):>9}"
    )


def _first_line(msg: str, limit: int = 300) -> str:
    line = msg.strip().splitlines()[0] if msg.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _fmt(err: float) -> str:
    if math.isinf(err):
        return "inf"
    return f"{err:.3g}"


def _json_default(o: Any) -> Any:
    if isinstance(o, Counter):
        return dict(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def merge_stale(lists: Iterable[list[str]]) -> list[str]:
    """Stale ids seen by every worker (an id is stale only if no worker matched it)."""
    sets = [set(x) for x in lists]
    if not sets:
        return []
    common = set.intersection(*sets)
    return sorted(common)
