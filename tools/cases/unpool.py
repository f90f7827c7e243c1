"""Unpooling edges (family ``edge``): round trips, gaps, output sizes, a repeated index.

A round trip takes its values and indices from the reference ``max_pool_with_indices``
of the same input, so the indices are exactly what a max pool selects.
"""

from __future__ import annotations

import functools
from typing import Any

from poolconf.reference import max_pool_with_indices
from poolconf.tools.cases.case import Case, case, vector_id
from poolconf.tools.cases.inputs import literal, random_values, x1

unpool = functools.partial(case, op="max_unpool", family="edge")

# name, comment, input shape, pooling params, extra unpooling params
ROUND_TRIPS: list[tuple[str, str, tuple[int, ...], dict[str, Any], dict[str, Any]]] = [
    (
        "round_trip_2d",
        "unpool round trip 2D: values and indices from max_pool_with_indices(k=2) "
        "of a 4x4 input, default output size 4x4",
        (1, 2, 4, 4),
        {"kernel_size": [2, 2]},
        {},
    ),
    (
        "round_trip_output_size",
        "unpool round trip 1D with output_size: L=5, k=2 pools to 2; the default "
        "size would be 4, output_size [5] restores the input length",
        (1, 1, 5),
        {"kernel_size": [2]},
        {"output_size": [5]},
    ),
    (
        "round_trip_padding",
        "unpool round trip 1D with padding: L=5, k=3, s=2, pad (1,1) pools to 3; "
        "default size (3-1)*2-2+3 = 5",
        (1, 2, 5),
        {"kernel_size": [3], "stride": [2], "padding": [[1, 1]]},
        {},
    ),
    (
        "round_trip_odd_input_2d",
        "unpool round trip 2D with odd input 5x5, k=2, output_size [5, 5] (last "
        "row and column never written)",
        (1, 1, 5, 5),
        {"kernel_size": [2, 2]},
        {"output_size": [5, 5]},
    ),
]


def round_trip_cases() -> list[Case]:
    cases = []
    for name, comment, shape, pool_params, extra in ROUND_TRIPS:
        pool_input = random_values(
            f"{vector_id('max_unpool', 'edge', name)}/pool_input", shape, "float32"
        )
        values, indices = max_pool_with_indices(pool_input, **pool_params)
        cases.append(
            unpool(
                name=name,
                comment=comment,
                focus=["POOL-IDX-1", "POOL-UNPOOL-1", "POOL-UNPOOL-2"],
                x=values,
                indices=indices,
                params={**pool_params, **extra},
            )
        )
    return cases


def scatter_cases() -> list[Case]:
    x3 = x1([1.5, -2.0, 0.25])
    return [
        unpool(
            name="stride_larger_than_kernel",
            comment="unpool with stride 3 > kernel 2: gaps between windows stay zero "
            "(default size (3-1)*3+2 = 8)",
            focus=["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            x=x3,
            indices=literal([[[1, 3, 7]]], "int64"),
            params={"kernel_size": [2], "stride": [3]},
        ),
        unpool(
            name="adjacent_windows",
            comment="unpool with a zero-size gap: stride = kernel = 2, windows adjacent, "
            "every output position belongs to exactly one window",
            focus=["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            x=x3,
            indices=literal([[[1, 2, 5]]], "int64"),
            params={"kernel_size": [2], "stride": [2]},
        ),
        unpool(
            name="output_size_beyond_default",
            comment="unpool output_size beyond the default (6 -> 7): the trailing "
            "position is a zero strip no window reaches",
            focus=["POOL-UNPOOL-1", "POOL-UNPOOL-2"],
            x=x3,
            indices=literal([[[0, 3, 4]]], "int64"),
            params={"kernel_size": [2], "stride": [2], "output_size": [7]},
        ),
        unpool(
            name="repeated_index_last_write_wins",
            comment="unpool with a repeated index (overlapping windows, k=3, s=1): the last "
            "write wins",
            focus=["POOL-UNPOOL-2", "POOL-UNPOOL-4"],
            x=x1([1.0, 2.0, 3.0]),
            indices=literal([[[2, 2, 4]]], "int64"),
            params={"kernel_size": [3], "stride": [1]},
        ),
        unpool(
            name="int8_extremes",
            comment="unpool of int8 extremes: -128 and 127 scatter exactly",
            focus=["POOL-MAX-6", "POOL-UNPOOL-2"],
            x=x1([-128, 127, 0], "int8"),
            indices=literal([[[0, 3, 5]]], "int64"),
            params={"kernel_size": [2], "stride": [2]},
        ),
    ]


def unpool_edges() -> list[Case]:
    """Every unpooling edge, in a fixed order."""
    return [*round_trip_cases(), *scatter_cases()]
