"""Every declared golden-vector case, in one place.

``all_cases()`` returns them in a fixed order; the generator numbers them
(tcIds) per output file (``<op>_<family>_test.json``) in that order. Every case
draws its inputs from ``np.random.default_rng(seed)`` with an explicit seed, or
writes them out literally; ``params`` are exactly the reference op's keyword
arguments, JSON-serialisable (lists, never tuples).

The declarations are table-driven:

* ``geometry`` (windowed ops ``max_pool``, ``max_pool_with_indices``,
  ``avg_pool``, ``lp_pool``): the full product op x rank 1/2/3 x layout x
  padding kind (none, symmetric, asymmetric, same_upper, same_lower); stride,
  dilation, ceil mode, count_include_pad, divisor_override, p and the float
  dtype rotate along it so that every value appears for every op.
* ``dtype`` (windowed ops): every op x rank x supported dtype, other axes rotating.
* ``geometry`` / ``padding`` / ``dtype`` of the other ops (adaptive, global,
  unpool, zero_pad, conv): the full product rank x layout x supported dtype,
  with their own parameters rotating.
* ``edge`` and ``special``: one case per behaviour where libraries disagree
  (ceil-mode windows, windows entirely in padding, NaN, infinities, signed zero,
  subnormals, ties, overflow, accumulation precision, ...).
* ``invalid``: arguments the spec forbids; the reference raises ``SpecError``
  with exactly ``error_clause``.

Random inputs of the max family hold pairwise distinct values (``-0.0`` and
``+0.0`` count as equal), so the matrix cases are tie-free; ties are declared
on purpose in the ``special`` family only. Matrix builders check their geometry
eagerly (pure integer arithmetic): no matrix case has a window entirely in
padding, so none of them turns ``acceptable``.

Not declared here: invalid gradient arguments (an unknown ``tie_policy``, a
``grad_output`` of the wrong shape, POOL-GRAD-7), because vectors hold invalid
cases for forward ops only.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import max_pool_with_indices
from poolconf.tools import seed_cases
from poolconf.tools.casedef import Case

FLOATS = dt.FLOAT_DTYPES
ALL_DTYPES = dt.ALL_DTYPES
WINDOWED_OPS = cat.forward_ops("window")
OP_DTYPES = {name: cat.op(name).dtypes for name in cat.FORWARD_OPS}
GRAD_OPS = frozenset(cat.WITH_GRAD)
LAYOUTS = cat.LAYOUTS
PADDING_KINDS = ("none", "symmetric", "asymmetric", "same_upper", "same_lower")
MAX_OPS = frozenset(name for name in cat.FORWARD_OPS if cat.op(name).selects_max)


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------


def _key(a: np.ndarray) -> np.ndarray:
    """Values as a sortable key where equal values (``-0.0 == +0.0``) collide."""
    if a.dtype.kind in "iu":
        return a
    return a.astype(np.float64)


def random_values(
    seed: int, shape: Sequence[int], dtype: str, *, distinct: bool = True
) -> np.ndarray:
    """An array of ``dtype`` drawn from ``np.random.default_rng(seed)``.

    Floats: standard normal values rounded to the dtype. Integers: uniform over
    the whole range of the dtype (so values near the int64/uint64 limits, which
    no float64 holds exactly, do occur). With ``distinct`` every value differs
    from every other: duplicates are redrawn from the same generator."""
    rng = np.random.default_rng(seed)
    npdt = dt.numpy_dtype(dtype)
    n = math.prod(shape)
    if dt.is_float(dtype):

        def draw(k: int) -> np.ndarray:
            return rng.standard_normal(k).astype(npdt)
    else:
        info = np.iinfo(npdt)

        def draw(k: int) -> np.ndarray:
            return rng.integers(info.min, info.max, size=k, endpoint=True, dtype=npdt)

    flat = draw(n)
    for _ in range(100):
        if not distinct:
            break
        _, first = np.unique(_key(flat), return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        flat[dup] = draw(int(dup.sum()))
    else:
        raise RuntimeError(f"could not draw {n} distinct {dtype} values")
    return flat.reshape(tuple(shape))


def literal(values: Any, dtype: str) -> np.ndarray:
    """An array of ``dtype`` holding ``values`` (nested lists, floats or ints) exactly."""
    if dt.is_float(dtype):
        wide = np.array(values, dtype=np.float64)
        arr = wide.astype(dt.numpy_dtype(dtype))
        back = arr.astype(np.float64)
        same = (back == wide) | (np.isnan(back) & np.isnan(wide))
        if not same.all() or np.any(np.signbit(back) != np.signbit(wide)):
            raise ValueError(f"{values!r} is not exactly representable in {dtype}")
        return arr
    return np.array(values, dtype=dt.numpy_dtype(dtype))


def to_layout(x_cf: np.ndarray, layout: str) -> np.ndarray:
    """A channels-first array ``(N, C, *spatial)`` in ``layout``."""
    if layout == "channels_last":
        return np.ascontiguousarray(np.moveaxis(x_cf, 1, -1))
    return np.ascontiguousarray(x_cf)


def fmax(dtype: str) -> float:
    """The largest finite value of a float dtype."""
    return float(dt.FLOAT_FORMATS[dtype].max_finite)


def min_subnormal(dtype: str) -> float:
    """The smallest positive subnormal of a float dtype."""
    return float(dt.FLOAT_FORMATS[dtype].min_subnormal)


# ---------------------------------------------------------------------------
# declaring one case
# ---------------------------------------------------------------------------


def _json_ok(params: Mapping[str, Any]) -> None:
    text = json.dumps(params, allow_nan=False)
    if json.loads(text) != params:
        raise TypeError(f"params {params!r} do not survive a JSON round trip (tuples?)")


def case(
    op: str,
    family: str,
    comment: str,
    clauses: Sequence[str],
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    seed: int,
    **kw: Any,
) -> Case:
    """A ``Case`` with de-duplicated, sorted clauses and JSON-checked params.

    ``grad`` defaults to whether the op has a gradient in the reference."""
    _json_ok(params)
    _json_ok(kw.get("grad_params", {}))
    kw.setdefault("grad", op in GRAD_OPS)
    return Case(
        op=op,
        family=family,
        comment=comment,
        clauses=tuple(sorted(set(clauses))),
        inputs=dict(inputs),
        params=dict(params),
        seed=seed,
        **kw,
    )


def _pads_of(
    padding: Any, spatial: Sequence[int], params: Mapping[str, Any]
) -> tuple[tuple[int, int], ...]:
    rank = len(spatial)
    k = geo.per_dim(params["kernel_size"], "kernel_size", rank, 1, "POOL-PARAM-1")
    s = (
        k
        if params.get("stride") is None
        else geo.per_dim(params["stride"], "stride", rank, 1, "POOL-PARAM-2")
    )
    d = geo.per_dim(params.get("dilation", 1), "dilation", rank, 1, "POOL-PARAM-3")
    return geo.resolve_padding(padding, spatial, k, s, d)


def padding_kind(padding: Any, spatial: Sequence[int], params: Mapping[str, Any]) -> str:
    """``none``, ``symmetric``, ``asymmetric``, ``same_upper`` or ``same_lower``:
    how a case's padding argument is written (a same_* string is its own kind)."""
    if padding in ("same_upper", "same_lower"):
        return str(padding)
    pads = _pads_of(padding, spatial, params)
    if all(p == (0, 0) for p in pads):
        return "none"
    if all(pb == pe for pb, pe in pads):
        return "symmetric"
    return "asymmetric"


def padding_form(padding: Any) -> str:
    """How the padding argument is spelled: ``string``, ``int``, ``ints`` (one per
    dim), ``pairs`` (one (begin, end) per dim) or ``mixed``."""
    if isinstance(padding, str):
        return "string"
    if isinstance(padding, int):
        return "int"
    if all(isinstance(p, int) for p in padding):
        return "ints"
    if all(isinstance(p, list) for p in padding):
        return "pairs"
    return "mixed"


def spatial_of(x: np.ndarray, layout: str) -> tuple[int, ...]:
    """Spatial shape of ``x`` in ``layout``."""
    return tuple(x.shape[1:-1]) if layout == "channels_last" else tuple(x.shape[2:])


def has_empty_window(x: np.ndarray, params: Mapping[str, Any]) -> bool:
    """Whether a windowed op's geometry has a window with no in-bounds tap
    (geometry only; raises SpecError for invalid geometry)."""
    g = geo.pool_geometry(
        spatial_of(x, params.get("layout", "channels_first")),
        params["kernel_size"],
        params.get("stride"),
        params.get("padding", 0),
        params.get("dilation", 1),
        params.get("ceil_mode", False),
    )
    return any(not any(t.in_bounds for t in taps) for _, taps in g.windows())


def _checked_matrix_case(c: Case) -> Case:
    """A matrix case must be geometrically valid with no window entirely in padding."""
    if has_empty_window(c.inputs["x"], c.params):
        raise AssertionError(f"matrix case {c.comment!r} has a window entirely in padding")
    return c


def _desc(v: Any) -> str:
    return json.dumps(v)


def _windowed_clauses(op: str, dtype: str, params: Mapping[str, Any], kind: str) -> list[str]:
    """The clauses a windowed case exercises, read off its parameters."""
    c = ["POOL-SHAPE-1", "POOL-PARAM-4", "POOL-GEOM-8", "POOL-DTYPE-2"]
    c.append("POOL-GEOM-3" if params.get("ceil_mode") else "POOL-GEOM-2")
    if params.get("ceil_mode"):
        c.append("POOL-GEOM-4")
    if params.get("layout") == "channels_last":
        c.append("POOL-LAYOUT-1")
    if kind in ("same_upper", "same_lower"):
        c.append("POOL-GEOM-5")
    if params.get("padding") == "valid":
        c.append("POOL-GEOM-6")
    if params.get("dilation", 1) != 1:
        c.append("POOL-GEOM-1")
    if op in ("max_pool", "max_pool_with_indices"):
        c.append("POOL-MAX-1")
        if not dt.is_float(dtype):
            c.append("POOL-MAX-6")
    if op == "max_pool_with_indices":
        c += ["POOL-IDX-1", "POOL-IDX-4"]
    if op == "avg_pool":
        c.append("POOL-AVG-1")
        if params.get("divisor_override") is not None:
            c.append("POOL-AVG-2")
        else:
            c.append("POOL-AVG-3" if params.get("count_include_pad", True) else "POOL-AVG-4")
        if params.get("dilation", 1) != 1:
            c.append("POOL-AVG-5")
    if op == "lp_pool":
        c += ["POOL-LP-1", "POOL-LP-2"]
    if dt.is_float(dtype):
        c.append("POOL-DTYPE-3")
        if op in GRAD_OPS:
            c += {
                "max_pool": ["POOL-GRAD-2", "POOL-GRAD-3"],
                "avg_pool": ["POOL-GRAD-1", "POOL-GRAD-3"],
                "lp_pool": ["POOL-GRAD-4", "POOL-GRAD-3"],
            }[op]
    return c


# ---------------------------------------------------------------------------
# windowed ops: the geometry matrix and the dtype sweep
# ---------------------------------------------------------------------------

# (x shape channels-first, kernel) per rank; small enough for exact arithmetic.
WINDOW_SETUP: dict[int, tuple[tuple[int, ...], list[int]]] = {
    1: ((1, 2, 7), [3]),
    2: ((2, 1, 5, 6), [2, 3]),
    3: ((1, 2, 3, 4, 4), [2, 2, 2]),
}
STRIDE_CHOICES = ("default", "one", "two", "gap")
DILATION_CHOICES = ("one", "two", "mixed")


def _padding_for(kind: str, rank: int, variant: int) -> Any:
    """The padding argument of a padding kind, its spelling rotating with ``variant``."""
    if kind in ("same_upper", "same_lower"):
        return kind
    if kind == "none":
        zeros = [[0, 0]] * rank
        return [zeros, "valid", zeros, 0, zeros, [0] * rank][variant % 6]
    if kind == "symmetric":
        ones = [[1, 1]] * rank
        return [ones, 1, ones, [1] * rank][variant % 4]
    # asymmetric: both sides differ per dim, written as (begin, end) pairs
    table = {
        1: [[[0, 1]], [[2, 1]]],
        2: [[[1, 0], [0, 2]], [[0, 1], [1, 1]]],
        3: [[[0, 1], [1, 0], [1, 1]], [[1, 0], [0, 0], [0, 1]]],
    }
    return table[rank][variant % 2]


def _stride_for(choice: str, kernel: list[int]) -> Any:
    return {"default": None, "one": 1, "two": [2] * len(kernel), "gap": [k + 1 for k in kernel]}[
        choice
    ]


def _dilation_for(choice: str, rank: int) -> Any:
    return {"one": 1, "two": 2, "mixed": [2 if i % 2 == 0 else 1 for i in range(rank)]}[choice]


def _windowed_params(
    op: str, rank: int, layout: str, kind: str, i: int, kernel: list[int]
) -> dict[str, Any]:
    params: dict[str, Any] = {"kernel_size": kernel}
    stride = _stride_for(STRIDE_CHOICES[i % 4], kernel)
    if stride is not None:
        params["stride"] = stride
    params["padding"] = _padding_for(kind, rank, i // 5)
    dilation = _dilation_for(DILATION_CHOICES[i % 3], rank)
    if dilation != 1:
        params["dilation"] = dilation
    params["ceil_mode"] = bool((i // 2) % 2)
    if op == "avg_pool":
        params["count_include_pad"] = bool(i % 2 == 0)
        params["divisor_override"] = [None, None, 5][(i // 3) % 3]
        if params["divisor_override"] is None:
            del params["divisor_override"]
    if op == "lp_pool":
        params["p"] = [1, 2, 3][(i // 4) % 3]
    params["layout"] = layout
    return params


def _windowed_comment(
    prefix: str, op: str, rank: int, dtype: str, kind: str, params: Mapping[str, Any]
) -> str:
    parts = [
        f"{prefix}: {rank}D {op} {dtype} {params['layout']}, kernel {_desc(params['kernel_size'])}"
    ]
    parts.append(f"padding {kind} {_desc(params['padding'])}")
    parts.append(
        f"stride {_desc(params['stride'])}" if "stride" in params else "stride default (= kernel)"
    )
    parts.append(f"dilation {_desc(params.get('dilation', 1))}")
    parts.append("ceil mode" if params["ceil_mode"] else "floor mode")
    if op == "avg_pool":
        parts.append(f"count_include_pad {params['count_include_pad']}")
        if "divisor_override" in params:
            parts.append(f"divisor_override {params['divisor_override']}")
    if op == "lp_pool":
        parts.append(f"p {params['p']}")
    return ", ".join(parts)


def _windowed_case(
    prefix: str,
    family: str,
    op: str,
    rank: int,
    layout: str,
    kind: str,
    dtype: str,
    i: int,
    seed: int,
) -> Case:
    shape, kernel = WINDOW_SETUP[rank]
    params = _windowed_params(op, rank, layout, kind, i, kernel)
    distinct = op in MAX_OPS
    x = to_layout(random_values(seed, shape, dtype, distinct=distinct), layout)
    return _checked_matrix_case(
        case(
            op,
            family,
            _windowed_comment(prefix, op, rank, dtype, kind, params),
            _windowed_clauses(op, dtype, params, kind),
            {"x": x},
            params,
            seed,
        )
    )


def geometry_matrix() -> list[Case]:
    """Full product op x rank x layout x padding kind for the windowed ops; the
    other axes (stride, dilation, ceil, count_include_pad, divisor_override, p,
    float dtype) rotate with the position ``i`` in the product."""
    cases = []
    for oi, op in enumerate(WINDOWED_OPS):
        i = 0
        for rank in (1, 2, 3):
            for layout in LAYOUTS:
                for kind in PADDING_KINDS:
                    dtype = FLOATS[(i // 3 + oi) % 4]
                    cases.append(
                        _windowed_case(
                            "geometry",
                            "geometry",
                            op,
                            rank,
                            layout,
                            kind,
                            dtype,
                            i,
                            10_000 + 100 * oi + i,
                        )
                    )
                    i += 1
    return cases


def dtype_sweep() -> list[Case]:
    """Every windowed op x rank x supported dtype; layout, padding kind and the
    other axes rotate."""
    cases = []
    for oi, op in enumerate(WINDOWED_OPS):
        i = 0
        for rank in (1, 2, 3):
            for dtype in OP_DTYPES[op]:
                layout = LAYOUTS[(i + rank) % 2]
                kind = PADDING_KINDS[(i + 2 * rank) % 5]
                cases.append(
                    _windowed_case(
                        "dtype",
                        "dtype",
                        op,
                        rank,
                        layout,
                        kind,
                        dtype,
                        i + 7,
                        20_000 + 100 * oi + i,
                    )
                )
                i += 1
    return cases


# ---------------------------------------------------------------------------
# adaptive, global, unpool, zero_pad, conv: rank x layout x dtype
# ---------------------------------------------------------------------------

ADAPTIVE_SETUP: dict[int, tuple[tuple[int, ...], list[Any]]] = {
    # x shape, output sizes: smaller (uneven), equal, larger, mixed, plain-int form
    1: ((1, 2, 7), [[3], [7], [9], [4], 2]),
    2: ((2, 1, 5, 6), [[3, 4], [5, 6], [7, 8], [2, 9], 3]),
    3: ((1, 2, 3, 4, 4), [[2, 3, 3], [3, 4, 4], [4, 5, 6], [1, 4, 6], 2]),
}


def _size_relation(out: Sequence[int], spatial: Sequence[int]) -> str:
    rel = {("smaller" if o < L else "equal" if o == L else "larger") for o, L in zip(out, spatial)}
    return rel.pop() if len(rel) == 1 else "mixed"


def adaptive_matrix() -> list[Case]:
    """Adaptive max/avg: rank x layout x dtype; output_size rotates through
    smaller (uneven overlapping windows), equal, larger and mixed."""
    cases = []
    for oi, op in enumerate(("adaptive_max_pool", "adaptive_avg_pool")):
        i = 0
        for rank in (1, 2, 3):
            shape, sizes = ADAPTIVE_SETUP[rank]
            for layout in LAYOUTS:
                for dtype in OP_DTYPES[op]:
                    out = sizes[i % len(sizes)]
                    seed = 30_000 + 1000 * oi + i
                    x = to_layout(random_values(seed, shape, dtype, distinct=op in MAX_OPS), layout)
                    out_list = out if isinstance(out, list) else [out] * rank
                    rel = _size_relation(out_list, shape[2:])
                    clauses = ["POOL-ADAPT-1", "POOL-ADAPT-2", "POOL-DTYPE-2", "POOL-SHAPE-1"]
                    if layout == "channels_last":
                        clauses.append("POOL-LAYOUT-1")
                    if op == "adaptive_max_pool" and not dt.is_float(dtype):
                        clauses.append("POOL-MAX-6")
                    if dt.is_float(dtype):
                        clauses += ["POOL-DTYPE-3", "POOL-GRAD-6"]
                    cases.append(
                        case(
                            op,
                            "geometry",
                            f"geometry: {rank}D {op} {dtype} {layout}, input {list(shape[2:])} -> "
                            f"output_size {_desc(out)} ({rel})",
                            clauses,
                            {"x": x},
                            {"output_size": out, "layout": layout},
                            seed,
                        )
                    )
                    i += 1
    return cases


GLOBAL_SHAPES = {1: (1, 2, 9), 2: (2, 1, 4, 5), 3: (1, 2, 3, 3, 4)}


def global_matrix() -> list[Case]:
    """Global max/avg/Lp: rank x layout x dtype (p rotating for Lp)."""
    cases = []
    for oi, op in enumerate(("global_max_pool", "global_avg_pool", "global_lp_pool")):
        i = 0
        for rank in (1, 2, 3):
            for layout in LAYOUTS:
                for dtype in OP_DTYPES[op]:
                    seed = 40_000 + 1000 * oi + i
                    x = to_layout(
                        random_values(seed, GLOBAL_SHAPES[rank], dtype, distinct=op in MAX_OPS),
                        layout,
                    )
                    params: dict[str, Any] = {}
                    clauses = ["POOL-GLOBAL-1", "POOL-DTYPE-2", "POOL-SHAPE-1"]
                    extra = ""
                    if op == "global_lp_pool":
                        params["p"] = [1, 2, 3][i % 3]
                        clauses += ["POOL-LP-1", "POOL-LP-2"]
                        extra = f", p {params['p']}"
                    if op == "global_max_pool":
                        clauses.append("POOL-MAX-1" if dt.is_float(dtype) else "POOL-MAX-6")
                    if op == "global_avg_pool":
                        clauses.append("POOL-AVG-1")
                    if dt.is_float(dtype):
                        clauses.append("POOL-DTYPE-3")
                    if layout == "channels_last":
                        clauses.append("POOL-LAYOUT-1")
                    params["layout"] = layout
                    cases.append(
                        case(
                            op,
                            "dtype",
                            f"dtype: {rank}D {op} {dtype} {layout}, "
                            f"input {list(GLOBAL_SHAPES[rank][2:])}{extra}",
                            clauses,
                            {"x": x},
                            params,
                            seed,
                        )
                    )
                    i += 1
    return cases


def window_indices(
    rng: np.random.Generator,
    pooled: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    out: Sequence[int],
    planes: int,
) -> np.ndarray:
    """Indices a max pool could have produced: for every pooled position, a
    random in-bounds tap of its window, pairwise distinct within each plane,
    flat row-major in the ``out`` spatial shape. Shape ``(planes, *pooled)``."""
    strides_out = [math.prod(out[i + 1 :]) for i in range(len(out))]
    result = []
    for _ in range(planes):
        used: set[int] = set()
        row = []
        for pos in np.ndindex(*pooled):
            taps = [
                [o * s - pb + j for j in range(k) if 0 <= o * s - pb + j < L]
                for o, s, k, (pb, _), L in zip(pos, stride, kernel, pads, out)
            ]
            flats = [
                sum(c * st for c, st in zip(combo, strides_out))
                for combo in itertools.product(*taps)
            ]
            free = [f for f in flats if f not in used]
            choice = int(free[rng.integers(len(free))])
            used.add(choice)
            row.append(choice)
        result.append(row)
    return np.array(result, dtype=np.int64).reshape((planes, *pooled))


# rank -> list of (pooled input shape cf, kernel, stride or None, padding, output_size or None)
UNPOOL_SETUP: dict[int, list[tuple[tuple[int, ...], list[int], Any, Any, Any]]] = {
    1: [
        ((1, 2, 3), [2], None, 0, None),
        ((1, 2, 3), [3], [2], [[1, 1]], None),
        ((1, 2, 3), [2], [2], [[0, 0]], [7]),
        ((1, 2, 3), [2], [3], [0], None),
    ],
    2: [
        ((2, 1, 2, 3), [2, 2], None, [[0, 0], [0, 0]], None),
        ((2, 1, 2, 3), [3, 2], [2, 2], [[1, 0], [0, 0]], None),
        ((2, 1, 2, 3), [2, 2], [2, 2], 0, [5, 6]),
        ((2, 1, 2, 3), [2, 2], [3, 2], [0, 0], None),
    ],
    3: [
        ((1, 2, 2, 2, 2), [2, 2, 2], None, [[0, 0]] * 3, None),
        ((1, 2, 2, 2, 2), [2, 3, 2], [2, 2, 2], [[0, 0], [1, 1], [0, 1]], None),
        ((1, 2, 2, 2, 2), [2, 2, 2], [2, 2, 2], [[0, 0], [0, 0], [0, 0]], [5, 4, 4]),
        ((1, 1, 2, 2, 2), [2, 2, 2], [3, 2, 3], 0, None),
    ],
}


def _unpool_case(
    family: str,
    comment: str,
    clauses: list[str],
    pooled_cf: np.ndarray,
    spec: tuple,
    layout: str,
    seed: int,
) -> Case:
    shape, kernel, stride, padding, output_size = spec
    rank = len(kernel)
    s = kernel if stride is None else stride
    pads = geo.resolve_padding(padding, shape[2:], kernel, s, [1] * rank)
    out = output_size or [
        geo.unpool_output_length(L, k, si, pb, pe)
        for L, k, si, (pb, pe) in zip(shape[2:], kernel, s, pads)
    ]
    rng = np.random.default_rng([seed, 2])
    idx = window_indices(rng, shape[2:], kernel, s, pads, out, shape[0] * shape[1]).reshape(shape)
    params: dict[str, Any] = {"kernel_size": kernel}
    if stride is not None:
        params["stride"] = stride
    params["padding"] = padding
    if output_size is not None:
        params["output_size"] = output_size
    params["layout"] = layout
    inputs = {"x": to_layout(pooled_cf, layout), "indices": to_layout(idx, layout)}
    return case("max_unpool", family, comment, clauses, inputs, params, seed)


def unpool_matrix() -> list[Case]:
    """Max unpooling: rank x layout x dtype, with the kernel/stride/padding/
    output_size setup rotating. Indices are random in-window positions (what
    some max pool could have selected), distinct within each plane."""
    cases = []
    i = 0
    for rank in (1, 2, 3):
        for layout in LAYOUTS:
            for dtype in ALL_DTYPES:
                spec = UNPOOL_SETUP[rank][i % 4]
                seed = 50_000 + i
                pooled = random_values(seed, spec[0], dtype)
                clauses = ["POOL-UNPOOL-1", "POOL-UNPOOL-2", "POOL-DTYPE-2", "POOL-SHAPE-1"]
                if layout == "channels_last":
                    clauses.append("POOL-LAYOUT-1")
                stride = spec[2] if spec[2] is not None else "default"
                out = f"output_size {_desc(spec[4])}" if spec[4] else "default output size"
                comment = (
                    f"geometry: {rank}D max_unpool {dtype} {layout}, "
                    f"kernel {_desc(spec[1])}, stride "
                    f"{_desc(stride)}, padding {_desc(spec[3])}, {out}"
                )
                cases.append(_unpool_case("geometry", comment, clauses, pooled, spec, layout, seed))
                i += 1
    return cases


ZERO_PAD_SETUP: dict[int, tuple[tuple[int, ...], list[Any]]] = {
    1: ((1, 2, 4), [[[1, 1]], [[0, 2]], [3], 1, [[2, 0]], [[0, 0]]]),
    2: ((2, 1, 3, 4), [[[1, 2], [0, 1]], 1, [[2, 2], [0, 0]], [2, 0], [[0, 0], [3, 1]], 0]),
    3: (
        (1, 1, 2, 3, 2),
        [[[1, 0], [0, 1], [1, 1]], [1, 0, 2], [[1, 1]] * 3, 1, [[0, 0], [0, 0], [2, 2]], 0],
    ),
}


def zero_pad_matrix() -> list[Case]:
    """Zero padding: rank x layout x dtype; padding forms rotate (pairs, int,
    per-dim ints; symmetric, asymmetric, zero)."""
    cases = []
    i = 0
    for rank in (1, 2, 3):
        shape, pads = ZERO_PAD_SETUP[rank]
        for layout in LAYOUTS:
            for dtype in ALL_DTYPES:
                padding = pads[i % len(pads)]
                seed = 60_000 + i
                x = to_layout(random_values(seed, shape, dtype, distinct=False), layout)
                clauses = ["POOL-PAD-1", "POOL-PARAM-4", "POOL-DTYPE-2", "POOL-SHAPE-1"]
                if layout == "channels_last":
                    clauses.append("POOL-LAYOUT-1")
                cases.append(
                    case(
                        "zero_pad",
                        "padding",
                        f"padding: {rank}D zero_pad {dtype} {layout}, input {list(shape[2:])}, "
                        f"padding {_desc(padding)}",
                        clauses,
                        {"x": x},
                        {"padding": padding, "layout": layout},
                        seed,
                    )
                )
                i += 1
    return cases


# rank -> x shape, weight kernel; C_in = 2 always, so groups 1 or 2 both divide.
CONV_SETUP: dict[int, tuple[tuple[int, ...], list[int]]] = {
    1: ((2, 2, 7), [3]),
    2: ((1, 2, 5, 5), [3, 2]),
    3: ((1, 2, 3, 4, 4), [2, 2, 2]),
}
CONV_PADDINGS: dict[int, list[Any]] = {
    1: [[[1, 1]], "same_upper", "same_lower", 1, "valid", [[0, 2]], [2], 0],
    2: [[[1, 1], [0, 1]], "same_upper", "same_lower", 1, "valid", [[2, 0], [1, 1]], [1, 0], 0],
    3: [
        [[0, 1], [1, 1], [1, 0]],
        "same_upper",
        "same_lower",
        1,
        "valid",
        [[1, 1], [0, 0], [1, 0]],
        [0, 1, 1],
        0,
    ],
}


def conv_matrix() -> list[Case]:
    """Convolution: rank x layout x float dtype; groups, bias, stride, dilation
    and the padding form rotate."""
    cases = []
    i = 0
    for rank in (1, 2, 3):
        shape, kernel = CONV_SETUP[rank]
        for layout in LAYOUTS:
            for dtype in FLOATS:
                groups = [1, 2][i % 2]
                c_out = [2, 4, 4][i % 3]
                bias = (i // 2) % 2 == 0
                stride = [1, 2, 1, [1] * (rank - 1) + [2]][i % 4]
                dilation = [1, 1, 2][(i // 2) % 3]
                padding = CONV_PADDINGS[rank][i % 8]
                seed = 70_000 + i
                rng_shapes = np.random.default_rng(seed)
                x = rng_shapes.standard_normal(shape).astype(dt.numpy_dtype(dtype))
                w = rng_shapes.standard_normal((c_out, 2 // groups, *kernel)).astype(
                    dt.numpy_dtype(dtype)
                )
                inputs = {"x": to_layout(x, layout), "weight": w}
                if bias:
                    inputs["bias"] = rng_shapes.standard_normal(c_out).astype(dt.numpy_dtype(dtype))
                params = {
                    "stride": stride,
                    "padding": padding,
                    "dilation": dilation,
                    "groups": groups,
                    "layout": layout,
                }
                clauses = [
                    "POOL-CONV-1",
                    "POOL-CONV-3",
                    "POOL-PARAM-4",
                    "POOL-GEOM-8",
                    "POOL-DTYPE-2",
                    "POOL-DTYPE-3",
                    "POOL-GRAD-5",
                ]
                if groups > 1:
                    clauses.append("POOL-CONV-2")
                if bias:
                    clauses.append("POOL-CONV-4")
                if padding in ("same_upper", "same_lower"):
                    clauses.append("POOL-GEOM-5")
                if padding == "valid":
                    clauses.append("POOL-GEOM-6")
                if dilation != 1:
                    clauses.append("POOL-GEOM-1")
                if layout == "channels_last":
                    clauses.append("POOL-LAYOUT-1")
                comment = (
                    f"geometry: {rank}D conv {dtype} {layout}, x {list(shape)}, weight "
                    f"{list(w.shape)}, {'bias' if bias else 'no bias'}, groups {groups}, stride "
                    f"{_desc(stride)}, padding {_desc(padding)}, dilation {dilation}"
                )
                cases.append(case("conv", "geometry", comment, clauses, inputs, params, seed))
                i += 1
    return cases


# ---------------------------------------------------------------------------
# geometry edges where libraries disagree
# ---------------------------------------------------------------------------


def _x1(values: Sequence[Any], dtype: str = "float32") -> np.ndarray:
    """A (1, 1, L) input from literal values."""
    return literal([[list(values)]], dtype)


def edge_cases() -> list[Case]:
    """Geometry edges, one behaviour each."""
    E = "edge"
    x5 = random_values(101, (1, 1, 5), "float32")
    x6 = random_values(102, (1, 1, 6), "float32")
    cases = [
        # ---- ceil mode: the last window must start inside the input or the begin padding
        case(
            "max_pool",
            E,
            "ceil mode: L=5, k=2, s=2, pad (1,1): ceil((5+2-2)/2)+1 = 4, but the 4th "
            "window would start at 6 = L+pb, entirely in the end padding, and is dropped: 3",
            ["POOL-GEOM-3", "POOL-GEOM-4", "POOL-MAX-1"],
            {"x": x5},
            {"kernel_size": [2], "stride": [2], "padding": [[1, 1]], "ceil_mode": True},
            101,
        ),
        case(
            "avg_pool",
            E,
            "ceil mode 2D: 5x5, k=2, s=2, pad 1 gives 3x3, not 4x4: the window starting "
            "in the end padding is dropped in both dims (count_include_pad)",
            ["POOL-GEOM-3", "POOL-GEOM-4", "POOL-AVG-3"],
            {"x": random_values(103, (1, 1, 5, 5), "float64")},
            {"kernel_size": [2, 2], "stride": [2, 2], "padding": 1, "ceil_mode": True},
            103,
        ),
        case(
            "max_pool_with_indices",
            E,
            "ceil mode with indices: L=5, k=2, s=2, pad (1,1); the dropped 4th "
            "window would have no in-bounds element (it would report index -1)",
            ["POOL-GEOM-3", "POOL-GEOM-4", "POOL-IDX-1"],
            {"x": random_values(104, (1, 2, 5), "float32")},
            {"kernel_size": [2], "stride": [2], "padding": [[1, 1]], "ceil_mode": True},
            104,
        ),
        case(
            "avg_pool",
            E,
            "ceil-mode overhang, count_include_pad: L=6, k=3, s=2, pad (1,1); the last "
            "window covers x[5], one end-pad tap and one overhang tap: divisor 2, not 3",
            ["POOL-GEOM-3", "POOL-AVG-3"],
            {"x": x6},
            {
                "kernel_size": [3],
                "stride": [2],
                "padding": [[1, 1]],
                "ceil_mode": True,
                "count_include_pad": True,
            },
            105,
        ),
        case(
            "avg_pool",
            E,
            "ceil-mode overhang without padding, count_include_pad: L=5, k=2, s=2; the "
            "last window holds x[4] and an overhang tap: divisor 1",
            ["POOL-GEOM-3", "POOL-AVG-3"],
            {"x": x5},
            {"kernel_size": [2], "stride": [2], "padding": 0, "ceil_mode": True},
            106,
        ),
        case(
            "avg_pool",
            E,
            "ceil-mode overhang, count_include_pad False: L=6, k=3, s=2, pad (1,1); "
            "divisor counts in-bounds taps only",
            ["POOL-GEOM-3", "POOL-AVG-4"],
            {"x": x6},
            {
                "kernel_size": [3],
                "stride": [2],
                "padding": [[1, 1]],
                "ceil_mode": True,
                "count_include_pad": False,
            },
            107,
        ),
        case(
            "avg_pool",
            E,
            "ceil-mode overhang 2D with asymmetric padding (0,1),(1,0), k=2x3, s=2, "
            "count_include_pad: overhang taps never count",
            ["POOL-GEOM-3", "POOL-AVG-3", "POOL-PARAM-4"],
            {"x": random_values(108, (1, 1, 4, 5), "float32")},
            {
                "kernel_size": [2, 3],
                "stride": [2, 2],
                "padding": [[0, 1], [1, 0]],
                "ceil_mode": True,
            },
            108,
        ),
        case(
            "avg_pool",
            E,
            "ceil-mode overhang with divisor_override 3: the override wins over the clipped window",
            ["POOL-GEOM-3", "POOL-AVG-2"],
            {"x": x5},
            {"kernel_size": [2], "stride": [2], "ceil_mode": True, "divisor_override": 3},
            109,
        ),
        case(
            "lp_pool",
            E,
            "ceil-mode overhang in Lp: L=5, k=2, s=2, p=2; the overhang adds nothing",
            ["POOL-GEOM-3", "POOL-LP-1"],
            {"x": x5},
            {"kernel_size": [2], "stride": [2], "ceil_mode": True, "p": 2},
            110,
        ),
        # ---- kernel equal to / larger than the input
        case(
            "max_pool",
            E,
            "kernel equal to the input (4x5): one window over everything",
            ["POOL-GEOM-2", "POOL-MAX-1"],
            {"x": random_values(111, (1, 2, 4, 5), "float32")},
            {"kernel_size": [4, 5]},
            111,
        ),
        case(
            "avg_pool",
            E,
            "kernel equal to the input (4x5), no padding",
            ["POOL-GEOM-2", "POOL-AVG-1"],
            {"x": random_values(112, (1, 2, 4, 5), "float32")},
            {"kernel_size": [4, 5]},
            112,
        ),
        case(
            "lp_pool",
            E,
            "kernel equal to the input (4x5), p=2",
            ["POOL-GEOM-2", "POOL-LP-1"],
            {"x": random_values(113, (1, 2, 4, 5), "float32")},
            {"kernel_size": [4, 5], "p": 2},
            113,
        ),
        case(
            "max_pool_with_indices",
            E,
            "kernel equal to the 3D input (2x3x3), channels_last",
            ["POOL-GEOM-2", "POOL-IDX-1", "POOL-LAYOUT-1"],
            {"x": to_layout(random_values(114, (1, 2, 2, 3, 3), "float32"), "channels_last")},
            {"kernel_size": [2, 3, 3], "layout": "channels_last"},
            114,
        ),
        case(
            "max_pool",
            E,
            "kernel 4 larger than the input L=3 with ceil mode, s=2: one window "
            "(floor mode would give 0 windows and is invalid)",
            ["POOL-GEOM-3", "POOL-GEOM-4", "POOL-MAX-1"],
            {"x": _x1([0.5, -1.25, 2.0])},
            {"kernel_size": [4], "stride": [2], "ceil_mode": True},
            115,
        ),
        case(
            "avg_pool",
            E,
            "kernel 5 larger than the input L=3, pad (1,0), s=2, ceil mode, "
            "count_include_pad: divisor 4 (begin pad + 3 inputs; the overhang does not count)",
            ["POOL-GEOM-3", "POOL-AVG-3"],
            {"x": _x1([0.5, -1.25, 2.0])},
            {"kernel_size": [5], "stride": [2], "padding": [[1, 0]], "ceil_mode": True},
            116,
        ),
        case(
            "avg_pool",
            E,
            "kernel 5 larger than the input L=3, pad (1,0), s=2, ceil mode, "
            "count_include_pad False: divisor 3",
            ["POOL-GEOM-3", "POOL-AVG-4"],
            {"x": _x1([0.5, -1.25, 2.0])},
            {
                "kernel_size": [5],
                "stride": [2],
                "padding": [[1, 0]],
                "ceil_mode": True,
                "count_include_pad": False,
            },
            117,
        ),
        # ---- windows entirely in padding (padding >= eff) [EmptyWindow]
        case(
            "max_pool",
            E,
            "windows entirely in padding: L=3, k=2, s=1, pad (2,2); the first and last "
            "windows have no input element (reference: -inf)",
            ["POOL-EMPTY-1", "POOL-MAX-1"],
            {"x": _x1([1.5, -2.0, 0.25])},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]]},
            118,
        ),
        case(
            "max_pool_with_indices",
            E,
            "windows entirely in padding with indices: L=3, k=2, s=1, pad "
            "(2,2) (reference: -inf, index -1)",
            ["POOL-EMPTY-1", "POOL-IDX-1"],
            {"x": _x1([1.5, -2.0, 0.25])},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]]},
            119,
        ),
        case(
            "max_pool",
            E,
            "int8 windows entirely in padding: L=3, k=2, s=1, pad (2,2) (reference: "
            "the dtype minimum -128)",
            ["POOL-EMPTY-1", "POOL-MAX-6"],
            {"x": _x1([5, -7, 100], "int8")},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]]},
            120,
        ),
        case(
            "avg_pool",
            E,
            "windows entirely in padding, count_include_pad: L=3, k=2, s=1, pad (2,2) "
            "(reference: 0 = zero sum over divisor 2)",
            ["POOL-EMPTY-1", "POOL-AVG-3"],
            {"x": _x1([1.5, -2.0, 0.25])},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]], "count_include_pad": True},
            121,
        ),
        case(
            "avg_pool",
            E,
            "windows entirely in padding, count_include_pad False: L=3, k=2, s=1, pad "
            "(2,2) (reference: NaN, divisor 0)",
            ["POOL-EMPTY-1", "POOL-AVG-4"],
            {"x": _x1([1.5, -2.0, 0.25])},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]], "count_include_pad": False},
            122,
        ),
        case(
            "lp_pool",
            E,
            "windows entirely in padding in Lp: L=3, k=2, s=1, pad (2,2), p=2 (reference: 0)",
            ["POOL-EMPTY-1", "POOL-LP-1", "POOL-GRAD-8"],
            {"x": _x1([1.5, -2.0, 0.25])},
            {"kernel_size": [2], "stride": [1], "padding": [[2, 2]], "p": 2},
            123,
        ),
        case(
            "max_pool",
            E,
            "2D windows entirely in padding with dilation: k=2, d=2 (eff 3), pad 3 on "
            "one side of each dim",
            ["POOL-EMPTY-1", "POOL-GEOM-1", "POOL-GEOM-8"],
            {"x": random_values(124, (1, 1, 3, 3), "float32")},
            {
                "kernel_size": [2, 2],
                "stride": [1, 1],
                "padding": [[3, 0], [0, 3]],
                "dilation": [2, 2],
            },
            124,
        ),
        # ---- dilation, gaps, one-sided padding
        case(
            "avg_pool",
            E,
            "dilation 2 with count_include_pad: L=6, k=3, pad (2,2); only the dilated "
            "taps inside the padded extent count, not the holes",
            ["POOL-AVG-5", "POOL-AVG-3", "POOL-GEOM-1", "POOL-GEOM-8"],
            {"x": x6},
            {
                "kernel_size": [3],
                "stride": [1],
                "padding": [[2, 2]],
                "dilation": [2],
                "count_include_pad": True,
            },
            125,
        ),
        case(
            "avg_pool",
            E,
            "dilation 2 without count_include_pad: L=6, k=3, pad (2,2); divisor = "
            "in-bounds dilated taps",
            ["POOL-AVG-5", "POOL-AVG-4", "POOL-GEOM-1"],
            {"x": x6},
            {
                "kernel_size": [3],
                "stride": [1],
                "padding": [[2, 2]],
                "dilation": [2],
                "count_include_pad": False,
            },
            126,
        ),
        case(
            "avg_pool",
            E,
            "2D dilation (2,1) with count_include_pad and padding 1, 5x5",
            ["POOL-AVG-5", "POOL-AVG-3", "POOL-GEOM-1"],
            {"x": random_values(127, (1, 1, 5, 5), "float32")},
            {"kernel_size": [2, 2], "stride": [1, 2], "padding": [1, 1], "dilation": [2, 1]},
            127,
        ),
        case(
            "max_pool",
            E,
            "stride 3 > kernel 2: elements between windows are never read",
            ["POOL-GEOM-2", "POOL-GEOM-8"],
            {"x": random_values(128, (1, 1, 8), "float32")},
            {"kernel_size": [2], "stride": [3]},
            128,
        ),
        case(
            "avg_pool",
            E,
            "2D stride (3,2) > kernel (2,1): gaps in both dims",
            ["POOL-GEOM-2", "POOL-AVG-1"],
            {"x": random_values(129, (1, 1, 7, 5), "float32")},
            {"kernel_size": [2, 1], "stride": [3, 2]},
            129,
        ),
        case(
            "max_pool",
            E,
            "padding on one side only: pad (0,2), k=3, s=1, L=5",
            ["POOL-PARAM-4", "POOL-MAX-1"],
            {"x": x5},
            {"kernel_size": [3], "stride": [1], "padding": [[0, 2]]},
            130,
        ),
        case(
            "avg_pool",
            E,
            "padding on the begin side only, count_include_pad: pad (2,0), k=3, L=5",
            ["POOL-PARAM-4", "POOL-AVG-3"],
            {"x": x5},
            {"kernel_size": [3], "stride": [1], "padding": [[2, 0]]},
            131,
        ),
        case(
            "lp_pool",
            E,
            "2D padding on one side per dim: (0,1),(1,0), k=2, p=3",
            ["POOL-PARAM-4", "POOL-LP-1"],
            {"x": random_values(132, (1, 1, 4, 4), "float32")},
            {"kernel_size": [2, 2], "stride": [1, 1], "padding": [[0, 1], [1, 0]], "p": 3},
            132,
        ),
        case(
            "max_pool",
            E,
            "padding written mixed per dim: [1, [0, 2]] (int for dim 0, pair for dim 1)",
            ["POOL-PARAM-4", "POOL-PARAM-5"],
            {"x": random_values(133, (1, 1, 4, 4), "float32")},
            {"kernel_size": [3, 3], "stride": [1, 2], "padding": [1, [0, 2]]},
            133,
        ),
        case(
            "max_pool",
            E,
            "kernel_size, stride and dilation written as plain ints in 2D",
            ["POOL-PARAM-1", "POOL-PARAM-2", "POOL-PARAM-3", "POOL-PARAM-5"],
            {"x": random_values(134, (1, 1, 6, 6), "float32")},
            {"kernel_size": 2, "stride": 2, "dilation": 2, "padding": 1},
            134,
        ),
        case(
            "avg_pool",
            E,
            "same_lower with even kernel: the odd padding element goes to the start",
            ["POOL-GEOM-5", "POOL-AVG-3"],
            {"x": x5},
            {"kernel_size": [2], "stride": [1], "padding": "same_lower"},
            135,
        ),
        case(
            "avg_pool",
            E,
            "same_upper with even kernel: the odd padding element goes to the end",
            ["POOL-GEOM-5", "POOL-AVG-3"],
            {"x": x5},
            {"kernel_size": [2], "stride": [1], "padding": "same_upper"},
            136,
        ),
        case(
            "max_pool",
            E,
            "same_upper with stride 2 and ceil mode on L=6, k=3",
            ["POOL-GEOM-5", "POOL-GEOM-3"],
            {"x": x6},
            {"kernel_size": [3], "stride": [2], "padding": "same_upper", "ceil_mode": True},
            137,
        ),
        case(
            "avg_pool",
            E,
            "divisor_override 7 larger than the window (k=2x2)",
            ["POOL-AVG-2"],
            {"x": random_values(138, (1, 1, 4, 4), "float32")},
            {"kernel_size": [2, 2], "divisor_override": 7},
            138,
        ),
        case(
            "max_pool_with_indices",
            E,
            "indices are flat per (N, C) plane: N=2, C=2, channels_last "
            "(the index is row-major over the spatial dims, whatever the layout)",
            ["POOL-IDX-1", "POOL-IDX-4", "POOL-LAYOUT-1"],
            {"x": to_layout(random_values(139, (2, 2, 4, 4), "float32"), "channels_last")},
            {"kernel_size": [2, 2], "stride": [2, 2], "layout": "channels_last"},
            139,
        ),
        # ---- Lp specifics
        case(
            "lp_pool",
            E,
            "Lp with p=1 over negative values: |x| is summed (no cancellation)",
            ["POOL-LP-1"],
            {"x": _x1([-1.5, -2.0, 0.75, -0.5, 3.0])},
            {"kernel_size": [2], "stride": [1], "p": 1},
            140,
        ),
        case(
            "lp_pool",
            E,
            "Lp with p=3 over negative values: |x|**3, not x**3",
            ["POOL-LP-1"],
            {"x": _x1([-1.5, -2.0, 0.75, -0.5, 3.0])},
            {"kernel_size": [2], "stride": [1], "p": 3},
            141,
        ),
        case(
            "lp_pool",
            E,
            "Lp with a window of zeros: forward 0; the gradient at a zero norm is "
            "implementation-defined",
            ["POOL-LP-1", "POOL-GRAD-8"],
            {"x": _x1([0.0, 0.0, 1.0, -2.0])},
            {"kernel_size": [2], "stride": [2]},
            142,
        ),
        case(
            "lp_pool",
            E,
            "Lp p=2 with a 3-4-5 window: exactly 5",
            ["POOL-LP-1", "POOL-DTYPE-3"],
            {"x": _x1([3.0, -4.0, 0.0, 12.0, 5.0, 0.0])},
            {"kernel_size": [3], "stride": [3], "p": 2},
            143,
        ),
        # ---- adaptive windows
        case(
            "adaptive_avg_pool",
            E,
            "adaptive L=5 -> O=3: windows [0,2), [1,4), [3,5) overlap unevenly",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": x5},
            {"output_size": [3]},
            144,
        ),
        case(
            "adaptive_max_pool",
            E,
            "adaptive L=7 -> O=4: windows [0,2), [1,4), [3,6), [5,7)",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": random_values(145, (1, 2, 7), "float32")},
            {"output_size": [4]},
            145,
        ),
        case(
            "adaptive_avg_pool",
            E,
            "adaptive O > L: L=3 -> O=5, every window non-empty, elements repeat",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": _x1([1.0, -2.0, 0.5])},
            {"output_size": [5]},
            146,
        ),
        case(
            "adaptive_max_pool",
            E,
            "adaptive O > L: L=3 -> O=5",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": _x1([1.0, -2.0, 0.5])},
            {"output_size": [5]},
            147,
        ),
        case(
            "adaptive_max_pool",
            E,
            "adaptive 2D (5,7) -> (3,4), uneven overlaps in both dims",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": random_values(148, (1, 1, 5, 7), "float64")},
            {"output_size": [3, 4]},
            148,
        ),
        case(
            "adaptive_avg_pool",
            E,
            "adaptive 3D (3,4,2) -> (2,3,3): shrink, shrink and grow",
            ["POOL-ADAPT-1", "POOL-GRAD-6"],
            {"x": random_values(149, (1, 1, 3, 4, 2), "float32")},
            {"output_size": [2, 3, 3]},
            149,
        ),
        case(
            "adaptive_avg_pool",
            E,
            "adaptive output_size 1 equals global average",
            ["POOL-ADAPT-1", "POOL-GLOBAL-1"],
            {"x": random_values(150, (2, 1, 4, 3), "float32")},
            {"output_size": 1},
            150,
        ),
        # ---- convolution
        case(
            "conv",
            E,
            "depthwise conv: groups = C_in = C_out = 4, 2D, padding 1",
            ["POOL-CONV-1", "POOL-CONV-2", "POOL-GRAD-5"],
            {
                "x": random_values(151, (1, 4, 4, 4), "float32", distinct=False),
                "weight": random_values(1151, (4, 1, 3, 3), "float32", distinct=False),
            },
            {"padding": 1, "groups": 4},
            151,
        ),
        case(
            "conv",
            E,
            "conv 1x1 kernel, C_in 3 -> C_out 2, with bias, channels_last",
            ["POOL-CONV-1", "POOL-CONV-4", "POOL-LAYOUT-1", "POOL-GRAD-5"],
            {
                "x": to_layout(
                    random_values(152, (2, 3, 3, 3), "float64", distinct=False), "channels_last"
                ),
                "weight": random_values(1152, (2, 3, 1, 1), "float64", distinct=False),
                "bias": random_values(2152, (2,), "float64", distinct=False),
            },
            {"layout": "channels_last"},
            152,
        ),
        case(
            "conv",
            E,
            "conv dilation 2 with same_lower and an even kernel (odd padding at the start)",
            ["POOL-CONV-1", "POOL-GEOM-5", "POOL-GEOM-1", "POOL-GRAD-5"],
            {
                "x": random_values(153, (1, 1, 6), "float32", distinct=False),
                "weight": random_values(1153, (1, 1, 2), "float32", distinct=False),
            },
            {"padding": "same_lower", "dilation": 2},
            153,
        ),
        case(
            "conv",
            E,
            "conv stride 2 with same_upper where the total padding is odd",
            ["POOL-CONV-1", "POOL-GEOM-5", "POOL-GRAD-5"],
            {
                "x": random_values(154, (1, 2, 6, 5), "float32", distinct=False),
                "weight": random_values(1154, (2, 2, 2, 3), "float32", distinct=False),
            },
            {"stride": 2, "padding": "same_upper"},
            154,
        ),
        case(
            "conv",
            E,
            "conv kernel equal to the input: one output per channel",
            ["POOL-CONV-1", "POOL-GRAD-5"],
            {
                "x": random_values(155, (2, 2, 3, 3), "float32", distinct=False),
                "weight": random_values(1155, (3, 2, 3, 3), "float32", distinct=False),
                "bias": random_values(2155, (3,), "float32", distinct=False),
            },
            {},
            155,
        ),
        # ---- zero padding
        case(
            "zero_pad",
            E,
            "zero_pad with padding larger than the input (L=2, pad (3,4))",
            ["POOL-PAD-1"],
            {"x": _x1([1.0, -1.0])},
            {"padding": [[3, 4]]},
            156,
        ),
        case(
            "zero_pad",
            E,
            "zero_pad with padding 0 is the identity (int16)",
            ["POOL-PAD-1"],
            {"x": random_values(157, (1, 2, 2, 3), "int16")},
            {"padding": 0},
            157,
        ),
        case(
            "zero_pad",
            E,
            "zero_pad keeps -0.0, NaN and infinities of the input",
            ["POOL-PAD-1", "POOL-MAX-3"],
            {"x": _x1([-0.0, math.nan, math.inf, -math.inf])},
            {"padding": [[1, 1]]},
            158,
        ),
    ]
    cases += unpool_edges()
    return cases


def unpool_edges() -> list[Case]:
    """Unpooling round trips (indices from the reference max_pool_with_indices of
    the same input), gaps, and a repeated index."""

    E = "edge"
    cases = []
    trips: list[tuple[str, tuple[int, ...], dict[str, Any], dict[str, Any], int]] = [
        (
            (
                "unpool round trip 2D: values and indices from max_pool_with_indices(k=2) "
                "of a 4x4 input, default output size 4x4"
            ),
            (1, 2, 4, 4),
            {"kernel_size": [2, 2]},
            {},
            201,
        ),
        (
            (
                "unpool round trip 1D with output_size: L=5, k=2 pools to 2; the default "
                "size would be 4, output_size [5] restores the input length"
            ),
            (1, 1, 5),
            {"kernel_size": [2]},
            {"output_size": [5]},
            202,
        ),
        (
            (
                "unpool round trip 1D with padding: L=5, k=3, s=2, pad (1,1) pools to 3; "
                "default size (3-1)*2-2+3 = 5"
            ),
            (1, 2, 5),
            {"kernel_size": [3], "stride": [2], "padding": [[1, 1]]},
            {},
            203,
        ),
        (
            (
                "unpool round trip 2D with odd input 5x5, k=2, output_size [5, 5] (last "
                "row and column never written)"
            ),
            (1, 1, 5, 5),
            {"kernel_size": [2, 2]},
            {"output_size": [5, 5]},
            204,
        ),
    ]
    for comment, shape, pool_params, extra, seed in trips:
        x = random_values(seed, shape, "float32")
        values, indices = max_pool_with_indices(x, **pool_params)
        cases.append(
            case(
                "max_unpool",
                E,
                comment,
                ["POOL-UNPOOL-1", "POOL-UNPOOL-2", "POOL-IDX-1"],
                {"x": values, "indices": indices},
                {**pool_params, **extra},
                seed,
            )
        )
    cases += [
        case(
            "max_unpool",
            E,
            "unpool with stride 3 > kernel 2: gaps between windows stay zero "
            "(default size (3-1)*3+2 = 8)",
            ["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            {"x": _x1([1.5, -2.0, 0.25]), "indices": literal([[[1, 3, 7]]], "int64")},
            {"kernel_size": [2], "stride": [3]},
            205,
        ),
        case(
            "max_unpool",
            E,
            "unpool with a zero-size gap: stride = kernel = 2, windows adjacent, "
            "every output position belongs to exactly one window",
            ["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            {"x": _x1([1.5, -2.0, 0.25]), "indices": literal([[[1, 2, 5]]], "int64")},
            {"kernel_size": [2], "stride": [2]},
            206,
        ),
        case(
            "max_unpool",
            E,
            "unpool output_size beyond the default (6 -> 7): the trailing "
            "position is a zero strip no window reaches",
            ["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            {"x": _x1([1.5, -2.0, 0.25]), "indices": literal([[[0, 3, 4]]], "int64")},
            {"kernel_size": [2], "stride": [2], "output_size": [7]},
            207,
        ),
        case(
            "max_unpool",
            E,
            "unpool with a repeated index (overlapping windows, k=3, s=1): the last write wins",
            ["POOL-UNPOOL-4", "POOL-UNPOOL-2"],
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[2, 2, 4]]], "int64")},
            {"kernel_size": [3], "stride": [1]},
            208,
        ),
        case(
            "max_unpool",
            E,
            "unpool of int8 extremes: -128 and 127 scatter exactly",
            ["POOL-UNPOOL-2", "POOL-MAX-6"],
            {"x": _x1([-128, 127, 0], "int8"), "indices": literal([[[0, 3, 5]]], "int64")},
            {"kernel_size": [2], "stride": [2]},
            209,
        ),
    ]
    return cases


# ---------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------

NAN, INF = math.nan, math.inf


def special_cases() -> list[Case]:
    """Special values, ties, overflow and accumulation precision, one behaviour each."""
    S = "special"
    k2s1 = {"kernel_size": [2], "stride": [1]}
    k3s1 = {"kernel_size": [3], "stride": [1]}
    cases = [
        # ---- NaN
        case(
            "max_pool",
            S,
            "one NaN propagates to every window containing it (k=3, s=1)",
            ["POOL-MAX-2"],
            {"x": _x1([1.0, 2.0, NAN, -1.0, 0.5, 3.0])},
            k3s1,
            301,
        ),
        case(
            "max_pool",
            S,
            "several NaNs in one window: the output is NaN; the gradient goes to the first NaN",
            ["POOL-MAX-2", "POOL-MAX-7", "POOL-GRAD-2"],
            {"x": _x1([NAN, 5.0, NAN, -1.0, 0.5, 3.0])},
            {"kernel_size": [3], "stride": [3]},
            302,
        ),
        case(
            "max_pool_with_indices",
            S,
            "one NaN: its index is selected over larger numbers",
            ["POOL-MAX-2", "POOL-IDX-1"],
            {"x": _x1([1.0, 9.0, NAN, -1.0, 0.5, 3.0])},
            k3s1,
            303,
        ),
        case(
            "max_pool_with_indices",
            S,
            "two NaNs in one window: the first is selected (index of "
            "several NaNs is implementation-defined)",
            ["POOL-MAX-2", "POOL-MAX-7", "POOL-IDX-1"],
            {"x": _x1([0.0, NAN, 2.0, NAN, -1.0, 4.0])},
            {"kernel_size": [4], "stride": [2]},
            304,
        ),
        case(
            "max_pool",
            S,
            "2D NaN among negative values, padding 1 (padding is excluded, not -inf)",
            ["POOL-MAX-2", "POOL-MAX-1"],
            {
                "x": literal(
                    [[[[-3.0, -2.0, -1.5], [-4.0, NAN, -0.5], [-1.0, -2.5, -6.0]]]], "float32"
                )
            },
            {"kernel_size": [2, 2], "stride": [1, 1], "padding": 1},
            305,
        ),
        case(
            "avg_pool",
            S,
            "a NaN makes every average containing it NaN",
            ["POOL-AVG-6"],
            {"x": _x1([1.0, 2.0, NAN, -1.0, 0.5, 3.0])},
            k3s1,
            306,
        ),
        case(
            "lp_pool",
            S,
            "a NaN makes every Lp window containing it NaN (forward only: the "
            "gradient at non-finite values is implementation-defined)",
            ["POOL-LP-1", "POOL-AVG-6"],
            {"x": _x1([1.0, 2.0, NAN, -1.0, 0.5, 3.0])},
            {**k3s1, "p": 2},
            307,
            grad=False,
        ),
        case(
            "adaptive_max_pool",
            S,
            "adaptive max with a NaN in overlapping windows",
            ["POOL-MAX-2", "POOL-ADAPT-1"],
            {"x": _x1([1.0, 2.0, NAN, -1.0, 0.5])},
            {"output_size": [3]},
            308,
        ),
        case(
            "global_max_pool",
            S,
            "global max with a NaN",
            ["POOL-MAX-2", "POOL-GLOBAL-1"],
            {"x": literal([[[1.0, NAN, 3.0]], [[1.0, 2.0, 3.0]]], "float64")},
            {},
            309,
        ),
        case(
            "global_avg_pool",
            S,
            "global average of +inf and -inf is NaN",
            ["POOL-AVG-6", "POOL-GLOBAL-1"],
            {"x": literal([[[1.0, INF, -INF]], [[1.0, INF, 3.0]]], "float32")},
            {},
            310,
        ),
        # ---- infinities
        case(
            "max_pool",
            S,
            "+inf and -inf are ordinary values; a window of -inf and finite values "
            "picks the finite one",
            ["POOL-MAX-3"],
            {"x": _x1([-INF, 1.0, -INF, INF, -2.0, -INF])},
            k2s1,
            311,
        ),
        case(
            "max_pool_with_indices",
            S,
            "indices with +inf and -inf (no ties)",
            ["POOL-MAX-3", "POOL-IDX-1"],
            {"x": _x1([-INF, 1.0, 7.0, INF, -2.0, -3.0])},
            k2s1,
            312,
        ),
        case(
            "max_pool",
            S,
            "a window of only -inf gives -inf (forward only: which -inf is selected is a tie)",
            ["POOL-MAX-3"],
            {"x": _x1([-INF, -INF, 2.0, -1.0])},
            {"kernel_size": [2]},
            313,
            grad=False,
        ),
        case(
            "avg_pool",
            S,
            "average with +inf is +inf; a window with both +inf and -inf is NaN (k=3)",
            ["POOL-AVG-6"],
            {"x": _x1([1.0, INF, 2.0, -INF, 3.0, 4.0, 5.0])},
            k3s1,
            314,
        ),
        case(
            "lp_pool",
            S,
            "Lp of -inf is +inf (|x|; forward only)",
            ["POOL-LP-1", "POOL-AVG-6"],
            {"x": _x1([1.0, -INF, 2.0, 3.0])},
            {**k2s1, "p": 3},
            315,
            grad=False,
        ),
        case(
            "lp_pool",
            S,
            "Lp gradient with an infinite input: implementation-defined",
            ["POOL-GRAD-8", "POOL-GRAD-4"],
            {"x": _x1([1.0, -INF, 2.0, 3.0])},
            {**k2s1, "p": 2},
            325,
        ),
        # ---- signed zero
        case(
            "max_pool",
            S,
            "-0.0 and +0.0 tie: the first in window order is selected, so the "
            "output sign follows it",
            ["POOL-MAX-5", "POOL-MAX-4"],
            {"x": _x1([-0.0, 0.0, -0.0, -1.0])},
            k2s1,
            316,
        ),
        case(
            "max_pool_with_indices",
            S,
            "-0.0 and +0.0 tie: the index of the first is selected",
            ["POOL-MAX-5", "POOL-MAX-4", "POOL-IDX-1"],
            {"x": _x1([0.0, -0.0, -2.0, -0.0])},
            k2s1,
            317,
        ),
        case(
            "max_pool",
            S,
            "a window of -0.0 and negatives gives -0.0 (an implementation starting "
            "from +0.0 gets the sign wrong)",
            ["POOL-MAX-5", "POOL-MAX-1"],
            {"x": _x1([-0.0, -1.0, -3.0, -0.0])},
            {"kernel_size": [2]},
            318,
        ),
        # ---- ties
        case(
            "max_pool",
            S,
            "ties: a window with two equal maxima; forward value plus the gradient "
            "to the first maximum",
            ["POOL-MAX-4", "POOL-GRAD-2"],
            {"x": _x1([3.0, 3.0, 1.0, 2.0, 2.0, 0.0])},
            k3s1,
            319,
        ),
        case(
            "max_pool_with_indices",
            S,
            "ties: the index of the first maximum in window order",
            ["POOL-MAX-4", "POOL-IDX-1"],
            {"x": _x1([3.0, 3.0, 1.0, 2.0, 2.0, 0.0])},
            k3s1,
            320,
        ),
        case(
            "max_pool",
            S,
            "ties in 2D, tie policy 'all': every tied maximum receives the full "
            "upstream value (the tutorial's mask)",
            ["POOL-MAX-4", "POOL-GRAD-2", "POOL-GRAD-3"],
            {"x": literal([[[[1.0, 4.0, 4.0], [4.0, 2.0, 0.0], [3.0, 4.0, 1.0]]]], "float32")},
            {"kernel_size": [2, 2], "stride": [1, 1]},
            321,
            grad_params={"tie_policy": "all"},
        ),
        case(
            "max_pool",
            S,
            "ties in 2D, tie policy 'first', same input as the 'all' case",
            ["POOL-MAX-4", "POOL-GRAD-2", "POOL-GRAD-3"],
            {"x": literal([[[[1.0, 4.0, 4.0], [4.0, 2.0, 0.0], [3.0, 4.0, 1.0]]]], "float32")},
            {"kernel_size": [2, 2], "stride": [1, 1]},
            322,
            grad_params={"tie_policy": "first"},
        ),
        case(
            "adaptive_max_pool",
            S,
            "ties in adaptive max, tie policy 'all'",
            ["POOL-MAX-4", "POOL-GRAD-6", "POOL-GRAD-2"],
            {"x": _x1([2.0, 2.0, 1.0, 2.0, 0.0])},
            {"output_size": [2]},
            323,
            grad_params={"tie_policy": "all"},
        ),
        case(
            "global_max_pool",
            S,
            "ties in global max (forward value only)",
            ["POOL-MAX-4", "POOL-GLOBAL-1"],
            {"x": _x1([5.0, 1.0, 5.0])},
            {},
            324,
        ),
    ]
    cases += _subnormal_cases()
    cases += _large_value_cases()
    cases += _accumulation_cases()
    cases += _int_extreme_cases()
    return cases


def _subnormal_cases() -> list[Case]:
    cases = []
    for j, dtype in enumerate(("float16", "bfloat16", "float32")):
        s = min_subnormal(dtype)
        seed = 400 + 10 * j
        cases += [
            case(
                "max_pool",
                "special",
                f"{dtype} subnormals: max over tiny values of both signs",
                ["POOL-MAX-1", "POOL-DTYPE-3"],
                {"x": _x1([s, -s, 2 * s, 0.0, -3 * s, 5 * s], dtype)},
                {"kernel_size": [2], "stride": [1]},
                seed,
            ),
            case(
                "avg_pool",
                "special",
                f"{dtype} subnormals: averages round at the subnormal "
                "quantum (s/2 -> 0, 3s/2 -> 2s, 5s/2 -> 2s, ties to even)",
                ["POOL-AVG-1", "POOL-DTYPE-3"],
                {"x": _x1([s, 0.0, 3 * s, 0.0, 5 * s, 0.0], dtype)},
                {"kernel_size": [2], "stride": [2]},
                seed + 1,
            ),
            case(
                "lp_pool",
                "special",
                f"{dtype} subnormals: Lp p=2 of (3s, 4s) is exactly 5s although "
                "the squares underflow in the dtype",
                ["POOL-LP-1", "POOL-DTYPE-3"],
                {"x": _x1([3 * s, -4 * s, 6 * s, 8 * s], dtype)},
                {"kernel_size": [2], "stride": [2], "p": 2},
                seed + 2,
            ),
            case(
                "global_avg_pool",
                "special",
                f"{dtype} subnormals: global average of tiny values",
                ["POOL-GLOBAL-1", "POOL-DTYPE-3"],
                {"x": _x1([s, 2 * s, 2 * s, -s], dtype)},
                {},
                seed + 3,
            ),
        ]
    return cases


def _large_value_cases() -> list[Case]:
    cases = []
    for j, dtype in enumerate(FLOATS):
        m = fmax(dtype)
        seed = 500 + 10 * j
        cases += [
            case(
                "avg_pool",
                "special",
                f"{dtype} near the maximum: the average of (max, max, max/2, "
                "max/2) is finite although a dtype sum overflows",
                ["POOL-AVG-1", "POOL-DTYPE-3", "POOL-DTYPE-4"],
                {"x": _x1([m, m, m / 2, m / 2, -m, -m], dtype)},
                {"kernel_size": [4], "stride": [2]},
                seed,
            ),
            case(
                "lp_pool",
                "special",
                f"{dtype} near the maximum: Lp p=2 of four values max/4 is "
                "max/2 although the squares overflow",
                ["POOL-LP-1", "POOL-DTYPE-3"],
                {"x": _x1([m / 4, -m / 4, m / 4, m / 4], dtype)},
                {"kernel_size": [4], "p": 2},
                seed + 1,
            ),
            case(
                "max_pool",
                "special",
                f"{dtype} near the maximum: max and -max are ordinary values",
                ["POOL-MAX-1", "POOL-MAX-3"],
                {"x": _x1([m, -m, 1.0, -m], dtype)},
                {"kernel_size": [2], "stride": [1]},
                seed + 2,
            ),
        ]
    cases.append(
        case(
            "lp_pool",
            "special",
            "float32 Lp p=2 where the exact result exceeds the maximum: rounds to +inf",
            ["POOL-LP-1", "POOL-DTYPE-3"],
            {"x": _x1([fmax("float32"), fmax("float32")], "float32")},
            {"kernel_size": [2]},
            541,
        )
    )
    cases.append(
        case(
            "global_lp_pool",
            "special",
            "float16 global Lp p=2 of sixteen values 256: 1024, although 256**2 overflows float16",
            ["POOL-LP-1", "POOL-GLOBAL-1", "POOL-DTYPE-4"],
            {"x": literal(np.full((1, 1, 4, 4), 256.0), "float16")},
            {"p": 2},
            542,
        )
    )
    return cases


def _accumulation_cases() -> list[Case]:
    return [
        case(
            "avg_pool",
            "special",
            "float16 average over a 64x64 window of ones is 1 (naive float16 "
            "accumulation stalls at 2048 and gives 0.5)",
            ["POOL-AVG-1", "POOL-DTYPE-4"],
            {"x": literal(np.ones((1, 1, 64, 64)), "float16")},
            {"kernel_size": [64, 64]},
            601,
        ),
        case(
            "global_avg_pool",
            "special",
            "float16 global average of 4096 ones is 1 (naive float16 accumulation stalls at 2048)",
            ["POOL-GLOBAL-1", "POOL-DTYPE-4"],
            {"x": literal(np.ones((1, 1, 4096)), "float16")},
            {},
            602,
        ),
        case(
            "global_avg_pool",
            "special",
            "bfloat16 global average of 1024 ones is 1 (naive bfloat16 accumulation stalls at 256)",
            ["POOL-GLOBAL-1", "POOL-DTYPE-4"],
            {"x": literal(np.ones((1, 1, 32, 32)), "bfloat16")},
            {},
            603,
        ),
        case(
            "avg_pool",
            "special",
            "float32 average rounded once: (1 + 2**-24 + 2**-24 + 0)/4 = "
            "0.25 + 2**-25 exactly (a float32 running sum gives 0.25)",
            ["POOL-AVG-1", "POOL-DTYPE-3"],
            {"x": _x1([1.0, 2.0**-24, 2.0**-24, 0.0], "float32")},
            {"kernel_size": [4]},
            604,
        ),
        case(
            "adaptive_avg_pool",
            "special",
            "bfloat16 adaptive average over 300 elements to 1 (exact mean, rounded once)",
            ["POOL-ADAPT-1", "POOL-DTYPE-3", "POOL-DTYPE-4"],
            {"x": random_values(605, (1, 1, 300), "bfloat16", distinct=False)},
            {"output_size": [1]},
            605,
        ),
        case(
            "avg_pool",
            "special",
            "float16 average over a 64x64 window of 1.0029296875 is that value (a float16 "
            "running sum, whole or per row, loses units; pairwise float16 sums are exact)",
            ["POOL-AVG-1", "POOL-DTYPE-4"],
            {"x": literal(np.full((1, 1, 64, 64), 1.0029296875), "float16")},
            {"kernel_size": [64, 64]},
            606,
        ),
        case(
            "global_avg_pool",
            "special",
            "float16 global average of 4096 values 1.0029296875 is that value (a float16 "
            "running sum, whole or in blocks, loses units)",
            ["POOL-GLOBAL-1", "POOL-DTYPE-4"],
            {"x": literal(np.full((1, 1, 4096), 1.0029296875), "float16")},
            {},
            607,
        ),
    ]


def _int_extreme_cases() -> list[Case]:
    cases = []
    for j, (dtype, values) in enumerate(
        (
            ("int8", [-128, 127, -1, 0, -128, -127]),
            ("uint8", [0, 255, 254, 1, 0, 128]),
            ("int64", [-(2**63), 2**63 - 1, 2**62 + 1, 2**62, -(2**63) + 1, 2**53 + 1]),
            ("uint64", [2**64 - 1, 2**64 - 2, 0, 2**63, 2**53 + 1, 2**53]),
        )
    ):
        seed = 700 + 10 * j
        cases += [
            case(
                "max_pool",
                "special",
                f"{dtype} extremes: max over the dtype's minimum and maximum "
                "(and neighbours no float64 can tell apart)",
                ["POOL-MAX-6"],
                {"x": _x1(values, dtype)},
                {"kernel_size": [2], "stride": [1]},
                seed,
            ),
            case(
                "max_pool_with_indices",
                "special",
                f"{dtype} extremes with indices",
                ["POOL-MAX-6", "POOL-IDX-1"],
                {"x": _x1(values, dtype)},
                {"kernel_size": [3], "stride": [1]},
                seed + 1,
            ),
        ]
    cases.append(
        case(
            "max_pool",
            "special",
            "int8 window of only the minimum -128 (padding must not win)",
            ["POOL-MAX-6", "POOL-MAX-1"],
            {"x": _x1([-128, -128, -128, -128], "int8")},
            {"kernel_size": [3], "stride": [1], "padding": 1},
            741,
        )
    )
    cases.append(
        case(
            "global_max_pool",
            "special",
            "uint8 global max of zeros is 0",
            ["POOL-MAX-6", "POOL-GLOBAL-1"],
            {"x": literal(np.zeros((1, 2, 3)), "uint8")},
            {},
            742,
        )
    )
    return cases


# ---------------------------------------------------------------------------
# invalid parameters
# ---------------------------------------------------------------------------


def invalid_cases() -> list[Case]:
    """Arguments the spec forbids: the reference raises ``SpecError`` with
    ``error_clause``. One spec violation per case."""
    x2 = random_values(801, (1, 1, 4, 4), "float32")
    x1 = random_values(802, (1, 1, 5), "float32")
    rows: list[tuple[str, str, str, dict[str, np.ndarray], dict[str, Any]]] = [
        # op, clause, comment, inputs, params
        ("max_pool", "POOL-PARAM-1", "kernel_size 0", {"x": x2}, {"kernel_size": [0, 2]}),
        ("avg_pool", "POOL-PARAM-1", "kernel_size 0 as a plain int", {"x": x2}, {"kernel_size": 0}),
        (
            "max_pool",
            "POOL-PARAM-2",
            "stride 0",
            {"x": x2},
            {"kernel_size": [2, 2], "stride": [0, 1]},
        ),
        (
            "lp_pool",
            "POOL-PARAM-2",
            "stride 0 as a plain int",
            {"x": x1},
            {"kernel_size": [2], "stride": 0},
        ),
        (
            "max_pool",
            "POOL-PARAM-3",
            "dilation 0",
            {"x": x2},
            {"kernel_size": [2, 2], "dilation": [1, 0]},
        ),
        (
            "avg_pool",
            "POOL-PARAM-3",
            "dilation -1",
            {"x": x1},
            {"kernel_size": [2], "dilation": -1},
        ),
        (
            "max_pool",
            "POOL-PARAM-4",
            "negative padding as an int",
            {"x": x2},
            {"kernel_size": [2, 2], "padding": -1},
        ),
        (
            "avg_pool",
            "POOL-PARAM-4",
            "negative end padding in a pair",
            {"x": x2},
            {"kernel_size": [2, 2], "padding": [[0, 0], [1, -1]]},
        ),
        (
            "max_pool_with_indices",
            "POOL-PARAM-4",
            "unknown padding string 'same'",
            {"x": x2},
            {"kernel_size": [2, 2], "padding": "same"},
        ),
        (
            "lp_pool",
            "POOL-PARAM-4",
            "padding string in the wrong case 'SAME_UPPER'",
            {"x": x1},
            {"kernel_size": [2], "padding": "SAME_UPPER"},
        ),
        (
            "max_pool",
            "POOL-PARAM-4",
            "padding pair with three entries",
            {"x": x1},
            {"kernel_size": [2], "padding": [[1, 1, 1]]},
        ),
        (
            "max_pool",
            "POOL-PARAM-5",
            "kernel_size with 2 entries for a 1D input",
            {"x": x1},
            {"kernel_size": [2, 2]},
        ),
        (
            "avg_pool",
            "POOL-PARAM-5",
            "stride with 3 entries for a 2D input",
            {"x": x2},
            {"kernel_size": [2, 2], "stride": [1, 1, 1]},
        ),
        (
            "max_pool",
            "POOL-PARAM-5",
            "padding with 1 entry for a 2D input",
            {"x": x2},
            {"kernel_size": [2, 2], "padding": [[1, 1]]},
        ),
        (
            "max_pool",
            "POOL-PARAM-6",
            "ceil_mode 1 is not a bool",
            {"x": x2},
            {"kernel_size": [2, 2], "ceil_mode": 1},
        ),
        (
            "avg_pool",
            "POOL-PARAM-6",
            "ceil_mode 'true' is not a bool",
            {"x": x1},
            {"kernel_size": [2], "ceil_mode": "true"},
        ),
        (
            "avg_pool",
            "POOL-PARAM-6",
            "count_include_pad 0 is not a bool",
            {"x": x1},
            {"kernel_size": [2], "count_include_pad": 0},
        ),
        (
            "max_pool",
            "POOL-GEOM-7",
            "kernel 5 larger than the input L=4 in floor mode: output length 0",
            {"x": x2},
            {"kernel_size": [5, 2]},
        ),
        (
            "avg_pool",
            "POOL-GEOM-7",
            "dilated kernel (eff 7) larger than the padded input L=5",
            {"x": x1},
            {"kernel_size": [4], "dilation": [2], "padding": [[0, 1]]},
        ),
        (
            "avg_pool",
            "POOL-AVG-2",
            "divisor_override 0",
            {"x": x2},
            {"kernel_size": [2, 2], "divisor_override": 0},
        ),
        (
            "avg_pool",
            "POOL-AVG-2",
            "divisor_override -2",
            {"x": x1},
            {"kernel_size": [2], "divisor_override": -2},
        ),
        ("lp_pool", "POOL-LP-2", "p 0", {"x": x1}, {"kernel_size": [2], "p": 0}),
        (
            "lp_pool",
            "POOL-LP-2",
            "p 1.5 (not an integer)",
            {"x": x1},
            {"kernel_size": [2], "p": 1.5},
        ),
        ("global_lp_pool", "POOL-LP-2", "global Lp with p 0", {"x": x2}, {"p": 0}),
        ("adaptive_avg_pool", "POOL-ADAPT-2", "output_size 0", {"x": x2}, {"output_size": [0, 2]}),
        (
            "adaptive_max_pool",
            "POOL-ADAPT-2",
            "output_size 0 as a plain int",
            {"x": x1},
            {"output_size": 0},
        ),
        (
            "adaptive_max_pool",
            "POOL-PARAM-5",
            "output_size with 1 entry for a 2D input",
            {"x": x2},
            {"output_size": [2]},
        ),
        (
            "max_pool",
            "POOL-LAYOUT-1",
            "unknown layout 'NHWC'",
            {"x": x2},
            {"kernel_size": [2, 2], "layout": "NHWC"},
        ),
        (
            "global_avg_pool",
            "POOL-LAYOUT-1",
            "unknown layout 'channels_middle'",
            {"x": x2},
            {"layout": "channels_middle"},
        ),
        (
            "max_pool",
            "POOL-SHAPE-1",
            "input without a spatial dim (shape (2, 5))",
            {"x": random_values(803, (2, 5), "float32")},
            {"kernel_size": [2]},
        ),
        (
            "avg_pool",
            "POOL-SHAPE-1",
            "input with an empty spatial dim (shape (1, 1, 0))",
            {"x": np.zeros((1, 1, 0), dtype=np.float32)},
            {"kernel_size": [1]},
        ),
        (
            "avg_pool",
            "POOL-DTYPE-1",
            "integer input (int32) for average pooling",
            {"x": random_values(804, (1, 1, 4, 4), "int32")},
            {"kernel_size": [2, 2]},
        ),
        (
            "lp_pool",
            "POOL-DTYPE-1",
            "integer input (int8) for Lp pooling",
            {"x": random_values(805, (1, 1, 5), "int8")},
            {"kernel_size": [2]},
        ),
        (
            "adaptive_avg_pool",
            "POOL-DTYPE-1",
            "integer input (uint8) for adaptive average",
            {"x": random_values(806, (1, 1, 5), "uint8")},
            {"output_size": [2]},
        ),
        (
            "global_avg_pool",
            "POOL-DTYPE-1",
            "integer input (int64) for global average",
            {"x": random_values(807, (1, 1, 5), "int64")},
            {},
        ),
        (
            "global_lp_pool",
            "POOL-DTYPE-1",
            "integer input (uint16) for global Lp",
            {"x": random_values(808, (1, 1, 5), "uint16")},
            {"p": 2},
        ),
        (
            "conv",
            "POOL-DTYPE-1",
            "integer input (int16) for convolution",
            {
                "x": random_values(809, (1, 1, 5), "int16"),
                "weight": random_values(810, (1, 1, 2), "int16"),
            },
            {},
        ),
        (
            "conv",
            "POOL-CONV-2",
            "groups 3 does not divide C_in 4",
            {
                "x": random_values(811, (1, 4, 5), "float32"),
                "weight": random_values(812, (3, 1, 2), "float32"),
            },
            {"groups": 3},
        ),
        (
            "conv",
            "POOL-CONV-2",
            "groups 0",
            {
                "x": random_values(813, (1, 2, 5), "float32"),
                "weight": random_values(814, (2, 2, 2), "float32"),
            },
            {"groups": 0},
        ),
        (
            "conv",
            "POOL-CONV-3",
            "weight C_in/groups 3 does not match the input's 4 channels",
            {
                "x": random_values(815, (1, 4, 5), "float32"),
                "weight": random_values(816, (2, 3, 2), "float32"),
            },
            {},
        ),
        (
            "conv",
            "POOL-CONV-3",
            "weight dtype float64 for a float32 input",
            {
                "x": random_values(817, (1, 2, 5), "float32"),
                "weight": random_values(818, (2, 2, 2), "float64"),
            },
            {},
        ),
        (
            "conv",
            "POOL-CONV-3",
            "weight of rank 4 for a 1D input",
            {
                "x": random_values(819, (1, 2, 5), "float32"),
                "weight": random_values(820, (2, 2, 2, 2), "float32"),
            },
            {},
        ),
        (
            "conv",
            "POOL-CONV-4",
            "bias of shape (3,) for C_out 2",
            {
                "x": random_values(821, (1, 2, 5), "float32"),
                "weight": random_values(822, (2, 2, 2), "float32"),
                "bias": random_values(823, (3,), "float32"),
            },
            {},
        ),
        (
            "conv",
            "POOL-PARAM-2",
            "conv stride 0",
            {
                "x": random_values(824, (1, 2, 5), "float32"),
                "weight": random_values(825, (2, 2, 2), "float32"),
            },
            {"stride": 0},
        ),
        (
            "conv",
            "POOL-GEOM-7",
            "kernel 4 longer than the padded input 3",
            {
                "x": random_values(826, (1, 1, 2), "float32"),
                "weight": random_values(827, (1, 1, 4), "float32"),
            },
            {"padding": [[0, 1]]},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-3",
            "index 6 outside the default output of 6 elements",
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[1, 2, 6]]], "int64")},
            {"kernel_size": [2]},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-3",
            "negative index -1",
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[-1, 2, 5]]], "int64")},
            {"kernel_size": [2]},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-3",
            "indices shape differs from x",
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[1, 2]]], "int64")},
            {"kernel_size": [2]},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-3",
            "index 5 outside an explicit output_size [5]",
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[1, 2, 5]]], "int64")},
            {"kernel_size": [2], "output_size": [5]},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-1",
            "padding string for unpooling",
            {"x": _x1([1.0, 2.0, 3.0]), "indices": literal([[[1, 2, 5]]], "int64")},
            {"kernel_size": [2], "padding": "same_upper"},
        ),
        (
            "max_unpool",
            "POOL-UNPOOL-1",
            "default unpooled length < 1 (k=1, padding (1,1) on L=1)",
            {"x": _x1([1.0]), "indices": literal([[[0]]], "int64")},
            {"kernel_size": [1], "padding": [[1, 1]]},
        ),
        ("zero_pad", "POOL-PAD-1", "padding string for zero_pad", {"x": x1}, {"padding": "valid"}),
        (
            "zero_pad",
            "POOL-PARAM-4",
            "negative padding for zero_pad",
            {"x": x1},
            {"padding": [[0, -2]]},
        ),
    ]
    cases = []
    for i, (op, clause, comment, inputs, params) in enumerate(rows):
        cases.append(
            case(
                op,
                "invalid",
                f"invalid: {op} {comment}",
                [clause],
                inputs,
                params,
                800 + i,
                result="invalid",
                error_clause=clause,
                grad=False,
            )
        )
    return cases


# ---------------------------------------------------------------------------
# everything
# ---------------------------------------------------------------------------


def declared_cases() -> list[Case]:
    """The cases declared in this module (without the seeded tutorial cases)."""
    return [
        *geometry_matrix(),
        *dtype_sweep(),
        *adaptive_matrix(),
        *global_matrix(),
        *unpool_matrix(),
        *zero_pad_matrix(),
        *conv_matrix(),
        *edge_cases(),
        *special_cases(),
        *invalid_cases(),
    ]


def all_cases() -> list[Case]:
    """All declared cases, seeded tutorial cases included."""

    return declared_cases() + seed_cases.all_cases()
