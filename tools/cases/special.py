"""Special values, ties, overflow and accumulation precision (family ``special``).

One behaviour per case: NaN, infinities, signed zero, ties (with both tie policies),
subnormals, values near the dtype maximum, reduced-precision accumulation and the
integer extremes no float64 can tell apart.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.tools.cases.case import Case, case
from poolconf.tools.cases.inputs import draw, fmax, literal, min_subnormal, x1

special = functools.partial(case, family="special")
NAN, INF = math.nan, math.inf
K2S1 = {"kernel_size": [2], "stride": [1]}
K3S1 = {"kernel_size": [3], "stride": [1]}


def nan_cases() -> list[Case]:
    """NaN propagates through max, average and Lp [POOL-MAX-2, POOL-AVG-6]."""
    one_nan = x1([1.0, 2.0, NAN, -1.0, 0.5, 3.0])
    return [
        special(
            name="nan_propagates",
            op="max_pool",
            comment="one NaN propagates to every window containing it (k=3, s=1)",
            focus=["POOL-MAX-2"],
            x=one_nan,
            params=K3S1,
        ),
        special(
            name="several_nans_in_window",
            op="max_pool",
            comment="several NaNs in one window: the output is NaN; the gradient goes to the "
            "first NaN",
            focus=["POOL-GRAD-2", "POOL-MAX-2", "POOL-MAX-7"],
            x=x1([NAN, 5.0, NAN, -1.0, 0.5, 3.0]),
            params={"kernel_size": [3], "stride": [3]},
        ),
        special(
            name="nan_index_selected",
            op="max_pool_with_indices",
            comment="one NaN: its index is selected over larger numbers",
            focus=["POOL-IDX-1", "POOL-MAX-2"],
            x=x1([1.0, 9.0, NAN, -1.0, 0.5, 3.0]),
            params=K3S1,
        ),
        special(
            name="two_nans_first_selected",
            op="max_pool_with_indices",
            comment="two NaNs in one window: the first is selected (index of "
            "several NaNs is implementation-defined)",
            focus=["POOL-IDX-1", "POOL-MAX-2", "POOL-MAX-7"],
            x=x1([0.0, NAN, 2.0, NAN, -1.0, 4.0]),
            params={"kernel_size": [4], "stride": [2]},
        ),
        special(
            name="nan_among_negatives_padded_2d",
            op="max_pool",
            comment="2D NaN among negative values, padding 1 (padding is excluded, not -inf)",
            focus=["POOL-MAX-1", "POOL-MAX-2"],
            x=literal([[[[-3.0, -2.0, -1.5], [-4.0, NAN, -0.5], [-1.0, -2.5, -6.0]]]], "float32"),
            params={"kernel_size": [2, 2], "stride": [1, 1], "padding": 1},
        ),
        special(
            name="nan_propagates",
            op="avg_pool",
            comment="a NaN makes every average containing it NaN",
            focus=["POOL-AVG-6"],
            x=one_nan,
            params=K3S1,
        ),
        special(
            name="nan_propagates",
            op="lp_pool",
            comment="a NaN makes every Lp window containing it NaN (forward only: the "
            "gradient at non-finite values is implementation-defined)",
            focus=["POOL-AVG-6", "POOL-LP-1"],
            x=one_nan,
            params={**K3S1, "p": 2},
            grad=False,
        ),
        special(
            name="nan_in_overlapping_windows",
            op="adaptive_max_pool",
            comment="adaptive max with a NaN in overlapping windows",
            focus=["POOL-ADAPT-1", "POOL-MAX-2"],
            x=x1([1.0, 2.0, NAN, -1.0, 0.5]),
            params={"output_size": [3]},
        ),
        special(
            name="nan_propagates",
            op="global_max_pool",
            comment="global max with a NaN",
            focus=["POOL-GLOBAL-1", "POOL-MAX-2"],
            x=literal([[[1.0, NAN, 3.0]], [[1.0, 2.0, 3.0]]], "float64"),
        ),
        special(
            name="inf_minus_inf_is_nan",
            op="global_avg_pool",
            comment="global average of +inf and -inf is NaN",
            focus=["POOL-AVG-6", "POOL-GLOBAL-1"],
            x=literal([[[1.0, INF, -INF]], [[1.0, INF, 3.0]]], "float32"),
        ),
    ]


def infinity_cases() -> list[Case]:
    """Infinities are ordinary values [POOL-MAX-3, POOL-AVG-6]."""
    with_neg_inf = x1([1.0, -INF, 2.0, 3.0])
    return [
        special(
            name="infinities_are_ordinary",
            op="max_pool",
            comment="+inf and -inf are ordinary values; a window of -inf and finite values "
            "picks the finite one",
            focus=["POOL-MAX-3"],
            x=x1([-INF, 1.0, -INF, INF, -2.0, -INF]),
            params=K2S1,
        ),
        special(
            name="infinities",
            op="max_pool_with_indices",
            comment="indices with +inf and -inf (no ties)",
            focus=["POOL-IDX-1", "POOL-MAX-3"],
            x=x1([-INF, 1.0, 7.0, INF, -2.0, -3.0]),
            params=K2S1,
        ),
        special(
            name="window_of_only_neg_inf",
            op="max_pool",
            comment="a window of only -inf gives -inf (forward only: which -inf is selected is "
            "a tie)",
            focus=["POOL-MAX-3"],
            x=x1([-INF, -INF, 2.0, -1.0]),
            params={"kernel_size": [2]},
            grad=False,
        ),
        special(
            name="infinities",
            op="avg_pool",
            comment="average with +inf is +inf; a window with both +inf and -inf is NaN (k=3)",
            focus=["POOL-AVG-6"],
            x=x1([1.0, INF, 2.0, -INF, 3.0, 4.0, 5.0]),
            params=K3S1,
        ),
        special(
            name="neg_inf_is_pos_inf",
            op="lp_pool",
            comment="Lp of -inf is +inf (|x|; forward only)",
            focus=["POOL-AVG-6", "POOL-LP-1"],
            x=with_neg_inf,
            params={**K2S1, "p": 3},
            grad=False,
        ),
        special(
            name="gradient_at_infinity",
            op="lp_pool",
            comment="Lp gradient with an infinite input: implementation-defined",
            focus=["POOL-GRAD-4", "POOL-GRAD-8"],
            x=with_neg_inf,
            params={**K2S1, "p": 2},
        ),
    ]


def tie_cases() -> list[Case]:
    """Signed zeros and ties: the first maximum in window order [POOL-MAX-4, POOL-MAX-5]."""
    ties = x1([3.0, 3.0, 1.0, 2.0, 2.0, 0.0])
    ties_2d = literal([[[[1.0, 4.0, 4.0], [4.0, 2.0, 0.0], [3.0, 4.0, 1.0]]]], "float32")
    k2s1_2d = {"kernel_size": [2, 2], "stride": [1, 1]}
    return [
        special(
            name="signed_zero_tie",
            op="max_pool",
            comment="-0.0 and +0.0 tie: the first in window order is selected, so the "
            "output sign follows it",
            focus=["POOL-MAX-4", "POOL-MAX-5"],
            x=x1([-0.0, 0.0, -0.0, -1.0]),
            params=K2S1,
        ),
        special(
            name="signed_zero_tie",
            op="max_pool_with_indices",
            comment="-0.0 and +0.0 tie: the index of the first is selected",
            focus=["POOL-IDX-1", "POOL-MAX-4", "POOL-MAX-5"],
            x=x1([0.0, -0.0, -2.0, -0.0]),
            params=K2S1,
        ),
        special(
            name="negative_zero_among_negatives",
            op="max_pool",
            comment="a window of -0.0 and negatives gives -0.0 (an implementation starting "
            "from +0.0 gets the sign wrong)",
            focus=["POOL-MAX-1", "POOL-MAX-5"],
            x=x1([-0.0, -1.0, -3.0, -0.0]),
            params={"kernel_size": [2]},
        ),
        special(
            name="tie_gradient_to_first",
            op="max_pool",
            comment="ties: a window with two equal maxima; forward value plus the gradient "
            "to the first maximum",
            focus=["POOL-GRAD-2", "POOL-MAX-4"],
            x=ties,
            params=K3S1,
        ),
        special(
            name="tie_index_of_first",
            op="max_pool_with_indices",
            comment="ties: the index of the first maximum in window order",
            focus=["POOL-IDX-1", "POOL-MAX-4"],
            x=ties,
            params=K3S1,
        ),
        special(
            name="tie_policy_all_2d",
            op="max_pool",
            comment="ties in 2D, tie policy 'all': every tied maximum receives the full "
            "upstream value (the tutorial's mask)",
            focus=["POOL-GRAD-2", "POOL-GRAD-3", "POOL-MAX-4"],
            x=ties_2d,
            params=k2s1_2d,
            grad_params={"tie_policy": "all"},
        ),
        special(
            name="tie_policy_first_2d",
            op="max_pool",
            comment="ties in 2D, tie policy 'first', same input as the 'all' case",
            focus=["POOL-GRAD-2", "POOL-GRAD-3", "POOL-MAX-4"],
            x=ties_2d,
            params=k2s1_2d,
            grad_params={"tie_policy": "first"},
        ),
        special(
            name="tie_policy_all",
            op="adaptive_max_pool",
            comment="ties in adaptive max, tie policy 'all'",
            focus=["POOL-GRAD-2", "POOL-GRAD-6", "POOL-MAX-4"],
            x=x1([2.0, 2.0, 1.0, 2.0, 0.0]),
            params={"output_size": [2]},
            grad_params={"tie_policy": "all"},
        ),
        special(
            name="tie_forward_only",
            op="global_max_pool",
            comment="ties in global max (forward value only)",
            focus=["POOL-GLOBAL-1", "POOL-MAX-4"],
            x=x1([5.0, 1.0, 5.0]),
        ),
    ]


def subnormal_cases() -> list[Case]:
    """Subnormals of every reduced float dtype [POOL-DTYPE-3]."""
    cases = []
    for dtype in ("float16", "bfloat16", "float32"):
        s = min_subnormal(dtype)
        cases += [
            special(
                name=f"{dtype}_subnormals",
                op="max_pool",
                comment=f"{dtype} subnormals: max over tiny values of both signs",
                focus=["POOL-DTYPE-3", "POOL-DTYPE-5", "POOL-MAX-1"],
                x=x1([s, -s, 2 * s, 0.0, -3 * s, 5 * s], dtype),
                params=K2S1,
            ),
            special(
                name=f"{dtype}_subnormals",
                op="avg_pool",
                comment=f"{dtype} subnormals: averages round at the subnormal "
                "quantum (s/2 -> 0, 3s/2 -> 2s, 5s/2 -> 2s, ties to even)",
                focus=["POOL-AVG-1", "POOL-DTYPE-3", "POOL-DTYPE-5"],
                x=x1([s, 0.0, 3 * s, 0.0, 5 * s, 0.0], dtype),
                params={"kernel_size": [2], "stride": [2]},
            ),
            special(
                name=f"{dtype}_subnormals",
                op="lp_pool",
                comment=f"{dtype} subnormals: Lp p=2 of (3s, 4s) is exactly 5s although "
                "the squares underflow in the dtype",
                focus=["POOL-DTYPE-3", "POOL-LP-1"],
                x=x1([3 * s, -4 * s, 6 * s, 8 * s], dtype),
                params={"kernel_size": [2], "stride": [2], "p": 2},
            ),
            special(
                name=f"{dtype}_subnormals",
                op="global_avg_pool",
                comment=f"{dtype} subnormals: global average of tiny values",
                focus=["POOL-DTYPE-3", "POOL-GLOBAL-1"],
                x=x1([s, 2 * s, 2 * s, -s], dtype),
            ),
        ]
    return cases


def large_value_cases() -> list[Case]:
    """Values near the dtype maximum: exact sums that a dtype sum would overflow."""
    cases = []
    for dtype in dt.FLOAT_DTYPES:
        m = fmax(dtype)
        cases += [
            special(
                name=f"{dtype}_near_max",
                op="avg_pool",
                comment=f"{dtype} near the maximum: the average of (max, max, max/2, "
                "max/2) is finite although a dtype sum overflows",
                focus=["POOL-AVG-1", "POOL-DTYPE-3", "POOL-DTYPE-4"],
                x=x1([m, m, m / 2, m / 2, -m, -m], dtype),
                params={"kernel_size": [4], "stride": [2]},
            ),
            special(
                name=f"{dtype}_near_max",
                op="lp_pool",
                comment=f"{dtype} near the maximum: Lp p=2 of four values max/4 is "
                "max/2 although the squares overflow",
                focus=["POOL-DTYPE-3", "POOL-LP-1"],
                x=x1([m / 4, -m / 4, m / 4, m / 4], dtype),
                params={"kernel_size": [4], "p": 2},
            ),
            special(
                name=f"{dtype}_near_max",
                op="max_pool",
                comment=f"{dtype} near the maximum: max and -max are ordinary values",
                focus=["POOL-MAX-1", "POOL-MAX-3"],
                x=x1([m, -m, 1.0, -m], dtype),
                params=K2S1,
            ),
        ]
    return [
        *cases,
        special(
            name="float32_overflow_to_inf",
            op="lp_pool",
            comment="float32 Lp p=2 where the exact result exceeds the maximum: rounds to +inf",
            focus=["POOL-DTYPE-3", "POOL-LP-1"],
            x=x1([fmax("float32"), fmax("float32")], "float32"),
            params={"kernel_size": [2]},
        ),
        special(
            name="float32_products_overflow",
            op="conv",
            comment="float32 conv of (max, max) with weights (1.5, -1): max/2, although the "
            "product max*1.5 overflows",
            focus=["POOL-CONV-1", "POOL-DTYPE-3", "POOL-DTYPE-6"],
            x=x1([fmax("float32"), fmax("float32")], "float32"),
            weight=x1([1.5, -1.0], "float32"),
            params={},
        ),
        special(
            name="float16_squares_overflow",
            op="global_lp_pool",
            comment="float16 global Lp p=2 of sixteen values 256: 1024, although 256**2 "
            "overflows float16",
            focus=["POOL-DTYPE-4", "POOL-GLOBAL-1", "POOL-LP-1"],
            x=literal(np.full((1, 1, 4, 4), 256.0), "float16"),
            params={"p": 2},
        ),
    ]


def accumulation_cases() -> list[Case]:
    """Reduced-precision accumulation: exact sums, rounded once [POOL-DTYPE-4]."""
    return [
        special(
            name="float16_average_64x64_ones",
            op="avg_pool",
            comment="float16 average over a 64x64 window of ones is 1 (naive float16 "
            "accumulation stalls at 2048 and gives 0.5)",
            focus=["POOL-AVG-1", "POOL-DTYPE-4"],
            x=literal(np.ones((1, 1, 64, 64)), "float16"),
            params={"kernel_size": [64, 64]},
        ),
        special(
            name="float16_average_4096_ones",
            op="global_avg_pool",
            comment="float16 global average of 4096 ones is 1 (naive float16 accumulation "
            "stalls at 2048)",
            focus=["POOL-DTYPE-4", "POOL-GLOBAL-1"],
            x=literal(np.ones((1, 1, 4096)), "float16"),
        ),
        special(
            name="bfloat16_average_1024_ones",
            op="global_avg_pool",
            comment="bfloat16 global average of 1024 ones is 1 (naive bfloat16 accumulation "
            "stalls at 256)",
            focus=["POOL-DTYPE-4", "POOL-GLOBAL-1"],
            x=literal(np.ones((1, 1, 32, 32)), "bfloat16"),
        ),
        special(
            name="float32_rounded_once",
            op="avg_pool",
            comment="float32 average rounded once: (1 + 2**-24 + 2**-24 + 0)/4 = "
            "0.25 + 2**-25 exactly (a float32 running sum gives 0.25)",
            focus=["POOL-AVG-1", "POOL-DTYPE-3"],
            x=x1([1.0, 2.0**-24, 2.0**-24, 0.0], "float32"),
            params={"kernel_size": [4]},
        ),
        special(
            name="bfloat16_mean_of_300",
            op="adaptive_avg_pool",
            comment="bfloat16 adaptive average over 300 elements to 1 (exact mean, rounded once)",
            focus=["POOL-ADAPT-1", "POOL-DTYPE-3", "POOL-DTYPE-4"],
            x=draw((1, 1, 300), "bfloat16", distinct=False),
            params={"output_size": [1]},
        ),
        special(
            name="float16_average_64x64_blocked_sum_probe",
            op="avg_pool",
            comment="float16 average over a 64x64 window of 1.0029296875 is that value (a "
            "float16 running sum, whole or per row, loses units; pairwise float16 sums are exact)",
            focus=["POOL-AVG-1", "POOL-DTYPE-4"],
            x=literal(np.full((1, 1, 64, 64), 1.0029296875), "float16"),
            params={"kernel_size": [64, 64]},
        ),
        special(
            name="float16_average_4096_blocked_sum_probe",
            op="global_avg_pool",
            comment="float16 global average of 4096 values 1.0029296875 is that value (a "
            "float16 running sum, whole or in blocks, loses units)",
            focus=["POOL-DTYPE-4", "POOL-GLOBAL-1"],
            x=literal(np.full((1, 1, 4096), 1.0029296875), "float16"),
        ),
    ]


INT_EXTREMES = {
    "int8": [-128, 127, -1, 0, -128, -127],
    "uint8": [0, 255, 254, 1, 0, 128],
    "int64": [-(2**63), 2**63 - 1, 2**62 + 1, 2**62, -(2**63) + 1, 2**53 + 1],
    "uint64": [2**64 - 1, 2**64 - 2, 0, 2**63, 2**53 + 1, 2**53],
}


def int_extreme_cases() -> list[Case]:
    """Integer extremes, exact where float64 is not [POOL-MAX-6]."""
    cases = []
    for dtype, values in INT_EXTREMES.items():
        cases += [
            special(
                name=f"{dtype}_extremes",
                op="max_pool",
                comment=f"{dtype} extremes: max over the dtype's minimum and maximum "
                "(and neighbours no float64 can tell apart)",
                focus=["POOL-MAX-6"],
                x=x1(values, dtype),
                params=K2S1,
            ),
            special(
                name=f"{dtype}_extremes",
                op="max_pool_with_indices",
                comment=f"{dtype} extremes with indices",
                focus=["POOL-IDX-1", "POOL-MAX-6"],
                x=x1(values, dtype),
                params=K3S1,
            ),
        ]
    return [
        *cases,
        special(
            name="int8_window_of_minimum_padded",
            op="max_pool",
            comment="int8 window of only the minimum -128 (padding must not win)",
            focus=["POOL-MAX-1", "POOL-MAX-6"],
            x=x1([-128, -128, -128, -128], "int8"),
            params={**K3S1, "padding": 1},
        ),
        special(
            name="uint8_zeros",
            op="global_max_pool",
            comment="uint8 global max of zeros is 0",
            focus=["POOL-GLOBAL-1", "POOL-MAX-6"],
            x=literal(np.zeros((1, 2, 3)), "uint8"),
        ),
    ]


def special_cases() -> list[Case]:
    """Every special-value case, in a fixed order."""
    return [
        *nan_cases(),
        *infinity_cases(),
        *tie_cases(),
        *subnormal_cases(),
        *large_value_cases(),
        *accumulation_cases(),
        *int_extreme_cases(),
    ]
