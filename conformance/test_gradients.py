"""Gradient checks that need neither the vectors nor the reference's gradients.

* Adjoint identity [POOL-GRAD-1, -2, -5, -6]: for an op linear in ``x`` (average
  pooling in every variant, adaptive average pooling, convolution without bias, and
  for max pooling at tie-free points, where it is locally linear)
  ``<op(x), g> = <x, op_grad(x, g)>``; for conv also ``<conv(x, w), g> = <w, grad_weight>``.
  Both sides are evaluated exactly (``fractions.Fraction``) from the backend's own
  outputs, so the only slack is the outputs' own rounding: with ``b`` the ULP budget
  and ``s`` the scale of each output (``poolconf.reference.tolerance``),
  ``|lhs - rhs| <= sum |g_o| b ulp(s_o) + sum |x_j| b ulp(s_j)``. A backend within its
  budgets meets this bound; a wrong gradient (a missed overlap, a wrong divisor,
  routing to the wrong element) breaks it by far more.
* Central finite differences of the backend's own forward against its own backward
  [POOL-GRAD-1..6]: along a seeded direction ``v`` (and ``u``, ``c`` for conv weight and
  bias), ``phi(t) = <op(x + t v), g>`` gives ``(phi(h) - phi(-h)) / 2h`` against
  ``<grad, v>``. Inputs are pairwise distinct integers (spacing 1 >> h, so no max
  changes its selected element and no kink is crossed); Lp inputs keep ``|x| >= 1``
  (away from the kink and the zero norm of POOL-GRAD-8). Error of the quotient:
  truncation ``h**2/6 |phi'''|`` (zero for the piecewise-linear max, average and
  conv) plus rounding ``E/h``, ``E = sum |g_o| b ulp(s_o)`` the forward's rounding
  bound. Runs in float64 with ``h = 2**-14`` (truncation allowance ``1e-6 * S``,
  ``S = sum_o |g_o| * |v|_1``: it covers ``|phi'''| <= 6e-6 S / h**2 ~ 1600 S``, far
  above the Lp norm's third derivative at ``|x| >= 1``, which is ``O(p**2 S)``).
  Under the ``core`` profile (float32 only) it runs in float32 with ``h = 2**-4``
  on the piecewise-linear ops, where truncation is zero and ``x + h v`` is exact.
* Ties [POOL-GRAD-2, POOL-MAX-4, POOL-GRAD-6], for a backend declaring
  ``tie_policy="first"``: at a point with many ties (integers ``floor(v / 3)``), the
  gradient equals the gradient at the same point with its ties broken in favour of
  window order, ``x' = x - 2**-10 * i`` with ``i`` the element's row-major index in
  its plane (window order is row-major over offsets, so within every window an
  earlier element of a tie becomes strictly larger; distinct values stay ordered since
  ``2**-10 * 200 < 1``). ``x'`` is tie-free, where the adjoint and finite-difference
  checks pin the gradient down; both sides sum the same quarter-integers, so they
  agree bit for bit.
* Zero Lp norms [POOL-GRAD-8], for a backend declaring ``lp_zero_grad="zero"``: with the
  first 60% of every plane set to 0, the windows there have norm 0 and must contribute
  nothing: the gradient is finite and equals the gradient with the upstream values of
  those windows (where the backend's own ``lp_pool`` is 0) set to 0.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import note
from hypothesis import strategies as st

from poolconf.conformance.assertions import describe_result, fail, format_call, reproducer
from poolconf.conformance.backend import Backend
from poolconf.conformance.harness import defined_only, invoke, restrictions, run_property
from poolconf.conformance.profiles import Profile
from poolconf.conformance.strategies import PoolCase, pool_cases, reference_forward
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference.tolerance import budgets, scales, ulp_array

SCALE = 1.25  # examples per check, relative to --examples
ADJOINT_OPS = {
    "avg_pool": "POOL-GRAD-1",
    "max_pool": "POOL-GRAD-2",
    "adaptive_avg_pool": "POOL-GRAD-6",
    "adaptive_max_pool": "POOL-GRAD-6",
    "conv": "POOL-GRAD-5",
}
FD_OPS = {**ADJOINT_OPS, "lp_pool": "POOL-GRAD-4"}
TIE_OPS = {"max_pool": "POOL-GRAD-2", "adaptive_max_pool": "POOL-GRAD-6"}
TIE_BREAK = 2.0**-10
ZERO_NORM_SHARE = 0.6
FD_STEP = {"float64": 2.0**-14, "float32": 2.0**-4}
FD_TRUNCATION = {"float64": 1e-6, "float32": 0.0}  # see the module docstring


def _params(ops: dict[str, str], *extra: str) -> list[Any]:
    return [
        pytest.param(
            op,
            id=cat.grad_of(op),
            marks=pytest.mark.poolconf(op=cat.grad_of(op), clauses=(clause, *extra)),
        )
        for op, clause in ops.items()
    ]


def _exact_dot(a: np.ndarray, b: np.ndarray) -> Fraction:
    return sum(
        (Fraction(float(p)) * Fraction(float(q)) for p, q in zip(a.ravel(), b.ravel())), Fraction(0)
    )


def _rounding_bound(
    weights: np.ndarray, ulps: int, scale: np.ndarray | None, expected: np.ndarray, dtype: str
) -> float:
    """``sum |w| * ulps * ulp(scale)``: what rounding within budget can move a dot product."""
    if ulps == 0:
        return 0.0
    s = np.abs(expected.astype(np.float64)) if scale is None else scale
    return float(np.sum(np.abs(weights.astype(np.float64)) * ulps * ulp_array(s, dtype)))


def _float_dtypes(profile: Profile, *full: str) -> Any:
    """float32 under the core profile (its only dtype), else ``full``."""
    return (
        "float32" if not profile.is_full else (full[0] if len(full) == 1 else st.sampled_from(full))
    )


def _array(what: str, got: Any, like: np.ndarray, *, call: str, clause: str) -> np.ndarray:
    """``got`` as the array it must be: ``like``'s shape and dtype, else a failure."""
    __tracebackhide__ = True
    if not isinstance(got, np.ndarray) or got.shape != like.shape or got.dtype != like.dtype:
        want = f"{dt.dtype_name(like.dtype)}{list(like.shape)}"
        fail(f"{what} is {describe_result(got)}, but should be {want}", call=call, clause=clause)
    return got


class _Calls:
    """The forward and gradient calls of one drawn case, with the one call text and
    reproducer of the gradient call for every failure."""

    def __init__(
        self, backend: Backend, case: PoolCase, clause: str, inputs: dict[str, Any]
    ) -> None:
        self.backend, self.case, self.clause, self.inputs = backend, case, clause, inputs
        self.op, self.gop = case.op, cat.grad_of(case.op)
        self.params = dict(case.params)
        arrays = {**inputs, "grad_output": case.grad_output}
        self.where: dict[str, Any] = {
            "call": format_call(self.gop, arrays, self.params),
            "repro": reproducer(backend.name, self.gop, arrays, self.params),
        }
        note(self.where["call"])

    def forward(self, inputs: dict[str, Any]) -> np.ndarray:
        out = invoke(self.backend, self.op, inputs, self.params, clause=self.clause, **self.where)
        g = self.case.grad_output
        assert g is not None
        return _array(
            f"{self.op} output", out["output"], g, call=self.where["call"], clause=self.clause
        )

    def grad(self, x: np.ndarray | None = None, g: np.ndarray | None = None) -> dict[str, Any]:
        arrays = {**self.inputs, "grad_output": self.case.grad_output if g is None else g}
        if x is not None:
            arrays["x"] = x
        return invoke(self.backend, self.gop, arrays, self.params, clause=self.clause, **self.where)


# ---------------------------------------------------------------------------
# adjoint identity
# ---------------------------------------------------------------------------


def check_adjoint(backend: Backend, case: PoolCase, clause: str) -> str | None:
    """``<op(x), g> == <x, grad_x>`` (and ``<w, grad_w>`` for conv) within the
    rounding the budgets allow."""
    __tracebackhide__ = True
    inputs = dict(case.inputs)
    if case.op == "conv":
        inputs["bias"] = None  # conv is linear in x (and in w) without the bias
    calls = _Calls(backend, case, clause, inputs)
    g, dtype = case.grad_output, case.config.dtype
    assert g is not None
    y = calls.forward(inputs)
    grads = calls.grad()
    tol_inputs = {k: v for k, v in inputs.items() if k in ("x", "weight", "bias")}
    b = budgets(case.op, tol_inputs, calls.params)
    sc = scales(case.op, {**tol_inputs, "grad_output": g}, calls.params)
    ref_y = reference_forward(case.op, inputs, calls.params)
    ref_g = reference_forward(calls.gop, {**inputs, "grad_output": g}, calls.params)
    ref_g = ref_g if isinstance(ref_g, tuple) else (ref_g,)
    lhs = _exact_dot(y, g)
    forward_bound = _rounding_bound(g, b["output"].ulps, sc.get("output"), ref_y, dtype)
    pairs = [("x", "grad_input", ref_g[0])]
    if case.op == "conv":
        pairs.append(("weight", "grad_weight", ref_g[1]))
    for arg, name, ref_grad in pairs:
        value = inputs[arg]
        assert value is not None
        got = _array(name, grads[name], value, call=calls.where["call"], clause=clause)
        rhs = _exact_dot(value, got)
        bound = forward_bound + _rounding_bound(value, b[name].ulps, sc.get(name), ref_grad, dtype)
        if abs(float(lhs - rhs)) > bound:
            fail(
                f"<{arg}, {name}>={float(rhs)!r}, but should be <{case.op}(x), g>={float(lhs)!r} "
                f"(adjoint identity, rounding allows {bound:.3g})",
                clause=clause,
                **calls.where,
            )
    return None


@pytest.mark.parametrize("op", _params(ADJOINT_OPS, "POOL-GRAD-3"))
def test_adjoint_identity(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """<op(x), g> = <x, op_grad(x, g)> for ops linear in x (max: at tie-free points)."""
    kw = restrictions(backend, poolconf_profile, op, cat.grad_of(op))
    kw["dtype"] = _float_dtypes(poolconf_profile, "float64", "float32")
    strategy = pool_cases(op=op, distinct=True, **defined_only(backend), **kw)
    run_property(
        request, strategy, lambda c: check_adjoint(backend, c, ADJOINT_OPS[op]), scale=SCALE
    )


# ---------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------


def _direction(seed: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, -0.5, 0.5, 1.0]), size=shape).astype(dt.numpy_dtype(dtype))


def check_finite_differences(backend: Backend, case: PoolCase, clause: str) -> str | None:
    """Central differences of the backend's forward along a seeded direction equal
    the directional derivative its backward gives (see the module docstring)."""
    __tracebackhide__ = True
    inputs, dtype = dict(case.inputs), case.config.dtype
    calls = _Calls(backend, case, clause, inputs)
    g = case.grad_output
    assert g is not None
    h = FD_STEP[dtype]
    seed = int(case.meta.get("seed", 0)) + 7
    dirs = {
        k: _direction(seed + i, v.shape, dtype)
        for i, (k, v) in enumerate(inputs.items())
        if v is not None
    }

    def phi(t: float) -> Fraction:
        moved = {
            k: None if v is None else (v.astype(np.float64) + t * dirs[k]).astype(v.dtype)
            for k, v in inputs.items()
        }
        return _exact_dot(calls.forward(moved), g)

    fd = float(phi(h) - phi(-h)) / (2 * h)
    grads = calls.grad()
    analytic, scale_terms = Fraction(0), 0.0
    for (name, v), out in zip(inputs.items(), cat.op(calls.gop).outputs):
        if v is None:
            continue
        got = _array(f"gradient for {name}", grads[out], v, call=calls.where["call"], clause=clause)
        analytic += _exact_dot(got, dirs[name])
        scale_terms += float(np.abs(dirs[name]).sum())
    tol_inputs = {k: v for k, v in inputs.items() if k in ("x", "weight", "bias")}
    b = budgets(case.op, tol_inputs, calls.params)
    ref_y = reference_forward(case.op, inputs, calls.params)
    sc = scales(case.op, tol_inputs, calls.params).get("output")
    # the forward at x +- h v is within budget of its exact value; 2.0 covers the
    # scale moving by h|v| between the two evaluations
    rounding = 2.0 * _rounding_bound(g, max(b["output"].ulps, 1), sc, ref_y, dtype) / h
    weight = inputs.get("weight")
    wsum = float(np.abs(weight).sum()) if weight is not None else 1.0
    s_total = float(np.abs(g.astype(np.float64)).sum()) * scale_terms * max(1.0, wsum)
    allowed = rounding + FD_TRUNCATION[dtype] * s_total + 1e-300
    err = abs(fd - float(analytic))
    if not err <= allowed:
        fail(
            f"<{calls.gop}(x, g), v>={float(analytic)!r}, but should be the central difference "
            f"{fd!r} (h={h}, error {err:.3g} > {allowed:.3g})",
            clause=clause,
            **calls.where,
        )
    return None


@pytest.mark.parametrize("op", _params(FD_OPS))
def test_finite_differences(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """The backend's backward agrees with central differences of its own forward."""
    kw = restrictions(backend, poolconf_profile, op, cat.grad_of(op))
    kw["dtype"] = _float_dtypes(poolconf_profile, "float64")
    min_mag = 1.0 if op == "lp_pool" else 0.0
    strategy = pool_cases(
        op=op, distinct=True, **defined_only(backend), min_magnitude=min_mag, **kw
    )
    run_property(
        request, strategy, lambda c: check_finite_differences(backend, c, FD_OPS[op]), scale=SCALE
    )


# ---------------------------------------------------------------------------
# ties and zero norms: the implementation-defined points, judged by declaration
# ---------------------------------------------------------------------------


def _plane_index(x: np.ndarray, layout: str) -> np.ndarray:
    """Each element's row-major index within its (n, c) plane, shaped like ``x``."""
    spatial = x.shape[1:-1] if layout == "channels_last" else x.shape[2:]
    ramp = np.arange(int(np.prod(spatial)), dtype=np.float64).reshape(spatial)
    return ramp[None, ..., None] if layout == "channels_last" else ramp[None, None]


def _first_difference(a: np.ndarray, b: np.ndarray) -> tuple[int, ...] | None:
    bad = np.argwhere(a != b)
    return tuple(int(i) for i in bad[0]) if bad.size else None


def check_ties_first(backend: Backend, case: PoolCase, clause: str) -> str | None:
    """The gradient at ties equals the gradient with the ties broken in window order."""
    __tracebackhide__ = True
    layout = case.config.layout
    tied = np.floor(case.x.astype(np.float64) / 3).astype(case.x.dtype)
    broken = (tied.astype(np.float64) - TIE_BREAK * _plane_index(tied, layout)).astype(tied.dtype)
    calls = _Calls(backend, case.with_x(tied), clause, {"x": tied})
    gx = _array(
        "grad_input", calls.grad()["grad_input"], tied, call=calls.where["call"], clause=clause
    )
    gx_broken = _array(
        "grad_input",
        calls.grad(x=broken)["grad_input"],
        tied,
        call=calls.where["call"],
        clause=clause,
    )
    where = _first_difference(gx, gx_broken)
    if where is not None:
        fail(
            f"grad_input{list(where)}={gx[where]!r}, but should be {gx_broken[where]!r} "
            f"(tie_policy='first': each tie's upstream value goes to the first maximal element "
            f"in window order, as at x - {TIE_BREAK} * (row-major index))",
            clause=clause,
            **calls.where,
        )
    return None


@pytest.mark.parametrize("op", _params(TIE_OPS, "POOL-MAX-4"))
def test_max_grad_ties(op: str, backend: Backend, poolconf_profile: Profile, request: Any) -> None:
    """At ties, a ``tie_policy="first"`` gradient goes to the first maximum in window order."""
    kw = restrictions(backend, poolconf_profile, cat.grad_of(op))
    declared = backend.declarations.get("tie_policy", "first")
    if declared != "first":
        pytest.skip(
            f"implementation-defined (flag Tie, declared {declared}): ties are judged by the "
            "golden vectors and the property tests"
        )
    kw["dtype"] = _float_dtypes(poolconf_profile, "float64")
    strategy = pool_cases(op=op, distinct=True, **defined_only(backend), **kw)
    run_property(
        request, strategy, lambda c: check_ties_first(backend, c, TIE_OPS[op]), scale=SCALE
    )


def check_lp_zero_norm(backend: Backend, case: PoolCase, clause: str) -> str | None:
    """Windows whose norm is 0 contribute nothing to the Lp gradient."""
    __tracebackhide__ = True
    index = _plane_index(case.x, case.config.layout)
    cut = np.ceil(ZERO_NORM_SHARE * (index.max() + 1))
    x = np.where(index < cut, 0, case.x).astype(case.x.dtype)
    calls = _Calls(backend, case.with_x(x), clause, {"x": x})
    y = calls.forward({"x": x})
    if not np.any(y == 0):
        return "no window lies in the zeroed part of this draw"
    g = case.grad_output
    assert g is not None
    g_live = np.where(y == 0, 0, g).astype(g.dtype)
    gx = _array(
        "grad_input", calls.grad()["grad_input"], x, call=calls.where["call"], clause=clause
    )
    gx_live = _array(
        "grad_input", calls.grad(g=g_live)["grad_input"], x, call=calls.where["call"], clause=clause
    )
    rule = "lp_zero_grad='zero': a window whose norm is 0 contributes 0"
    bad = np.argwhere(~np.isfinite(gx))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        fail(
            f"grad_input{list(where)}={gx[where]!r}, but should be finite (x and grad_output "
            f"are finite; {rule})",
            clause=clause,
            **calls.where,
        )
    diff = _first_difference(gx, gx_live)
    if diff is not None:
        fail(
            f"grad_input{list(diff)}={gx[diff]!r}, but should be {gx_live[diff]!r}, the "
            f"gradient with the zero-norm windows' upstream values set to 0 ({rule})",
            clause=clause,
            **calls.where,
        )
    return None


@pytest.mark.parametrize("op", _params({"lp_pool": "POOL-GRAD-8"}, "POOL-GRAD-4"))
def test_lp_grad_zero_norm(
    op: str, backend: Backend, poolconf_profile: Profile, request: Any
) -> None:
    """A window with norm 0 contributes 0 to the Lp gradient (declared ``lp_zero_grad="zero"``)."""
    kw = restrictions(backend, poolconf_profile, op, cat.grad_of(op))
    declared = backend.declarations.get("lp_zero_grad", "zero")
    if declared != "zero":
        pytest.skip(f"implementation-defined (flag LpZeroNorm, declared {declared})")
    kw["dtype"] = _float_dtypes(poolconf_profile, "float64")
    strategy = pool_cases(op=op, distinct=True, **defined_only(backend), min_magnitude=1.0, **kw)
    run_property(
        request, strategy, lambda c: check_lp_zero_norm(backend, c, "POOL-GRAD-8"), scale=SCALE
    )
