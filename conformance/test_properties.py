"""Property tests: every op of the backend against the reference on drawn inputs.

Hypothesis draws valid configurations over the spec's whole parameter space
(``poolconf.conformance.strategies``; the ``core`` profile restricts the draws) and
compares the backend's forward outputs, indices and input gradients (with a seeded
``grad_output``) with the reference, within the ULP budgets of
``poolconf.reference.tolerance`` at their scales [POOL-TOL-1..3].

Implementation-defined behaviour is judged like the golden vectors judge their
``acceptable`` cases, against ``backend.declarations``: the flags of each draw come
from ``poolconf.reference.flags.detect`` and the judgement from ``flags.judge``:

* windows entirely in padding (EmptyWindow): ``empty_window="error"`` -> the backend
  must raise; ``"reference"`` -> compared as usual [POOL-EMPTY-1];
* ties among a window's maxima (Tie): ``tie_policy="first"`` -> compared as usual;
  otherwise an index must point at one of the tied maxima and a +0/-0 tie may
  give either zero; the gradient is compared with the reference's ``"all"`` routing
  for ``"all"`` and not compared for ``"other"`` [POOL-MAX-4, POOL-MAX-5, POOL-GRAD-2];
* several NaNs in a window (NanIndex): ``nan_index="other"`` -> the index must point at
  one of the window's NaNs, the gradient is not compared [POOL-MAX-7];
* an Lp window with a zero norm or a non-finite value (LpZeroNorm):
  ``lp_zero_grad="other"`` -> the gradient is not compared [POOL-GRAD-8].

An example a backend raises ``Unsupported`` for is counted, not failed; a property
with no checked example skips with the reasons. The largest ULP error of every
comparison goes to ``ulp_recorder``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import note
from hypothesis import strategies as st

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.conformance import strategies as S
from poolconf.conformance.assertions import (
    assert_indices_select,
    assert_matches,
    assert_pure,
    format_call,
    reproducer,
    zero_sign_free,
)
from poolconf.conformance.backend import Backend
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference.tolerance import budgets, scales

DEFAULT_EXAMPLES = 30
SPECIAL_EXAMPLES = 20

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


def _covers(op: str) -> tuple[str, ...]:
    """The clauses a property of ``op`` covers: its outputs' own and ``*_COVERS``."""
    extra = GRAD_COVERS.get(op, ()) if cat.op(op).is_grad else FORWARD_COVERS.get(op, ())
    return tuple(dict.fromkeys((*cat.op(op).clauses.values(), *extra)))


def _forward_params(special: bool) -> list[Any]:
    out = []
    for op in cat.FORWARD_OPS:
        covered = (*_covers(op), cat.op(op).nan_clause) if special else _covers(op)
        out.append(pytest.param(op, id=op, marks=pytest.mark.poolconf(op=op, clauses=covered)))
    return out


def _grad_params() -> list[Any]:
    return [
        pytest.param(
            op,
            id=cat.grad_of(op),
            marks=pytest.mark.poolconf(op=cat.grad_of(op), clauses=_covers(cat.grad_of(op))),
        )
        for op in cat.WITH_GRAD
    ]


# ---------------------------------------------------------------------------
# judging one example
# ---------------------------------------------------------------------------


def profile_kwargs(request: pytest.FixtureRequest, op: str) -> dict[str, Any]:
    """Skip ``op`` outside this run's profile; else the strategy restrictions."""
    profile = S.profile_of(request.config)
    if not profile.allows(op, rank=2, dtype="float32", params={}):
        pytest.skip(f"{op} is outside profile {profile.name}")
    return S.profile_restrictions(profile)


def grad_dtypes(request: pytest.FixtureRequest) -> Any:
    """The dtypes a gradient draw uses: float32 under the core profile, every float
    dtype under full (gradients exist for floats only) [POOL-DTYPE-1]."""
    core = not S.profile_of(request.config).is_full
    return "float32" if core else st.sampled_from(dt.FLOAT_DTYPES)


def _copies(arrays: dict[str, np.ndarray | None]) -> list[np.ndarray | None]:
    return [None if a is None else a.copy() for a in arrays.values()]


def _raises_as_declared(
    backend: Backend,
    op: str,
    case: S.PoolCase,
    arrays: dict[str, Any],
    params: dict[str, Any],
    call: str,
    repro: str,
) -> None:
    """A backend declaring ``empty_window="error"`` must raise on windows entirely
    in padding [POOL-EMPTY-1]."""
    __tracebackhide__ = True
    try:
        result = S.call_backend(backend, op, *_copies(arrays), **params)
    except S.UnsupportedDraw:
        raise
    except Exception:
        return
    raise AssertionError(
        f"{op} returned a {type(result).__name__}, but should raise (windows entirely in padding, "
        f"declared empty_window='error') [{call}] [POOL-EMPTY-1]\nreproducer:\n{repro}"
    )


def _call_valid(
    backend: Backend,
    op: str,
    arrays: dict[str, Any],
    params: dict[str, Any],
    call: str,
    clause: str,
    repro: str,
) -> Any:
    __tracebackhide__ = True
    args = _copies(arrays)
    try:
        result = S.call_backend(backend, op, *args, **params)
    except S.UnsupportedDraw:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{op} raised {type(exc).__name__}: {exc}, but the input is valid [{call}] [{clause}]"
            f"\nreproducer:\n{repro}"
        ) from exc
    parts = result if isinstance(result, (tuple, list)) else (result,)
    assert_pure(
        arrays,
        args,
        {f"result[{i}]" if len(parts) > 1 else "output": r for i, r in enumerate(parts)},
        call,
        repro,
    )
    return result


def _split(op: str, result: Any, n: int, call: str, clause: str) -> tuple[Any, ...]:
    __tracebackhide__ = True
    if n == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != n:
        raise AssertionError(
            f"result is a {type(result).__name__}, but should be a {n}-tuple [{call}] [{clause}]"
        )
    return tuple(result)


def _judgement(backend: Backend, case: S.PoolCase, part: str) -> flagreg.Judgement:
    """How ``part`` of a drawn call is judged: the flags the draw carries against the
    backend's declarations, as the golden vectors judge their acceptable cases."""
    grad = part == "grad"
    reports = grad or "indices" in cat.op(case.op).outputs
    found = flagreg.detect(case.op, case.x, case.params, reports=reports, grad=grad)
    return flagreg.judge(found, backend.declarations, part)


def check_forward(backend: Backend, case: S.PoolCase, recorder: Any, clause: str) -> str | None:
    """Compare the backend's forward op with the reference on ``case``; None when
    checked, else why not."""
    __tracebackhide__ = True
    op, params = case.op, dict(case.params)
    arrays = dict(case.inputs)
    call = format_call(op, arrays, params)
    repro = reproducer(backend.name, op, arrays, params)
    note(call)
    how = _judgement(backend, case, "forward")
    if how.mode == "raise":
        _raises_as_declared(backend, op, case, arrays, params, call, repro)
        return None
    expected_all = S.reference_forward(op, arrays, params)
    names = cat.op(op).outputs
    expected = _split(op, expected_all, len(names), call, clause)
    got = _split(
        op, _call_valid(backend, op, arrays, params, call, clause, repro), len(names), call, clause
    )
    tol_inputs = {k: v for k, v in arrays.items() if k in ("x", "weight", "bias")}
    budget = budgets(op, tol_inputs, params)
    scale = scales(op, tol_inputs, params)
    for name, g, e in zip(names, got, expected):
        if name == "indices" and how.free_indices:
            assert_indices_select(g, e, op, case.x, params, call=call, repro=repro)
            continue
        if name == "output" and how.free_zero_sign:
            g, e = zero_sign_free(g), zero_sign_free(e)
        err = assert_matches(
            g,
            e,
            ulps=budget[name].ulps,
            scale=scale.get(name),
            what=name,
            call=call,
            clause=clause if name == "output" else "POOL-IDX-1",
            repro=repro,
        )
        recorder.record(op, dt.dtype_name(e.dtype), name, err)
    return None


def check_grad(backend: Backend, case: S.PoolCase, recorder: Any, clause: str) -> str | None:
    """Compare the backend's gradient op with the reference on ``case`` (the
    gradient of ``case.op`` at ``x`` for the seeded ``grad_output``)."""
    __tracebackhide__ = True
    fwd = case.op
    op = cat.grad_of(fwd)
    params = dict(case.params)
    arrays = dict(case.inputs)
    arrays["grad_output"] = case.grad_output
    call = format_call(op, arrays, params)
    repro = reproducer(backend.name, op, arrays, params)
    note(call)
    how = _judgement(backend, case, "grad")
    if how.mode == "raise":
        _raises_as_declared(backend, op, case, arrays, params, call, repro)
        return None
    if how.mode == "skip":
        return how.reason
    grad_params: dict[str, Any] = {}
    if how.tie_routing != "first":
        grad_params["tie_policy"] = how.tie_routing

    expected_all = getattr(ref, op)(*arrays.values(), **params, **grad_params)
    names = cat.op(op).outputs
    expected = _split(op, expected_all, len(names), call, clause)
    got = _split(
        op, _call_valid(backend, op, arrays, params, call, clause, repro), len(names), call, clause
    )
    tol_inputs = {k: v for k, v in arrays.items() if k in ("x", "weight", "bias")}
    budget = budgets(fwd, tol_inputs, params)
    scale = scales(fwd, {**tol_inputs, "grad_output": case.grad_output}, params, grad_params)
    for name, g, e in zip(names, got, expected):
        if e is None:  # conv without bias: no bias gradient
            if g is not None:
                raise AssertionError(
                    f"{name} is a {type(g).__name__}, but should be None (no bias) "
                    f"[{call}] [{clause}]"
                )
            continue
        err = assert_matches(
            g,
            e,
            ulps=budget[name].ulps,
            scale=scale.get(name),
            what=name,
            call=call,
            clause=clause,
            repro=repro,
        )
        recorder.record(op, dt.dtype_name(e.dtype), "grad_input_all" if grad_params else name, err)
    return None


# ---------------------------------------------------------------------------
# the properties
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", _forward_params(special=False))
def test_forward_matches_reference(
    op: str, backend: Backend, ulp_recorder: Any, request: pytest.FixtureRequest
) -> None:
    """The forward op (and indices) on ordinary values equals the reference within budget."""
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    kw = profile_kwargs(request, op)
    clause = cat.op(op).clause
    S.run_property(
        request,
        S.pool_cases(op=op, special=False, **kw),
        lambda case: check_forward(backend, case, ulp_recorder, clause),
        default_examples=DEFAULT_EXAMPLES,
    )


@pytest.mark.parametrize("op", _forward_params(special=True))
def test_forward_special_values(
    op: str, backend: Backend, ulp_recorder: Any, request: pytest.FixtureRequest
) -> None:
    """The forward op on NaN, +-inf, -0.0, subnormals, ties, huge and tiny values."""
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    kw = profile_kwargs(request, op)
    clause = cat.op(op).nan_clause
    S.run_property(
        request,
        S.pool_cases(op=op, special=True, **kw),
        lambda case: check_forward(backend, case, ulp_recorder, clause),
        default_examples=SPECIAL_EXAMPLES,
    )


@pytest.mark.parametrize("op", _grad_params())
def test_grad_matches_reference(
    op: str, backend: Backend, ulp_recorder: Any, request: pytest.FixtureRequest
) -> None:
    """The input gradient (and weight/bias gradients of conv) for a seeded
    ``grad_output`` equals the reference within budget; half the draws use special values."""
    grad_op = cat.grad_of(op)
    if not backend.supports(grad_op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {grad_op}()")
    kw = profile_kwargs(request, grad_op)
    kw.pop("dtype", None)
    dtypes = grad_dtypes(request)
    clause = cat.op(cat.grad_of(op)).clause
    S.run_property(
        request,
        S.pool_cases(op=op, dtype=dtypes, special=st.booleans(), **kw),
        lambda case: check_grad(backend, case, ulp_recorder, clause),
        default_examples=DEFAULT_EXAMPLES,
    )


# ---------------------------------------------------------------------------
# the ceil-mode overhang: a targeted draw of the edge where libraries disagree
# ---------------------------------------------------------------------------

OVERHANG_OPS = {
    "max_pool": "POOL-GEOM-3",
    "avg_pool": "POOL-AVG-3",
    "lp_pool": "POOL-LP-1",
}


@pytest.mark.parametrize(
    ("op", "grad"),
    [
        pytest.param(
            op,
            grad,
            id=cat.grad_of(op) if grad else op,
            marks=pytest.mark.poolconf(
                op=cat.grad_of(op) if grad else op, clauses=(clause, "POOL-GEOM-3", "POOL-GEOM-4")
            ),
        )
        for op, clause in OVERHANG_OPS.items()
        for grad in (False, True)
    ],
)
def test_ceil_overhang_windows(
    op: str, grad: bool, backend: Backend, ulp_recorder: Any, request: pytest.FixtureRequest
) -> None:
    """Ceil-mode draws where a window hangs past the end padding: the overhang is not
    counted by an average's divisor (with or without count_include_pad) and adds
    nothing to an Lp norm; random draws reach it rarely, so it is drawn on purpose."""
    name = cat.grad_of(op) if grad else op
    if not backend.supports(name):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {name}()")
    kw = profile_kwargs(request, name)
    if grad:
        kw["dtype"] = grad_dtypes(request)
    clause = OVERHANG_OPS[op] if not grad else cat.op(cat.grad_of(op)).clause
    check = check_grad if grad else check_forward
    S.run_property(
        request,
        S.pool_cases(op=op, ceil_overhang=True, **kw),
        lambda case: check(backend, case, ulp_recorder, clause),
        default_examples=SPECIAL_EXAMPLES,
    )


# ---------------------------------------------------------------------------
# invalid input: every corruption the spec forbids must raise
# ---------------------------------------------------------------------------

WINDOW_CORRUPTIONS = (
    "kernel_size=0",
    "stride=0",
    "dilation=0",
    "negative padding",
    "unknown padding string",
    "per-dim length",
    "output length below 1",
)
CORRUPTIONS: dict[str, tuple[str, ...]] = {
    "max_pool": WINDOW_CORRUPTIONS,
    "max_pool_with_indices": WINDOW_CORRUPTIONS,
    "avg_pool": (*WINDOW_CORRUPTIONS, "divisor_override=0"),
    "lp_pool": (*WINDOW_CORRUPTIONS, "p=0"),
    "adaptive_max_pool": ("output_size=0", "per-dim output_size", "x with 2 dims"),
    "adaptive_avg_pool": ("output_size=0", "per-dim output_size", "x with 2 dims"),
    "global_max_pool": ("x with 2 dims", "empty spatial dim"),
    "global_avg_pool": ("x with 2 dims", "empty spatial dim"),
    "global_lp_pool": ("p=0", "x with 2 dims"),
    "max_unpool": ("index past the plane", "negative index", "kernel_size=0"),
    "zero_pad": ("negative padding", "per-dim length"),
    "conv": ("stride=0", "dilation=0", "negative padding", "groups not dividing channels"),
}
GRAD_CORRUPTIONS = ("grad_output shape", "grad_output dtype")


def _set_dim(value: Any, rank: int, i: int, new: Any) -> tuple[Any, ...]:
    items = list(value) if isinstance(value, (tuple, list)) else [value] * rank
    items[i] = new
    return tuple(items)


def corrupt(
    case: S.PoolCase, kind: str, which: int, grad: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arrays and params of ``case`` (its gradient call when ``grad``) with one
    thing the spec forbids."""
    params = dict(case.params)
    arrays: dict[str, Any] = dict(case.inputs)
    if grad:
        arrays["grad_output"] = case.grad_output
    rank, x = case.config.rank, case.x
    i = which % rank
    spatial = case.config.spatial
    if kind == "kernel_size=0":
        params["kernel_size"] = _set_dim(params["kernel_size"], rank, i, 0)
    elif kind == "stride=0":
        k = params.get("kernel_size", (1,) * rank)
        params["stride"] = _set_dim(params.get("stride") or k, rank, i, 0)
    elif kind == "dilation=0":
        params["dilation"] = _set_dim(params.get("dilation", 1), rank, i, 0)
    elif kind == "negative padding":
        pads = params.get("padding", 0)
        pairs = [(0, 0)] * rank if isinstance(pads, str) else [tuple(p) for p in pads]
        pairs[i] = (pairs[i][0], -1 - which % 2) if which % 3 else (-1, pairs[i][1])
        params["padding"] = tuple(pairs)
    elif kind == "unknown padding string":
        params["padding"] = ("same", "SAME", "full", "causal")[which % 4]
    elif kind == "per-dim length":
        key = "kernel_size" if "kernel_size" in params else "padding"
        value = params[key]
        one = (0, 0) if key == "padding" else 1
        params[key] = (*(value if isinstance(value, tuple) else (value,) * rank), one)
    elif kind == "output length below 1":
        pads = params.get("padding", 0)
        pairs = [(0, 0)] * rank if isinstance(pads, str) else [tuple(p) for p in pads]
        params["padding"] = tuple(pairs)
        params["dilation"] = _set_dim(params.get("dilation", 1), rank, i, 1)
        params["kernel_size"] = _set_dim(
            params["kernel_size"], rank, i, spatial[i] + sum(pairs[i]) + 1
        )
    elif kind == "divisor_override=0":
        params["divisor_override"] = 0 if which % 2 else -1
    elif kind == "p=0":
        params["p"] = 0 if which % 2 else -1
    elif kind == "output_size=0":
        params["output_size"] = _set_dim(params["output_size"], rank, i, 0)
    elif kind == "per-dim output_size":
        params["output_size"] = (*params["output_size"], 1)
    elif kind == "x with 2 dims":
        arrays["x"] = x.reshape(x.shape[0], -1)
    elif kind == "empty spatial dim":
        axis = (1 + i) if case.config.layout == "channels_last" else (2 + i)
        arrays["x"] = np.take(x, [], axis=axis)
    elif kind in ("index past the plane", "negative index"):
        idx = np.array(arrays["indices"], copy=True)
        out = S.forward_output_shape(case.config, arrays)
        plane = int(np.prod(out[1:-1] if params.get("layout") == "channels_last" else out[2:]))
        idx.flat[which % idx.size] = (
            plane + which % 3 if kind == "index past the plane" else -1 - which % 3
        )
        arrays["indices"] = idx
    elif kind == "groups not dividing channels":
        params["groups"] = case.config.channels + 1
    elif kind == "grad_output shape":
        g = arrays["grad_output"]
        arrays["grad_output"] = np.concatenate([g, g[..., :1]], axis=-1)
    elif kind == "grad_output dtype":
        g = arrays["grad_output"]
        other = "float64" if dt.dtype_name(g.dtype) != "float64" else "float32"
        arrays["grad_output"] = g.astype(dt.numpy_dtype(other))
    else:  # pragma: no cover - a new kind needs a rule here
        raise KeyError(kind)
    return arrays, params


def check_invalid(
    backend: Backend, op: str, case: S.PoolCase, kind: str, which: int, grad: bool
) -> str | None:
    """The backend raises where the reference (the spec) raises ``SpecError``."""
    __tracebackhide__ = True

    arrays, params = corrupt(case, kind, which, grad)
    call = format_call(op, arrays, params)
    note(f"{kind}: {call}")
    try:
        getattr(ref, op)(*arrays.values(), **params)
    except SpecError as exc:
        clause = exc.clause
    else:
        return f"not invalid in this draw ({kind})"
    try:
        result = S.call_backend(backend, op, *_copies(arrays), **params)
    except S.UnsupportedDraw:
        raise
    except Exception:
        return None
    repro = reproducer(backend.name, op, arrays, params)
    raise AssertionError(
        f"{op} returned {type(result).__name__}, but should raise ({kind}) [{call}] [{clause}]"
        f"\nreproducer:\n{repro}"
    )


def _invalid_params() -> list[Any]:
    out = []
    for op in cat.FORWARD_OPS:
        out.append(
            pytest.param(
                op,
                op,
                False,
                id=op,
                marks=pytest.mark.poolconf(
                    op=op, clauses=("POOL-PARAM-1", "POOL-GEOM-7", "POOL-UNPOOL-3")
                ),
            )
        )
    for fwd, gop in ((f, cat.grad_of(f)) for f in cat.WITH_GRAD):
        out.append(
            pytest.param(
                gop, fwd, True, id=gop, marks=pytest.mark.poolconf(op=gop, clauses=("POOL-GRAD-7",))
            )
        )
    return out


@pytest.mark.parametrize(("op", "fwd", "grad"), _invalid_params())
def test_invalid_input_raises(
    op: str, fwd: str, grad: bool, backend: Backend, request: pytest.FixtureRequest
) -> None:
    """A call the spec forbids (one corrupted argument of a valid draw: a zero kernel,
    stride or dilation, negative padding, an output length below 1, an out-of-range
    unpool index, a grad_output of the wrong shape or dtype, ...) raises an exception."""
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    kw = profile_kwargs(request, op)
    kinds = (*CORRUPTIONS.get(fwd, ()), *GRAD_CORRUPTIONS) if grad else CORRUPTIONS[fwd]
    if grad:
        kw["dtype"] = grad_dtypes(request)
    strategy = st.tuples(S.pool_cases(op=fwd, **kw), st.sampled_from(kinds), st.integers(0, 1000))
    S.run_property(
        request,
        strategy,
        lambda t: check_invalid(backend, op, t[0], t[1], t[2], grad),
        default_examples=SPECIAL_EXAMPLES,
    )
