"""The coverage matrices: a full product over a few axes, the other axes rotating along it.

* ``geometry`` of the windowed ops (``max_pool``, ``max_pool_with_indices``,
  ``avg_pool``, ``lp_pool``): the full product rank 1/2/3 x layout x padding kind
  (none, symmetric, asymmetric, same_upper, same_lower); stride, dilation, ceil mode,
  count_include_pad, divisor_override, p and the float dtype rotate along it, so that
  every value appears for every op.
* ``dtype`` of the windowed ops: rank x every supported dtype, layout, padding kind
  and the other axes rotating.
* ``geometry`` / ``dtype`` / ``padding`` of the other ops (adaptive, global, unpool,
  zero_pad, conv): the full product rank x layout x supported dtype, their own
  parameters rotating.
* In every matrix whose setups rotate along the dtypes (``geometry`` and ``padding``),
  a setup that fell only on other dtypes than float32 has a float32 twin, named
  ``<name>_as_float32`` after its first case: a float32-only backend meets every setup.

``rotate`` is the one combinator: the full product of ``full`` in order (the last
axis fastest), and for the ``i``-th combination each ``Cycle`` picks
``values[((i + offset) // every) % len(values)]``.

A matrix case is named after its full axes (``rank2_channels_last_same_upper``,
``rank1_int8``), draws its inputs from that name, and names no focus: its clauses are
the ones its op, params and dtype imply. Random inputs of the max family hold pairwise
distinct values (``-0.0`` and ``+0.0`` count as equal), so the matrix cases are
tie-free. The builders check their geometry eagerly (pure integer arithmetic): no
matrix case has a window entirely in padding, so none of them turns ``acceptable``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.tools.cases.case import TWIN, Case, case, vector_id
from poolconf.tools.cases.inputs import draw, seed_of, to_layout, window_indices

FLOATS = dt.FLOAT_DTYPES
ALL_DTYPES = dt.ALL_DTYPES
RANKS = (1, 2, 3)
WINDOWED_OPS = cat.forward_ops("window")
OP_DTYPES = {name: cat.op(name).dtypes for name in cat.FORWARD_OPS}
LAYOUTS = cat.LAYOUTS
PADDING_KINDS = ("none", "symmetric", "asymmetric", "same_upper", "same_lower")
MAX_OPS = frozenset(name for name in cat.FORWARD_OPS if cat.op(name).selects_max)


# ---------------------------------------------------------------------------
# the combinator
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """An axis that rotates along a product: at position ``i`` it takes
    ``values[((i + offset) // every) % len(values)]``; ``offset`` may depend on the
    full axes' values of the position (a function of them)."""

    values: Sequence[Any]
    every: int = 1
    offset: int | Callable[[Mapping[str, Any]], int] = 0

    def at(self, i: int, row: Mapping[str, Any]) -> Any:
        shift = self.offset(row) if callable(self.offset) else self.offset
        return self.values[((i + shift) // self.every) % len(self.values)]


def rotate(
    full: Mapping[str, Sequence[Any]], cycles: Mapping[str, Cycle] | None = None
) -> Iterator[dict[str, Any]]:
    """Every combination of the ``full`` axes, in order (the last axis fastest), with
    each ``Cycle`` of ``cycles`` picked at the combination's position."""
    for i, combo in enumerate(itertools.product(*full.values())):
        row = dict(zip(full, combo))
        row.update({name: c.at(i, row) for name, c in (cycles or {}).items()})
        yield row


# ---------------------------------------------------------------------------
# geometry, read off a case
# ---------------------------------------------------------------------------


def pads_of(
    padding: Any, spatial: Sequence[int], params: Mapping[str, Any]
) -> tuple[tuple[int, int], ...]:
    """The resolved ``(begin, end)`` padding of a windowed case, per dim."""
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
    pads = pads_of(padding, spatial, params)
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
    return geo.spatial_shape(x.shape, layout)


def has_empty_window(x: np.ndarray, params: Mapping[str, Any]) -> bool:
    """Whether a pooling op's geometry has a window with no in-bounds tap
    (geometry only; raises SpecError for invalid geometry)."""
    spatial = spatial_of(x, params.get("layout", "channels_first"))
    return geo.call_geometry("max_pool", spatial, params).has_empty_window()


def _checked(c: Case) -> Case:
    """A matrix case must be geometrically valid with no window entirely in padding."""
    if has_empty_window(c.inputs["x"], c.params):
        raise AssertionError(f"matrix case {c.test_id} has a window entirely in padding")
    return c


def _desc(v: Any) -> str:
    return json.dumps(v)


# ---------------------------------------------------------------------------
# windowed ops: the geometry matrix and the dtype sweep
# ---------------------------------------------------------------------------

# (x shape channels-first, kernel) per rank; small enough for exact arithmetic.
WINDOW_SETUP: dict[int, tuple[tuple[int, ...], list[int]]] = {
    1: ((1, 2, 7), [3]),
    2: ((2, 1, 5, 6), [2, 3]),
    3: ((1, 2, 3, 4, 4), [2, 2, 2]),
}
# the padding argument of each kind, its spelling rotating
PADDING_SPELLINGS: dict[str, dict[int, list[Any]]] = {
    "none": {r: [[[0, 0]] * r, "valid", [[0, 0]] * r, 0, [[0, 0]] * r, [0] * r] for r in RANKS},
    "symmetric": {r: [[[1, 1]] * r, 1, [[1, 1]] * r, [1] * r] for r in RANKS},
    # both sides differ per dim, written as (begin, end) pairs
    "asymmetric": {
        1: [[[0, 1]], [[2, 1]]],
        2: [[[1, 0], [0, 2]], [[0, 1], [1, 1]]],
        3: [[[0, 1], [1, 0], [1, 1]], [[1, 0], [0, 0], [0, 1]]],
    },
    "same_upper": {r: ["same_upper"] for r in RANKS},
    "same_lower": {r: ["same_lower"] for r in RANKS},
}


def with_float32_twins(
    rows: Iterable[dict[str, Any]], name_of: Callable[[Mapping[str, Any]], str]
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each row with its case name, ``name_of(row)``; after a row in another dtype than
    float32 whose setup (every axis but the dtype) no float32 row has, the same row in
    float32, named ``name_of(row) + TWIN``. A matrix rotates its setups along the dtypes,
    so without the twins a float32-only backend would meet only the setups that happened
    to fall on float32."""
    rows = list(rows)

    def setup(row: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in row.items() if k != "dtype"}, sort_keys=True)

    covered = {setup(r) for r in rows if r["dtype"] == "float32"}
    for row in rows:
        yield row, name_of(row)
        if setup(row) not in covered:
            covered.add(setup(row))
            yield {**row, "dtype": "float32"}, name_of(row) + TWIN


def window_cycles(offset: int = 0) -> dict[str, Cycle]:
    """The axes that rotate along a windowed matrix (``offset`` shifts them all)."""
    return {
        "stride": Cycle(("default", "one", "two", "gap"), offset=offset),
        "spelling": Cycle(range(12), every=5, offset=offset),
        "dilation": Cycle(("one", "two", "mixed"), offset=offset),
        "ceil_mode": Cycle((False, True), every=2, offset=offset),
        "count_include_pad": Cycle((True, False), offset=offset),
        "divisor_override": Cycle((None, None, 5), every=3, offset=offset),
        "p": Cycle((1, 2, 3), every=4, offset=offset),
    }


def _windowed_params(op: str, row: Mapping[str, Any]) -> dict[str, Any]:
    rank = row["rank"]
    kernel = WINDOW_SETUP[rank][1]
    params: dict[str, Any] = {"kernel_size": kernel}
    stride = {"default": None, "one": 1, "two": [2] * rank, "gap": [k + 1 for k in kernel]}
    if stride[row["stride"]] is not None:
        params["stride"] = stride[row["stride"]]
    spellings = PADDING_SPELLINGS[row["padding"]][rank]
    params["padding"] = spellings[row["spelling"] % len(spellings)]
    dilation = {"one": 1, "two": 2, "mixed": [2 if i % 2 == 0 else 1 for i in range(rank)]}
    if row["dilation"] != "one":
        params["dilation"] = dilation[row["dilation"]]
    params["ceil_mode"] = row["ceil_mode"]
    if op == "avg_pool":
        params["count_include_pad"] = row["count_include_pad"]
        if row["divisor_override"] is not None:
            params["divisor_override"] = row["divisor_override"]
    if op == "lp_pool":
        params["p"] = row["p"]
    params["layout"] = row["layout"]
    return params


def _windowed_comment(prefix: str, op: str, row: Mapping[str, Any], params: Mapping) -> str:
    parts = [
        f"{prefix}: {row['rank']}D {op} {row['dtype']} {params['layout']}, "
        f"kernel {_desc(params['kernel_size'])}",
        f"padding {row['padding']} {_desc(params['padding'])}",
        f"stride {_desc(params['stride'])}" if "stride" in params else "stride default (= kernel)",
        f"dilation {_desc(params.get('dilation', 1))}",
        "ceil mode" if params["ceil_mode"] else "floor mode",
    ]
    if op == "avg_pool":
        parts.append(f"count_include_pad {params['count_include_pad']}")
        if "divisor_override" in params:
            parts.append(f"divisor_override {params['divisor_override']}")
    if op == "lp_pool":
        parts.append(f"p {params['p']}")
    return ", ".join(parts)


def _windowed_case(family: str, op: str, row: Mapping[str, Any], name: str) -> Case:
    shape = WINDOW_SETUP[row["rank"]][0]
    params = _windowed_params(op, row)
    return _checked(
        case(
            name=name,
            op=op,
            family=family,
            comment=_windowed_comment(family, op, row, params),
            x=draw(shape, row["dtype"], distinct=op in MAX_OPS, layout=row["layout"]),
            params=params,
        )
    )


def geometry_matrix() -> list[Case]:
    """Full product rank x layout x padding kind for every windowed op; the other axes
    (stride, dilation, ceil, count_include_pad, divisor_override, p, float dtype)
    rotate along it; a combination drawn in another dtype has a float32 twin."""
    cases = []
    for oi, op in enumerate(WINDOWED_OPS):
        full = {"rank": RANKS, "layout": LAYOUTS, "padding": PADDING_KINDS}
        cycles = {**window_cycles(), "dtype": Cycle(FLOATS, every=3, offset=3 * oi)}
        for row, name in with_float32_twins(rotate(full, cycles), _geometry_name):
            cases.append(_windowed_case("geometry", op, row, name))
    return cases


def _geometry_name(row: Mapping[str, Any]) -> str:
    return f"rank{row['rank']}_{row['layout']}_{row['padding']}"


def dtype_sweep() -> list[Case]:
    """Every windowed op x rank x supported dtype; layout, padding kind and the other
    axes rotate (layout and padding kind shifted by the rank)."""
    cases = []
    for op in WINDOWED_OPS:
        full = {"rank": RANKS, "dtype": OP_DTYPES[op]}
        cycles = {
            **window_cycles(offset=7),
            "layout": Cycle(LAYOUTS, offset=lambda row: row["rank"]),
            "padding": Cycle(PADDING_KINDS, offset=lambda row: 2 * row["rank"]),
        }
        for row in rotate(full, cycles):
            cases.append(_windowed_case("dtype", op, row, f"rank{row['rank']}_{row['dtype']}"))
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


def _rank_layout_dtype(op: str, dtypes: Sequence[str] | None = None) -> dict[str, Sequence[Any]]:
    return {"rank": RANKS, "layout": LAYOUTS, "dtype": dtypes or OP_DTYPES[op]}


def _name(row: Mapping[str, Any]) -> str:
    return f"rank{row['rank']}_{row['layout']}_{row['dtype']}"


def adaptive_matrix() -> list[Case]:
    """Adaptive max/avg: rank x layout x dtype; output_size rotates through smaller
    (uneven overlapping windows), equal, larger, mixed and the plain-int form."""
    cases = []
    for op in ("adaptive_max_pool", "adaptive_avg_pool"):
        rows = rotate(_rank_layout_dtype(op), {"size": Cycle(range(5))})
        for row, name in with_float32_twins(rows, _name):
            rank, layout, dtype = row["rank"], row["layout"], row["dtype"]
            shape, sizes = ADAPTIVE_SETUP[rank]
            out = sizes[row["size"]]
            rel = _size_relation(out if isinstance(out, list) else [out] * rank, shape[2:])
            cases.append(
                case(
                    name=name,
                    op=op,
                    family="geometry",
                    comment=f"geometry: {rank}D {op} {dtype} {layout}, input "
                    f"{list(shape[2:])} -> output_size {_desc(out)} ({rel})",
                    x=draw(shape, dtype, distinct=op in MAX_OPS, layout=layout),
                    params={"output_size": out, "layout": layout},
                )
            )
    return cases


GLOBAL_SHAPES = {1: (1, 2, 9), 2: (2, 1, 4, 5), 3: (1, 2, 3, 3, 4)}


def global_matrix() -> list[Case]:
    """Global max/avg/Lp: rank x layout x dtype (p rotating for Lp)."""
    cases = []
    for op in ("global_max_pool", "global_avg_pool", "global_lp_pool"):
        for row in rotate(_rank_layout_dtype(op), {"p": Cycle((1, 2, 3))}):
            rank, layout, dtype = row["rank"], row["layout"], row["dtype"]
            params: dict[str, Any] = {"p": row["p"]} if op == "global_lp_pool" else {}
            extra = f", p {row['p']}" if params else ""
            params["layout"] = layout
            cases.append(
                case(
                    name=_name(row),
                    op=op,
                    family="dtype",
                    comment=f"dtype: {rank}D {op} {dtype} {layout}, "
                    f"input {list(GLOBAL_SHAPES[rank][2:])}{extra}",
                    x=draw(GLOBAL_SHAPES[rank], dtype, distinct=op in MAX_OPS, layout=layout),
                    params=params,
                )
            )
    return cases


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


def _unpool_params(spec: tuple, layout: str) -> dict[str, Any]:
    _, kernel, stride, padding, output_size = spec
    params: dict[str, Any] = {"kernel_size": kernel}
    if stride is not None:
        params["stride"] = stride
    params["padding"] = padding
    if output_size is not None:
        params["output_size"] = output_size
    params["layout"] = layout
    return params


def _unpool_indices(spec: tuple, rng: np.random.Generator) -> np.ndarray:
    """Random in-window positions (what some max pool could have selected), distinct
    within each plane, channels-first."""
    shape, kernel, stride, padding, output_size = spec
    rank = len(kernel)
    s = kernel if stride is None else stride
    pads = geo.resolve_padding(padding, shape[2:], kernel, s, [1] * rank)
    out = output_size or [
        geo.unpool_output_length(L, k, si, pb, pe)
        for L, k, si, (pb, pe) in zip(shape[2:], kernel, s, pads)
    ]
    planes = shape[0] * shape[1]
    return window_indices(rng, shape[2:], kernel, s, pads, out, planes).reshape(shape)


def unpool_matrix() -> list[Case]:
    """Max unpooling: rank x layout x dtype, with the kernel/stride/padding/output_size
    setup rotating."""
    cases = []
    rows = rotate(_rank_layout_dtype("max_unpool", ALL_DTYPES), {"setup": Cycle(range(4))})
    for row, name in with_float32_twins(rows, _name):
        rank, layout, dtype = row["rank"], row["layout"], row["dtype"]
        spec = UNPOOL_SETUP[rank][row["setup"]]
        rng = np.random.default_rng(seed_of(f"{vector_id('max_unpool', 'geometry', name)}/indices"))
        stride = spec[2] if spec[2] is not None else "default"
        out = f"output_size {_desc(spec[4])}" if spec[4] else "default output size"
        cases.append(
            case(
                name=name,
                op="max_unpool",
                family="geometry",
                comment=f"geometry: {rank}D max_unpool {dtype} {layout}, kernel "
                f"{_desc(spec[1])}, stride {_desc(stride)}, padding {_desc(spec[3])}, {out}",
                x=draw(spec[0], dtype, layout=layout),
                indices=to_layout(_unpool_indices(spec, rng), layout),
                params=_unpool_params(spec, layout),
            )
        )
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
    """Zero padding: rank x layout x dtype; padding forms rotate (pairs, int, per-dim
    ints; symmetric, asymmetric, zero)."""
    cases = []
    rows = rotate(_rank_layout_dtype("zero_pad", ALL_DTYPES), {"pads": Cycle(range(6))})
    for row, name in with_float32_twins(rows, _name):
        rank, layout, dtype = row["rank"], row["layout"], row["dtype"]
        shape, pads = ZERO_PAD_SETUP[rank]
        padding = pads[row["pads"]]
        cases.append(
            case(
                name=name,
                op="zero_pad",
                family="padding",
                comment=f"padding: {rank}D zero_pad {dtype} {layout}, input {list(shape[2:])}, "
                f"padding {_desc(padding)}",
                x=draw(shape, dtype, distinct=False, layout=layout),
                params={"padding": padding, "layout": layout},
            )
        )
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
CONV_CYCLES = {
    "groups": Cycle((1, 2)),
    "c_out": Cycle((2, 4, 4)),
    "bias": Cycle((True, False), every=2),
    "stride": Cycle(range(4)),
    "dilation": Cycle((1, 1, 2), every=2),
    "padding": Cycle(range(8)),
}


def conv_matrix() -> list[Case]:
    """Convolution: rank x layout x float dtype; groups, bias, stride, dilation and the
    padding form rotate."""
    cases = []
    for row, name in with_float32_twins(
        rotate(_rank_layout_dtype("conv", FLOATS), CONV_CYCLES), _name
    ):
        rank, layout, dtype, groups = row["rank"], row["layout"], row["dtype"], row["groups"]
        shape, kernel = CONV_SETUP[rank]
        stride = [1, 2, 1, [1] * (rank - 1) + [2]][row["stride"]]
        padding = CONV_PADDINGS[rank][row["padding"]]
        w_shape = [row["c_out"], 2 // groups, *kernel]
        cases.append(
            case(
                name=name,
                op="conv",
                family="geometry",
                comment=f"geometry: {rank}D conv {dtype} {layout}, x {list(shape)}, weight "
                f"{w_shape}, {'bias' if row['bias'] else 'no bias'}, groups {groups}, "
                f"stride {_desc(stride)}, padding {_desc(padding)}, dilation {row['dilation']}",
                x=draw(shape, dtype, distinct=False, layout=layout),
                weight=draw(w_shape, dtype, distinct=False),
                bias=draw((row["c_out"],), dtype, distinct=False) if row["bias"] else None,
                params={
                    "stride": stride,
                    "padding": padding,
                    "dilation": row["dilation"],
                    "groups": groups,
                    "layout": layout,
                },
            )
        )
    return cases


def matrix_cases() -> list[Case]:
    """Every matrix case, in a fixed order."""
    return [
        *geometry_matrix(),
        *dtype_sweep(),
        *adaptive_matrix(),
        *global_matrix(),
        *unpool_matrix(),
        *zero_pad_matrix(),
        *conv_matrix(),
    ]
