"""The clauses a valid case exercises by construction, read off its op, params and dtype.

A case's clauses are the clauses it names as its focus plus these, so no case can forget
POOL-LAYOUT-1 in channels_last, the geometry clauses of the padding it spells, or the
gradient clauses of the gradient it carries. Invalid cases exercise only the clause of
their error and derive nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

SAME = ("same_upper", "same_lower")


def _per_dim(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (int(value),) * rank


def _dilated(params: Mapping[str, Any]) -> bool:
    return any(d != 1 for d in _per_dim(params.get("dilation", 1), 1))


def _windows_overlap(op: str, x: np.ndarray, params: Mapping[str, Any], kernel: Any) -> bool:
    """Whether some input element lies in two windows: a stride below the dilated kernel,
    or adaptive windows that do not tile the input [POOL-GRAD-3]."""
    layout = params.get("layout", "channels_first")
    spatial = x.shape[1:-1] if layout == "channels_last" else x.shape[2:]
    rank = len(spatial)
    if cat.op(op).family == "adaptive":
        out = _per_dim(params["output_size"], rank)
        return any(o > n or n % o for o, n in zip(out, spatial))
    k = _per_dim(kernel, rank)
    default = k if cat.op(op).family == "window" else (1,) * rank
    s = default if params.get("stride") is None else _per_dim(params["stride"], rank)
    d = _per_dim(params.get("dilation", 1), rank)
    return any(si < geo.effective_kernel(ki, di) for si, ki, di in zip(s, k, d))


def _geometry(op: str, params: Mapping[str, Any]) -> set[str]:
    """Windowed ops (pooling windows and convolution): output length, taps, padding."""
    out = {"POOL-GEOM-8"}
    if params.get("ceil_mode"):
        out |= {"POOL-GEOM-3", "POOL-GEOM-4"}
    else:
        out.add("POOL-GEOM-2")
    if params.get("padding") in SAME:
        out.add("POOL-GEOM-5")
    if params.get("padding") == "valid":
        out.add("POOL-GEOM-6")
    if _dilated(params):
        out.add("POOL-GEOM-1")
    return out


def _reduction(op: str, params: Mapping[str, Any], dtype: str, inputs: Mapping) -> set[str]:
    """What the op computes in a window."""
    o = cat.op(op)
    out: set[str] = set()
    if o.selects_max:
        out.add("POOL-MAX-1")
        if not dt.is_float(dtype):
            out.add("POOL-MAX-6")
    if "indices" in o.outputs:
        out |= {"POOL-IDX-1", "POOL-IDX-4"}
    if o.reduction == "mean":
        out.add("POOL-AVG-1")
    if op == "avg_pool":
        if params.get("divisor_override") is not None:
            out.add("POOL-AVG-2")
        else:
            out.add("POOL-AVG-3" if params.get("count_include_pad", True) else "POOL-AVG-4")
        if _dilated(params):
            out.add("POOL-AVG-5")
    if o.reduction == "lp":
        out |= {"POOL-LP-1", "POOL-LP-2"}
    if op == "conv":
        out |= {"POOL-CONV-1", "POOL-CONV-3"}
        if params.get("groups", 1) != 1:
            out.add("POOL-CONV-2")
        if inputs.get("bias") is not None:
            out.add("POOL-CONV-4")
    family = {
        "adaptive": {"POOL-ADAPT-1", "POOL-ADAPT-2"},
        "global": {"POOL-GLOBAL-1"},
        "unpool": {"POOL-UNPOOL-1", "POOL-UNPOOL-2"},
        "pad": {"POOL-PAD-1"},
    }
    return out | family.get(o.family, set())


def derive_clauses(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], *, grad: bool
) -> set[str]:
    """The clauses a valid case of ``op`` exercises, from its params, the dtype of ``x``
    and, when ``grad``, the gradient it carries (a float case of an op with one)."""
    x = inputs["x"]
    dtype = dt.dtype_name(x.dtype)
    o = cat.op(op)
    out = {"POOL-SHAPE-1", "POOL-DTYPE-2"}
    if params.get("layout") == "channels_last":
        out.add("POOL-LAYOUT-1")
    if "padding" in params:
        out.add("POOL-PARAM-4")
    if o.windowed:
        out |= _geometry(op, params)
    if dt.is_float(dtype) and o.reduction in ("max", "mean", "lp", "dot"):
        out.add("POOL-DTYPE-3")
    out |= _reduction(op, params, dtype, inputs)
    if grad and o.grad is not None and dt.is_float(dtype):
        out.add(cat.op(o.grad).clause)
        kernel = inputs["weight"].shape[2:] if op == "conv" else params.get("kernel_size")
        if o.family in ("window", "conv", "adaptive") and _windows_overlap(op, x, params, kernel):
            out.add("POOL-GRAD-3")
    return out
