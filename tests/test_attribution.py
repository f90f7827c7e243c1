"""Each failure cites the clause its failing comparison checks: deliberately wrong backends,
each wrong in one way, judged on the shipped golden vectors and on hand-made calls."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from poolconf import reference as ref
from poolconf.conformance import vector_checks
from poolconf.conformance.assertions import CheckFailure, assert_matches
from poolconf.conformance.backend import Backend
from poolconf.reference import catalog as cat


def wrong_backend(op: str, spoil: Callable[[Any, dict[str, Any]], Any]) -> Backend:
    """The reference, except that ``op``'s result goes through ``spoil(result, kwargs)``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return spoil(getattr(ref, op)(*args, **kwargs), kwargs)

    impl = types.SimpleNamespace(**{o: getattr(ref, o) for o in cat.OPS if hasattr(ref, o)})
    setattr(impl, op, call)
    return Backend(name=f"wrong-{op}", impl=impl)


def clause_of_failure(case: Any, backend: Backend, part: str = "forward") -> str:
    with pytest.raises(CheckFailure) as info:
        vector_checks.check_part(case, part, backend)
    return info.value.clause


def cases_where(predicate: Callable[[Any], bool]) -> list[Any]:
    found = [c for c in vector_checks.load_vector_cases(None) if predicate(c)]
    assert found, "no shipped vector case has the property the test needs"
    return found


def _valid(case: Any, op: str) -> bool:
    return case.op == op and case.result == "valid"


def _nan_to_zero(y: Any, _: dict[str, Any]) -> Any:
    return np.where(np.isnan(y), np.zeros_like(y), y)


def test_dropped_nan_cites_the_special_value_clause() -> None:
    """avg_pool that turns NaN into 0 fails NaN cases as POOL-AVG-6, not POOL-DTYPE-2."""
    backend = wrong_backend("avg_pool", _nan_to_zero)
    cases = cases_where(
        lambda c: _valid(c, "avg_pool") and np.isnan(np.asarray(c.expected["output"], float)).any()
    )
    assert {clause_of_failure(c, backend) for c in cases} == {"POOL-AVG-6"}


def test_wrong_output_dtype_cites_the_dtype_clause() -> None:
    backend = wrong_backend("max_pool", lambda y, _: y.astype(np.float64))
    cases = cases_where(lambda c: _valid(c, "max_pool") and c.inputs["x"].dtype == np.float32)
    assert {clause_of_failure(c, backend) for c in cases[:20]} == {"POOL-DTYPE-2"}


def test_wrong_index_dtype_cites_the_index_clause() -> None:
    backend = wrong_backend("max_pool_with_indices", lambda r, _: (r[0], r[1].astype(np.int32)))
    cases = cases_where(lambda c: _valid(c, "max_pool_with_indices"))
    assert {clause_of_failure(c, backend) for c in cases[:20]} == {"POOL-IDX-4"}


def _floor_length(y: Any, kwargs: dict[str, Any]) -> Any:
    """Drops the last output position of the first spatial dim in ceil mode."""
    if not kwargs.get("ceil_mode"):
        return y
    axis = y.ndim - 2 if kwargs.get("layout") == "channels_last" else 2
    return np.take(y, range(y.shape[axis] - 1), axis=axis) if y.shape[axis] > 1 else y


def test_ceil_mode_length_cites_the_ceil_clause() -> None:
    backend = wrong_backend("max_pool", _floor_length)
    cases = cases_where(
        lambda c: (
            _valid(c, "max_pool")
            and c.params.get("ceil_mode")
            and not isinstance(c.params.get("padding"), str)
        )  # same/valid fix the length
    )
    clauses = set()
    for case in cases:
        try:
            vector_checks.check_part(case, "forward", backend)
        except CheckFailure as exc:
            clauses.add(exc.clause)
    assert clauses == {"POOL-GEOM-3"}


def test_wrong_divisor_at_padded_windows_cites_the_divisor_clause() -> None:
    """An avg_pool that divides every window by its kernel size, whatever the padding says,
    fails at windows that reach into padding with the clause of the divisor in force."""

    def whole_kernel(x: Any, **kwargs: Any) -> Any:
        summed = ref.avg_pool(x, **{**kwargs, "divisor_override": 1})
        return (summed / int(np.prod(kwargs["kernel_size"]))).astype(x.dtype)

    backend = Backend(name="avg-whole-kernel", impl=types.SimpleNamespace(avg_pool=whole_kernel))
    cases = cases_where(
        lambda c: (
            _valid(c, "avg_pool")
            and c.params.get("divisor_override") is None
            and c.inputs["x"].dtype == np.float64
            and c.params.get("padding") not in (None, 0, "valid")
        )
    )
    clauses = set()
    for case in cases:
        try:
            vector_checks.check_part(case, "forward", backend)
        except CheckFailure as exc:
            clauses.add(exc.clause)
    assert clauses and clauses <= {"POOL-AVG-3", "POOL-AVG-4"}, clauses


@pytest.mark.parametrize(
    ("op", "got", "expected", "params", "clause"),
    [
        # a signed-zero tie in a max: the tie clause, not "NaN propagates"
        ("max_pool", [[[0.0]]], [[[-0.0]]], {"kernel_size": (2,)}, "POOL-MAX-5"),
        # a signed zero in an average: rounding
        ("avg_pool", [[[0.0]]], [[[-0.0]]], {"kernel_size": (2,)}, "POOL-DTYPE-3"),
        # a number where the exact result is NaN
        ("max_pool", [[[1.0]]], [[[np.nan]]], {"kernel_size": (2,)}, "POOL-MAX-2"),
        ("lp_pool", [[[np.inf]]], [[[1.0]]], {"kernel_size": (2,), "p": 2}, "POOL-LP-1"),
        # an ordinary wrong value: the output's clause
        ("max_pool", [[[1.0]]], [[[2.0]]], {"kernel_size": (2,)}, "POOL-MAX-1"),
        # channels_last output returned channels_first
        (
            "max_pool",
            np.zeros((1, 2, 3)),
            np.zeros((1, 3, 2)),
            {"kernel_size": (2,), "layout": "channels_last"},
            "POOL-LAYOUT-1",
        ),
        (
            "max_pool",
            np.zeros((1, 1, 3)),
            np.zeros((1, 1, 2)),
            {"kernel_size": (2,)},
            "POOL-GEOM-2",
        ),
        (
            "max_pool",
            np.zeros((1, 1, 3)),
            np.zeros((1, 1, 2)),
            {"kernel_size": (2,), "padding": "same_upper"},
            "POOL-GEOM-5",
        ),
        (
            "adaptive_avg_pool",
            np.zeros((1, 1, 3)),
            np.zeros((1, 1, 2)),
            {"output_size": (2,)},
            "POOL-ADAPT-2",
        ),
    ],
)
def test_comparison_cites_what_it_checks(
    op: str, got: Any, expected: Any, params: dict[str, Any], clause: str
) -> None:
    g, e = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    with pytest.raises(CheckFailure) as info:
        assert_matches(g, e, ulps=0, call="call", clause=cat.op(op).clause, op=op, params=params)
    assert info.value.clause == clause
    assert info.value.args[0].endswith(f"[{clause}]")


def test_overhang_window_cites_ceil_or_divisor_clause() -> None:
    """A wrong value at a ceil-mode window past the end padding: POOL-GEOM-3 for a max,
    the divisor clause for an average (L=5, k=2, s=2: the last window overhangs)."""
    x = np.arange(5, dtype=np.float64).reshape(1, 1, 5)
    params = {"kernel_size": (2,), "stride": (2,), "ceil_mode": True}
    for op, clause in (("max_pool", "POOL-GEOM-3"), ("avg_pool", "POOL-AVG-3")):
        expected = getattr(ref, op)(x, **params)
        got = expected.copy()
        got[0, 0, -1] += 1
        with pytest.raises(CheckFailure) as info:
            assert_matches(
                got, expected, ulps=0, call="c", clause="X", op=op, params=params, arrays={"x": x}
            )
        assert info.value.clause == clause
        inner = expected.copy()
        inner[0, 0, 0] += 1
        with pytest.raises(CheckFailure) as info:
            assert_matches(
                inner, expected, ulps=0, call="c", clause="X", op=op, params=params, arrays={"x": x}
            )
        assert info.value.clause == "X"
