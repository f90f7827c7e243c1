"""Size limits of the code base: no file over 800 lines, no function over 80 lines.

Large files and long functions hide what a backend or check does; the limits keep each
module readable in one sitting. Declarative data (case tables) is exempt, listed below
with what it is, so that the list can only shrink.
"""

from __future__ import annotations

import ast
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80

# Exempt from both limits: path, or folder prefix ending in "/", -> what it holds.
# Only declarative data belongs here; shrink it, never grow it with code.
DATA_ALLOWLIST: dict[str, str] = {
    # the declared vector cases: rows of parameters and comments, one entry per case
    "tools/cases/": "declared vector case tables, one module per op family",
}


def _allowlisted(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in DATA_ALLOWLIST)


def _tracked_python_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return sorted(p for p in out.splitlines() if (ROOT / p).is_file())


def _oversized(path: str, root: Path = ROOT) -> list[str]:
    """One line per limit the file at ``root / path`` breaks: its length, each long function."""
    source = (root / path).read_text(encoding="utf-8")
    problems = []
    lines = len(source.splitlines())
    if lines > MAX_FILE_LINES:
        problems.append(f"{path}: {lines} lines (max {MAX_FILE_LINES})")
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(
                    f"{path}:{node.lineno} {node.name}: {length} lines (max {MAX_FUNCTION_LINES})"
                )
    return problems


def test_no_oversized_files_or_functions() -> None:
    problems: list[str] = []
    exempt: list[str] = []
    for path in _tracked_python_files():
        (exempt if _allowlisted(path) else problems).extend(_oversized(path))
    if exempt:  # reported, not failed: the allowlist says why each is exempt
        warnings.warn("allowlisted, over the size limits:\n" + "\n".join(exempt), stacklevel=1)
    assert not problems, "over the size limits:\n" + "\n".join(problems)


def test_limits_are_measured(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n\ndef short():\n    pass\n")
    assert _oversized("long.py", tmp_path) == [
        f"long.py:1 long: 81 lines (max {MAX_FUNCTION_LINES})"
    ]
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    assert _oversized("big.py", tmp_path) == [f"big.py: 801 lines (max {MAX_FILE_LINES})"]
    assert _allowlisted("tools/cases/edge.py") and not _allowlisted("tools/generate.py")
    assert not _allowlisted("tools/casesx.py")
    assert not _allowlisted("conformance/backends/torch_backend.py")
