"""The single rounding step and ULPs of the reference [POOL-DTYPE-3, POOL-TOL-1].

``round_exact`` is checked against NumPy's float64 -> float16 / float32 casts (correctly
rounded, ties to even) and against Python's ``float(Fraction)`` for float64. ml_dtypes'
float64 -> bfloat16 cast rounds twice (through float32), so bfloat16 is checked on values
that float32 holds exactly, where ml_dtypes' cast is a single rounding; the double-rounding
case itself is checked by hand.
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from poolconf import reference as ref
from poolconf.reference import dtypes as dt

FLOATS = ("float16", "bfloat16", "float32", "float64")


def _same(a: float, b: float) -> bool:
    """Bit-level equality of two Python floats (zero signs differ; NaN equals NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _cast(v: float, dtype: str) -> float:
    with np.errstate(over="ignore"):
        return float(np.array(v, dtype=np.float64).astype(dt.numpy_dtype(dtype)).astype(np.float64))


def _representable(dtype: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """n finite values of ``dtype`` from random bit patterns, as float64."""
    nd = dt.numpy_dtype(dtype)
    bits = rng.integers(0, 2 ** (8 * nd.itemsize), size=4 * n, dtype=np.uint64)
    with np.errstate(invalid="ignore"):
        vals = bits.astype(f"u{nd.itemsize}").view(nd).astype(np.float64)
    return vals[np.isfinite(vals)][:n]


def _next_up(v: float, dtype: str) -> float:
    nd = dt.numpy_dtype(dtype)
    a = np.array(v, dtype=nd)
    bits = a.view(f"u{nd.itemsize}")
    # sign-magnitude: one more in the bit pattern is one step away from zero for both signs
    return float(np.array(bits + 1, dtype=bits.dtype).view(nd).astype(np.float64))


def _test_values(dtype: str) -> list[float]:
    """Random magnitudes across and beyond the dtype's range, midpoints between neighbours
    (ties), values just either side of them, subnormals, the largest finite value and its
    overflow boundary, all with both signs."""
    fmt = dt.FLOAT_FORMATS[dtype]
    rng = np.random.default_rng(sum(map(ord, dtype)))
    out: list[float] = []
    exps = rng.integers(fmt.emin - fmt.precision - 3, min(fmt.emax + 3, 1023), size=300)
    out += [math.ldexp(float(m), int(e)) for m, e in zip(rng.uniform(1, 2, 300), exps)]
    for a in _representable(dtype, rng, 300).tolist():
        if a == 0 or abs(a) == float(fmt.max_finite):
            continue
        b = _next_up(a, dtype)
        mid = (a + b) / 2  # exact in float64 for the three narrower dtypes
        out += [a, mid, math.nextafter(mid, 0.0), math.nextafter(mid, math.inf * a)]
    tiny = float(fmt.min_subnormal)
    out += [k * tiny / 2 for k in range(1, 40)]
    mx = float(fmt.max_finite)
    half_ulp = dt.ulp(mx, dtype) / 2
    if dtype != "float64":
        out += [mx, mx + half_ulp, math.nextafter(mx + half_ulp, 0.0), mx * 4, 1e300]
    out += [mx, 1.0, 1.5, 2.0 - 2.0**-52]
    return out + [-v for v in out]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_round_exact_matches_numpy_cast(dtype: str) -> None:
    values = _test_values(dtype)
    bad = [
        (v, dt.round_exact(Fraction(v), dtype), _cast(v, dtype))
        for v in values
        if v != 0 and not _same(dt.round_exact(Fraction(v), dtype), _cast(v, dtype))
    ]
    assert not bad, bad[:5]
    assert len(values) > 1000


def test_round_exact_matches_ml_dtypes_bfloat16_on_float32_values() -> None:
    with np.errstate(over="ignore"):
        values = [float(np.float32(v)) for v in _test_values("float32")]
        values += [v for v in _test_values("bfloat16") if float(np.float32(v)) == v]
    checked = 0
    for v in values:
        if math.isinf(v) or v == 0:  # an exact zero is +0.0 by design (tested below)
            continue
        want = float(np.float32(v).astype(ml_dtypes.bfloat16))
        assert _same(dt.round_exact(Fraction(v), "bfloat16"), want), v
        checked += 1
    assert checked > 1000


def test_bfloat16_single_rounding_where_ml_dtypes_rounds_twice() -> None:
    """1 + 2**-8 + 2**-30 lies above the midpoint of 1 and 1 + 2**-7: correctly rounded it is
    1 + 2**-7. Through float32 it first becomes the midpoint 1 + 2**-8, then ties to 1.0."""
    v = 1 + 2.0**-8 + 2.0**-30
    assert dt.round_exact(Fraction(v), "bfloat16") == 1 + 2.0**-7
    assert float(np.array(v).astype(ml_dtypes.bfloat16)) == 1.0  # ml_dtypes' double rounding


@pytest.mark.parametrize("dtype", FLOATS)
def test_round_exact_fractions_beyond_float64(dtype: str) -> None:
    """Exact values that float64 cannot hold: a hair above or below a tie decides it."""
    p = dt.FLOAT_FORMATS[dtype].precision
    tie = 1 + Fraction(1, 2**p)  # midpoint of 1 and 1 + 2**(1-p)
    up = 1 + 2.0 ** (1 - p)
    hair = Fraction(1, 2**200)
    assert dt.round_exact(tie, dtype) == 1.0  # ties to even
    assert dt.round_exact(tie + hair, dtype) == up
    assert dt.round_exact(tie - hair, dtype) == 1.0
    odd_tie = 1 + Fraction(3, 2**p)  # between 1 + u and 1 + 2u: the even one is 1 + 2u
    assert dt.round_exact(odd_tie, dtype) == 1 + 2.0 ** (2 - p)
    assert dt.round_exact(-(tie + hair), dtype) == -up


def test_round_exact_float64_matches_python_fraction_rounding() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        num = int(rng.integers(-(2**62), 2**62))
        den = int(rng.integers(1, 2**62))
        q = Fraction(num, den) * Fraction(2) ** int(rng.integers(-1100, 1000))
        assert _same(dt.round_exact(q, "float64"), float(q) if q else 0.0), q


@pytest.mark.parametrize("dtype", FLOATS)
def test_exact_zero_is_positive_and_specials_pass_through(dtype: str) -> None:
    assert _same(dt.round_exact(Fraction(0), dtype), 0.0)
    assert _same(dt.round_exact(Fraction(1, 3) - Fraction(1, 3), dtype), 0.0)
    assert dt.round_exact(math.inf, dtype) == math.inf
    assert dt.round_exact(-math.inf, dtype) == -math.inf
    assert math.isnan(dt.round_exact(math.nan, dtype))
    # a negative value below half the smallest subnormal rounds to -0.0
    tiny = dt.FLOAT_FORMATS[dtype].min_subnormal
    assert _same(dt.round_exact(-tiny / 3, dtype), -0.0)
    assert _same(dt.round_exact(tiny / 2, dtype), 0.0)  # tie with 0 goes to the even 0
    assert dt.round_exact(tiny / 2 + Fraction(1, 2**1200), dtype) == float(tiny)


@pytest.mark.parametrize(
    ("magnitude", "dtype", "expected"),
    [
        (1.0, "float32", 2.0**-23),
        (-3.0, "float32", 2.0**-22),
        (1.0, "bfloat16", 2.0**-7),
        (1.5, "float64", 2.0**-52),
        (0.0, "float16", 2.0**-24),
        (2.0**-15, "float16", 2.0**-24),  # subnormal: the quantum of the smallest binade
        (65504.0, "float16", 32.0),
        (math.inf, "float16", 32.0),  # beyond max: the largest binade's ulp
        (0.0, "float64", 2.0**-1074),
        (1e308, "float64", 2.0**971),
        (3.0e38, "bfloat16", 2.0**120),
    ],
)
def test_ulp_table(magnitude: float, dtype: str, expected: float) -> None:
    assert dt.ulp(magnitude, dtype) == expected


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_ulp_matches_numpy_spacing(dtype: str) -> None:
    rng = np.random.default_rng(3)
    nd = dt.numpy_dtype(dtype)
    vals = np.abs(_representable(dtype, rng, 400)).astype(nd)
    vals = vals[(vals > 0) & (vals < np.finfo(nd).max)]
    for v in vals:
        assert dt.ulp(float(v), dtype) == float(np.spacing(v)), v


def test_float16_average_of_64x64_ones_is_exactly_one() -> None:
    """Naive float16 accumulation stalls at 2048; the reference sums exactly [POOL-DTYPE-4]."""
    x = np.ones((1, 1, 64, 64), dtype=np.float16)
    naive = np.float16(0)
    for v in x.ravel():
        naive = np.float16(naive + v)
    assert naive == 2048  # why the case exists
    for out in (
        ref.global_avg_pool(x),
        ref.avg_pool(x, kernel_size=64),
        ref.adaptive_avg_pool(x, output_size=1),
    ):
        assert out.dtype == np.float16 and out.shape == (1, 1, 1, 1)
        assert out.item() == 1.0
