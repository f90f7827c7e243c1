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

from poolconf.conformance.assertions import (
    assert_matches,
    describe_result,
    fail,
    format_call,
    reproducer,
)
from poolconf.conformance.backend import Backend
from poolconf.conformance.harness import (
    assert_output_specs,
    copies,
    defined_only,
    invoke,
    restrictions,
    run_property,
)
from poolconf.conformance.profiles import Profile
from poolconf.conformance.strategies import PoolCase, pool_cases
from poolconf.reference import catalog as cat
from poolconf.reference.tolerance import EXACT_OPS, budgets, scales

SCALE = 0.5  # examples per check, relative to --examples
HYGIENE = "POOL-SHAPE-2"


def _params(clause: str) -> list[Any]:
    return [
        pytest.param(op, id=op, marks=pytest.mark.poolconf(op=op, clauses=(clause,)))
        for op in (*cat.FORWARD_OPS, *cat.GRAD_OPS)
    ]


class Call:
    """One drawn call of ``op``: its arrays, keywords, call text and reproducer; ``run``
    calls the backend on given arguments and returns the outputs in result order."""

    def __init__(self, backend: Backend, op: str, case: PoolCase) -> None:
        self.backend, self.op, self.case = backend, op, case
        self.arrays = case.grad_inputs() if cat.op(op).is_grad else dict(case.inputs)
        self.params = dict(case.params)
        self.text = format_call(op, self.arrays, self.params)
        self.repro = reproducer(backend.name, op, self.arrays, self.params)
        note(self.text)

    def run(self, args: list[np.ndarray | None] | None = None, context: str = "") -> list[Any]:
        arrays = self.arrays if args is None else dict(zip(self.arrays, args))
        outputs = invoke(
            self.backend,
            self.op,
            arrays,
            self.params,
            call=self.text,
            clause=HYGIENE,
            repro=self.repro,
            copy=args is None,
            pure=False,
            context=context,
        )
        return list(outputs.values())

    def same(self, got: list[Any], want: list[Any], what: str, *, exact: bool = True) -> None:
        """``got`` equals ``want`` output by output: bit for bit, or (``exact=False``)
        within twice the op's budget, which a different memory order may use [POOL-SHAPE-2]."""
        __tracebackhide__ = True
        fwd = cat.op(self.op).forward or self.op
        tol = {k: v for k, v in self.arrays.items() if k in ("x", "weight", "bias")}
        budget = budgets(fwd, tol, self.params) if not exact else {}
        sc = (
            scales(fwd, {**tol, "grad_output": self.arrays.get("grad_output")}, self.params)
            if not exact
            else {}
        )
        for name, g, w in zip(cat.op(self.op).outputs, got, want):
            if w is None:
                if g is not None:
                    fail(
                        f"{name} is {describe_result(g)}, but should be None",
                        call=f"{what}: {self.text}",
                        clause=HYGIENE,
                    )
                continue
            loose = not exact and name != "indices" and self.op not in EXACT_OPS
            assert_matches(
                g,
                w,
                ulps=2 * budget[name].ulps if loose else 0,
                scale=sc.get(name) if loose else None,
                what=name,
                call=f"{what}: {self.text}",
                clause=HYGIENE,
                repro=self.repro,
            )


def run(
    request: Any, backend: Backend, profile: Profile, op: str, body: Callable[[Call], None]
) -> None:
    """Run ``body`` on drawn calls of ``op``."""
    fwd = cat.op(op).forward or op
    kw = restrictions(backend, profile, op, grad_dtypes=cat.op(op).is_grad)
    strategy = pool_cases(op=fwd, special=st.booleans(), **defined_only(backend), **kw)
    run_property(request, strategy, lambda case: body(Call(backend, op, case)), scale=SCALE)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_inputs_not_modified(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """The bytes of every input are the same after the call."""

    def body(c: Call) -> None:
        args = copies(c.arrays)
        c.run(args)
        for (name, before), after in zip(c.arrays.items(), args):
            if before is None or after is None or before.tobytes() == after.tobytes():
                continue
            changed = np.argwhere(
                before.view(np.uint8).reshape((*before.shape, -1))
                != after.view(np.uint8).reshape((*after.shape, -1))
            )
            at = tuple(int(i) for i in changed[0][:-1])
            fail(
                f"{name}[{','.join(map(str, at))}]={after[at]!r} after the call, but should be "
                f"{before[at]!r} (inputs must not be modified)",
                call=c.text,
                clause=HYGIENE,
                repro=c.repro,
            )

    run(request, backend, poolconf_profile, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_read_only_inputs(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """Read-only inputs work and give the same result as writeable ones."""

    def body(c: Call) -> None:
        want = c.run()
        args = copies(c.arrays)
        for a in args:
            if a is not None:
                a.setflags(write=False)
        c.same(c.run(args, " on read-only inputs"), want, "read-only inputs")

    run(request, backend, poolconf_profile, op, body)


@pytest.mark.parametrize("op", _params("POOL-DTYPE-2"))
def test_output_shape_and_dtype(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """Every output is an ndarray with the spec's shape and the dtype of x (indices int64)."""

    def body(c: Call) -> None:
        outputs = dict(zip(cat.op(op).outputs, c.run()))
        assert_output_specs(outputs, c.case.output_specs(op), op=op, call=c.text, repro=c.repro)

    run(request, backend, poolconf_profile, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_outputs_do_not_alias_inputs(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """No output shares memory with an input."""

    def body(c: Call) -> None:
        args = copies(c.arrays)
        for name, g in zip(cat.op(op).outputs, c.run(args)):
            for arg_name, a in zip(c.arrays, args):
                if isinstance(g, np.ndarray) and a is not None and np.shares_memory(g, a):
                    fail(
                        f"{name} shares memory with input {arg_name}, but should be a new array",
                        call=c.text,
                        clause=HYGIENE,
                        repro=c.repro,
                    )

    run(request, backend, poolconf_profile, op, body)


@pytest.mark.parametrize("op", _params(HYGIENE))
def test_repeatable(op: str, backend: Backend, poolconf_profile: Profile, request: Any) -> None:
    """The same call twice gives bit-identical results."""

    def body(c: Call) -> None:
        first = c.run()
        c.same(c.run(), first, "second call")

    run(request, backend, poolconf_profile, op, body)


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
def test_non_contiguous_inputs(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """Strided, Fortran-ordered and negatively strided inputs give the contiguous result."""

    def body(c: Call) -> None:
        want = c.run()
        assert_output_specs(
            dict(zip(cat.op(op).outputs, want)),
            c.case.output_specs(op),
            op=op,
            call=c.text,
            repro=c.repro,
        )
        for kind in ("strided", "fortran", "negative"):
            args = [None if a is None else _non_contiguous(a, kind) for a in c.arrays.values()]
            c.same(c.run(args, f" on {kind} inputs"), want, f"{kind} inputs", exact=False)

    run(request, backend, poolconf_profile, op, body)
