"""``poolconf matrix``: real checks in, a grid and runnable reproducers out, reproducible.

One run of the command on the conforming ``numpy-strided`` backend and a mutant that
drops NaN (vectors only, core profile), then: the grid says pass and FAIL where the
reports do, the HTML is self-contained, every divergence's reproducer reruns it and
fails, and rendering again from the kept reports gives the same files except the
machine and timings lines.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import sys

import pytest

from poolconf.tools import matrix_cli

TESTS = pathlib.Path(__file__).resolve().parent
MUTANT = "mutants.m_max:NanDropped"
GOOD = "numpy-strided"
KNOWN = "known_nan"  # the same mutant, shipping a known-failure file that lists its failure
FAILING = "test_vector[max_pool_special_test#nan_among_negatives_padded_2d]"
KNOWN_MODULE = """
from mutants.m_max import NanDropped

_impl = NanDropped()
XFAIL_FILE = "known_nan_xfail.txt"


def __getattr__(name):
    return getattr(_impl, name)
"""


def _poolconf(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    return subprocess.run(
        [sys.executable, "-m", "poolconf.tools.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("matrix")
    (root / f"{KNOWN}.py").write_text(KNOWN_MODULE, encoding="utf-8")
    (root / f"{KNOWN}_xfail.txt").write_text(
        f"{FAILING}   # spec cannot express: drops NaN on purpose, POOL-MAX-2\n", encoding="utf-8"
    )
    args = [GOOD, MUTANT, KNOWN, "--profile", "core", "--only", "vectors", "-n", "0"]
    proc = _poolconf("matrix", *args, "--out", "out", "--reports", "reports", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def _without_run_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if not line.startswith(("Machine:", "Timings:", "<p>Machine:", "<p>Timings:"))
    ]


def test_grid_shows_what_the_reports_say(matrix: pathlib.Path) -> None:
    md = (matrix / "out" / matrix_cli.MD_NAME).read_text(encoding="utf-8")
    rows = [line for line in md.splitlines() if line.startswith("| max_pool | POOL-MAX-2 |")]
    assert rows == ["| max_pool | POOL-MAX-2 | pass | FAIL | choice |"], rows
    assert f"| {GOOD} |" in md and "CONFORMS" in md and "DOES NOT CONFORM" in md
    # the known failure is listed with its reason as the file gives it
    assert "| known_nan | choice | `test_vectors.py::" + FAILING + "` | spec cannot express:" in md


def test_html_is_self_contained(matrix: pathlib.Path) -> None:
    page = (matrix / "out" / matrix_cli.HTML_NAME).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and " src=" not in page and "<link" not in page
    assert matrix_cli.STATUSES["fail"][2] in page  # the colour grid


def test_reproducers_rerun_the_divergence(matrix: pathlib.Path) -> None:
    reports = matrix / "reports"
    results = [matrix_cli.load_result(reports, b) for b in (GOOD, MUTANT, KNOWN)]
    found = matrix_cli.divergences(results)
    assert {(d.backend, d.kind) for d in found} == {(MUTANT, "fail"), (KNOWN, "choice")}
    command = shlex.split(next(d for d in found if d.backend == MUTANT).reproducer)
    assert command[:2] == ["poolconf", "explain"], command
    proc = _poolconf(*command[1:], cwd=matrix)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the case fails again


def _files(folder: pathlib.Path) -> dict[str, str]:
    return {
        n: (folder / n).read_text(encoding="utf-8")
        for n in (matrix_cli.MD_NAME, matrix_cli.HTML_NAME)
    }


def test_rendering_from_kept_reports_is_byte_identical(matrix: pathlib.Path) -> None:
    first = _files(matrix / "out")
    args = [GOOD, MUTANT, KNOWN, "--profile", "core", "--only", "vectors", "-n", "0"]
    proc = _poolconf(
        "matrix", *args, "--out", "again", "--reports", "reports", "--render-only", cwd=matrix
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _files(matrix / "again") == first


def test_regenerating_reproduces_all_but_the_run_lines(matrix: pathlib.Path) -> None:
    """The command run again from scratch: only the machine and timings lines may differ."""
    first = _files(matrix / "out")
    args = [GOOD, MUTANT, KNOWN, "--profile", "core", "--only", "vectors", "-n", "0"]
    proc = _poolconf("matrix", *args, "--out", "out", "--reports", "reports2", cwd=matrix)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, text in _files(matrix / "out").items():
        assert _without_run_lines(text) == _without_run_lines(first[name]), name


def test_a_declaration_marks_only_the_parts_its_flag_concerns() -> None:
    """A declared choice colours a clause's cell "declared" only for the parts (forward
    ops, gradient ops) its flag concerns: the accumulator range is a forward matter."""
    declared = matrix_cli.declared_clauses({"accumulator": "float32", "tie_policy": "all"})
    assert declared[("POOL-DTYPE-6", "forward")] == "accumulator=float32"
    assert ("POOL-DTYPE-6", "grad") not in declared
    assert declared[("POOL-MAX-4", "grad")] == "tie_policy=all"
    assert matrix_cli.declared_clauses({"accumulator": "exact"}) == {}
