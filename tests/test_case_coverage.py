"""The golden-vector case declarations cover what the vectors must cover.

Everything here is read off the declarations (``poolconf.tools.cases``) and the
reference's pure integer geometry; only invalid cases call the reference ops
(they fail fast in argument validation). The coverage matrix: every op x rank x
layout x padding kind for the windowed ops; every op x rank x dtype; the full
rank x layout x dtype product for the other ops; every value of stride,
dilation, ceil mode, count_include_pad, divisor_override and p for every op
that takes it; the named edges; the invalid parameters; and every clause id
that vectors can test.
"""

from __future__ import annotations

import inspect
import json
import math
import pathlib
import re
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
import pytest

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.tools import cases as C
from poolconf.tools.casedef import Case

DECLARED = C.declared_cases()
ALL = C.all_cases()
VALID = [c for c in DECLARED if c.result != "invalid"]
INVALID_ALL = [c for c in ALL if c.result == "invalid"]
RANKS = (1, 2, 3)
FAMILIES = {"geometry", "padding", "dtype", "special", "edge", "invalid"}
MATRIX_FAMILIES = {"geometry", "padding", "dtype"}

# Every clause id defined in the spec (headings of spec/pooling.md).
CLAUSES = set(
    re.findall(
        r"^### (POOL-[A-Z]+-[0-9]+):",
        (pathlib.Path(__file__).resolve().parents[1] / "spec" / "pooling.md").read_text("utf-8"),
        flags=re.MULTILINE,
    )
) - {"POOL-PROFILE-1", "POOL-PROFILE-2"}  # profiles select tests; no case can cite them
# Clauses left to other tests, with the reason.
NOT_BY_CASES = {
    "POOL-IDX-2": "ONNX index mapping: a formula over the stored PyTorch-convention indices, "
    "checked by the harness/spec tests, not a separate reference output",
    "POOL-IDX-3": "TensorFlow index mapping: same as POOL-IDX-2",
    "POOL-GRAD-7": "grad_output shape/dtype errors: vectors hold invalid cases for forward "
    "ops only",
    "POOL-TOL-1": "tolerance semantics: every vector carries tolerances computed by "
    "poolconf.reference.tolerance, tested with it, not declared per case",
    "POOL-TOL-2": "exact ops 0 ULP: as POOL-TOL-1",
    "POOL-TOL-3": "ULP budgets: as POOL-TOL-1",
    "POOL-SHAPE-2": "call hygiene (no mutation, no aliasing, repeatable): conformance/test_hygiene.py",
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def layout_of(c: Case) -> str:
    return c.params.get("layout", "channels_first")


def rank_of(c: Case) -> int:
    return c.inputs["x"].ndim - 2


def dtype_of(c: Case) -> str:
    return dt.dtype_name(c.inputs["x"].dtype)


def spatial(c: Case) -> tuple[int, ...]:
    return C.spatial_of(c.inputs["x"], layout_of(c))


def x_cf(c: Case) -> np.ndarray:
    x = c.inputs["x"]
    return np.moveaxis(x, -1, 1) if layout_of(c) == "channels_last" else x


def of_op(op: str, cases: Iterable[Case] = VALID) -> list[Case]:
    return [c for c in cases if c.op == op]


def geometry(c: Case) -> geo.PoolGeometry:
    p = c.params
    return geo.pool_geometry(
        spatial(c),
        p["kernel_size"],
        p.get("stride"),
        p.get("padding", 0),
        p.get("dilation", 1),
        p.get("ceil_mode", False),
    )


def kernel(c: Case) -> tuple[int, ...]:
    return geo.per_dim(c.params["kernel_size"], "kernel_size", rank_of(c), 1, "POOL-PARAM-1")


def stride(c: Case) -> tuple[int, ...] | None:
    s = c.params.get("stride")
    return None if s is None else geo.per_dim(s, "stride", rank_of(c), 1, "POOL-PARAM-2")


def dilation(c: Case) -> tuple[int, ...]:
    return geo.per_dim(c.params.get("dilation", 1), "dilation", rank_of(c), 1, "POOL-PARAM-3")


def kind(c: Case) -> str:
    return C.padding_kind(c.params.get("padding", 0), spatial(c), c.params)


def windows(c: Case) -> list[list[geo.WindowTap]]:
    return [taps for _, taps in geometry(c).windows()]


def planes(c: Case) -> list[list]:
    cf = np.ascontiguousarray(x_cf(c))
    flat = dt.array_to_python(cf)
    size = math.prod(cf.shape[2:])
    return [flat[i * size : (i + 1) * size] for i in range(cf.shape[0] * cf.shape[1])]


def any_case(pred: Callable[[Case], bool], cases: Iterable[Case] = VALID) -> bool:
    return any(pred(c) for c in cases)


def values(c: Case) -> np.ndarray:
    return c.inputs["x"].astype(np.float64).ravel()


def call_forward(c: Case) -> object:
    fn = getattr(ref, c.op)
    if c.op == "max_unpool":
        return fn(c.inputs["x"], c.inputs["indices"], **c.params)
    if c.op == "conv":
        return fn(c.inputs["x"], c.inputs["weight"], c.inputs.get("bias"), **c.params)
    return fn(c.inputs["x"], **c.params)


# ---------------------------------------------------------------------------
# the declarations themselves
# ---------------------------------------------------------------------------


def test_comments_are_unique() -> None:
    seen: dict[str, int] = {}
    for c in ALL:
        seen[c.comment] = seen.get(c.comment, 0) + 1
    assert [k for k, n in seen.items() if n > 1] == []


def test_seeds_are_explicit_and_unique() -> None:
    seeds = [c.seed for c in DECLARED]
    assert all(isinstance(s, int) and s >= 0 for s in seeds)
    assert len(seeds) == len(set(seeds))


def test_families_and_ops_are_known() -> None:
    assert {c.family for c in DECLARED} <= FAMILIES
    assert {c.op for c in ALL} <= set(C.OP_DTYPES)
    assert {c.family for c in DECLARED if c.result == "invalid"} == {"invalid"}


@pytest.mark.parametrize("c", ALL, ids=lambda c: c.comment[:60])
def test_params_are_the_reference_keywords_and_plain_json(c: Case) -> None:
    sig = inspect.signature(getattr(ref, c.op))
    keywords = {n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert set(c.params) <= keywords, f"{c.comment}: {set(c.params) - keywords}"
    text = json.dumps(dict(c.params), allow_nan=False)
    assert json.loads(text) == dict(c.params)
    assert json.dumps(json.loads(text)) == text  # no tuples
    if c.grad_params:
        grad_sig = inspect.signature(getattr(ref, f"{c.op}_grad"))
        assert set(c.grad_params) <= set(grad_sig.parameters)


def test_declarations_are_deterministic() -> None:
    again = C.declared_cases()
    assert len(again) == len(DECLARED)
    for a, b in zip(DECLARED, again):
        assert (a.op, a.family, a.comment, a.params, a.seed) == (
            b.op,
            b.family,
            b.comment,
            b.params,
            b.seed,
        )
        assert a.inputs.keys() == b.inputs.keys()
        for k in a.inputs:
            assert a.inputs[k].dtype == b.inputs[k].dtype
            assert a.inputs[k].tobytes() == b.inputs[k].tobytes()


def test_vector_size_stays_small() -> None:
    """Inputs bound the vector size: outputs, gradients and tolerance scales are at
    most a few times the input elements; at ~25 JSON bytes an element, 80k input
    elements stay well under the 10 MB budget of the vectors folder."""
    elements = sum(a.size for c in ALL for a in c.inputs.values())
    assert elements < 80_000
    big = [c.comment for c in DECLARED if c.inputs["x"].size > 300]
    assert len(big) <= 5, big  # a handful of deliberately large edge cases


# ---------------------------------------------------------------------------
# the coverage matrix
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", C.WINDOWED_OPS)
def test_windowed_full_product_op_rank_layout_padding_kind(op: str) -> None:
    have = {(rank_of(c), layout_of(c), kind(c)) for c in of_op(op) if c.family == "geometry"}
    want = {(r, lay, k) for r in RANKS for lay in C.LAYOUTS for k in C.PADDING_KINDS}
    assert want - have == set()


@pytest.mark.parametrize("op", sorted(C.OP_DTYPES))
def test_every_dtype_for_every_op_and_rank(op: str) -> None:
    have = {(rank_of(c), dtype_of(c)) for c in of_op(op)}
    want = {(r, d) for r in RANKS for d in C.OP_DTYPES[op]}
    assert want - have == set()


@pytest.mark.parametrize("op", sorted(C.OP_DTYPES))
def test_every_layout_for_every_op_and_rank(op: str) -> None:
    have = {(rank_of(c), layout_of(c)) for c in of_op(op)}
    assert {(r, lay) for r in RANKS for lay in C.LAYOUTS} - have == set()


@pytest.mark.parametrize(
    "op",
    [op for op in C.OP_DTYPES if op not in C.WINDOWED_OPS],
)
def test_other_ops_full_product_rank_layout_dtype(op: str) -> None:
    have = {(rank_of(c), layout_of(c), dtype_of(c)) for c in of_op(op)}
    want = {(r, lay, d) for r in RANKS for lay in C.LAYOUTS for d in C.OP_DTYPES[op]}
    assert want - have == set()


@pytest.mark.parametrize("op", C.WINDOWED_OPS)
def test_every_axis_value_for_every_windowed_op(op: str) -> None:
    cs = of_op(op)
    strides = {"default" if stride(c) is None else "1" if max(stride(c)) == 1 else ">1" for c in cs}
    assert strides >= {"default", "1", ">1"}
    assert any_case(
        lambda c: stride(c) is not None and any(s > k for s, k in zip(stride(c), kernel(c))), cs
    ), "stride > kernel (gaps)"
    assert {max(dilation(c)) > 1 for c in cs} == {False, True}
    assert any_case(lambda c: len(set(dilation(c))) > 1, cs), "per-dim dilation"
    assert {bool(c.params.get("ceil_mode", False)) for c in cs} == {False, True}
    assert {kind(c) for c in cs} >= set(C.PADDING_KINDS)
    ceil_by_rank = {(rank_of(c), bool(c.params.get("ceil_mode", False))) for c in cs}
    assert ceil_by_rank >= {(r, flag) for r in RANKS for flag in (False, True)}
    if op == "avg_pool":
        assert {c.params.get("count_include_pad", True) for c in cs} == {False, True}
        assert {c.params.get("divisor_override") is None for c in cs} == {False, True}
        assert any_case(
            lambda c: (
                c.params.get("divisor_override") is None
                and not c.params.get("count_include_pad", True)
                and kind(c) != "none"
            ),
            cs,
        ), "count_include_pad False with padding"
    if op == "lp_pool":
        assert {c.params.get("p", 2) for c in cs} >= {1, 2, 3}


def test_padding_written_in_every_accepted_form() -> None:
    forms: dict[str, set] = {}
    for c in VALID:
        if "padding" in c.params and c.op in (*C.WINDOWED_OPS, "conv", "zero_pad", "max_unpool"):
            p = c.params["padding"]
            forms.setdefault(C.padding_form(p), set()).add(
                json.dumps(p) if isinstance(p, str) else ""
            )
    assert set(forms) >= {"string", "int", "ints", "pairs", "mixed"}
    assert forms["string"] >= {'"valid"', '"same_upper"', '"same_lower"'}
    spelled = Counter(
        "string" if isinstance(c.params["padding"], str) else C.padding_form(c.params["padding"])
        for c in VALID
        if "padding" in c.params
    )
    assert spelled.most_common(1)[0][0] == "pairs", spelled  # the main form
    assert spelled["pairs"] >= 0.4 * sum(spelled.values()), spelled


@pytest.mark.parametrize("op", ["adaptive_max_pool", "adaptive_avg_pool"])
def test_adaptive_output_sizes(op: str) -> None:
    rel = set()
    uneven = False
    for c in of_op(op):
        out = geo.per_dim(c.params["output_size"], "output_size", rank_of(c), 1, "POOL-ADAPT-2")
        for o, L in zip(out, spatial(c)):
            rel.add("smaller" if o < L else "equal" if o == L else "larger")
            uneven |= o < L and L % o != 0
    assert rel == {"smaller", "equal", "larger"}
    assert uneven


def test_adaptive_uneven_edges() -> None:
    def has(length: int, out: int) -> bool:
        return any_case(
            lambda c: (
                c.op.startswith("adaptive")
                and spatial(c) == (length,)
                and geo.per_dim(c.params["output_size"], "o", 1, 1, "x") == (out,)
            )
        )

    assert has(5, 3) and has(7, 4)
    assert any_case(
        lambda c: (
            c.op.startswith("adaptive")
            and rank_of(c) == 1
            and geo.per_dim(c.params["output_size"], "o", 1, 1, "x")[0] > spatial(c)[0]
        )
    )


def test_conv_parameters() -> None:
    cs = of_op("conv")
    assert {c.params.get("groups", 1) > 1 for c in cs} == {False, True}
    assert {"bias" in c.inputs for c in cs} == {False, True}
    assert any_case(
        lambda c: max(geo.per_dim(c.params.get("stride", 1), "s", rank_of(c), 1, "x")) > 1, cs
    )
    assert any_case(
        lambda c: max(geo.per_dim(c.params.get("dilation", 1), "d", rank_of(c), 1, "x")) > 1, cs
    )
    forms = {C.padding_form(c.params.get("padding", 0)) for c in cs}
    strings = {c.params["padding"] for c in cs if isinstance(c.params.get("padding"), str)}
    assert forms >= {"string", "int", "ints", "pairs"}
    assert strings == {"valid", "same_upper", "same_lower"}
    assert any_case(lambda c: c.params.get("groups", 1) == c.inputs["weight"].shape[0] > 1, cs)


def test_unpool_parameters() -> None:
    cs = of_op("max_unpool")
    assert {"output_size" in c.params for c in cs} == {False, True}
    assert {"stride" in c.params for c in cs} == {False, True}
    assert any_case(
        lambda c: (
            "stride" in c.params
            and any(s > k for s, k in zip(c.params["stride"], c.params["kernel_size"]))
        ),
        cs,
    )
    assert any_case(
        lambda c: any(
            pb or pe
            for pb, pe in geo.resolve_padding(
                c.params.get("padding", 0),
                spatial(c),
                [1] * rank_of(c),
                [1] * rank_of(c),
                [1] * rank_of(c),
            )
        ),
        cs,
    )


def test_global_lp_every_p() -> None:
    assert {c.params.get("p", 2) for c in of_op("global_lp_pool")} >= {1, 2, 3}


def test_zero_pad_forms() -> None:
    forms = {C.padding_form(c.params["padding"]) for c in of_op("zero_pad")}
    assert forms >= {"int", "ints", "pairs"}


# ---------------------------------------------------------------------------
# matrix cases are clean: no window entirely in padding, no ties
# ---------------------------------------------------------------------------


def test_matrix_cases_have_no_empty_window_and_no_tie() -> None:
    for c in DECLARED:
        if c.family not in MATRIX_FAMILIES or c.op not in C.WINDOWED_OPS:
            continue
        assert not C.has_empty_window(c.inputs["x"], c.params), c.comment
    for c in DECLARED:
        if c.family in MATRIX_FAMILIES and c.op in C.MAX_OPS:
            for plane in planes(c):
                assert len(set(plane)) == len(plane), c.comment


# ---------------------------------------------------------------------------
# the edges where libraries disagree
# ---------------------------------------------------------------------------


def _ceil_drops(c: Case) -> bool:
    g = geometry(c)
    for a in g.axes:
        span = a.length + a.pad_begin + a.pad_end - geo.effective_kernel(a.kernel, a.dilation)
        if a.out < -(-span // a.stride) + 1:
            return True
    return False


def _overhang(c: Case) -> bool:
    return any(any(not t.in_extent for t in taps) for taps in windows(c))


def _empty(c: Case) -> bool:
    return any(not any(t.in_bounds for t in taps) for taps in windows(c))


def _is_windowed(c: Case) -> bool:
    return c.op in C.WINDOWED_OPS


def _has(x: np.ndarray, pred: Callable[[np.ndarray], np.ndarray]) -> bool:
    return bool(np.any(pred(x.astype(np.float64))))


def _window_value_sets(c: Case) -> list[list]:
    """Values of each window of a windowed case, per plane."""
    out = []
    for plane in planes(c):
        for taps in windows(c):
            out.append([plane[t.flat] for t in taps if t.in_bounds])
    return out


EDGES: dict[str, Callable[[Case], bool]] = {
    "ceil-mode window starting in the end padding is dropped": lambda c: (
        _is_windowed(c) and c.params.get("ceil_mode", False) and _ceil_drops(c)
    ),
    "ceil-mode overhang with count_include_pad (avg)": lambda c: (
        c.op == "avg_pool"
        and c.params.get("ceil_mode", False)
        and c.params.get("count_include_pad", True)
        and "divisor_override" not in c.params
        and _overhang(c)
    ),
    "windows entirely in padding: max": lambda c: c.op == "max_pool" and _empty(c),
    "windows entirely in padding: max with indices": lambda c: (
        c.op == "max_pool_with_indices" and _empty(c)
    ),
    "windows entirely in padding: avg cip": lambda c: (
        c.op == "avg_pool" and _empty(c) and c.params.get("count_include_pad", True)
    ),
    "windows entirely in padding: avg no cip": lambda c: (
        c.op == "avg_pool" and _empty(c) and not c.params.get("count_include_pad", True)
    ),
    "windows entirely in padding: lp": lambda c: c.op == "lp_pool" and _empty(c),
    "kernel equal to the input: max": lambda c: c.op == "max_pool" and kernel(c) == spatial(c),
    "kernel equal to the input: avg": lambda c: c.op == "avg_pool" and kernel(c) == spatial(c),
    "kernel equal to the input: lp": lambda c: c.op == "lp_pool" and kernel(c) == spatial(c),
    "kernel larger than the input with ceil mode": lambda c: (
        _is_windowed(c)
        and c.params.get("ceil_mode", False)
        and any(k > L for k, L in zip(kernel(c), spatial(c)))
    ),
    "dilation with count_include_pad": lambda c: (
        c.op == "avg_pool"
        and max(dilation(c)) > 1
        and c.params.get("count_include_pad", True)
        and kind(c) != "none"
    ),
    "stride > kernel": lambda c: (
        _is_windowed(c)
        and stride(c) is not None
        and any(s > k for s, k in zip(stride(c), kernel(c)))
    ),
    "asymmetric padding on one side only": lambda c: (
        _is_windowed(c)
        and not isinstance(c.params.get("padding", 0), str)
        and any(
            (pb == 0) != (pe == 0)
            for pb, pe in C._pads_of(c.params.get("padding", 0), spatial(c), c.params)
        )
    ),
    "one NaN in a max window": lambda c: (
        c.op == "max_pool"
        and any(
            sum(math.isnan(v) for v in w) == 1
            for w in _window_value_sets(c)
            if dt.is_float(dtype_of(c))
        )
    ),
    "several NaNs in a max window": lambda c: (
        c.op in ("max_pool", "max_pool_with_indices")
        and any(sum(math.isnan(v) for v in w) >= 2 for w in _window_value_sets(c))
    ),
    "NaN in avg": lambda c: c.op == "avg_pool" and _has(c.inputs["x"], np.isnan),
    "NaN in lp": lambda c: c.op == "lp_pool" and _has(c.inputs["x"], np.isnan),
    "+inf in max": lambda c: c.op == "max_pool" and _has(c.inputs["x"], lambda v: v == math.inf),
    "-inf in max": lambda c: c.op == "max_pool" and _has(c.inputs["x"], lambda v: v == -math.inf),
    "+inf and -inf in one avg window": lambda c: (
        c.op == "avg_pool" and any(math.inf in w and -math.inf in w for w in _window_value_sets(c))
    ),
    "-0.0 and +0.0 in one max window": lambda c: (
        c.op == "max_pool"
        and any(
            any(v == 0 and math.copysign(1, v) < 0 for v in w)
            and any(v == 0 and math.copysign(1, v) > 0 for v in w)
            for w in _window_value_sets(c)
        )
    ),
    "ties with indices": lambda c: (
        c.op == "max_pool_with_indices"
        and any(
            len(w) > 1 and w.count(max(w)) > 1
            for w in _window_value_sets(c)
            if not any(isinstance(v, float) and math.isnan(v) for v in w)
        )
    ),
    "ties with tie policy all": lambda c: (
        c.op == "max_pool" and c.grad_params.get("tie_policy") == "all"
    ),
    "ties with tie policy first (gradient)": lambda c: (
        c.op == "max_pool"
        and c.grad
        and any(
            len(w) > 1 and w.count(max(w)) > 1
            for w in _window_value_sets(c)
            if not any(isinstance(v, float) and math.isnan(v) for v in w)
        )
        and c.grad_params.get("tie_policy", "first") == "first"
    ),
    "float16 average over a 64x64 window of ones": lambda c: (
        c.op == "avg_pool"
        and dtype_of(c) == "float16"
        and math.prod(kernel(c)) >= 4096
        and bool(np.all(values(c) == 1))
    ),
    "float16 global average of 4096 ones": lambda c: (
        c.op == "global_avg_pool"
        and dtype_of(c) == "float16"
        and c.inputs["x"].size >= 4096
        and bool(np.all(values(c) == 1))
    ),
    "int8 extremes for max": lambda c: (
        c.op.startswith("max_pool")
        and dtype_of(c) == "int8"
        and {-128, 127} <= set(c.inputs["x"].ravel().tolist())
    ),
    "uint8 extremes for max": lambda c: (
        c.op.startswith("max_pool")
        and dtype_of(c) == "uint8"
        and {0, 255} <= set(c.inputs["x"].ravel().tolist())
    ),
    "unpool round trip, default size": lambda c: (
        c.op == "max_unpool"
        and c.family == "edge"
        and "output_size" not in c.params
        and "round trip" in c.comment
    ),
    "unpool round trip, output_size": lambda c: (
        c.op == "max_unpool"
        and c.family == "edge"
        and "output_size" in c.params
        and "round trip" in c.comment
    ),
    "unpool repeated index": lambda c: (
        c.op == "max_unpool"
        and any(
            len(set(p)) < len(p)
            for p in np.asarray(c.inputs["indices"])
            .reshape(c.inputs["indices"].shape[0], -1)
            .tolist()
        )
    ),
}
for _dtype in ("float16", "bfloat16", "float32"):
    _tiny = float(
        dt.FLOAT_FORMATS[_dtype].min_subnormal * 2 ** (dt.FLOAT_FORMATS[_dtype].precision - 1)
    )
    for _op in ("max_pool", "avg_pool", "lp_pool"):
        EDGES[f"{_dtype} subnormals in {_op}"] = lambda c, d=_dtype, o=_op, t=_tiny: (
            c.op == o
            and dtype_of(c) == d
            and _has(c.inputs["x"], lambda v: (v != 0) & (np.abs(v) < t))
        )
for _dtype in C.FLOATS:
    EDGES[f"{_dtype} average of values near the dtype maximum"] = lambda c, d=_dtype: (
        c.op == "avg_pool"
        and dtype_of(c) == d
        and _has(c.inputs["x"], lambda v: np.abs(v) == C.fmax(d))
    )


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_is_declared(name: str) -> None:
    assert any_case(EDGES[name]), f"no case for the edge {name!r}"


def test_edge_and_special_cases_name_their_clauses() -> None:
    for c in DECLARED:
        assert c.clauses and set(c.clauses) <= CLAUSES, c.comment


# ---------------------------------------------------------------------------
# invalid cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c", INVALID_ALL, ids=lambda c: c.comment[:60])
def test_invalid_case_raises_its_clause(c: Case) -> None:
    with pytest.raises(SpecError) as info:
        call_forward(c)
    assert info.value.clause == c.error_clause, str(info.value)
    assert c.error_clause in c.clauses


def test_invalid_parameters_are_covered() -> None:
    inv = [c for c in DECLARED if c.result == "invalid"]
    clauses = {c.error_clause for c in inv}
    assert clauses >= {
        "POOL-PARAM-1", "POOL-PARAM-2", "POOL-PARAM-3", "POOL-PARAM-4", "POOL-PARAM-5",
        "POOL-PARAM-6", "POOL-GEOM-7", "POOL-AVG-2", "POOL-LP-2", "POOL-ADAPT-2",
        "POOL-LAYOUT-1", "POOL-DTYPE-1", "POOL-UNPOOL-1", "POOL-UNPOOL-3", "POOL-CONV-2",
        "POOL-CONV-3", "POOL-CONV-4", "POOL-SHAPE-1", "POOL-PAD-1",
    }  # fmt: skip

    def has(op: str, clause: str, pred: Callable[[Case], bool] = lambda c: True) -> bool:
        return any(c.op == op and c.error_clause == clause and pred(c) for c in inv)

    assert has("lp_pool", "POOL-LP-2", lambda c: c.params["p"] == 0)
    assert has("lp_pool", "POOL-LP-2", lambda c: c.params["p"] == 1.5)
    assert has("avg_pool", "POOL-AVG-2", lambda c: c.params["divisor_override"] == 0)
    assert has("max_pool", "POOL-PARAM-4", lambda c: c.params.get("padding") == -1)
    assert any(
        c.error_clause == "POOL-PARAM-4" and isinstance(c.params.get("padding"), str) for c in inv
    ), "unknown padding string"
    assert any(
        c.error_clause == "POOL-PARAM-6" and c.params.get("ceil_mode") not in (None,) for c in inv
    ), "non-bool ceil_mode"
    for op in ("avg_pool", "lp_pool", "conv"):
        assert has(op, "POOL-DTYPE-1", lambda c: not dt.is_float(dtype_of(c))), op
    assert has("adaptive_avg_pool", "POOL-ADAPT-2") or has("adaptive_max_pool", "POOL-ADAPT-2")


# ---------------------------------------------------------------------------
# clause coverage
# ---------------------------------------------------------------------------


def test_every_testable_clause_is_cited() -> None:
    cited = {cl for c in ALL for cl in c.clauses}
    missing = CLAUSES - set(NOT_BY_CASES) - cited
    assert missing == set()
    assert set(NOT_BY_CASES) <= CLAUSES


def test_cited_clauses_exist() -> None:
    cited = {cl for c in ALL for cl in c.clauses} | {c.error_clause for c in INVALID_ALL}
    assert cited <= CLAUSES
    spec = pathlib.Path(__file__).resolve().parents[1] / "spec" / "pooling.md"
    if spec.is_file():
        ids = set(
            re.findall(r"^### (POOL-[A-Z]+-\d+)", spec.read_text(encoding="utf-8"), re.MULTILINE)
        )
        if ids:
            assert cited <= ids, cited - ids


def test_comments_claiming_a_ceil_mode_drop_are_true() -> None:
    """A comment that promises a dropped ceil-mode window must describe real geometry."""
    claims = [
        c for c in DECLARED if "dropped" in c.comment and c.result != "invalid" and _is_windowed(c)
    ]
    assert claims
    for c in claims:
        assert _ceil_drops(c), c.comment
