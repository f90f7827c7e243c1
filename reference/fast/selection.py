"""Selection [POOL-MAX-*]: max_pool, max_pool_with_indices, adaptive and global max.

Why the result is exact: selection moves values and never rounds (the routing of max
gradients in ``max_grad``, unpooling and padding in ``scatter`` likewise). Floats are
compared in float32 (float16, bfloat16) or their own dtype, integers in their own
dtype, so int64/uint64 compare exactly. The window's maximum is found separably, last
spatial axis first, keeping the earlier tap on equality (``>`` is false for ``-0.0``
against ``+0.0``) and letting a NaN replace only a non-NaN: the kept element of each
row is its first maximum (or first NaN), and the first row whose kept element is
maximal holds the first maximum of the N-d window in row-major order [POOL-MAX-4,
POOL-MAX-5, POOL-MAX-7]. Without indices ``np.maximum`` gives the same value except
for the sign of a zero maximum, so zero results are recomputed by the keep-first scan."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.fast.common import (
    _adaptive_setup,
    _assemble,
    _empty_max,
    _global_setup,
    _op,
    _planes,
    _pool_setup,
    _working,
)
from poolconf.reference.fast.windows import (
    _adaptive_axes,
    _Axis,
    _blocks,
    _get,
    _ix,
    _pool_axes,
    _resized,
    _sep,
)


def _select(
    xw: np.ndarray, axes: Sequence[_Axis], dtype: str, with_index: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """First maximum (first NaN) of each window in row-major window order, and its flat
    index in the plane (-1 for a window with no in-bounds tap) [POOL-MAX-1..7,
    POOL-IDX-1, POOL-EMPTY-1]. Axes are reduced last first (see the module docstring)."""
    ident = _empty_max(dtype)
    is_float = xw.dtype.kind == "f"
    has_nan = is_float and bool(np.isnan(xw).any())
    a = xw
    ia: np.ndarray | None = None
    if with_index:
        spatial = xw.shape[1:]
        ia = np.broadcast_to(
            np.arange(math.prod(spatial), dtype=np.int64).reshape(1, *spatial), xw.shape
        )
    for ax in reversed(axes):
        res = np.full(_resized(a, ax.axis, ax.n_out), ident, a.dtype)
        ires = np.full(res.shape, -1, np.int64) if ia is not None else None
        for dst, src in ax.taps:
            index = _ix(res.ndim, ax.axis, dst)
            r, v = res[index], _get(a, ax.axis, src)
            take = v > r
            if has_nan:
                take |= np.isnan(v) & ~np.isnan(r)
            if ires is not None and ia is not None:
                ri = ires[index]
                take |= ri == -1
                ires[index] = np.where(take, _get(ia, ax.axis, src), ri)
            res[index] = np.where(take, v, r)
        a, ia = res, ires
    return a, ia


def _max_values(xw: np.ndarray, axes: Sequence[_Axis], dtype: str) -> np.ndarray:
    """Window maxima: ``np.maximum`` (value exact, NaN propagates), then the keep-first
    scan for the outputs that are zero, whose sign is the first zero's [POOL-MAX-5], and
    for those that are NaN, which are the window's first NaN [POOL-MAX-2]: along several
    axes ``np.maximum`` may return another NaN of the window (another sign or payload)."""
    out = _sep(xw, axes, "max", _empty_max(dtype))
    if xw.dtype.kind == "f":
        redo = (out == 0) | np.isnan(out)
        if redo.any():
            first = _select(xw, axes, dtype, with_index=False)[0]
            out = np.where(redo, first, out)
    return out


def _blockwise_max(
    X: np.ndarray, axes: Sequence[_Axis], dtype: str, out_spatial: Sequence[int]
) -> np.ndarray:
    xw_dtype = np.float32 if dtype in ("float16", "bfloat16") else X.dtype
    out = np.empty((X.shape[0], *out_spatial), xw_dtype)
    per = math.prod(X.shape[1:]) * np.dtype(xw_dtype).itemsize
    for b in _blocks(X.shape[0], per):
        out[b] = _max_values(_working(X[b], dtype), axes, dtype)
    return out


@_op
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
    """Max pooling and the int64 flat index of each selected element [POOL-MAX-1, POOL-IDX-1]."""
    x_cf, dtype, g = _pool_setup(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    n, c = x_cf.shape[:2]
    axes = _pool_axes(g)
    X = _planes(x_cf)
    vals = np.empty((n * c, *g.out_shape), X.dtype)
    idx = np.empty((n * c, *g.out_shape), np.int64)
    per = X[:1].nbytes * 4
    for b in _blocks(n * c, per):
        v, i = _select(_working(X[b], dtype), axes, dtype, with_index=True)
        vals[b] = v.astype(X.dtype)
        idx[b] = i
    return _assemble(vals, n, c, layout), _assemble(idx, n, c, layout)


@_op
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
    """Max pooling over the in-bounds taps of each window [POOL-MAX-1]."""
    x_cf, dtype, g = _pool_setup(
        x, "max_pool", dt.ALL_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    n, c = x_cf.shape[:2]
    X = _planes(x_cf)
    out = _blockwise_max(X, _pool_axes(g), dtype, g.out_shape).astype(X.dtype)
    return _assemble(out, n, c, layout)


@_op
def adaptive_max_pool(
    x: np.ndarray, *, output_size: object, layout: str = "channels_first"
) -> np.ndarray:
    """Adaptive max pooling over the windows of [POOL-ADAPT-1]."""
    x_cf, dtype, out_size = _adaptive_setup(
        x, "adaptive_max_pool", dt.ALL_DTYPES, output_size, layout
    )
    n, c = x_cf.shape[:2]
    X = _planes(x_cf)
    out = _blockwise_max(X, _adaptive_axes(x_cf.shape[2:], out_size), dtype, out_size).astype(
        X.dtype
    )
    return _assemble(out, n, c, layout)


@_op
def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Max over each plane; a zero maximum has the sign of the plane's first zero, a NaN
    maximum is the plane's first NaN [POOL-GLOBAL-1, POOL-MAX-2, POOL-MAX-5]."""
    x_cf, dtype = _global_setup(x, "global_max_pool", dt.ALL_DTYPES, layout)
    n, c = x_cf.shape[:2]
    rank = x_cf.ndim - 2
    X = _working(_planes(x_cf), dtype).reshape(n * c, math.prod(x_cf.shape[2:]))
    if X.shape[0] == 0:
        m = np.empty((0,), X.dtype)
    else:
        m = np.max(X, axis=1)
        if X.dtype.kind == "f":
            for found, is_it in ((m == 0, lambda a: a == 0), (np.isnan(m), np.isnan)):
                if found.any():
                    rows = np.flatnonzero(found)
                    first = np.argmax(is_it(X[rows]), axis=1)
                    m[rows] = X[rows, first]
    out = m.astype(dt.numpy_dtype(dtype)).reshape(n * c, *(1,) * rank)
    return _assemble(out, n, c, layout)
