"""The mutant zoo: correct backends with exactly one injected bug each.

Every class in a ``m_*.py`` module of this package that subclasses
``mutants.base.Mutant`` is a mutant; ``discover()`` finds them, and
tests/test_mutants.py requires the golden vectors to kill each one. The seeds'
own implementations are ``seed_*.py`` modules (``SEEDS``). Load one with
``PYTHONPATH=tests poolconf check mutants.m_max:NanDropped``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

PACKAGE = __name__


@dataclass(frozen=True)
class Entry:
    """One mutant: its backend spec for ``poolconf check`` and its class."""

    spec: str
    name: str
    module: str
    cls: type

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.cls) or ""


def _modules(prefix: str) -> list[str]:
    path = [str(p) for p in __path__]  # type: ignore[name-defined]
    return sorted(m.name for m in pkgutil.iter_modules(path) if m.name.startswith(prefix))


def discover() -> list[Entry]:
    """Every mutant class of every ``m_*`` module, in module then source order."""
    from mutants.base import Mutant

    entries = []
    for mod_name in _modules("m_"):
        module = importlib.import_module(f"{PACKAGE}.{mod_name}")
        classes = [
            obj
            for name, obj in vars(module).items()
            if inspect.isclass(obj)
            and issubclass(obj, Mutant)
            and obj.__module__ == module.__name__
            and not name.startswith("_")
        ]
        classes.sort(key=lambda c: inspect.getsourcelines(c)[1])
        for cls in classes:
            entries.append(
                Entry(f"{PACKAGE}.{mod_name}:{cls.__name__}", cls.__name__, mod_name, cls)
            )
    return entries


def seeds() -> list[str]:
    """Backend specs of the seeds' implementations (``seed_*`` modules)."""
    return [f"{PACKAGE}.{m}" for m in _modules("seed_")]
