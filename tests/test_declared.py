"""A declared choice relaxes exactly what its clause says: flushed intermediates
[POOL-DTYPE-5] move a result by at most the flush slack, and nothing more passes."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

from poolconf import reference as ref
from poolconf.conformance.assertions import CheckFailure, assert_matches
from poolconf.conformance.declared import compare_as_declared, flush_slack

BF16 = ml_dtypes.bfloat16
TINY = 2.0**-126  # float32's (and bfloat16's) smallest normal number

# jax 0.10.2's bfloat16 weight gradient on the CPU: x * grad_output summed over the
# width, where 0.5 * 2**-126 is subnormal in the float32 arithmetic and is flushed
ARRAYS: dict[str, Any] = {
    "x": np.full((1, 2, 1, 2), TINY, dtype=BF16),
    "weight": np.array([0.0, 0.0, 1.0, 2.0], dtype=BF16).reshape(2, 2, 1, 1),
    "bias": None,
    "grad_output": np.array([1.5, 0.5, 0.0, -1.0], dtype=BF16).reshape(1, 2, 1, 2),
}
PARAMS: dict[str, Any] = {"stride": 1, "padding": "valid", "groups": 1}


def _judge(got: np.ndarray, expected: np.ndarray, *, flush: bool) -> float:
    def compare(g: Any, e: Any) -> float:
        return assert_matches(g, e, ulps=2, what="grad_weight", call="conv_grad", clause="X")

    return compare_as_declared(
        compare,
        got,
        expected,
        flush=flush,
        op="conv_grad",
        arrays=ARRAYS,
        params=PARAMS,
        name="grad_weight",
    )


def _weight_gradient() -> np.ndarray:
    arrays = [ARRAYS[k] for k in ("x", "weight", "bias", "grad_output")]
    return ref.conv_grad(*arrays, **PARAMS)[1]


def test_flushed_intermediate_product_passes_only_when_declared() -> None:
    expected = _weight_gradient()
    assert float(expected[0, 0, 0, 0]) == 2 * TINY  # TINY * (1.5 + 0.5), exact
    got = expected.copy()
    got[0, :, 0, 0] = 1.5 * TINY  # the 0.5 * TINY product flushed, as jax computes it
    assert _judge(got, expected, flush=True) == 0.0
    with pytest.raises(CheckFailure):
        _judge(got, expected, flush=False)


@pytest.mark.parametrize("wrong", [2.0**-100, -(2.0**-120), float("nan"), float("inf")])
def test_values_beyond_the_flush_slack_still_fail(wrong: float) -> None:
    expected = _weight_gradient()
    got = expected.copy()
    got[0, 0, 0, 0] = wrong
    with pytest.raises(CheckFailure) as info:
        _judge(got, expected, flush=True)
    assert any("declared subnormals=flush" in n for n in getattr(info.value, "__notes__", []))


def test_flush_slack_is_two_smallest_normals_per_element_of_the_largest_input() -> None:
    # the largest input holds 4 elements: at most 4 products and 4 partial sums per result
    assert flush_slack(ARRAYS, BF16) == 2 * 4 * TINY
    x64 = {"x": np.zeros((1, 1, 6)), "grad_output": np.zeros((1, 1, 3))}
    assert flush_slack(x64, np.float64) == 2 * 6 * float(np.finfo(np.float64).smallest_normal)
    assert flush_slack(x64, np.float16) == 2 * 6 * TINY  # float16 arithmetic is float32


def test_flushed_lp_powers_move_the_norm_by_the_root_of_the_bound() -> None:
    """An Lp norm is the root of a sum of powers; a flushed power moves the result by up to
    the p-th root of the flush bound (tensorflow's bfloat16 L3 norm of 2**-126 is 0: the
    cube 2**-378 is flushed) [POOL-DTYPE-5]."""
    arrays = {"x": np.array([TINY, 0.0], dtype=BF16).reshape(1, 1, 2)}
    assert flush_slack(arrays, BF16, 3) == pytest.approx((2 * 2 * TINY) ** (1 / 3))
    expected = ref.global_lp_pool(arrays["x"], p=3)
    got = np.zeros_like(expected)

    def compare(g: Any, e: Any) -> float:
        return assert_matches(g, e, ulps=4, what="output", call="global_lp_pool", clause="X")

    judged = {"op": "global_lp_pool", "arrays": arrays, "params": {"p": 3}, "name": "output"}
    assert compare_as_declared(compare, got, expected, flush=True, **judged) == 0.0
    with pytest.raises(CheckFailure):
        compare_as_declared(compare, got, expected, flush=False, **judged)
    got[...] = 2.0**-20  # far beyond the root of the bound (about 3.6e-13)
    with pytest.raises(CheckFailure):
        compare_as_declared(compare, got, expected, flush=True, **judged)
