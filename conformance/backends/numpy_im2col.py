"""The ``numpy-im2col`` backend: the classic CNN-tutorial approach.

A *table* lists, for every output position, the flat input position of each of
its window taps and whether that tap is inside the input (a validity mask, never
a sentinel value in the data). Columns ``cols[a, o, t, b]`` are gathered from the
input seen as ``(A, P, B)`` planes (``_numpy_common.planes_view``: A = N*C, B = 1
for channels_first; A = N, B = C for channels_last, so neither layout is
transposed) and reduced along the tap axis; gradients are scattered back with
``np.bincount`` (col2im), which accumulates overlapping windows. Work is split in
chunks of planes and output positions so that no column block exceeds
``CHUNK_ELEMENTS`` elements, which bounds memory.

Pooled, adaptive and global windows all become tables, so one set of reductions
serves every op. Convolution gathers columns the same way and contracts them with
the weights (a matmul per group).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf import SpecError
from poolconf.conformance.backends import _numpy_common as cm
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

DECLARATIONS = dict(cm.DECLARATIONS)
CHUNK_ELEMENTS = 1 << 22  # at most 4 Mi column elements (32 MiB in float64) at a time


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """``idx[o, t]``: flat input position of tap ``t`` of output ``o`` (0 where
    invalid); ``valid[o, t]``: the tap is in the input; ``count``: the divisor of an
    average over in-bounds taps; ``extent``: taps inside the padded extent."""

    idx: np.ndarray
    valid: np.ndarray
    count: np.ndarray
    extent: np.ndarray
    out_spatial: tuple[int, ...]

    @property
    def n_out(self) -> int:
        return self.idx.shape[0]

    @property
    def taps(self) -> int:
        return self.idx.shape[1]


def _table(
    per_axis: list[tuple[np.ndarray, np.ndarray, np.ndarray]], spatial: Sequence[int]
) -> Table:
    """N-d table from per-axis ``(pos[o, j], valid[o, j], in_extent[o, j])``: the
    row-major product of the per-axis taps [POOL-GEOM-8]."""
    rank = len(spatial)
    strides = [math.prod(spatial[i + 1 :]) for i in range(rank)]
    idx: Any = 0
    valid: Any = True
    ext: Any = True
    for i, (pos, ok, inext) in enumerate(per_axis):
        shape = [1] * (2 * rank)
        shape[i], shape[rank + i] = pos.shape
        idx = idx + pos.reshape(shape) * strides[i]
        valid = valid & ok.reshape(shape)
        ext = ext & inext.reshape(shape)
    out_spatial = tuple(p.shape[0] for p, _, _ in per_axis)
    full = (*out_spatial, *(p.shape[1] for p, _, _ in per_axis))
    n_out, taps = math.prod(out_spatial), math.prod(full[rank:])
    idx = np.broadcast_to(idx, full).reshape(n_out, taps)
    valid = np.broadcast_to(valid, full).reshape(n_out, taps)
    ext = np.broadcast_to(ext, full).reshape(n_out, taps)
    idx = np.where(valid, idx, 0).astype(np.intp)
    return Table(idx, valid, valid.sum(axis=1), ext.sum(axis=1), out_spatial)


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a sliding window: length, kernel, stride, dilation, padding
    ``(pb, pe)`` and the number of windows."""

    length: int
    kernel: int
    stride: int
    dilation: int
    pad_begin: int
    pad_end: int
    out: int


def _window_count(length: int, span: int, stride: int, pad_begin: int, ceil: bool) -> int:
    """How many windows fit: window ``o`` starts at padded position ``o*s``. Floor mode
    keeps every window inside the padded input, ``o*s <= span``; ceil mode also keeps one
    that hangs past it, ``o*s < span + s``, but never a last one that would start in the
    end padding, ``o*s >= L + pb`` [POOL-GEOM-2..4]. Written from the rule, not taken
    from the reference's geometry, so the two implementations check each other."""
    if not ceil:
        return span // stride + 1 if span >= 0 else 0
    count = 0
    while count * stride < span + stride:
        count += 1
    if count > 1 and (count - 1) * stride >= length + pad_begin:
        count -= 1
    return count


def _axes(
    spatial: Sequence[int],
    kernel_size: object,
    stride: object,
    padding: object,
    dilation: object,
    ceil_mode: bool,
) -> list[Axis]:
    """The window geometry of a pooling or conv call, computed here. Only the parsing of
    the arguments (validation, per-dim forms) is the reference's [POOL-PARAM-*]."""
    rank = len(spatial)
    k = geo.per_dim(kernel_size, "kernel_size", rank, 1, "POOL-PARAM-1")
    s = k if stride is None else geo.per_dim(stride, "stride", rank, 1, "POOL-PARAM-2")
    d = geo.per_dim(dilation, "dilation", rank, 1, "POOL-PARAM-3")
    axes = []
    for i, L in enumerate(spatial):
        reach = d[i] * (k[i] - 1) + 1  # first to last tap
        if padding in ("same_upper", "same_lower"):
            total = max(0, (-(-L // s[i]) - 1) * s[i] + reach - L)  # TensorFlow's SAME
            small, large = total // 2, total - total // 2
            pb, pe = (small, large) if padding == "same_upper" else (large, small)
        else:
            pb, pe = geo.resolve_padding(padding, spatial, k, s, d)[i]
        out = _window_count(L, L + pb + pe - reach, s[i], pb, ceil_mode)
        if out < 1:
            raise SpecError(
                f"output length {out} along spatial dim {i} (input {L}, kernel_size {k[i]}, "
                f"stride {s[i]}, dilation {d[i]}, padding ({pb}, {pe}), ceil_mode {ceil_mode}) "
                f"must be >= 1",
                "POOL-GEOM-7",
            )
        axes.append(Axis(L, k[i], s[i], d[i], pb, pe, out))
    return axes


def _pool_table(axes: list[Axis]) -> Table:
    return _table([cm.tap_masks(a) for a in axes], [a.length for a in axes])


def _adaptive_table(spatial: Sequence[int], bounds: list[tuple[np.ndarray, np.ndarray]]) -> Table:
    per_axis = []
    for start, length in bounds:
        j = np.arange(int(length.max()))[None, :]
        ok = j < length[:, None]
        per_axis.append((start[:, None] + j, ok, ok))
    return _table(per_axis, spatial)


def _global_table(spatial: Sequence[int]) -> Table:
    return _adaptive_table(spatial, [(np.zeros(1, np.int64), np.array([n])) for n in spatial])


def _chunks(a: int, t: Table, b: int) -> Iterator[tuple[slice, slice]]:
    """Blocks of planes x output positions whose columns hold <= CHUNK_ELEMENTS."""
    per_out = max(1, t.taps * b)
    outs = max(1, min(t.n_out, CHUNK_ELEMENTS // per_out))
    planes = max(1, min(a, CHUNK_ELEMENTS // (per_out * outs)))
    for a0 in range(0, a, planes):
        for o0 in range(0, t.n_out, outs):
            yield slice(a0, min(a, a0 + planes)), slice(o0, min(t.n_out, o0 + outs))


def _cols(x3: np.ndarray, t: Table, asl: slice, osl: slice) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``(a, o, T, B)`` of a block and its validity mask ``(1, o, T, 1)``."""
    return x3[asl][:, t.idx[osl], :], t.valid[osl][None, :, :, None]


def _out_array(
    x: np.ndarray, layout: str, t: Table, dtype: Any, channels: int | None = None
) -> np.ndarray:
    a, _, b = cm.planes_view(x, layout).shape if channels is None else (x.shape[0], 0, channels)
    return np.empty((a, t.n_out, b), dtype)


def _reshape_out(
    o3: np.ndarray, x: np.ndarray, layout: str, t: Table, channels: int | None = None
) -> np.ndarray:
    return o3.reshape(cm.with_spatial(x, layout, t.out_spatial, channels))


def _scatter(keys: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """col2im: sum the weights of equal keys (float64)."""
    return np.bincount(keys.ravel(), weights=weights.ravel(), minlength=size)


def _keys(t: Table, asl: slice, osl: slice, p: int, b: int) -> np.ndarray:
    """Flat position within the block's ``(a, P, B)`` slab of every column element."""
    a = asl.stop - asl.start
    return (np.arange(a)[:, None, None, None] * p + t.idx[osl][None, :, :, None]) * b + np.arange(
        b
    )[None, None, None, :]


# ---------------------------------------------------------------------------
# reductions over tables
# ---------------------------------------------------------------------------


def _reduce_max(cols: np.ndarray, valid: np.ndarray, ident: Any) -> tuple[np.ndarray, np.ndarray]:
    """Max along the tap axis of ``cols (a, o, T, B)`` over the valid taps, and the
    tap that holds it (-1 for a window without valid taps): the first maximum in
    window order, the first NaN [POOL-MAX-2, -4, -5]. A strict ``>`` keeps the first
    of tied values (``-0.0 == +0.0`` included); a window of -inf / dtype-min values
    keeps its first valid tap, an empty one the identity [POOL-EMPTY-1]."""
    a, o, taps, b = cols.shape
    v = np.full((a, o, b), ident, cols.dtype)
    am = np.full((a, o, b), -1, np.int64)
    nan = cols.dtype.kind == "f" and bool(np.isnan(cols).any())
    for t in range(taps):
        c = cols[:, :, t, :]
        ok = valid[:, t][None, :, None]
        take = (c > v) | (am == -1)
        if nan:
            take |= np.isnan(c) & ~np.isnan(v)
        if not ok.all():
            take &= ok
        np.copyto(v, c, where=take)
        np.copyto(am, t, where=take)
    return v, am


def _table_max(x: np.ndarray, t: Table, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Max and flat plane index of every window, block by block [POOL-MAX-1, POOL-IDX-1]."""
    xw = cm.working(x)
    x3 = cm.planes_view(xw, layout)
    values = _out_array(x, layout, t, xw.dtype)
    index = _out_array(x, layout, t, np.int64)
    for asl, osl in _chunks(x3.shape[0], t, x3.shape[2]):
        cols, _ = _cols(x3, t, asl, osl)
        v, am = _reduce_max(cols, t.valid[osl], cm.ident_max(xw.dtype))
        rows = np.arange(osl.stop - osl.start)[None, :, None]
        flat = t.idx[osl][rows, np.maximum(am, 0)]
        values[asl, osl], index[asl, osl] = v, np.where(am >= 0, flat, -1)
    return values, index


def _table_max_values(x: np.ndarray, t: Table, layout: str) -> np.ndarray:
    """Max of every window without its index: ``np.max`` along the tap axis with the
    invalid taps set to the identity, many times faster than ``_reduce_max``'s tap
    loop. It propagates NaN, but the sign of a ``-0.0``/``+0.0`` tie is arbitrary, so
    a block with a zero result is redone with ``_reduce_max`` [POOL-MAX-2, -5]."""
    xw = cm.working(x)
    x3 = cm.planes_view(xw, layout)
    values = _out_array(x, layout, t, xw.dtype)
    ident = cm.ident_max(xw.dtype)
    for asl, osl in _chunks(x3.shape[0], t, x3.shape[2]):
        cols, mask = _cols(x3, t, asl, osl)
        valid = t.valid[osl]
        v = (cols if valid.all() else np.where(mask, cols, ident)).max(axis=2)
        if xw.dtype.kind == "f" and (v == 0).any():
            v = _reduce_max(cols, valid, ident)[0]
        values[asl, osl] = v
    return values


def _table_sum(xa: np.ndarray, t: Table, layout: str, div: np.ndarray) -> np.ndarray:
    """Sum of the valid taps over ``div`` (per output), in ``xa``'s dtype."""
    x3 = cm.planes_view(xa, layout)
    out = _out_array(xa, layout, t, xa.dtype)
    d = div.astype(xa.dtype)[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        for asl, osl in _chunks(x3.shape[0], t, x3.shape[2]):
            cols, mask = _cols(x3, t, asl, osl)
            out[asl, osl] = np.where(mask, cols, 0).sum(axis=2) / d[:, osl]
    return out


def _lp_block(
    cols: np.ndarray, mask: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``|cols|`` (0 where invalid), window max ``m``, its power-of-two scale, and
    ``s = sum (|x|/scale)**p`` (float64)."""
    xa = np.where(mask, np.abs(cols.astype(np.float64)), 0.0)
    m = np.max(np.where(mask, xa, -np.inf), axis=2, keepdims=True)
    scale = cm.pow2_scale(m)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.sum((xa / scale) ** p, axis=2, keepdims=True)
    return xa, m, scale, s


def _table_lp(x: np.ndarray, t: Table, layout: str, p: int, dtype: str) -> np.ndarray:
    """Lp norm with per-window power-of-two scaling [POOL-LP-1]."""
    x3 = cm.planes_view(x, layout)
    out = _out_array(x, layout, t, np.float64)
    for asl, osl in _chunks(x3.shape[0], t, x3.shape[2]):
        cols, mask = _cols(x3, t, asl, osl)
        _, m, scale, s = _lp_block(cols, mask, p)
        out[asl, osl] = cm.lp_finish(m, scale, s, p)[:, :, 0, :]
    return cm.finish(out, dtype)


# ---------------------------------------------------------------------------
# gradients (col2im)
# ---------------------------------------------------------------------------


def _max_grad(
    x: np.ndarray, g: np.ndarray, t: Table, layout: str, dtype: str, tie_policy: str
) -> np.ndarray:
    """Route each upstream value to the first (or every) maximum [POOL-GRAD-2, -3]."""
    x3 = cm.planes_view(cm.working(x), layout)
    g3 = cm.planes_view(g, layout).astype(np.float64)
    a_all, p, b = x3.shape
    gx = np.zeros(x3.size)
    if tie_policy == "first":
        _, index = _table_max(x, t, layout)
        keys = (np.arange(a_all)[:, None, None] * p + index) * b + np.arange(b)[None, None, :]
        ok = index >= 0
        gx += _scatter(keys[ok], g3[ok], gx.size)
        return cm.finish(gx.reshape(x.shape), dtype)
    values, _ = _table_max(x, t, layout)
    for asl, osl in _chunks(a_all, t, b):
        cols, mask = _cols(x3, t, asl, osl)
        v = values[asl, osl][:, :, None, :]
        sel = mask & ((cols == v) | (np.isnan(cols) & np.isnan(v)))
        w = np.where(sel, g3[asl, osl][:, :, None, :], 0.0)
        keys = _keys(t, asl, osl, p, b)
        base = asl.start * p * b
        gx[base : asl.stop * p * b] += _scatter(
            keys[np.broadcast_to(sel, keys.shape)], w[sel], (asl.stop - asl.start) * p * b
        )
    return cm.finish(gx.reshape(x.shape), dtype)


def _avg_grad(
    x: np.ndarray, g: np.ndarray, t: Table, layout: str, dtype: str, div: np.ndarray
) -> np.ndarray:
    """``g / divisor`` to every valid tap; overlaps accumulate [POOL-GRAD-1, -3]."""
    g3 = cm.planes_view(g, layout).astype(np.float64)
    a_all, p, b = cm.planes_view(x, layout).shape
    d = div.astype(np.float64)[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(d == 0, 0.0, g3 / np.where(d == 0, 1.0, d))
    gx = np.zeros(a_all * p * b)
    for asl, osl in _chunks(a_all, t, b):
        keys = _keys(t, asl, osl, p, b)
        sel = np.broadcast_to(t.valid[osl][None, :, :, None], keys.shape)
        w = np.broadcast_to(share[asl, osl][:, :, None, :], keys.shape)
        gx[asl.start * p * b : asl.stop * p * b] += _scatter(
            keys[sel], w[sel], (asl.stop - asl.start) * p * b
        )
    return cm.finish(gx.reshape(x.shape), dtype)


def _lp_grad(x: np.ndarray, g: np.ndarray, t: Table, layout: str, dtype: str, p: int) -> np.ndarray:
    """``g * sign(x) * (|x|/y)**(p-1)``; zero norm 0, non-finite window NaN [POOL-GRAD-4, -8]."""
    x3 = cm.planes_view(x, layout)
    g3 = cm.planes_view(g, layout).astype(np.float64)
    a_all, pl, b = x3.shape
    gx = np.zeros(a_all * pl * b)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for asl, osl in _chunks(a_all, t, b):
            cols, mask = _cols(x3, t, asl, osl)
            xa, m, scale, s = _lp_block(cols, mask, p)
            coef = cm.lp_grad_coef(g3[asl, osl][:, :, None, :], m, s, p)
            w = coef * np.sign(cols.astype(np.float64)) * (xa / scale) ** (p - 1)
            keys = _keys(t, asl, osl, pl, b)
            sel = np.broadcast_to(mask, keys.shape)
            gx[asl.start * pl * b : asl.stop * pl * b] += _scatter(
                keys[sel], w[sel], (asl.stop - asl.start) * pl * b
            )
    return cm.finish(gx.reshape(x.shape), dtype)


# ---------------------------------------------------------------------------
# public ops
# ---------------------------------------------------------------------------


def _pool(
    x: np.ndarray,
    op: str,
    allowed: Sequence[str],
    layout: str,
    kernel_size: object,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    ceil_mode: bool,
) -> tuple[str, Table]:
    dtype = args.check_array(x, "x", allowed, op, layout)
    ceil = args.check_bool(ceil_mode, "ceil_mode")
    spatial = cm.spatial_shape(x, layout)
    return dtype, _pool_table(_axes(spatial, kernel_size, stride, padding, dilation, ceil))


def max_pool_with_indices(
    x: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling and the int64 flat index within each (N, C) plane [POOL-MAX-1, POOL-IDX-1]."""
    dtype, t = _pool(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    values, index = _table_max(x, t, layout)
    return cm.finish(_reshape_out(values, x, layout, t), dtype), _reshape_out(index, x, layout, t)


def max_pool(
    x: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    dtype, t = _pool(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    return cm.finish(_reshape_out(_table_max_values(x, t, layout), x, layout, t), dtype)


def max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    dtype, t = _pool(
        x,
        "max_pool_grad",
        dt.FLOAT_DTYPES,
        layout,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )
    args.check_tie_policy(tie_policy)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial), dtype)
    return _max_grad(x, g, t, layout, dtype, tie_policy)


def _avg_div(t: Table, count_include_pad: object, divisor_override: object) -> np.ndarray:
    args.check_bool(count_include_pad, "count_include_pad")
    override = args.check_divisor(divisor_override)
    if override is not None:
        return np.full(t.n_out, override)
    return t.extent if count_include_pad else t.count


def avg_pool(
    x: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """Sum of the valid taps over the divisor [POOL-AVG-*]; divisor 0 gives NaN [POOL-EMPTY-1]."""
    dtype, t = _pool(
        x, "avg_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    div = _avg_div(t, count_include_pad, divisor_override)
    out = cm.robust_sum(lambda xa: _table_sum(xa, t, layout, div), x, dtype)
    return cm.finish(_reshape_out(out, x, layout, t), dtype)


def avg_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    dtype, t = _pool(
        x,
        "avg_pool_grad",
        dt.FLOAT_DTYPES,
        layout,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )
    div = _avg_div(t, count_include_pad, divisor_override)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial), dtype)
    return _avg_grad(x, g, t, layout, dtype, div)


def lp_pool(
    x: np.ndarray,
    *,
    kernel_size: object,
    p: int = 2,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    dtype, t = _pool(
        x, "lp_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    p = args.check_p(p)
    return _reshape_out(_table_lp(x, t, layout, p, dtype), x, layout, t)


def lp_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: object,
    p: int = 2,
    stride: object = None,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    dtype, t = _pool(
        x,
        "lp_pool_grad",
        dt.FLOAT_DTYPES,
        layout,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )
    p = args.check_p(p)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial), dtype)
    return _lp_grad(x, g, t, layout, dtype, p)


def _adaptive(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[str, Table]:
    dtype, _, bounds = cm.adaptive_setup(x, op, allowed, output_size, layout)
    return dtype, _adaptive_table(cm.spatial_shape(x, layout), bounds)


def adaptive_max_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive max over ``[floor(iL/O), ceil((i+1)L/O))`` per axis [POOL-ADAPT-1]."""
    dtype, t = _adaptive(x, "adaptive_max_pool", dt.ALL_DTYPES, output_size, layout)
    return cm.finish(_reshape_out(_table_max_values(x, t, layout), x, layout, t), dtype)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    dtype, t = _adaptive(x, "adaptive_avg_pool", dt.FLOAT_DTYPES, output_size, layout)
    out = cm.robust_sum(lambda xa: _table_sum(xa, t, layout, t.count), x, dtype)
    return cm.finish(_reshape_out(out, x, layout, t), dtype)


def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: object,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    dtype, t = _adaptive(x, "adaptive_max_pool_grad", dt.FLOAT_DTYPES, output_size, layout)
    args.check_tie_policy(tie_policy)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial), dtype)
    return _max_grad(x, g, t, layout, dtype, tie_policy)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    dtype, t = _adaptive(x, "adaptive_avg_pool_grad", dt.FLOAT_DTYPES, output_size, layout)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial), dtype)
    return _avg_grad(x, g, t, layout, dtype, t.count)


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """A single window over the whole plane [POOL-GLOBAL-1]."""
    dtype = args.check_array(x, "x", dt.ALL_DTYPES, "global_max_pool", layout)
    t = _global_table(cm.spatial_shape(x, layout))
    return cm.finish(_reshape_out(_table_max_values(x, t, layout), x, layout, t), dtype)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    dtype = args.check_array(x, "x", dt.FLOAT_DTYPES, "global_avg_pool", layout)
    t = _global_table(cm.spatial_shape(x, layout))
    out = cm.robust_sum(lambda xa: _table_sum(xa, t, layout, t.count), x, dtype)
    return cm.finish(_reshape_out(out, x, layout, t), dtype)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    dtype = args.check_array(x, "x", dt.FLOAT_DTYPES, "global_lp_pool", layout)
    p = args.check_p(p)
    t = _global_table(cm.spatial_shape(x, layout))
    return _reshape_out(_table_lp(x, t, layout, p, dtype), x, layout, t)


max_unpool = cm.max_unpool
zero_pad = cm.zero_pad


# ---------------------------------------------------------------------------
# convolution: im2col + matmul per group
# ---------------------------------------------------------------------------


def _conv_setup(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Any,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    groups: object,
    layout: str,
    op: str,
) -> tuple[str, int, Table]:
    dtype, grp = args.check_conv(x, weight, bias, groups, layout, op)
    conv_stride = 1 if stride is None else stride  # conv's default [POOL-PARAM-2]
    spatial = cm.spatial_shape(x, layout)
    axes = _axes(spatial, tuple(weight.shape[2:]), conv_stride, padding, dilation, False)
    return dtype, grp, _pool_table(axes)


def _conv_cols(x: np.ndarray, t: Table, layout: str, nsl: slice, osl: slice) -> np.ndarray:
    """Columns ``(n, o, C_in, T)`` of a block of batch elements, zero at invalid taps."""
    x3 = cm.planes_view(x, layout)
    if layout == "channels_last":
        cols = x3[nsl][:, t.idx[osl], :].transpose(0, 1, 3, 2)
    else:
        c = x.shape[1]
        cols = x3[nsl.start * c : nsl.stop * c][:, t.idx[osl], 0]
        cols = cols.reshape(nsl.stop - nsl.start, c, osl.stop - osl.start, t.taps).transpose(
            0, 2, 1, 3
        )
    return np.where(t.valid[osl][None, :, None, :], cols, 0.0)


def _conv_chunks(n: int, c_in: int, t: Table) -> Iterator[tuple[slice, slice]]:
    per_out = max(1, t.taps * c_in)
    outs = max(1, min(t.n_out, CHUNK_ELEMENTS // per_out))
    batch = max(1, min(n, CHUNK_ELEMENTS // (per_out * outs)))
    for n0 in range(0, n, batch):
        for o0 in range(0, t.n_out, outs):
            yield slice(n0, min(n, n0 + batch)), slice(o0, min(t.n_out, o0 + outs))


def _nc_out(o: np.ndarray, x: np.ndarray, layout: str, t: Table) -> np.ndarray:
    """``(N, O, C)`` -> the output layout."""
    if layout == "channels_first":
        o = o.transpose(0, 2, 1)
    return np.ascontiguousarray(o).reshape(
        cm.with_spatial(x, layout, t.out_spatial, o.shape[-1 if layout == "channels_last" else 1])
    )


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: object = 1,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> np.ndarray:
    """im2col + one matmul per group, in float64 [POOL-CONV-1, -2]. Padding taps are
    zero columns; if the weights hold inf or NaN (0 * inf would be NaN, while the
    spec skips padding taps) the contraction runs tap by tap over valid outputs."""
    dtype, grp, t = _conv_setup(x, weight, bias, stride, padding, dilation, groups, layout, "conv")
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)
    n, c_out, cig = x.shape[0], weight.shape[0], weight.shape[1]
    cog = c_out // grp
    wt = w64.reshape(c_out, cig, t.taps)
    exact_skip = not np.isfinite(wt).all() and not t.valid.all()
    out = np.zeros((n, t.n_out, c_out))
    with np.errstate(invalid="ignore", over="ignore"):
        for nsl, osl in _conv_chunks(n, x.shape[-1 if layout == "channels_last" else 1], t):
            cols = _conv_cols(x64, t, layout, nsl, osl)
            for ci, co in cm.group_channels(grp, cig, cog):
                cg, wg = cols[:, :, ci, :], wt[co]
                if not exact_skip:
                    out[nsl, osl, co] = np.tensordot(cg, wg, axes=([2, 3], [1, 2]))
                    continue
                for tap in range(t.taps):
                    ok = np.flatnonzero(t.valid[osl, tap]) + osl.start
                    part = np.tensordot(
                        cg[:, :, :, tap][:, ok - osl.start],
                        wg[:, :, tap],
                        axes=([2], [1]),
                    )
                    out[nsl, ok, co] += part
        if bias is not None:
            out += bias.astype(np.float64)
    return cm.finish(_nc_out(out, x, layout, t), dtype)


def conv_grad(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_output: np.ndarray,
    *,
    stride: object = 1,
    padding: geo.PaddingArg = 0,
    dilation: object = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """grad_x by col2im of ``g @ W``; grad_w by ``cols^T @ g``; grad_b by summing ``g``
    [POOL-GRAD-5]. Non-finite upstream values take the tap-by-tap path for grad_w."""
    dtype, grp, t = _conv_setup(
        x, weight, bias, stride, padding, dilation, groups, layout, "conv_grad"
    )
    n, c_out, cig = x.shape[0], weight.shape[0], weight.shape[1]
    cog, c_in = c_out // grp, cig * grp
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, t.out_spatial, c_out), dtype)
    x64, wt = x.astype(np.float64), weight.astype(np.float64).reshape(c_out, cig, t.taps)
    g64 = g.astype(np.float64)
    g3 = (
        g64.reshape(n, t.n_out, c_out)
        if layout == "channels_last"
        else g64.reshape(n, c_out, t.n_out).transpose(0, 2, 1)
    )
    exact_skip = not np.isfinite(g64).all() and not t.valid.all()
    p = math.prod(cm.spatial_shape(x, layout))
    gx = np.zeros(x.size)
    gw = np.zeros((c_out, cig, t.taps))
    with np.errstate(invalid="ignore", over="ignore"):
        for nsl, osl in _conv_chunks(n, c_in, t):
            cols = _conv_cols(x64, t, layout, nsl, osl)
            nb, ob = nsl.stop - nsl.start, osl.stop - osl.start
            # flat positions in x of every (n, o, ci, tap) column element
            nn = np.arange(nsl.start, nsl.stop)[:, None, None, None]
            ci = np.arange(c_in)[None, None, :, None]
            pos = t.idx[osl][None, :, None, :]
            keys = (
                (nn * p + pos) * c_in + ci
                if layout == "channels_last"
                else (nn * c_in + ci) * p + pos
            )
            sel = np.broadcast_to(t.valid[osl][None, :, None, :], (nb, ob, c_in, t.taps))
            dcols = np.empty((nb, ob, c_in, t.taps))
            for cs, co in cm.group_channels(grp, cig, cog):
                gb_ = g3[nsl, osl, co]
                dcols[:, :, cs, :] = np.tensordot(gb_, wt[co], axes=([2], [0]))
                if not exact_skip:
                    gw[co] += np.tensordot(gb_, cols[:, :, cs, :], axes=([0, 1], [0, 1]))
                    continue
                for tap in range(t.taps):
                    ok = np.flatnonzero(t.valid[osl, tap])
                    gw[co, :, tap] += np.tensordot(
                        gb_[:, ok], cols[:, :, cs, tap][:, ok], axes=([0, 1], [0, 1])
                    )
            gx += _scatter(np.broadcast_to(keys, sel.shape)[sel], dcols[sel], x.size)
    gb = None if bias is None else cm.finish(g3.sum(axis=(0, 1)), dtype)
    return cm.finish(gx.reshape(x.shape), dtype), cm.finish(gw.reshape(weight.shape), dtype), gb
