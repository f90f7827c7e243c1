"""Every declared golden-vector case, in one place.

``all_cases()`` returns them in a fixed order; the generator numbers them
(tcIds) per output file in that order. Inputs are drawn from explicit seeds.
"""

from __future__ import annotations

import numpy as np

from poolconf.reference.dtypes import numpy_dtype
from poolconf.tools.casedef import Case


def _randn(seed: int, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(numpy_dtype(dtype))


def _starter_cases() -> list[Case]:
    return [
        Case(
            op="max_pool",
            family="geometry",
            comment="2D max pool, kernel 2, stride 2, no padding",
            clauses=("POOL-MAX-1", "POOL-GEOM-2"),
            inputs={"x": _randn(1, (1, 2, 4, 4))},
            params={"kernel_size": [2, 2], "stride": [2, 2], "padding": [[0, 0], [0, 0]]},
            seed=1,
        ),
        Case(
            op="avg_pool",
            family="geometry",
            comment="2D average pool, ceil mode, count_include_pad",
            clauses=("POOL-AVG-3", "POOL-GEOM-3", "POOL-GEOM-4"),
            inputs={"x": _randn(2, (1, 1, 5, 5))},
            params={"kernel_size": [3, 3], "stride": [2, 2], "padding": [[1, 1], [1, 1]], "ceil_mode": True},
            seed=2,
        ),
        Case(
            op="max_pool",
            family="invalid",
            comment="stride 0 is invalid",
            clauses=("POOL-PARAM-2",),
            inputs={"x": _randn(3, (1, 1, 4, 4))},
            params={"kernel_size": [2, 2], "stride": [0, 1]},
            seed=3,
            result="invalid",
            error_clause="POOL-PARAM-2",
        ),
    ]


def all_cases() -> list[Case]:
    """All declared cases, seeded tutorial cases included."""
    cases = _starter_cases()
    try:
        from poolconf.tools import seed_cases
    except ImportError:
        return cases
    return cases + seed_cases.all_cases()
