"""Exact sums as two float64 limbs, and one rounding of their sum over an integer.

Where one limb does not hold (float64 data, wide spreads, large planes) each term is
split exactly on one power-of-two grid, ``t = hi + lo`` (``_limb_split``), so that the
``hi`` sums and the ``lo`` sums each satisfy the one-limb bound (``bits``); the exact
sum is ``S_hi + S_lo``, two float64 numbers (``sums._exact_round``). A candidate
rounding of ``(S_hi + S_lo) / d`` is proven by the exact signs of ``S - m * d`` for the
midpoints ``m`` around it (``_div_round2``); a zero sign is an exact tie.

Error-free transformations (round to nearest, no overflow; ``_two_prod`` also no
underflow): ``_two_sum(a, b) = (s, e)`` with ``s = fl(a + b)`` and ``s + e == a + b``
exactly (Knuth); ``_two_prod(a, b) = (p, e)`` with ``p + e == a * b`` exactly (Dekker,
with Veltkamp's split). ``_sign_of_sum`` grows a nonoverlapping expansion of its terms
(Shewchuk's Grow-Expansion: each new term passed through ``_two_sum`` with every
component) whose largest nonzero component has the sign of the exact sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference.fast.rounding import _cell, _round_to

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


def _div_round2(
    Sh: np.ndarray, Sl: np.ndarray, d: Any, fmt: dt.FloatFormat
) -> tuple[np.ndarray, np.ndarray]:
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
        res = np.where(
            above == 0,
            np.where(even, cand, up),
            np.where(below == 0, np.where(even, cand, dn), cand),
        )
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
