"""Exact p-th roots for Lp pooling, and the correctly rounded Lp gradient [POOL-LP-1, POOL-GRAD-4].

A window's norm ``y = S**(1/p)`` is irrational in general, so it is enclosed between two
rationals (``root_bounds``). The forward result rounds a point of a fine enough enclosure,
which is correct because no rounding boundary lies inside it. The gradient is harder: an
input element sums terms ``c / y**(p-1)`` of several windows, and those terms can cancel
to a value far smaller than any of them, or land next to a rounding boundary (the exact
gradient may be 0, or a float64 midpoint plus 1e-618). No fixed precision rounds such a sum
correctly, so ``LpGradSum`` encloses it and narrows the enclosure until both ends round to
the same value [POOL-DTYPE-3].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from poolconf.reference import dtypes as dt

ROOT_BITS = 1100  # fractional bits of the exact-root grid; finer than any float64 rounding boundary
RELATIVE_BITS = 256  # minimum correct bits of an inexact root, whatever its magnitude


def iroot(n: int, p: int) -> int:
    """``floor(n ** (1/p))`` for a non-negative integer ``n`` (Newton's method on ints)."""
    if n < 2 or p == 1:
        return n
    x = 1 << -(-n.bit_length() // p)  # >= the root
    while True:
        y = ((p - 1) * x + n // x ** (p - 1)) // p
        if y >= x:
            return x
        x = y


def root_bounds(
    s: Fraction, p: int, relative_bits: int = RELATIVE_BITS
) -> tuple[Fraction, Fraction]:
    """``(lo, hi)`` with ``lo <= s**(1/p) <= hi`` for ``s >= 0``. Equal when the root is
    rational; otherwise the root lies strictly inside ``(lo, hi)``, a cell of the grid of
    width ``2**-K`` with ``K >= ROOT_BITS``, and ``hi - lo`` is below ``2**-relative_bits``
    times the root."""
    if s == 0:
        return Fraction(0), Fraction(0)
    log2_s = s.numerator.bit_length() - s.denominator.bit_length()  # within 1 of log2(s)
    bits = max(ROOT_BITS, relative_bits - log2_s // p + 2)
    scale = 2**bits
    num = s.numerator * scale**p
    m = iroot(num // s.denominator, p)
    if m**p * s.denominator == num:
        return Fraction(m, scale), Fraction(m, scale)
    return Fraction(m, scale), Fraction(m + 1, scale)


def lp_norm(values: Sequence[float], p: int) -> dt.Exact:
    """``(sum |v|**p) ** (1/p)`` as a value that rounds like the exact norm in every spec
    dtype: the norm itself when rational, else the midpoint of its ``root_bounds`` cell,
    since every rounding boundary lies on the cell grid [POOL-LP-1]. Non-finite values
    follow POOL-AVG-6 after taking ``|v|``."""
    acc = dt.ExactSum()
    for v in values:
        e = dt.to_exact(v)
        acc.add(abs(e) ** p if isinstance(e, Fraction) else abs(e))
    total = acc.value()
    if not isinstance(total, Fraction):
        return total
    lo, hi = root_bounds(total, p)
    return (lo + hi) / 2


class LpWindow:
    """The norm of one window, ``y = s**(1/p)`` with ``s > 0`` exact; ``power_bounds``
    encloses ``y**(p-1)`` at any precision, each computed once."""

    __slots__ = ("_cache", "p", "s")

    def __init__(self, s: Fraction, p: int) -> None:
        self.s, self.p = s, p
        self._cache: dict[int, tuple[Fraction, Fraction]] = {}

    def power_bounds(self, relative_bits: int) -> tuple[Fraction, Fraction]:
        if relative_bits not in self._cache:
            lo, hi = root_bounds(self.s, self.p, relative_bits)
            self._cache[relative_bits] = (lo ** (self.p - 1), hi ** (self.p - 1))
        return self._cache[relative_bits]


def max_relative_bits(p: int) -> int:
    """The precision past which an unresolved gradient is taken to lie on the rounding
    boundary it straddles. Float64 operands put a perturbation of a sum's terms no
    smaller than about ``2**-2100`` relative per power of ``p`` (the ratio of the
    smallest subnormal to the largest finite value, raised to ``p``); twice that, with
    room, separates such a perturbation from an exact boundary."""
    return 2200 * (p + 1)


class LpGradSum:
    """The Lp gradient of one input element: the sum of ``c / y**(p-1)`` over the windows
    covering it [POOL-GRAD-4], or NaN once a window adds NaN [POOL-GRAD-8]."""

    __slots__ = ("nan", "terms")

    def __init__(self) -> None:
        self.terms: list[tuple[Fraction, LpWindow]] = []
        self.nan = False

    def add_nan(self) -> None:
        self.nan = True

    def add(self, c: Fraction, window: LpWindow) -> None:
        if c:
            self.terms.append((c, window))

    def bounds(self, relative_bits: int) -> tuple[Fraction, Fraction]:
        """``(lo, hi)`` enclosing the exact sum: each term is monotone in its root, and
        its bounds are rounded outward onto the grid ``2**-(relative_bits + ROOT_BITS)``
        (integer divisions, no gcd)."""
        shift = relative_bits + ROOT_BITS
        lo = hi = 0
        for c, w in self.terms:
            d_lo, d_hi = w.power_bounds(relative_bits)
            small, large = (d_hi, d_lo) if c > 0 else (d_lo, d_hi)  # c/small <= c/large
            num = c.numerator << shift
            lo += (num * small.denominator) // (c.denominator * small.numerator)
            hi -= (-num * large.denominator) // (c.denominator * large.numerator)
        return Fraction(lo, 1 << shift), Fraction(hi, 1 << shift)

    def rounded(self, dtype: str) -> float:
        """The exact sum rounded once to ``dtype`` [POOL-DTYPE-3]: the enclosure narrows
        (4x the bits each time) until both ends round alike (zeros of either sign are
        alike, giving +0.0). Past ``max_relative_bits`` the sum is taken to be the
        rounding boundary between the two ends, which then rounds to even."""
        if self.nan:
            return math.nan
        bits = RELATIVE_BITS
        while True:
            lo, hi = self.bounds(bits)
            r_lo, r_hi = dt.round_exact(lo, dtype), dt.round_exact(hi, dtype)
            if r_lo == r_hi:
                same_sign = math.copysign(1.0, r_lo) == math.copysign(1.0, r_hi)
                return r_lo if r_lo != 0 or same_sign else 0.0
            if bits >= max_relative_bits(self.terms[0][1].p):
                if math.isfinite(r_lo) and math.isfinite(r_hi):
                    return dt.round_exact((Fraction(r_lo) + Fraction(r_hi)) / 2, dtype)
                return dt.round_exact((lo + hi) / 2, dtype)
            bits *= 4


def lp_grad_window(plane: list, flats: Sequence[int], gv: float, p: int, acc: Sequence) -> None:
    """Add ``g * sign(x) |x|**(p-1) / y**(p-1)`` to the ``LpGradSum`` of each tap
    ``flats`` [POOL-GRAD-4]. A zero norm adds 0; a non-finite input or upstream value
    adds NaN, also when the norm is 0 [POOL-GRAD-8]."""
    vals = [v for v in (dt.to_exact(plane[f]) for f in flats) if isinstance(v, Fraction)]
    ge = dt.to_exact(gv)
    if len(vals) < len(flats) or not isinstance(ge, Fraction):
        for f in flats:
            acc[f].add_nan()
        return
    s = sum((abs(v) ** p for v in vals), Fraction(0))
    if s == 0:
        return
    window = LpWindow(s, p)
    for f, v in zip(flats, vals):
        sign = (v > 0) - (v < 0)
        acc[f].add(ge * sign * abs(v) ** (p - 1), window)
