"""Convolution and its gradients [POOL-CONV-*, POOL-GRAD-5].

Sums of products are computed with ``np.einsum(..., optimize=False)`` (NumPy's own
loops: every product and sum an IEEE float64 operation, never a BLAS kernel), so
infinities and NaN follow IEEE 754, which is POOL-AVG-6 with ``inf * 0 = NaN`` as long
as no finite partial sum overflows: products of float16/bfloat16/float32 values are
exact and below ``2**256``; for float64 the exact-sum certificate excludes overflow.
An output is exact when the certificate holds for the bits of its products (``top``
of a product at most the sum of the factors' ``top``, ``low`` exactly the sum of their
``low``; a product is itself exact with at most 53 significant bits and ``low >= -1074``
(no underflow), always so below float64); otherwise, below float64, its rounding is
certified from ``|S - exact| <= gamma_n A`` with ``A`` the float64 sum of the absolute
products (``E = (n + 2) 2**-52 A``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref
from poolconf.reference.fast.bits import LOW_NONE, TOP_NONE, _bits_sig, _certified, _Span, _span_f64
from poolconf.reference.fast.common import _assemble, _cast, _conv_setup, _fmt, _op
from poolconf.reference.fast.fallback import Elements, _plane_values, _refill, _Windows
from poolconf.reference.fast.rounding import _cert_round, _div_round
from poolconf.reference.fast.windows import (
    _Axis,
    _nd_taps,
    _per_output,
    _pool_axes,
    _sep,
    _sep_spread,
)


def _finish_products(
    S: np.ndarray, A: np.ndarray, nterms: Any, exact_ok: Any, fmt: dt.FloatFormat
) -> tuple[np.ndarray, np.ndarray]:
    """Round sums of products: exact ones once (``_div_round``), others by certificate."""
    res, bad = _div_round(S, 1, fmt)
    ok = np.broadcast_to(np.asarray(exact_ok, bool), S.shape) & ~bad
    if fmt.precision < 53 and not ok.all():
        E = (np.asarray(nterms, dtype=np.float64) + 2.0) * 2.0**-52 * A
        r2, ok2 = _cert_round(S, E, fmt)
        special = ~np.isfinite(S)
        r2 = np.where(special, S, r2)
        ok2 |= special
        res = np.where(ok, res, r2)
        ok = ok | ok2
    return res, ok


@_op
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
    """N-d cross-correlation, exact or certified per output [POOL-CONV-1, POOL-CONV-2]."""
    x_cf, dtype, g, groups = _conv_setup(
        x, weight, bias, stride, padding, dilation, groups, layout, "conv"
    )
    op = "conv"
    fmt = _fmt(dtype)
    n, c_in = x_cf.shape[:2]
    c_out = weight.shape[0]
    cig, cog = c_in // groups, c_out // groups
    axes = _pool_axes(g)
    out_sp = g.out_shape
    X64 = np.ascontiguousarray(x_cf).astype(np.float64)
    W64 = weight.astype(np.float64)
    B64 = None if bias is None else bias.astype(np.float64)
    S = np.zeros((n, c_out, *out_sp))
    A = np.zeros((n, c_out, *out_sp))
    with np.errstate(invalid="ignore", over="ignore"):
        for dst, src, j in _nd_taps(axes):
            for q in range(groups):
                ci, co = slice(q * cig, (q + 1) * cig), slice(q * cog, (q + 1) * cog)
                x_ix: tuple[Any, ...] = (slice(None), ci, *src[1:])
                w_ix: tuple[Any, ...] = (co, slice(None), *j)
                d_ix: tuple[Any, ...] = (slice(None), co, *dst[1:])
                xs, wj = X64[x_ix], W64[w_ix]
                S[d_ix] += np.einsum("nc...,oc->no...", xs, wj, optimize=False)
                A[d_ix] += np.einsum("nc...,oc->no...", np.abs(xs), np.abs(wj), optimize=False)
        if B64 is not None:
            bshape = (1, c_out, *(1,) * len(out_sp))
            S += B64.reshape(bshape)
            A += np.abs(B64).reshape(bshape)
    count = _per_output(axes, "count")[0]
    nterms = cig * count + (bias is not None)
    exact_ok = _conv_exact_forward(X64, W64, B64, axes, groups, fmt, nterms, n, out_sp)
    res, ok = _finish_products(S, A, nterms, exact_ok, fmt)

    W = _Windows(x_cf.shape[2:], geometry=g)
    x_planes = _plane_values(x_cf)
    w_planes = _plane_values(weight)
    bvals = None if bias is None else [dt.to_exact(v) for v in dt.array_to_python(bias)]

    def elements(p: int, positions: np.ndarray) -> list:  # the loop body of ops.conv
        b, co = divmod(p, c_out)
        grp = co // cog
        out = []
        for o in positions:
            terms = [(t.flat, j) for j, t in enumerate(W.taps(o)) if t.in_bounds]
            acc = dt.ExactSum()
            if bvals is not None:
                acc.add(bvals[co])
            for ci in range(cig):
                xp, wp = x_planes(b * c_in + grp * cig + ci), w_planes(co * cig + ci)
                for f, j in terms:
                    acc.add(dt.exact_mul(dt.to_exact(xp[f]), dt.to_exact(wp[j])))
            out.append(dt.round_exact(acc.value(), dtype))
        return out

    res = res.reshape(n * c_out, *out_sp)
    _refill(op, res, ~ok.reshape(res.shape), elements)
    return _assemble(_cast(res, dtype), n, c_out, layout)


def _conv_exact_forward(
    X64: np.ndarray,
    W64: np.ndarray,
    B64: np.ndarray | None,
    axes: list[_Axis],
    groups: int,
    fmt: dt.FloatFormat,
    nterms: Any,
    n: int,
    out_sp: Sequence[int],
) -> Any:
    """Where a forward sum of products is proven exact (True: everywhere)."""
    c_in, c_out = X64.shape[1], W64.shape[0]
    cig, cog = c_in // groups, c_out // groups
    wide = fmt.precision == 53
    sx, sw = _span_f64(X64), _span_f64(W64)
    sb = _span_f64(B64) if B64 is not None else _Span(TOP_NONE, LOW_NONE, 0)
    top = max(sx.top + sw.top, sb.top)
    low = min(sx.low + sw.low, sb.low)
    exact_products = not wide or (sx.sig + sw.sig <= 53 and sx.low + sw.low >= -1074)
    if exact_products and bool(_certified(top, low, int(np.max(nterms)))):
        return True
    tx, lx, gx = _bits_sig(X64)
    spatial = X64.shape[2:]

    def window(a: np.ndarray, kind: str, ident: int) -> np.ndarray:
        red = a.reshape(n, groups, cig, *spatial)
        red = red.max(axis=2) if kind == "max" else red.min(axis=2)
        return _sep(red.reshape(n * groups, *spatial), axes, kind, ident).reshape(
            n, groups, *out_sp
        )

    q = np.arange(c_out) // cog
    tw, lw, gw = _bits_sig(W64)
    flat = (c_out, -1)
    bshape = (1, c_out, *(1,) * len(out_sp))
    ptop = window(tx, "max", TOP_NONE)[:, q] + tw.reshape(flat).max(axis=1).reshape(bshape)
    plow = window(lx, "min", LOW_NONE)[:, q] + lw.reshape(flat).min(axis=1).reshape(bshape)
    ok = np.ones(ptop.shape, bool)
    if wide:  # a product is exact with at most 53 significant bits and no underflow
        ok = window(gx, "max", 0)[:, q] + gw.reshape(flat).max(axis=1).reshape(bshape) <= 53
        ok &= plow >= -1074
    if B64 is not None:
        tb, lb, _ = _bits_sig(B64)
        ptop = np.maximum(ptop, tb.reshape(bshape))
        plow = np.minimum(plow, lb.reshape(bshape))
    return ok & _certified(ptop, plow, nterms)


@_op
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
    """Gradients of ``conv`` for ``x``, ``weight`` and ``bias``, each exact or certified
    per element [POOL-GRAD-5]."""
    x_cf, dtype, g, groups = _conv_setup(
        x, weight, bias, stride, padding, dilation, groups, layout, "conv_grad"
    )
    n, c_in = x_cf.shape[:2]
    c_out = weight.shape[0]
    grad_cf = ref._grad_output_cf(grad_output, (n, c_out, *g.out_shape), layout, dtype)
    op = "conv_grad"
    fmt = _fmt(dtype)
    axes = _pool_axes(g)
    X64 = np.ascontiguousarray(x_cf).astype(np.float64)
    W64 = weight.astype(np.float64)
    G64 = np.ascontiguousarray(grad_cf).astype(np.float64)
    gx, ax_, gw, aw, gb, ab = _conv_grad_sums(X64, W64, G64, axes, groups)
    nx, nw, nb = _conv_grad_terms(axes, n, c_out // groups, W64.shape[2:], g.out_shape)
    wide = fmt.precision == 53
    ok_x = _conv_grad_x_exact(G64, W64, axes, groups, nx, wide)
    ok_w, ok_b = _conv_grad_w_exact(G64, X64, groups, nw, nb, wide)
    rx, okx = _finish_products(gx, ax_, nx, ok_x, fmt)
    rw, okw = _finish_products(gw, aw, nw, ok_w, fmt)
    rb, okb = _finish_products(gb, ab, nb, ok_b, fmt)
    elements_x, elements_w, elements_b = _conv_grad_elements(x_cf, weight, grad_cf, g, groups)
    rx = rx.reshape(n * c_in, *x_cf.shape[2:])
    _refill(op, rx, ~okx.reshape(rx.shape), elements_x)
    rw = rw.reshape(-1, *W64.shape[2:])
    _refill(op, rw, ~np.broadcast_to(okw, W64.shape).reshape(rw.shape), elements_w)
    grad_b = None
    if bias is not None:
        rb = rb.reshape(c_out, 1)
        _refill(op, rb, ~okb.reshape(rb.shape), elements_b)
        grad_b = _cast(rb.reshape(c_out), dtype)
    grad_x = _assemble(_cast(rx, dtype), n, c_in, layout)
    return grad_x, _cast(rw, dtype).reshape(W64.shape), grad_b


def _conv_grad_sums(
    X64: np.ndarray, W64: np.ndarray, G64: np.ndarray, axes: list[_Axis], groups: int
) -> tuple[np.ndarray, ...]:
    """The float64 sums of products of the three gradients and of their absolute
    values: ``grad_x``, ``|grad_x|``, ``grad_w``, ``|grad_w|``, ``grad_b``, ``|grad_b|``."""
    n, c_in = X64.shape[:2]
    cig, cog = c_in // groups, W64.shape[0] // groups
    gx, ax_ = np.zeros(X64.shape), np.zeros(X64.shape)
    gw, aw = np.zeros(W64.shape), np.zeros(W64.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        for dst, src, j in _nd_taps(axes):
            for q in range(groups):
                ci, co = slice(q * cig, (q + 1) * cig), slice(q * cog, (q + 1) * cog)
                g_ix: tuple[Any, ...] = (slice(None), co, *dst[1:])
                s_ix: tuple[Any, ...] = (slice(None), ci, *src[1:])
                w_ix: tuple[Any, ...] = (co, slice(None), *j)
                gs, xs, wj = G64[g_ix], X64[s_ix], W64[w_ix]
                gx[s_ix] += np.einsum("no...,oc->nc...", gs, wj, optimize=False)
                ax_[s_ix] += np.einsum("no...,oc->nc...", np.abs(gs), np.abs(wj), optimize=False)
                g2 = gs.reshape(n, cog, math.prod(gs.shape[2:]))
                x2 = xs.reshape(n, cig, math.prod(xs.shape[2:]))
                gw[w_ix] += np.einsum("nos,ncs->oc", g2, x2, optimize=False)
                aw[w_ix] += np.einsum("nos,ncs->oc", np.abs(g2), np.abs(x2), optimize=False)
        red = tuple(i for i in range(G64.ndim) if i != 1)
        gb = G64.sum(axis=red)
        ab = np.abs(G64).sum(axis=red)
    return gx, ax_, gw, aw, gb, ab


def _conv_grad_terms(
    axes: list[_Axis], n: int, cog: int, kernel: tuple[int, ...], out_sp: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Terms per element: ``grad_x``, ``cog`` per covering window; ``grad_w``, ``N`` per
    in-bounds output of the tap; ``grad_b``, ``N * prod(out)``."""
    nx = cog * _per_output(axes, "cover")[0]
    tap_outputs = np.zeros(kernel, dtype=np.int64)
    for dst, _, j in _nd_taps(axes):
        tap_outputs[j] = math.prod(len(range(*d.indices(o))) for d, o in zip(dst[1:], out_sp))
    return nx, n * tap_outputs, n * math.prod(out_sp)


def _conv_grad_x_exact(
    G64: np.ndarray, W64: np.ndarray, axes: list[_Axis], groups: int, nx: Any, wide: bool
) -> np.ndarray:
    """Where ``grad_x`` is proven exact: ``g`` (spread over the windows reaching each
    input, over the group's outputs) times the weights of each input channel."""
    n, c_out = G64.shape[:2]
    c_in = W64.shape[1] * groups
    cig, cog = c_in // groups, c_out // groups
    out_sp, spatial = G64.shape[2:], tuple(ax.n_in for ax in axes)
    tg, lg, sg = _bits_sig(G64)
    q_of_ci = np.arange(c_in) // cig
    by_group = (n, groups, cog, *out_sp)
    gtop = tg.reshape(by_group).max(axis=2, initial=TOP_NONE).reshape(n * groups, *out_sp)
    glow = lg.reshape(by_group).min(axis=2, initial=LOW_NONE).reshape(n * groups, *out_sp)
    gsig = sg.reshape(by_group).max(axis=2, initial=0).reshape(n * groups, *out_sp)
    sp_top = _sep_spread(gtop, axes, "max", TOP_NONE).reshape(n, groups, *spatial)[:, q_of_ci]
    sp_low = _sep_spread(glow, axes, "min", LOW_NONE).reshape(n, groups, *spatial)[:, q_of_ci]
    sp_sig = _sep_spread(gsig, axes, "max", 0).reshape(n, groups, *spatial)[:, q_of_ci]
    wshape = (1, c_in, *(1,) * len(spatial))
    # per input channel q*cig + ci: the weights [q*cog:(q+1)*cog, ci, ...] it meets
    w_by_ci = np.moveaxis(W64.reshape(groups, cog, cig, -1), 2, 1).reshape(groups, cig, -1)
    wt_ci, wl_ci, ws_ci = _bits_sig(w_by_ci)
    wt_ci = wt_ci.max(axis=2, initial=TOP_NONE).reshape(wshape)
    wl_ci = wl_ci.min(axis=2, initial=LOW_NONE).reshape(wshape)
    ws_ci = ws_ci.max(axis=2, initial=0).reshape(wshape)
    ok_x = _certified(sp_top + wt_ci, sp_low + wl_ci, nx)
    if wide:  # a product is exact with at most 53 significant bits and no underflow
        ok_x &= (sp_sig + ws_ci <= 53) & (sp_low + wl_ci >= -1074)
    return ok_x


def _conv_grad_w_exact(
    G64: np.ndarray, X64: np.ndarray, groups: int, nw: np.ndarray, nb: int, wide: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Where ``grad_w`` and ``grad_b`` are proven exact: ``grad_w[co, ci, j]`` sums ``g``
    of channel ``co`` times ``x`` of channel ``q*cig + ci`` over the batch and the
    outputs; ``grad_b[co]`` sums ``g`` of channel ``co``."""
    n, c_out = G64.shape[:2]
    c_in = X64.shape[1]
    cig, cog = c_in // groups, c_out // groups
    tg, lg, sg = _bits_sig(G64)
    tx, lx, sx = _bits_sig(X64)
    per_co = (c_out, n * math.prod(G64.shape[2:]))
    per_ci = (c_in, n * math.prod(X64.shape[2:]))
    g_t = np.moveaxis(tg, 1, 0).reshape(per_co).max(axis=1, initial=TOP_NONE)
    g_l = np.moveaxis(lg, 1, 0).reshape(per_co).min(axis=1, initial=LOW_NONE)
    g_s = np.moveaxis(sg, 1, 0).reshape(per_co).max(axis=1, initial=0)
    x_t = np.moveaxis(tx, 1, 0).reshape(per_ci).max(axis=1, initial=TOP_NONE)
    x_l = np.moveaxis(lx, 1, 0).reshape(per_ci).min(axis=1, initial=LOW_NONE)
    x_s = np.moveaxis(sx, 1, 0).reshape(per_ci).max(axis=1, initial=0)
    ci_ix = (np.arange(c_out) // cog)[:, None] * cig + np.arange(cig)[None, :]
    kshape = (c_out, cig, *(1,) * (X64.ndim - 2))
    top = (g_t[:, None] + x_t[ci_ix]).reshape(kshape)
    low = (g_l[:, None] + x_l[ci_ix]).reshape(kshape)
    ok_w = _certified(top, low, nw)
    if wide:
        ok_w &= ((g_s[:, None] + x_s[ci_ix]).reshape(kshape) <= 53) & (low >= -1074)
    return ok_w, _certified(g_t, g_l, nb)


def _conv_grad_elements(
    x_cf: np.ndarray, weight: np.ndarray, grad_cf: np.ndarray, g: geo.PoolGeometry, groups: int
) -> tuple[Elements, Elements, Elements]:
    """The loop reference's sums of ``ops.conv_grad``, one element each, for ``grad_x``
    (planes ``(N, C_in)``), ``grad_w`` (planes ``(C_out, C_in/groups)``) and ``grad_b``."""
    n, c_in = x_cf.shape[:2]
    c_out = weight.shape[0]
    cig, cog = c_in // groups, c_out // groups
    dtype = dt.dtype_name(x_cf.dtype)
    W = _Windows(x_cf.shape[2:], geometry=g)
    xs, ws, gs = _plane_values(x_cf), _plane_values(weight), _plane_values(grad_cf)
    outputs = list(itertools.product(*(range(o) for o in g.out_shape)))

    def elements_x(p: int, positions: np.ndarray) -> list:
        b, xi = divmod(p, c_in)
        grp, ci = divmod(xi, cig)
        out = []
        for t in positions:
            t_flat = W.in_flat(t)
            acc = dt.ExactSum()
            for co in range(grp * cog, (grp + 1) * cog):
                gp, wp = gs(b * c_out + co), ws(co * cig + ci)
                for o in W.covering(t):
                    gv = dt.to_exact(gp[W.out_flat(o)])
                    for j, tap in enumerate(W.taps(o)):
                        if tap.in_bounds and tap.flat == t_flat:
                            acc.add(dt.exact_mul(gv, dt.to_exact(wp[j])))
            out.append(dt.round_exact(acc.value(), dtype))
        return out

    def elements_w(p: int, positions: np.ndarray) -> list:
        co, ci = divmod(p, cig)
        xi = (co // cog) * cig + ci
        out = []
        for j in positions:
            j_flat = int(np.ravel_multi_index(tuple(int(v) for v in j), weight.shape[2:]))
            acc = dt.ExactSum()
            for b in range(n):
                gp, xp = gs(b * c_out + co), xs(b * c_in + xi)
                for o_flat, o in enumerate(outputs):
                    tap = W.taps(o)[j_flat]
                    if tap.in_bounds:
                        acc.add(dt.exact_mul(dt.to_exact(gp[o_flat]), dt.to_exact(xp[tap.flat])))
            out.append(dt.round_exact(acc.value(), dtype))
        return out

    def elements_b(co: int, positions: np.ndarray) -> list:
        acc = dt.ExactSum()
        for b in range(n):
            for v in gs(b * c_out + co):
                acc.add(dt.to_exact(v))
        return [dt.round_exact(acc.value(), dtype)] * len(positions)

    return elements_x, elements_w, elements_b
