"""The ``numpy-strided`` backend: vectorised pooling with strided slices, no Python
loop over output positions (loops run over kernel taps and axes only).

Every op works on the array as it is laid out (channels_first or channels_last;
no transposing copy). A tap ``j`` of an axis is one strided slice of the input
that feeds the outputs ``[lo, hi)`` whose tap ``j`` is in bounds
(``_numpy_common.tap_range``), so padding is never materialised.

* Max and average pooling are separable: an N-d window is the product of its
  per-axis taps, so the max (sum) of a window is the max (sum) along the last
  spatial axis, then the one before, and so on. Reducing the last axis first and
  keeping the first maximum on ties gives the first maximum in row-major window
  order [POOL-MAX-4]. ``np.maximum`` propagates NaN but picks either zero on a
  ``-0.0``/``+0.0`` tie, so outputs equal to zero are recomputed with an explicit
  keep-first comparison [POOL-MAX-5].
* The average divisor is a product of per-axis tap counts [POOL-AVG-3, -4].
* The max gradient is separable too (``_route_max``): upstream values travel back
  one axis at a time to the taps that hold each axis' intermediate maximum.
* Max, average and their gradients run block by block over the planes so that
  intermediates stay in cache. Lp pooling and conv loop over the N-d
  kernel taps.
* Adaptive windows use the same machinery with index arrays in place of slices.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any, Union

import numpy as np

from poolconf.conformance.backends import _numpy_common as cm
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

DECLARATIONS = dict(cm.DECLARATIONS)

Indexer = Union[slice, np.ndarray]  # noqa: UP007 (a runtime alias)
# per axis: (axis number, output length along it, [(dst, src) per tap])
Plan = tuple[int, int, list[tuple[Indexer, Indexer]]]


# ---------------------------------------------------------------------------
# plans: which input positions feed which outputs, per axis and tap
# ---------------------------------------------------------------------------


def _pool_plans(w: cm.Window) -> list[Plan]:
    plans: list[Plan] = []
    for axis, a in zip(w.axes, w.geometry.axes):
        taps: list[tuple[Indexer, Indexer]] = []
        for j in range(a.kernel):
            lo, hi, start = cm.tap_range(a, j)
            if lo < hi:
                taps.append(
                    (slice(lo, hi), slice(start, start + (hi - lo - 1) * a.stride + 1, a.stride))
                )
        plans.append((axis, a.out, taps))
    return plans


def _adaptive_plans(axes: Sequence[int], bounds: list[tuple[np.ndarray, np.ndarray]]) -> list[Plan]:
    plans = []
    for axis, (start, length) in zip(axes, bounds):
        taps: list[tuple[Indexer, Indexer]] = []
        for j in range(int(length.max())):
            dst = np.flatnonzero(length > j)
            taps.append((dst, start[dst] + j))
        plans.append((axis, start.size, taps))
    return plans


def _ix(ndim: int, axis: int, ix: Indexer) -> tuple[Any, ...]:
    index: list[Any] = [slice(None)] * ndim
    index[axis] = ix
    return tuple(index)


def _get(a: np.ndarray, axis: int, ix: Indexer) -> np.ndarray:
    return a[_ix(a.ndim, axis, ix)] if isinstance(ix, slice) else np.take(a, ix, axis=axis)


# ---------------------------------------------------------------------------
# separable reductions
# ---------------------------------------------------------------------------


def _resized(a: np.ndarray, axis: int, n: int) -> list[int]:
    shape = list(a.shape)
    shape[axis] = n
    return shape


def _start(
    a: np.ndarray, axis: int, n: int, taps: list[tuple[Indexer, Indexer]], fill: Any
) -> tuple[np.ndarray, list[tuple[Indexer, Indexer]]]:
    """The result array of one axis' reduction, initialised with a tap that feeds every
    output (a copy, saving one pass) or with ``fill``; and the taps still to apply."""
    for i, (dst, src) in enumerate(taps):
        if isinstance(dst, slice) and dst.start == 0 and dst.stop == n:
            return np.array(_get(a, axis, src)), taps[:i] + taps[i + 1 :]
    return np.full(_resized(a, axis, n), fill, a.dtype), taps


def _reduce_max(
    a: np.ndarray, axis: int, n: int, taps: list[tuple[Indexer, Indexer]]
) -> np.ndarray:
    """Max along one axis with ``np.maximum`` (NaN propagates; a zero tie's sign is arbitrary)."""
    res, rest = _start(a, axis, n, taps, cm.ident_max(a.dtype))
    for dst, src in rest:
        if isinstance(dst, slice):
            r = res[_ix(res.ndim, axis, dst)]
            np.maximum(r, _get(a, axis, src), out=r)
        else:
            index = _ix(res.ndim, axis, dst)
            res[index] = np.maximum(res[index], _get(a, axis, src))
    return res


def _sep_max_fast(x: np.ndarray, plans: list[Plan]) -> np.ndarray:
    """Separable max (the order of the axes does not matter for the value): first
    spatial axis first, so that the strided passes along the last, contiguous axis
    run on the smallest intermediate."""
    a = x
    for axis, n, taps in plans:
        a = _reduce_max(a, axis, n, taps)
    return a


# Speed: the ops below run block by block over the planes (channels_first:
# N*C planes; channels_last: N images), so that a block's intermediates stay in the
# CPU cache instead of streaming every per-axis pass through main memory.
BLOCK_BYTES = 1 << 20


def _planes(a: np.ndarray, layout: str) -> np.ndarray:
    """``a`` with its independent planes on axis 0 and the spatial axes where they
    were: ``(N*C, 1, *spatial)`` for channels_first, ``a`` itself for channels_last."""
    if layout == "channels_first":
        return a.reshape(a.shape[0] * a.shape[1], 1, *a.shape[2:])
    return a


def _blockwise(
    fn: Any, arrays: Sequence[np.ndarray], layout: str, shape: Sequence[int], dtype: Any
) -> np.ndarray:
    """``fn(*blocks)`` over blocks of planes of ``arrays`` (all with the same planes),
    assembled into a new array of ``shape`` (in the call's layout) and ``dtype``."""
    views = [_planes(a, layout) for a in arrays]
    out = np.empty(shape, dtype)
    out_v = _planes(out, layout)
    total = views[0].shape[0]
    per_plane = max(1, sum(v[:1].nbytes for v in views))
    rows = max(1, BLOCK_BYTES // per_plane)
    with np.errstate(over="ignore", invalid="ignore"):  # rounding to dtype, as cm.finish
        for i in range(0, total, rows):
            out_v[i : i + rows] = fn(*(v[i : i + rows] for v in views))
    return out


def _sep_max_first(
    x: np.ndarray, plans: list[Plan], flat: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Separable max keeping the first maximum in row-major window order, the first
    NaN, and (with ``flat``, the plane index of every input element) its index;
    an empty window keeps the identity and index -1 [POOL-MAX-2, -4, -5, POOL-EMPTY-1]."""
    a, ia = x, flat
    is_float = x.dtype.kind == "f"
    for axis, n, taps in reversed(plans):
        res = np.full(_resized(a, axis, n), cm.ident_max(a.dtype), a.dtype)
        ires = None if ia is None else np.full(res.shape, -1, np.int64)
        for dst, src in taps:
            index = _ix(res.ndim, axis, dst)
            r, v = res[index], _get(a, axis, src)
            take = v > r
            if is_float:
                take |= np.isnan(v) & ~np.isnan(r)
            if ires is not None and ia is not None:
                ri, vi = ires[index], _get(ia, axis, src)
                take |= ri == -1
                take &= vi != -1
                ires[index] = np.where(take, vi, ri)
            res[index] = np.where(take, v, r)
        a, ia = res, ires
    return a, ia


def _sep_max(x: np.ndarray, plans: list[Plan]) -> np.ndarray:
    out = _sep_max_fast(x, plans)
    if out.dtype.kind == "f" and (out == 0).any():
        out = _sep_max_first(x, plans)[0]
    return out


def _sep_sum(x: np.ndarray, plans: list[Plan]) -> np.ndarray:
    """Separable window sums, first spatial axis first (see ``_sep_max_fast``)."""
    a = x
    for axis, n, taps in plans:
        res, rest = _start(a, axis, n, taps, 0)
        for dst, src in rest:
            index = _ix(res.ndim, axis, dst)
            if isinstance(dst, slice):
                res[index] += _get(a, axis, src)
            else:
                res[index] = res[index] + _get(a, axis, src)
        a = res
    return a


def _sep_spread(z: np.ndarray, plans: list[Plan], in_shape: Sequence[int]) -> np.ndarray:
    """Transpose of ``_sep_sum``: every output value added to each tap of its window."""
    a = z
    for axis, _, taps in plans:
        res = np.zeros(_resized(a, axis, in_shape[axis]), a.dtype)
        for dst, src in taps:
            part = a[_ix(a.ndim, axis, dst)]
            if isinstance(src, slice):
                res[_ix(res.ndim, axis, src)] += part
            else:  # adaptive windows: a position may repeat within one tap
                np.add.at(np.moveaxis(res, axis, 0), src, np.moveaxis(part, axis, 0))
        a = res
    return a


def _nd_taps(
    plans: list[Plan], ndim: int
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], bool]]:
    """N-d kernel taps in row-major window order: (dst index, src index, all slices)."""
    rank = len(plans)
    for combo in itertools.product(*(taps for _, _, taps in plans)):
        dst: list[Any] = [slice(None)] * ndim
        src: list[Any] = [slice(None)] * ndim
        slices = all(isinstance(d, slice) for d, _ in combo)
        for i, ((axis, _, _), (d, s)) in enumerate(zip(plans, combo)):
            if slices:
                dst[axis], src[axis] = d, s
            else:  # outer product of index arrays over the (adjacent) spatial axes
                shape = [1] * rank
                shape[i] = -1
                dd = np.arange(d.start, d.stop) if isinstance(d, slice) else d
                ss = np.arange(s.start, s.stop, s.step) if isinstance(s, slice) else s
                dst[axis], src[axis] = dd.reshape(shape), ss.reshape(shape)
        yield tuple(dst), tuple(src), slices


def _flat_grid(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """The flat index of each element within its (N, C) plane, broadcast to ``x.shape``."""
    spatial = [x.shape[a] for a in axes]
    grid = np.arange(math.prod(spatial), dtype=np.int64).reshape(spatial)
    shape = [1] * x.ndim
    for a, n in zip(axes, spatial):
        shape[a] = n
    return np.broadcast_to(grid.reshape(shape), x.shape)


# ---------------------------------------------------------------------------
# max pooling
# ---------------------------------------------------------------------------


def _route_max(xw: np.ndarray, ga: np.ndarray, plans: list[Plan], tie_policy: str) -> np.ndarray:
    """Max gradient, separably [POOL-GRAD-2, POOL-GRAD-3]. The forward max is taken
    along the last spatial axis first, keeping each axis' intermediate maxima; the
    upstream values then travel back one axis at a time, first axis first: at each
    axis a value goes to the taps of its window whose intermediate equals the
    window's maximum (NaN matching NaN), the first such tap only for tie_policy
    "first". Since a row's intermediate maximum is the same for every window that
    contains the row, this selects exactly the first maximum of the N-d window in
    row-major order (the first row holding the maximum, then its first column), or
    with "all" every tap equal to the maximum. Overlapping windows accumulate."""
    levels = [xw]
    for axis, n, taps in reversed(plans):
        levels.append(_reduce_max(levels[-1], axis, n, taps))
    grad = ga
    for depth, (axis, _, taps) in enumerate(plans):
        hi, lo = levels[-1 - depth], levels[-2 - depth]
        nan = hi.dtype.kind == "f" and bool(np.isnan(hi).any())
        # selecting by multiplying with the mask is many times faster than np.where or a
        # masked ufunc, and exact, but only for finite values (inf * 0 is NaN)
        finite = bool(np.isfinite(grad).all())
        taken = np.zeros(hi.shape, bool) if tie_policy == "first" else None
        res = np.zeros(lo.shape, grad.dtype)
        for dst, src in taps:
            d_ix = _ix(hi.ndim, axis, dst)
            v, mo = _get(lo, axis, src), hi[d_ix]
            sel = v == mo
            if nan:
                sel |= np.isnan(v) & np.isnan(mo)
            if taken is not None:
                sel &= ~taken[d_ix]
                taken[d_ix] |= sel
            part = grad[d_ix] * sel if finite else np.where(sel, grad[d_ix], 0)
            if isinstance(src, slice):  # distinct positions within one tap
                res[_ix(res.ndim, axis, src)] += part
            else:  # adaptive windows: a position may repeat within one tap
                np.add.at(np.moveaxis(res, axis, 0), src, np.moveaxis(part, axis, 0))
        grad = res
    return grad


def _max_grad(
    x: np.ndarray, g: np.ndarray, plans: list[Plan], dtype: str, tie_policy: str, layout: str
) -> np.ndarray:
    """Route each upstream value to the first (or every) maximum of its window
    (``_route_max``), block by block; sums in the accumulator dtype [POOL-DTYPE-4]."""

    def block(xb: np.ndarray, gb: np.ndarray) -> np.ndarray:
        xw = cm.working(xb)
        return cm.robust_sum(lambda ga: _route_max(xw, ga, plans, tie_policy), gb, dtype)

    return _blockwise(block, [x, g], layout, x.shape, dt.numpy_dtype(dtype))


def _pool_window(x: np.ndarray, op: str, allowed: Sequence[str], kw: dict[str, Any]) -> cm.Window:
    return cm.window(
        x,
        op,
        allowed,
        kw["layout"],
        kw["kernel_size"],
        kw["stride"],
        kw["padding"],
        kw["dilation"],
        kw["ceil_mode"],
    )


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
    """Max pooling; padding never takes part [POOL-MAX-1]."""
    w = cm.window(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    plans = _pool_plans(w)
    shape = cm.with_spatial(x, layout, w.out_spatial)
    return _blockwise(lambda xb: _sep_max(cm.working(xb), plans), [x], layout, shape, x.dtype)


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
    """Max pooling and the int64 flat index within each (N, C) plane [POOL-IDX-1]."""
    w = cm.window(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    xw = cm.working(x)
    vals, idx = _sep_max_first(xw, _pool_plans(w), _flat_grid(xw, w.axes))
    assert idx is not None
    return cm.finish(vals, w.dtype), idx


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
    w = cm.window(
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
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, w.out_spatial), w.dtype)
    return _max_grad(x, g, _pool_plans(w), w.dtype, tie_policy, layout)


# ---------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------


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
    """Separable window sums over the divisor; divisor 0 gives NaN [POOL-AVG-*, POOL-EMPTY-1]."""
    w = cm.window(
        x, "avg_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    args.check_bool(count_include_pad, "count_include_pad")
    div = cm.divisor(w, x.ndim, bool(count_include_pad), args.check_divisor(divisor_override))
    plans = _pool_plans(w)

    def average(xa: np.ndarray) -> np.ndarray:
        s = _sep_sum(xa, plans)
        s /= np.asarray(div, dtype=s.dtype)
        return s

    shape = cm.with_spatial(x, layout, w.out_spatial)
    return _blockwise(lambda xb: cm.robust_sum(average, xb, w.dtype), [x], layout, shape, x.dtype)


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
    """``g / divisor`` spread over each window's in-bounds taps [POOL-GRAD-1, POOL-GRAD-3]."""
    w = cm.window(
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
    args.check_bool(count_include_pad, "count_include_pad")
    div = cm.divisor(w, x.ndim, bool(count_include_pad), args.check_divisor(divisor_override))
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, w.out_spatial), w.dtype)
    return _avg_grad(x, g, div, _pool_plans(w), w.dtype, layout)


def _avg_grad(
    x: np.ndarray, g: np.ndarray, div: Any, plans: list[Plan], dtype: str, layout: str
) -> np.ndarray:
    """Block by block: ``g / divisor`` (0 where the divisor is 0), spread over the windows."""

    def spread(ga: np.ndarray) -> np.ndarray:
        d = np.asarray(div, dtype=ga.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = ga / d
        if (d == 0).any():
            z = np.where(d == 0, 0, z).astype(ga.dtype)
        in_shape = list(_planes(x[:1], layout).shape)
        in_shape[0] = ga.shape[0]
        return _sep_spread(z, plans, in_shape)

    return _blockwise(lambda gb: cm.robust_sum(spread, gb, dtype), [g], layout, x.shape, x.dtype)


# ---------------------------------------------------------------------------
# Lp pooling
# ---------------------------------------------------------------------------


def _lp_parts(
    x: np.ndarray, plans: list[Plan]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``|x|``, the window max ``m`` of ``|x|``, the power-of-two scale of ``m``, and
    ``s = sum (|x|/scale)**p`` later; all float64."""
    xa = np.abs(x.astype(np.float64))
    m = _sep_max_fast(xa, plans)
    scale = cm.pow2_scale(m)
    return xa, m, scale, np.zeros(m.shape)


def _lp_sums(xa: np.ndarray, scale: np.ndarray, s: np.ndarray, plans: list[Plan], p: int) -> None:
    with np.errstate(invalid="ignore", over="ignore"):
        for dst, src, _ in _nd_taps(plans, xa.ndim):
            s[dst] += (xa[src] / scale[dst]) ** p


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
    """``(sum |x|**p) ** (1/p)`` over in-bounds taps, with per-window power-of-two
    scaling so that ``|x|**p`` neither overflows nor underflows [POOL-LP-1]."""
    w = cm.window(
        x, "lp_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    p = args.check_p(p)
    plans = _pool_plans(w)
    xa, m, scale, s = _lp_parts(x, plans)
    _lp_sums(xa, scale, s, plans, p)
    return cm.finish(cm.lp_finish(m, scale, s, p), w.dtype)


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
    """``g * sign(x) * (|x|/y)**(p-1)`` per tap; zero norm gives 0, a non-finite input
    or upstream value NaN over the window [POOL-GRAD-4, POOL-GRAD-8]."""
    w = cm.window(
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
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, w.out_spatial), w.dtype)
    plans = _pool_plans(w)
    xa, m, scale, s = _lp_parts(x, plans)
    _lp_sums(xa, scale, s, plans, p)
    g64 = g.astype(np.float64)
    sign = np.sign(x.astype(np.float64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        coef = cm.lp_grad_coef(g64, m, s, p)
        gx = np.zeros(x.shape)
        for dst, src, _ in _nd_taps(plans, x.ndim):
            gx[src] += coef[dst] * sign[src] * (xa[src] / scale[dst]) ** (p - 1)
    return cm.finish(gx, w.dtype)


# ---------------------------------------------------------------------------
# adaptive and global pooling
# ---------------------------------------------------------------------------


def _adaptive(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[str, tuple[int, ...], list[Plan], Any]:
    dtype, out, bounds = cm.adaptive_setup(x, op, allowed, output_size, layout)
    axes = cm.spatial_axes(x.ndim, layout)
    count: Any = 1
    for axis, (_, length) in zip(axes, bounds):
        count = count * cm.axis_shape(x.ndim, axis, length)
    return dtype, out, _adaptive_plans(axes, bounds), count


def adaptive_max_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive max over ``[floor(iL/O), ceil((i+1)L/O))`` per axis [POOL-ADAPT-1]."""
    _, out, plans, _ = _adaptive(x, "adaptive_max_pool", dt.ALL_DTYPES, output_size, layout)
    shape = cm.with_spatial(x, layout, out)
    return _blockwise(lambda xb: _sep_max(cm.working(xb), plans), [x], layout, shape, x.dtype)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    dtype, out, plans, count = _adaptive(
        x, "adaptive_avg_pool", dt.FLOAT_DTYPES, output_size, layout
    )

    def average(xa: np.ndarray) -> np.ndarray:
        return _sep_sum(xa, plans) / np.asarray(count, xa.dtype)

    shape = cm.with_spatial(x, layout, out)
    return _blockwise(lambda xb: cm.robust_sum(average, xb, dtype), [x], layout, shape, x.dtype)


def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: object,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    dtype, out, plans, _ = _adaptive(
        x, "adaptive_max_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    args.check_tie_policy(tie_policy)
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, out), dtype)
    return _max_grad(x, g, plans, dtype, tie_policy, layout)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    dtype, out, plans, count = _adaptive(
        x, "adaptive_avg_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, out), dtype)
    return _avg_grad(x, g, count, plans, dtype, layout)


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Max over all spatial positions; a zero result takes the sign of the first
    zero of the plane [POOL-GLOBAL-1, POOL-MAX-5]."""
    dtype = args.check_array(x, "x", dt.ALL_DTYPES, "global_max_pool", layout)
    axes = cm.spatial_axes(x.ndim, layout)
    xw = cm.working(x)
    m = np.max(xw, axis=axes, keepdims=True)
    if m.dtype.kind == "f" and (m == 0).any():
        planes = cm.planes_view(np.ascontiguousarray(xw), layout)  # (A, P, B)
        first = np.argmax(planes == 0, axis=1)[:, None, :]
        zero = np.take_along_axis(planes, first, axis=1).reshape(m.shape)
        m = np.where(m == 0, zero, m)
    return cm.finish(m, dtype)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    dtype = args.check_array(x, "x", dt.FLOAT_DTYPES, "global_avg_pool", layout)
    axes = cm.spatial_axes(x.ndim, layout)
    n = math.prod(cm.spatial_shape(x, layout))
    return cm.finish(
        cm.robust_sum(lambda xa: np.sum(xa, axis=axes, keepdims=True) / n, x, dtype), dtype
    )


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    dtype = args.check_array(x, "x", dt.FLOAT_DTYPES, "global_lp_pool", layout)
    p = args.check_p(p)
    axes = cm.spatial_axes(x.ndim, layout)
    xa = np.abs(x.astype(np.float64))
    m = np.max(xa, axis=axes, keepdims=True)
    scale = cm.pow2_scale(m)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.sum((xa / scale) ** p, axis=axes, keepdims=True)
    return cm.finish(cm.lp_finish(m, scale, s, p), dtype)


# ---------------------------------------------------------------------------
# unpooling, padding, convolution
# ---------------------------------------------------------------------------


max_unpool = cm.max_unpool
zero_pad = cm.zero_pad


def _weight_index(out_channels: slice, tap: Sequence[int]) -> tuple[Any, ...]:
    """``weight[out_channels, :, *tap]``: the weights of one kernel tap."""
    return (out_channels, slice(None), *tap)


def _conv_window(
    x: np.ndarray,
    weight: np.ndarray,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    layout: str,
    dtype: str,
) -> cm.Window:
    g = geo.call_geometry(
        "conv",
        cm.spatial_shape(x, layout),
        {"stride": stride, "padding": padding, "dilation": dilation},
        weight.shape[2:],
    )
    return cm.Window(dtype, layout, cm.spatial_axes(x.ndim, layout), g)


def _chan(layout: str, ndim: int) -> int:
    return ndim - 1 if layout == "channels_last" else 1


def _kernel_taps(
    w: cm.Window, x_ndim: int
) -> Iterator[tuple[tuple[int, ...], tuple[Any, ...], tuple[Any, ...]]]:
    """Every kernel tap (row-major) with its output and input slices."""
    per_axis = []
    for a in w.geometry.axes:
        taps = []
        for j in range(a.kernel):
            lo, hi, start = cm.tap_range(a, j)
            if lo < hi:
                taps.append(
                    (j, slice(lo, hi), slice(start, start + (hi - lo - 1) * a.stride + 1, a.stride))
                )
        per_axis.append(taps)
    for combo in itertools.product(*per_axis):
        dst: list[Any] = [slice(None)] * x_ndim
        src: list[Any] = [slice(None)] * x_ndim
        for axis, (_, d, s) in zip(w.axes, combo):
            dst[axis], src[axis] = d, s
        yield tuple(j for j, _, _ in combo), tuple(dst), tuple(src)


def _with_chan(index: tuple[Any, ...], chan: int, sl: slice) -> tuple[Any, ...]:
    out = list(index)
    out[chan] = sl
    return tuple(out)


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
    """Cross-correlation, one tensordot per kernel tap over its in-bounds outputs, in
    float64 [POOL-CONV-1, POOL-CONV-2]."""
    dtype, grp = args.check_conv(x, weight, bias, groups, layout, "conv")
    w = _conv_window(x, weight, stride, padding, dilation, layout, dtype)
    chan = _chan(layout, x.ndim)
    c_out = weight.shape[0]
    cig, cog = weight.shape[1], c_out // grp
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)
    out = np.zeros(cm.with_spatial(x, layout, w.out_spatial, c_out))
    with np.errstate(invalid="ignore", over="ignore"):
        for j, dst, src in _kernel_taps(w, x.ndim):
            for ci, co in cm.group_channels(grp, cig, cog):
                xs = x64[_with_chan(src, chan, ci)]
                part = np.tensordot(xs, w64[_weight_index(co, j)], axes=([chan], [1]))
                out[_with_chan(dst, chan, co)] += np.moveaxis(part, -1, chan)
        if bias is not None:
            out += cm.axis_shape(x.ndim, chan, bias.astype(np.float64))
    return cm.finish(out, dtype)


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
    """Gradients of ``conv`` for x, weight and bias, tap by tap in float64 [POOL-GRAD-5]."""
    dtype, grp = args.check_conv(x, weight, bias, groups, layout, "conv_grad")
    w = _conv_window(x, weight, stride, padding, dilation, layout, dtype)
    chan = _chan(layout, x.ndim)
    c_out = weight.shape[0]
    cig, cog = weight.shape[1], c_out // grp
    g = args.check_grad_output(grad_output, cm.with_spatial(x, layout, w.out_spatial, c_out), dtype)
    x64, w64, g64 = x.astype(np.float64), weight.astype(np.float64), g.astype(np.float64)
    gx = np.zeros(x.shape)
    gw = np.zeros(weight.shape)
    other = [a for a in range(x.ndim) if a != chan]
    with np.errstate(invalid="ignore", over="ignore"):
        for j, dst, src in _kernel_taps(w, x.ndim):
            for ci, co in cm.group_channels(grp, cig, cog):
                gs = g64[_with_chan(dst, chan, co)]
                wk = w64[_weight_index(co, j)]  # (cog, cig)
                part = np.tensordot(gs, wk, axes=([chan], [0]))
                gx[_with_chan(src, chan, ci)] += np.moveaxis(part, -1, chan)
                xs = x64[_with_chan(src, chan, ci)]
                gw[_weight_index(co, j)] += np.tensordot(gs, xs, axes=(other, other))
        gb = None if bias is None else cm.finish(g64.sum(axis=tuple(other)), dtype)
    return cm.finish(gx, dtype), cm.finish(gw, dtype), gb
