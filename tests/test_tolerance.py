"""The comparison rule of POOL-TOL-1/2 (``poolconf.reference.tolerance.compare``)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from poolconf.reference.tolerance import compare

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def _a(v: float, dtype: object) -> np.ndarray:
    return np.array([v], dtype=np.float64).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_within_and_beyond_budget(dtype: object) -> None:
    one = _a(1.0, dtype)
    up = np.nextafter(np.float32(1), np.float32(2)) if dtype is np.float32 else None
    if up is not None:
        assert compare(np.array([up], np.float32), one, 1).ok
        assert not compare(np.array([up], np.float32), one, 0).ok
    assert compare(one, one, 0).ok
    assert not compare(_a(2.0, dtype), one, 3).ok


@pytest.mark.parametrize("dtype", FLOATS)
def test_overflow_next_to_max_counts_as_one_ulp(dtype: object) -> None:
    """inf where max is expected is 1 ULP past it [POOL-TOL-1]; far from max it is not."""
    big = (
        float(np.finfo(dtype).max)
        if dtype is not ml_dtypes.bfloat16
        else float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    )
    inf, top = _a(math.inf, dtype), _a(big, dtype)
    c = compare(inf, top, 8)
    assert c.ok and c.max_ulp_error == 1.0
    assert not compare(inf, top, 0).ok  # an exact op: bit for bit
    assert not compare(-inf, top, 8).ok  # the wrong sign
    assert not compare(inf, _a(big / 4, dtype), 8).ok  # far below max
    assert not compare(top, inf, 8).ok  # an expected infinity needs the infinity


def test_nan_rules() -> None:
    nan = _a(math.nan, np.float32)
    assert compare(nan, nan, 0).ok and compare(nan, nan, 4).ok
    assert not compare(_a(1.0, np.float32), nan, 4).ok
    assert not compare(nan, _a(1.0, np.float32), 4).ok
