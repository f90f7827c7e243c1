"""The tcId registry: a released case name keeps its tcId for good.

A case's identity is its ``name`` (``poolconf.tools.cases.case``); Wycheproof's integer
``tcId`` stays for compatibility, and ``tcids.json`` (shipped beside this module) maps
each vector file's names to their tcIds::

    {
     "files": {
      "max_pool_edge_test": {
       "ids": {"ceil_last_window_dropped": 1, "kernel_equals_input": 2, ...},
       "retired": {"old_name": {"tcId": 7, "reason": "why it was removed"}}
      }
     }
    }

Ids are append-only: the generator keeps a name's tcId, and a new name gets the next id of
its file (one more than every id the file ever used, retired ones included) only through
the explicit step ``poolconf vectors generate --assign-ids``, which rewrites this file. A
plain generation fails naming a declared name without a tcId, and a registered name that
is no longer declared: remove a case by moving its name to ``retired`` with a reason, so
that its id is never given to another case.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from poolconf.tools.cases.case import MAX_NAME, NAME, Case

REGISTRY_PATH = pathlib.Path(__file__).resolve().with_name("tcids.json")
ASSIGN_HINT = "run 'poolconf vectors generate --assign-ids'"


@dataclass(frozen=True)
class Retired:
    """A name removed from the declarations; its tcId is never reused."""

    tc_id: int
    reason: str


@dataclass(frozen=True)
class Registry:
    """File stem -> name -> tcId, and the retired names per file."""

    ids: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    retired: Mapping[str, Mapping[str, Retired]] = field(default_factory=dict)

    # -- reading and writing ---------------------------------------------------
    @classmethod
    def from_json(cls, doc: Mapping) -> Registry:
        ids: dict[str, dict[str, int]] = {}
        retired: dict[str, dict[str, Retired]] = {}
        for stem, entry in doc.get("files", {}).items():
            ids[stem] = {str(n): int(i) for n, i in entry.get("ids", {}).items()}
            retired[stem] = {
                str(n): Retired(int(r["tcId"]), str(r["reason"]))
                for n, r in entry.get("retired", {}).items()
            }
        return cls(ids, retired)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Registry:
        """The registry of ``path`` (default: the shipped ``tcids.json``)."""
        p = pathlib.Path(path) if path is not None else REGISTRY_PATH
        return cls.from_json(json.loads(p.read_text(encoding="utf-8")))

    @classmethod
    def fresh(cls, cases: Iterable[Case]) -> Registry:
        """A registry numbering ``cases`` 1..N per file in order (for ad-hoc case lists)."""
        return cls().assign(cases)[0]

    def to_json(self) -> dict:
        files = {}
        for stem in sorted(set(self.ids) | set(self.retired)):
            ids = sorted(self.ids.get(stem, {}).items(), key=lambda item: item[1])
            retired = sorted(self.retired.get(stem, {}).items(), key=lambda item: item[1].tc_id)
            files[stem] = {
                "ids": dict(ids),
                "retired": {n: {"tcId": r.tc_id, "reason": r.reason} for n, r in retired},
            }
        return {"files": files}

    def dumps(self) -> str:
        """The canonical text: one key a line, files sorted, names in tcId order."""
        return json.dumps(self.to_json(), indent=1, ensure_ascii=True) + "\n"

    def save(self, path: str | os.PathLike | None = None) -> None:
        p = pathlib.Path(path) if path is not None else REGISTRY_PATH
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        os.replace(tmp, p)

    # -- queries -----------------------------------------------------------------
    def tc_id(self, stem: str, name: str) -> int | None:
        return self.ids.get(stem, {}).get(name)

    def next_id(self, stem: str) -> int:
        """One more than every id ``stem`` ever used, retired ones included."""
        used = [*self.ids.get(stem, {}).values()]
        used += [r.tc_id for r in self.retired.get(stem, {}).values()]
        return max(used, default=0) + 1

    def problems(self) -> list[str]:
        """What is wrong with the registry itself: bad names, ids below 1, an id used
        twice in a file (retired ids included), a name both active and retired."""
        out = []
        for stem in sorted(set(self.ids) | set(self.retired)):
            active, retired = self.ids.get(stem, {}), self.retired.get(stem, {})
            owners: dict[int, list[str]] = {}
            for name, tc in [*active.items(), *((n, r.tc_id) for n, r in retired.items())]:
                owners.setdefault(tc, []).append(name)
                if not NAME.match(name) or len(name) > MAX_NAME:
                    out.append(f"{stem}#{name}: not a case name")
                if tc < 1:
                    out.append(f"{stem}#{name}: tcId {tc} is below 1")
            for tc, names in sorted(owners.items()):
                if len(names) > 1:
                    out.append(f"{stem}: tcId {tc} is used by {', '.join(names)}")
            for name in sorted(set(active) & set(retired)):
                out.append(f"{stem}#{name}: both registered and retired")
            for name, r in retired.items():
                if not r.reason.strip():
                    out.append(f"{stem}#{name}: retired without a reason")
        return out

    def unregistered(self, cases: Iterable[Case]) -> list[str]:
        """Test ids of declared cases whose name has no tcId."""
        return [c.test_id for c in cases if self.tc_id(_stem(c), c.name) is None]

    def vanished(self, cases: Iterable[Case]) -> list[str]:
        """Registered ``<file stem>#<name>`` that no case declares (and not retired)."""
        declared = {(_stem(c), c.name) for c in cases}
        return [
            f"{stem}#{name}"
            for stem, names in sorted(self.ids.items())
            for name in names
            if (stem, name) not in declared
        ]

    def check(self, cases: Iterable[Case]) -> list[str]:
        """Every reason the registry and the declarations disagree, as messages."""
        cases = list(cases)
        out = self.problems()
        out += [f"{t}: no tcId registered; {ASSIGN_HINT}" for t in self.unregistered(cases)]
        out += [
            f"{t}: registered but no longer declared; move it to 'retired' in "
            f"{REGISTRY_PATH.name} with a reason"
            for t in self.vanished(cases)
        ]
        return out

    # -- changes -------------------------------------------------------------------
    def assign(self, cases: Iterable[Case]) -> tuple[Registry, list[str]]:
        """A registry where every declared name has a tcId (new names get the next id
        of their file, in declaration order), and the test ids that got one."""
        ids = {stem: dict(names) for stem, names in self.ids.items()}
        added = []
        grown = Registry(ids, self.retired)
        for c in cases:
            stem = _stem(c)
            if c.name in ids.get(stem, {}):
                continue
            if c.name in self.retired.get(stem, {}):
                raise ValueError(f"{c.test_id}: this name is retired; choose another")
            tc = grown.next_id(stem)
            ids.setdefault(stem, {})[c.name] = tc
            added.append(f"{c.test_id} -> tcId {tc}")
        return grown, added


def _stem(c: Case) -> str:
    return pathlib.PurePath(c.file).stem
