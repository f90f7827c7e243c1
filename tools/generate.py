"""The golden-vector generator: declared cases -> ``vectors/<op>_<family>_test.json``.

Each ``Case`` (``poolconf.tools.cases.all_cases()``) is computed with the
reference. The generator owns tcIds (each case name keeps the tcId the registry
``poolconf.tools.cases.tcids`` gives it; tests stay in declaration order), the
grouping (by dtype, layout, spatial rank, in order of first appearance), the
drawn ``grad_output``, the detected implementation-defined flags and the
canonical formatting, so a run is byte-identical to the last one. Files are
written atomically: everything is built and written to a temporary folder beside
the target first; only then are the files moved into place with ``os.replace``,
``MANIFEST.sha256`` last, and an exception or interrupt while moving puts the old
files back. See ``spec/vector-format.md``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf import SpecError, __version__
from poolconf import reference as ref
from poolconf.conformance import vector_format as vf
from poolconf.reference import catalog
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference import tolerance as tol
from poolconf.tools.cases import Case, all_cases
from poolconf.tools.cases.tcids import Registry

GROUP_SOURCE = {"name": "poolconf-reference", "version": __version__}
MANIFEST = vf.MANIFEST
PATTERN = "*_test.json"


TEST_TYPES = {name: catalog.vector_test_type(name) for name in catalog.FORWARD_OPS}


class GenerationError(Exception):
    """A case cannot be turned into a vector; the message names the case."""


# ---------------------------------------------------------------------------
# computing one case (shared with the verifier)
# ---------------------------------------------------------------------------


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bits, any NaN matching any NaN."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if dt.is_float(dt.dtype_name(a.dtype)):
        nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
        bits_a = np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")
        bits_b = np.ascontiguousarray(b).view(f"u{b.dtype.itemsize}")
        return bool(np.all((bits_a == bits_b) | nan))
    return bool(np.array_equal(a, b))


def _named(names: tuple[str, ...], result: Any) -> dict[str, np.ndarray]:
    values = result if isinstance(result, tuple) else (result,)
    return {n: v for n, v in zip(names, values) if v is not None}


def forward(
    op: str, inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """The reference forward op's outputs by vector name (``output``, ``indices``)."""
    o = catalog.op(op)
    return _named(o.outputs, getattr(ref, op)(*(inputs.get(a) for a in o.arrays), **params))


def gradient(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    grad_params: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """The reference gradients by vector name. ``grad_input_all`` (tie policy
    "all") is added for max gradients only when it differs from ``grad_input``."""
    g = catalog.op(catalog.op(op).grad or "")
    fn = getattr(ref, g.name)
    args = [inputs.get(a) for a in g.arrays]
    out = _named(g.outputs, fn(*args, **params, **grad_params))
    if "tie_policy" in g.params and grad_params.get("tie_policy", "first") != "all":
        every = fn(*args, **params, **{**grad_params, "tie_policy": "all"})
        if not same_bits(every, out["grad_input"]):
            out["grad_input_all"] = every
    return out


def tolerances(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    grad_params: Mapping[str, Any],
    names: Iterable[str],
) -> dict[str, dict]:
    """The stored tolerance of every expected output: ``{"ulps": u}`` plus the
    ``scale`` array (float64) when ``u > 0`` [POOL-TOL-1, POOL-TOL-3]."""
    arrays = {k: inputs[k] for k in ("x", "weight", "bias") if k in inputs}
    budgets = tol.budgets(op, arrays, params)
    scale_sets: dict[str, dict[str, np.ndarray]] = {}

    def scale_of(name: str) -> np.ndarray:
        policy = "all" if name == "grad_input_all" else None
        key = policy or "given"
        if key not in scale_sets:
            gp = {**grad_params, "tie_policy": "all"} if policy else dict(grad_params)
            scale_sets[key] = tol.scales(op, inputs, params, gp)
        base = "grad_input" if name == "grad_input_all" else name
        if base not in scale_sets[key]:
            raise KeyError(f"no scale for output {name!r} of {op}")
        return scale_sets[key][base]

    out: dict[str, dict] = {}
    for name in names:
        budget = budgets.get("grad_input" if name == "grad_input_all" else name)
        if budget is None:
            raise KeyError(f"no tolerance budget for output {name!r} of {op}")
        entry: dict[str, Any] = {"ulps": int(budget.ulps)}
        if budget.ulps > 0:
            entry["scale"] = vf.encode_array(scale_of(name))
        out[name] = entry
    return out


def evaluate(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    grad_params: Mapping[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Expected outputs (and gradients when ``inputs`` has ``grad_output``) and their
    stored tolerances, in canonical order."""
    expected = forward(op, inputs, params)
    if "grad_output" in inputs:
        expected.update(gradient(op, inputs, params, grad_params))
    expected = vf.ordered(expected, vf.OUTPUT_NAMES)
    return expected, tolerances(op, inputs, params, grad_params, expected)


def raised_clause(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    grad_params: Mapping[str, Any],
) -> str | None:
    """The clause of the ``SpecError`` the reference raises for an invalid case
    (forward first, then the gradient when ``grad_output`` is given), or None."""
    try:
        forward(op, inputs, params)
        if "grad_output" in inputs:
            gradient(op, inputs, params, grad_params)
    except SpecError as e:
        return e.clause
    return None


def detect_flags(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    outputs: Mapping[str, np.ndarray | None] | None = None,
) -> list[str]:
    """The flags a valid case carries: the implementation-defined ones of
    ``poolconf.reference.flags.detect`` (a case reports the selected element when it has
    indices or a gradient), then, given the reference's ``outputs``, the descriptive ones
    of ``poolconf.reference.flags.describe``; each group in registry order."""
    grad = "grad_output" in inputs
    reports = "indices" in catalog.op(op).outputs or grad
    found = list(
        flagreg.detect(
            op,
            inputs["x"],
            params,
            reports=reports,
            grad=grad,
            weight=inputs.get("weight"),
            bias=inputs.get("bias"),
        )
    )
    if outputs is not None:
        found += flagreg.describe(op, inputs, params, outputs)
    return found


# ---------------------------------------------------------------------------
# one case -> one test
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltTest:
    """A computed test, before it gets its tcId."""

    op: str
    family: str
    name: str
    group: tuple[str, str, int]
    test: dict

    @property
    def file(self) -> str:
        return vf.file_name(self.op, self.family)

    @property
    def stem(self) -> str:
        return pathlib.PurePath(self.file).stem


def describe(case: Case, index: int) -> str:
    return f"case {case.test_id} (#{index}: {case.comment!r})"


def _json_copy(value: Any, what: str) -> Any:
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be plain JSON values: {e}") from None
    copy = json.loads(text)
    if copy != value or json.dumps(copy) != json.dumps(value):
        raise ValueError(f"{what}={value!r} must use lists, not tuples, and str keys")
    return copy


def draw_grad_output(seed: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The seeded upstream gradient: ``default_rng([seed, 1]).standard_normal``, cast."""
    rng = np.random.default_rng([seed, 1])
    return rng.standard_normal(shape).astype(dt.numpy_dtype(dtype))


def build_test(case: Case, index: int = 0) -> BuiltTest:
    """Compute one case; ``GenerationError`` naming the case when it is unusable."""
    try:
        return _build_test(case)
    except GenerationError as e:
        raise GenerationError(f"{describe(case, index)}: {e}") from None
    except Exception as e:
        raise GenerationError(f"{describe(case, index)}: {type(e).__name__}: {e}") from e


def _build_test(case: Case) -> BuiltTest:
    ttype, params, grad_params, source, inputs = _checked_parts(case)
    x = inputs["x"]
    dtype = dt.dtype_name(x.dtype)
    layout = params.get("layout", "channels_first")
    group = (dtype, layout if isinstance(layout, str) else json.dumps(layout), max(x.ndim - 2, 0))
    has_grad = catalog.op(case.op).grad is not None and dt.is_float(dtype) and case.grad
    test: dict[str, Any] = {"tcId": 0, "name": case.name, "comment": case.comment}
    if case.result == "invalid":
        _invalid_test(case, test, inputs, params, grad_params, has_grad, dtype)
        flags, result = list(dict.fromkeys(case.flags)), "invalid"
    else:
        flags, result = _valid_test(case, test, ttype, inputs, params, grad_params, has_grad, dtype)
    test.update(flags=flags, clauses=list(case.clauses), source=source, result=result)
    test["params"] = params
    if grad_params:
        test["gradParams"] = grad_params
    test["inputs"] = {k: vf.encode_array(v) for k, v in inputs.items()}
    for key in ("expected", "tolerance", "errorClause"):
        if key in test:
            test[key] = test.pop(key)  # after the inputs, in the files' key order
    return BuiltTest(case.op, case.family, case.name, group, test)


def _checked_parts(
    case: Case,
) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """The case's test type, params, grad params, source and inputs (``x`` first), each
    checked against the op's vector format; ``GenerationError`` for the first that is not."""
    op = case.op
    if op not in TEST_TYPES:
        raise GenerationError(f"unknown op {op!r}; known: {sorted(TEST_TYPES)}")
    ttype = TEST_TYPES[op]
    if case.family.count("/") or not case.family.isidentifier():
        raise GenerationError(f"family={case.family!r} must be an identifier")
    params = _json_copy(dict(case.params), "params")
    grad_params = _json_copy(dict(case.grad_params), "grad_params")
    source = _json_copy(dict(case.source), "source")
    if "name" not in source:
        raise GenerationError("source needs a 'name'")
    for key in params:
        if key not in ttype.params:
            raise GenerationError(f"param {key!r} is not one of {list(ttype.params)}")
    inputs: dict[str, np.ndarray] = {}
    for name, value in case.inputs.items():
        if name not in ttype.inputs:
            raise GenerationError(f"input {name!r} is not one of {list(ttype.inputs)}")
        if value is None:
            continue
        if not isinstance(value, np.ndarray):
            raise GenerationError(f"input {name} must be a numpy array, got {type(value).__name__}")
        inputs[name] = value
    if "x" not in inputs:
        raise GenerationError("inputs need 'x'")
    inputs = vf.ordered(inputs, vf.INPUT_NAMES)
    for a in inputs.values():
        vf.encode_array(a)  # SpecError for a dtype outside the spec
    unknown = [f for f in case.flags if f not in flagreg.FLAGS]
    if unknown:
        raise GenerationError(f"flags {unknown} are not in the registry (poolconf.reference.flags)")
    return ttype, params, grad_params, source, inputs


def _invalid_test(
    case: Case,
    test: dict[str, Any],
    inputs: dict[str, np.ndarray],
    params: dict[str, Any],
    grad_params: dict[str, Any],
    has_grad: bool,
    dtype: str,
) -> None:
    """Check that the reference raises the case's clause (forward, else the gradient
    with a drawn ``grad_output`` added to ``inputs``) and record it in ``test``."""
    op = case.op
    clause = None
    try:
        forward(op, inputs, params)
    except SpecError as e:
        clause = e.clause
    if clause is None and has_grad:
        if "grad_output" not in inputs:
            shape = forward(op, inputs, params)["output"].shape
            inputs["grad_output"] = draw_grad_output(case.seed, shape, dtype)
        clause = raised_clause(op, inputs, params, grad_params)
    if clause != case.error_clause:
        got = "no SpecError" if clause is None else f"SpecError [{clause}]"
        raise GenerationError(f"the reference raises {got}, the case expects [{case.error_clause}]")
    test["errorClause"] = case.error_clause


def _valid_test(
    case: Case,
    test: dict[str, Any],
    ttype: Any,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any],
    grad_params: dict[str, Any],
    has_grad: bool,
    dtype: str,
) -> tuple[list[str], str]:
    """Compute the expected outputs and tolerance into ``test`` (drawing ``grad_output``
    into ``inputs`` where the case has a gradient); returns its flags and result."""
    op = case.op
    if has_grad and "grad_output" not in inputs:
        shape = forward(op, inputs, params)["output"].shape
        inputs["grad_output"] = draw_grad_output(case.seed, shape, dtype)
    elif not has_grad and ("grad_output" in inputs or grad_params):
        raise GenerationError("grad_output/grad_params given, but this case has no gradient")
    expected, tolerance = evaluate(op, inputs, params, grad_params)
    for name in expected:
        if name not in ttype.outputs:
            raise GenerationError(f"output {name!r} is not one of {list(ttype.outputs)}")
    flags = list(dict.fromkeys([*case.flags, *detect_flags(op, inputs, params, expected)]))
    impl_defined = [f for f in flags if f in flagreg.IMPLEMENTATION_DEFINED]
    if case.result == "acceptable" and not impl_defined:
        raise GenerationError(
            "result 'acceptable' needs an implementation-defined flag, one of "
            f"{list(flagreg.IMPLEMENTATION_DEFINED)}"
        )
    test["expected"] = {k: vf.encode_array(v) for k, v in expected.items()}
    test["tolerance"] = tolerance
    return flags, "acceptable" if impl_defined else "valid"


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def header_lines(op: str, family: str) -> list[str]:
    return [
        f"Golden vectors for poolconf.reference.{op}, family {family!r}.",
        "Generated by 'poolconf vectors generate' from the cases declared in poolconf.tools.cases;",
        "never edit by hand. Format: spec/vector-format.md. Semantics: spec/pooling.md.",
    ]


def assemble(built: Sequence[BuiltTest], registry: Registry) -> dict[str, dict]:
    """Vector documents by file name: each test keeps its name's tcId from ``registry``,
    tests in declaration order, grouped by (dtype, layout, rank) in order of first
    appearance."""
    per_file: dict[str, list[BuiltTest]] = {}
    for b in built:
        per_file.setdefault(b.file, []).append(b)
    docs: dict[str, dict] = {}
    for name in sorted(per_file):
        items = per_file[name]
        op, family = items[0].op, items[0].family
        clash = {(b.op, b.family) for b in items} - {(op, family)}
        if clash:
            raise GenerationError(
                f"{name}: ops/families {sorted(clash)} and {(op, family)} share a file"
            )
        ttype = TEST_TYPES[op]
        groups: dict[tuple[str, str, int], list[dict]] = {}
        used: set[str] = set()
        for b in items:
            tc_id = registry.tc_id(b.stem, b.name)
            if tc_id is None:
                raise GenerationError(f"{b.stem}#{b.name}: no tcId registered")
            test = {**b.test, "tcId": tc_id}
            groups.setdefault(b.group, []).append(test)
            used.update(test["flags"])
        docs[name] = {
            "algorithm": op,
            "schema": ttype.schema,
            "numberOfTests": len(items),
            "header": header_lines(op, family),
            "notes": {f: flagreg.note(f) for f in sorted(used)},
            "testGroups": [
                {
                    "type": ttype.name,
                    "source": dict(GROUP_SOURCE),
                    "dtype": d,
                    "layout": lay,
                    "rank": r,
                    "tests": tests,
                }
                for (d, lay, r), tests in groups.items()
            ],
        }
    return docs


def _build_one(args: tuple[Case, int]) -> BuiltTest:
    return build_test(*args)


def build_all(cases: Sequence[Case], jobs: int = 1) -> list[BuiltTest]:
    """Compute every case, with ``jobs`` worker processes (order is kept)."""
    work = [(c, i) for i, c in enumerate(cases)]
    if jobs <= 1 or len(work) < 2:
        return [_build_one(w) for w in work]
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return list(pool.map(_build_one, work, chunksize=max(1, len(work) // (8 * jobs))))


def declared(
    cases: Sequence[Case] | None, registry: Registry | None
) -> tuple[Sequence[Case], Registry]:
    """The cases to generate and their tcIds: by default every declared case with the
    shipped registry; given ``cases`` without a registry are numbered 1..N per file.
    ``GenerationError`` listing every name used twice in a file, declared without a
    tcId, or registered but no longer declared."""
    if registry is None:
        registry = Registry.load() if cases is None else Registry.fresh(cases)
    if cases is None:
        cases = all_cases()
    seen: dict[str, int] = {}
    for c in cases:
        seen[c.test_id] = seen.get(c.test_id, 0) + 1
    errors = [f"{t}: name used by {n} cases of the file" for t, n in seen.items() if n > 1]
    errors += registry.check(cases)
    if errors:
        raise GenerationError("\n".join(errors))
    return cases, registry


def assign_ids(
    cases: Sequence[Case] | None = None, path: str | os.PathLike | None = None
) -> list[str]:
    """Give every declared name without a tcId the next id of its file and save the
    registry (default: the shipped ``tcids.json``); the ids given, as messages."""
    registry = Registry.load(path)
    try:
        grown, added = registry.assign(all_cases() if cases is None else cases)
    except ValueError as e:
        raise GenerationError(str(e)) from None
    if added:
        grown.save(path)
    return added


def render_files(
    cases: Sequence[Case] | None = None, jobs: int = 1, registry: Registry | None = None
) -> dict[str, bytes]:
    """Every vector file's bytes and the manifest, by file name."""
    cases, registry = declared(cases, registry)
    docs = assemble(build_all(cases, jobs), registry)
    files = {name: vf.dumps(doc).encode("ascii") for name, doc in docs.items()}
    files[MANIFEST] = manifest_text(files).encode("ascii")
    return files


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_text(files: Mapping[str, bytes]) -> str:
    """``sha256sum`` format: ``<hex>  <name>`` per vector file, sorted by name."""
    return "".join(
        f"{sha256_hex(data)}  {name}\n" for name, data in sorted(files.items()) if name != MANIFEST
    )


def _fsync_write(path: pathlib.Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(target: pathlib.Path, files: Mapping[str, bytes]) -> list[str]:
    """Replace the vector files of ``target`` by ``files`` (names -> bytes), all or nothing.

    New files go to a temporary folder beside ``target``; then each is moved in with
    ``os.replace`` (manifest last) and stale ``*_test.json`` files are removed. The
    old files are kept (hard links, else copies) until the end: an exception or
    KeyboardInterrupt while moving restores them. Returns the names changed."""
    target.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    try:
        backup = tmp / ".old"
        backup.mkdir()
        for name, data in files.items():
            _fsync_write(tmp / name, data)
        old = {p.name for p in target.glob(PATTERN)} | (
            {MANIFEST} if (target / MANIFEST).exists() else set()
        )
        for name in old:
            try:
                os.link(target / name, backup / name)
            except OSError:
                shutil.copy2(target / name, backup / name)
        order = [*sorted(n for n in files if n != MANIFEST), MANIFEST]
        changed = [n for n in order if n not in old or (target / n).read_bytes() != files[n]]
        stale = sorted(old - set(files))
        done: list[str] = []
        try:
            for name in changed:
                os.replace(tmp / name, target / name)
                done.append(name)
            for name in stale:
                os.remove(target / name)
                done.append(name)
        except BaseException:
            for name in done:
                if name in old:
                    os.replace(backup / name, target / name)
                else:
                    os.remove(target / name)
            raise
        return changed + stale
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class GenerateReport:
    files: int
    tests: int
    changed: list[str]
    total_bytes: int


def generate(
    out: str | os.PathLike | None = None,
    cases: Sequence[Case] | None = None,
    jobs: int = 1,
    registry: Registry | None = None,
) -> GenerateReport:
    """Generate every vector file into ``out`` (default: the package's vectors folder)."""
    target = pathlib.Path(out) if out is not None else vf.vectors_dir()
    files = render_files(cases, jobs, registry)
    changed = write_atomic(target, files)
    tests = sum(json.loads(d)["numberOfTests"] for n, d in files.items() if n != MANIFEST)
    return GenerateReport(len(files) - 1, tests, changed, sum(len(d) for d in files.values()))


def check(
    out: str | os.PathLike | None = None,
    cases: Sequence[Case] | None = None,
    jobs: int = 1,
    registry: Registry | None = None,
) -> list[str]:
    """The files of ``out`` that differ from a fresh generation (missing, stale or
    changed), sorted; empty when the folder is up to date."""
    target = pathlib.Path(out) if out is not None else vf.vectors_dir()
    files = render_files(cases, jobs, registry)
    present = {p.name for p in target.glob(PATTERN)}
    if (target / MANIFEST).exists():
        present.add(MANIFEST)
    diffs = [n for n in files if n not in present or (target / n).read_bytes() != files[n]]
    diffs += [n for n in present if n not in files]
    return sorted(diffs)
