"""Property tests: every op of the backend against the reference on drawn inputs.

Hypothesis draws valid calls over the spec's whole parameter space
(``poolconf.conformance.strategies``; the ``core`` profile restricts the draws) and
compares the backend's forward outputs, indices and input gradients (with a seeded
``grad_output``) with the reference, within the ULP budgets of
``poolconf.reference.tolerance`` at their scales [POOL-TOL-1..3].

Implementation-defined behaviour is judged like the golden vectors judge their
``acceptable`` cases: the flags of each draw come from ``poolconf.reference.flags.detect``
and the judgement from ``flags.judge`` against the backend's declarations:

* windows entirely in padding (EmptyWindow): ``empty_window="error"`` -> the backend
  must raise; ``"reference"`` -> compared as usual [POOL-EMPTY-1];
* ties among a window's maxima (Tie): ``tie_policy="first"`` -> compared as usual;
  otherwise an index must point at one of the tied maxima and a +0/-0 tie may give
  either zero; the gradient is compared with the reference's ``"all"`` routing for
  ``"all"`` and not compared for ``"other"`` [POOL-MAX-4, POOL-MAX-5, POOL-GRAD-2];
* several NaNs in a window (NanIndex): ``nan_index="other"`` -> the index must point at
  one of the window's NaNs, the gradient is not compared [POOL-MAX-7];
* an Lp window with a zero norm or a non-finite value (LpZeroNorm):
  ``lp_zero_grad="other"`` -> the gradient is not compared [POOL-GRAD-8].

The scale tier (``test_scale_*``) draws the same comparisons at sizes where real
kernels change code path: channel counts around the chunk widths of channel loops (17,
33, 64), sides past a 64-wide spatial tile, batches up to 8, inputs stored in the
other layout's memory order (``strategies.scale_configs``); a few examples per op,
whose shapes the summary JSON lists (``draws``). ``-k "not scale"`` leaves it out.

Draws a backend reports ``Unsupported`` for, or whose judgement is left open, are
counted, not checked; each property draws until it has checked its budget. The largest
ULP error of every comparison goes to ``ulp_recorder``. The last property calls every
op with one argument the spec forbids (``poolconf.conformance.corruptions``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import note
from hypothesis import strategies as st

from poolconf import SpecError
from poolconf.conformance import corruptions
from poolconf.conformance.assertions import (
    assert_indices_select,
    assert_matches,
    describe_result,
    fail,
    format_call,
    reproducer,
    zero_sign_free,
)
from poolconf.conformance.backend import Backend
from poolconf.conformance.declared import compare_as_declared
from poolconf.conformance.harness import (
    Refused,
    invoke,
    invoke_invalid,
    restrictions,
    run_property,
)
from poolconf.conformance.profiles import Profile
from poolconf.conformance.strategies import (
    PoolCase,
    pool_cases,
    reference_forward,
    scale_configs,
)
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import fast
from poolconf.reference import flags as flagreg
from poolconf.reference.tolerance import budgets, scales

SCALE = 1.5  # examples of the forward and gradient properties, relative to --examples
SPECIAL_SCALE = 1.0  # special values, the ceil-mode overhang and invalid input
TIER_SCALE = 0.2  # the scale tier: a few large draws per op (4 at the default 20)
# the ops of the scale tier: the windowed and whole-plane pooling kernels that change
# code path with channel count and spatial size (lp_pool and adaptive_max_pool are left
# out to keep the tier within ~15 s of a default check: their flag detection is slow)
SCALE_OPS = tuple(
    op
    for op in ("max_pool", "avg_pool", "adaptive_avg_pool", "global_max_pool", "global_avg_pool")
    if op in cat.FORWARD_OPS
)
SCALE_GRAD_OPS = tuple(op for op in ("max_pool", "avg_pool") if op in cat.WITH_GRAD)

# op -> the clauses its property covers, beyond the op's own (reference.catalog)
# fmt: off
FORWARD_COVERS: dict[str, tuple[str, ...]] = {
    "max_pool": ("POOL-MAX-6", "POOL-GEOM-2", "POOL-GEOM-3", "POOL-GEOM-4", "POOL-GEOM-5",
                 "POOL-GEOM-6", "POOL-GEOM-8"),
    "max_pool_with_indices": ("POOL-IDX-1", "POOL-IDX-4"),
    "avg_pool": ("POOL-AVG-2", "POOL-AVG-3", "POOL-AVG-4", "POOL-AVG-5", "POOL-DTYPE-4"),
    "lp_pool": ("POOL-AVG-5",),
    "global_lp_pool": ("POOL-LP-1",),
    "max_unpool": ("POOL-UNPOOL-1", "POOL-UNPOOL-4"),
    "conv": ("POOL-CONV-2", "POOL-CONV-4"),
}
GRAD_COVERS: dict[str, tuple[str, ...]] = {
    "max_pool_grad": ("POOL-GRAD-3",),
    "avg_pool_grad": ("POOL-GRAD-3",),
    "lp_pool_grad": ("POOL-GRAD-8",),
}
# fmt: on
OVERHANG_OPS = {"max_pool": "POOL-GEOM-3", "avg_pool": "POOL-AVG-3", "lp_pool": "POOL-LP-1"}


def _covers(op: str) -> tuple[str, ...]:
    """The clauses a property of ``op`` covers: its outputs' own and ``*_COVERS``."""
    extra = GRAD_COVERS.get(op, ()) if cat.op(op).is_grad else FORWARD_COVERS.get(op, ())
    return tuple(dict.fromkeys((*cat.op(op).clauses.values(), *extra)))


def _param(op: str, *values: Any, clauses: tuple[str, ...]) -> Any:
    return pytest.param(*values, id=op, marks=pytest.mark.poolconf(op=op, clauses=clauses))


# ---------------------------------------------------------------------------
# judging one example
# ---------------------------------------------------------------------------


def _judgement(backend: Backend, case: PoolCase, part: str) -> flagreg.Judgement:
    """How ``part`` of a drawn call is judged: the flags the draw carries against the
    backend's declarations, as the golden vectors judge their acceptable cases."""
    grad = part == "grad"
    reports = grad or "indices" in cat.op(case.op).outputs
    found = flagreg.detect(
        case.op,
        case.x,
        case.params,
        reports=reports,
        grad=grad,
        weight=case.inputs.get("weight"),
        bias=case.inputs.get("bias"),
    )
    return flagreg.judge(found, backend.declarations, part)


def _compare(
    op: str,
    got: dict[str, Any],
    expected: dict[str, Any],
    case: PoolCase,
    how: flagreg.Judgement,
    recorder: Any,
    clause: str,
    grad_params: dict[str, Any],
    **where: str,
) -> None:
    """Every output of ``op`` against the reference's, within budget at scale."""
    __tracebackhide__ = True
    fwd = cat.op(op).forward or op
    tol_inputs = {k: v for k, v in case.inputs.items() if k in ("x", "weight", "bias")}
    budget = budgets(fwd, tol_inputs, case.params)
    g_in = {"grad_output": case.grad_output} if op != fwd else {}
    scale = scales(fwd, {**tol_inputs, **g_in}, case.params, grad_params, impl=fast)
    arrays = case.grad_inputs() if op != fwd else dict(case.inputs)
    call_params = {**case.params, **grad_params}
    for name, e in expected.items():
        g = got[name]
        if e is None:  # conv without bias: no bias gradient
            if g is not None:
                fail(
                    f"{name} is {describe_result(g)}, but should be None (no bias)",
                    clause=clause,
                    **where,
                )
            continue
        if name == "indices" and how.free_indices:
            assert_indices_select(g, e, op, case.x, case.params, **where)
            continue
        if name == "output" and how.free_zero_sign:
            g, e = zero_sign_free(g), zero_sign_free(e)
        cl = cat.op(op).clauses[name] if name == "indices" else clause

        def matches(got_: Any, expected_: Any, name: str = name, cl: str = cl) -> float:
            return assert_matches(
                got_,
                expected_,
                ulps=budget[name].ulps,
                scale=scale.get(name),
                what=name,
                clause=cl,
                op=op,
                params=call_params,
                arrays=case.inputs,
                **where,
            )

        err = compare_as_declared(
            matches,
            g,
            e,
            flush=how.flush_subnormals,
            accumulator=how.accumulator,
            op=op,
            arrays=arrays,
            params=call_params,
            name=name,
        )
        recorder.record(op, dt.dtype_name(e.dtype), "grad_input_all" if grad_params else name, err)


def check_forward(backend: Backend, case: PoolCase, recorder: Any, clause: str) -> str | None:
    """Compare the backend's forward op with the reference on ``case``; None when
    checked, else why not."""
    __tracebackhide__ = True
    op, params, arrays = case.op, dict(case.params), dict(case.inputs)
    where: dict[str, Any] = {
        "call": format_call(op, arrays, params),
        "repro": reproducer(backend.name, op, arrays, params),
    }
    note(where["call"])
    how = _judgement(backend, case, "forward")
    if how.mode == "raise":
        invoke_invalid(backend, op, arrays, params, why=how.reason, clause=how.clause, **where)
        return None
    try:
        got = invoke(backend, op, arrays, params, clause=clause, refusal=how.refusal, **where)
    except Refused:
        return None
    expected = dict(zip(cat.op(op).outputs, _as_tuple(reference_forward(op, arrays, params))))
    _compare(op, got, expected, case, how, recorder, clause, {}, **where)
    return None


def check_grad(backend: Backend, case: PoolCase, recorder: Any, clause: str) -> str | None:
    """Compare the backend's gradient op with the reference on ``case`` (the gradient
    of ``case.op`` at ``x`` for the seeded ``grad_output``)."""
    __tracebackhide__ = True
    op = cat.grad_of(case.op)
    params, arrays = dict(case.params), case.grad_inputs()
    where: dict[str, Any] = {
        "call": format_call(op, arrays, params),
        "repro": reproducer(backend.name, op, arrays, params),
    }
    note(where["call"])
    how = _judgement(backend, case, "grad")
    if how.mode == "raise":
        invoke_invalid(backend, op, arrays, params, why=how.reason, clause=how.clause, **where)
        return None
    if how.mode == "skip":
        return how.reason
    grad_params = {"tie_policy": how.tie_routing} if how.tie_routing != "first" else {}
    try:
        got = invoke(backend, op, arrays, params, clause=clause, refusal=how.refusal, **where)
    except Refused:
        return None
    result = reference_forward(op, arrays, {**params, **grad_params})
    expected = dict(zip(cat.op(op).outputs, _as_tuple(result)))
    _compare(op, got, expected, case, how, recorder, clause, grad_params, **where)
    return None


def _as_tuple(result: Any) -> tuple[Any, ...]:
    return tuple(result) if isinstance(result, tuple) else (result,)


# ---------------------------------------------------------------------------
# the properties
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", [_param(op, op, clauses=_covers(op)) for op in cat.FORWARD_OPS])
def test_forward_matches_reference(
    op: str, backend: Backend, poolconf_profile: Profile, ulp_recorder: Any, request: Any
) -> None:
    """The forward op (and indices) on ordinary values equals the reference within budget."""
    kw = restrictions(backend, poolconf_profile, op)
    clause = cat.op(op).clause
    run_property(
        request,
        pool_cases(op=op, special=False, **kw),
        lambda case: check_forward(backend, case, ulp_recorder, clause),
        scale=SCALE,
    )


@pytest.mark.parametrize(
    "op",
    [_param(op, op, clauses=(*_covers(op), cat.op(op).nan_clause)) for op in cat.FORWARD_OPS],
)
def test_forward_special_values(
    op: str, backend: Backend, poolconf_profile: Profile, ulp_recorder: Any, request: Any
) -> None:
    """The forward op on NaN, +-inf, -0.0, subnormals, ties, huge and tiny values."""
    kw = restrictions(backend, poolconf_profile, op)
    clause = cat.op(op).clause  # a wrong NaN or infinity cites nan_clause (attribution)
    run_property(
        request,
        pool_cases(op=op, special=True, **kw),
        lambda case: check_forward(backend, case, ulp_recorder, clause),
        scale=SPECIAL_SCALE,
    )


@pytest.mark.parametrize(
    "op", [_param(cat.grad_of(op), op, clauses=_covers(cat.grad_of(op))) for op in cat.WITH_GRAD]
)
def test_grad_matches_reference(
    op: str, backend: Backend, poolconf_profile: Profile, ulp_recorder: Any, request: Any
) -> None:
    """The input gradient (and weight/bias gradients of conv) for a seeded
    ``grad_output`` equals the reference within budget; half the draws use special values."""
    kw = restrictions(backend, poolconf_profile, cat.grad_of(op), grad_dtypes=True)
    clause = cat.op(cat.grad_of(op)).clause
    run_property(
        request,
        pool_cases(op=op, special=st.booleans(), **kw),
        lambda case: check_grad(backend, case, ulp_recorder, clause),
        scale=SCALE,
    )


@pytest.mark.parametrize(
    ("op", "grad"),
    [
        _param(name, op, grad, clauses=(clause, "POOL-GEOM-3", "POOL-GEOM-4"))
        for op, clause in OVERHANG_OPS.items()
        for grad, name in ((False, op), (True, cat.grad_of(op)))
    ],
)
def test_ceil_overhang_windows(
    op: str,
    grad: bool,
    backend: Backend,
    poolconf_profile: Profile,
    ulp_recorder: Any,
    request: Any,
) -> None:
    """Ceil-mode draws where a window hangs past the end padding: the overhang is not
    counted by an average's divisor (with or without count_include_pad) and adds
    nothing to an Lp norm; random draws reach it rarely, so it is drawn on purpose."""
    name = cat.grad_of(op) if grad else op
    kw = restrictions(backend, poolconf_profile, name, grad_dtypes=grad)
    clause = cat.op(name).clause if grad else OVERHANG_OPS[op]
    check = check_grad if grad else check_forward
    run_property(
        request,
        pool_cases(op=op, length_rule="overhang", **kw),
        lambda case: check(backend, case, ulp_recorder, clause),
        scale=SPECIAL_SCALE,
    )


# ---------------------------------------------------------------------------
# the scale tier: larger draws, the same comparisons
# ---------------------------------------------------------------------------


def describe_shape(case: PoolCase) -> str:
    """A drawn call's shape in one line: op, layout, dtype and x's shape."""
    c = case.config
    order = "" if case.x.flags.c_contiguous else ", permuted memory"
    return f"{c.op} {c.layout} {c.dtype} x{list(case.x.shape)}{order}"


def _scale_cases(op: str, kw: dict[str, Any], **extra: Any) -> Any:
    cfg = {k: v for k, v in kw.items() if k not in ("dtype", "rank")}
    config = scale_configs(op=op, rank=kw.get("rank"), dtype=kw.get("dtype"), **cfg)
    return pool_cases(config=config, permuted=st.booleans(), dense=True, **extra)


@pytest.mark.parametrize("op", [_param(op, op, clauses=_covers(op)) for op in SCALE_OPS])
def test_scale_forward_matches_reference(
    op: str, backend: Backend, poolconf_profile: Profile, ulp_recorder: Any, request: Any
) -> None:
    """The forward op equals the reference within budget at scale: channel tails past a
    chunk of 16, sides past a 64-wide tile, batches up to 8, permuted memory order."""
    kw = restrictions(backend, poolconf_profile, op)
    clause = cat.op(op).clause
    run_property(
        request,
        _scale_cases(op, kw),
        lambda case: check_forward(backend, case, ulp_recorder, clause),
        scale=TIER_SCALE,
        describe=describe_shape,
    )


@pytest.mark.parametrize(
    "op",
    [_param(cat.grad_of(op), op, clauses=_covers(cat.grad_of(op))) for op in SCALE_GRAD_OPS],
)
def test_scale_grad_matches_reference(
    op: str, backend: Backend, poolconf_profile: Profile, ulp_recorder: Any, request: Any
) -> None:
    """The input gradient equals the reference within budget at scale."""
    kw = restrictions(backend, poolconf_profile, cat.grad_of(op))
    clause = cat.op(cat.grad_of(op)).clause
    run_property(
        request,
        _scale_cases(op, kw),
        lambda case: check_grad(backend, case, ulp_recorder, clause),
        scale=TIER_SCALE,
        describe=describe_shape,
    )


# ---------------------------------------------------------------------------
# invalid input: every corruption the spec forbids must raise
# ---------------------------------------------------------------------------


def check_invalid(
    backend: Backend, op: str, case: PoolCase, corruption: corruptions.Corruption, which: int
) -> str | None:
    """The backend raises where the reference (the spec) raises ``SpecError``."""
    __tracebackhide__ = True
    grad = cat.op(op).is_grad
    arrays, params = corruptions.corrupt(case, corruption, which, grad)
    call = format_call(op, arrays, params)
    note(f"{corruption.name}: {call}")
    try:
        reference_forward(op, arrays, params)
    except SpecError as exc:
        clause = exc.clause
    else:
        return f"not invalid in this draw ({corruption.name})"
    repro = reproducer(backend.name, op, arrays, params)
    invoke_invalid(
        backend, op, arrays, params, why=corruption.name, call=call, clause=clause, repro=repro
    )
    return None


def _invalid_params() -> list[Any]:
    out = []
    for op in (*cat.FORWARD_OPS, *cat.GRAD_OPS):
        grad = cat.op(op).is_grad
        clauses = tuple(
            dict.fromkeys(c.clause for c in corruptions.applicable(cat.op(op).forward or op, grad))
        )
        out.append(_param(op, op, clauses=clauses))
    return out


@pytest.mark.parametrize("op", _invalid_params())
def test_invalid_input_raises(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """A call the spec forbids (one corrupted argument of a valid draw: a zero kernel,
    stride or dilation, negative padding, an output length below 1, an out-of-range
    unpool index, a grad_output of the wrong shape or dtype, ...) raises an exception."""
    fwd = cat.op(op).forward or op
    grad = fwd != op
    kw = restrictions(backend, poolconf_profile, op, grad_dtypes=grad)
    strategy = st.tuples(
        pool_cases(op=fwd, **kw),
        st.sampled_from(corruptions.applicable(fwd, grad)),
        st.integers(0, 1000),
    )
    run_property(
        request,
        strategy,
        lambda t: check_invalid(backend, op, t[0], t[1], t[2]),
        scale=SPECIAL_SCALE,
    )
