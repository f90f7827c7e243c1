"""The bits of the terms of a sum and the exact-sum certificate [POOL-DTYPE-3].

Exact sums, one limb (averages, their gradients, accumulated max gradients, Lp and its
gradient with ``p = 1``, convolution where it applies). Every finite term ``t`` is read
as ``t = odd * 2**low(t)`` with ``|t| < 2**top(t)``. If, for the terms of one sum,
``max top + ceil(log2 n) - min low <= 53`` and ``max top + ceil(log2 n) <= 1024``, then
every partial sum, in any order and grouping, is an integer multiple of ``2**min low``
below ``2**(min low + 53)`` and ``2**1024``: a float64 number. So every float64 addition
is exact and the float64 sum *is* the exact sum; infinities and NaN then follow IEEE
754, which are the rules of POOL-AVG-6 (the finite part cannot overflow). The bound is
checked once for the whole call (largest ``|t|``, smallest ``|t|`` and the input
dtype's precision: ``_span``) and, where that fails, per sum from ``top``/``low`` of
each term reduced over the sum's terms (``sums._exact_round``). A product of a value
and a positive integer, or of two values, is exact when its significant bits add up to
at most 53 and it does not underflow. (``u = 2**-53``; ``fl`` is float64 rounding to
nearest.)"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference.fast.common import _fmt

TOP_NONE = -4000  # ``top`` of a zero or non-finite term: never the window's largest


LOW_NONE = 4000  # ``low`` of a zero or non-finite term: never the window's smallest


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


def _bits_sig(a64: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    top, low = _top_low(a64)
    sig = np.where(top == TOP_NONE, 0, top.astype(np.int64) - low)
    return top.astype(np.int64), low.astype(np.int64), sig


def _span_f64(a: np.ndarray) -> _Span:
    """``_span`` of float64 values: significant bits from the values themselves."""
    top, low = _top_low(a)
    if a.size == 0 or int(top.max()) == TOP_NONE:
        return _Span(TOP_NONE, LOW_NONE, 0)
    sig = int(np.max(np.where(top == TOP_NONE, 0, top.astype(np.int64) - low)))
    return _Span(int(top.max()), int(low.min()), sig)
