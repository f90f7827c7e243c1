"""The verdict of a run: what it established about the backend, in one line and one exit
status.

A run *conforms* to its profile only when it finished (every collected test has an
outcome), nothing failed (known failures aside), no known-failure id is stale, at least
one op was established (an op is established when at least one of its tests passed),
and, for the ``core`` profile, every op the profile requires was established
[POOL-PROFILE-1, POOL-PROFILE-2]. Ops a backend does not implement, or reports
``Unsupported`` for, are listed, never counted as passes.

A run that stopped early is incomplete, unless a test had already failed: that failure
is evidence enough that the backend does not conform. A restricted run
(``--poolconf-only``, ``-k``, ``-m``, deselected tests, a subset of the test modules)
says so in its line; it still fails for a required op whose tests ran and established
nothing, and lists the required ops it did not test at all as not checked.

Exit statuses of ``poolconf check`` (and the words of the verdict line):

===  ====================  =========================================================
0    CONFORMS              the claim above holds
1    DOES NOT CONFORM      a test failed, a known failure passed, a known-failure id
                           is stale, or an op the profile requires is not established
2    usage error           bad options, a backend that cannot be loaded, vectors that
                           do not match their manifest
3    NOTHING ESTABLISHED   the run finished but no op was established, or
     INCOMPLETE            the run did not finish: tests never ran, or no record
4    internal error        poolconf itself failed
130  interrupted           SIGINT (143: SIGTERM) stopped the run
===  ====================  =========================================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CONFORMS, DOES_NOT_CONFORM, USAGE, NOTHING, INTERNAL = 0, 1, 2, 3, 4
INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143}
# what a profile requires to be established [POOL-PROFILE-1]
REQUIRED_OPS = {
    "core": ("max_pool", "avg_pool", "max_pool_grad", "avg_pool_grad"),
    "full": (),
}
NOT_IMPLEMENTED = "unsupported: backend "  # the skip reason of a missing op


@dataclass
class Verdict:
    """A run's verdict: ``word``, ``status`` (the exit status) and the one ``line``."""

    word: str
    status: int
    line: str
    established: list[str] = field(default_factory=list)
    not_implemented: list[str] = field(default_factory=list)
    not_established: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "status": self.status,
            "line": self.line,
            "established": self.established,
            "not_implemented": self.not_implemented,
            "not_established": self.not_established,
        }


def _ops(tests: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """(established, not implemented, neither) ops of a run's test records; together they
    are the ops the run tested."""
    outcomes: dict[str, Counter[str]] = {}
    missing: set[str] = set()
    for t in tests:
        op = t.get("op") or ""
        if not op or op.startswith("("):
            continue
        outcomes.setdefault(op, Counter())[t["outcome"]] += 1
        if t["outcome"] == "skipped" and str(t.get("message", "")).startswith(NOT_IMPLEMENTED):
            missing.add(op)
    established = sorted(op for op, c in outcomes.items() if c["passed"])
    absent = sorted(op for op in missing if op not in established)
    neither = sorted(op for op in outcomes if op not in established and op not in absent)
    return established, absent, neither


def decide(record: Mapping[str, Any] | None, *, backend: str, profile: str) -> Verdict:
    """The verdict of the run whose summary record (``Collector.as_json``) is ``record``
    (None when the run left none)."""
    name = f"poolconf: {backend}"
    if record is None:
        return Verdict(
            "INCOMPLETE", NOTHING, f"{name} INCOMPLETE: the run ended without its record"
        )
    tests = list(record.get("tests", []))
    totals = Counter(t["outcome"] for t in tests)
    never = list(record.get("never_ran", []))
    established, absent, neither = _ops(tests)
    counts = (
        f"{len(tests)} tests: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped, {totals['xfailed']} known failures"
    )
    ops = f"(ops: {', '.join(established) or 'none'}"
    ops += f"; not implemented: {', '.join(absent)})" if absent else ")"
    found = {"established": established, "not_implemented": absent, "not_established": neither}
    incomplete = ""
    if never or not record.get("complete", False):
        incomplete = f"{len(never)} of {len(tests) + len(never)} tests never ran"
        if not tests and not never:
            incomplete = "no test was collected"
        if record.get("stopped"):
            incomplete += f" ({record['stopped']})"
    failed = totals["failed"] + totals["xpassed"]
    if incomplete and not failed:
        line = f"{name} INCOMPLETE: {incomplete}; {counts}"
        return Verdict("INCOMPLETE", NOTHING, line, **found)
    restricted = str(record.get("restricted") or "")
    tested = {*established, *absent, *neither}
    required = [op for op in REQUIRED_OPS.get(profile, ()) if op not in established]
    unchecked = [op for op in required if (restricted or incomplete) and op not in tested]
    required = [op for op in required if op not in unchecked and not incomplete]
    notes = [f"restricted run: {restricted}"] if restricted else []
    notes += [f"incomplete run: {incomplete}"] if incomplete else []
    notes += [f"{', '.join(unchecked)} not checked"] if unchecked else []
    scope = f" ({'; '.join(notes)})" if notes else ""
    problems = []
    if failed:
        problems.append(f"{failed} tests failed")
    if record.get("stale_xfail_ids"):
        problems.append(f"{len(record['stale_xfail_ids'])} stale known-failure ids")
    if required:
        problems.append(f"profile {profile} requires {', '.join(required)}, not established")
    if problems:
        line = (
            f"{name} DOES NOT CONFORM to profile {profile}{scope}: {'; '.join(problems)} "
            f"{ops}, {counts}"
        )
        return Verdict("DOES NOT CONFORM", DOES_NOT_CONFORM, line, **found)
    if not established:
        line = (
            f"{name} NOTHING ESTABLISHED for profile {profile}{scope}: no op passed a test; "
            f"{counts}"
        )
        return Verdict("NOTHING ESTABLISHED", NOTHING, line, **found)
    line = f"{name} CONFORMS to profile {profile}{scope} {ops}, {counts}"
    return Verdict("CONFORMS", CONFORMS, line, **found)
