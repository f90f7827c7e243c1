"""The benchmark runs with its one command and writes the documented table (``--quick``)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"
KERNEL_HEADER = (
    "| case | op | dir | strided ms | im2col ms | torch ms | torch-cl ms | strided / torch "
    "| im2col / torch | torch-cl / torch | bound ms | strided / bound |"
)
SECTIONS = [
    "## Machine",
    "## Pooling kernels",
    "## Peak memory (MiB)",
    "## Reference (exact, explicit loops)",
    "## Command wall times",
    "## Targets",
]
CASES = ["2d-k3s2p1", "2d-k2s2", "3d-k2s2", "1d-k3s2p1", "2d-k3s2p1-f16"]


def _table(text: str, header: str) -> list[list[str]]:
    """The rows (cells) of the markdown table that starts with ``header``."""
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def quick_table(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("bench") / "bench.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert proc.stdout == text  # the table is printed too
    return text


def test_sections_and_machine(quick_table: str) -> None:
    positions = [quick_table.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    for item in (
        "| CPU |",
        "| NumPy |",
        "| torch threads |",
        "| copy bandwidth",
        "| mode | quick |",
    ):
        assert item in quick_table, item


def test_kernel_table(quick_table: str) -> None:
    rows = _table(quick_table, KERNEL_HEADER)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (c, op, d) for c in CASES for op in ("max", "avg") for d in ("fwd", "bwd")
    ]
    number = re.compile(r"^\d+(\.\d+)?(e[-+]\d+)?$")
    for r in rows:
        strided, im2col, torch_ms = (float(r[i]) for i in (3, 4, 5))
        assert strided > 0 and im2col > 0 and torch_ms > 0
        # ratios are the times' quotients (rounded to 3 digits on both sides)
        assert float(r[7]) == pytest.approx(strided / torch_ms, rel=0.02), r
        assert float(r[8]) == pytest.approx(im2col / torch_ms, rel=0.02), r
        assert number.match(r[10]) and number.match(r[11]), r
        if r[0].startswith("1d"):
            assert "channels_last" in r[6]


def test_memory_reference_and_targets(quick_table: str) -> None:
    mem = _table(
        quick_table, "| case | op | dir | input | strided | im2col | torch (RSS) | torch-cl (RSS) |"
    )
    assert len(mem) == 20
    ref = _table(
        quick_table,
        "| case | op | dir | reduced shape | calls/s | us per output element "
        "| ~full s | ~full / torch |",
    )
    assert len(ref) == 20 and all(float(r[4]) > 0 for r in ref)
    assert re.search(r"\d+ cases in [\d.]+ s = \*\*\d+ cases/s\*\*", quick_table)
    targets = _table(quick_table, "| target | measured | limit | verdict |")
    assert targets and all(r[3] == "n/a (quick)" for r in targets)
