"""Judging one golden-vector case against a backend (used by ``test_vectors.py`` and
``poolconf explain``).

Each case gives up to two tests: the forward part (``test_vector[<id>]``: the op's
output, and indices for ``max_pool_with_indices``) and, when the case stores a
``grad_output``, the gradient part (``test_vector_grad[<id>]``: ``grad_input``, and
``grad_weight``/``grad_bias`` for conv). How a part is judged:

* ``valid``: call the backend and compare every expected output within the stored
  ULPs at the stored scale; raising anything but ``Unsupported`` fails.
* ``invalid``: the backend must raise an exception (``Unsupported`` is a skip);
  returning anything fails [the case's ``errorClause``].
* ``acceptable``: the implementation-defined flags that concern the part are judged
  by the backend's declarations (``poolconf.reference.flags.judge``): the reference's
  choice -> judged as valid; ``error`` -> must raise; another tie policy or NaN
  selection -> the forward values are compared (a max of tied zeros in either sign)
  and every index must name one of its window's maxima (NaNs); ``all`` tie policy ->
  the gradient is compared with ``grad_input_all`` where stored (``grad_input``
  otherwise: the generator stores ``grad_input_all`` only where it differs); any
  other declared choice -> skip, "implementation-defined (flag X, declared Y)".
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from poolconf import Unsupported
from poolconf.conformance import vector_format
from poolconf.conformance.assertions import (
    assert_indices_select,
    assert_matches,
    fail,
    format_call,
    zero_sign_free,
)
from poolconf.conformance.backend import Backend
from poolconf.conformance.declared import compare_as_declared
from poolconf.conformance.harness import Refused, invoke, invoke_invalid
from poolconf.conformance.profiles import case_in_profile
from poolconf.conformance.vector_format import VectorCase
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference.flags import Judgement

GRAD_NAMES = ("grad_input", "grad_input_all", "grad_weight", "grad_bias")


def vectors_directory(option: str | None = None) -> str | None:
    """The vectors folder: ``option`` (``--poolconf-vectors``), else ``POOLCONF_VECTORS``,
    else None (the installed ``poolconf.vectors``)."""
    return option or os.environ.get("POOLCONF_VECTORS") or None


@functools.lru_cache(maxsize=4)
def load_vector_cases(directory: str | None) -> tuple[VectorCase, ...]:
    """Every golden case (``poolconf.conformance.vector_format.VectorCase``) of ``directory``; cached."""
    return tuple(vector_format.load_cases(directory))


def backend_params(value: Any) -> Any:
    """Stored params as a backend receives them: lists become tuples, recursively,
    so ``kernel_size`` is a tuple of ints per dim and ``padding`` a tuple of
    ``(begin, end)`` pairs (or the stored string). Nothing else changes, so invalid
    values reach the backend as written."""
    if isinstance(value, dict):
        return {k: backend_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(backend_params(v) for v in value)
    return value


def has_grad_part(case: VectorCase) -> bool:
    return "grad_output" in case.inputs and cat.op(case.op).grad is not None


def part_op(case: VectorCase, part: str) -> str:
    return case.op if part == "forward" else cat.grad_of(case.op)


def plan(case: VectorCase, declarations: Mapping[str, str], part: str) -> Judgement:
    """The judgement of ``part`` ("forward" or "grad") of ``case`` for a backend
    with ``declarations`` (see the module docstring)."""
    if case.result == "invalid":
        clause = case.error_clause or cat.op(part_op(case, part)).clause
        return Judgement("raise", clause, "invalid input")
    flags = case.flags if case.result == "acceptable" else ()
    how = flagreg.judge(flags, declarations, part)
    if how.mode == "compare" and not how.clause:
        # a wrong value of an acceptable case most likely concerns what its flag marks
        concern = [
            f.clause
            for f in (flagreg.FLAGS.get(name) for name in flags)
            if f is not None and f.declaration is not None and part in f.parts
        ]
        if concern:
            how = dataclasses.replace(how, clause=concern[0])
    return how


def call_of(
    case: VectorCase, part: str
) -> tuple[str, dict[str, np.ndarray | None], dict[str, Any]]:
    """(op, positional arrays by name, keyword params) of ``part`` of ``case``."""
    params = backend_params(dict(case.params))
    op = part_op(case, part)
    if part == "grad":
        params.update(backend_params(dict(case.grad_params)))
    arrays = {name: case.inputs.get(name) for name in cat.op(op).arrays}
    return op, arrays, params


def check_part(
    case: VectorCase,
    part: str,
    backend: Backend,
    *,
    record: Callable[[str, str, str, float], None] | None = None,
    repro: str = "",
    sink: dict[str, Any] | None = None,
) -> list[str]:
    """Judge ``part`` of ``case`` on ``backend``. Fails (the one format) or skips
    (``pytest.skip``); returns one line per comparison made. ``sink``, when given,
    receives the backend's outputs by name."""
    __tracebackhide__ = True
    how = plan(case, backend.declarations, part)
    if how.mode == "skip":
        pytest.skip(how.reason)
    op, arrays, params = call_of(case, part)
    call = format_call(op, arrays, params)
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    clause = how.clause or cat.op(op).clause
    where: dict[str, Any] = {"call": call, "clause": clause, "repro": repro}
    try:
        if how.mode == "raise":
            return [invoke_invalid(backend, op, arrays, params, why=how.reason, **where)]
        outputs = invoke(backend, op, arrays, params, refusal=how.refusal, **where)
    except Unsupported as exc:
        pytest.skip(f"unsupported: {exc.reason}")
    except Refused as refused:
        return [str(refused)]
    if sink is not None:
        sink.update(outputs)
    lines = [
        _judge_output(case, op, name, got, how, params, record, **where)
        for name, got in outputs.items()
    ]
    lines = [line for line in lines if line]
    if not lines:
        fail(f"no expected output of {case.test_id} applies to {op}", call=call, clause=clause)
    return [*lines, "inputs unchanged and no output aliases an input"]


def _judge_output(
    case: VectorCase,
    op: str,
    name: str,
    got: Any,
    how: Judgement,
    params: Mapping[str, Any],
    record: Callable[[str, str, str, float], None] | None,
    *,
    call: str,
    clause: str,
    repro: str,
) -> str:
    """Compare one output with the case's expected value (the empty string when the
    case stores none for it, or the judgement leaves it out)."""
    __tracebackhide__ = True
    key = name
    if name == "grad_input" and how.tie_routing == "all" and "grad_input_all" in case.expected:
        key = "grad_input_all"
    if key not in case.expected or name in how.ignore:
        return ""
    expected = case.expected[key]
    if name == "indices" and how.free_indices:
        assert_indices_select(
            got, expected, case.op, case.inputs["x"], params, call=call, repro=repro
        )
        return "indices name one of their windows' maxima"
    if name == "output" and how.free_zero_sign:
        got, expected = zero_sign_free(got), zero_sign_free(expected)
    ulps, scale = case.tolerance.get(key, (0, None))
    arrays = {a: case.inputs.get(a) for a in cat.op(op).arrays}

    def matches(g: Any, e: Any) -> float:
        return assert_matches(
            g,
            e,
            ulps=ulps,
            scale=scale,
            what=name,
            call=call,
            clause=how.clause or cat.op(op).clauses[name],
            repro=repro,
            op=op,
            params=params,
            arrays=case.inputs,
        )

    err = compare_as_declared(
        matches,
        got,
        expected,
        flush=how.flush_subnormals,
        accumulator=how.accumulator,
        op=op,
        arrays=arrays,
        params=params,
        name=name,
    )
    if record is not None:
        record(op, dt.dtype_name(expected.dtype), key, err)
    return f"{name} matches expected.{key} within {ulps} ULP (largest error {err:.3g} ULP)"


# ---------------------------------------------------------------------------
# parametrisation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadFailure:
    """Stands in for the cases when the vectors cannot be loaded: the test fails with it."""

    message: str


@dataclass(frozen=True)
class NoCases:
    """Stands in when no case of a part is in the profile: the test skips with ``reason``."""

    reason: str


def all_vector_test_names(cases: Iterable[VectorCase]) -> set[str]:
    """Every vector test name the suite defines for ``cases``, in any profile."""
    names = set()
    for case in cases:
        names.add(f"test_vector[{case.test_id}]")
        if has_grad_part(case):
            names.add(f"test_vector_grad[{case.test_id}]")
    return names


def vector_params(directory: str | None, profile: Any, part: str) -> list[Any]:
    """``pytest.param`` per case of ``part`` in ``profile``, id ``<file stem>#<name>``,
    marked ``poolconf(op=..., clauses=..., flags=...)``; the plugin makes the flags
    keywords, so ``-k Subnormal`` selects the vectors that carry that flag."""
    try:
        cases = load_vector_cases(directory)
    except Exception as exc:
        return [
            pytest.param(LoadFailure(f"cannot load the golden vectors: {exc}"), id="load-error")
        ]
    params = []
    for case in cases:
        if part == "grad" and not has_grad_part(case):
            continue
        if not case_in_profile(case, profile):
            continue
        op = part_op(case, part)
        clauses = (
            tuple(case.clauses) if case.result != "invalid" else (case.error_clause, *case.clauses)
        )
        clauses = tuple(dict.fromkeys(c for c in clauses if c))
        params.append(
            pytest.param(
                case,
                id=case.test_id,
                marks=pytest.mark.poolconf(op=op, clauses=clauses, flags=tuple(case.flags)),
            )
        )
    if not params:
        where = directory or "the installed poolconf.vectors"
        why = (
            f"no golden vector in {where}"
            if not cases
            else f"no golden vector in profile {profile.name}"
        )
        params.append(pytest.param(NoCases(why), id="no-cases"))
    return params


def lookup_for_report(
    directory: str | None,
) -> Callable[[str, bool], tuple[str, tuple[str, ...]] | None]:
    """(test id, is grad) -> (op, clauses), for reports that carry no marker data
    (a test whose worker crashed)."""

    def lookup(test_id: str, grad: bool) -> tuple[str, tuple[str, ...]] | None:
        try:
            for case in load_vector_cases(directory):
                if case.test_id == test_id:
                    clauses = tuple(case.clauses)
                    if case.result == "invalid" and case.error_clause:
                        clauses = tuple(dict.fromkeys((case.error_clause, *clauses)))
                    return part_op(case, "grad" if grad else "forward"), clauses
        except Exception:
            return None
        return None

    return lookup
