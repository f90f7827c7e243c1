"""The golden-vector machinery: encoding, loader, generator, verifier, CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import shutil

import ml_dtypes
import numpy as np
import pytest

from poolconf.conformance import vector_format as vf
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference.dtypes import ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, numpy_dtype
from poolconf.tools import generate as gen
from poolconf.tools import vectors_cli
from poolconf.tools import verify as ver
from poolconf.tools.cases import Case, tcids
from poolconf.tools.cases.case import TWIN

# ---------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------


def _edge_values(name: str) -> np.ndarray:
    t = numpy_dtype(name)
    if name in INT_DTYPES:
        info = np.iinfo(t)
        return np.array([info.min, info.max, 0, 1, info.max - 1, info.min + 1], dtype=t)
    fi = ml_dtypes.finfo(t)
    vals = [
        0.0, -0.0, float(fi.max), -float(fi.max), float(fi.smallest_subnormal),
        -float(fi.smallest_subnormal), float(fi.smallest_normal), float(fi.eps), 1 / 3, -2.5,
        math.nan, math.inf, -math.inf,
    ]  # fmt: skip
    return np.array(vals, dtype=np.float64).astype(t)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_array_round_trip_is_bit_exact(name: str) -> None:
    a = _edge_values(name).reshape(1, 1, -1)
    text = json.dumps(vf.encode_array(a))
    b = vf.decode_array(json.loads(text), where="t")
    assert b.dtype == a.dtype and b.shape == a.shape
    if name in FLOAT_DTYPES:
        nan = np.isnan(a.astype(np.float64))
        assert np.array_equal(np.isnan(b.astype(np.float64)), nan)
        assert np.array_equal(_bits(a)[~nan], _bits(b)[~nan])  # -0.0, subnormals, max finite
        assert "-0.0, " in text and '"nan"' in text and '"-inf"' in text
    else:
        assert np.array_equal(a, b)


def test_uint64_and_int64_extremes_are_json_integers() -> None:
    enc = vf.encode_array(np.array([2**64 - 1], dtype=np.uint64))
    assert json.dumps(enc["data"]) == "[18446744073709551615]"
    enc = vf.encode_array(np.array([-(2**63)], dtype=np.int64))
    assert enc["data"] == [-(2**63)] and isinstance(enc["data"][0], int)


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"dtype": "float32", "shape": [3], "data": [1.0]}, "data length 1 != prod"),
        ({"dtype": "float32", "shape": [2**20 + 1], "data": []}, "exceed MAX_ARRAY_ELEMENTS"),
        ({"dtype": "float16", "shape": [1], "data": [0.1]}, "not exactly a float16"),
        ({"dtype": "float16", "shape": [1], "data": [1e6]}, "not exactly a float16"),
        ({"dtype": "float32", "shape": [1], "data": ["NaN"]}, "is not a number"),
        ({"dtype": "float64", "shape": [2], "data": [1.0, float("inf")]}, "specials as strings"),
        ({"dtype": "float64", "shape": [1], "data": [2**53 + 1]}, "not exactly a float64"),
        ({"dtype": "float64", "shape": [1], "data": [10**400]}, "specials as strings"),
        ({"dtype": "float64", "shape": [2], "data": [1.0, True]}, "data[1]=True is not a number"),
        ({"dtype": "int8", "shape": [1], "data": [128]}, "not a int8 integer"),
        ({"dtype": "int8", "shape": [1], "data": [True]}, "not a int8 integer"),
        ({"dtype": "uint8", "shape": [2], "data": [3, -1]}, "data[1]=-1 is not a uint8 integer"),
        ({"dtype": "int64", "shape": [1], "data": [1.0]}, "not a int64 integer"),
        ({"dtype": "complex64", "shape": [1], "data": [1.0]}, "dtype='complex64'"),
        ({"dtype": "float32", "shape": [1], "data": [1.0], "x": 1}, "keys dtype, shape, data"),
    ],
)
def test_decode_rejects_malformed_arrays(obj: dict, message: str) -> None:
    with pytest.raises(vf.VectorError, match=r"f\.json#7 inputs\.x") as e:
        vf.decode_array(obj, where="f.json#7 inputs.x")
    assert message in str(e.value)


# ---------------------------------------------------------------------------
# small case lists
# ---------------------------------------------------------------------------


def _x(seed: int, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(numpy_dtype(dtype))


def small_cases() -> list[Case]:
    tie = np.array([[[[1.0, 1.0, 0.5], [0.0, -2.0, 1.0], [3.0, 3.0, -1.0]]]], dtype=np.float32)
    return [
        Case(
            op="max_pool", family="geometry", name="tie_overlapping", comment="tie, overlapping windows",
            clauses=("POOL-MAX-4",), inputs={"x": tie}, seed=1,
            params={"kernel_size": [2, 2], "stride": [1, 1]},
        ),
        Case(
            op="avg_pool", family="geometry", name="avg_with_padding", comment="avg with padding",
            clauses=("POOL-AVG-3",), inputs={"x": _x(2, (1, 1, 3, 3))}, seed=2,
            params={"kernel_size": [2, 2], "stride": [2, 2], "padding": [[1, 0], [0, 1]]},
        ),
        Case(
            op="max_pool", family="geometry", name="float16_channels_last", comment="float16, channels_last",
            clauses=("POOL-LAYOUT-1",), inputs={"x": _x(3, (1, 4, 2), "float16")}, seed=3,
            params={"kernel_size": [2], "layout": "channels_last"},
        ),
        Case(
            op="max_pool", family="invalid", name="stride_zero", comment="stride 0",
            clauses=("POOL-PARAM-2",), inputs={"x": _x(4, (1, 1, 4))}, seed=4,
            params={"kernel_size": [2], "stride": [0]}, result="invalid", error_clause="POOL-PARAM-2",
        ),
        Case(
            op="max_pool_with_indices", family="edge", name="empty_window", comment="window entirely in padding",
            clauses=("POOL-EMPTY-1",), inputs={"x": _x(5, (1, 1, 2), "int8")}, seed=5,
            params={"kernel_size": [1], "padding": [[1, 0]]},
        ),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("vectors") / "vectors"
    gen.generate(out, cases=small_cases())
    return out


@pytest.fixture
def work_dir(small_dir: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    dst = tmp_path / "vectors"
    shutil.copytree(small_dir, dst)
    return dst


def _snapshot(d: pathlib.Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _rewrite(d: pathlib.Path, name: str, edit, canonical: bool = True) -> None:
    """Edit a file's JSON, re-serialise it canonically and fix the manifest, so that
    only the intended defect remains."""
    doc = json.loads((d / name).read_text())
    edit(doc)
    (d / name).write_bytes(vf.dumps(doc).encode())
    _fix_manifest(d)


def _fix_manifest(d: pathlib.Path) -> None:
    files = {p.name: p.read_bytes() for p in d.glob("*_test.json")}
    (d / gen.MANIFEST).write_text(gen.manifest_text(files))


def _tests(doc: dict) -> list[dict]:
    return [t for g in doc["testGroups"] for t in g["tests"]]


# ---------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------


def test_generated_files_and_contents(small_dir: pathlib.Path) -> None:
    names = sorted(p.name for p in small_dir.iterdir())
    assert names == [
        "MANIFEST.sha256",
        "avg_pool_geometry_test.json",
        "max_pool_geometry_test.json",
        "max_pool_invalid_test.json",
        "max_pool_with_indices_edge_test.json",
    ]
    doc = json.loads((small_dir / "max_pool_geometry_test.json").read_text())
    assert doc["numberOfTests"] == 2 and doc["schema"] == "window_pool_test.schema.json"
    assert [(g["dtype"], g["layout"], g["rank"]) for g in doc["testGroups"]] == [
        ("float32", "channels_first", 2),
        ("float16", "channels_last", 1),
    ]
    tie, f16 = _tests(doc)
    assert (tie["tcId"], f16["tcId"]) == (1, 2)
    assert tie["flags"] == ["Tie"] and tie["result"] == "acceptable"
    assert set(tie["expected"]) == {"output", "grad_input", "grad_input_all"}
    assert tie["tolerance"]["grad_input"]["ulps"] > 0 and "scale" in tie["tolerance"]["grad_input"]
    assert doc["notes"] == {"Tie": flagreg.note("Tie")}
    # grad_output drawn from default_rng([seed, 1]) with the output's shape
    g = gen.draw_grad_output(1, (1, 1, 2, 2), "float32")
    assert vf.encode_array(g) == tie["inputs"]["grad_output"]
    edge = _tests(json.loads((small_dir / "max_pool_with_indices_edge_test.json").read_text()))[0]
    assert edge["flags"][0] == "EmptyWindow" and edge["result"] == "acceptable"
    assert "PaddingNotBelowKernel" in edge["flags"]  # a whole window of padding needs pad >= k
    assert edge["expected"]["indices"]["data"][0] == -1
    inv = _tests(json.loads((small_dir / "max_pool_invalid_test.json").read_text()))[0]
    assert inv["errorClause"] == "POOL-PARAM-2" and "expected" not in inv


def test_generation_is_byte_identical(small_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    gen.generate(tmp_path / "again", cases=small_cases())
    assert _snapshot(tmp_path / "again") == _snapshot(small_dir)
    rep = gen.generate(tmp_path / "again", cases=small_cases())
    assert rep.changed == []


def test_generation_in_worker_processes_is_identical(small_dir: pathlib.Path) -> None:
    files = gen.render_files(small_cases(), jobs=2)
    assert files == _snapshot(small_dir)


def test_stale_files_are_removed(work_dir: pathlib.Path) -> None:
    rep = gen.generate(work_dir, cases=small_cases()[:2])
    assert "max_pool_invalid_test.json" in rep.changed
    assert sorted(p.name for p in work_dir.glob("*_test.json")) == [
        "avg_pool_geometry_test.json",
        "max_pool_geometry_test.json",
    ]
    assert ver.verify(work_dir).ok


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_move_leaves_old_files(
    work_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    before = _snapshot(work_dir)
    cases = small_cases()
    cases[0] = dataclasses.replace(cases[0], comment="changed comment")
    cases[1] = dataclasses.replace(cases[1], comment="changed too")
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise exc
        real_replace(src, dst)

    monkeypatch.setattr(gen.os, "replace", flaky_replace)
    with pytest.raises(type(exc)):
        gen.generate(work_dir, cases=cases[:3])  # also would remove max_pool_with_indices_edge
    monkeypatch.undo()
    assert len(calls) >= 2
    assert _snapshot(work_dir) == before
    assert not [p for p in work_dir.parent.iterdir() if p.name.startswith(".vectors-new-")]


def test_failed_case_leaves_old_files(work_dir: pathlib.Path) -> None:
    before = _snapshot(work_dir)
    bad = Case(
        op="max_pool", family="invalid", name="wrong_clause", comment="declares the wrong clause",
        clauses=("POOL-PARAM-1",), inputs={"x": _x(4, (1, 1, 4))}, seed=4,
        params={"kernel_size": [2], "stride": [0]}, result="invalid", error_clause="POOL-PARAM-1",
    )  # fmt: skip
    with pytest.raises(gen.GenerationError, match=r"declares the wrong clause.*POOL-PARAM-2"):
        gen.generate(work_dir, cases=[*small_cases(), bad])
    assert _snapshot(work_dir) == before


@pytest.mark.parametrize(
    "change, message",
    [
        ({"flags": ("NoSuchFlag",)}, "not in the registry"),
        ({"result": "acceptable"}, "needs an implementation-defined flag"),
        ({"params": {"kernel_size": (2, 2), "stride": [1, 1]}}, "lists, not tuples"),
        ({"params": {"kernel_size": [2, 2], "groups": 1}}, "param 'groups'"),
    ],
)
def test_bad_declarations_fail_naming_the_case(change: dict, message: str) -> None:
    case = dataclasses.replace(small_cases()[1], **change)
    with pytest.raises(gen.GenerationError, match=message) as e:
        gen.render_files([case])
    assert "case avg_pool_geometry_test#avg_with_padding (#0: 'avg with padding')" in str(e.value)


def test_check_mode_names_differing_files(work_dir: pathlib.Path) -> None:
    assert gen.check(work_dir, cases=small_cases()) == []
    (work_dir / "avg_pool_geometry_test.json").write_text("{}\n")
    (work_dir / "extra_pool_x_test.json").write_text("{}\n")
    assert gen.check(work_dir, cases=small_cases()) == [
        "avg_pool_geometry_test.json",
        "extra_pool_x_test.json",
    ]


# ---------------------------------------------------------------------------
# flags
# ---------------------------------------------------------------------------


def _flags(op: str, x: np.ndarray, params: dict, grad: bool = False) -> list[str]:
    inputs = {"x": x}
    if grad:
        inputs["grad_output"] = np.ones(1)  # only its presence matters
    return gen.detect_flags(op, inputs, params)


def test_flag_detection() -> None:
    f = np.float32
    same = np.array([[[2.0, 2.0]]], dtype=f)
    zeros = np.array([[[-0.0, 0.0]]], dtype=f)
    nans = np.array([[[np.nan, 1.0, np.nan]]], dtype=f)
    k2 = {"kernel_size": [2]}
    assert _flags("max_pool", same, k2) == []  # value only, no index or gradient
    assert _flags("max_pool", same, k2, grad=True) == ["Tie"]
    assert _flags("max_pool_with_indices", same, k2) == ["Tie"]
    # the sign of the zero depends on the choice
    assert _flags("max_pool", zeros, k2) == ["Tie", "ZeroSignTie"]
    assert _flags("global_max_pool", zeros, {}) == ["Tie", "ZeroSignTie"]
    assert _flags("max_pool", -zeros, k2) == ["Tie", "ZeroSignTie"]
    assert _flags("max_pool", np.array([[[-0.0, -0.0]]], dtype=f), k2) == []
    assert _flags("max_pool", np.array([[[-0.0, 0.0, 1.0]]], dtype=f), {"kernel_size": [3]}) == []
    assert _flags("max_pool", nans, {"kernel_size": [3]}) == []
    assert _flags("max_pool_with_indices", nans, {"kernel_size": [3]}) == ["NanIndex"]
    assert _flags("adaptive_max_pool", nans, {"output_size": [1]}, grad=True) == ["NanIndex"]
    assert _flags("avg_pool", same, {"kernel_size": [1], "padding": [[1, 0]]}) == [
        "EmptyWindow",
        "PaddingNotBelowKernel",
        "PaddingOverHalfKernel",
    ]
    assert _flags("lp_pool", zeros, k2) == []
    assert _flags("lp_pool", zeros, k2, grad=True) == ["LpZeroNorm"]
    inf = np.array([[[np.inf, 1.0]]], dtype=f)
    assert _flags("lp_pool", inf, k2, grad=True) == ["LpZeroNorm"]


def test_accumulator_overflow_flag_and_mask() -> None:
    """AccumulatorOverflow marks a window whose intermediates exceed the input dtype's
    range although its exact result may be finite; the mask names exactly the exposed
    outputs for the declared range [POOL-DTYPE-6]."""
    big = float(np.finfo(np.float32).max)
    x = np.array([[[big, big, 0.0, 1.0, np.inf]]], dtype=np.float32)
    k2 = {"kernel_size": [2], "stride": [1]}
    assert _flags("avg_pool", x, k2) == ["AccumulatorOverflow"]
    mask = flagreg.overflow_mask("avg_pool", {"x": x}, k2, "float32")
    # [M, M] overflows, [M, 0] reaches M (exposed within the rounding bound), [1, inf] has
    # no finite result to protect
    assert mask is not None and mask.tolist() == [[[True, True, False, False]]]
    assert flagreg.overflow_mask("avg_pool", {"x": x.astype(np.float64)}, k2, "float32") is None
    assert flagreg.overflow_mask("avg_pool", {"x": x}, k2, "exact") is None
    half = np.array([[[60000.0, 60000.0, 1.0]]], dtype=np.float16)
    assert _flags("avg_pool", half, k2) == ["AccumulatorOverflow"]
    assert flagreg.overflow_mask("avg_pool", {"x": half}, k2, "float32") is None
    mask = flagreg.overflow_mask("avg_pool", {"x": half}, k2, "dtype")
    assert mask is not None and mask.tolist() == [[[True, False]]]
    # Lp: the powers; conv: the products [M, M] . [1.5, -1], exact 0.5 M
    lp = flagreg.overflow_mask("lp_pool", {"x": np.float32([[[2e19, 1.0]]])}, k2, "float32")
    assert lp is not None and lp.tolist() == [[[True]]]
    w = np.array([[[1.5, -1.0]]], dtype=np.float32)
    conv = {"x": x[..., :2], "weight": w, "bias": None}
    assert flagreg.overflow_mask("conv", conv, {}, "float32") is not None
    assert gen.detect_flags("conv", conv, {}) == ["AccumulatorOverflow"]
    assert _flags("avg_pool", np.float32([[[1e38, 1e38]]]), k2) == []
    assert _flags("max_pool", x, k2) == []


def test_padding_limit_flags() -> None:
    """Explicit pooling padding of kernel_size or more, or of more than half the kernel
    size (dilation aside: torch's kernels bound it so), is flagged [POOL-PARAM-7];
    strings, conv and zero_pad are not."""
    x = np.arange(6.0, dtype=np.float32).reshape(1, 1, 6)
    k3 = {"kernel_size": [3]}
    assert _flags("avg_pool", x, {**k3, "padding": 1}) == []
    assert _flags("avg_pool", x, {**k3, "padding": [[0, 2]]}) == ["PaddingOverHalfKernel"]
    assert _flags("max_pool", x, {**k3, "padding": 3}) == [
        "EmptyWindow",
        "PaddingNotBelowKernel",
        "PaddingOverHalfKernel",
    ]
    # dilation widens the effective kernel, not kernel_size: 2 >= k and 2 > k//2
    assert _flags("max_pool", x, {"kernel_size": [2], "dilation": [3], "padding": 2}) == [
        "PaddingNotBelowKernel",
        "PaddingOverHalfKernel",
    ]
    assert _flags("max_pool", x, {"kernel_size": [3], "dilation": [2], "padding": 1}) == []
    assert _flags("max_pool", x, {**k3, "padding": "same_upper"}) == []
    w = np.ones((1, 1, 3), dtype=np.float32)
    assert gen.detect_flags("conv", {"x": x, "weight": w}, {"padding": 3}) == []
    assert flagreg.within_padding_limit("half_kernel", ["PaddingNotBelowKernel"])
    assert not flagreg.within_padding_limit("half_kernel", ["PaddingOverHalfKernel"])
    assert not flagreg.within_padding_limit("below_kernel", ["PaddingNotBelowKernel"])
    assert flagreg.within_padding_limit("any", ["PaddingNotBelowKernel", "PaddingOverHalfKernel"])


def test_flag_registry() -> None:
    for f in flagreg.FLAGS.values():
        assert f.description and f.clause.startswith("POOL-")
        assert f.bug_type in flagreg.BUG_TYPES
        assert all(link.startswith("https://") for link in f.links)
        assert set(f.parts) <= set(flagreg.PARTS)
        if f.declaration:
            assert len(f.allowed) >= 2, f.name
            assert flagreg.DEFAULT_DECLARATIONS[f.declaration] == f.allowed[0]
            assert flagreg.FLAG_DECLARATION[f.name] == f.declaration
        else:
            assert not f.allowed
    assert flagreg.IMPLEMENTATION_DEFINED == tuple(flagreg.FLAG_DECLARATION)
    schema = pathlib.Path(__file__).resolve().parent.parent / "spec" / "schema"
    common = json.loads((schema / "common.schema.json").read_text(encoding="utf-8"))
    assert common["$defs"]["flagName"]["enum"] == list(flagreg.FLAGS)


def _described(op: str, x: np.ndarray, params: dict, **arrays: np.ndarray) -> list[str]:
    inputs = {"x": x, **arrays}
    outputs, _ = gen.evaluate(op, inputs, params, {})
    return list(flagreg.describe(op, inputs, params, outputs))


def test_descriptive_flags() -> None:
    """Every vector carries the descriptive flags computed from its inputs, parameters
    and expected outputs (``poolconf vectors verify`` recomputes them)."""
    f32 = np.float32
    k2 = {"kernel_size": [2]}
    plain = np.array([[[1.0, 2.0, 3.0, 4.0]]], dtype=f32)
    assert _described("max_pool", plain, k2) == []
    assert _described("max_pool", plain * -0.0, k2) == ["NegativeZero"]
    assert _described("avg_pool", np.array([[[np.nan, 1.0]]], f32), k2) == [
        "SpecialValues",
        "KernelEqualsInput",
    ]
    tiny = np.array([[[1e-45, 0.0]]], f32)  # the smallest float32 subnormal
    assert _described("max_pool", tiny, {"kernel_size": [1]}) == ["Subnormal"]
    big = np.array([[[3e38, 1.0, 1.0]]], f32)
    assert _described("max_pool", big, k2) == ["LargeValues"]
    ones = np.ones((1, 1, 4096), np.float16)
    assert "Float16Accumulation" in _described("global_avg_pool", ones, {})
    assert "Float16Accumulation" not in _described("global_avg_pool", ones[..., :2048], {})
    ceil = {"kernel_size": [2], "stride": [2], "padding": [[1, 1]], "ceil_mode": True}
    five = np.arange(5.0, dtype=f32).reshape(1, 1, 5)
    assert _described("max_pool", five, ceil) == ["CeilModeLastWindow"]  # window 3 would start at 6
    no_pad = {**ceil, "padding": [[0, 0]]}
    assert _described("max_pool", five, no_pad) == ["CeilModeOverhang"]  # window 2 holds 4 and 5
    assert _described("adaptive_avg_pool", five, {"output_size": [2]}) == ["UnevenAdaptive"]
    assert _described("adaptive_avg_pool", five, {"output_size": [5]}) == []
    w = np.ones((1, 1, 5), f32)
    assert _described("conv", five, {}, weight=w) == ["KernelEqualsInput"]


# ---------------------------------------------------------------------------
# loader
# ---------------------------------------------------------------------------


def test_loader_reads_generated_cases(small_dir: pathlib.Path) -> None:
    cases = vf.load_cases(small_dir)
    assert [c.test_id for c in cases] == [
        "avg_pool_geometry_test#avg_with_padding",
        "max_pool_geometry_test#tie_overlapping",
        "max_pool_geometry_test#float16_channels_last",
        "max_pool_invalid_test#stride_zero",
        "max_pool_with_indices_edge_test#empty_window",
    ]
    assert [c.tc_id for c in cases] == [1, 1, 2, 1, 1]
    c = vf.find_case("max_pool_geometry_test#float16_channels_last", small_dir)
    assert vf.find_case("max_pool_geometry_test#2", small_dir).test_id == c.test_id  # by tcId
    assert (c.op, c.family, c.result) == ("max_pool", "geometry", "valid")
    assert c.params == {"kernel_size": [2], "layout": "channels_last"}
    assert c.inputs["x"].dtype == np.float16 and c.inputs["x"].shape == (1, 4, 2)
    assert c.tolerance["output"] == (0, None)
    inv = vf.find_case("max_pool_invalid_test#stride_zero", small_dir)
    assert inv.error_clause == "POOL-PARAM-2" and inv.expected == {}
    with pytest.raises(vf.VectorError, match=r"max_pool_geometry_test\.json#9: no such tcId"):
        vf.find_case("max_pool_geometry_test#9", small_dir)
    with pytest.raises(vf.VectorError, match=r"max_pool_geometry_test\.json#gone: no such name"):
        vf.find_case("max_pool_geometry_test#gone", small_dir)
    with pytest.raises(vf.VectorError, match="test id"):
        vf.find_case("../etc/passwd#1", small_dir)


def test_loader_rejects_paths_outside_the_folder(work_dir: pathlib.Path) -> None:
    outside = work_dir.parent / "outside_test.json"
    shutil.copy(work_dir / "max_pool_geometry_test.json", outside)
    (work_dir / "evil_pool_x_test.json").symlink_to(outside)
    with pytest.raises(vf.VectorError, match="outside the vectors folder"):
        vf.load_file(work_dir / "evil_pool_x_test.json", root=work_dir)
    with pytest.raises(vf.VectorError, match="outside the vectors folder"):
        vf.load_file("../outside_test.json", root=work_dir)
    with pytest.raises(vf.VectorError, match="outside the vectors folder"):
        vf.load_cases(work_dir)
    rep = ver.verify(work_dir, recompute=False)
    assert any("evil_pool_x_test.json" in e and "outside" in e for e in rep.errors)


def test_loader_rejects_oversize_files_and_arrays(
    work_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vf, "MAX_FILE_BYTES", 1000)
    with pytest.raises(vf.VectorError, match=r"max_pool_geometry_test\.json: .* exceed MAX_FILE"):
        vf.load_file("max_pool_geometry_test.json", root=work_dir)
    monkeypatch.undo()
    monkeypatch.setattr(vf, "MAX_ARRAY_ELEMENTS", 8)
    with pytest.raises(vf.VectorError, match=r"max_pool_geometry_test.json#1 inputs.x: 9 elements"):
        vf.load_file("max_pool_geometry_test.json", root=work_dir)


# ---------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------


def test_verify_passes_on_generated_folder(small_dir: pathlib.Path) -> None:
    rep = ver.verify(small_dir, jobs=1)
    assert rep.ok, rep.errors
    assert (rep.files, rep.tests, rep.recomputed) == (4, 5, 5)
    assert rep.results == {"valid": 2, "acceptable": 2, "invalid": 1}
    assert "OK" in rep.summary()
    assert ver.verify(small_dir, jobs=2).ok


def _set_first_output(doc: dict) -> None:
    t = _tests(doc)[0]
    t["expected"]["output"]["data"][0] = 7.25


def _dup_tc(doc: dict) -> None:
    _tests(doc)[1]["tcId"] = 1


def _undeclared_flag(doc: dict) -> None:
    _tests(doc)[1]["flags"].append("NegativeZero")


def _wrong_clause(doc: dict) -> None:
    _tests(doc)[0]["errorClause"] = "POOL-PARAM-1"


def _extra_key(doc: dict) -> None:
    _tests(doc)[1]["note"] = "hello"


def _nan_spelling(doc: dict) -> None:
    _tests(doc)[1]["expected"]["output"]["data"][0] = "NaN"


def _drop_flag(doc: dict) -> None:
    t = _tests(doc)[0]
    t["flags"], t["result"] = [], "valid"
    doc["notes"] = {}


def _scale(doc: dict) -> None:
    _tests(doc)[0]["tolerance"]["grad_input"]["ulps"] += 1


@pytest.mark.parametrize(
    "name, edit, message",
    [
        ("max_pool_geometry_test.json", _set_first_output, "#1: expected.output differs"),
        ("max_pool_geometry_test.json", _dup_tc, "#1: tcId used 2 times"),
        (
            "max_pool_geometry_test.json",
            _undeclared_flag,
            "#2: flag 'NegativeZero' is not described",
        ),
        ("max_pool_invalid_test.json", _wrong_clause, "#1: the reference raises [POOL-PARAM-2]"),
        ("max_pool_geometry_test.json", _extra_key, "#2: schema window_pool_test"),
        ("max_pool_geometry_test.json", _nan_spelling, "#2: schema window_pool_test"),
        ("max_pool_geometry_test.json", _drop_flag, "#1: flags ['Tie'] apply but are missing"),
        ("max_pool_geometry_test.json", _scale, "#1: tolerance.grad_input="),
        (
            "max_pool_geometry_test.json",
            lambda d: d.update(numberOfTests=3),
            ": numberOfTests=3, but the file holds 2",
        ),
    ],
)
def test_verify_names_file_and_tcid(work_dir: pathlib.Path, name: str, edit, message: str) -> None:
    _rewrite(work_dir, name, edit)
    rep = ver.verify(work_dir)
    assert not rep.ok
    assert any(e.startswith(name.removesuffix(".json")) and message in e for e in rep.errors), (
        rep.errors
    )


def test_verify_rejects_non_canonical_text(work_dir: pathlib.Path) -> None:
    p = work_dir / "avg_pool_geometry_test.json"
    p.write_text(p.read_text().replace('\n "schema"', '\n  "schema"'))
    _fix_manifest(work_dir)
    rep = ver.verify(work_dir, recompute=False)
    assert rep.errors == [
        "avg_pool_geometry_test.json: not in canonical form (first difference at line 3)"
    ]
    # an integer where a float belongs parses to the same value but is not canonical
    _rewrite(work_dir, "avg_pool_geometry_test.json", lambda d: None)
    p = work_dir / "max_pool_geometry_test.json"
    assert '"data": [1.0, 1.0, 0.5' in p.read_text()
    p.write_text(p.read_text().replace('"data": [1.0, 1.0, 0.5', '"data": [1, 1.0, 0.5', 1))
    _fix_manifest(work_dir)
    assert not ver.verify(work_dir, recompute=False).ok


def test_verify_checks_the_manifest(work_dir: pathlib.Path) -> None:
    m = work_dir / gen.MANIFEST
    lines = m.read_text().splitlines(keepends=True)
    m.write_text("".join(("0" * 64) + line[64:] if "avg_pool" in line else line for line in lines))
    errors = ver.verify(work_dir, recompute=False).errors
    assert errors == ["avg_pool_geometry_test.json: sha256 differs from MANIFEST.sha256"]
    m.write_text("".join(line for line in lines if "avg_pool" not in line))
    errors = ver.verify(work_dir, recompute=False).errors
    assert errors == ["avg_pool_geometry_test.json: not listed in MANIFEST.sha256"]
    (work_dir / "avg_pool_geometry_test.json").unlink()
    m.write_text("".join(lines))
    errors = ver.verify(work_dir, recompute=False).errors
    assert errors == ["avg_pool_geometry_test.json: listed in MANIFEST.sha256 but missing"]


def test_manifest_lines_are_the_generators(work_dir: pathlib.Path) -> None:
    # one implementation for poolconf check (before any test) and poolconf vectors verify
    m = work_dir / gen.MANIFEST
    lines = m.read_text().splitlines(keepends=True)
    assert vf.manifest_errors(work_dir) == []
    m.write_text("".join(reversed(lines)))
    not_canonical = "MANIFEST.sha256: not canonical (sorted by name, one '<sha256>  <name>' a line)"
    assert vf.manifest_errors(work_dir) == [not_canonical]
    assert ver.verify(work_dir, recompute=False).errors == [not_canonical]
    m.write_text("".join(lines + lines[:1]))
    errors = vf.manifest_errors(work_dir)
    assert errors[0] == f"MANIFEST.sha256:{len(lines) + 1}: {lines[0][66:-1]} listed twice"
    m.write_text("".join(lines) + "not a line\n")
    assert vf.manifest_errors(work_dir)[0].startswith(
        f"MANIFEST.sha256:{len(lines) + 1}: not '<sha256>  <name>'"
    )


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    vectors_cli.add_arguments(parser)
    return vectors_cli.run(parser.parse_args(list(argv)))


def test_cli(
    work_dir: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(gen, "all_cases", small_cases)
    registry = tmp_path / "tcids.json"
    tcids.Registry.fresh(small_cases()).save(registry)
    monkeypatch.setattr(tcids, "REGISTRY_PATH", registry)
    assert _cli("verify", "--dir", str(work_dir)) == 0
    assert "poolconf vectors verify: OK; 4 files, 5 tests" in capsys.readouterr().out
    assert _cli("generate", "--out", str(work_dir), "--check") == 0
    (work_dir / "avg_pool_geometry_test.json").write_text("{}\n")
    assert _cli("generate", "--out", str(work_dir), "--check") == 1
    assert "differs: avg_pool_geometry_test.json" in capsys.readouterr().out
    assert _cli("verify", "--dir", str(work_dir), "--no-recompute") == 1
    assert _cli("generate", "--out", str(work_dir)) == 0
    assert _cli("verify", "--dir", str(work_dir), "-j", "2") == 0


# ---------------------------------------------------------------------------
# the committed folder
# ---------------------------------------------------------------------------


def test_committed_vectors_verify() -> None:
    if not list(vf.vectors_dir().glob("*_test.json")):
        pytest.fail("no vectors committed: run 'poolconf vectors generate'")
    rep = ver.verify(vf.vectors_dir(), jobs=min(2, os.cpu_count() or 1))
    assert rep.ok, "\n".join(rep.errors[:50])


def test_committed_vectors_size() -> None:
    total = sum(p.stat().st_size for p in vf.vectors_dir().iterdir() if p.is_file())
    assert total < 10 * 2**20


@pytest.mark.slow
def test_committed_vectors_match_the_declarations() -> None:
    assert gen.check() == [], "run 'poolconf vectors generate'"


VALUE_INPUTS = ("x", "weight", "bias")  # the inputs whose dtype is the case's dtype


def _setup(c: vf.VectorCase) -> str:
    shapes = {k: list(v.shape) for k, v in c.inputs.items() if k != "grad_output"}
    return json.dumps([c.op, c.family, c.params, shapes], sort_keys=True)


def test_every_geometry_case_exists_in_float32() -> None:
    """A float32-only backend meets every geometry: each geometry, padding or edge case
    drawn in another dtype has a case in float32 with the same op, family, parameters
    and shapes (an edge case its twin ``<name>_as_float32``; the int8/int16 edge cases
    are about their dtypes)."""
    cases = [
        c
        for c in vf.load_cases(None)
        if c.family in ("geometry", "padding", "edge") and c.result != "invalid"
    ]
    in_float32 = {
        _setup(c)
        for c in cases
        if all(c.inputs[k].dtype == np.float32 for k in VALUE_INPUTS if k in c.inputs)
    }
    lonely = [
        c.test_id
        for c in cases
        if _setup(c) not in in_float32
        and (c.family != "edge" or dt.is_float(dt.dtype_name(c.inputs["x"].dtype)))
    ]
    assert not lonely, f"geometry cases with no float32 case of the same setup: {lonely}"
    assert len([c for c in cases if c.name.endswith(TWIN)]) >= 90
