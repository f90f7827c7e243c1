"""Dtypes, exact values and the single rounding step of the reference [POOL-DTYPE-*].

Every float the reference reads is converted to an exact value: a
``fractions.Fraction`` for finite numbers, or one of the Python floats
``inf``, ``-inf``, ``nan`` for the special values. Arithmetic happens on exact
values; the result is rounded once, to nearest with ties to even, to the output
dtype [POOL-DTYPE-3]. A finite exact result whose magnitude rounds past the
largest finite value of the dtype becomes an infinity, as IEEE 754 specifies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import ml_dtypes
import numpy as np

from poolconf import SpecError

Exact = Fraction | float  # a Fraction, or float inf / -inf / nan


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: ``precision`` significand bits (with the
    implicit bit), and the exponent range of normal numbers ``[emin, emax]``."""

    name: str
    precision: int
    emin: int
    emax: int

    @property
    def max_finite(self) -> Fraction:
        return (2 - Fraction(1, 2 ** (self.precision - 1))) * Fraction(2) ** self.emax

    @property
    def min_subnormal(self) -> Fraction:
        return Fraction(2) ** (self.emin - self.precision + 1)


FLOAT_FORMATS: dict[str, FloatFormat] = {
    "float16": FloatFormat("float16", 11, -14, 15),
    "bfloat16": FloatFormat("bfloat16", 8, -126, 127),
    "float32": FloatFormat("float32", 24, -126, 127),
    "float64": FloatFormat("float64", 53, -1022, 1023),
}
FLOAT_DTYPES = tuple(FLOAT_FORMATS)
SIGNED_INT_DTYPES = ("int8", "int16", "int32", "int64")
UNSIGNED_INT_DTYPES = ("uint8", "uint16", "uint32", "uint64")
INT_DTYPES = SIGNED_INT_DTYPES + UNSIGNED_INT_DTYPES
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES
INDEX_DTYPE = "int64"


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype for a spec dtype name (bfloat16 comes from ml_dtypes)."""
    if name == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    if name not in ALL_DTYPES:
        raise SpecError(f"dtype={name!r} is not one of {list(ALL_DTYPES)}", "POOL-DTYPE-1")
    return np.dtype(name)


def dtype_name(dtype: np.dtype | type) -> str:
    """The spec name of a NumPy dtype; ``SpecError`` for dtypes outside the spec."""
    dt = np.dtype(dtype)
    if dt == np.dtype(ml_dtypes.bfloat16):
        return "bfloat16"
    if dt.name in ALL_DTYPES and dt.name != "bfloat16":
        return dt.name
    raise SpecError(f"dtype={dt.name!r} is not one of {list(ALL_DTYPES)}", "POOL-DTYPE-1")


def is_float(name: str) -> bool:
    return name in FLOAT_FORMATS


def subnormal_mask(a: object) -> np.ndarray | None:
    """Where the array ``a`` holds a subnormal of its float dtype (nonzero, finite, below
    the smallest normal); None for anything but an array of a spec float dtype."""
    if not isinstance(a, np.ndarray):
        return None
    try:
        name = dtype_name(a.dtype)
    except SpecError:
        return None
    if not is_float(name):
        return None
    fmt = FLOAT_FORMATS[name]
    smallest_normal = float(Fraction(2) ** fmt.emin)
    v = a.astype(np.float64)
    return np.isfinite(v) & (v != 0) & (np.abs(v) < smallest_normal)


def to_exact(value: float) -> Exact:
    """The exact value of a float (Fraction, or inf/-inf/nan) or an int (Fraction)."""
    if isinstance(value, int):
        return Fraction(value)
    if math.isfinite(value):
        return Fraction(value)
    return value


def array_to_python(x: np.ndarray) -> list:
    """Flat list of Python scalars equal to the elements of ``x``, exactly.

    Floats go through float64, which holds every float16, bfloat16 and float32
    value exactly; integers become Python ints."""
    name = dtype_name(x.dtype)
    if is_float(name):
        return x.astype(np.float64).ravel().tolist()
    return [int(v) for v in x.ravel().tolist()]


def round_exact(value: Exact, dtype: str) -> float:
    """Round an exact value once to ``dtype`` (nearest, ties to even) [POOL-DTYPE-3].

    Returns a Python float holding the rounded value exactly. A Fraction that is
    exactly zero gives +0.0: the sign of a zero produced by a sum is not
    specified [POOL-DTYPE-3].

    Derivation: for ``a = |q| > 0`` let ``e = floor(log2 a)`` clamped below at
    ``emin`` (subnormals share the quantum of the smallest normal binade). The
    representable numbers near ``a`` are the multiples of the quantum
    ``2**(e - precision + 1)``; ``a / quantum`` is rounded to the nearest
    integer, ties to the even one. A carry to ``2**precision`` is still
    representable (it is the next binade's first value) unless it passes
    ``max_finite``, in which case the result is infinite.
    """
    fmt = FLOAT_FORMATS[dtype]
    if not isinstance(value, Fraction):
        return float(value)
    if value == 0:
        return 0.0
    sign = -1.0 if value < 0 else 1.0
    a = abs(value)
    n, d = a.numerator, a.denominator
    e = n.bit_length() - d.bit_length()
    # make 2**e <= a < 2**(e+1)
    if (n << max(0, -e)) < (d << max(0, e)):
        e -= 1
    e = max(e, fmt.emin)
    shift = e - fmt.precision + 1
    scaled = a / (Fraction(2) ** shift)
    m = math.floor(scaled)
    rem = scaled - m
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and m % 2 == 1):
        m += 1
    result = Fraction(m) * Fraction(2) ** shift
    if result > fmt.max_finite:
        return sign * math.inf
    return sign * math.ldexp(m, shift)


def ulp(magnitude: float, dtype: str) -> float:
    """The unit in the last place of ``dtype`` at ``|magnitude|`` [POOL-TOL-1].

    ``ulp(0)`` is the smallest subnormal; beyond the largest finite value the ulp
    of the largest binade is used."""
    fmt = FLOAT_FORMATS[dtype]
    a = abs(magnitude)
    if not math.isfinite(a):
        a = float(fmt.max_finite)
    e = fmt.emin if a == 0 else max(math.frexp(a)[1] - 1, fmt.emin)
    e = min(e, fmt.emax)
    return math.ldexp(1.0, e - fmt.precision + 1)


def from_python(values: list, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Build an array of ``dtype`` from Python scalars that are exactly representable."""
    dt = numpy_dtype(dtype)
    if is_float(dtype):
        arr = np.array(values, dtype=np.float64).astype(dt)
    else:
        arr = np.array(values, dtype=dt) if values else np.zeros(0, dtype=dt)
    return arr.reshape(shape)


class ExactSum:
    """An exact accumulator over exact values with IEEE special-value rules.

    Finite terms add as Fractions. NaN, or +inf together with -inf, make NaN;
    otherwise one infinity makes the sum that infinity [POOL-AVG-6]."""

    __slots__ = ("count", "finite", "nan", "ninf", "pinf")

    def __init__(self) -> None:
        self.finite = Fraction(0)
        self.nan = False
        self.pinf = False
        self.ninf = False
        self.count = 0

    def add(self, v: Exact) -> None:
        self.count += 1
        if isinstance(v, Fraction):
            self.finite += v
        elif math.isnan(v):
            self.nan = True
        elif v > 0:
            self.pinf = True
        else:
            self.ninf = True

    def value(self) -> Exact:
        if self.nan or (self.pinf and self.ninf):
            return math.nan
        if self.pinf:
            return math.inf
        if self.ninf:
            return -math.inf
        return self.finite


def exact_mul(a: Exact, b: Exact) -> Exact:
    """Exact product with IEEE rules for special values (inf * 0 is NaN)."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a * b
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return math.nan
    if a == 0 or b == 0:
        return math.nan
    sign = (1 if a > 0 else -1) * (1 if b > 0 else -1)
    return sign * math.inf


def exact_div(a: Exact, divisor: int | Fraction) -> Exact:
    """``a / divisor`` for a positive divisor."""
    if isinstance(a, Fraction):
        return a / divisor
    return a
