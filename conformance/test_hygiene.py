"""Hygiene: how a backend treats the arrays it is given and the arrays it returns.

For every op the backend has (forward and gradient), on drawn cases:

* inputs are never modified (their bytes are the same after the call) and read-only
  inputs (``setflags(write=False)``) work and give the same result;
* every output is a ``numpy.ndarray`` of exactly the shape the spec gives and the dtype
  of ``x`` (indices: int64) [POOL-DTYPE-2, POOL-IDX-4];
* no output shares memory with an input (``np.shares_memory``);
* the same call twice gives bit-identical results (NaN payloads aside);
* non-contiguous inputs (a strided view, Fortran order, negative strides) give the same
  result as contiguous ones: bit for bit for the exact ops, within twice the op's ULP
  budget for sums, which a different memory order may legitimately reorder.

These are backend-API rules (spec/backend-api.md: "a new array, not a view of an input,
and inputs must not be modified"); they are cited as POOL-SHAPE-2 (clause id:
results are new arrays; inputs are read, never written; any strides are accepted;
calls are repeatable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import note
from hypothesis import strategies as st

from poolconf import reference as ref
from poolconf.conformance import strategies as S
from poolconf.conformance.assertions import assert_matches, format_call, reproducer
from poolconf.conformance.backend import Backend
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference.tolerance import EXACT_OPS, budgets, scales

DEFAULT_EXAMPLES = 10
HYGIENE = "POOL-SHAPE-2"
FORWARD = cat.FORWARD_OPS
GRADS = tuple(cat.grad_of(f) for f in cat.WITH_GRAD)
FORWARD_OF = {cat.grad_of(f): f for f in cat.WITH_GRAD}


def _params(clause: str) -> list[Any]:
    return [
        pytest.param(op, id=op, marks=pytest.mark.poolconf(op=op, clauses=(clause,)))
        for op in FORWARD + GRADS
    ]


def _forward(op: str) -> str:
    return FORWARD_OF.get(op, op)


def _strategy(
    request: pytest.FixtureRequest, backend: Backend, op: str
) -> st.SearchStrategy[S.PoolCase]:
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    profile = S.profile_of(request.config)
    if not profile.allows(op, rank=2, dtype="float32", params={}):
        pytest.skip(f"{op} is outside profile {profile.name}")
    kw = S.profile_restrictions(profile)
    if op in GRADS and "dtype" not in kw:
        kw["dtype"] = st.sampled_from(dt.FLOAT_DTYPES)
    return S.pool_cases(op=_forward(op), special=st.booleans(), allow_empty_windows=False, **kw)


def _arrays(op: str, case: S.PoolCase) -> dict[str, np.ndarray | None]:
    arrays = dict(case.inputs)
    if op in GRADS:
        arrays["grad_output"] = case.grad_output
    return arrays


def _call(
    backend: Backend,
    op: str,
    args: list[np.ndarray | None],
    params: dict[str, Any],
    call: str,
    repro: str,
    what: str = "",
) -> Any:
    __tracebackhide__ = True
    try:
        return S.call_backend(backend, op, *args, **params)
    except S.UnsupportedDraw:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{op} raised {type(exc).__name__}: {exc}{what}, but the input is valid "
            f"[{call}] [{HYGIENE}]\nreproducer:\n{repro}"
        ) from exc


def _outputs(result: Any) -> tuple[Any, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _names(op: str) -> tuple[str, ...]:
    return cat.op(op).outputs


def _same(
    got: Any, want: Any, name: str, ulps: int, scale: Any, call: str, clause: str, repro: str
) -> None:
    __tracebackhide__ = True
    if want is None:
        if got is not None:
            raise AssertionError(
                f"{name} is a {type(got).__name__}, but should be None [{call}] [{clause}]"
            )
        return
    assert_matches(
        got, want, ulps=ulps, scale=scale, what=name, call=call, clause=clause, repro=repro
    )


def run(
    request: pytest.FixtureRequest,
    backend: Backend,
    op: str,
    body: Callable[[S.PoolCase, dict[str, Any], dict[str, Any], str, str], None],
) -> None:
    """Run ``body(case, arrays, params, call, repro)`` on drawn cases of ``op``."""
    strategy = _strategy(request, backend, op)

    def check(case: S.PoolCase) -> None:
        arrays = _arrays(op, case)
        params = dict(case.params)
        call = format_call(op, arrays, params)
        note(call)
        body(case, arrays, params, call, reproducer(backend.name, op, arrays, params))

    S.run_property(request, strategy, check, default_examples=DEFAULT_EXAMPLES)


def _copies(arrays: dict[str, np.ndarray | None]) -> list[np.ndarray | None]:
    return [None if a is None else a.copy() for a in arrays.values()]


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_inputs_not_modified(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """The bytes of every input are the same after the call."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        args = _copies(arrays)
        _call(backend, op, args, params, call, repro)
        for (name, before), after in zip(arrays.items(), args):
            if before is not None and before.tobytes() != after.tobytes():
                changed = np.argwhere(
                    before.view(np.uint8).reshape((*before.shape, -1))
                    != after.view(np.uint8).reshape((*after.shape, -1))
                )
                where = ",".join(str(int(i)) for i in changed[0][:-1])
                raise AssertionError(
                    f"{name}[{where}]={after[tuple(changed[0][:-1])]!r} after the call, but should "
                    f"be {before[tuple(changed[0][:-1])]!r} (inputs must not be modified) [{call}] "
                    f"[{HYGIENE}]\nreproducer:\n{repro}"
                )

    run(request, backend, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_read_only_inputs(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """Read-only inputs work and give the same result as writeable ones."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        want = _outputs(_call(backend, op, _copies(arrays), params, call, repro))
        args = _copies(arrays)
        for a in args:
            if a is not None:
                a.setflags(write=False)
        got = _outputs(_call(backend, op, args, params, call, repro, " on read-only inputs"))
        for name, g, w in zip(_names(op), got, want):
            _same(g, w, name, 0, None, f"read-only inputs: {call}", HYGIENE, repro)

    run(request, backend, op, body)


@pytest.mark.parametrize("op", _params("POOL-DTYPE-2"))
def test_output_shape_and_dtype(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """Every output is an ndarray with the spec's shape and the dtype of x (indices int64)."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        got = _outputs(_call(backend, op, _copies(arrays), params, call, repro))
        want = _outputs(getattr(ref, op)(*arrays.values(), **params))
        names = _names(op)
        if len(got) != len(names):
            raise AssertionError(
                f"result has {len(got)} arrays, but should have {len(names)} "
                f"({', '.join(names)}) [{call}] [POOL-DTYPE-2]"
            )
        for name, g, w in zip(names, got, want):
            if w is None:
                continue
            clause = "POOL-IDX-4" if name == "indices" else "POOL-DTYPE-2"
            if not isinstance(g, np.ndarray):
                raise AssertionError(
                    f"{name} is a {type(g).__name__}, but should be a "
                    f"numpy.ndarray [{call}] [{clause}]\nreproducer:\n{repro}"
                )
            if g.shape != w.shape:
                raise AssertionError(
                    f"{name}.shape={g.shape}, but should be {w.shape} [{call}] "
                    f"[{cat.op(op).clause}]\nreproducer:\n{repro}"
                )
            if g.dtype != w.dtype:
                raise AssertionError(
                    f"{name}.dtype={g.dtype}, but should be {w.dtype} [{call}] "
                    f"[{clause}]\nreproducer:\n{repro}"
                )

    run(request, backend, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_outputs_do_not_alias_inputs(
    op: str, backend: Backend, request: pytest.FixtureRequest
) -> None:
    """No output shares memory with an input."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        args = _copies(arrays)
        got = _outputs(_call(backend, op, args, params, call, repro))
        for name, g in zip(_names(op), got):
            for arg_name, a in zip(arrays, args):
                if isinstance(g, np.ndarray) and a is not None and np.shares_memory(g, a):
                    raise AssertionError(
                        f"{name} shares memory with input {arg_name}, but should "
                        f"be a new array [{call}] [{HYGIENE}]\nreproducer:\n{repro}"
                    )

    run(request, backend, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_repeatable(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """The same call twice gives bit-identical results."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        first = _outputs(_call(backend, op, _copies(arrays), params, call, repro))
        second = _outputs(_call(backend, op, _copies(arrays), params, call, repro))
        for name, g, w in zip(_names(op), second, first):
            _same(g, w, name, 0, None, f"second call: {call}", HYGIENE, repro)

    run(request, backend, op, body)


def _non_contiguous(a: np.ndarray, kind: str) -> np.ndarray:
    """The same values in a non-contiguous layout."""
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":
        flipped = np.ascontiguousarray(a[..., ::-1])
        return flipped[..., ::-1]
    big = np.zeros((*a.shape[:-1], a.shape[-1] * 2), dtype=a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_non_contiguous_inputs(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """Strided, Fortran-ordered and negatively strided inputs give the contiguous result."""

    def body(
        case: S.PoolCase, arrays: dict[str, Any], params: dict[str, Any], call: str, repro: str
    ) -> None:
        want = _outputs(_call(backend, op, _copies(arrays), params, call, repro))
        names = _names(op)
        tol_inputs = {k: v for k, v in arrays.items() if k in ("x", "weight", "bias")}
        fwd = _forward(op)
        budget = budgets(fwd, tol_inputs, params)
        sc = scales(fwd, {**tol_inputs, "grad_output": arrays.get("grad_output")}, params)
        for kind in ("strided", "fortran", "negative"):
            args = [None if a is None else _non_contiguous(a, kind) for a in arrays.values()]
            got = _outputs(_call(backend, op, args, params, call, repro, f" on {kind} inputs"))
            for name, g, w in zip(names, got, want):
                exact = name == "indices" or (op in EXACT_OPS)
                ulps = 0 if exact else 2 * budget[name].ulps
                _same(
                    g,
                    w,
                    name,
                    ulps,
                    None if exact else sc.get(name),
                    f"{kind} inputs: {call}",
                    HYGIENE,
                    repro,
                )

    run(request, backend, op, body)
