"""Imports point one way: poolconf (the face) <- reference <- conformance <- tools.

The folders are mapped onto ``poolconf.*`` packages (pyproject.toml), so the test reads
the sources with ``ast`` and resolves every ``poolconf`` import to its layer. A layer may
import its own layer and the layers below it; ``poolconf/__main__.py`` is the command's
entry point and may import the tools. Imports of poolconf modules sit at the top of a
module: a function-local one hides an edge of the graph (usually a cycle being dodged).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# layer of each source folder, lowest first
LAYERS = {"poolconf": 0, "reference": 1, "conformance": 2, "tools": 3}
PACKAGES = {
    "poolconf.reference": "reference",
    "poolconf.conformance": "conformance",
    "poolconf.tools": "tools",
    "poolconf.vectors": "poolconf",  # data packages: anyone may read them
    "poolconf.spec": "poolconf",
    "poolconf": "poolconf",
}
ENTRY_POINTS = {"poolconf/__main__.py"}


def _layer_of_module(module: str) -> str | None:
    for prefix in sorted(PACKAGES, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return PACKAGES[prefix]
    return None


def _imports(tree: ast.Module) -> list[tuple[ast.stmt, list[str], bool]]:
    """(node, imported poolconf modules, at module top level) for every import."""
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        else:
            continue
        mods = [m for m in mods if m == "poolconf" or m.startswith("poolconf.")]
        if mods:
            found.append((node, mods, id(node) in top))
    return found


SOURCES = sorted(p for folder in LAYERS for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[p.relative_to(ROOT).as_posix() for p in SOURCES])
def test_imports_point_down(path: pathlib.Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    own = LAYERS[rel.split("/", 1)[0]]
    for node, mods, at_top in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        assert at_top, f"{rel}:{node.lineno}: function-local import of {mods[0]}"
        if rel in ENTRY_POINTS:
            continue
        for mod in mods:
            layer = _layer_of_module(mod)
            assert layer is not None
            assert LAYERS[layer] <= own, (
                f"{rel}:{node.lineno} imports {mod} ({layer}), a layer above its own"
            )


def test_the_graph_is_read() -> None:
    """The scan sees the known downward edges (so a broken scan cannot pass)."""
    edges = set()
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        for _, mods, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            edges |= {(rel.split("/", 1)[0], _layer_of_module(m)) for m in mods}
    assert {
        ("tools", "conformance"),
        ("conformance", "reference"),
        ("reference", "poolconf"),
    } <= edges
