"""Max gradients [POOL-GRAD-2, POOL-GRAD-3, POOL-GRAD-6]: each upstream value routed to
its window's selected element(s) (selection, no rounding), the routed values summed
exactly (``sums``) and rounded once."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref
from poolconf.reference.fast.bits import LOW_NONE, TOP_NONE, _span
from poolconf.reference.fast.common import (
    _adaptive_setup,
    _assemble,
    _cast,
    _empty_max,
    _fmt,
    _op,
    _out_shape,
    _planes,
    _pool_setup,
    _working,
)
from poolconf.reference.fast.fallback import _grad_elements, _refill, _Windows
from poolconf.reference.fast.sums import _exact_round, _SumPlan
from poolconf.reference.fast.windows import (
    _adaptive_axes,
    _Axis,
    _blocks,
    _get,
    _ix,
    _per_output,
    _pool_axes,
    _reduce,
    _resized,
    _sep_spread,
)


def _route(
    X: np.ndarray, G64: np.ndarray, axes: Sequence[_Axis], dtype: str, first: bool
) -> np.ndarray:
    """Each upstream value added to its window's selected element (``first``) or to every
    element equal to the window's maximum, every NaN when it is NaN (``all``), block by
    block [POOL-GRAD-2, POOL-GRAD-3].

    Separably: the maxima are taken along the last axis first, keeping each level; values
    then travel back one axis at a time, first axis first, to the taps of their window
    whose level-below maximum equals the level-above one (NaN matching NaN): with ``R``
    a row's maximum and ``M`` the window's, ``x == M`` iff ``x == R`` and ``R == M``
    (``x <= R <= M``, NaN propagates). With ``first`` only the first such tap (in kernel
    order) receives it: the first row holding the maximum, then its first maximum, which
    is the first maximum in row-major window order. Every partial sum formed is a
    sub-sum of the terms of each element it reaches, so the certificate of that element
    covers it."""
    out = np.empty(X.shape)
    per = max(1, math.prod(X.shape[1:])) * 8 * 4
    for b in _blocks(X.shape[0], per):
        xw = _working(X[b], dtype)
        levels = [xw]
        for ax in reversed(axes):
            levels.append(_reduce(levels[-1], ax, "max", _empty_max(dtype)))
        nan = xw.dtype.kind == "f" and bool(np.isnan(levels[-1]).any())
        r = len(axes)
        grad = G64[b]
        for depth, ax in enumerate(axes):
            hi, lo = levels[r - depth], levels[r - depth - 1]
            finite = bool(np.isfinite(grad).all())
            taken = np.zeros(hi.shape, bool) if first else None
            res = np.zeros(_resized(grad, ax.axis, ax.n_in))
            for dst, src in ax.taps:
                d_ix = _ix(hi.ndim, ax.axis, dst)
                v, m = _get(lo, ax.axis, src), hi[d_ix]
                sel = v == m
                if nan:
                    sel |= np.isnan(v) & np.isnan(m)
                if taken is not None:
                    sel &= ~taken[d_ix]
                    taken[d_ix] |= sel
                g = grad[d_ix]
                # multiplying by the 0/1 mask is exact for finite values (inf * 0 is NaN)
                part = g * sel if finite else np.where(sel, g, 0.0)
                if isinstance(src, slice):
                    r_ = res[_ix(res.ndim, ax.axis, src)]
                    r_ += part
                else:  # adaptive windows: an input may repeat within one tap
                    np.add.at(np.moveaxis(res, ax.axis, 0), src, np.moveaxis(part, ax.axis, 0))
            grad = res
        out[b] = grad
    return out


def _max_grad(
    op: str,
    x_cf: np.ndarray,
    grad_cf: np.ndarray,
    dtype: str,
    axes: list[_Axis],
    tie_policy: str,
    W: _Windows,
    layout: str,
) -> np.ndarray:
    n, c = x_cf.shape[:2]
    X, G = _planes(x_cf), _planes(grad_cf)
    G64 = G.astype(np.float64)
    first = tie_policy == "first"
    cover = _per_output(axes, "cover")
    plan = _SumPlan(
        lambda a: _route(X, a, axes, dtype, first),
        lambda t: _sep_spread(t, axes, "max", TOP_NONE),
        lambda lo: _sep_spread(lo, axes, "min", LOW_NONE),
        cover,
    )
    res, fail = _exact_round(plan, G64, 1, _fmt(dtype), _span(G, dtype))

    def window(plane: list, taps: list, gv: float, acc: dict) -> None:  # as ops._route_max_grad
        _, first, every = ref._select_max(plane, ref._in_bounds(taps), dtype)
        for f in every if tie_policy == "all" else ([first] if first >= 0 else []):
            acc[f].add(dt.to_exact(gv))

    _refill(op, res, fail, _grad_elements(W, x_cf, grad_cf, dtype, window))
    return _assemble(_cast(res, dtype), n, c, layout)


@_op
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
    x_cf, dtype, g = _pool_setup(
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
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    W = _Windows(x_cf.shape[2:], geometry=g)
    return _max_grad("max_pool_grad", x_cf, grad_cf, dtype, _pool_axes(g), tie_policy, W, layout)


@_op
def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: object,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """Gradient of adaptive max pooling [POOL-GRAD-6]."""
    x_cf, dtype, out = _adaptive_setup(
        x, "adaptive_max_pool_grad", dt.FLOAT_DTYPES, output_size, layout
    )
    args.check_tie_policy(tie_policy)
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    axes = _adaptive_axes(x_cf.shape[2:], out)
    W = _Windows(x_cf.shape[2:], output_size=out)
    return _max_grad("adaptive_max_pool_grad", x_cf, grad_cf, dtype, axes, tie_policy, W, layout)
