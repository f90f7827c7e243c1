"""Metamorphic properties: relations between two calls of the backend, no oracle.

Each property calls the backend on a drawn case and on a transformed case and
checks that the results are related as the transformation says:

* layouts: ``op(x, layout="channels_last")`` is ``op(x)`` with the channel axis
  moved [POOL-LAYOUT-1];
* permutation: permuting the batch (and, except for conv, the channels) of every
  input permutes the outputs the same way [POOL-SHAPE-1];
* power-of-two scaling: ``op(2**k x) = 2**k op(x)`` (conv: bias scaled too) and every
  gradient is linear in ``grad_output`` (conv's weight gradient scales by ``4**k``);
  values keep ``|x|`` in ``[1/8, 2]`` so no result or intermediate is subnormal or
  overflows, where IEEE arithmetic commutes with scaling by a power of two;
* mirroring: flipping some spatial axes of ``x`` (and ``grad_output``, and the
  kernel of conv) with the padding of those axes mirrored flips the outputs, and maps
  every index to its mirrored position. Only geometries for which the windows map
  onto windows are drawn: floor mode with ``(L + pb + pe - eff) % s == 0`` per axis
  (ceil mode and ``same_*`` padding break the symmetry); adaptive and global
  windows are always symmetric;
* windows only: changing the values at positions no window covers (to NaN; the
  dtype's maximum for integers) changes no output bit of max, average and Lp pooling
  nor their gradients [POOL-MAX-1, POOL-GEOM-8].

Results must agree bit for bit where both sides compute the same thing in the same
order (max family, padding, unpooling, indices, scaling of linear ops); where a
transformation may reorder a sum (layouts, permutations, mirrored windows, Lp's
root), the two results may each be off by the op's ULP budget at their scale, so
they must agree within twice that budget [POOL-TOL-1]. Drawn values are pairwise
distinct, so ties (whose resolution is implementation-defined) never occur, and no
window lies entirely in padding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import assume, note
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
    defined_only,
    invoke,
    restrictions,
    run_property,
)
from poolconf.conformance.profiles import Profile
from poolconf.conformance.strategies import PoolCase, pool_cases
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference.tolerance import EXACT_OPS, budgets, scales

SCALE = 1.0  # examples per property, relative to --examples
ALL_OPS = cat.FORWARD_OPS
FLIP_OPS = tuple(op for op in ALL_OPS if op != "max_unpool")
WINDOW_ONLY_OPS = cat.forward_ops("window")
LP_OPS = frozenset(op for op in ALL_OPS if cat.op(op).reduction == "lp")


def _params(ops: tuple[str, ...], clause: str | None) -> list[Any]:
    out = []
    for op in ops:
        clauses = (clause, cat.op(op).clause) if clause else (cat.op(op).clause,)
        out.append(pytest.param(op, id=op, marks=pytest.mark.poolconf(op=op, clauses=clauses)))
    return out


@dataclass
class Variant:
    """The transformed call: inputs, grad_output and params, and how an output of the
    original call maps to the expected output of this one."""

    inputs: dict[str, np.ndarray | None]
    grad_output: np.ndarray | None
    params: dict[str, Any]
    expect: Callable[[str, np.ndarray], np.ndarray]
    exact: bool  # forward outputs must agree bit for bit
    exact_grad: bool = False  # gradients too
    tiny_fallback: bool = False  # within 2x budget where a result is near the subnormal range


def check_relation(
    backend: Backend,
    case: PoolCase,
    variant: Variant,
    relation: str,
    clause: str,
    recorder: Any = None,
) -> str | None:
    """Call the op (and its gradient, when the backend has it) on ``case`` and on
    ``variant``; the variant's outputs must equal the mapped originals."""
    __tracebackhide__ = True
    calls = [(case.op, False)]
    gop = cat.OPS[case.op].grad
    if gop is not None and case.grad_output is not None and backend.supports(gop):
        calls.append((gop, True))
    for op, is_grad in calls:
        a0 = dict(case.inputs)
        a1 = dict(variant.inputs)
        if is_grad:
            a0["grad_output"], a1["grad_output"] = case.grad_output, variant.grad_output
        transformed, original = (
            format_call(op, a1, variant.params),
            format_call(op, a0, case.params),
        )
        call = f"{relation}: {transformed} vs {original}"
        repro = (
            reproducer(backend.name, op, a0, case.params)
            + "\n# the transformed call:\n"
            + reproducer(backend.name, op, a1, variant.params)
        )
        note(call)
        cl = clause or cat.op(op).clause
        base = invoke(backend, op, a0, dict(case.params), call=call, clause=cl, repro=repro)
        moved = invoke(backend, op, a1, dict(variant.params), call=call, clause=cl, repro=repro)
        specs = case.output_specs(op)
        assert_output_specs(base, specs, op=op, call=call, repro=repro)
        tol_inputs = {k: v for k, v in a1.items() if k in ("x", "weight", "bias")}
        budget = budgets(case.op, tol_inputs, variant.params)
        sc = scales(case.op, {**tol_inputs, "grad_output": variant.grad_output}, variant.params)
        for name, got in moved.items():
            want = base[name]
            if want is None or got is None:
                if (want is None) != (got is None):
                    fail(
                        f"{name} is {describe_result(got)}, but the original call gave "
                        f"{describe_result(want)}",
                        call=call,
                        clause=cl,
                        repro=repro,
                    )
                continue
            expected = variant.expect(name, want)
            if name == "indices":
                exact = True
            elif is_grad:
                exact = variant.exact_grad
            else:
                exact = variant.exact or case.op in EXACT_OPS
            if exact and variant.tiny_fallback and _near_subnormal(want):
                exact = False
            ulps = 0 if exact else 2 * budget[name].ulps
            err = assert_matches(
                got,
                expected,
                ulps=ulps,
                scale=None if exact else sc.get(name),
                what=name,
                call=call,
                clause=cl,
                repro=repro,
            )
            if recorder is not None:
                recorder.record(op, dt.dtype_name(want.dtype), name, err)
    return None


def _near_subnormal(a: np.ndarray) -> bool:
    """Whether a nonzero finite element lies below 4x the smallest normal of its dtype
    (scaling by 2**k need not commute with rounding there)."""
    name = dt.dtype_name(a.dtype)
    if not dt.is_float(name):
        return False
    tiny = float(ml_dtypes.finfo(a.dtype).smallest_normal) * 4
    v = np.abs(a.astype(np.float64))
    return bool(np.any((v > 0) & (v < tiny) & np.isfinite(v)))


# ---------------------------------------------------------------------------
# helpers on arrays in either layout
# ---------------------------------------------------------------------------


def _spatial_axes(layout: str, rank: int) -> list[int]:
    return list(range(1, rank + 1)) if layout == "channels_last" else list(range(2, rank + 2))


def _channel_axis(layout: str) -> int:
    return -1 if layout == "channels_last" else 1


# ---------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------


def layout_variant(case: PoolCase) -> Variant:
    def cl(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.ascontiguousarray(np.moveaxis(a, 1, -1))

    inputs = {k: (v if k in ("weight", "bias") else cl(v)) for k, v in case.inputs.items()}
    params = {**case.params, "layout": "channels_last"}

    def expect(name: str, a: np.ndarray) -> np.ndarray:
        return a if name in ("grad_weight", "grad_bias") else np.moveaxis(a, 1, -1)

    return Variant(inputs, cl(case.grad_output), params, expect, exact=False)


@pytest.mark.parametrize("op", _params(ALL_OPS, "POOL-LAYOUT-1"))
def test_layouts_agree(
    op: str,
    backend: Backend,
    poolconf_profile: Profile,
    ulp_recorder: Any,
    request: pytest.FixtureRequest,
) -> None:
    """channels_last gives the channels_first result with the channel axis moved."""
    kw = restrictions(backend, poolconf_profile, op)
    if not poolconf_profile.is_full:
        pytest.skip(f"channels_last is outside profile {poolconf_profile.name}")
    kw["layout"] = "channels_first"
    strategy = pool_cases(op=op, distinct=True, **defined_only(backend), **kw)
    run_property(
        request,
        strategy,
        lambda c: check_relation(
            backend, c, layout_variant(c), "layouts", "POOL-LAYOUT-1", ulp_recorder
        ),
        scale=SCALE,
    )


# ---------------------------------------------------------------------------
# permutations
# ---------------------------------------------------------------------------


@st.composite
def permuted(
    draw: Callable[..., Any], case_strategy: st.SearchStrategy[PoolCase]
) -> tuple[PoolCase, Variant]:
    case = draw(case_strategy, label="case")
    cfg = case.config
    pb = np.array(draw(st.permutations(range(cfg.batch)), label="batch permutation"), dtype=np.intp)
    pc: np.ndarray | None = None  # conv mixes channels: only the batch is permuted
    if case.op != "conv":
        pc = np.array(
            draw(st.permutations(range(cfg.channels)), label="channel permutation"), dtype=np.intp
        )
    ax = _channel_axis(cfg.layout)

    def perm(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        a = np.take(a, pb, axis=0)
        return np.ascontiguousarray(a if pc is None else np.take(a, pc, axis=ax))

    inputs = {k: (v if k in ("weight", "bias") else perm(v)) for k, v in case.inputs.items()}

    def expect(name: str, a: np.ndarray) -> np.ndarray:
        return a if name in ("grad_weight", "grad_bias") else perm(a)  # type: ignore[return-value]

    return case, Variant(inputs, perm(case.grad_output), dict(case.params), expect, exact=False)


@pytest.mark.parametrize("op", _params(ALL_OPS, None))
def test_permutation_commutes(
    op: str, backend: Backend, poolconf_profile: Profile, request: pytest.FixtureRequest
) -> None:
    """Permuting the batch (and channels, except for conv) permutes the outputs."""
    kw = restrictions(backend, poolconf_profile, op)
    strategy = permuted(
        pool_cases(op=op, distinct=True, **defined_only(backend), min_batch=2, **kw)
    )
    run_property(
        request,
        strategy,
        lambda cv: check_relation(backend, cv[0], cv[1], "permutation", ""),
        scale=SCALE,
    )


# ---------------------------------------------------------------------------
# power-of-two scaling
# ---------------------------------------------------------------------------


@st.composite
def scaled(
    draw: Callable[..., Any], case_strategy: st.SearchStrategy[PoolCase]
) -> tuple[PoolCase, Variant]:
    case = draw(case_strategy, label="case")
    k = draw(st.sampled_from((-2, -1, 1, 2)), label="k (scale 2**k)")
    f = 2.0**k

    def mul(a: np.ndarray | None, by: float) -> np.ndarray | None:
        return None if a is None else (a.astype(np.float64) * by).astype(a.dtype)

    inputs = {
        kk: (v if kk in ("weight", "indices") else mul(v, f)) for kk, v in case.inputs.items()
    }

    def expect(name: str, a: np.ndarray) -> np.ndarray:
        if name == "indices":
            return a
        return mul(a, f * f if name == "grad_weight" else f)  # type: ignore[return-value]

    exact = case.op not in LP_OPS
    return case, Variant(
        inputs,
        mul(case.grad_output, f),
        dict(case.params),
        expect,
        exact,
        exact_grad=exact,
        tiny_fallback=True,
    )


@pytest.mark.parametrize("op", _params(ALL_OPS, None))
def test_power_of_two_scaling(
    op: str, backend: Backend, poolconf_profile: Profile, request: pytest.FixtureRequest
) -> None:
    """op(2**k x) = 2**k op(x); grad(2**k x, 2**k g) = 2**k grad(x, g) (conv weight: 4**k)."""
    kw = restrictions(backend, poolconf_profile, op)
    if "dtype" not in kw:
        kw["dtype"] = st.sampled_from(dt.FLOAT_DTYPES)
    strategy = scaled(
        pool_cases(op=op, **defined_only(backend), min_magnitude=0.125, max_magnitude=2.0, **kw)
    )
    run_property(
        request,
        strategy,
        lambda cv: check_relation(backend, cv[0], cv[1], "scaling", ""),
        scale=SCALE,
    )


# ---------------------------------------------------------------------------
# mirroring
# ---------------------------------------------------------------------------


def _mirror_index(flat: np.ndarray, shape: tuple[int, ...], axes: list[int]) -> np.ndarray:
    """Flat plane indices of the mirrored positions (spatial ``axes`` counted from 0)."""
    coords = list(np.unravel_index(flat.astype(np.intp), shape))
    for a in axes:
        coords[a] = shape[a] - 1 - coords[a]
    return np.ravel_multi_index(coords, shape).astype(flat.dtype)


@st.composite
def mirrored(
    draw: Callable[..., Any], case_strategy: st.SearchStrategy[PoolCase]
) -> tuple[PoolCase, Variant]:
    case = draw(case_strategy, label="case")
    cfg = case.config
    axes = draw(
        st.lists(st.integers(0, cfg.rank - 1), min_size=1, unique=True), label="flipped axes"
    )
    lay = _spatial_axes(cfg.layout, cfg.rank)
    data_axes = tuple(lay[a] for a in axes)

    def flip(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.ascontiguousarray(np.flip(a, axis=data_axes))

    params = dict(case.params)
    pad = params.get("padding")
    if isinstance(pad, tuple):
        params["padding"] = tuple(
            (pe, pb) if i in axes else (pb, pe) for i, (pb, pe) in enumerate(pad)
        )
    inputs: dict[str, np.ndarray | None] = {}
    for k, v in case.inputs.items():
        if k == "weight":
            assert v is not None
            inputs[k] = np.ascontiguousarray(np.flip(v, axis=tuple(2 + a for a in axes)))
        elif k == "bias":
            inputs[k] = v
        else:
            inputs[k] = flip(v)

    def expect(name: str, a: np.ndarray) -> np.ndarray:
        if name == "grad_bias":
            return a
        if name == "grad_weight":
            return np.flip(a, axis=tuple(2 + ax for ax in axes))
        out = np.flip(a, axis=data_axes)
        if name == "indices":
            out = _mirror_index(out, cfg.spatial, axes)
        return out

    exact = cat.op(cfg.op).selects_max or cfg.op == "zero_pad"
    return case, Variant(inputs, flip(case.grad_output), params, expect, exact)


@pytest.mark.parametrize("op", _params(FLIP_OPS, None))
def test_mirroring_commutes(
    op: str, backend: Backend, poolconf_profile: Profile, request: pytest.FixtureRequest
) -> None:
    """Flipping spatial axes with mirrored padding flips the outputs (and mirrors indices)."""
    kw = restrictions(backend, poolconf_profile, op)
    strategy = mirrored(
        pool_cases(op=op, distinct=True, **defined_only(backend), length_rule="mirror", **kw)
    )
    run_property(
        request,
        strategy,
        lambda cv: check_relation(backend, cv[0], cv[1], "mirroring", ""),
        scale=SCALE,
    )


# ---------------------------------------------------------------------------
# values outside every window
# ---------------------------------------------------------------------------


@st.composite
def outside_changed(
    draw: Callable[..., Any], case_strategy: st.SearchStrategy[PoolCase]
) -> tuple[PoolCase, Variant]:
    case = draw(case_strategy, label="case")
    cfg = case.config
    covered = {f for w in cfg.windows() for f in w}
    plane = math.prod(cfg.spatial)
    uncovered = sorted(set(range(plane)) - covered)
    assume(uncovered)
    note(f"positions no window covers: {uncovered}")
    x = case.x
    cf = np.moveaxis(x, -1, 1) if cfg.layout == "channels_last" else x
    flat = np.array(cf).reshape(cfg.batch * cfg.channels, plane)
    fill = math.nan if dt.is_float(cfg.dtype) else np.iinfo(x.dtype).max
    flat[:, uncovered] = fill
    new_cf = flat.reshape(cf.shape)
    new = np.ascontiguousarray(
        np.moveaxis(new_cf, 1, -1) if cfg.layout == "channels_last" else new_cf
    )
    return case, Variant(
        {**case.inputs, "x": new},
        case.grad_output,
        dict(case.params),
        lambda name, a: a,
        exact=True,
        exact_grad=True,
    )


@pytest.mark.parametrize("op", _params(WINDOW_ONLY_OPS, "POOL-GEOM-8"))
def test_values_outside_windows_ignored(
    op: str, backend: Backend, poolconf_profile: Profile, request: pytest.FixtureRequest
) -> None:
    """Positions no window covers take no part: NaN there changes no output bit."""
    kw = restrictions(backend, poolconf_profile, op)
    kw.setdefault("max_kernel", 2)
    strategy = outside_changed(pool_cases(op=op, **defined_only(backend), max_stride=4, **kw))
    run_property(
        request,
        strategy,
        lambda cv: check_relation(backend, cv[0], cv[1], "outside windows", "POOL-GEOM-8"),
        scale=SCALE,
    )
