"""Values for drawn arrays: ordinary, special, distinct, and seeded ones."""

from __future__ import annotations

import math
from typing import Any, Literal

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from poolconf.conformance.strategies._args import Arg, resolve
from poolconf.reference import dtypes as dt

_FLOAT_WIDTH: dict[str, Literal[16, 32, 64]] = {
    "float16": 16,
    "bfloat16": 32,
    "float32": 32,
    "float64": 64,
}


def special_values(dtype: str) -> list[float | int]:
    """The special values of a dtype: NaN, +-inf, +-0.0, the smallest and largest
    subnormal, the smallest normal, huge magnitudes (``max/64``, so sums of up to 64
    terms stay finite) and the dtype's extremes; integer dtypes: min, max, 0, +-1."""
    if not dt.is_float(dtype):
        info = np.iinfo(dt.numpy_dtype(dtype))
        vals: list[float | int] = [int(info.min), int(info.max), 0, 1, int(info.max) - 1]
        if info.min < 0:
            vals += [-1, int(info.min) + 1]
        return vals
    fi = ml_dtypes.finfo(dt.numpy_dtype(dtype))
    tiny = float(fi.smallest_normal)
    sub = float(fi.smallest_subnormal)
    big = float(fi.max)
    # specials, subnormals, the smallest normal, huge values whose sums stay finite, extremes
    return [math.nan, math.inf, -math.inf, 0.0, -0.0, sub, -sub, tiny - sub, tiny, -tiny,
            big / 64, -big / 64, big, -big]  # fmt: skip


def _float_array(
    dtype: str, shape: tuple[int, ...], elements: st.SearchStrategy[float], fill: Any
) -> st.SearchStrategy[np.ndarray]:
    if dtype == "bfloat16":  # drawn as float32 values that bfloat16 holds, then cast
        return hnp.arrays(np.float32, shape, elements=elements, fill=fill).map(
            lambda a: a.astype(ml_dtypes.bfloat16)
        )
    return hnp.arrays(dt.numpy_dtype(dtype), shape, elements=elements, fill=fill)


def _distinct(
    order: list[int], shape: tuple[int, ...], dtype: str, min_magnitude: float
) -> np.ndarray:
    """A permutation of a grid: pairwise distinct values, exact in every dtype."""
    n = len(order)
    base = np.array(order, dtype=np.float64) - n // 2
    if dt.is_float(dtype):
        spacing = max(1.0, min_magnitude)
        values = base * spacing
        if min_magnitude > 0:  # keep |v| >= min_magnitude: shift the non-negatives up
            values = np.where(base >= 0, values + spacing, values)
        return values.astype(dt.numpy_dtype(dtype)).reshape(shape)
    info = np.iinfo(dt.numpy_dtype(dtype))
    values = base - base.min() + (0 if info.min == 0 else -(n // 2))
    return values.astype(dt.numpy_dtype(dtype)).reshape(shape)


def arrays(
    *,
    dtype: Arg[str],
    shape: Arg[tuple[int, ...]],
    special: Arg[bool] = False,
    distinct: Arg[bool] = False,
    min_magnitude: float = 0.0,
    max_magnitude: float = 100.0,
) -> st.SearchStrategy[np.ndarray]:
    """Values for one input array.

    * ordinary values: floats in ``[-max_magnitude, max_magnitude]`` (with
      ``|v| >= min_magnitude`` when given), integers in ``[-100, 100]`` clipped to the
      dtype;
    * ``special``: mixes in ``special_values(dtype)`` and a small pool of tie values
      (1, -1, 2, 0, -0.0);
    * ``distinct``: pairwise distinct values spaced at least ``max(1, min_magnitude)``
      apart (tie-free and kink-free: a permutation of a grid, exact in every dtype for
      up to 256 values)."""
    if not 0 <= min_magnitude <= max_magnitude:
        raise InvalidArgument(
            f"need 0 <= min_magnitude={min_magnitude} <= max_magnitude={max_magnitude}"
        )
    return st.tuples(resolve(dtype), resolve(shape), resolve(special), resolve(distinct)).flatmap(
        lambda t: _arrays(*t, min_magnitude=min_magnitude, max_magnitude=max_magnitude)
    )


def _arrays(
    dtype: str,
    shape: tuple[int, ...],
    special: bool,
    distinct: bool,
    *,
    min_magnitude: float,
    max_magnitude: float,
) -> st.SearchStrategy[np.ndarray]:
    shape = tuple(shape)
    if distinct:
        return st.permutations(range(math.prod(shape))).map(
            lambda order: _distinct(list(order), shape, dtype, min_magnitude)
        )
    if dt.is_float(dtype):
        ordinary = st.floats(
            -max_magnitude, max_magnitude, width=_FLOAT_WIDTH[dtype], allow_subnormal=False
        )
        if min_magnitude > 0:
            ordinary = ordinary.filter(lambda v: abs(v) >= min_magnitude)
        pool: list[Any] = [*special_values(dtype), 1.0, -1.0, 2.0, 0.0, -0.0]
        # the non-finite values and the signed zeros get a branch of their own: they decide
        # most NaN, infinity and zero rules (a NaN anywhere in a window, inf - inf, a
        # maximum of -0.0) [POOL-MAX-2, POOL-MAX-5, POOL-AVG-6]
        nonfinite = st.sampled_from([math.nan, math.inf, -math.inf])
        edges = st.one_of(nonfinite, st.sampled_from([-0.0, 0.0]))
        elements = st.one_of(ordinary, st.sampled_from(pool), edges) if special else ordinary
        if not special:
            return _float_array(dtype, shape, elements, None)
        # special values, three kinds of array: mostly one background value; every element
        # drawn on its own (a NaN or an infinity anywhere in a window); only zeros of both
        # signs and a few small integers (ties, and maxima of -0.0) [POOL-MAX-4, POOL-MAX-5]
        zeros_and_ties = st.sampled_from([-0.0, 0.0, -1.0, -2.0, 1.0])
        return st.one_of(
            _float_array(dtype, shape, elements, None),
            _float_array(dtype, shape, st.one_of(ordinary, nonfinite), st.nothing()),
            _float_array(dtype, shape, zeros_and_ties, st.nothing()),
        )
    info = np.iinfo(dt.numpy_dtype(dtype))
    ints = st.integers(max(int(info.min), -100), min(int(info.max), 100))
    if special:
        ints = st.one_of(ints, st.sampled_from(special_values(dtype)))
    npdt = dt.numpy_dtype(dtype)
    if not special:
        return hnp.arrays(npdt, shape, elements=ints)
    return st.one_of(
        hnp.arrays(npdt, shape, elements=ints),
        hnp.arrays(npdt, shape, elements=ints, fill=st.nothing()),
    )


def seeded_values(
    seed: int, shape: tuple[int, ...], dtype: str, *, scale: float = 2.0
) -> np.ndarray:
    """Seeded quarter-integers in ``[-scale, scale]``, exact in every float dtype
    (``grad_output``, convolution weights and bias)."""
    rng = np.random.default_rng(seed)
    q = int(scale * 4)
    return (rng.integers(-q, q + 1, size=shape) / 4.0).astype(dt.numpy_dtype(dtype))


def seeded_dense(
    seed: int, shape: tuple[int, ...], dtype: str, *, scale: float = 100.0
) -> np.ndarray:
    """Seeded values spread uniformly over ``[-scale, scale]`` and rounded to ``dtype``:
    every element its own value (nearly tie-free), for inputs too large to draw element
    by element (the scale tier)."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-scale, scale, size=shape)
    if dt.is_float(dtype):
        return values.astype(np.float32).astype(dt.numpy_dtype(dtype))
    info = np.iinfo(dt.numpy_dtype(dtype))
    return np.clip(np.round(values), info.min, info.max).astype(dt.numpy_dtype(dtype))
