"""Invalid calls: one argument of a valid drawn call corrupted the way the spec forbids.

Each ``Corruption`` row names what it breaks, the clause that forbids it, the ops it
applies to, and how it changes a copy of a call's arrays and keywords. ``which`` (a
drawn integer) picks the spatial dim and the variant, so one row covers several
spellings (``-1`` and ``0``, begin and end padding, ...). The reference decides whether
a corrupted call is invalid (it raises ``SpecError`` with the clause); the harness then
requires the backend to raise too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.conformance.strategies import PoolCase
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt

Arrays = dict[str, Any]
Params = dict[str, Any]


def _set_dim(value: Any, rank: int, i: int, new: Any) -> tuple[Any, ...]:
    items = list(value) if isinstance(value, (tuple, list)) else [value] * rank
    items[i] = new
    return tuple(items)


def _pairs(params: Params, rank: int) -> list[tuple[int, int]]:
    pads = params.get("padding", 0)
    if isinstance(pads, str):
        return [(0, 0)] * rank
    if isinstance(pads, int):
        return [(pads, pads)] * rank
    return [(int(p[0]), int(p[1])) for p in pads]


def _kernel_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["kernel_size"] = _set_dim(p["kernel_size"], case.config.rank, which % case.config.rank, 0)


def _stride_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    rank = case.config.rank
    base = p.get("stride") or p.get("kernel_size") or (1,) * rank
    p["stride"] = _set_dim(base, rank, which % rank, 0 if which % 2 else -1)


def _dilation_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    rank = case.config.rank
    p["dilation"] = _set_dim(p.get("dilation", 1), rank, which % rank, 0)


def _negative_padding(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    rank = case.config.rank
    pairs, i = _pairs(p, rank), which % rank
    pairs[i] = (pairs[i][0], -1 - which % 2) if which % 3 else (-1, pairs[i][1])
    p["padding"] = tuple(pairs)


def _unknown_padding(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["padding"] = ("same", "SAME", "full", "causal")[which % 4]


def _per_dim_length(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    rank = case.config.rank
    key = "kernel_size" if "kernel_size" in p else "padding"
    value = p.get(key, 0)
    one = (0, 0) if key == "padding" else 1
    p[key] = (*(value if isinstance(value, tuple) else (value,) * rank), one)


def _output_below_one(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    """A kernel longer than the padded input along one dim [POOL-GEOM-7]; for conv,
    a weight whose kernel is."""
    rank, spatial = case.config.rank, case.config.spatial
    pairs, i = _pairs(p, rank), which % rank
    p["padding"] = tuple(pairs)
    p["dilation"] = _set_dim(p.get("dilation", 1), rank, i, 1)
    too_long = spatial[i] + sum(pairs[i]) + 1
    if case.op == "conv":
        w = a["weight"]
        shape = (*w.shape[:2], *_set_dim(w.shape[2:], rank, i, too_long))
        a["weight"] = np.zeros(shape, dtype=w.dtype)
    else:
        p["kernel_size"] = _set_dim(p["kernel_size"], rank, i, too_long)


def _divisor_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["divisor_override"] = 0 if which % 2 else -1


def _p_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["p"] = 0 if which % 2 else -1


def _output_size_zero(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    rank = case.config.rank
    p["output_size"] = _set_dim(p["output_size"], rank, which % rank, 0)


def _output_size_length(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["output_size"] = (*p["output_size"], 1)


def _x_two_dims(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    a["x"] = case.x.reshape(case.x.shape[0], -1)


def _empty_spatial(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    i = which % case.config.rank
    axis = (1 + i) if case.config.layout == "channels_last" else (2 + i)
    a["x"] = np.take(case.x, [], axis=axis)


def _index_out_of_plane(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    idx = np.array(a["indices"], copy=True)
    plane = int(np.prod(case.config.spatial))
    idx.flat[which % idx.size] = plane + which % 3 if which % 2 else -1 - which % 3
    a["indices"] = idx


def _groups(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    p["groups"] = case.config.channels + 1


def _grad_shape(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    g = a["grad_output"]
    a["grad_output"] = np.concatenate([g, g[..., :1]], axis=-1)


def _grad_dtype(case: PoolCase, a: Arrays, p: Params, which: int) -> None:
    g = a["grad_output"]
    other = "float64" if dt.dtype_name(g.dtype) != "float64" else "float32"
    a["grad_output"] = g.astype(dt.numpy_dtype(other))


@dataclass(frozen=True)
class Corruption:
    """One thing the spec forbids: its name, the clause, where it applies, and how."""

    name: str
    clause: str
    families: tuple[str, ...]
    apply: Callable[[PoolCase, Arrays, Params, int], None]
    ops: tuple[str, ...] = ()  # narrower than the families, when given
    grad: bool = False  # a corruption of a gradient call's grad_output


_WINDOWED = ("window", "conv")
# fmt: off
CORRUPTIONS: tuple[Corruption, ...] = (
    Corruption("kernel_size=0", "POOL-PARAM-1", ("window", "unpool"), _kernel_zero),
    Corruption("stride<=0", "POOL-PARAM-2", _WINDOWED, _stride_zero),
    Corruption("dilation=0", "POOL-PARAM-3", _WINDOWED, _dilation_zero),
    Corruption("negative padding", "POOL-PARAM-4", (*_WINDOWED, "pad"), _negative_padding),
    Corruption("unknown padding string", "POOL-PARAM-4", ("window",), _unknown_padding),
    Corruption("per-dim length", "POOL-PARAM-5", ("window", "pad"), _per_dim_length),
    Corruption("output length below 1", "POOL-GEOM-7", _WINDOWED, _output_below_one),
    Corruption("divisor_override<=0", "POOL-AVG-2", ("window",), _divisor_zero, ops=("avg_pool",)),
    Corruption("p<=0", "POOL-LP-2", ("window", "global"), _p_zero, ops=("lp_pool", "global_lp_pool")),
    Corruption("output_size=0", "POOL-ADAPT-2", ("adaptive",), _output_size_zero),
    Corruption("per-dim output_size", "POOL-PARAM-5", ("adaptive",), _output_size_length),
    Corruption("x with 2 dims", "POOL-SHAPE-1", ("adaptive", "global"), _x_two_dims),
    Corruption("empty spatial dim", "POOL-SHAPE-1", ("global",), _empty_spatial,
               ops=("global_max_pool", "global_avg_pool")),
    Corruption("index outside the plane", "POOL-UNPOOL-3", ("unpool",), _index_out_of_plane),
    Corruption("groups not dividing channels", "POOL-CONV-2", ("conv",), _groups),
    Corruption("grad_output shape", "POOL-GRAD-7", cat.FAMILIES, _grad_shape, grad=True),
    Corruption("grad_output dtype", "POOL-GRAD-7", cat.FAMILIES, _grad_dtype, grad=True),
)
# fmt: on


def applicable(op: str, grad: bool) -> tuple[Corruption, ...]:
    """The corruptions of a call of forward op ``op`` (of its gradient when ``grad``)."""
    family = cat.op(op).family
    return tuple(
        c
        for c in CORRUPTIONS
        if family in c.families and (not c.ops or op in c.ops) and (grad or not c.grad)
    )


def corrupt(
    case: PoolCase, corruption: Corruption, which: int, grad: bool
) -> tuple[Arrays, Params]:
    """Copies of the arrays and keywords of ``case`` (its gradient call when ``grad``)
    with ``corruption`` applied."""
    arrays: Arrays = case.grad_inputs() if grad else dict(case.inputs)
    params: Params = dict(case.params)
    corruption.apply(case, arrays, params, which)
    return arrays, params
