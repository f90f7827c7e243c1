"""Which clause a failed comparison cites: the one the failing comparison checks.

A call exercises many clauses at once; a failure names the one its evidence concerns.
A wrong shape cites the clause that defines the output's shape (the floor- or ceil-mode
length, same or valid padding, adaptive ``output_size``, the unpooling size, the layout
when the dims are only permuted); a wrong dtype cites POOL-DTYPE-2 (POOL-IDX-4 for
indices); a NaN or infinity where the exact result has a number (or the reverse, on
special inputs) cites the op's special-value clause, unless the element's window has
intermediates past the input dtype's range, where it cites the accumulator range
(POOL-DTYPE-6); a zero of the wrong sign cites
POOL-MAX-5 for ops that select and POOL-DTYPE-3 otherwise; a wrong average at a window
that reaches into padding or past it cites the divisor clause in force (POOL-AVG-2, -3
or -4), a wrong value at a ceil-mode window past the end padding of another op
POOL-GEOM-3. Any other wrong value cites the clause of the output (``reference.catalog``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from poolconf.reference import catalog as cat
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo
from poolconf.reference.tolerance import Comparison, Mismatch

LAYOUT_CLAUSE = "POOL-LAYOUT-1"
DTYPE_CLAUSE = "POOL-DTYPE-2"
INDEX_DTYPE_CLAUSE = "POOL-IDX-4"
SELECT_ZERO_CLAUSE = "POOL-MAX-5"
ROUNDING_CLAUSE = "POOL-DTYPE-3"
CEIL_CLAUSE = "POOL-GEOM-3"
ACCUMULATOR_CLAUSE = "POOL-DTYPE-6"
FAMILY_SHAPE_CLAUSES = {
    "adaptive": "POOL-ADAPT-2",
    "global": "POOL-GLOBAL-1",
    "unpool": "POOL-UNPOOL-1",
    "pad": "POOL-PAD-1",
}


def shape_clause(
    op: str, params: Mapping[str, Any], got: Sequence[int], want: Sequence[int]
) -> str:
    """The clause that defines the shape ``want`` of an output of ``op``."""
    if len(got) == len(want) and sorted(got) == sorted(want) and params.get("layout"):
        return LAYOUT_CLAUSE
    o = cat.op(op)
    if o.is_grad:
        return o.clause
    if o.family in FAMILY_SHAPE_CLAUSES:
        return FAMILY_SHAPE_CLAUSES[o.family]
    padding = params.get("padding", 0)
    if padding in ("same_upper", "same_lower"):
        return "POOL-GEOM-5"
    if padding == "valid":
        return "POOL-GEOM-6"
    if params.get("ceil_mode"):
        longer = any(g == w + 1 for g, w in zip(got, want))
        return "POOL-GEOM-4" if longer else CEIL_CLAUSE
    return "POOL-GEOM-2"


def _number(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return None


def _special_status(v: float | None) -> str:
    if v is None or math.isfinite(v):
        return "finite"
    return "nan" if math.isnan(v) else "inf"


def _avg_divisor_clause(params: Mapping[str, Any]) -> str:
    if params.get("divisor_override") is not None:
        return "POOL-AVG-2"
    return "POOL-AVG-3" if params.get("count_include_pad", True) else "POOL-AVG-4"


def _window_clause(
    op: str, params: Mapping[str, Any], arrays: Mapping[str, Any], index: tuple[int, ...]
) -> str | None:
    """The divisor or ceil-mode clause when the output element at ``index`` comes from a
    window that reaches into the padding or past it; None otherwise."""
    o = cat.op(op)
    x, weight = arrays.get("x"), arrays.get("weight")
    if o.family not in ("window", "conv") or o.is_grad or not isinstance(x, np.ndarray):
        return None
    kernel = tuple(weight.shape[2:]) if isinstance(weight, np.ndarray) else None
    layout = params.get("layout", "channels_first")
    spatial = geo.spatial_shape(x.shape, layout)
    position = index[1:-1] if layout == "channels_last" else index[2:]
    try:
        g = geo.call_geometry(op, spatial, params, kernel)
    except (ValueError, TypeError, KeyError):  # params the reference would reject
        return None
    if len(position) != len(g.axes) or any(p >= a.out for p, a in zip(position, g.axes)):
        return None
    taps = [a.taps(p) for a, p in zip(g.axes, position)]
    overhang = any(not t.in_extent for axis in taps for t in axis)
    padded = any(not t.in_bounds for axis in taps for t in axis)
    if op == "avg_pool" and (padded or params.get("divisor_override") is not None):
        return _avg_divisor_clause(params)
    if overhang and params.get("ceil_mode"):
        return CEIL_CLAUSE
    return None


def _exposed(
    op: str, params: Mapping[str, Any], arrays: Mapping[str, Any], mismatch: Mismatch
) -> bool:
    """Whether the element of ``mismatch`` has intermediates past the input dtype's range
    (``flags.overflow_mask`` for the narrowest declarable accumulator)."""
    if not isinstance(arrays.get("x"), np.ndarray):
        return False
    try:
        mask = flagreg.overflow_mask(op, arrays, params, "dtype")
    except (ValueError, TypeError, KeyError):  # params the reference would reject
        return False
    return mask is not None and mask.shape != () and bool(mask[tuple(mismatch.index)])


def value_clause(
    op: str,
    name: str,
    params: Mapping[str, Any],
    arrays: Mapping[str, Any],
    mismatch: Mismatch,
    default: str,
) -> str:
    """The clause a wrong element cites (see the module docstring)."""
    o = cat.op(op)
    got, want = _number(mismatch.got), _number(mismatch.expected)
    if _special_status(got) != _special_status(want):
        if want is not None and math.isfinite(want) and _exposed(op, params, arrays, mismatch):
            return ACCUMULATOR_CLAUSE
        return o.nan_clause
    if got == 0 and want == 0 and got is not None and want is not None:
        if math.copysign(1, got) != math.copysign(1, want):
            return SELECT_ZERO_CLAUSE if o.selects_max else ROUNDING_CLAUSE
    if name == "output":
        found = _window_clause(op, params, arrays, mismatch.index)
        if found:
            return found
    return default


def comparison_clause(
    comparison: Comparison,
    got: Any,
    expected: np.ndarray,
    *,
    op: str,
    name: str,
    params: Mapping[str, Any],
    arrays: Mapping[str, Any],
    default: str,
) -> str:
    """The clause a failed ``comparison`` of output ``name`` of ``op`` cites."""
    if not comparison.shape_ok:
        return shape_clause(op, params, tuple(np.shape(got)), tuple(expected.shape))
    if not comparison.dtype_ok:
        return INDEX_DTYPE_CLAUSE if name == "indices" else DTYPE_CLAUSE
    if comparison.mismatches:
        return value_clause(op, name, params, arrays, comparison.mismatches[0], default)
    return default
