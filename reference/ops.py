"""The oracle: loop-based pooling, unpooling, padding and convolution in exact arithmetic.

One parameterised implementation for every rank. Each op iterates over output
positions and window taps with explicit in-bounds tests (``poolconf.reference.geometry``),
reduces exactly (``poolconf.reference.dtypes``) and rounds once to the output
dtype. Padding is never a sentinel value: a tap outside the input is skipped.
Clause ids refer to ``spec/pooling.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from poolconf import SpecError
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import roots

# ---------------------------------------------------------------------------
# argument checks shared by every op
# ---------------------------------------------------------------------------


def _to_channels_first(x: np.ndarray, layout: str) -> np.ndarray:
    """``x`` (validated) as ``(N, C, *spatial)``."""
    return np.moveaxis(x, -1, 1) if layout == "channels_last" else x


def _from_channels_first(x: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1) if layout == "channels_last" else x)


def _grad_output_cf(
    grad_output: object, expected_cf_shape: tuple[int, ...], layout: str, dtype: str
) -> np.ndarray:
    """``grad_output`` checked against the forward output shape, as channels-first."""
    shape = expected_cf_shape
    if layout == "channels_last":
        shape = (shape[0], *shape[2:], shape[1])
    return _to_channels_first(args.check_grad_output(grad_output, shape, dtype), layout)


def _planes(x_cf: np.ndarray) -> list[list]:
    """Exact Python scalars of each (N, C) plane, flattened row-major."""
    n, c = x_cf.shape[:2]
    flat = dt.array_to_python(np.ascontiguousarray(x_cf))
    size = math.prod(x_cf.shape[2:])
    return [flat[i * size : (i + 1) * size] for i in range(n * c)]


def _assemble(planes: list[list], shape_cf: tuple[int, ...], dtype: str, layout: str) -> np.ndarray:
    flat = [v for plane in planes for v in plane]
    return _from_channels_first(dt.from_python(flat, shape_cf, dtype), layout)


# ---------------------------------------------------------------------------
# max selection [POOL-MAX-*]
# ---------------------------------------------------------------------------


def _empty_max(dtype: str) -> float | int:
    """Value of a max over no element [POOL-EMPTY-1]: -inf, or the dtype's minimum."""
    if dt.is_float(dtype):
        return -math.inf
    return int(np.iinfo(dt.numpy_dtype(dtype)).min)


def _select_max(
    plane: list, flats: Sequence[int], dtype: str
) -> tuple[float | int, int, list[int]]:
    """Maximum over the in-bounds elements ``flats`` (window order).

    Returns ``(value, first_index, all_indices)``: NaN wins over everything and
    the first NaN is selected [POOL-MAX-2]; otherwise the first maximal element
    in window order, with -0.0 and +0.0 equal [POOL-MAX-4, POOL-MAX-5];
    ``all_indices`` lists every element equal to the maximum (every NaN when
    the maximum is NaN), for the ``all`` tie policy [POOL-GRAD-2]."""
    if not flats:
        return _empty_max(dtype), -1, []
    nans = [f for f in flats if isinstance(plane[f], float) and math.isnan(plane[f])]
    if nans:
        return plane[nans[0]], nans[0], nans
    best_index = flats[0]
    best = plane[best_index]
    for f in flats[1:]:
        if plane[f] > best:
            best, best_index = plane[f], f
    return best, best_index, [f for f in flats if plane[f] == best]


def _in_bounds(taps: Sequence[geo.WindowTap]) -> list[int]:
    return [t.flat for t in taps if t.in_bounds]


def _pool_setup(
    x: np.ndarray,
    op: str,
    allowed: Sequence[str],
    layout: str,
    kernel_size: object,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    ceil_mode: bool,
) -> tuple[np.ndarray, str, geo.PoolGeometry, list]:
    dtype, g = args.window_call(
        x, op, allowed, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    return _to_channels_first(x, layout), dtype, g, list(g.windows())


def _out_shape(x_cf: np.ndarray, spatial: Sequence[int]) -> tuple[int, ...]:
    return (x_cf.shape[0], x_cf.shape[1], *spatial)


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
    """Max pooling and the int64 flat index of each selected element within its
    (N, C) spatial plane [POOL-MAX-1, POOL-IDX-1]."""
    x_cf, dtype, g, windows = _pool_setup(
        x,
        "max_pool_with_indices",
        dt.ALL_DTYPES,
        layout,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
    )
    values, indices = [], []
    for plane in _planes(x_cf):
        vrow, irow = [], []
        for _, taps in windows:
            v, i, _all = _select_max(plane, _in_bounds(taps), dtype)
            vrow.append(v)
            irow.append(i)
        values.append(vrow)
        indices.append(irow)
    shape = _out_shape(x_cf, g.out_shape)
    return _assemble(values, shape, dtype, layout), _assemble(
        indices, shape, dt.INDEX_DTYPE, layout
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
    """Max pooling: the maximum over the in-bounds taps of each window; padding
    never takes part [POOL-MAX-1]."""
    return max_pool_with_indices(
        x,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        layout=layout,
    )[0]


def _route_max_grad(
    x_cf: np.ndarray,
    grad_cf: np.ndarray,
    dtype: str,
    window_flats: list[list[int]],
    tie_policy: str,
    layout: str,
) -> np.ndarray:
    """Route each upstream value to the selected element(s); overlaps accumulate
    exactly [POOL-GRAD-2, POOL-GRAD-3]."""
    out = []
    for plane, gplane in zip(_planes(x_cf), _planes(grad_cf)):
        acc = [dt.ExactSum() for _ in plane]
        for flats, gv in zip(window_flats, gplane):
            _, first, every = _select_max(plane, flats, dtype)
            for f in every if tie_policy == "all" else ([first] if first >= 0 else []):
                acc[f].add(dt.to_exact(gv))
        out.append([dt.round_exact(a.value(), dtype) for a in acc])
    return _assemble(out, x_cf.shape, dtype, layout)


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
    """Gradient of max pooling with respect to ``x`` [POOL-GRAD-2, POOL-GRAD-3]."""
    x_cf, dtype, g, windows = _pool_setup(
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
    grad_cf = _grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    flats = [_in_bounds(taps) for _, taps in windows]
    return _route_max_grad(x_cf, grad_cf, dtype, flats, tie_policy, layout)


# ---------------------------------------------------------------------------
# average pooling [POOL-AVG-*]
# ---------------------------------------------------------------------------


def _divisor(taps: Sequence[geo.WindowTap], count_include_pad: bool, override: int | None) -> int:
    """The average's divisor [POOL-AVG-2, POOL-AVG-3, POOL-AVG-4].

    ``divisor_override`` when given; else with ``count_include_pad`` the taps inside
    the padded extent ``[-pb, L+pe)`` (the ceil-mode overhang never counts); else
    the in-bounds taps. Dilation applies: only the taps count [POOL-AVG-5]."""
    if override is not None:
        return override
    if count_include_pad:
        return sum(1 for t in taps if t.in_extent)
    return sum(1 for t in taps if t.in_bounds)


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
    """Average pooling: the exact sum of the in-bounds taps over the divisor,
    rounded once [POOL-AVG-1]. A window with divisor 0 (entirely in padding,
    ``count_include_pad=False``) gives NaN [POOL-EMPTY-1]."""
    x_cf, dtype, g, windows = _pool_setup(
        x, "avg_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    args.check_bool(count_include_pad, "count_include_pad")
    override = args.check_divisor(divisor_override)
    out = []
    for plane in _planes(x_cf):
        row = []
        for _, taps in windows:
            acc = dt.ExactSum()
            for f in _in_bounds(taps):
                acc.add(dt.to_exact(plane[f]))
            div = _divisor(taps, count_include_pad, override)
            row.append(
                math.nan if div == 0 else dt.round_exact(dt.exact_div(acc.value(), div), dtype)
            )
        out.append(row)
    return _assemble(out, _out_shape(x_cf, g.out_shape), dtype, layout)


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
    """Gradient of average pooling: each upstream value is spread over the window's
    in-bounds taps divided by the divisor; overlaps accumulate [POOL-GRAD-1, POOL-GRAD-3]."""
    x_cf, dtype, g, windows = _pool_setup(
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
    override = args.check_divisor(divisor_override)
    grad_cf = _grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    out = []
    for plane, gplane in zip(_planes(x_cf), _planes(grad_cf)):
        acc = [dt.ExactSum() for _ in plane]
        for (_, taps), gv in zip(windows, gplane):
            div = _divisor(taps, count_include_pad, override)
            if div == 0:
                continue
            share = dt.exact_div(dt.to_exact(gv), div)
            for f in _in_bounds(taps):
                acc[f].add(share)
        out.append([dt.round_exact(a.value(), dtype) for a in acc])
    return _assemble(out, x_cf.shape, dtype, layout)


# ---------------------------------------------------------------------------
# Lp pooling [POOL-LP-*]
# ---------------------------------------------------------------------------


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
    """Lp pooling: ``(sum |x|**p) ** (1/p)`` over the in-bounds taps; padding adds
    nothing [POOL-LP-1]. The result is correctly rounded."""
    x_cf, dtype, g, windows = _pool_setup(
        x, "lp_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    p = args.check_p(p)
    out = []
    for plane in _planes(x_cf):
        out.append(
            [
                dt.round_exact(roots.lp_norm([plane[f] for f in _in_bounds(t)], p), dtype)
                for _, t in windows
            ]
        )
    return _assemble(out, _out_shape(x_cf, g.out_shape), dtype, layout)


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
    """Gradient of Lp pooling [POOL-GRAD-4]."""
    x_cf, dtype, g, windows = _pool_setup(
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
    grad_cf = _grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    out = []
    for plane, gplane in zip(_planes(x_cf), _planes(grad_cf)):
        acc = [roots.LpGradSum() for _ in plane]
        for (_, taps), gv in zip(windows, gplane):
            roots.lp_grad_window(plane, _in_bounds(taps), gv, p, acc)
        out.append([a.rounded(dtype) for a in acc])
    return _assemble(out, x_cf.shape, dtype, layout)


# ---------------------------------------------------------------------------
# adaptive and global pooling [POOL-ADAPT-*, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def _adaptive_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[np.ndarray, str, tuple[int, ...], list[list[int]]]:
    dtype = args.check_array(x, "x", allowed, op, layout)
    x_cf = _to_channels_first(x, layout)
    out = geo.per_dim(output_size, "output_size", x_cf.ndim - 2, 1, "POOL-ADAPT-2")
    windows = [flats for _, flats in geo.adaptive_windows(x_cf.shape[2:], out)]
    return x_cf, dtype, out, windows


def _reduce_max(x_cf: np.ndarray, dtype: str, windows: list[list[int]]) -> list[list]:
    return [[_select_max(plane, w, dtype)[0] for w in windows] for plane in _planes(x_cf)]


def _reduce_avg(x_cf: np.ndarray, dtype: str, windows: list[list[int]]) -> list[list]:
    out = []
    for plane in _planes(x_cf):
        row = []
        for w in windows:
            acc = dt.ExactSum()
            for f in w:
                acc.add(dt.to_exact(plane[f]))
            row.append(dt.round_exact(dt.exact_div(acc.value(), len(w)), dtype))
        out.append(row)
    return out


def adaptive_max_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive max pooling over the windows of [POOL-ADAPT-1]."""
    x_cf, dtype, out, windows = _adaptive_setup(
        x, "adaptive_max_pool", dt.ALL_DTYPES, output_size, layout
    )
    return _assemble(_reduce_max(x_cf, dtype, windows), _out_shape(x_cf, out), dtype, layout)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive average pooling: the exact mean of each window [POOL-ADAPT-1]."""
    x_cf, dtype, out, windows = _adaptive_setup(
        x, "adaptive_avg_pool", dt.FLOAT_DTYPES, output_size, layout
    )
    return _assemble(_reduce_avg(x_cf, dtype, windows), _out_shape(x_cf, out), dtype, layout)


def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: object,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """Gradient of adaptive max pooling [POOL-GRAD-6]."""
    x_cf, dtype, out, windows = _adaptive_setup(
        x, "adaptive_max_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    args.check_tie_policy(tie_policy)
    grad_cf = _grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    return _route_max_grad(x_cf, grad_cf, dtype, windows, tie_policy, layout)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Gradient of adaptive average pooling: ``g / |window|`` to every element of
    each window; overlapping windows accumulate [POOL-GRAD-6]."""
    x_cf, dtype, out, windows = _adaptive_setup(
        x, "adaptive_avg_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    grad_cf = _grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    result = []
    for plane, gplane in zip(_planes(x_cf), _planes(grad_cf)):
        acc = [dt.ExactSum() for _ in plane]
        for w, gv in zip(windows, gplane):
            share = dt.exact_div(dt.to_exact(gv), len(w))
            for f in w:
                acc[f].add(share)
        result.append([dt.round_exact(a.value(), dtype) for a in acc])
    return _assemble(result, x_cf.shape, dtype, layout)


def _global_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], layout: str
) -> tuple[np.ndarray, str, list[list[int]]]:
    dtype = args.check_array(x, "x", allowed, op, layout)
    x_cf = _to_channels_first(x, layout)
    return x_cf, dtype, [list(range(math.prod(x_cf.shape[2:])))]


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Max over the whole spatial extent; every spatial dim of the output is 1 [POOL-GLOBAL-1]."""
    x_cf, dtype, windows = _global_setup(x, "global_max_pool", dt.ALL_DTYPES, layout)
    shape = _out_shape(x_cf, (1,) * (x_cf.ndim - 2))
    return _assemble(_reduce_max(x_cf, dtype, windows), shape, dtype, layout)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Exact mean over the whole spatial extent [POOL-GLOBAL-1]."""
    x_cf, dtype, windows = _global_setup(x, "global_avg_pool", dt.FLOAT_DTYPES, layout)
    shape = _out_shape(x_cf, (1,) * (x_cf.ndim - 2))
    return _assemble(_reduce_avg(x_cf, dtype, windows), shape, dtype, layout)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """Lp norm over the whole spatial extent [POOL-GLOBAL-1, POOL-LP-1]."""
    x_cf, dtype, _ = _global_setup(x, "global_lp_pool", dt.FLOAT_DTYPES, layout)
    p = args.check_p(p)
    shape = _out_shape(x_cf, (1,) * (x_cf.ndim - 2))
    out = [[dt.round_exact(roots.lp_norm(plane, p), dtype)] for plane in _planes(x_cf)]
    return _assemble(out, shape, dtype, layout)


# ---------------------------------------------------------------------------
# max unpooling [POOL-UNPOOL-*]
# ---------------------------------------------------------------------------


def max_unpool(
    x: np.ndarray,
    indices: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: object = 0,
    output_size: object = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """Scatter each value of ``x`` to its flat ``indices`` position in a zero
    output plane [POOL-UNPOOL-2]; positions not written are zero.

    The output spatial shape is ``output_size`` when given, else
    ``(in-1)*s - pb - pe + k`` per dim [POOL-UNPOOL-1]. An index outside the output
    plane is an error [POOL-UNPOOL-3]. Writes happen in row-major input order, so a
    repeated index keeps the last value [POOL-UNPOOL-4]."""
    dtype, out = args.unpool_output_size(
        x, indices, kernel_size, stride, padding, output_size, layout
    )
    x_cf, idx_cf = _to_channels_first(x, layout), _to_channels_first(indices, layout)
    size = math.prod(out)
    zero: float | int = 0.0 if dt.is_float(dtype) else 0
    result = []
    for plane, iplane in zip(_planes(x_cf), [list(map(int, p)) for p in _planes(idx_cf)]):
        row = [zero] * size
        for v, i in zip(plane, iplane):
            if not 0 <= i < size:
                raise SpecError(
                    f"indices value {i} is outside the output plane of {size} elements",
                    "POOL-UNPOOL-3",
                )
            row[i] = v
        result.append(row)
    return _assemble(result, _out_shape(x_cf, out), dtype, layout)


# ---------------------------------------------------------------------------
# zero padding and convolution [POOL-PAD-1, POOL-CONV-*]
# ---------------------------------------------------------------------------


def zero_pad(x: np.ndarray, *, padding: object, layout: str = "channels_first") -> np.ndarray:
    """Pad every spatial dim with zeros, ``(begin, end)`` per dim [POOL-PAD-1]."""
    dtype = args.check_array(x, "x", dt.ALL_DTYPES, "zero_pad", layout)
    x_cf = _to_channels_first(x, layout)
    rank = x_cf.ndim - 2
    pads = args.explicit_padding(padding, x_cf.shape[2:], "POOL-PAD-1", "zero_pad")
    out_spatial = tuple(L + pb + pe for L, (pb, pe) in zip(x_cf.shape[2:], pads))
    strides_in = [math.prod(x_cf.shape[2 + i + 1 :]) for i in range(rank)]
    strides_out = [math.prod(out_spatial[i + 1 :]) for i in range(rank)]
    zero: float | int = 0.0 if dt.is_float(dtype) else 0
    result = []
    for plane in _planes(x_cf):
        row = [zero] * math.prod(out_spatial)
        for f, v in enumerate(plane):
            coords = [(f // st) % L for st, L in zip(strides_in, x_cf.shape[2:])]
            row[sum((c + pb) * so for c, (pb, _), so in zip(coords, pads, strides_out))] = v
        result.append(row)
    return _assemble(result, _out_shape(x_cf, out_spatial), dtype, layout)


def _conv_setup(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    groups: object,
    layout: str,
    op: str,
) -> tuple[np.ndarray, str, geo.PoolGeometry, list, int]:
    dtype, groups = args.check_conv(x, weight, bias, groups, layout, op)
    x_cf = _to_channels_first(x, layout)
    stride = 1 if stride is None else stride  # conv's default stride is 1 [POOL-PARAM-2]
    g = geo.pool_geometry(x_cf.shape[2:], tuple(weight.shape[2:]), stride, padding, dilation, False)
    return x_cf, dtype, g, list(g.windows()), groups


def _conv_terms(windows: list) -> list[list[tuple[int, int]]]:
    """Per output position: (input flat index, kernel flat index) of each in-bounds tap."""
    return [[(t.flat, j) for j, t in enumerate(taps) if t.in_bounds] for _, taps in windows]


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
    """N-d cross-correlation with PyTorch's conventions [POOL-CONV-1, POOL-CONV-2]:
    ``out[n, co, o] = bias[co] + sum x[n, g*Cg + ci, pos(o, j)] * weight[co, ci, j]``
    over in-bounds taps, exactly, rounded once. ``weight`` is
    ``(C_out, C_in/groups, *kernel)`` in every layout."""
    x_cf, dtype, g, windows, groups = _conv_setup(
        x, weight, bias, stride, padding, dilation, groups, layout, "conv"
    )
    n, c_in = x_cf.shape[:2]
    c_out = weight.shape[0]
    cig, cog = c_in // groups, c_out // groups
    planes = _planes(x_cf)
    wflat = [[dt.to_exact(v) for v in row] for row in _planes(weight)]  # index co*cig + ci
    bvals = [dt.to_exact(v) for v in dt.array_to_python(bias)] if bias is not None else None
    xexact = [[dt.to_exact(v) for v in plane] for plane in planes]
    terms = _conv_terms(windows)
    out = []
    for b in range(n):
        for co in range(c_out):
            grp = co // cog
            row = []
            for window in terms:
                acc = dt.ExactSum()
                if bvals is not None:
                    acc.add(bvals[co])
                for ci in range(cig):
                    xp = xexact[b * c_in + grp * cig + ci]
                    wp = wflat[co * cig + ci]
                    for f, j in window:
                        acc.add(dt.exact_mul(xp[f], wp[j]))
                row.append(dt.round_exact(acc.value(), dtype))
            out.append(row)
    return _assemble(out, (n, c_out, *g.out_shape), dtype, layout)


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
    """Gradients of ``conv`` for ``x``, ``weight`` and ``bias`` (None without bias)
    [POOL-GRAD-5]."""
    x_cf, dtype, g, windows, groups = _conv_setup(
        x, weight, bias, stride, padding, dilation, groups, layout, "conv_grad"
    )
    n, c_in = x_cf.shape[:2]
    c_out = weight.shape[0]
    cig, cog = c_in // groups, c_out // groups
    grad_cf = _grad_output_cf(grad_output, (n, c_out, *g.out_shape), layout, dtype)
    xexact = [[dt.to_exact(v) for v in plane] for plane in _planes(x_cf)]
    wexact = [[dt.to_exact(v) for v in row] for row in _planes(weight)]
    gexact = [[dt.to_exact(v) for v in plane] for plane in _planes(grad_cf)]
    ksize = math.prod(weight.shape[2:])
    gx = [[dt.ExactSum() for _ in plane] for plane in xexact]
    gw = [[dt.ExactSum() for _ in range(ksize)] for _ in range(c_out * cig)]
    gb = [dt.ExactSum() for _ in range(c_out)]
    terms = _conv_terms(windows)
    for b in range(n):
        for co in range(c_out):
            grp = co // cog
            gplane = gexact[b * c_out + co]
            for o, window in enumerate(terms):
                gv = gplane[o]
                gb[co].add(gv)
                for ci in range(cig):
                    xi = b * c_in + grp * cig + ci
                    for f, j in window:
                        gx[xi][f].add(dt.exact_mul(gv, wexact[co * cig + ci][j]))
                        gw[co * cig + ci][j].add(dt.exact_mul(gv, xexact[xi][f]))
    grad_x = _assemble(
        [[dt.round_exact(a.value(), dtype) for a in p] for p in gx], x_cf.shape, dtype, layout
    )
    grad_w = dt.from_python(
        [dt.round_exact(a.value(), dtype) for row in gw for a in row], weight.shape, dtype
    )
    grad_b = None
    if bias is not None:
        grad_b = dt.from_python([dt.round_exact(a.value(), dtype) for a in gb], (c_out,), dtype)
    return grad_x, grad_w, grad_b
