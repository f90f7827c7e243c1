"""Reading and writing golden-vector files (the format of ``spec/vector-format.md``).

This is the loader the harness uses. Loading uses ``json`` only (never pickle or
``np.load``), refuses paths that resolve outside the vectors folder (symlinks
included), files larger than ``MAX_FILE_BYTES`` and arrays with more than
``MAX_ARRAY_ELEMENTS`` elements, and checks that every array's data length is
the product of its shape. Every error is a ``VectorError`` whose message names
the file and, when known, the tcId.

Arrays are ``{"dtype": name, "shape": [...], "data": [flat, row-major]}``.
Floats are JSON numbers written as the shortest repr that round-trips the value
as a binary64 (every float16, bfloat16 and float32 value is exactly a binary64,
so parsing as binary64 and converting to the dtype is exact); ``-0.0`` keeps its
sign; NaN and the infinities are the strings ``"nan"``, ``"inf"``, ``"-inf"``
(a NaN's payload is not kept: any NaN matches). Integers are JSON integers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import poolconf.vectors
from poolconf.reference import dtypes as dt

MAX_FILE_BYTES = 16 * 2**20
MAX_ARRAY_ELEMENTS = 2**20

RESULTS = ("valid", "invalid", "acceptable")
FLOAT_SPECIALS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
ARRAY_KEYS = frozenset({"dtype", "shape", "data"})


class VectorError(Exception):
    """A vector file is unreadable, malformed or outside the limits.

    The message always names the file (and the tcId when known)."""


def vectors_dir() -> pathlib.Path:
    """The installed ``poolconf.vectors`` folder."""

    return pathlib.Path(poolconf.vectors.__file__).resolve().parent


# ---------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------


def _encode_float(v: float) -> float | str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def encode_array(a: np.ndarray) -> dict:
    """``{"dtype", "shape", "data"}`` for an array of a spec dtype, exactly.

    Floats go through float64 (exact for every spec float dtype) and are later
    written by ``json`` with Python's shortest round-trip ``repr``."""
    a = np.asarray(a)
    name = dt.dtype_name(a.dtype)
    if dt.is_float(name):
        data: list = [_encode_float(v) for v in a.astype(np.float64).ravel().tolist()]
    else:
        data = [int(v) for v in a.ravel().tolist()]
    return {"dtype": name, "shape": [int(s) for s in a.shape], "data": data}


def _plain_floats(data: list, kinds: set[type]) -> np.ndarray | None:
    """``data`` as float64 when it holds only finite JSON floats (what ``encode_array``
    writes, converted at once), else None."""
    if not kinds <= {float}:
        return None
    wide = np.array(data, dtype=np.float64)
    return wide if np.isfinite(wide).all() else None


def _checked_floats(data: list, where: str) -> np.ndarray:
    """``data`` as float64, element by element: numbers and the strings 'nan', 'inf',
    '-inf'; ``VectorError`` naming the first element that is neither."""
    values = []
    for i, v in enumerate(data):
        if isinstance(v, str):
            if v not in FLOAT_SPECIALS:
                raise VectorError(f"{where}: data[{i}]={v!r} is not a number, 'nan', 'inf', '-inf'")
            values.append(FLOAT_SPECIALS[v])
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            f = float(v) if isinstance(v, float) or abs(v) < 2**1024 else math.inf
            if not math.isfinite(f):
                raise VectorError(f"{where}: data[{i}]={v!r}: write specials as strings")
            if f != v:  # an integer float64 cannot hold
                raise VectorError(f"{where}: data[{i}]={v!r} is not exactly a float64 value")
            values.append(f)
        else:
            raise VectorError(f"{where}: data[{i}]={v!r} is not a number")
    return np.array(values, dtype=np.float64)


def decode_array(obj: Any, *, where: str) -> np.ndarray:
    """The array an ``encode_array`` object describes; ``VectorError`` naming ``where``
    (``"file#tcId inputs.x"``) when it is malformed, too large or not exact."""
    if not isinstance(obj, Mapping) or set(obj) != ARRAY_KEYS:
        raise VectorError(f"{where}: an array must be an object with keys dtype, shape, data")
    name, shape, data = obj["dtype"], obj["shape"], obj["data"]
    if not isinstance(name, str) or name not in dt.ALL_DTYPES:
        raise VectorError(f"{where}: dtype={name!r} is not one of {list(dt.ALL_DTYPES)}")
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise VectorError(f"{where}: shape={shape!r} must be a list of integers >= 0")
    size = math.prod(shape)
    if size > MAX_ARRAY_ELEMENTS:
        raise VectorError(
            f"{where}: {size} elements exceed MAX_ARRAY_ELEMENTS={MAX_ARRAY_ELEMENTS}"
        )
    if not isinstance(data, list) or len(data) != size:
        got = len(data) if isinstance(data, list) else type(data).__name__
        raise VectorError(f"{where}: data length {got} != prod(shape {shape}) = {size}")
    npdt = dt.numpy_dtype(name)
    kinds = set(map(type, data))
    if dt.is_float(name):
        wide = _plain_floats(data, kinds)
        if wide is None:
            wide = _checked_floats(data, where)
        with np.errstate(over="ignore"):
            arr = wide.astype(npdt)
        back = arr.astype(np.float64)
        bad = ~((back == wide) | (np.isnan(back) & np.isnan(wide)))
        if bad.any():
            i = int(np.argmax(bad))
            raise VectorError(f"{where}: data[{i}]={data[i]!r} is not exactly a {name} value")
    else:
        info = np.iinfo(npdt)
        plain = kinds <= {int} and (not data or (info.min <= min(data) and max(data) <= info.max))
        if not plain:  # find the first element that is not an integer of the dtype
            for i, v in enumerate(data):
                if not isinstance(v, int) or isinstance(v, bool) or not info.min <= v <= info.max:
                    raise VectorError(f"{where}: data[{i}]={v!r} is not a {name} integer")
        arr = np.array(data, dtype=npdt) if data else np.zeros(0, dtype=npdt)
    return arr.reshape(shape)


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorCase:
    """One test of a vector file, decoded.

    ``params`` and ``grad_params`` are returned as stored (lists, pairs,
    strings); ``tolerance`` maps an expected name to ``(ulps, scale or None)``."""

    file: str
    tc_id: int
    name: str
    op: str
    family: str
    comment: str
    flags: tuple[str, ...]
    clauses: tuple[str, ...]
    result: str
    error_clause: str | None
    source: dict
    params: dict
    grad_params: dict
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    tolerance: dict[str, tuple[int, np.ndarray | None]]

    @property
    def test_id(self) -> str:
        """``"<file stem>#<name>"``, e.g. ``"max_pool_edge_test#ceil_last_window_dropped"``:
        the case's identity, stable across regenerations."""
        return f"{pathlib.PurePath(self.file).stem}#{self.name}"


def file_name(op: str, family: str) -> str:
    """The vector file of an (op, family): ``<op>_<family>_test.json``."""
    return f"{op}_{family}_test.json"


def family_of(file: str, op: str) -> str:
    """The family part of ``<op>_<family>_test.json``; ``VectorError`` if it does not fit."""
    stem = pathlib.PurePath(file).name
    prefix, suffix = f"{op}_", "_test.json"
    if not (stem.startswith(prefix) and stem.endswith(suffix)) or len(stem) <= len(prefix + suffix):
        raise VectorError(f"{file}: name does not match <algorithm={op!r}>_<family>_test.json")
    return stem[len(prefix) : -len(suffix)]


def _resolve_inside(path: pathlib.Path, root: pathlib.Path) -> pathlib.Path:
    root_r = root.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise VectorError(f"{path.name}: cannot open: {e}") from None
    if not real.is_relative_to(root_r):
        raise VectorError(f"{path.name}: resolves to {real}, outside the vectors folder {root_r}")
    if not real.is_file():
        raise VectorError(f"{path.name}: not a regular file")
    return real


def read_bytes(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> bytes:
    """The bytes of one vector file after the path and size checks: the file must
    resolve (symlinks followed) inside ``root`` (default ``vectors_dir()``) and be at
    most ``MAX_FILE_BYTES`` long. A relative ``path`` is taken inside ``root``."""
    root_p = pathlib.Path(root) if root is not None else vectors_dir()
    p = pathlib.Path(path)
    if not p.is_absolute():
        p = root_p / p
    real = _resolve_inside(p, root_p)
    size = real.stat().st_size
    if size > MAX_FILE_BYTES:
        raise VectorError(f"{p.name}: {size} bytes exceed MAX_FILE_BYTES={MAX_FILE_BYTES}")
    with open(real, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise VectorError(f"{p.name}: file exceeds MAX_FILE_BYTES={MAX_FILE_BYTES}")
    return raw


def parse(raw: bytes, name: str) -> Any:
    """Parse a vector file's bytes with ``json`` (UTF-8)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VectorError(f"{name}: not valid JSON: {e}") from None


def read_json(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Any:
    """Parse one vector file with ``json`` after the path and size checks."""
    return parse(read_bytes(path, root=root), pathlib.Path(path).name)


def _arrays(obj: Any, where: str) -> dict[str, np.ndarray]:
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise VectorError(f"{where}: must be an object of arrays")
    return {k: decode_array(v, where=f"{where}.{k}") for k, v in obj.items()}


def _tolerance(obj: Any, where: str) -> dict[str, tuple[int, np.ndarray | None]]:
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise VectorError(f"{where}: must be an object")
    out: dict[str, tuple[int, np.ndarray | None]] = {}
    for k, v in obj.items():
        if not isinstance(v, Mapping) or not isinstance(v.get("ulps"), int) or v["ulps"] < 0:
            raise VectorError(f"{where}.{k}: needs an integer ulps >= 0")
        scale = v.get("scale")
        out[k] = (
            int(v["ulps"]),
            None if scale is None else decode_array(scale, where=f"{where}.{k}.scale"),
        )
    return out


def _case(test: Any, name: str, op: str, family: str) -> VectorCase:
    if not isinstance(test, Mapping):
        raise VectorError(f"{name}: a test must be an object")
    tc = test.get("tcId")
    if not isinstance(tc, int) or isinstance(tc, bool):
        raise VectorError(f"{name}: tcId={tc!r} must be an integer")
    where = f"{name}#{tc}"
    case_name = test.get("name")
    if not isinstance(case_name, str) or not case_name:
        raise VectorError(f"{where}: name={case_name!r} must be a non-empty string")
    result = test.get("result")
    if result not in RESULTS:
        raise VectorError(f"{where}: result={result!r} is not one of {RESULTS}")
    for key in ("flags", "clauses"):
        v = test.get(key)
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise VectorError(f"{where}: {key} must be a list of strings")
    for key in ("params", "source"):
        if not isinstance(test.get(key), Mapping):
            raise VectorError(f"{where}: {key} must be an object")
    grad_params = test.get("gradParams", {})
    if not isinstance(grad_params, Mapping):
        raise VectorError(f"{where}: gradParams must be an object")
    error_clause = test.get("errorClause")
    if (result == "invalid") != isinstance(error_clause, str):
        raise VectorError(f"{where}: errorClause is required for, and only for, invalid tests")
    return VectorCase(
        file=name,
        tc_id=tc,
        name=case_name,
        op=op,
        family=family,
        comment=str(test.get("comment", "")),
        flags=tuple(test["flags"]),
        clauses=tuple(test["clauses"]),
        result=result,
        error_clause=error_clause,
        source=dict(test["source"]),
        params=dict(test["params"]),
        grad_params=dict(grad_params),
        inputs=_arrays(test.get("inputs"), f"{where} inputs"),
        expected=_arrays(test.get("expected"), f"{where} expected"),
        tolerance=_tolerance(test.get("tolerance"), f"{where} tolerance"),
    )


def cases_from_json(doc: Any, name: str) -> list[VectorCase]:
    """The cases of a parsed vector document ``doc`` read from the file ``name``."""
    if not isinstance(doc, Mapping):
        raise VectorError(f"{name}: top level must be an object")
    op = doc.get("algorithm")
    if not isinstance(op, str):
        raise VectorError(f"{name}: algorithm must be a string")
    family = family_of(name, op)
    groups = doc.get("testGroups")
    if not isinstance(groups, list):
        raise VectorError(f"{name}: testGroups must be a list")
    cases: list[VectorCase] = []
    for gi, group in enumerate(groups):
        if not isinstance(group, Mapping) or not isinstance(group.get("tests"), list):
            raise VectorError(f"{name}: testGroups[{gi}] must be an object with a tests list")
        cases.extend(_case(t, name, op, family) for t in group["tests"])
    return cases


def load_file(
    path: str | os.PathLike, *, root: str | os.PathLike | None = None
) -> list[VectorCase]:
    """Every case of one vector file. ``root`` is the folder the file must lie in
    (default: ``vectors_dir()``); a relative ``path`` is taken inside it."""
    name = pathlib.Path(path).name
    return cases_from_json(read_json(path, root=root), name)


def load_cases(
    directory: str | os.PathLike | None = None, *, pattern: str = "*_test.json"
) -> list[VectorCase]:
    """Every case of every vector file in ``directory`` (default: ``vectors_dir()``),
    files in sorted name order, tests in file order."""
    root = pathlib.Path(directory) if directory is not None else vectors_dir()
    if not root.is_dir():
        raise VectorError(f"{root}: not a vectors folder")
    cases: list[VectorCase] = []
    for p in sorted(root.glob(pattern)):
        cases.extend(load_file(p, root=root))
    return cases


def find_case(test_id: str, directory: str | os.PathLike | None = None) -> VectorCase:
    """The case ``"<file stem>#<name>"`` (or, as older ids were written,
    ``"<file stem>#<tcId>"``); ``VectorError`` when there is none."""
    stem, sep, key = test_id.partition("#")
    if not sep or not key or not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        raise VectorError(f"{test_id}: a test id is '<file stem>#<name>' or '<file stem>#<tcId>'")
    root = pathlib.Path(directory) if directory is not None else vectors_dir()
    for case in load_file(root / f"{stem}.json", root=root):
        if case.name == key or (key.isdigit() and case.tc_id == int(key)):
            return case
    what = "tcId" if key.isdigit() else "name"
    raise VectorError(f"{stem}.json#{key}: no such {what}")


# ---------------------------------------------------------------------------
# canonical text
# ---------------------------------------------------------------------------


def _has_object(v: Any) -> bool:
    if isinstance(v, Mapping):
        return True
    return isinstance(v, list) and any(_has_object(e) for e in v)


def _scalar(v: Any) -> str:
    return json.dumps(v, ensure_ascii=True, allow_nan=False)


def _row_length(shape: list) -> int:
    """Elements per line of an array's data: the last dim, times earlier dims until >= 4."""
    row, i = 1, len(shape) - 1
    while i >= 0 and row < 4:
        row *= max(int(shape[i]), 1)
        i -= 1
    return row


def _render_list(v: list, depth: int, row: int | None = None) -> str:
    inner = " " * (depth + 1)
    one_line = json.dumps(v, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
    if row is not None and len(v) > row:
        lines = [
            json.dumps(v[i : i + row], ensure_ascii=True, allow_nan=False, separators=(", ", ": "))[
                1:-1
            ]
            for i in range(0, len(v), row)
        ]
        return "[\n" + ",\n".join(inner + line for line in lines) + "\n" + " " * depth + "]"
    if row is None and all(isinstance(e, str) for e in v) and len(one_line) > 100:
        return "[\n" + ",\n".join(inner + _scalar(e) for e in v) + "\n" + " " * depth + "]"
    return one_line


def _render(v: Any, depth: int) -> str:
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        is_array = (
            set(v) == ARRAY_KEYS and isinstance(v["shape"], list) and isinstance(v["data"], list)
        )
        items = []
        for k, e in v.items():
            if is_array and k == "data" and not _has_object(e):
                text = _render_list(e, depth + 1, _row_length(v["shape"]))
            else:
                text = _render(e, depth + 1)
            items.append(f"{inner}{_scalar(str(k))}: {text}")
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, (list, tuple)):
        if not _has_object(v):
            return _render_list(list(v), depth)
        return "[\n" + ",\n".join(inner + _render(e, depth + 1) for e in v) + "\n" + pad + "]"
    return _scalar(v)


def dumps(doc: Any) -> str:
    """The canonical text of a vector document: objects one key a line, indented by
    one space per level, keys in the order given; an array's ``data`` one row a line
    (the last dim, times earlier dims until a line holds >= 4 elements); other lists
    holding no object on one line, except lists of strings longer than 100
    characters (one string a line); ASCII only; a final newline."""
    return _render(doc, 0) + "\n"


# canonical key orders (the generator writes these; ``normalize`` restores them)
TOP_KEYS = (
    "algorithm",
    "schema",
    "numberOfTests",
    "header",
    "notes",
    "testGroups",
)
GROUP_KEYS = ("type", "source", "dtype", "layout", "rank", "tests")
TEST_KEYS = (
    "tcId",
    "name",
    "comment",
    "flags",
    "clauses",
    "source",
    "result",
    "params",
    "gradParams",
    "inputs",
    "expected",
    "tolerance",
    "errorClause",
)
INPUT_NAMES = ("x", "indices", "weight", "bias", "grad_output")
OUTPUT_NAMES = ("output", "indices", "grad_input", "grad_input_all", "grad_weight", "grad_bias")
NOTE_KEYS = ("description", "clause", "bugType", "effect", "links")
TOLERANCE_KEYS = ("ulps", "scale")


def ordered(obj: Mapping, order: tuple[str, ...]) -> dict:
    """``obj`` with the keys of ``order`` first, in that order, then any others as found."""
    out = {k: obj[k] for k in order if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def _normalize_arrays(obj: Any, where: str, order: tuple[str, ...]) -> Any:
    if not isinstance(obj, Mapping):
        return obj
    return {
        k: encode_array(decode_array(v, where=f"{where}.{k}"))
        for k, v in ordered(obj, order).items()
    }


def _normalize_test(t: Any, name: str) -> Any:
    if not isinstance(t, Mapping):
        return t
    t = ordered(t, TEST_KEYS)
    where = f"{name}#{t.get('tcId')}"
    if "inputs" in t:
        t["inputs"] = _normalize_arrays(t["inputs"], f"{where} inputs", INPUT_NAMES)
    if "expected" in t:
        t["expected"] = _normalize_arrays(t["expected"], f"{where} expected", OUTPUT_NAMES)
    if isinstance(t.get("tolerance"), Mapping):
        tol = {}
        for k, v in ordered(t["tolerance"], OUTPUT_NAMES).items():
            if isinstance(v, Mapping):
                v = ordered(v, TOLERANCE_KEYS)
                if "scale" in v:
                    v["scale"] = encode_array(
                        decode_array(v["scale"], where=f"{where} tolerance.{k}.scale")
                    )
            tol[k] = v
        t["tolerance"] = tol
    return t


def normalize(doc: Any, name: str) -> Any:
    """``doc`` in canonical form: keys in the canonical order, notes sorted by flag,
    every array decoded and re-encoded. ``dumps(normalize(doc))`` equals a file's
    bytes exactly when the file is canonical (a key out of order, an integer
    written where a float belongs, or ``1e0`` for ``1.0`` does not survive)."""
    if not isinstance(doc, Mapping):
        return doc
    out = ordered(doc, TOP_KEYS)
    if isinstance(out.get("notes"), Mapping):
        out["notes"] = {
            k: ordered(v, NOTE_KEYS) if isinstance(v, Mapping) else v
            for k, v in sorted(out["notes"].items())
        }
    if isinstance(out.get("testGroups"), list):
        groups = []
        for group in out["testGroups"]:
            if isinstance(group, Mapping):
                group = ordered(group, GROUP_KEYS)
                if isinstance(group.get("tests"), list):
                    group["tests"] = [_normalize_test(t, name) for t in group["tests"]]
            groups.append(group)
        out["testGroups"] = groups
    return out


# ---------------------------------------------------------------------------
# the manifest
# ---------------------------------------------------------------------------

MANIFEST = "MANIFEST.sha256"
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9_.\-]+)$")


def manifest_errors(root: str | os.PathLike) -> list[str]:
    """What is wrong with a vectors folder's ``MANIFEST.sha256`` against the files: a
    missing, unreadable or malformed manifest, a name listed twice, lines not in the
    generator's form (sorted by name, ``<sha256>  <name>`` each), an empty set, a listed
    file missing or changed, a ``*_test.json`` not listed. Files and manifest are read
    with ``read_bytes`` (inside the folder, size-limited). Empty when every vector file
    is the one generated."""
    folder = pathlib.Path(root)
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    path = folder / MANIFEST
    if not path.exists():
        return [f"{MANIFEST}: missing"]
    try:
        text = read_bytes(path, root=folder).decode("ascii")
    except (VectorError, UnicodeDecodeError) as e:
        return [f"{MANIFEST}: {e}"]
    errors: list[str] = []
    listed: dict[str, str] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        m = _MANIFEST_LINE.match(line)
        if not m:
            errors.append(f"{MANIFEST}:{i}: not '<sha256>  <name>': {line[:80]!r}")
            continue
        if m.group(2) in listed:
            errors.append(f"{MANIFEST}:{i}: {m.group(2)} listed twice")
        listed[m.group(2)] = m.group(1)
    if not listed:
        errors.append(f"{MANIFEST}: lists no vector file")
    elif text != "".join(f"{h}  {n}\n" for n, h in sorted(listed.items())):
        errors.append(f"{MANIFEST}: not canonical (sorted by name, one '<sha256>  <name>' a line)")
    present = {p.name for p in folder.glob("*_test.json")}
    for name in sorted(present | set(listed)):
        if name not in listed:
            errors.append(f"{name}: not listed in {MANIFEST}")
        elif name not in present:
            errors.append(f"{name}: listed in {MANIFEST} but missing")
        else:
            try:
                data = read_bytes(folder / name, root=folder)
            except VectorError as e:
                errors.append(str(e))
                continue
            if hashlib.sha256(data).hexdigest() != listed[name]:
                errors.append(f"{name}: sha256 differs from {MANIFEST}")
    return errors
