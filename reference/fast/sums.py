"""Linear sums over windows (or their transposes, or whole planes), proven exact with
one limb or two, then rounded once (``_exact_round``); see ``bits`` and ``limbs``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference.fast.bits import LOW_NONE, TOP_NONE, _ceil_log2, _certified, _Span, _top_low
from poolconf.reference.fast.limbs import _div_round2, _limb_split
from poolconf.reference.fast.rounding import _div_round
from poolconf.reference.fast.windows import _Axis, _sep, _sep_spread


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
    return _SumPlan(
        lambda a: _sep(a, axes, "sum", 0.0, np.float64),
        lambda t: _sep(t, axes, "max", TOP_NONE),
        lambda lo: _sep(lo, axes, "min", LOW_NONE),
        count,
    )


def _spread_plan(axes: Sequence[_Axis], cover: Any) -> _SumPlan:
    return _SumPlan(
        lambda a: _sep_spread(a, axes, "sum", 0.0),
        lambda t: _sep_spread(t, axes, "max", TOP_NONE),
        lambda lo: _sep_spread(lo, axes, "min", LOW_NONE),
        cover,
    )


def _row_plan(size: int) -> _SumPlan:
    return _SumPlan(
        lambda a: a.sum(axis=1),
        lambda t: t.max(axis=1, initial=TOP_NONE),
        lambda lo: lo.min(axis=1, initial=LOW_NONE),
        size,
    )


def _exact_round(
    plan: _SumPlan,
    v: np.ndarray,
    d: Any,
    fmt: dt.FloatFormat,
    span: _Span,
    top_low: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    whole_test: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
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
        if (
            whole_test
            and span.top != TOP_NONE
            and bool(_certified(span.top, span.low, int(np.max(plan.count))))
        ):
            return _div_round(plan.reduce(v), d, fmt, span)
        v = v.astype(np.float64)
    counts = np.asarray(plan.count)
    nmax = int(counts.max(initial=1))
    lg = int(_ceil_log2(nmax))
    if whole_test and (
        nmax <= 1 or span.top == TOP_NONE or bool(_certified(span.top, span.low, nmax))
    ):
        return _div_round(plan.reduce(v), d, fmt, span)
    G = span.low + 54 - lg
    if (
        whole_test
        and span.top - span.low <= 107 - 2 * lg
        and max(span.top, G) + lg <= 1023
        and (fmt.precision == 53 or 8 * np.size(counts) < v.size)
    ):
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
