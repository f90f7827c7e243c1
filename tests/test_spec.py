"""Meta-tests: the spec is the source of truth.

Every clause id cited anywhere exists in spec/pooling.md (or spec/backend-api.md for
profiles); every normative and implementation-defined clause is exercised by a golden
vector or by a conformance check of the harness.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from poolconf.conformance.vector_format import load_cases

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "pooling.md"
CLAUSE_RE = re.compile(r"POOL-[A-Z]+-[0-9]+")
HEADING_RE = re.compile(r"^### (POOL-[A-Z]+-[0-9]+): (.+)$")
KINDS = ("normative", "implementation-defined", "informative")


def spec_clauses() -> dict[str, str]:
    """Clause id -> kind, parsed from the spec's headings."""
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    result: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = HEADING_RE.match(line)
        if not m:
            continue
        clause = m.group(1)
        assert clause not in result, f"{clause} is defined twice in {SPEC.name}"
        following = next(ln for ln in lines[i + 1 :] if ln.strip())
        kind = re.fullmatch(r"\*\*Kind:\*\* (.+)", following.strip())
        assert kind and kind.group(1) in KINDS, (
            f"{clause}: no valid **Kind:** line after the heading"
        )
        result[clause] = kind.group(1)
    return result


def cited_in(paths: list[pathlib.Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for clause in CLAUSE_RE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(clause, set()).add(str(path.relative_to(ROOT)))
    return found


def code_files() -> list[pathlib.Path]:
    return [p for d in ("reference", "tools", "conformance") for p in (ROOT / d).rglob("*.py")]


def test_spec_parses_with_unique_ids_and_kinds() -> None:
    clauses = spec_clauses()
    assert len(clauses) > 50


def test_every_cited_clause_is_defined() -> None:
    defined = spec_clauses()
    cited = cited_in(code_files() + list((ROOT / "spec").glob("*.md")))
    unknown = {c: sorted(w) for c, w in cited.items() if c not in defined}
    assert not unknown, f"clause ids cited but not defined in spec/pooling.md: {unknown}"


def test_every_vector_clause_is_defined() -> None:
    defined = spec_clauses()
    for case in load_cases():
        for clause in (*case.clauses, *([case.error_clause] if case.error_clause else [])):
            assert clause in defined, f"{case.test_id} cites undefined clause {clause}"


# Clauses that no golden vector can exercise, and the check that covers each instead.
NOT_BY_VECTORS = {
    "POOL-IDX-2": "index mapping formula: tests/test_seeds.py and spec text (informative mapping)",
    "POOL-IDX-3": "index mapping formula: tests/test_seeds.py (TF argmax convention)",
    "POOL-GRAD-7": "grad_output validation: tests/test_reference.py",
    "POOL-TOL-1": "tolerance rule: applied by every comparison (reference/tolerance.py)",
    "POOL-TOL-2": "tolerance rule: applied by every comparison (reference/tolerance.py)",
    "POOL-TOL-3": "tolerance rule: budgets computed by reference/tolerance.py",
    "POOL-SHAPE-2": "call hygiene: conformance/test_hygiene.py",
    "POOL-PROFILE-1": "profile selection: conformance/profiles.py, tests/test_harness.py",
    "POOL-PROFILE-2": "profile selection: conformance/profiles.py, tests/test_harness.py",
}


def test_every_testable_clause_has_a_vector() -> None:
    defined = spec_clauses()
    covered: set[str] = set()
    for case in load_cases():
        covered.update(case.clauses)
        if case.error_clause:
            covered.add(case.error_clause)
    missing = [
        c
        for c, kind in defined.items()
        if kind != "informative" and c not in covered and c not in NOT_BY_VECTORS
    ]
    assert not missing, (
        f"normative clauses with no golden vector and no declared other check: {missing}"
    )


@pytest.mark.parametrize("clause", sorted(NOT_BY_VECTORS))
def test_clauses_left_to_other_checks_are_cited_there(clause: str) -> None:
    assert clause in spec_clauses()
    cited = cited_in(code_files() + list((ROOT / "tests").glob("test_*.py")))
    sites = cited.get(clause, set()) - {"tests/test_spec.py"}
    assert sites, f"{clause} is left to other checks, but nothing cites it"
