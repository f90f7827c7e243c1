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

from poolconf import reference as ref
from poolconf.conformance import strategies as S
from poolconf.conformance.assertions import format_call, reproducer
from poolconf.conformance.backend import Backend
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference.tolerance import budgets, scales, ulp_array

DEFAULT_EXAMPLES = 25
ADJOINT_OPS = {
    "avg_pool": "POOL-GRAD-1",
    "max_pool": "POOL-GRAD-2",
    "adaptive_avg_pool": "POOL-GRAD-6",
    "adaptive_max_pool": "POOL-GRAD-6",
    "conv": "POOL-GRAD-5",
}
FD_OPS = {
    "avg_pool": "POOL-GRAD-1",
    "max_pool": "POOL-GRAD-2",
    "lp_pool": "POOL-GRAD-4",
    "adaptive_avg_pool": "POOL-GRAD-6",
    "adaptive_max_pool": "POOL-GRAD-6",
    "conv": "POOL-GRAD-5",
}
TIE_OPS = {"max_pool": "POOL-GRAD-2", "adaptive_max_pool": "POOL-GRAD-6"}
TIE_BREAK = 2.0**-10
ZERO_NORM_SHARE = 0.6
FD_STEP = {"float64": 2.0**-14, "float32": 2.0**-4}
FD_TRUNCATION = {"float64": 1e-6, "float32": 0.0}  # see the module docstring


def _params(ops: dict[str, str], kind: str) -> list[Any]:
    return [
        pytest.param(
            op,
            id=cat.grad_of(op),
            marks=pytest.mark.poolconf(
                op=cat.grad_of(op),
                clauses=(clause, "POOL-GRAD-3") if kind == "adjoint" else (clause,),
            ),
        )
        for op, clause in ops.items()
    ]


def _exact_dot(a: np.ndarray, b: np.ndarray) -> Fraction:
    return sum(
        (Fraction(float(p)) * Fraction(float(q)) for p, q in zip(a.ravel(), b.ravel())), Fraction(0)
    )


def _rounding_bound(
    values_weight: np.ndarray, ulps: int, scale: np.ndarray | None, expected: np.ndarray, dtype: str
) -> float:
    """``sum |w| * ulps * ulp(scale)``: what rounding within budget can move a dot product."""
    if ulps == 0:
        return 0.0
    s = np.abs(expected.astype(np.float64)) if scale is None else scale
    return float(np.sum(np.abs(values_weight.astype(np.float64)) * ulps * ulp_array(s, dtype)))


def _restrictions(request: pytest.FixtureRequest, op: str) -> tuple[dict[str, Any], bool]:
    profile = S.profile_of(request.config)
    if not profile.allows(cat.grad_of(op), rank=2, dtype="float32", params={}):
        pytest.skip(f"{cat.grad_of(op)} is outside profile {profile.name}")
    kw = S.profile_restrictions(profile)
    kw.pop("dtype", None)
    return kw, profile.is_full


def _checked_call(
    backend: Backend,
    op: str,
    args: list[Any],
    params: dict[str, Any],
    call: str,
    clause: str,
    repro: str,
) -> Any:
    __tracebackhide__ = True
    try:
        return S.call_backend(
            backend, op, *[None if a is None else a.copy() for a in args], **params
        )
    except S.UnsupportedDraw:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{op} raised {type(exc).__name__}: {exc}, but the input is valid [{call}] [{clause}]"
            f"\nreproducer:\n{repro}"
        ) from exc


def _grad_arrays(case: S.PoolCase) -> dict[str, np.ndarray | None]:
    arrays = dict(case.inputs)
    arrays["grad_output"] = case.grad_output
    return arrays


def _unpack_grads(op: str, result: Any, call: str, clause: str) -> tuple[Any, Any, Any]:
    __tracebackhide__ = True
    if op != "conv":
        return result, None, None
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise AssertionError(
            f"result is a {type(result).__name__}, but should be a 3-tuple [{call}] [{clause}]"
        )
    return tuple(result)  # type: ignore[return-value]


def _check_array(what: str, got: Any, like: np.ndarray, call: str, clause: str) -> None:
    __tracebackhide__ = True
    if not isinstance(got, np.ndarray) or got.shape != like.shape or got.dtype != like.dtype:
        desc = (
            f"{got.dtype}{list(got.shape)}" if isinstance(got, np.ndarray) else type(got).__name__
        )
        raise AssertionError(
            f"{what} is {desc}, but should be {like.dtype}{list(like.shape)} [{call}] [{clause}]"
        )


# ---------------------------------------------------------------------------
# adjoint identity
# ---------------------------------------------------------------------------


def check_adjoint(backend: Backend, case: S.PoolCase, clause: str) -> str | None:
    """``<op(x), g> == <x, grad_x>`` (and ``<w, grad_w>`` for conv) within the
    rounding the budgets allow."""
    __tracebackhide__ = True
    op, params = case.op, dict(case.params)
    gop = cat.grad_of(op)
    x, g = case.x, case.grad_output
    assert g is not None
    inputs = dict(case.inputs)
    if op == "conv":
        inputs["bias"] = None  # conv is linear in x (and in w) without the bias
    arrays = {**inputs, "grad_output": g}
    call = format_call(gop, arrays, params)
    repro = reproducer(backend.name, gop, arrays, params)
    note(call)
    y = _checked_call(backend, op, list(inputs.values()), params, call, clause, repro)
    _check_array(f"{op} output", y, g, call, clause)
    gx, gw, _ = _unpack_grads(
        op,
        _checked_call(backend, gop, list(arrays.values()), params, call, clause, repro),
        call,
        clause,
    )
    _check_array("grad_input", gx, x, call, clause)
    lhs = _exact_dot(y, g)
    rhs = _exact_dot(x, gx)
    tol_inputs = {k: v for k, v in inputs.items() if k in ("x", "weight", "bias")}
    b = budgets(op, tol_inputs, params)
    sc = scales(op, {**tol_inputs, "grad_output": g}, params)
    ref_y = S.reference_forward(op, inputs, params)
    ref_g = getattr(ref, gop)(*arrays.values(), **params)
    ref_gx = ref_g[0] if op == "conv" else ref_g
    bound = _rounding_bound(g, b["output"].ulps, sc.get("output"), ref_y, case.config.dtype)
    bound += _rounding_bound(
        x, b["grad_input"].ulps, sc.get("grad_input"), ref_gx, case.config.dtype
    )
    if abs(float(lhs - rhs)) > bound:
        raise AssertionError(
            f"<x, {gop}(x, g)>={float(rhs)!r}, but should be <{op}(x), g>={float(lhs)!r} "
            f"(adjoint identity, rounding allows {bound:.3g}) [{call}] [{clause}]"
            f"\nreproducer:\n{repro}"
        )
    if op == "conv":
        w = inputs["weight"]
        assert w is not None
        _check_array("grad_weight", gw, w, call, clause)
        rhs_w = _exact_dot(w, gw)
        bound_w = _rounding_bound(g, b["output"].ulps, sc.get("output"), ref_y, case.config.dtype)
        bound_w += _rounding_bound(
            w, b["grad_weight"].ulps, sc.get("grad_weight"), ref_g[1], case.config.dtype
        )
        if abs(float(lhs - rhs_w)) > bound_w:
            raise AssertionError(
                f"<w, grad_weight>={float(rhs_w)!r}, but should be <conv(x, w), g>={float(lhs)!r} "
                f"(adjoint identity, rounding allows {bound_w:.3g}) [{call}] [{clause}]"
                f"\nreproducer:\n{repro}"
            )
    return None


@pytest.mark.parametrize("op", _params(ADJOINT_OPS, "adjoint"))
def test_adjoint_identity(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """<op(x), g> = <x, op_grad(x, g)> for ops linear in x (max: at tie-free points)."""
    for name in (op, cat.grad_of(op)):
        if not backend.supports(name):
            pytest.skip(f"unsupported: backend {backend.name!r} has no {name}()")
    kw, full = _restrictions(request, op)
    dtypes = st.sampled_from(("float64", "float32")) if full else "float32"
    strategy = S.pool_cases(op=op, dtype=dtypes, distinct=True, allow_empty_windows=False, **kw)
    S.run_property(
        request,
        strategy,
        lambda c: check_adjoint(backend, c, ADJOINT_OPS[op]),
        default_examples=DEFAULT_EXAMPLES,
    )


# ---------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------


def _direction(seed: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, -0.5, 0.5, 1.0]), size=shape).astype(dt.numpy_dtype(dtype))


def check_finite_differences(backend: Backend, case: S.PoolCase, clause: str) -> str | None:
    """Central differences of the backend's forward along a seeded direction equal
    the directional derivative its backward gives (see the module docstring)."""
    __tracebackhide__ = True
    op, params, dtype = case.op, dict(case.params), case.config.dtype
    gop = cat.grad_of(op)
    g = case.grad_output
    assert g is not None
    inputs = dict(case.inputs)
    arrays = {**inputs, "grad_output": g}
    call = format_call(gop, arrays, params)
    repro = reproducer(backend.name, gop, arrays, params)
    note(call)
    h = FD_STEP[dtype]
    seed = int(case.meta.get("seed", 0)) + 7
    dirs = {
        k: None if v is None else _direction(seed + i, v.shape, dtype)
        for i, (k, v) in enumerate(inputs.items())
    }

    def phi(t: float) -> Fraction:
        moved = [
            None if v is None else (v.astype(np.float64) + t * dirs[k]).astype(v.dtype)
            for k, v in inputs.items()
        ]
        y = _checked_call(backend, op, moved, params, call, clause, repro)
        _check_array(f"{op} output", y, g, call, clause)
        return _exact_dot(y, g)

    fd = float(phi(h) - phi(-h)) / (2 * h)
    grads = _unpack_grads(
        op,
        _checked_call(backend, gop, list(arrays.values()), params, call, clause, repro),
        call,
        clause,
    )
    analytic = Fraction(0)
    scale_terms = 0.0
    for (name, v), gr in zip(inputs.items(), grads):
        if v is None:
            continue
        _check_array(f"gradient for {name}", gr, v, call, clause)
        analytic += _exact_dot(gr, dirs[name])
        scale_terms += float(np.abs(dirs[name]).sum())
    tol_inputs = {k: v for k, v in inputs.items() if k in ("x", "weight", "bias")}
    b = budgets(op, tol_inputs, params)
    ref_y = S.reference_forward(op, inputs, params)
    sc = scales(op, tol_inputs, params).get("output")
    # the forward at x +- h v is within budget of its exact value; 2.0 covers the
    # scale moving by h|v| between the two evaluations
    rounding = 2.0 * _rounding_bound(g, max(b["output"].ulps, 1), sc, ref_y, dtype) / h
    wsum = float(np.abs(inputs["weight"]).sum()) if op == "conv" else 1.0  # type: ignore[union-attr]
    s_total = float(np.abs(g.astype(np.float64)).sum()) * scale_terms * max(1.0, wsum)
    allowed = rounding + FD_TRUNCATION[dtype] * s_total + 1e-300
    err = abs(fd - float(analytic))
    if not err <= allowed:
        raise AssertionError(
            f"<{gop}(x, g), v>={float(analytic)!r}, but should be the central difference "
            f"{fd!r} (h={h}, error {err:.3g} > {allowed:.3g}) [{call}] [{clause}]"
            f"\nreproducer:\n{repro}"
        )
    return None


@pytest.mark.parametrize("op", _params(FD_OPS, "fd"))
def test_finite_differences(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """The backend's backward agrees with central differences of its own forward."""
    for name in (op, cat.grad_of(op)):
        if not backend.supports(name):
            pytest.skip(f"unsupported: backend {backend.name!r} has no {name}()")
    kw, full = _restrictions(request, op)
    dtype = "float64" if full else "float32"
    min_mag = 1.0 if op == "lp_pool" else 0.0
    strategy = S.pool_cases(
        op=op, dtype=dtype, distinct=True, allow_empty_windows=False, min_magnitude=min_mag, **kw
    )
    S.run_property(
        request,
        strategy,
        lambda c: check_finite_differences(backend, c, FD_OPS[op]),
        default_examples=DEFAULT_EXAMPLES,
    )


# ---------------------------------------------------------------------------
# ties and zero norms: the implementation-defined points, judged by declaration
# ---------------------------------------------------------------------------


def _plane_index(x: np.ndarray, layout: str) -> np.ndarray:
    """Each element's row-major index within its (n, c) plane, shaped like ``x``."""
    spatial = x.shape[1:-1] if layout == "channels_last" else x.shape[2:]
    ramp = np.arange(int(np.prod(spatial)), dtype=np.float64).reshape(spatial)
    return ramp[None, ..., None] if layout == "channels_last" else ramp[None, None]


def _with_x(case: S.PoolCase, x: np.ndarray) -> S.PoolCase:
    return S.PoolCase(
        case.config, {**case.inputs, "x": x}, case.grad_output, case.special, case.meta
    )


def _grad_call(
    backend: Backend, case: S.PoolCase, g: np.ndarray, clause: str, what: str
) -> np.ndarray:
    __tracebackhide__ = True
    gop = cat.grad_of(case.op)
    arrays = {"x": case.x, "grad_output": g}
    call = format_call(gop, arrays, case.params)
    repro = reproducer(backend.name, gop, arrays, case.params)
    note(f"{what}: {call}")
    gx = _checked_call(backend, gop, list(arrays.values()), dict(case.params), call, clause, repro)
    _check_array("grad_input", gx, case.x, call, clause)
    return gx


def check_ties_first(backend: Backend, case: S.PoolCase, clause: str) -> str | None:
    """The gradient at ties equals the gradient with the ties broken in window order."""
    __tracebackhide__ = True
    layout = case.params["layout"]
    tied = np.floor(case.x.astype(np.float64) / 3).astype(case.x.dtype)
    broken = (tied.astype(np.float64) - TIE_BREAK * _plane_index(tied, layout)).astype(tied.dtype)
    g = case.grad_output
    assert g is not None
    at_tie = _with_x(case, tied)
    gx = _grad_call(backend, at_tie, g, clause, "at ties")
    gx_broken = _grad_call(backend, _with_x(case, broken), g, clause, "ties broken in window order")
    if not np.array_equal(gx, gx_broken):
        gop = cat.grad_of(case.op)
        arrays = {"x": tied, "grad_output": g}
        call = format_call(gop, arrays, case.params)
        bad = np.argwhere(gx != gx_broken)[0]
        where = tuple(int(i) for i in bad)
        raise AssertionError(
            f"grad_input{list(where)}={gx[where]!r}, but should be {gx_broken[where]!r} "
            f"(tie_policy='first': each tie's upstream value goes to the first maximal element "
            f"in window order, as at x - {TIE_BREAK} * (row-major index)) [{call}] [{clause}]"
            f"\nreproducer:\n{reproducer(backend.name, gop, arrays, case.params)}"
        )
    return None


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(
            op,
            id=cat.grad_of(op),
            marks=pytest.mark.poolconf(op=cat.grad_of(op), clauses=(clause, "POOL-MAX-4")),
        )
        for op, clause in TIE_OPS.items()
    ],
)
def test_max_grad_ties(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """At ties, a ``tie_policy="first"`` gradient goes to the first maximum in window order."""
    if not backend.supports(cat.grad_of(op)):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {cat.grad_of(op)}()")
    declared = backend.declarations.get("tie_policy", "first")
    if declared != "first":
        pytest.skip(
            f"implementation-defined (flag Tie, declared {declared}): ties are judged by the "
            "golden vectors and the property tests"
        )
    kw, full = _restrictions(request, op)
    dtype = "float64" if full else "float32"
    strategy = S.pool_cases(op=op, dtype=dtype, distinct=True, allow_empty_windows=False, **kw)
    S.run_property(
        request,
        strategy,
        lambda c: check_ties_first(backend, c, TIE_OPS[op]),
        default_examples=DEFAULT_EXAMPLES,
    )


def check_lp_zero_norm(backend: Backend, case: S.PoolCase, clause: str) -> str | None:
    """Windows whose norm is 0 contribute nothing to the Lp gradient."""
    __tracebackhide__ = True
    layout = case.params["layout"]
    index = _plane_index(case.x, layout)
    cut = np.ceil(ZERO_NORM_SHARE * (index.max() + 1))
    x = np.where(index < cut, 0, case.x).astype(case.x.dtype)
    zeroed = _with_x(case, x)
    g = case.grad_output
    assert g is not None
    arrays = {"x": x}
    call = format_call("lp_pool", arrays, case.params)
    repro = reproducer(backend.name, "lp_pool", arrays, case.params)
    y = _checked_call(backend, "lp_pool", [x], dict(case.params), call, clause, repro)
    _check_array("lp_pool output", y, g, call, clause)
    if not np.any(y == 0):
        return "no window lies in the zeroed part of this draw"
    g_live = np.where(y == 0, 0, g).astype(g.dtype)
    gx = _grad_call(backend, zeroed, g, clause, "with zero-norm windows")
    gx_live = _grad_call(backend, zeroed, g_live, clause, "their upstream values set to 0")
    gop = cat.grad_of(case.op)
    full = {"x": x, "grad_output": g}
    call = format_call(gop, full, case.params)
    repro = reproducer(backend.name, gop, full, case.params)
    rule = "lp_zero_grad='zero': a window whose norm is 0 contributes 0"
    bad = np.argwhere(~np.isfinite(gx))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"grad_input{list(where)}={gx[where]!r}, but should be finite (x and grad_output "
            f"are finite; {rule}) [{call}] [{clause}]\nreproducer:\n{repro}"
        )
    bad = np.argwhere(gx != gx_live)
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"grad_input{list(where)}={gx[where]!r}, but should be {gx_live[where]!r}, the "
            f"gradient with the zero-norm windows' upstream values set to 0 ({rule}) "
            f"[{call}] [{clause}]\nreproducer:\n{repro}"
        )
    return None


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(
            "lp_pool",
            id="lp_pool_grad",
            marks=pytest.mark.poolconf(op="lp_pool_grad", clauses=("POOL-GRAD-8", "POOL-GRAD-4")),
        )
    ],
)
def test_lp_grad_zero_norm(op: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    """A window with norm 0 contributes 0 to the Lp gradient (declared ``lp_zero_grad="zero"``)."""
    for name in (op, cat.grad_of(op)):
        if not backend.supports(name):
            pytest.skip(f"unsupported: backend {backend.name!r} has no {name}()")
    declared = backend.declarations.get("lp_zero_grad", "zero")
    if declared != "zero":
        pytest.skip(f"implementation-defined (flag LpZeroNorm, declared {declared})")
    kw, full = _restrictions(request, op)
    dtype = "float64" if full else "float32"
    strategy = S.pool_cases(
        op=op, dtype=dtype, distinct=True, allow_empty_windows=False, min_magnitude=1.0, **kw
    )
    S.run_property(
        request,
        strategy,
        lambda c: check_lp_zero_norm(backend, c, "POOL-GRAD-8"),
        default_examples=DEFAULT_EXAMPLES,
    )
