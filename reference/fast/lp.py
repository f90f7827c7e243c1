"""Lp pooling and its gradient [POOL-LP-1, POOL-LP-2, POOL-GRAD-4].

``p = 1`` is an exact sum of ``|x|`` (``sums``). ``p >= 2`` (float16, bfloat16,
float32, ``p <= 6``) is certified rounding (``rounding``) run on the sum side:
``y = S**(1/p)`` lies strictly between midpoints ``a < b`` iff ``a**p < S < b**p``,
checked with the bounds of ``S`` and of ``a**p``, ``b**p``. float64 with ``p >= 2`` and
``p > 6`` go whole to the loop reference."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref
from poolconf.reference import roots
from poolconf.reference.fast.bits import LOW_NONE, TOP_NONE, _span
from poolconf.reference.fast.common import (
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
from poolconf.reference.fast.rounding import SLACK, _cell, _cert_round, _round_to
from poolconf.reference.fast.sums import _exact_round, _row_plan, _SumPlan, _window_plan
from poolconf.reference.fast.windows import (
    _Axis,
    _nd_taps,
    _per_output,
    _pool_axes,
    _sep,
    _sep_spread,
)


def _pow(a: np.ndarray, p: int) -> np.ndarray:
    """``a**p`` by ``p - 1`` multiplications (relative error at most ``gamma_{p-1}``)."""
    out = a
    for _ in range(p - 1):
        out = out * a
    return out


def _root(S: np.ndarray, p: int) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(S) if p == 2 else np.cbrt(S) if p == 3 else np.power(S, 1.0 / p)


LP_MAX_P = 6  # |x|**p of float16/bfloat16/float32 values stays normal in float64 up to here


def _lp_certified_sum_root(
    S: np.ndarray, n_terms: Any, p: int, fmt: dt.FloatFormat
) -> tuple[np.ndarray, np.ndarray]:
    """``S**(1/p)`` rounded to ``fmt`` (float16, bfloat16, float32) for float64 sums ``S``
    of ``n_terms`` powers ``fl(|x|**p)``, and where it is proven. ``|S - exact| <=
    eps * S`` with ``eps = 2*(n + p)*2**-52`` (``gamma_{n+p-2}`` with room); a candidate
    ``r`` is proven when ``a**p < exact < b**p`` for the midpoints ``a < r < b``, checked
    with ``fl(a**p)`` within ``gamma_p``. ``S == 0`` is exactly 0; NaN and +inf pass
    through (POOL-AVG-6 after taking ``|x|``)."""
    fin = np.isfinite(S) & (S > 0)
    Sf = np.where(fin, S, 1.0)
    y = _root(Sf, p)
    r, _ = _round_to(y, fmt)
    lo, hi = _cell(r, fmt)
    eps = 2.0 * (np.asarray(n_terms, dtype=np.float64) + p) * 2.0**-52
    gam = 2.0 * p * 2.0**-52
    with np.errstate(over="ignore", invalid="ignore"):
        b_lo, b_hi = _pow(lo, p), _pow(hi, p)
        ok_lo = Sf - b_lo > (eps * Sf + gam * b_lo) * SLACK
        ok_hi = np.isinf(hi) | (b_hi - Sf > (eps * Sf + gam * b_hi) * SLACK)
    ok = (ok_lo & ok_hi) | ~fin
    return np.where(fin, r, np.where(S == 0, 0.0, S)), ok


def _lp_forward(
    op: str,
    x_cf: np.ndarray,
    dtype: str,
    p: int,
    axes: list[_Axis] | None,
    elements: Elements,
    whole: Callable[[], np.ndarray],
    layout: str,
) -> np.ndarray:
    """Lp over windows (``axes``) or whole planes (``axes=None``)."""
    n, c = x_cf.shape[:2]
    fmt = _fmt(dtype)
    if p > 1 and (fmt.precision == 53 or p > LP_MAX_P):
        return _whole(op, whole)
    X = _planes(x_cf)
    if axes is None:
        X = X.reshape(n * c, math.prod(x_cf.shape[2:]))
    A = np.abs(X.astype(np.float64))
    plan = _row_plan(X.shape[1]) if axes is None else _window_plan(axes, _per_output(axes, "count"))
    if p == 1:
        res, fail = _exact_round(plan, A, 1, fmt, _span(X, dtype))
    else:
        res, ok = _lp_certified_sum_root(plan.reduce(_pow(A, p)), plan.count, p, fmt)
        fail = ~ok
    if axes is None:
        res = res.reshape(n * c, *(1,) * (x_cf.ndim - 2))
        fail = fail.reshape(res.shape)
    _refill(op, res, fail, elements)
    return _assemble(_cast(res, dtype), n, c, layout)


@_op
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
    """Lp pooling: ``(sum |x|**p) ** (1/p)`` over the in-bounds taps, correctly rounded
    [POOL-LP-1]."""
    x_cf, dtype, g = _pool_setup(
        x, "lp_pool", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    p = args.check_p(p)
    params: dict[str, Any] = {
        "kernel_size": kernel_size,
        "p": p,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": ceil_mode,
    }

    def value(plane: list, taps: list) -> float:  # the loop body of ops.lp_pool
        return dt.round_exact(roots.lp_norm([plane[f] for f in ref._in_bounds(taps)], p), dtype)

    elements = _forward_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, value)
    return _lp_forward(
        "lp_pool",
        x_cf,
        dtype,
        p,
        _pool_axes(g),
        elements,
        lambda: ref.lp_pool(x, **params, layout=layout),
        layout,
    )


@_op
def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """Lp norm of each plane [POOL-GLOBAL-1, POOL-LP-1]."""
    x_cf, dtype = _global_setup(x, "global_lp_pool", dt.FLOAT_DTYPES, layout)
    p = args.check_p(p)
    plane = _plane_caller(ref.global_lp_pool, [x_cf], x_cf.shape[1], p=p)
    return _lp_forward(
        "global_lp_pool",
        x_cf,
        dtype,
        p,
        None,
        _per_plane(plane),
        lambda: ref.global_lp_pool(x, p=p, layout=layout),
        layout,
    )


@_op
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
    """Gradient of Lp pooling [POOL-GRAD-4, POOL-GRAD-8]: ``p = 1`` exactly
    (``_lp_grad_exact``), ``p >= 2`` by certified rounding (``_lp_grad_certified``) for
    float16, bfloat16 and float32 with ``p <= 6``, otherwise the loop reference."""
    x_cf, dtype, g = _pool_setup(
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
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    op = "lp_pool_grad"
    if p > 1 and (_fmt(dtype).precision == 53 or p > LP_MAX_P):
        params: dict[str, Any] = {"kernel_size": kernel_size, "p": p, "stride": stride}
        params.update(padding=padding)
        params.update(dilation=dilation, ceil_mode=ceil_mode, layout=layout)
        return _whole(op, lambda: ref.lp_pool_grad(x, grad_output, **params))
    n, c = x_cf.shape[:2]
    res, fail = _lp_grad_sums(_planes(x_cf), _planes(grad_cf), _pool_axes(g), p, dtype)

    def window(plane: list, taps: list, gv: float, acc: Any) -> None:
        roots.lp_grad_window(plane, ref._in_bounds(taps), gv, p, acc)

    W = _Windows(x_cf.shape[2:], geometry=g)
    elements = _grad_elements(
        W,
        x_cf,
        grad_cf,
        dtype,
        window,
        accumulator=roots.LpGradSum,
        rounded=roots.LpGradSum.rounded,
    )
    _refill(op, res, fail, elements)
    return _assemble(_cast(res, dtype), n, c, layout)


def _lp_grad_sums(
    X: np.ndarray, G: np.ndarray, axes: list[_Axis], p: int, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient over ``(P, *spatial)`` planes and the mask of elements not proven.
    A window with a non-finite value or upstream value adds NaN to its taps; a window
    with a zero norm adds nothing."""
    X64, G64 = X.astype(np.float64), G.astype(np.float64)
    nonfinite = (~np.isfinite(X64)).astype(np.int8)
    bad = (_sep(nonfinite, axes, "max", 0) > 0) | ~np.isfinite(G64)
    S = _sep(_pow(np.abs(X64), p), axes, "sum", 0.0)
    live = ~bad & (S > 0)
    nan_in = _sep_spread(bad.astype(np.int8), axes, "max", 0) > 0
    if p == 1:
        res, fail = _lp_grad_exact(X64, G, np.where(live, G64, 0.0), axes, dtype)
    else:
        res, fail = _lp_grad_certified(X64, G64, S, live, axes, p, _fmt(dtype))
    return np.where(nan_in, np.nan, res), fail & ~nan_in


def _lp_grad_exact(
    X64: np.ndarray, G: np.ndarray, G_live: np.ndarray, axes: list[_Axis], dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """``p = 1``: each window adds ``g * sign(x)`` to its taps, exact terms of the
    magnitude of ``g``, so an exact sum (``sums``) rounded once."""
    sgn = np.sign(X64)
    taps = _nd_taps(axes)

    def reduce(a: np.ndarray) -> np.ndarray:
        acc = np.zeros(X64.shape)
        for dst, src, _ in taps:
            acc[src] += a[dst] * sgn[src]
        return acc

    plan = _SumPlan(
        reduce,
        lambda t: _sep_spread(t, axes, "max", TOP_NONE),
        lambda lo: _sep_spread(lo, axes, "min", LOW_NONE),
        _per_output(axes, "cover"),
    )
    return _exact_round(plan, G_live, 1, _fmt(dtype), _span(G, dtype))


def _lp_grad_certified(
    X64: np.ndarray,
    G64: np.ndarray,
    S: np.ndarray,
    live: np.ndarray,
    axes: list[_Axis],
    p: int,
    fmt: dt.FloatFormat,
) -> tuple[np.ndarray, np.ndarray]:
    """``p >= 2``: each live window ``o`` adds ``c = g * sign(x) * (|x| / y)**(p-1)``
    with ``y = S**(1/p)``. Bounds: ``S`` within ``eps_S = 2(n+p)2**-52`` relative; the
    computed root ``y'`` within ``eps_r`` of ``S'**(1/p)``, where ``eps_r = 2**-52`` for
    ``sqrt`` and otherwise ``2|y'**p - S'|/S' + 4p*2**-53`` (for ``w = y'**p/S'``,
    ``|w**(1/p) - 1| <= |w - 1|``); so ``y'`` within ``eps_y = 1.01(eps_r + eps_S)`` of
    ``y``, each ``c`` within ``eps_c = 2((p-1)eps_y + 2p*2**-53)`` relatively plus
    ``2**-900`` for underflow, and the float64 sum of the ``v`` terms reaching an input
    within ``gamma_v`` of their absolute sum ``A``: ``E = (2 eps_c + 4v*2**-53) A +
    2v*2**-900``, then ``_cert_round``. Returns the values and the mask not proven."""
    A, sgn = np.abs(X64), np.sign(X64)
    y = np.where(live, _root(np.where(live, S, 1.0), p), 1.0)
    count = _per_output(axes, "count").astype(np.float64)
    eps_s = 2.0 * (count + p) * 2.0**-52
    if p == 2:
        eps_r = np.full(y.shape, 2.0**-52)
    else:
        Sl = np.where(live, S, 1.0)
        eps_r = 2.0 * np.abs(_pow(y, p) - Sl) / Sl + 4.0 * p * 2.0**-53
    eps_y = 1.01 * (eps_r + eps_s)
    eps_c = float(
        np.max(np.where(live, 2.0 * ((p - 1) * eps_y + 2.0 * p * 2.0**-53), 0.0), initial=0.0)
    )
    acc = np.zeros(X64.shape)
    mag = np.zeros(X64.shape)
    for dst, src, _ in _nd_taps(axes):
        term = np.where(live[dst], G64[dst] * sgn[src] * _pow(A[src] / y[dst], p - 1), 0.0)
        acc[src] += term
        mag[src] += np.abs(term)
    v = _per_output(axes, "cover").astype(np.float64)
    E = (2.0 * eps_c + 4.0 * v * 2.0**-53) * mag + np.where(X64 != 0, 2.0 * v * 2.0**-900, 0.0)
    res, ok = _cert_round(acc, E, fmt)
    return res, ~ok
