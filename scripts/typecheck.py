"""Type-check the poolconf package with mypy (settings: ``[tool.mypy]`` in pyproject.toml).

The source folders are mapped onto ``poolconf.*`` packages (``package-dir`` in
pyproject.toml), which mypy cannot follow from the tree, and the editable install
reaches them through an import hook that mypy does not read either. So this builds
the package as it is installed, a tree of symbolic links in a temporary folder, runs
mypy on it, and prints every path as the checkout's own.

    python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli there
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def package_dirs() -> dict[str, pathlib.Path]:
    """Package name -> source folder, from pyproject.toml's ``package-dir``."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def link_tree(target: pathlib.Path) -> None:
    """``target/poolconf/...`` laid out as the installed package, file by file."""
    dirs = package_dirs()
    for name, folder in sorted(dirs.items()):
        dest = target.joinpath(*name.split("."))
        dest.mkdir(parents=True, exist_ok=True)
        for source in folder.glob("*.py"):
            (dest / source.name).symlink_to(source)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="poolconf-typecheck-") as tmp:
        tree = pathlib.Path(tmp)
        link_tree(tree)
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
        cmd += ["poolconf", *argv]
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False)
        # mypy names the links; name the files they point at instead
        links = {
            str(p.relative_to(tree)): os.path.relpath(p.resolve(), ROOT) for p in tree.rglob("*.py")
        }
        for line in (proc.stdout + proc.stderr).splitlines():
            path, sep, rest = line.partition(":")
            print(f"{links.get(path, path)}{sep}{rest}")
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
