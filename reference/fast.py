"""A vectorised path of the oracle that returns the loop reference's results bit for bit.

``poolconf.reference.fast`` has the public functions of ``poolconf.reference`` with the
same signatures, the same argument checks (``poolconf.reference.arguments``, called in the
same order, so the same ``SpecError`` messages and clauses) and the same results, NaN
matching NaN and the sign of every zero as the reference gives it. It computes with
NumPy and proves, element by element, that each result is the exact value rounded once.
An element whose proof does not go through is recomputed by the loop reference's own
per-window code (``ops._divisor``, ``ops._select_max``, ``ops._lp_norm``,
``ops._lp_grad_window``, ``dtypes.ExactSum``, ``dtypes.round_exact``) on just the windows
it needs; a call no proof covers (float64 Lp with ``p >= 2``, ``p > 6``, a divisor past
``2**53``, a floating-point environment that flushes subnormals) goes whole to the loop
reference. ``fallback_counts()`` says how often. The loop reference stays the
definition; ``tests/test_fast_reference.py`` checks the two against each other.

Why each result is exact (``u = 2**-53``, ``fl`` float64 rounding to nearest):

* **Selection** (max_pool, max_pool_with_indices, adaptive/global max, unpooling,
  padding, the routing of max gradients) moves values and never rounds. Floats are
  compared in float32 (float16, bfloat16) or their own dtype, integers in their own
  dtype, so int64/uint64 compare exactly. The window's maximum is found separably, last
  spatial axis first, keeping the earlier tap on equality (``>`` is false for ``-0.0``
  against ``+0.0``) and letting a NaN replace only a non-NaN: the kept element of each
  row is its first maximum (or first NaN), and the first row whose kept element is
  maximal holds the first maximum of the N-d window in row-major order [POOL-MAX-4,
  POOL-MAX-5, POOL-MAX-7]. Without indices ``np.maximum`` gives the same value except
  for the sign of a zero maximum, so zero results are recomputed by the keep-first scan.
* **Exact sums, one limb** (averages, their gradients, accumulated max gradients, Lp
  and its gradient with ``p = 1``, convolution where it applies). Every finite term
  ``t`` is read as ``t = odd * 2**low(t)`` with ``|t| < 2**top(t)``. If, for the terms
  of one sum, ``max top + ceil(log2 n) - min low <= 53`` and ``max top + ceil(log2 n) <=
  1024``, then every partial sum, in any order and grouping, is an integer multiple of
  ``2**min low`` below ``2**(min low + 53)`` and ``2**1024``: a float64 number. So every
  float64 addition is exact and the float64 sum *is* the exact sum; infinities and NaN
  then follow IEEE 754, which are the rules of POOL-AVG-6 (the finite part cannot
  overflow). The bound is checked once for the whole call (largest ``|t|``, smallest
  ``|t|`` and the input dtype's precision) and, where that fails, per sum from
  ``top``/``low`` of each term reduced over the sum's terms. A product of a value and a
  positive integer, or of two values, is exact when its significant bits add up to at
  most 53 and it does not underflow.
* **Exact sums, two limbs** (where one limb does not hold: float64 data, wide spreads,
  large planes): each term is split exactly on one power-of-two grid, ``t = hi + lo``
  (``_limb_split``), so that the ``hi`` sums and the ``lo`` sums each satisfy the bound
  above; the exact sum is ``S_hi + S_lo``, two float64 numbers (``_exact_round``).
* **One rounding of an exact sum ``S`` divided by an integer ``d``** (``d <= 2**53``,
  exact in float64). One limb (``_div_round``): ``q = fl(S / d)`` is the correctly
  rounded float64 quotient, the answer for float64. For a narrower dtype the answer is
  ``q`` rounded to it unless ``q`` is exactly one of its midpoints (midpoints and the
  overflow threshold are float64 numbers and rounding is monotone, so otherwise ``q``
  and ``S / d`` share a rounding cell). At a midpoint ``M``, ``M * d`` is exact for
  ``d < 2**(52 - precision)`` and compared with ``S``: equal is a tie (to even),
  otherwise ``M`` moved one float64 step towards ``S / d`` lies in the true cell. Two
  limbs (``_div_round2``): a candidate is proven by the exact signs of ``S - m * d`` for
  the midpoints ``m`` around it, computed with error-free transformations (TwoSum,
  Dekker's product, Shewchuk's expansion growth); a zero sign is an exact tie.
  Rounding to a narrower dtype happens in float64 (IEEE float64-to-float32 conversion;
  for float16 and bfloat16 integer round-half-even on the bit pattern), so no library
  conversion rounds twice.
* **Certified rounding** (Lp with ``p >= 2``, its gradient, convolution sums that are not
  exact): a float64 value ``v`` with a proven bound ``|v - exact| <= E`` (standard
  forward error bounds: products of exact values, ``gamma_n = n*u/(1 - n*u)`` for any
  summation order) is rounded to ``r``; ``r`` is kept only if the interval
  ``[v - E, v + E]`` lies strictly between the midpoints next to ``r`` (and off zero when
  ``r`` is a zero, whose sign is then known). For Lp the test runs on the sum side:
  ``y = S**(1/p)`` lies strictly between midpoints ``a < b`` iff ``a**p < S < b**p``,
  checked with the bounds of ``S`` and of ``a**p``, ``b**p``. An exact tie is never
  certified and falls back. For float64 output the margin (half a float64 ulp) is
  usually below the bound, so those elements fall back.

Clause ids refer to ``spec/pooling.md``.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from poolconf import SpecError
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref

__all__ = [
    "adaptive_avg_pool",
    "adaptive_avg_pool_grad",
    "adaptive_max_pool",
    "adaptive_max_pool_grad",
    "avg_pool",
    "avg_pool_grad",
    "conv",
    "conv_grad",
    "fallback_counts",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "lp_pool_grad",
    "max_pool",
    "max_pool_grad",
    "max_pool_with_indices",
    "max_unpool",
    "reset_fallback_counts",
    "zero_pad",
]

Indexer = Union[slice, np.ndarray]  # noqa: UP007 (a runtime alias)

TOP_NONE = -4000  # ``top`` of a zero or non-finite term: never the window's largest
LOW_NONE = 4000  # ``low`` of a zero or non-finite term: never the window's smallest


# ---------------------------------------------------------------------------
# how often the proofs did not go through
# ---------------------------------------------------------------------------

_COUNTS: Counter[tuple[str, str]] = Counter()


def fallback_counts() -> dict[str, dict[str, int]]:
    """Per op, since the last ``reset_fallback_counts()``: ``calls``, ``elements`` (output
    elements returned), ``fallback_elements`` (elements of otherwise proven calls whose
    exactness was not proven, recomputed by the loop reference one by one),
    ``fallback_units`` (planes holding them), ``fallback_calls`` (calls handed whole to
    the loop reference) and ``fallback_call_elements`` (the elements those returned)."""
    keys = ("calls", "elements", "fallback_elements", "fallback_units", "fallback_calls",
            "fallback_call_elements")
    out: dict[str, dict[str, int]] = {}
    for (op, key), n in _COUNTS.items():
        out.setdefault(op, dict.fromkeys(keys, 0))[key] += n
    return out


def reset_fallback_counts() -> None:
    _COUNTS.clear()


def _count(op: str, key: str, n: int = 1) -> None:
    if n:
        _COUNTS[(op, key)] += int(n)


def _fp_env_ok() -> bool:
    """Whether float64/float32 arithmetic has gradual underflow here: a flush-to-zero or
    denormals-are-zero mode (which another library may set) breaks every argument of
    this module, so calls then go to the loop reference."""
    a = np.array([2.0**-1022, 2.0**-1074])
    return bool((a * 0.5)[0] != 0 and (a + 0.0)[1] != 0 and a.astype(np.float32)[0] == 0
                and np.array([2.0**-149]).astype(np.float32)[0] != 0)


def _size(result: Any) -> int:
    if isinstance(result, tuple):  # values and indices: the values; conv_grad: all three
        parts = result[:1] if len(result) == 2 else result
        return sum(0 if r is None else r.size for r in parts)
    return int(result.size)


def _op(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A public op: counted, and handed whole to the loop reference when the
    floating-point environment flushes subnormals."""
    name = fn.__name__
    loop = getattr(ref, name)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not _fp_env_ok():
            result = loop(*args, **kwargs)
            _count(name, "fallback_calls")
            _count(name, "fallback_call_elements", _size(result))
        else:
            with np.errstate(all="ignore"):  # overflow, inf - inf: IEEE results are used on purpose
                result = fn(*args, **kwargs)
        _count(name, "calls")
        _count(name, "elements", _size(result))
        return result

    return call


# ---------------------------------------------------------------------------
# argument checks: the reference's helpers in the reference's order
# ---------------------------------------------------------------------------


def _pool_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], layout: str, kernel_size: object,
    stride: object, padding: geo.PaddingArg, dilation: object, ceil_mode: bool,
) -> tuple[np.ndarray, str, geo.PoolGeometry]:
    """``ops._pool_setup`` without its per-window tap lists (built only on fallback)."""
    dtype, g = args.window_call(
        x, op, allowed, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    return ref._to_channels_first(x, layout), dtype, g


def _adaptive_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[np.ndarray, str, tuple[int, ...]]:
    """``ops._adaptive_setup`` without its window lists."""
    dtype = args.check_array(x, "x", allowed, op, layout)
    x_cf = ref._to_channels_first(x, layout)
    out = geo.per_dim(output_size, "output_size", x_cf.ndim - 2, 1, "POOL-ADAPT-2")
    return x_cf, dtype, out


def _global_setup(x: np.ndarray, op: str, allowed: Sequence[str], layout: str) -> tuple[np.ndarray, str]:
    dtype = args.check_array(x, "x", allowed, op, layout)
    return ref._to_channels_first(x, layout), dtype


def _conv_setup(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: object,
    padding: geo.PaddingArg, dilation: object, groups: object, layout: str, op: str,
) -> tuple[np.ndarray, str, geo.PoolGeometry, int]:
    """``ops._conv_setup`` without its per-window tap lists."""
    dtype, grp = args.check_conv(x, weight, bias, groups, layout, op)
    x_cf = ref._to_channels_first(x, layout)
    stride = 1 if stride is None else stride  # conv's default stride is 1 [POOL-PARAM-2]
    g = geo.pool_geometry(x_cf.shape[2:], tuple(weight.shape[2:]), stride, padding, dilation, False)
    return x_cf, dtype, g, grp


def _out_shape(x_cf: np.ndarray, spatial: Sequence[int]) -> tuple[int, ...]:
    return (x_cf.shape[0], x_cf.shape[1], *spatial)


def _planes(a_cf: np.ndarray) -> np.ndarray:
    """``(N, C, *spatial)`` as a contiguous ``(N*C, *spatial)`` array."""
    return np.ascontiguousarray(a_cf).reshape(a_cf.shape[0] * a_cf.shape[1], *a_cf.shape[2:])


def _assemble(planes: np.ndarray, n: int, c: int, layout: str) -> np.ndarray:
    """A fresh ``(N*C, *spatial)`` result in the call's layout (``_from_channels_first``)."""
    return ref._from_channels_first(planes.reshape(n, c, *planes.shape[1:]), layout)


def _working(a: np.ndarray, dtype: str) -> np.ndarray:
    """Values in a dtype that compares them exactly: float32 for float16/bfloat16."""
    return a.astype(np.float32) if dtype in ("float16", "bfloat16") else a


def _empty_max(dtype: str) -> float | int:
    return ref._empty_max(dtype)


# ---------------------------------------------------------------------------
# window plans: which input positions feed which outputs, per axis and tap
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a windowed op on ``(P, *spatial)`` arrays.

    ``taps``: per kernel offset, ``(dst, src)``: the outputs whose tap is in bounds and
    the input positions they read (slices, or index arrays for adaptive windows).
    ``count``: in-bounds taps per output; ``extent``: taps inside the padded extent per
    output; ``cover``: windows (with an in-bounds tap there) reaching each input."""

    axis: int
    n_in: int
    n_out: int
    taps: tuple[tuple[Indexer, Indexer], ...]
    count: np.ndarray
    extent: np.ndarray
    cover: np.ndarray
    offsets: tuple[int, ...] = ()  # kernel offset ``j`` of each tap


def _as_indexer(ix: np.ndarray) -> Indexer:
    """An increasing arithmetic progression as a slice (faster views), else the array."""
    if ix.size == 1:
        return slice(int(ix[0]), int(ix[0]) + 1)
    step = int(ix[1] - ix[0])
    if step >= 1 and np.all(np.diff(ix) == step):
        return slice(int(ix[0]), int(ix[-1]) + 1, step)
    return ix


def _pool_axes(g: geo.PoolGeometry) -> list[_Axis]:
    axes = []
    for i, a in enumerate(g.axes):
        o = np.arange(a.out)[:, None]
        j = np.arange(a.kernel)[None, :]
        pos = o * a.stride - a.pad_begin + j * a.dilation  # [POOL-GEOM-8]
        inb = (pos >= 0) & (pos < a.length)
        ext = (pos >= -a.pad_begin) & (pos < a.length + a.pad_end)
        taps, offsets = [], []
        for jj in range(a.kernel):
            outs = np.flatnonzero(inb[:, jj])
            if outs.size:
                lo, hi = int(outs[0]), int(outs[-1]) + 1
                start = int(pos[lo, jj])
                taps.append((slice(lo, hi), slice(start, start + (hi - lo - 1) * a.stride + 1, a.stride)))
                offsets.append(jj)
        cover = np.bincount(pos[inb], minlength=a.length)
        axes.append(_Axis(1 + i, a.length, a.out, tuple(taps), inb.sum(1), ext.sum(1), cover, tuple(offsets)))
    return axes


def _adaptive_axes(spatial: Sequence[int], out: Sequence[int]) -> list[_Axis]:
    axes = []
    for i, (L, O) in enumerate(zip(spatial, out)):
        bounds = np.array([geo.adaptive_bounds(o, L, O) for o in range(O)], dtype=np.int64)
        start, length = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
        taps = []
        for j in range(int(length.max())):
            dst = np.flatnonzero(length > j)
            src = start[dst] + j
            taps.append((_as_indexer(dst), _as_indexer(src)))
        members = np.concatenate([np.arange(s, s + n) for s, n in zip(start, length)])
        cover = np.bincount(members, minlength=L)
        axes.append(_Axis(1 + i, L, O, tuple(taps), length, length, cover))
    return axes


def _ix(ndim: int, axis: int, ix: Indexer) -> tuple[Any, ...]:
    index: list[Any] = [slice(None)] * ndim
    index[axis] = ix
    return tuple(index)


def _get(a: np.ndarray, axis: int, ix: Indexer) -> np.ndarray:
    return a[_ix(a.ndim, axis, ix)] if isinstance(ix, slice) else np.take(a, ix, axis=axis)


def _resized(a: np.ndarray, axis: int, n: int) -> tuple[int, ...]:
    shape = list(a.shape)
    shape[axis] = n
    return tuple(shape)


def _per_output(axes: Sequence[_Axis], field: str) -> np.ndarray:
    """The product over axes of a per-output (``count``, ``extent``) or per-input
    (``cover``) table, shaped ``(1, *spatial)`` to broadcast over planes."""
    out = np.ones((1,) * (len(axes) + 1), dtype=np.int64)
    for i, ax in enumerate(axes):
        shape = [1] * (len(axes) + 1)
        shape[1 + i] = -1
        out = out * getattr(ax, field).astype(np.int64).reshape(shape)
    return out


_UFUNC = {"max": np.maximum, "min": np.minimum, "sum": np.add}


def _reduce(a: np.ndarray, ax: _Axis, kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    """Reduce along one axis over each output's taps (``kind``: max, min or sum). A tap
    that feeds every output starts the result (a copy, one pass less); else ``ident``."""
    uf = _UFUNC[kind]
    taps = list(ax.taps)
    for i, (dst, src) in enumerate(taps):
        if isinstance(dst, slice) and dst == slice(0, ax.n_out) and (dtype is None or dtype == a.dtype):
            res = np.array(_get(a, ax.axis, src))
            del taps[i]
            break
    else:
        res = np.full(_resized(a, ax.axis, ax.n_out), ident, dtype or a.dtype)
    for dst, src in taps:
        v = _get(a, ax.axis, src)
        index = _ix(res.ndim, ax.axis, dst)
        if isinstance(dst, slice):
            r = res[index]
            uf(r, v, out=r)
        else:  # distinct outputs within one tap
            res[index] = uf(res[index], v)
    return res


def _spread(a: np.ndarray, ax: _Axis, kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    """Transpose of ``_reduce``: each output's value combined into every input it reads."""
    uf = _UFUNC[kind]
    res = np.full(_resized(a, ax.axis, ax.n_in), ident, dtype or a.dtype)
    for dst, src in ax.taps:
        part = _get(a, ax.axis, dst)
        if isinstance(src, slice):  # distinct inputs within one tap
            r = res[_ix(res.ndim, ax.axis, src)]
            uf(r, part, out=r)
        else:  # adaptive windows: an input may repeat within one tap
            uf.at(np.moveaxis(res, ax.axis, 0), src, np.moveaxis(part, ax.axis, 0))
    return res


def _sep(a: np.ndarray, axes: Sequence[_Axis], kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    for ax in axes:
        a = _reduce(a, ax, kind, ident, dtype)
    return a


def _sep_spread(a: np.ndarray, axes: Sequence[_Axis], kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    for ax in axes:
        a = _spread(a, ax, kind, ident, dtype)
    return a


BLOCK_BYTES = 1 << 20


def _blocks(total: int, per_plane_bytes: int) -> list[slice]:
    """Blocks of planes small enough for a block's intermediates to stay in cache."""
    rows = max(1, BLOCK_BYTES // max(1, per_plane_bytes))
    return [slice(i, min(total, i + rows)) for i in range(0, total, rows)]


# ---------------------------------------------------------------------------
# selection [POOL-MAX-*]
# ---------------------------------------------------------------------------


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
        ia = np.broadcast_to(np.arange(math.prod(spatial), dtype=np.int64).reshape(1, *spatial), xw.shape)
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
    scan for the outputs that are zero, whose sign is the first zero's [POOL-MAX-5]."""
    out = _sep(xw, axes, "max", _empty_max(dtype))
    if xw.dtype.kind == "f":
        zero = out == 0
        if zero.any():
            first = _select(xw, axes, dtype, with_index=False)[0]
            out = np.where(zero, first, out)
    return out


def _blockwise_max(X: np.ndarray, axes: Sequence[_Axis], dtype: str, out_spatial: Sequence[int]) -> np.ndarray:
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
def adaptive_max_pool(x: np.ndarray, *, output_size: object, layout: str = "channels_first") -> np.ndarray:
    """Adaptive max pooling over the windows of [POOL-ADAPT-1]."""
    x_cf, dtype, out_size = _adaptive_setup(x, "adaptive_max_pool", dt.ALL_DTYPES, output_size, layout)
    n, c = x_cf.shape[:2]
    X = _planes(x_cf)
    out = _blockwise_max(X, _adaptive_axes(x_cf.shape[2:], out_size), dtype, out_size).astype(X.dtype)
    return _assemble(out, n, c, layout)


@_op
def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """Max over each plane; a zero maximum has the sign of the plane's first zero
    [POOL-GLOBAL-1, POOL-MAX-5]."""
    x_cf, dtype = _global_setup(x, "global_max_pool", dt.ALL_DTYPES, layout)
    n, c = x_cf.shape[:2]
    rank = x_cf.ndim - 2
    X = _working(_planes(x_cf), dtype).reshape(n * c, math.prod(x_cf.shape[2:]))
    if X.shape[0] == 0:
        m = np.empty((0,), X.dtype)
    else:
        m = np.max(X, axis=1)
        if X.dtype.kind == "f":
            zero = m == 0
            if zero.any():
                rows = np.flatnonzero(zero)
                first = np.argmax(X[rows] == 0, axis=1)
                m[rows] = X[rows, first]
    out = m.astype(dt.numpy_dtype(dtype)).reshape(n * c, *(1,) * rank)
    return _assemble(out, n, c, layout)


# ---------------------------------------------------------------------------
# exact sums: bits of the terms, the certificate, one rounding [POOL-DTYPE-3]
# ---------------------------------------------------------------------------


def _fmt(dtype: str) -> dt.FloatFormat:
    return dt.FLOAT_FORMATS[dtype]


def _top_low(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per float64 element: ``top`` with ``|v| < 2**top`` and ``low`` with ``v`` an odd
    multiple of ``2**low`` (int16); ``TOP_NONE``/``LOW_NONE`` for zeros and non-finite
    values. ``frexp`` gives ``v = m * 2**e``, ``0.5 <= |m| < 1``; ``|m| * 2**53`` is an
    integer whose lowest set bit (``i & -i``, a power of two converted exactly) is the
    number of trailing zero bits."""
    v = np.asarray(v, dtype=np.float64)
    fin = np.isfinite(v) & (v != 0)
    m, e = np.frexp(np.where(fin, v, 1.0))
    mi = (np.abs(m) * 2.0**53).astype(np.int64)
    tz = np.frexp((mi & -mi).astype(np.float64))[1] - 1
    top = np.where(fin, e, TOP_NONE).astype(np.int16)
    low = np.where(fin, e - 53 + tz, LOW_NONE).astype(np.int16)
    return top, low


def _ceil_log2(n: Any) -> Any:
    """``ceil(log2 n)`` for integers ``n >= 1`` (0 for ``n <= 1``), elementwise."""
    n = np.maximum(np.asarray(n, dtype=np.int64), 1)
    return np.frexp((n - 1).astype(np.float64))[1]


def _certified(top: Any, low: Any, n: Any) -> Any:
    """The exact-sum condition of the module docstring for ``n`` terms with largest
    ``top`` and smallest ``low``."""
    t = np.asarray(top, dtype=np.int64) + _ceil_log2(n)
    return (t - np.asarray(low, dtype=np.int64) <= 53) & (t <= 1024)


@dataclass(frozen=True)
class _Span:
    """Bounds on the terms of a whole array: every finite nonzero term ``t`` has
    ``|t| < 2**top`` and is a multiple of ``2**low``; ``sig``: its significant bits at
    most. Empty (no finite nonzero term): ``top = TOP_NONE``."""

    top: int
    low: int
    sig: int


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _span(a: np.ndarray, dtype: str) -> _Span:
    """Cheap whole-array bounds from the largest and smallest finite nonzero ``|a|``: a
    value of a dtype with ``p`` significant bits and exponent ``e`` (``frexp``) is a
    multiple of ``2**(e - p)``, and of the dtype's smallest subnormal. The extremes are
    found on the bit patterns without the sign bit, which order like the magnitudes
    (infinities and NaN above every finite value, zero below every nonzero)."""
    fmt = _fmt(dtype)
    if a.size == 0:
        return _Span(TOP_NONE, LOW_NONE, 0)
    a = np.ascontiguousarray(a)
    ut = _UINT[a.dtype.itemsize]
    width = 8 * a.dtype.itemsize
    mag = a.view(ut) & ut((1 << (width - 1)) - 1)
    inf_bits = ut(np.array(np.inf, dtype=a.dtype).view(ut))
    hi = mag.max()
    if hi >= inf_bits:  # infinities or NaN: leave them out
        mag = np.where(mag >= inf_bits, ut(0), mag)
        hi = mag.max()
    if hi == 0:
        return _Span(TOP_NONE, LOW_NONE, 0)
    lo = (mag - ut(1)).min() + ut(1)  # zeros wrap to the largest pattern
    amax = float(np.array(hi, dtype=ut).view(a.dtype))
    amin = float(np.array(lo, dtype=ut).view(a.dtype))
    top = math.frexp(amax)[1]
    low = max(math.frexp(amin)[1] - fmt.precision, fmt.emin - fmt.precision + 1)
    return _Span(top, low, fmt.precision)


def _round_to(v: np.ndarray, fmt: dt.FloatFormat, normal_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Round float64 values to ``fmt`` (nearest, ties to even, gradual underflow,
    overflow to infinity) in float64; return them and the mask of inputs that are
    exactly a midpoint of ``fmt``'s grid (including the overflow threshold).

    float32: the IEEE 754 float64-to-float32 conversion (NumPy's cast, one correctly
    rounded hardware conversion). float16 and bfloat16: in the normal range the grid
    drops the low ``53 - precision`` bits of the float64 significand, and adding
    ``half - 1`` plus the last kept bit to the bit pattern, then clearing the dropped
    bits, rounds half to even (a carry moves to the next binade, as it should).
    Midpoints: in the normal range, the dropped bits are exactly ``half``. Below it (the
    subnormal range) the grid is the multiples of ``q = 2**(emin - precision + 1)``:
    ``|v| / q`` and ``n * q`` are exact power-of-two scalings and ``np.rint`` rounds half
    to even. All of this is ``dtypes.round_exact``. ``normal_only``: the caller knows
    that no nonzero ``|v|`` is below ``fmt``'s normal range or past its overflow
    threshold, which saves the range tests."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    if fmt.precision == 53:
        return v.copy(), np.zeros(v.shape, bool)
    c = _consts(fmt)
    bits = v.view(np.uint64)
    mid = (bits & c.drop) == c.half
    if normal_only and fmt.name == "float32":
        return v.astype(np.float32).astype(np.float64), mid
    a = np.abs(v)
    below = a < c.smallest_normal
    if fmt.name == "float32":
        with np.errstate(over="ignore"):
            r = v.astype(np.float32).astype(np.float64)
    else:
        up = bits + ((c.half - np.uint64(1)) + ((bits >> c.shift) & np.uint64(1)))
        r = (up & ~c.drop).view(np.float64)
        # past the largest finite value (finite or infinite input) the result is an infinity
        r = np.where(np.abs(r) > c.max_finite, np.copysign(np.inf, v), r)
        r = np.where(np.isnan(v), v, r)
    mid &= ~below & (a < c.overflow)
    below &= v != 0
    if below.any():  # the subnormal grid
        at = np.nonzero(below)
        scaled = np.ldexp(a[at], -c.qe)
        if fmt.name != "float32":
            r[at] = np.copysign(np.ldexp(np.rint(scaled), c.qe), v[at])
        mid[at] = scaled - np.floor(scaled) == 0.5
    return r, mid


@dataclass(frozen=True)
class _Consts:
    shift: np.uint64
    drop: np.uint64
    half: np.uint64
    smallest_normal: float
    max_finite: float
    overflow: float  # 2**(emax + 1): every value from here on rounds to an infinity
    qe: int  # exponent of the subnormal quantum


_CONSTS: dict[str, _Consts] = {}


def _consts(fmt: dt.FloatFormat) -> _Consts:
    if fmt.name not in _CONSTS:
        shift = 53 - fmt.precision
        _CONSTS[fmt.name] = _Consts(
            np.uint64(shift), np.uint64((1 << shift) - 1), np.uint64(1 << (shift - 1)),
            2.0**fmt.emin, float(fmt.max_finite), 2.0 ** (fmt.emax + 1),
            fmt.emin - fmt.precision + 1,
        )
    return _CONSTS[fmt.name]


def _div_round(S: np.ndarray, d: Any, fmt: dt.FloatFormat, span: _Span | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``S / d`` rounded once to ``fmt``, for exact float64 sums ``S`` and integer
    divisors ``1 <= d <= 2**53``; and the mask of elements that could not be proven
    (a midpoint with a divisor too large for an exact check). An exactly zero ``S``
    gives ``+0.0`` [POOL-DTYPE-3]. See the module docstring. ``span``: bounds on the
    terms of every sum, when known: a nonzero exact sum is a multiple of ``2**low``, so
    ``|S / d| >= 2**low / max d``, and ``|S / d| < n * 2**top``."""
    d = np.asarray(d, dtype=np.float64)
    S = S + 0.0  # an exact zero is +0.0 (IEEE: -0.0 + 0.0 = +0.0, other values unchanged)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = S / d if not (d.ndim == 0 and d == 1) else S
    normal = False
    if span is not None and span.top != TOP_NONE:
        normal = (span.low - math.frexp(float(d.max(initial=1)))[1] >= fmt.emin
                  and span.top + 64 <= fmt.emax)
    r, mid = _round_to(q, fmt, normal_only=normal)
    bad = np.zeros(S.shape, bool)
    if mid.any():
        at = np.flatnonzero(mid)
        M, SS = q.reshape(-1)[at], S.reshape(-1)[at]
        dd = np.broadcast_to(d, S.shape).reshape(-1)[at] if d.ndim else d
        checkable = dd < 2.0 ** (52 - fmt.precision)
        c = M * dd  # exact where checkable
        nudged = np.nextafter(M, np.where(SS > c, np.inf, -np.inf))
        fixed = _round_to(nudged, fmt)[0]
        flat = r.reshape(-1)
        flat[at] = np.where(c == SS, flat[at], fixed)
        bad.reshape(-1)[at] = ~checkable
    return r, bad


# ---------------------------------------------------------------------------
# exact sums as two float64 limbs
# ---------------------------------------------------------------------------
# Error-free transformations (round to nearest, no overflow; ``_two_prod`` also no
# underflow): ``_two_sum(a, b) = (s, e)`` with ``s = fl(a + b)`` and ``s + e == a + b``
# exactly (Knuth); ``_two_prod(a, b) = (p, e)`` with ``p + e == a * b`` exactly (Dekker,
# with Veltkamp's split). ``_sign_of_sum`` grows a nonoverlapping expansion of its terms
# (Shewchuk's Grow-Expansion: each new term passed through ``_two_sum`` with every
# component) whose largest nonzero component has the sign of the exact sum.

SPLITTER = 2.0**27 + 1.0
TINY_PRODUCT = 2.0**-960  # below: a split or product part may underflow
HUGE_PRODUCT = 2.0**995  # above: the split's 2**27 factor may overflow


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _sign_of_sum(terms: Sequence[np.ndarray]) -> np.ndarray:
    """The sign (-1, 0, 1) of the exact sum of float64 arrays (finite, no overflow)."""
    expansion = [terms[0]]
    for x in terms[1:]:
        q, grown = x, []
        for comp in expansion:
            q, h = _two_sum(q, comp)
            grown.append(h)
        expansion = [*grown, q]
    sign = np.zeros(np.broadcast(*terms).shape)
    for comp in expansion:  # increasing magnitude: the largest nonzero decides
        sign = np.where(comp != 0, np.sign(comp), sign)
    return sign


def _limb_split(v: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """``v = hi + lo`` exactly: ``hi`` the nearest multiple of ``2**G`` (scalings by a
    power of two and ``rint`` are exact), ``lo = v - hi`` with ``|lo| <= 2**(G-1)``, a
    float64 number (a multiple of ``v``'s lowest bit needing at most ``v``'s significant
    bits), so the subtraction is exact. Infinities and NaN stay in ``hi``."""
    fin = np.isfinite(v)
    vv = np.where(fin, v, 0.0)
    hi = np.ldexp(np.rint(np.ldexp(vv, -G)), G)
    return np.where(fin, hi, v), vv - hi


def _div_round2(Sh: np.ndarray, Sl: np.ndarray, d: Any, fmt: dt.FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """``(Sh + Sl) / d`` rounded once to ``fmt``, for exact float64 limb sums and integer
    divisors ``1 <= d <= 2**53``; and the mask of elements not proven.

    ``(s, t) = two_sum(Sh, Sl)``: ``s`` is the exact sum rounded to float64, ``s + t`` the
    exact sum (``s == 0`` iff it is zero: it is a multiple of ``2**-1074``). A candidate
    ``r`` (``fl(s / d)``, refined with the exact remainder for float64, rounded to ``fmt``)
    is proven when the exact sum lies strictly between ``a * d`` and ``b * d`` for the
    midpoints ``a < r < b`` around ``r`` (``_sign_of_sum`` of ``s + t - m*d`` with
    ``m*d`` from ``_two_prod``; for float64 the midpoint is ``r +- gap/2`` and
    ``(gap/2)*d`` is exact). A zero sign is an exact tie, rounded to even; a candidate
    outside its cell, or a quotient too tiny or huge for the exact products, falls back."""
    d = np.broadcast_to(np.asarray(d, dtype=np.float64), Sh.shape)
    s, t = _two_sum(Sh, Sl)
    special = ~np.isfinite(s)
    s = np.where(special, 0.0, s) + 0.0  # an exactly zero sum gives +0.0
    t = np.where(special, 0.0, t)
    one = d == 1
    q1 = s / d
    if fmt.precision == 53:
        ph, pl = _two_prod(q1, d)
        rho = (s - ph) - pl  # the remainder of a correctly rounded quotient: exact
        cand = q1 + (rho + t) / d
        up = np.nextafter(cand, np.inf)
        dn = np.nextafter(cand, -np.inf)
        ph, pl = _two_prod(cand, d)
        above = _sign_of_sum([s, t, -ph, -pl, -((up - cand) / 2) * d])  # vs the upper midpoint
        below = _sign_of_sum([s, t, -ph, -pl, ((cand - dn) / 2) * d])  # vs the lower midpoint
        even = (cand.view(np.uint64) & np.uint64(1)) == 0
        res = np.where(above == 0, np.where(even, cand, up), np.where(below == 0, np.where(even, cand, dn), cand))
        ok = (above <= 0) & (below >= 0)
        a = np.abs(cand)
        ok &= ((a > TINY_PRODUCT) & (np.abs(s) < HUGE_PRODUCT)) | (s == 0)
        # a sum divided by 1 is its float64 rounding; an exactly zero sum is +0.0
        res = np.where(one | (s == 0), s, res)
        ok |= one
    else:
        r, mid = _round_to(q1, fmt)
        # divisor 1: fl(s) is a midpoint only if the exact sum is; else t says the side
        nudged = _round_to(np.nextafter(s, np.where(t > 0, np.inf, -np.inf)), fmt)[0]
        r1 = np.where(mid & (t != 0), nudged, r)
        lo, hi = _cell(np.abs(r), fmt)
        neg = r < 0
        lo_s, hi_s = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
        zero = r == 0
        fin_hi, fin_lo = np.isfinite(hi_s), np.isfinite(lo_s)
        hp, hl = _two_prod(np.where(fin_hi, hi_s, 0.0), d)
        lp, ll = _two_prod(np.where(fin_lo, lo_s, 0.0), d)
        vs_hi = np.where(fin_hi, _sign_of_sum([s, t, -hp, -hl]), -1.0)
        vs_lo = np.where(fin_lo, _sign_of_sum([s, t, -lp, -ll]), 1.0)
        tie = (vs_hi == 0) | (vs_lo == 0)
        tie_val = _round_to(np.where(vs_hi == 0, hi_s, lo_s), fmt)[0]
        res = np.where(tie, tie_val, r)
        # a zero result takes the sign of the sum (s has it; +0.0 for an exact zero)
        res = np.where(zero & ~tie, np.copysign(0.0, s) * (s != 0), res)
        ok = tie | ((vs_hi < 0) & (vs_lo > 0))
        res = np.where(one, r1, res)
        ok |= one
    with np.errstate(invalid="ignore"):
        res = np.where(special, Sh / d, res)
    return res, ~(ok | special)


def _cast(v64: np.ndarray, dtype: str) -> np.ndarray:
    """float64 values that are exactly ``dtype`` values, converted (no rounding occurs)."""
    return v64.astype(dt.numpy_dtype(dtype))


# An element whose exactness is not proven is recomputed with the loop reference's own
# per-window code (``ops._in_bounds``, ``ops._divisor``, ``ops._select_max``,
# ``ops._lp_norm``, ``ops._lp_grad_window``, ``dtypes.ExactSum``, ``dtypes.round_exact``)
# on just the windows it needs: its own window for a forward op, the windows covering it
# for a gradient (each run once, accumulating into the reference's exact sums).

Elements = Callable[[int, np.ndarray], list]


def _refill(op: str, res: np.ndarray, fail: np.ndarray | None, elements: Elements,
            whole: bool = False) -> None:
    """Recompute with the loop reference every element of ``res`` (float64, ``(P, ...)``)
    whose exactness was not proven: ``elements(p, positions)`` gives the values at the
    ``(k, rank)`` positions of plane ``p``. ``whole``: every element, counted as a call
    handed whole to the loop reference."""
    if fail is None or not fail.any():
        return
    flat_fail = fail.reshape(fail.shape[0], -1)
    rows = np.flatnonzero(flat_fail.any(axis=1))
    if whole:
        _count(op, "fallback_calls")
        _count(op, "fallback_call_elements", int(flat_fail.sum()))
    else:
        _count(op, "fallback_elements", int(flat_fail.sum()))
        _count(op, "fallback_units", rows.size)
    for p in rows:
        at = np.flatnonzero(flat_fail[p])
        positions = np.stack(np.unravel_index(at, res.shape[1:]), axis=1)
        res[p].reshape(-1)[at] = elements(int(p), positions)


def _per_plane(plane: Callable[[int], np.ndarray]) -> Elements:
    """Elements of ops with one output per plane (global pooling): the plane's call."""
    return lambda p, positions: [float(np.asarray(plane(p)).reshape(-1)[0])] * len(positions)


class _Windows:
    """The loop reference's windows, one at a time: pooling windows (``geometry``) or
    adaptive ones (``output_size``)."""

    def __init__(self, spatial: Sequence[int], geometry: geo.PoolGeometry | None = None,
                 output_size: Sequence[int] | None = None) -> None:
        self.spatial = tuple(spatial)
        self.g = geometry
        self.out = geometry.out_shape if geometry is not None else tuple(output_size or ())
        self.strides = [math.prod(self.spatial[i + 1 :]) for i in range(len(self.spatial))]
        self._taps: dict[tuple[int, ...], list[geo.WindowTap]] = {}

    def taps(self, o: Sequence[int]) -> list[geo.WindowTap]:
        key = tuple(int(v) for v in o)
        if key not in self._taps:
            self._taps[key] = self._build(key)
        return self._taps[key]

    def _build(self, o: tuple[int, ...]) -> list[geo.WindowTap]:
        """Window ``o``'s taps in window order, as ``PoolGeometry.windows`` builds them
        (adaptive windows: ``adaptive_windows``' members, all in bounds)."""
        if self.g is None:
            ranges = [range(*geo.adaptive_bounds(int(oi), L, O))
                      for oi, L, O in zip(o, self.spatial, self.out)]
            return [geo.WindowTap(sum(q * st for q, st in zip(pos, self.strides)), True, True)
                    for pos in itertools.product(*ranges)]
        taps = []
        for combo in itertools.product(*(a.taps(int(oi)) for a, oi in zip(self.g.axes, o))):
            inb = all(t.in_bounds for t in combo)
            ext = all(t.in_extent for t in combo)
            flat = sum(t.position * st for t, st in zip(combo, self.strides)) if inb else -1
            taps.append(geo.WindowTap(flat, inb, ext))
        return taps

    def covering(self, i: Sequence[int]) -> list[tuple[int, ...]]:
        """Output positions whose window holds input position ``i`` in bounds."""
        per_axis = []
        for k, ii in enumerate(i):
            if self.g is None:
                L, O = self.spatial[k], self.out[k]
                per_axis.append([o for o in range(O) if geo.adaptive_bounds(o, L, O)[0] <= ii
                                 < geo.adaptive_bounds(o, L, O)[1]])
            else:
                a = self.g.axes[k]
                os = {(ii + a.pad_begin - j * a.dilation) // a.stride for j in range(a.kernel)
                      if (ii + a.pad_begin - j * a.dilation) % a.stride == 0}
                per_axis.append(sorted(o for o in os if 0 <= o < a.out))
        return list(itertools.product(*per_axis))

    def out_flat(self, o: Sequence[int]) -> int:
        return int(np.ravel_multi_index(tuple(int(v) for v in o), self.out))

    def in_flat(self, i: Sequence[int]) -> int:
        return int(np.ravel_multi_index(tuple(int(v) for v in i), self.spatial))


def _plane_values(a_cf: np.ndarray) -> Callable[[int], list]:
    """Plane ``p`` of a channels_first array as the reference reads it (exact Python
    scalars, row-major), cached."""
    cache: dict[int, list] = {}
    channels = a_cf.shape[1]

    def get(p: int) -> list:
        if p not in cache:
            b, ch = divmod(p, channels)
            cache[p] = dt.array_to_python(np.ascontiguousarray(a_cf[b, ch]))
        return cache[p]

    return get


def _forward_elements(W: _Windows, x_cf: np.ndarray, value: Callable[[list, list], float]) -> Elements:
    """A forward op's elements: ``value(plane, taps)`` per output window."""
    planes = _plane_values(x_cf)

    def elements(p: int, positions: np.ndarray) -> list:
        plane = planes(p)
        return [value(plane, W.taps(o)) for o in positions]

    return elements


def _grad_elements(W: _Windows, x_cf: np.ndarray, g_cf: np.ndarray, dtype: str,
                   window: Callable[[list, list, float, dict], None]) -> Elements:
    """A gradient's elements: ``window(plane, taps, g, acc)`` (the reference's body for
    one window, adding into ``acc[flat]``) over every window covering the elements, each
    once, then the reference's rounding of their sums."""
    planes, gplanes = _plane_values(x_cf), _plane_values(g_cf)

    def elements(p: int, positions: np.ndarray) -> list:
        plane, gplane = planes(p), gplanes(p)
        acc: dict[int, dt.ExactSum] = collections.defaultdict(dt.ExactSum)
        for o in sorted({o for i in positions for o in W.covering(i)}):
            window(plane, W.taps(o), gplane[W.out_flat(o)], acc)
        return [dt.round_exact(acc[W.in_flat(i)].value(), dtype) for i in positions]

    return elements


def _whole(op: str, loop: Callable[[], Any]) -> Any:
    """A call the proofs do not cover at all, handed to the loop reference."""
    result = loop()
    _count(op, "fallback_calls")
    _count(op, "fallback_call_elements", _size(result))
    return result


def _plane_caller(fn: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], channels: int,
                  **params: Any) -> Callable[[int], np.ndarray]:
    """The loop reference ``fn`` on plane ``p`` of channels_first ``arrays``, as float64."""

    def call(p: int) -> np.ndarray:
        b, ch = divmod(p, channels)
        sub = [a[b : b + 1, ch : ch + 1] for a in arrays]
        out = fn(*sub, **params, layout="channels_first")
        return np.asarray(out, dtype=np.float64)[0, 0]

    return call


@dataclass(frozen=True)
class _SumPlan:
    """A linear sum over terms: ``reduce`` (float64 terms to float64 sums, in any order
    and grouping), ``cmax``/``cmin`` (a per-term int array to the max/min over each sum's
    terms, or over a superset of them) and ``count`` (terms per sum, or an upper bound)."""

    reduce: Callable[[np.ndarray], np.ndarray]
    cmax: Callable[[np.ndarray], np.ndarray]
    cmin: Callable[[np.ndarray], np.ndarray]
    count: Any


def _window_plan(axes: Sequence[_Axis], count: Any) -> _SumPlan:
    return _SumPlan(lambda a: _sep(a, axes, "sum", 0.0, np.float64),
                    lambda t: _sep(t, axes, "max", TOP_NONE),
                    lambda lo: _sep(lo, axes, "min", LOW_NONE), count)


def _spread_plan(axes: Sequence[_Axis], cover: Any) -> _SumPlan:
    return _SumPlan(lambda a: _sep_spread(a, axes, "sum", 0.0),
                    lambda t: _sep_spread(t, axes, "max", TOP_NONE),
                    lambda lo: _sep_spread(lo, axes, "min", LOW_NONE), cover)


def _row_plan(size: int) -> _SumPlan:
    return _SumPlan(lambda a: a.sum(axis=1), lambda t: t.max(axis=1, initial=TOP_NONE),
                    lambda lo: lo.min(axis=1, initial=LOW_NONE), size)


def _exact_round(plan: _SumPlan, v: np.ndarray, d: Any, fmt: dt.FloatFormat, span: _Span,
                 top_low: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
                 whole_test: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The sums of ``plan`` over the float64 terms ``v``, over ``d``, rounded once; and
    the mask of sums not proven exact. ``span`` bounds the finite nonzero terms.

    One limb: the float64 sums, exact where the certificate holds (for the whole call
    from ``span``, else per sum from ``top``/``low`` of its terms), then ``_div_round``.
    Two limbs, for the sums left: with ``lg = ceil(log2 max count)`` and
    ``G = span.low + 54 - lg``, ``_limb_split`` gives ``v = hi + lo``; every ``lo`` is a
    multiple of ``2**span.low`` of magnitude at most ``2**(G-1)``, so any partial sum of
    at most ``2**lg`` of them is below ``2**(span.low + 53)``: exact. Every ``hi`` is a
    multiple of ``2**G`` of magnitude at most ``2**M`` with ``M = max(top, G)``, so the
    ``hi`` sum is exact when ``M + ceil(log2 count) - G <= 53`` and ``M + ceil(log2 count)
    <= 1023`` (no ``hi`` and no partial sum reaches ``2**1024``). Then ``_div_round2``
    rounds ``hi`` sum plus ``lo`` sum once.
    ``whole_test=False``: the terms may be inexact products, which only ``top_low``
    (where such a term has a ``top`` failing every test) can tell. ``v`` may also be
    float32, read exactly into float64 sums; its float64 copy is made only if needed."""
    if v.dtype != np.float64:
        if whole_test and span.top != TOP_NONE and bool(_certified(span.top, span.low, int(np.max(plan.count)))):
            return _div_round(plan.reduce(v), d, fmt, span)
        v = v.astype(np.float64)
    counts = np.asarray(plan.count)
    nmax = int(counts.max(initial=1))
    lg = int(_ceil_log2(nmax))
    if whole_test and (nmax <= 1 or span.top == TOP_NONE or bool(_certified(span.top, span.low, nmax))):
        return _div_round(plan.reduce(v), d, fmt, span)
    G = span.low + 54 - lg
    if (whole_test and span.top - span.low <= 107 - 2 * lg and max(span.top, G) + lg <= 1023
            and (fmt.precision == 53 or 8 * np.size(counts) < v.size)):
        # two limbs hold for every sum (M = max(span.top, G) in the test below), and one
        # limb is unlikely to: float64 terms, or few sums of many terms
        hi, lo = _limb_split(v, G)
        return _div_round2(plan.reduce(hi), plan.reduce(lo), d, fmt)
    S = plan.reduce(v)
    top, low = top_low() if top_low is not None else _top_low(v)
    T = plan.cmax(top)
    res, bad = _div_round(S, d, fmt)
    fail = bad | ~_certified(T, plan.cmin(low), plan.count)
    if fail.any() and span.top - span.low <= 106 - 2 * lg:
        M = np.maximum(T.astype(np.int64), G)
        lgc = _ceil_log2(plan.count)
        two = fail & (M + lgc - G <= 53) & (M + lgc <= 1023)
        if two.any():
            hi, lo = _limb_split(v, G)
            r2, bad2 = _div_round2(plan.reduce(hi), plan.reduce(lo), d, fmt)
            use = two & ~bad2
            res = np.where(use, r2, res)
            fail = fail & ~use
    return res, fail


# ---------------------------------------------------------------------------
# max gradients [POOL-GRAD-2, POOL-GRAD-3, POOL-GRAD-6]
# ---------------------------------------------------------------------------


def _route(X: np.ndarray, G64: np.ndarray, axes: Sequence[_Axis], dtype: str, first: bool) -> np.ndarray:
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


def _max_grad(op: str, x_cf: np.ndarray, grad_cf: np.ndarray, dtype: str, axes: list[_Axis],
              tie_policy: str, W: _Windows, layout: str) -> np.ndarray:
    n, c = x_cf.shape[:2]
    X, G = _planes(x_cf), _planes(grad_cf)
    G64 = G.astype(np.float64)
    first = tie_policy == "first"
    cover = _per_output(axes, "cover")
    plan = _SumPlan(lambda a: _route(X, a, axes, dtype, first),
                    lambda t: _sep_spread(t, axes, "max", TOP_NONE),
                    lambda lo: _sep_spread(lo, axes, "min", LOW_NONE), cover)
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
        x, "max_pool_grad", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
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
    x_cf, dtype, out = _adaptive_setup(x, "adaptive_max_pool_grad", dt.FLOAT_DTYPES, output_size, layout)
    args.check_tie_policy(tie_policy)
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    axes = _adaptive_axes(x_cf.shape[2:], out)
    W = _Windows(x_cf.shape[2:], output_size=out)
    return _max_grad("adaptive_max_pool_grad", x_cf, grad_cf, dtype, axes, tie_policy, W, layout)


# ---------------------------------------------------------------------------
# averages [POOL-AVG-*, POOL-ADAPT-1, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def _avg_forward(op: str, x_cf: np.ndarray, dtype: str, axes: list[_Axis], d: Any,
                 elements: Elements, layout: str) -> np.ndarray:
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
    params = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
              "dilation": dilation, "ceil_mode": ceil_mode,
              "count_include_pad": count_include_pad, "divisor_override": divisor_override}
    if override is not None and override > 2**53:
        return _whole("avg_pool", lambda: ref.avg_pool(x, **params, layout=layout))
    axes = _pool_axes(g)
    d = override if override is not None else _per_output(axes, "extent" if count_include_pad else "count")

    def value(plane: list, taps: list) -> float:  # the loop body of ops.avg_pool
        acc = dt.ExactSum()
        for f in ref._in_bounds(taps):
            acc.add(dt.to_exact(plane[f]))
        div = ref._divisor(taps, count_include_pad, override)
        return math.nan if div == 0 else dt.round_exact(dt.exact_div(acc.value(), div), dtype)

    elements = _forward_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, value)
    return _avg_forward("avg_pool", x_cf, dtype, axes, d, elements, layout)


@_op
def adaptive_avg_pool(x: np.ndarray, *, output_size: object, layout: str = "channels_first") -> np.ndarray:
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
    return _avg_forward("adaptive_avg_pool", x_cf, dtype, axes, _per_output(axes, "count"), elements, layout)


def _avg_grad(op: str, x_cf: np.ndarray, grad_cf: np.ndarray, dtype: str, axes: list[_Axis],
              d: np.ndarray, elements: Elements, layout: str) -> np.ndarray:
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
        x, "avg_pool_grad", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    args.check_bool(count_include_pad, "count_include_pad")
    override = args.check_divisor(divisor_override)
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    params = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
              "dilation": dilation, "ceil_mode": ceil_mode,
              "count_include_pad": count_include_pad, "divisor_override": divisor_override}
    if override is not None and override > 2**52:
        return _whole("avg_pool_grad", lambda: ref.avg_pool_grad(x, grad_output, **params, layout=layout))
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
    x_cf, dtype, out = _adaptive_setup(x, "adaptive_avg_pool_grad", dt.FLOAT_DTYPES, output_size, layout)
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, out), layout, dtype)
    axes = _adaptive_axes(x_cf.shape[2:], out)

    def window(plane: list, taps: list, gv: float, acc: dict) -> None:  # as ops.adaptive_avg_pool_grad
        w = ref._in_bounds(taps)
        share = dt.exact_div(dt.to_exact(gv), len(w))
        for f in w:
            acc[f].add(share)

    elements = _grad_elements(_Windows(x_cf.shape[2:], output_size=out), x_cf, grad_cf, dtype, window)
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
    res, fail = _exact_round(_row_plan(size), X.astype(np.float64), size, _fmt(dtype), _span(X, dtype))
    plane = _plane_caller(ref.global_avg_pool, [x_cf], c)
    res = res.reshape(n * c, *(1,) * rank)
    _refill("global_avg_pool", res, fail.reshape(res.shape), _per_plane(plane))
    return _assemble(_cast(res, dtype), n, c, layout)


# ---------------------------------------------------------------------------
# certified rounding of approximations [POOL-LP-1, POOL-GRAD-4, POOL-CONV-1]
# ---------------------------------------------------------------------------

SLACK = 1.0 + 2.0**-50  # covers the rounding of the few float64 operations of each test


def _cell(r: np.ndarray, fmt: dt.FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """For values ``r >= 0`` of ``fmt`` (``+inf`` included): the midpoints below and above
    ``r``, exact in float64; the overflow threshold is the midpoint above the largest
    finite value and below ``+inf``."""
    fin = np.isfinite(r) & (r > 0)
    e = np.frexp(np.where(fin, r, 1.0))[1] - 1
    e = np.maximum(e, fmt.emin)
    q = np.ldexp(1.0, e - fmt.precision + 1)
    q = np.where(r == 0, 2.0 ** (fmt.emin - fmt.precision + 1), q)
    down = np.where((r == np.ldexp(1.0, e)) & (e > fmt.emin), q / 2, q)
    lo = r - down / 2
    hi = r + q / 2
    maxf = float(fmt.max_finite)
    threshold = maxf + 2.0 ** (fmt.emax - fmt.precision)
    lo = np.where(np.isinf(r), threshold, lo)
    hi = np.where(np.isinf(r), np.inf, hi)
    return lo, hi


def _cert_round(v: np.ndarray, E: np.ndarray, fmt: dt.FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """Round ``v`` (finite float64) to ``fmt`` where ``|v - exact| <= E`` proves the
    result; return the values and the mask of proven elements. ``E == 0`` means ``v`` is
    exact (an exact zero gives ``+0.0``). A zero result is proven only with its sign."""
    v = np.asarray(v, dtype=np.float64)
    E = np.broadcast_to(np.asarray(E, dtype=np.float64), v.shape)
    fin = np.isfinite(v) & np.isfinite(E)
    r, _ = _round_to(np.where(fin, v, 0.0), fmt)
    tol = E * SLACK
    with np.errstate(invalid="ignore", over="ignore"):
        if fmt.precision == 53:
            a = np.abs(v)
            e = np.maximum(np.frexp(np.where(a > 0, a, 1.0))[1] - 1, -1022)
            ok = (E == 0) | ((a > 0) & (tol < np.ldexp(1.0, e - 54)))
        else:
            lo, hi = _cell(np.abs(r), fmt)
            neg = r < 0
            lo_s, hi_s = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
            ok = (v - lo_s > tol) & (hi_s - v > tol)
            zero = r == 0
            # a zero result: the exact value lies in [0, m) (+0.0) or (-m, 0) (-0.0)
            half = 2.0 ** (fmt.emin - fmt.precision)
            pos_zero = (v >= E) & (half - v > tol)
            neg_zero = (-v > tol) & (v + half > tol)
            ok = np.where(zero, pos_zero | neg_zero, ok)
            r = np.where(zero & neg_zero, -0.0, np.where(zero, 0.0, r))
        exact = E == 0
        ok = (ok | exact) & fin
    r = np.where(exact & (v == 0), 0.0, r)
    return r, ok


def _pow(a: np.ndarray, p: int) -> np.ndarray:
    """``a**p`` by ``p - 1`` multiplications (relative error at most ``gamma_{p-1}``)."""
    out = a
    for _ in range(p - 1):
        out = out * a
    return out


def _root(S: np.ndarray, p: int) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(S) if p == 2 else np.cbrt(S) if p == 3 else np.power(S, 1.0 / p)


# ---------------------------------------------------------------------------
# Lp pooling [POOL-LP-1, POOL-LP-2]
# ---------------------------------------------------------------------------

LP_MAX_P = 6  # |x|**p of float16/bfloat16/float32 values stays normal in float64 up to here


def _lp_certified_sum_root(S: np.ndarray, n_terms: Any, p: int, fmt: dt.FloatFormat) -> tuple[np.ndarray, np.ndarray]:
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


def _lp_forward(op: str, x_cf: np.ndarray, dtype: str, p: int, axes: list[_Axis] | None,
                elements: Elements, whole: Callable[[], np.ndarray], layout: str) -> np.ndarray:
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
    params = {"kernel_size": kernel_size, "p": p, "stride": stride, "padding": padding,
              "dilation": dilation, "ceil_mode": ceil_mode}
    def value(plane: list, taps: list) -> float:  # the loop body of ops.lp_pool
        return dt.round_exact(ref._lp_norm([plane[f] for f in ref._in_bounds(taps)], p), dtype)

    elements = _forward_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, value)
    return _lp_forward("lp_pool", x_cf, dtype, p, _pool_axes(g), elements,
                       lambda: ref.lp_pool(x, **params, layout=layout), layout)


@_op
def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """Lp norm of each plane [POOL-GLOBAL-1, POOL-LP-1]."""
    x_cf, dtype = _global_setup(x, "global_lp_pool", dt.FLOAT_DTYPES, layout)
    p = args.check_p(p)
    plane = _plane_caller(ref.global_lp_pool, [x_cf], x_cf.shape[1], p=p)
    return _lp_forward("global_lp_pool", x_cf, dtype, p, None, _per_plane(plane),
                       lambda: ref.global_lp_pool(x, p=p, layout=layout), layout)


def _nd_taps(axes: Sequence[_Axis]) -> list[tuple[tuple[Any, ...], tuple[Any, ...], tuple[int, ...]]]:
    """Every N-d kernel tap of slice-planned axes in row-major kernel order: (output
    index, input index) on ``(P, *spatial)`` arrays, and the kernel offsets."""
    taps = []
    for combo in itertools.product(*(zip(ax.taps, ax.offsets) for ax in axes)):
        taps.append((
            (slice(None), *(d for (d, _), _ in combo)),
            (slice(None), *(s for (_, s), _ in combo)),
            tuple(j for _, j in combo),
        ))
    return taps


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
    """Gradient of Lp pooling [POOL-GRAD-4, POOL-GRAD-8].

    ``p = 1``: each window adds ``g * sign(x)`` (exact terms; the sums are certified).
    ``p >= 2`` (float16, bfloat16, float32, ``p <= 6``): each window ``o`` adds
    ``c = g * sign(x) * (|x| / y)**(p-1)`` with ``y = S**(1/p)``. Bounds: ``S`` within
    ``eps_S = 2(n+p)2**-52`` relative; the computed root ``y'`` within ``eps_r`` of
    ``S'**(1/p)``, where ``eps_r = 2**-52`` for ``sqrt`` and otherwise ``2|y'**p - S'|/S'
    + 4p*2**-53`` (for ``w = y'**p/S'``, ``|w**(1/p) - 1| <= |w - 1|``); so ``y'`` within
    ``eps_y = 1.01(eps_r + eps_S)`` of ``y``, each ``c`` within ``eps_c = 2((p-1)eps_y +
    2p*2**-53)`` relatively plus ``2**-900`` for underflow, and the float64 sum of the
    ``v`` terms reaching an input within ``gamma_v`` of their absolute sum ``A``:
    ``E = (2 eps_c + 4v*2**-53) A + 2v*2**-900``, then ``_cert_round``. A window with a
    non-finite value or upstream value adds NaN to its taps; a zero norm adds nothing."""
    x_cf, dtype, g = _pool_setup(
        x, "lp_pool_grad", dt.FLOAT_DTYPES, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    p = args.check_p(p)
    grad_cf = ref._grad_output_cf(grad_output, _out_shape(x_cf, g.out_shape), layout, dtype)
    params = {"kernel_size": kernel_size, "p": p, "stride": stride, "padding": padding,
              "dilation": dilation, "ceil_mode": ceil_mode}
    op = "lp_pool_grad"
    fmt = _fmt(dtype)
    if p > 1 and (fmt.precision == 53 or p > LP_MAX_P):
        return _whole(op, lambda: ref.lp_pool_grad(x, grad_output, **params, layout=layout))
    n, c = x_cf.shape[:2]
    axes = _pool_axes(g)
    X, G = _planes(x_cf), _planes(grad_cf)
    X64, G64 = X.astype(np.float64), G.astype(np.float64)
    A = np.abs(X64)
    sgn = np.sign(X64)
    cover = _per_output(axes, "cover")
    nonfinite = (~np.isfinite(X64)).astype(np.int8)
    bad = (_sep(nonfinite, axes, "max", 0) > 0) | ~np.isfinite(G64)
    taps = _nd_taps(axes)
    S = _sep(_pow(A, p), axes, "sum", 0.0)
    live = ~bad & (S > 0)
    nan_in = _sep_spread(bad.astype(np.int8), axes, "max", 0) > 0
    if p == 1:  # exact terms g * sign(x): an exact sum, rounded once

        def reduce(a: np.ndarray) -> np.ndarray:
            acc = np.zeros(X.shape)
            for dst, src, _ in taps:
                acc[src] += a[dst] * sgn[src]
            return acc

        plan = _SumPlan(reduce, lambda t: _sep_spread(t, axes, "max", TOP_NONE),
                        lambda lo: _sep_spread(lo, axes, "min", LOW_NONE), cover)
        res, fail = _exact_round(plan, np.where(live, G64, 0.0), 1, fmt, _span(G, dtype))
    else:
        y = np.where(live, _root(np.where(live, S, 1.0), p), 1.0)
        count = _per_output(axes, "count").astype(np.float64)
        eps_s = 2.0 * (count + p) * 2.0**-52
        if p == 2:
            eps_r = np.full(y.shape, 2.0**-52)
        else:
            Sl = np.where(live, S, 1.0)
            eps_r = 2.0 * np.abs(_pow(y, p) - Sl) / Sl + 4.0 * p * 2.0**-53
        eps_y = 1.01 * (eps_r + eps_s)
        eps_c = float(np.max(np.where(live, 2.0 * ((p - 1) * eps_y + 2.0 * p * 2.0**-53), 0.0), initial=0.0))
        acc = np.zeros(X.shape)
        mag = np.zeros(X.shape)
        for dst, src, _ in taps:
            term = np.where(live[dst], G64[dst] * sgn[src] * _pow(A[src] / y[dst], p - 1), 0.0)
            acc[src] += term
            mag[src] += np.abs(term)
        v = cover.astype(np.float64)
        E = (2.0 * eps_c + 4.0 * v * 2.0**-53) * mag + np.where(X64 != 0, 2.0 * v * 2.0**-900, 0.0)
        res, ok = _cert_round(acc, E, fmt)
        fail = ~ok
    res = np.where(nan_in, np.nan, res)
    fail &= ~nan_in

    def window(plane: list, taps: list, gv: float, acc: dict) -> None:
        ref._lp_grad_window(plane, ref._in_bounds(taps), gv, p, acc)

    _refill(op, res, fail, _grad_elements(_Windows(x_cf.shape[2:], geometry=g), x_cf, grad_cf, dtype, window))
    return _assemble(_cast(res, dtype), n, c, layout)


# ---------------------------------------------------------------------------
# unpooling and padding [POOL-UNPOOL-*, POOL-PAD-1]
# ---------------------------------------------------------------------------


@_op
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
    """Scatter each value to its flat index in a zero plane; a repeated index keeps the
    value written last in row-major order [POOL-UNPOOL-1..4]."""
    _, out = args.unpool_output_size(x, indices, kernel_size, stride, padding, output_size, layout)
    x_cf, idx_cf = ref._to_channels_first(x, layout), ref._to_channels_first(indices, layout)
    size = math.prod(out)
    n, c = x_cf.shape[:2]
    V = _planes(x_cf).reshape(n * c, -1) if n * c else np.zeros((0, 1), x.dtype)
    I = _planes(idx_cf).reshape(n * c, -1) if n * c else np.zeros((0, 1), np.int64)
    invalid = I >= size if I.dtype.kind == "u" else (I < 0) | (I >= size)
    if invalid.any():
        first = int(np.flatnonzero(invalid.ravel())[0])
        raise SpecError(
            f"indices value {int(I.ravel()[first])} is outside the output plane of {size} elements",
            "POOL-UNPOOL-3",
        )
    result = np.zeros((n * c, size), x.dtype)
    if I.size:
        flat = (I.astype(np.int64) + (np.arange(n * c, dtype=np.int64) * size)[:, None]).ravel()
        # the last write to a position wins: its first occurrence in reversed order
        rev = flat[::-1]
        targets, first_rev = np.unique(rev, return_index=True)
        result.reshape(-1)[targets] = V.reshape(-1)[flat.size - 1 - first_rev]
    return _assemble(result.reshape(n * c, *out), n, c, layout)


@_op
def zero_pad(x: np.ndarray, *, padding: object, layout: str = "channels_first") -> np.ndarray:
    """Pad every spatial dim with zeros, ``(begin, end)`` per dim [POOL-PAD-1]."""
    dtype = args.check_array(x, "x", dt.ALL_DTYPES, "zero_pad", layout)
    x_cf = ref._to_channels_first(x, layout)
    pads = args.explicit_padding(padding, x_cf.shape[2:], "POOL-PAD-1", "zero_pad")
    out_spatial = tuple(L + pb + pe for L, (pb, pe) in zip(x_cf.shape[2:], pads))
    out = np.zeros((*x_cf.shape[:2], *out_spatial), dt.numpy_dtype(dtype))
    out[(slice(None), slice(None), *(slice(pb, pb + L) for L, (pb, _) in zip(x_cf.shape[2:], pads)))] = x_cf
    return ref._from_channels_first(out, layout)


# ---------------------------------------------------------------------------
# convolution [POOL-CONV-*, POOL-GRAD-5]
# ---------------------------------------------------------------------------
# Sums of products are computed with ``np.einsum(..., optimize=False)`` (NumPy's own
# loops: every product and sum an IEEE float64 operation, never a BLAS kernel), so
# infinities and NaN follow IEEE 754, which is POOL-AVG-6 with ``inf * 0 = NaN`` as long
# as no finite partial sum overflows: products of float16/bfloat16/float32 values are
# exact and below ``2**256``; for float64 the exact-sum certificate excludes overflow.
# An output is exact when the certificate holds for the bits of its products (``top``
# of a product at most the sum of the factors' ``top``, ``low`` exactly the sum of their
# ``low``; a product is itself exact with at most 53 significant bits and ``low >= -1074``
# (no underflow), always so below float64);
# otherwise, below float64, its rounding is certified from ``|S - exact| <= gamma_n A``
# with ``A`` the float64 sum of the absolute products (``E = (n + 2) 2**-52 A``).


def _bits_sig(a64: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    top, low = _top_low(a64)
    sig = np.where(top == TOP_NONE, 0, top.astype(np.int64) - low)
    return top.astype(np.int64), low.astype(np.int64), sig


def _finish_products(S: np.ndarray, A: np.ndarray, nterms: Any, exact_ok: Any,
                     fmt: dt.FloatFormat) -> tuple[np.ndarray, np.ndarray]:
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
                xs = X64[(slice(None), ci, *src[1:])]
                wj = W64[(co, slice(None), *j)]
                d_ix = (slice(None), co, *dst[1:])
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
    xs = _plane_values(x_cf)
    ws = _plane_values(weight)
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
                xp, wp = xs(b * c_in + grp * cig + ci), ws(co * cig + ci)
                for f, j in terms:
                    acc.add(dt.exact_mul(dt.to_exact(xp[f]), dt.to_exact(wp[j])))
            out.append(dt.round_exact(acc.value(), dtype))
        return out

    res = res.reshape(n * c_out, *out_sp)
    _refill(op, res, ~ok.reshape(res.shape), elements)
    return _assemble(_cast(res, dtype), n, c_out, layout)


def _conv_exact_forward(X64: np.ndarray, W64: np.ndarray, B64: np.ndarray | None,
                        axes: list[_Axis], groups: int, fmt: dt.FloatFormat, nterms: Any,
                        n: int, out_sp: Sequence[int]) -> Any:
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
        return _sep(red.reshape(n * groups, *spatial), axes, kind, ident).reshape(n, groups, *out_sp)

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


def _span_f64(a: np.ndarray) -> _Span:
    """``_span`` of float64 values: significant bits from the values themselves."""
    top, low = _top_low(a)
    if a.size == 0 or int(top.max()) == TOP_NONE:
        return _Span(TOP_NONE, LOW_NONE, 0)
    sig = int(np.max(np.where(top == TOP_NONE, 0, top.astype(np.int64) - low)))
    return _Span(int(top.max()), int(low.min()), sig)


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
    cig, cog = c_in // groups, c_out // groups
    grad_cf = ref._grad_output_cf(grad_output, (n, c_out, *g.out_shape), layout, dtype)
    op = "conv_grad"
    fmt = _fmt(dtype)
    wide = fmt.precision == 53
    axes = _pool_axes(g)
    out_sp = g.out_shape
    spatial = x_cf.shape[2:]
    X64 = np.ascontiguousarray(x_cf).astype(np.float64)
    W64 = weight.astype(np.float64)
    G64 = np.ascontiguousarray(grad_cf).astype(np.float64)
    gx, ax_ = np.zeros(X64.shape), np.zeros(X64.shape)
    gw, aw = np.zeros(W64.shape), np.zeros(W64.shape)
    taps = _nd_taps(axes)
    with np.errstate(invalid="ignore", over="ignore"):
        for dst, src, j in taps:
            for q in range(groups):
                ci, co = slice(q * cig, (q + 1) * cig), slice(q * cog, (q + 1) * cog)
                gs = G64[(slice(None), co, *dst[1:])]
                xs = X64[(slice(None), ci, *src[1:])]
                wj = W64[(co, slice(None), *j)]
                s_ix = (slice(None), ci, *src[1:])
                gx[s_ix] += np.einsum("no...,oc->nc...", gs, wj, optimize=False)
                ax_[s_ix] += np.einsum("no...,oc->nc...", np.abs(gs), np.abs(wj), optimize=False)
                w_ix = (co, slice(None), *j)
                g2 = gs.reshape(n, cog, math.prod(gs.shape[2:]))
                x2 = xs.reshape(n, cig, math.prod(xs.shape[2:]))
                gw[w_ix] += np.einsum("nos,ncs->oc", g2, x2, optimize=False)
                aw[w_ix] += np.einsum("nos,ncs->oc", np.abs(g2), np.abs(x2), optimize=False)
        red = tuple(i for i in range(G64.ndim) if i != 1)
        gb = G64.sum(axis=red)
        ab = np.abs(G64).sum(axis=red)

    # terms per element: grad_x, cog per covering window; grad_w, N per in-bounds output;
    # grad_b, N * prod(out)
    cover = _per_output(axes, "cover")[0]
    nx = cog * cover
    tap_outputs = np.zeros(W64.shape[2:], dtype=np.int64)
    for dst, _, j in taps:
        tap_outputs[j] = math.prod(len(range(*d.indices(o))) for d, o in zip(dst[1:], out_sp))
    nw = n * tap_outputs
    nb = n * math.prod(out_sp)

    tg, lg, sg = _bits_sig(G64)
    tx, lx, sx = _bits_sig(X64)
    q_of_ci = np.arange(c_in) // cig
    # grad_x: g (spread over the windows reaching each input, over the group's outputs)
    # times the weights of each input channel
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
    # grad_w[co, ci, j]: g of channel co times x of channel q*cig + ci, over n and outputs
    per_co = (c_out, n * math.prod(out_sp))
    per_ci = (c_in, n * math.prod(spatial))
    g_t = np.moveaxis(tg, 1, 0).reshape(per_co).max(axis=1, initial=TOP_NONE)
    g_l = np.moveaxis(lg, 1, 0).reshape(per_co).min(axis=1, initial=LOW_NONE)
    g_s = np.moveaxis(sg, 1, 0).reshape(per_co).max(axis=1, initial=0)
    x_t = np.moveaxis(tx, 1, 0).reshape(per_ci).max(axis=1, initial=TOP_NONE)
    x_l = np.moveaxis(lx, 1, 0).reshape(per_ci).min(axis=1, initial=LOW_NONE)
    x_s = np.moveaxis(sx, 1, 0).reshape(per_ci).max(axis=1, initial=0)
    co_ix = np.arange(c_out)
    ci_ix = (co_ix // cog)[:, None] * cig + np.arange(cig)[None, :]
    kshape = (c_out, cig, *(1,) * (W64.ndim - 2))
    ok_w = _certified((g_t[:, None] + x_t[ci_ix]).reshape(kshape), (g_l[:, None] + x_l[ci_ix]).reshape(kshape), nw)
    if wide:
        ok_w &= (((g_s[:, None] + x_s[ci_ix]) <= 53) & ((g_l[:, None] + x_l[ci_ix]) >= -1074)).reshape(kshape)
    ok_b = _certified(g_t, g_l, nb)

    rx, okx = _finish_products(gx, ax_, nx, ok_x, fmt)
    rw, okw = _finish_products(gw, aw, nw, ok_w, fmt)
    rb, okb = _finish_products(gb, ab, nb, ok_b, fmt)

    # the loop reference's sums of ops.conv_grad, for one element each
    W = _Windows(spatial, geometry=g)
    xs, ws, gs = _plane_values(x_cf), _plane_values(weight), _plane_values(grad_cf)
    outputs = list(itertools.product(*(range(o) for o in out_sp)))

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

    rx = rx.reshape(n * c_in, *spatial)
    _refill(op, rx, ~okx.reshape(rx.shape), elements_x)
    rw = rw.reshape(c_out * cig, *W64.shape[2:])
    _refill(op, rw, ~np.broadcast_to(okw, W64.shape).reshape(rw.shape), elements_w)
    grad_b = None
    if bias is not None:
        rb = rb.reshape(c_out, 1)
        _refill(op, rb, ~okb.reshape(rb.shape), elements_b)
        grad_b = _cast(rb.reshape(c_out), dtype)
    grad_x = _assemble(_cast(rx, dtype), n, c_in, layout)
    return grad_x, _cast(rw, dtype).reshape(W64.shape), grad_b
