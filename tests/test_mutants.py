"""Every mutant in the zoo (tests/mutants) must be killed by ``poolconf check``.

For each mutant the real command runs in a subprocess, ``poolconf check
mutants.m_x:Name --only vectors``: the golden vectors alone must make it fail
(deterministic: no Hypothesis is involved), and at least one failing case must name a
clause the mutant's bug violates (so it was killed for the right reason), except
for the mutants named in ``VECTORS_MAY_MISS``: size-threshold bugs that only inputs
larger than the golden vectors hold reach, which the property tests' scale tier must
kill instead (and which must really survive the vectors, a stale entry failing, and every
property but the scale tier's: the tier is what kills them). Gradient
mutants must also be killed by ``--only gradients`` alone (the reference-free
gradient checks). The property tests alone (``--only properties``, the default
budget) must kill every mutant except those named in ``PROPERTY_SURVIVORS``, which
may hold at most 10% of the zoo and must really survive (a stale entry fails).

Each run asks for the verdict, not every failure: no shrinking (``--no-shrink``), and it
stops at its first failure (``-x``). The vectors and properties that name one of the
mutant's clauses run first (``-k "<its clauses>"``); the whole part runs only if those
do not kill it. The runs go two at a time (run this module in its own pytest process, as
scripts/test.sh does, so that both run all the time; under pytest-xdist each worker runs
what its tests need); the killing test, clause and time are attached to each test as user
properties and printed with ``-rA``/``-s``.

Mutants are discovered (every ``Mutant`` subclass of ``tests/mutants/m_*.py``), so a
new mutant that nothing kills fails here, named in the test id.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mutants
from mutants.check import Verdict, run_check

ENTRIES = mutants.discover()
SPECS = {e.spec: e for e in ENTRIES}
SPEC_FILE = Path(__file__).resolve().parent.parent / "spec" / "pooling.md"
SOURCE = re.compile(r"https?://\S+|seed \d{3}|\bseeds?\b", re.IGNORECASE)
WORKERS = 2
# mutants the property tests may miss in the default budget: name -> why (at most 10%)
PROPERTY_SURVIVORS: dict[str, str] = {}
# mutants the golden vectors may miss: name -> why; the property tests must kill them
SIZE_THRESHOLD = "size-threshold bug: needs inputs larger than the golden vectors hold"
VECTORS_MAY_MISS: dict[str, str] = {
    "ChannelTailChunkOffset": f"{SIZE_THRESHOLD} (channels_last with C > 16, C % 16 != 0)",
    "TileEdgeTapsDropped": f"{SIZE_THRESHOLD} (a window across column 64 of a longer axis)",
}


def _runs() -> list[tuple[str, str]]:
    """One run per mutant and part."""
    return [run for e in ENTRIES for run in _runs_of(e)]


UNSCALED = "properties without the scale tier"


def _runs_of(entry: mutants.Entry) -> list[tuple[str, str]]:
    parts = ["vectors", "gradients"] if entry.cls.KIND == "gradient" else ["vectors"]
    parts.append("properties")
    if entry.name in VECTORS_MAY_MISS:
        parts.append(UNSCALED)
    return [(entry.spec, part) for part in parts]


def _check(run: tuple[str, str]) -> Verdict:
    spec, part = run
    if part == UNSCALED:  # every property but the scale tier's, to the end
        return run_check(spec, "properties", timeout=300, extra=("--no-shrink", "-k", "not scale"))
    # no shrinking (it took most of the property and gradient time), and a run stops at its
    # first failure (-x): the verdict, not every failure
    first_failure = ("--no-shrink", "--pytest-arg=-x")
    if part == "gradients":
        return run_check(spec, part, timeout=300, extra=first_failure)
    # first only the tests that name one of the mutant's clauses (-k by clause id): a kill
    # there is a kill by the whole part, for the right reason (every test is derandomised, so
    # it fails the same way in a run of the whole part); otherwise the whole part decides,
    # the vectors to the end (a failing case that names one of the clauses may come after
    # one that does not; and a failure message can cite a clause its test does not name)
    entry = SPECS[spec]
    clauses = " or ".join(entry.cls.CLAUSES)
    narrow = run_check(spec, part, timeout=300, extra=(*first_failure, "-k", clauses))
    if not narrow.broken and _killed_for_its_clauses(narrow, entry, part):
        return narrow
    whole = first_failure if part == "properties" else ("--no-shrink",)
    return run_check(spec, part, timeout=300, extra=whole)


def _killed_for_its_clauses(v: Verdict, entry: mutants.Entry, part: str) -> bool:
    """A kill as the part's test requires it: for the vectors, by a failing case that
    names one of the mutant's clauses."""
    if part != "vectors":
        return v.killed
    return v.killed and bool(v.clauses_hit() & set(entry.cls.CLAUSES))


class _Verdicts(dict):  # type: ignore[type-arg]
    """(spec, part) -> Verdict, each run once, on first use."""

    def __missing__(self, key: tuple[str, str]) -> Verdict:
        self[key] = _check(key)
        return self[key]


@pytest.fixture(scope="session")
def verdicts(request: pytest.FixtureRequest) -> dict[tuple[str, str], Verdict]:
    """The ``poolconf check`` runs: in a single pytest process those of the selected
    tests' mutants up front, two subprocesses at a time (``-k NAME`` runs one mutant's);
    under pytest-xdist each worker runs what its tests need."""
    cache = _Verdicts()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        selected = {
            item.callspec.params["entry"].spec
            for item in request.session.items
            if "entry" in getattr(getattr(item, "callspec", None), "params", {})
        }
        runs = [r for r in _runs() if r[0] in selected]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for run, verdict in zip(runs, pool.map(_check, runs)):
                cache[run] = verdict
    return cache


def _describe(v: Verdict) -> str:
    if v.broken:
        return f"the run itself failed (exit {v.returncode}):\n{v.output_tail}"
    return (
        f"exit {v.returncode}, {v.totals} in {v.seconds:.1f} s; first failure "
        f"{v.first_test} [{v.first_clause}]"
    )


def test_zoo_is_large_enough() -> None:
    assert len(ENTRIES) >= 40, f"only {len(ENTRIES)} mutants (the zoo keeps at least 40)"
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names)), "mutant class names must be unique across modules"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_mutant_is_documented(entry: mutants.Entry) -> None:
    """A docstring naming the real-world bug (a link) or the seed it reproduces, and
    the clauses it violates, all defined by the spec."""
    assert SOURCE.search(entry.doc) or "poolconf requires" in entry.doc, (
        f"{entry.spec}: the docstring must name the bug it models (issue/PR link or seed)"
    )
    assert entry.cls.CLAUSES, f"{entry.spec}: CLAUSES is empty"
    spec_text = SPEC_FILE.read_text(encoding="utf-8")
    missing = [c for c in entry.cls.CLAUSES if c not in spec_text]
    assert not missing, f"{entry.spec}: clauses {missing} are not defined in spec/pooling.md"
    assert entry.cls.KIND in ("forward", "gradient", "hygiene")


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_vectors_kill_mutant(
    entry: mutants.Entry, verdicts: dict[tuple[str, str], Verdict], record_property: object
) -> None:
    """The golden vectors alone make ``poolconf check`` fail on the mutant, for one of
    the clauses its bug violates."""
    v = verdicts[entry.spec, "vectors"]
    record_property("vectors", _describe(v))  # type: ignore[operator]
    assert not v.broken, f"{entry.spec}: {_describe(v)}"
    why = VECTORS_MAY_MISS.get(entry.name)
    if why is not None:
        assert entry.name not in PROPERTY_SURVIVORS, (
            f"{entry.spec}: in VECTORS_MAY_MISS, so the property tests must kill it"
        )
        assert not v.killed, (
            f"{entry.spec}: the golden vectors now kill it ({_describe(v)}); remove it from "
            "VECTORS_MAY_MISS"
        )
        pytest.xfail(f"survives the golden vectors: {why}")
    assert v.killed, f"{entry.spec} survives the golden vectors: {_describe(v)}"
    hit = v.clauses_hit()
    assert hit & set(entry.cls.CLAUSES), (
        f"{entry.spec} was killed, but no failing case names one of its clauses "
        f"{entry.cls.CLAUSES} (failing cases name {sorted(hit)}): {_describe(v)}"
    )
    print(f"{entry.name}: killed by {v.first_test} [{v.first_clause}] in {v.seconds:.1f} s")


GRADIENT_ENTRIES = [e for e in ENTRIES if e.cls.KIND == "gradient"]


@pytest.mark.parametrize("entry", GRADIENT_ENTRIES, ids=[e.name for e in GRADIENT_ENTRIES])
def test_gradient_checks_kill_gradient_mutant(
    entry: mutants.Entry, verdicts: dict[tuple[str, str], Verdict], record_property: object
) -> None:
    """The gradient checks alone (adjoint identity, finite differences; no reference
    gradients, no vectors) kill every gradient mutant."""
    v = verdicts[entry.spec, "gradients"]
    record_property("gradients", _describe(v))  # type: ignore[operator]
    assert not v.broken, f"{entry.spec}: {_describe(v)}"
    assert v.killed, f"{entry.spec} survives the gradient checks: {_describe(v)}"


def test_vectors_may_miss_is_small() -> None:
    """Only a few mutants, each of them named, may escape the golden vectors."""
    unknown = set(VECTORS_MAY_MISS) - {e.name for e in ENTRIES}
    assert not unknown, f"VECTORS_MAY_MISS names no mutant: {sorted(unknown)}"
    assert len(VECTORS_MAY_MISS) <= 0.1 * len(ENTRIES)


@pytest.mark.parametrize("name", sorted(VECTORS_MAY_MISS))
def test_size_threshold_mutant_needs_the_scale_tier(
    name: str, verdicts: dict[tuple[str, str], Verdict], record_property: object
) -> None:
    """A size-threshold mutant survives every property but the scale tier's (``-k "not
    scale"``): the tier is what kills it (``test_property_tests_kill_mutant``)."""
    entry = next(e for e in ENTRIES if e.name == name)
    v = verdicts[entry.spec, UNSCALED]
    record_property("unscaled", _describe(v))  # type: ignore[operator]
    assert not v.broken, f"{entry.spec}: {_describe(v)}"
    assert not v.killed, f"{entry.spec}: killed without the scale tier: {_describe(v)}"


def test_property_survivors_are_few() -> None:
    """The property tests alone kill at least 90% of the zoo."""
    unknown = set(PROPERTY_SURVIVORS) - {e.name for e in ENTRIES}
    assert not unknown, f"PROPERTY_SURVIVORS names no mutant: {sorted(unknown)}"
    assert len(PROPERTY_SURVIVORS) <= 0.1 * len(ENTRIES), (
        f"{len(PROPERTY_SURVIVORS)} of {len(ENTRIES)} mutants survive the property tests "
        "(at most 10% may)"
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_property_tests_kill_mutant(
    entry: mutants.Entry, verdicts: dict[tuple[str, str], Verdict], record_property: object
) -> None:
    """The property tests alone (Hypothesis, default budget, derandomised) kill the mutant."""
    v = verdicts[entry.spec, "properties"]
    record_property("properties", _describe(v))  # type: ignore[operator]
    assert not v.broken, f"{entry.spec}: {_describe(v)}"
    why = PROPERTY_SURVIVORS.get(entry.name)
    if why is not None:
        assert not v.killed, (
            f"{entry.spec}: the property tests now kill it ({_describe(v)}); remove it from "
            "PROPERTY_SURVIVORS"
        )
        pytest.xfail(f"survives the property tests in the default budget: {why}")
    assert v.killed, f"{entry.spec} survives the property tests: {_describe(v)}"
    print(
        f"{entry.name}: properties kill it with {v.first_test} [{v.first_clause}] in {v.seconds:.1f} s"
    )
