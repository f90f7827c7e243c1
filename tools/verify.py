"""The golden-vector verifier: ``poolconf vectors verify``.

Checks a vectors folder against ``spec/vector-format.md``: every file against its
strict JSON Schema, unique tcIds, unique names and ``numberOfTests``, every flag known and
described in ``notes``, groups consistent with their tests, canonical formatting
(re-serialising gives the same bytes), the ``MANIFEST.sha256`` hashes (no
missing or unlisted files), and, unless ``recompute=False``, every case
recomputed with the reference: outputs, gradients and tolerances bit-identical,
implementation-defined flags and result as detected, invalid cases still raising
their clause. Every error names the file and the tcId.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import multiprocessing
import os
import pathlib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import poolconf.spec
from poolconf.conformance import vector_format as vf
from poolconf.reference import flags as flagreg
from poolconf.tools import generate as gen


def schema_dir() -> pathlib.Path:
    """The installed ``poolconf.spec`` schema folder."""

    return pathlib.Path(poolconf.spec.__file__).resolve().parent / "schema"


@functools.lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    import jsonschema
    import referencing

    schemas = {}
    for p in sorted(schema_dir().glob("*.schema.json")):
        schemas[p.name] = json.loads(p.read_text(encoding="utf-8"))
    resources = [
        (s.get("$id", name), referencing.Resource.from_contents(s)) for name, s in schemas.items()
    ]
    registry = referencing.Registry().with_resources(resources)
    out = {}
    for name, s in schemas.items():
        cls = jsonschema.validators.validator_for(s)
        cls.check_schema(s)
        out[name] = cls(s, registry=registry)
    return out


@dataclass
class Report:
    """What a verification found."""

    files: int = 0
    tests: int = 0
    results: Counter = field(default_factory=Counter)
    recomputed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        res = ", ".join(f"{self.results[k]} {k}" for k in vf.RESULTS)
        status = "OK" if self.ok else f"FAILED: {len(self.errors)} errors"
        return (
            f"poolconf vectors verify: {status}; {self.files} files, {self.tests} tests "
            f"({res}), {self.recomputed} recomputed, {self.seconds:.1f} s"
        )


def _tc_of(doc: Any, path: Any) -> str:
    """``#tcId`` for a schema error path inside ``testGroups[i].tests[j]``."""
    p = list(path)
    try:
        if p[0] == "testGroups" and p[2] == "tests":
            return f"#{doc['testGroups'][p[1]]['tests'][p[3]]['tcId']}"
    except (IndexError, KeyError, TypeError):
        pass
    return ""


def _check_schema(doc: Any, name: str, errors: list[str]) -> bool:
    schema_name = doc.get("schema") if isinstance(doc, Mapping) else None
    validators = _validators()
    op = doc.get("algorithm") if isinstance(doc, Mapping) else None
    want = gen.TEST_TYPES[op].schema if op in gen.TEST_TYPES else None
    if want is None:
        errors.append(f"{name}: algorithm={op!r} is not a known op {sorted(gen.TEST_TYPES)}")
        return False
    if schema_name != want:
        errors.append(f"{name}: schema={schema_name!r}, but {op} files use {want!r}")
        return False
    found = sorted(validators[want].iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in found[:20]:
        loc = "/".join(str(p) for p in e.absolute_path)
        errors.append(
            f"{name}{_tc_of(doc, e.absolute_path)}: schema {want}: at /{loc}: {e.message[:300]}"
        )
    if len(found) > 20:
        errors.append(f"{name}: {len(found) - 20} more schema errors")
    return not found


def _check_structure(doc: dict, name: str, errors: list[str]) -> list[dict]:
    """File-level checks after the schema passed; returns the tests."""
    op = doc["algorithm"]
    try:
        vf.family_of(name, op)
    except vf.VectorError as e:
        errors.append(str(e))
    tests = [t for g in doc["testGroups"] for t in g["tests"]]
    if doc["numberOfTests"] != len(tests):
        errors.append(
            f"{name}: numberOfTests={doc['numberOfTests']}, but the file holds {len(tests)} tests"
        )
    ids = Counter(t["tcId"] for t in tests)
    for tc, n in sorted(ids.items()):
        if n > 1:
            errors.append(f"{name}#{tc}: tcId used {n} times")
    names = Counter(t["name"] for t in tests)
    for case_name, n in sorted(names.items()):
        if n > 1:
            errors.append(f"{name}: name {case_name!r} used {n} times")
    ttype = gen.TEST_TYPES[op]
    used: set[str] = set()
    for g in doc["testGroups"]:
        if g["type"] != ttype.name:
            errors.append(f"{name}: group type {g['type']!r}, but {op} is {ttype.name!r}")
        for t in g["tests"]:
            where = f"{name}#{t['tcId']}"
            used.update(t["flags"])
            for f in t["flags"]:
                if f not in doc["notes"]:
                    errors.append(f"{where}: flag {f!r} is not described in notes")
                if f not in flagreg.FLAGS:
                    errors.append(f"{where}: flag {f!r} is not in the flag registry")
            x = t["inputs"]["x"]
            layout = t["params"].get("layout", "channels_first")
            layout = layout if isinstance(layout, str) else json.dumps(layout)
            key = (x["dtype"], layout, max(len(x["shape"]) - 2, 0))
            if key != (g["dtype"], g["layout"], g["rank"]):
                errors.append(
                    f"{where}: (dtype, layout, rank) {key} differs from its group's "
                    f"{(g['dtype'], g['layout'], g['rank'])}"
                )
            impl = [f for f in t["flags"] if f in flagreg.IMPLEMENTATION_DEFINED]
            if t["result"] == "acceptable" and not impl:
                errors.append(f"{where}: acceptable without an implementation-defined flag")
            if t["result"] == "valid" and impl:
                errors.append(f"{where}: valid, but flagged implementation-defined {impl}")
    for f, entry in doc["notes"].items():
        if f not in used:
            errors.append(f"{name}: notes describe flag {f!r}, which no test uses")
        elif f in flagreg.FLAGS and entry != flagreg.note(f):
            errors.append(f"{name}: notes for {f!r} differ from the flag registry")
    return tests


def recompute_test(name: str, op: str, test: Mapping[str, Any]) -> list[str]:
    """Recompute one test with the reference; the differences found."""
    where = f"{name}#{test.get('tcId')}"
    try:
        inputs = {
            k: vf.decode_array(v, where=f"{where} inputs.{k}") for k, v in test["inputs"].items()
        }
        params, grad_params = dict(test["params"]), dict(test.get("gradParams", {}))
        if test["result"] == "invalid":
            clause = gen.raised_clause(op, inputs, params, grad_params)
            if clause != test["errorClause"]:
                got = "nothing" if clause is None else f"[{clause}]"
                return [
                    f"{where}: the reference raises {got}, the vector says [{test['errorClause']}]"
                ]
            return []
        expected, tolerance = gen.evaluate(op, inputs, params, grad_params)
        errs = []
        stored = {
            k: vf.decode_array(v, where=f"{where} expected.{k}")
            for k, v in test["expected"].items()
        }
        if list(stored) != list(expected):
            errs.append(
                f"{where}: expected outputs {list(stored)}, the reference gives {list(expected)}"
            )
        for k in stored.keys() & expected.keys():
            if not gen.same_bits(stored[k], expected[k]):
                diff = _first_diff(stored[k], expected[k])
                errs.append(f"{where}: expected.{k} differs from the reference {diff}")
        stored_tol = test.get("tolerance", {})
        for k in sorted(stored_tol.keys() | tolerance.keys()):
            a, b = stored_tol.get(k), tolerance.get(k)
            if (
                a is None
                or b is None
                or a.get("ulps") != b.get("ulps")
                or ("scale" in a) != ("scale" in b)
            ):
                errs.append(f"{where}: tolerance.{k}={_short(a)}, the reference gives {_short(b)}")
            elif "scale" in a and not gen.same_bits(
                vf.decode_array(a["scale"], where=f"{where} tolerance.{k}.scale"),
                vf.decode_array(b["scale"], where="reference"),
            ):
                errs.append(f"{where}: tolerance.{k}.scale differs from the reference")
        detected = gen.detect_flags(op, inputs, params, expected)
        missing = [f for f in detected if f not in test["flags"]]
        if missing:
            errs.append(f"{where}: flags {missing} apply but are missing")
        extra = [f for f in test["flags"] if f not in detected]
        if extra:
            errs.append(f"{where}: flags {extra} are set but do not apply")
        return errs
    except vf.VectorError as e:
        return [str(e)]
    except Exception as e:
        return [f"{where}: recomputing raised {type(e).__name__}: {e}"]


def _short(v: Any) -> str:
    if isinstance(v, Mapping):
        return json.dumps({k: ("<array>" if k == "scale" else e) for k, e in v.items()})
    return repr(v)


def _first_diff(a: np.ndarray, b: np.ndarray) -> str:
    """Where a stored array first differs from the reference's."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"(stored {a.dtype}{list(a.shape)}, reference {b.dtype}{list(b.shape)})"
    fa, fb = a.ravel(), b.ravel()
    for i in range(fa.size):
        if not gen.same_bits(fa[i : i + 1], fb[i : i + 1]):
            idx = [int(j) for j in np.unravel_index(i, a.shape)]
            return f"at {idx}: stored {fa[i]!r}, reference {fb[i]!r}"
    return ""


def _recompute_job(job: tuple[str, str, dict]) -> list[str]:
    return recompute_test(*job)


def verify(
    directory: str | os.PathLike | None = None, *, recompute: bool = True, jobs: int = 1
) -> Report:
    """Verify a vectors folder (default: the installed one)."""
    start = time.perf_counter()
    root = pathlib.Path(directory) if directory is not None else vf.vectors_dir()
    report = Report()
    if not root.is_dir():
        report.errors.append(f"{root}: not a folder")
        return report
    names = sorted(p.name for p in root.glob(gen.PATTERN))
    work: list[tuple[str, str, dict]] = []
    for name in names:
        report.files += 1
        try:
            raw = vf.read_bytes(root / name, root=root)
            doc = vf.parse(raw, name)
        except vf.VectorError as e:
            report.errors.append(str(e))
            continue
        if not _check_schema(doc, name, report.errors):
            continue
        tests = _check_structure(doc, name, report.errors)
        report.tests += len(tests)
        report.results.update(t["result"] for t in tests)
        try:
            canonical = vf.dumps(vf.normalize(doc, name)).encode("ascii")
        except vf.VectorError as e:
            report.errors.append(str(e))
            continue
        if canonical != raw:
            line = _first_line_diff(raw, canonical)
            report.errors.append(f"{name}: not in canonical form (first difference at line {line})")
        work.extend((name, doc["algorithm"], t) for t in tests)
    # a file the loop above could not read is reported there already
    report.errors.extend(e for e in vf.manifest_errors(root) if e not in report.errors)
    if recompute and work:
        if jobs > 1:
            ctx = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                chunk = max(1, len(work) // (8 * jobs))
                results = list(pool.map(_recompute_job, work, chunksize=chunk))
        else:
            results = [_recompute_job(w) for w in work]
        for errs in results:
            report.errors.extend(errs)
        report.recomputed = len(work)
    report.seconds = time.perf_counter() - start
    return report


def _first_line_diff(a: bytes, b: bytes) -> int:
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return i
    return min(len(la), len(lb)) + 1
