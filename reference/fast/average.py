"""Averages and their gradients [POOL-AVG-*, POOL-ADAPT-1, POOL-GLOBAL-1, POOL-GRAD-1,
POOL-GRAD-6]: exact window sums (``sums``) over the divisor, rounded once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref
from poolconf.reference.fast.bits import LOW_NONE, TOP_NONE, _Span, _span, _top_low
from poolconf.reference.fast.common import (
    _adaptive_setup,
    _assemble,
    _cast,
    _fmt,
    _global_setup,
    _op,
    _out_shape,
    _planes,
    _pool_setup,
)
from poolconf.reference.fast.fallback import (
    Elements,
    _forward_elements,
    _grad_elements,
    _per_plane,
    _plane_caller,
    _refill,
    _whole,
    _Windows,
)
from poolconf.reference.fast.sums import _exact_round, _row_plan, _spread_plan, _window_plan
from poolconf.reference.fast.windows import _adaptive_axes, _Axis, _blocks, _per_output, _pool_axes


def _avg_forward(
    op: str,
    x_cf: np.ndarray,
    dtype: str,
    axes: list[_Axis],
    d: Any,
    elements: Elements,
    layout: str,
) -> np.ndarray:
    """Window sums (exact where certified) over the divisor ``d`` (int array per output,
    or an int), rounded once; divisor 0 gives NaN [POOL-AVG-1, POOL-EMPTY-1]."""
    n, c = x_cf.shape[:2]
    fmt = _fmt(dtype)
    X = _planes(x_cf)
    count = _per_output(axes, "count")
    out_sp = tuple(ax.n_out for ax in axes)
    res = np.empty((n * c, *out_sp))
    fail = np.zeros(res.shape, bool)
    empty = np.asarray(d) == 0
    any_empty = bool(empty.any())
    plan = _window_plan(axes, count)
    native = X.dtype in (np.float32, np.float64)  # summed into float64 as they are
    for b in _blocks(n * c, max(1, math.prod(X.shape[1:])) * 8 * 3):
        xb = X[b] if native else X[b].astype(np.float64)
        r, bad = _exact_round(plan, xb, d, fmt, _span(X[b], dtype))
        res[b] = np.where(empty, np.nan, r) if any_empty else r
        fail[b] = bad
    _refill(op, res, fail, elements)
    return _assemble(_cast(res, dtype), n, c, layout)


@_op
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
    """Average pooling: the exact window sum over the divisor, rounded once [POOL-AVG-1]."""
    x_cf, dtype, g = _pool_setup(
        x, "avg_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    args.check_bool(count_include_pad, "count_include_pad")
    override = args.check_divisor(divisor_override)
    params: dict[str, Any] = {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": ceil_mode,
        "count_include_pad": count_include_pad,
        "divisor_override": divisor_override,
    }
    if override is not None and override > 2**53:
        return _whole("avg_pool", lambda: ref.avg_pool(x, **params, layout=layout))
    axes = _pool_axes(g)
    d = (
        override
        if override is not None
        else _per_output(axes, "extent" if count_include_pad else "count")
    )

    def value(plane: list, taps: list) -> float:  # the loop body of ops.avg_pool
        acc = dt.ExactSum()
        for f in ref._in_bounds(taps):
            acc.add(dt.to_exact(plane[f]))
        div = ref._divisor(taps, count_include_pad, override)
        return math.nan if div == 0 else dt.round_exact(dt.exact_div(acc.value(), div), dtype)

    elements = _forward_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, value)
    return _avg_forward("avg_pool", x_cf, dtype, axes, d, elements, layout)


@_op
def adaptive_avg_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive average pooling: the exact mean of each window [POOL-ADAPT-1]."""
    x_cf, dtype, out = _adaptive_setup(x, "adaptive_avg_pool", dt.FLOAT_DTYPES, output_size, layout)
    axes = _adaptive_axes(x_cf.shape[2:], out)

    def value(plane: list, taps: list) -> float:  # ops._reduce_avg for one window
        w = ref._in_bounds(taps)
        acc = dt.ExactSum()
        for f in w:
            acc.add(dt.to_exact(plane[f]))
        return dt.round_exact(dt.exact_div(acc.value(), len(w)), dtype)

    elements = _forward_elements(_Windows(x_cf.shape[2:], output_size=out), x_cf, value)
    return _avg_forward(
        "adaptive_avg_pool", x_cf, dtype, axes, _per_output(axes, "count"), elements, layout
    )


def _avg_grad(
    op: str,
    x_cf: np.ndarray,
    grad_cf: np.ndarray,
    dtype: str,
    axes: list[_Axis],
    d: np.ndarray,
    elements: Elements,
    layout: str,
) -> np.ndarray:
    """``sum_o g_o / d_o`` over the windows ``o`` covering each input, as
    ``(sum_o g_o * (L / d_o)) / L`` with ``L`` the least common multiple of the divisors:
    the products are exact when ``g``'s significant bits plus those of ``L / d_o`` are at
    most 53, the sum is certified, and one division rounds [POOL-GRAD-1, POOL-GRAD-6]."""
    n, c = x_cf.shape[:2]
    fmt = _fmt(dtype)
    d = np.broadcast_to(np.asarray(d, dtype=np.int64), (1, *grad_cf.shape[2:]))
    divisors = [int(v) for v in np.unique(d) if v > 0]
    lcm = math.lcm(*divisors) if divisors else 1
    if lcm > 2**52:
        res = np.zeros((n * c, *x_cf.shape[2:]))
        _refill(op, res, np.ones(res.shape, bool), elements, whole=True)
        return _assemble(_cast(res, dtype), n, c, layout)
    mult = np.where(d > 0, lcm // np.maximum(d, 1), 0)
    # |g * m| < 2**(top(g) + tbits) and g * m has at most sig(g) + ebits significant bits:
    # a power of two 2**k adds k to the top and no significant bit
    pow2 = (mult & (mult - 1)) == 0
    blen = np.frexp(mult.astype(np.float64))[1]
    tbits = np.where(pow2, np.maximum(blen - 1, 0), blen)
    odd = mult // np.maximum(mult & -mult, 1)
    ebits = np.where(odd <= 1, 0, np.frexp(odd.astype(np.float64))[1])
    t_extra, e_extra = int(tbits.max(initial=0)), int(ebits.max(initial=0))
    G = _planes(grad_cf)
    cover = _per_output(axes, "cover")
    res = np.empty((n * c, *x_cf.shape[2:]))
    fail = np.zeros(res.shape, bool)
    plan = _spread_plan(axes, cover)
    for b in _blocks(n * c, max(1, math.prod(x_cf.shape[2:])) * 8 * 3):
        G64 = G[b].astype(np.float64)
        U = np.where(d > 0, G64 * mult, 0.0)
        span = _span(G[b], dtype)
        uspan = _Span(span.top + t_extra, span.low, span.sig + e_extra)

        def top_low(G64: np.ndarray = G64) -> tuple[np.ndarray, np.ndarray]:
            top, low = _top_low(G64)
            utop = top.astype(np.int64) + tbits
            # a product that may be inexact gets a top that fails every sum it enters
            utop = np.where(top.astype(np.int64) - low + ebits > 53, 2 * LOW_NONE, utop)
            return np.where(top == TOP_NONE, TOP_NONE, utop).astype(np.int16), low

        r, bad = _exact_round(plan, U, lcm, fmt, uspan, top_low, whole_test=uspan.sig <= 53)
        res[b] = r
        fail[b] = bad
    _refill(op, res, fail, elements)
    return _assemble(_cast(res, dtype), n, c, layout)


@_op
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
    """Gradient of average pooling [POOL-GRAD-1, POOL-GRAD-3]."""
    x_cf, dtype, g = _pool_setup(
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
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    params: dict[str, Any] = {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": ceil_mode,
        "count_include_pad": count_include_pad,
        "divisor_override": divisor_override,
    }
    if override is not None and override > 2**52:
        return _whole(
            "avg_pool_grad", lambda: ref.avg_pool_grad(x, grad_output, **params, layout=layout)
        )
    axes = _pool_axes(g)
    d = (
        np.full((1, *g.out_shape), override, dtype=np.int64)
        if override is not None
        else _per_output(axes, "extent" if count_include_pad else "count")
    )

    def window(plane: list, taps: list, gv: float, acc: dict) -> None:  # as ops.avg_pool_grad
        div = ref._divisor(taps, count_include_pad, override)
        if div == 0:
            return
        share = dt.exact_div(dt.to_exact(gv), div)
        for f in ref._in_bounds(taps):
            acc[f].add(share)

    elements = _grad_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, grad_cf, dtype, window)
    return _avg_grad("avg_pool_grad", x_cf, grad_cf, dtype, axes, d, elements, layout)


@_op
def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Gradient of adaptive average pooling [POOL-GRAD-6]."""
    x_cf, dtype, out = _adaptive_setup(
        x, "adaptive_avg_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    axes = _adaptive_axes(x_cf.shape[2:], out)

    def window(
        plane: list, taps: list, gv: float, acc: dict
    ) -> None:  # as ops.adaptive_avg_pool_grad
        w = ref._in_bounds(taps)
        share = dt.exact_div(dt.to_exact(gv), len(w))
        for f in w:
            acc[f].add(share)

    elements = _grad_elements(
        _Windows(x_cf.shape[2:], output_size=out), x_cf, grad_cf, dtype, window
    )
    d = _per_output(axes, "count")
    return _avg_grad("adaptive_avg_pool_grad", x_cf, grad_cf, dtype, axes, d, elements, layout)


@_op
def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Exact mean of each plane, rounded once [POOL-GLOBAL-1]."""
    x_cf, dtype = _global_setup(x, "global_avg_pool", dt.FLOAT_DTYPES, layout)
    n, c = x_cf.shape[:2]
    size = math.prod(x_cf.shape[2:])
    rank = x_cf.ndim - 2
    X = _planes(x_cf).reshape(n * c, size)
    res, fail = _exact_round(
        _row_plan(size), X.astype(np.float64), size, _fmt(dtype), _span(X, dtype)
    )
    plane = _plane_caller(ref.global_avg_pool, [x_cf], c)
    res = res.reshape(n * c, *(1,) * rank)
    _refill("global_avg_pool", res, fail.reshape(res.shape), _per_plane(plane))
    return _assemble(_cast(res, dtype), n, c, layout)
