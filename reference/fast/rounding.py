"""One rounding to the output dtype: of an exact sum over an integer, and of an
approximation with a proven error bound.

One rounding of an exact sum ``S`` divided by an integer ``d`` (``d <= 2**53``, exact
in float64), one limb (``_div_round``): ``q = fl(S / d)`` is the correctly rounded
float64 quotient, the answer for float64. For a narrower dtype the answer is ``q``
rounded to it unless ``q`` is exactly one of its midpoints (midpoints and the overflow
threshold are float64 numbers and rounding is monotone, so otherwise ``q`` and
``S / d`` share a rounding cell). At a midpoint ``M``, ``M * d`` is exact for
``d < 2**(52 - precision)`` and compared with ``S``: equal is a tie (to even),
otherwise ``M`` moved one float64 step towards ``S / d`` lies in the true cell (two
limbs: ``limbs._div_round2``). Rounding to a narrower dtype happens in float64 (IEEE
float64-to-float32 conversion; for float16 and bfloat16 integer round-half-even on the
bit pattern), so no library conversion rounds twice.

Certified rounding (Lp with ``p >= 2``, its gradient, convolution sums that are not
exact): a float64 value ``v`` with a proven bound ``|v - exact| <= E`` (standard
forward error bounds: products of exact values, ``gamma_n = n*u/(1 - n*u)`` for any
summation order, ``u = 2**-53``) is rounded to ``r``; ``r`` is kept only if the interval
``[v - E, v + E]`` lies strictly between the midpoints next to ``r`` (and off zero when
``r`` is a zero, whose sign is then known) (``_cert_round``). For Lp the test runs on
the sum side (``lp._lp_certified_sum_root``). An exact tie is never certified and
falls back. For float64 output the margin (half a float64 ulp) is usually below the
bound, so those elements fall back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference.fast.bits import TOP_NONE, _Span


def _round_to(
    v: np.ndarray, fmt: dt.FloatFormat, normal_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
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
            np.uint64(shift),
            np.uint64((1 << shift) - 1),
            np.uint64(1 << (shift - 1)),
            2.0**fmt.emin,
            float(fmt.max_finite),
            2.0 ** (fmt.emax + 1),
            fmt.emin - fmt.precision + 1,
        )
    return _CONSTS[fmt.name]


def _div_round(
    S: np.ndarray, d: Any, fmt: dt.FloatFormat, span: _Span | None = None
) -> tuple[np.ndarray, np.ndarray]:
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
        normal = (
            span.low - math.frexp(float(d.max(initial=1)))[1] >= fmt.emin
            and span.top + 64 <= fmt.emax
        )
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
