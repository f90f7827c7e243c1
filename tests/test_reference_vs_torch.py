"""Differential check: the reference against torch (CPU) on random configurations that torch
supports with the spec's semantics.

Every configuration is drawn from its own seeded generator (the test id names the op and the
draw), compared with ``poolconf.reference.tolerance`` (ULP budgets at the scale of the op
on absolute values; exact ops bit for bit). Where torch's semantics differ from the spec the
difference is avoided by construction, with the clause named in a comment, never by a looser
tolerance:

* torch's ``lp_pool`` raises the sum of ``x**p`` without ``abs`` [POOL-LP-1]: odd ``p`` gets
  non-negative inputs.
* torch's ``lp_pool`` is ``(avg_pool(x**p) * prod(k)) ** (1/p)``: a ceil-mode window that
  overhangs the input is scaled by ``k / (in-bounds taps)``, so its sum is wrong
  [POOL-LP-1, POOL-GEOM-3]: no ceil mode for Lp here (see
  ``test_torch_lp_pool_ceil_overhang_differs``).
* torch selects the last NaN of a window and breaks ties in its own order [POOL-MAX-2,
  POOL-MAX-4]: inputs are continuous random values, so no NaN and no ties.
* torch rejects padding above half the kernel and has no per-side padding, no dilation for
  average or Lp pooling and no ``divisor_override`` in 1D: those are not drawn.
* A window entirely in padding is implementation-defined [POOL-EMPTY-1]: configurations
  with one are redrawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.reference import geometry as geo
from poolconf.reference import tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch

N_CONFIGS = {"max": 40, "avg": 40, "lp": 25, "adaptive": 25, "unpool": 20, "conv": 30}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _rng(kind: str, i: int) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, kind)), i])


def _dtype(rng: np.random.Generator) -> str:
    """float64 mostly, float32 for a quarter of the draws."""
    return "float32" if rng.random() < 0.25 else "float64"


def _t(a: np.ndarray, grad: bool = False) -> Any:
    return torch.tensor(a, requires_grad=grad)


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _check(
    name: str, got: np.ndarray, want: np.ndarray, ulps: int, scale: np.ndarray | None, cfg: dict
) -> None:
    __tracebackhide__ = True
    cmp = tolerance.compare(got, want, ulps, scale)
    if not cmp.ok:
        worst = cmp.mismatches[:3]
        pytest.fail(
            f"{name}: torch differs from the reference (budget {ulps} ulps, max error "
            f"{cmp.max_ulp_error:.3g} ulps, shape_ok={cmp.shape_ok}, dtype_ok={cmp.dtype_ok}) "
            f"at {[(m.index, m.got, m.expected) for m in worst]} [{cfg}]"
        )


def _torch_fn(prefix: str, rank: int) -> Callable[..., Any]:
    return getattr(F, f"{prefix}{rank}d")


def _draw_window(
    rng: np.random.Generator, *, dilation: bool, max_len: int
) -> tuple[int, list[int], list[int], list[int], list[int], list[int]]:
    rank = int(rng.integers(1, 4))
    lim = max_len if rank < 3 else 4
    shape = [int(v) for v in rng.integers(1, lim + 1, size=rank)]
    k = [int(v) for v in rng.integers(1, 4, size=rank)]
    s = [int(v) for v in rng.integers(1, 4, size=rank)]
    d = [int(v) for v in rng.integers(1, 3, size=rank)] if dilation else [1] * rank
    p = [int(rng.integers(0, ki // 2 + 1)) for ki in k]  # torch: padding <= kernel // 2
    return rank, shape, k, s, d, p


def _has_empty_window(
    spatial: list[int], k: list[int], s: list[int], p: list[int], d: list[int], ceil: bool
) -> bool:
    g = geo.pool_geometry(spatial, k, s, p, d, ceil)
    return any(not any(t.in_bounds for t in taps) for _, taps in g.windows())


def _input(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: str, positive: bool = False
) -> np.ndarray:
    x = rng.standard_normal(shape)
    return (np.abs(x) if positive else x).astype(dtype)


# ---------------------------------------------------------------------------
# max pooling with indices, and its gradient
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["max"]))
def test_max_pool(i: int) -> None:
    rng = _rng("max", i)
    while True:
        rank, spatial, k, s, d, p = _draw_window(rng, dilation=True, max_len=7)
        ceil = bool(rng.random() < 0.5)
        try:
            if not _has_empty_window(spatial, k, s, p, d, ceil):  # [POOL-EMPTY-1]
                break
        except SpecError:
            break  # output length < 1: both must reject it
    dtype = _dtype(rng)
    x = _input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial), dtype)
    params = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": ceil}
    cfg = {"x.shape": x.shape, "dtype": dtype, **params}
    tfn = _torch_fn("max_pool", rank)
    try:
        values, indices = ref.max_pool_with_indices(x, **params)
    except SpecError as e:
        assert e.clause == "POOL-GEOM-7", (e, cfg)
        with pytest.raises(RuntimeError):
            tfn(_t(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
        return
    tx = _t(x, grad=True)
    tv, ti = tfn(tx, k, s, p, d, ceil_mode=ceil, return_indices=True)
    b = tolerance.budgets("max_pool", {"x": x}, params)
    _check("output", _np(tv), values, 0, None, cfg)
    _check("indices", _np(ti), indices, 0, None, cfg)
    g = _input(rng, values.shape, dtype)
    tv.backward(_t(g))
    want = ref.max_pool_grad(x, g, **params)
    sc = tolerance.scales("max_pool", {"x": x, "grad_output": g}, params)
    _check("grad_input", _np(tx.grad), want, b["grad_input"].ulps, sc["grad_input"], cfg)


# ---------------------------------------------------------------------------
# average pooling and its gradient
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["avg"]))
def test_avg_pool(i: int) -> None:
    rng = _rng("avg", i)
    while True:
        rank, spatial, k, s, _, p = _draw_window(rng, dilation=False, max_len=7)
        ceil = bool(rng.random() < 0.5)
        if rank == 3 and any(L < ki for L, ki in zip(spatial, k)):
            continue  # torch's avg_pool3d rejects a dim smaller than the kernel, padded or not
        try:
            geo.pool_geometry(spatial, k, s, p, 1, ceil)
            break
        except SpecError:
            continue
    dtype = _dtype(rng)
    include = bool(rng.random() < 0.5)
    override = int(rng.integers(1, 7)) if rank > 1 and rng.random() < 0.3 else None
    x = _input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial), dtype)
    params: dict[str, Any] = {
        "kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil, "count_include_pad": include,
    }  # fmt: skip
    if override is not None:
        params["divisor_override"] = override
    cfg = {"x.shape": x.shape, "dtype": dtype, **params}
    tx = _t(x, grad=True)
    extra = {"divisor_override": override} if rank > 1 else {}
    tout = _torch_fn("avg_pool", rank)(tx, k, s, p, ceil, include, **extra)
    want = ref.avg_pool(x, **params)
    b = tolerance.budgets("avg_pool", {"x": x}, params)
    g = _input(rng, want.shape, dtype)
    sc = tolerance.scales("avg_pool", {"x": x, "grad_output": g}, params)
    _check("output", _np(tout), want, b["output"].ulps, sc["output"], cfg)
    tout.backward(_t(g))
    want_g = ref.avg_pool_grad(x, g, **params)
    _check("grad_input", _np(tx.grad), want_g, b["grad_input"].ulps, sc["grad_input"], cfg)


# ---------------------------------------------------------------------------
# Lp pooling and its gradient
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["lp"]))
def test_lp_pool(i: int) -> None:
    rng = _rng("lp", i)
    while True:
        rank, spatial, k, s, _, _ = _draw_window(rng, dilation=False, max_len=6)
        try:
            # no ceil mode: torch scales an overhanging window's sum [POOL-LP-1, POOL-GEOM-3]
            geo.pool_geometry(spatial, k, s, 0, 1, False)
            break
        except SpecError:
            continue
    dtype = _dtype(rng)
    p = int(rng.integers(1, 5))
    # torch has no abs in its Lp sum: odd p gets non-negative inputs [POOL-LP-1]
    x = _input(
        rng,
        (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial),
        dtype,
        positive=p % 2 == 1,
    )
    params = {"kernel_size": k, "stride": s, "p": p}
    cfg = {"x.shape": x.shape, "dtype": dtype, **params}
    tx = _t(x, grad=True)
    tfn = _torch_fn("lp_pool", rank)
    tout = tfn(tx, float(p), k[0] if rank == 1 else k, s[0] if rank == 1 else s)
    want = ref.lp_pool(x, **params)
    b = tolerance.budgets("lp_pool", {"x": x}, params)
    g = _input(rng, want.shape, dtype)
    sc = tolerance.scales("lp_pool", {"x": x, "grad_output": g}, params)
    _check("output", _np(tout), want, b["output"].ulps, sc["output"], cfg)
    tout.backward(_t(g))
    want_g = ref.lp_pool_grad(x, g, **params)
    _check("grad_input", _np(tx.grad), want_g, b["grad_input"].ulps, sc["grad_input"], cfg)


def test_torch_lp_pool_ceil_overhang_differs() -> None:
    """A spec-relevant torch difference, kept visible: ``lp_pool1d(ones(3), p=2, k=2, s=2,
    ceil_mode=True)``. The spec sums the in-bounds taps: [sqrt(2), 1]. torch computes
    ``avg_pool`` (divisor 1 for the overhanging window) times k=2: [sqrt(2), sqrt(2)]."""
    x = np.ones((1, 1, 3))
    want = ref.lp_pool(x, kernel_size=2, stride=2, ceil_mode=True)
    np.testing.assert_array_equal(want.ravel(), [math.sqrt(2), 1.0])
    got = _np(F.lp_pool1d(_t(x), 2.0, 2, 2, ceil_mode=True))
    if np.array_equal(got, want):
        pytest.fail("torch now agrees with the spec on ceil-mode Lp: allow ceil mode for Lp above")


# ---------------------------------------------------------------------------
# adaptive pooling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["adaptive"]))
def test_adaptive_pool(i: int) -> None:
    rng = _rng("adaptive", i)
    rank = int(rng.integers(1, 4))
    spatial = [int(v) for v in rng.integers(1, 8 if rank < 3 else 5, size=rank)]
    out = [int(v) for v in rng.integers(1, 6, size=rank)]
    dtype = _dtype(rng)
    x = _input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial), dtype)
    params = {"output_size": out}
    cfg = {"x.shape": x.shape, "dtype": dtype, **params}
    # max: values and indices exact, gradient routed
    tx = _t(x, grad=True)
    tv, ti = _torch_fn("adaptive_max_pool", rank)(tx, out, return_indices=True)
    want = ref.adaptive_max_pool(x, **params)
    _check("max output", _np(tv), want, 0, None, cfg)
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    picked = np.take_along_axis(flat, _np(ti).reshape(x.shape[0], x.shape[1], -1), axis=2)
    _check("max indices select the maxima", picked.reshape(want.shape), want, 0, None, cfg)
    g = _input(rng, want.shape, dtype)
    tv.backward(_t(g))
    b = tolerance.budgets("adaptive_max_pool", {"x": x}, params)
    sc = tolerance.scales("adaptive_max_pool", {"x": x, "grad_output": g}, params)
    want_g = ref.adaptive_max_pool_grad(x, g, **params)
    _check("max grad_input", _np(tx.grad), want_g, b["grad_input"].ulps, sc["grad_input"], cfg)
    # average
    tx = _t(x, grad=True)
    tout = _torch_fn("adaptive_avg_pool", rank)(tx, out)
    want = ref.adaptive_avg_pool(x, **params)
    b = tolerance.budgets("adaptive_avg_pool", {"x": x}, params)
    sc = tolerance.scales("adaptive_avg_pool", {"x": x, "grad_output": g}, params)
    _check("avg output", _np(tout), want, b["output"].ulps, sc["output"], cfg)
    tout.backward(_t(g))
    want_g = ref.adaptive_avg_pool_grad(x, g, **params)
    _check("avg grad_input", _np(tx.grad), want_g, b["grad_input"].ulps, sc["grad_input"], cfg)


# ---------------------------------------------------------------------------
# max unpooling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["unpool"]))
def test_max_unpool(i: int) -> None:
    rng = _rng("unpool", i)
    while True:
        rank, spatial, k, s, _, p = _draw_window(rng, dilation=False, max_len=7)
        try:
            g = geo.pool_geometry(spatial, k, s, p, 1, False)
        except SpecError:
            continue
        default = [
            geo.unpool_output_length(o, ki, si, pi, pi)
            for o, ki, si, pi in zip(g.out_shape, k, s, p)
        ]
        if all(o >= L for o, L in zip(default, spatial)):  # the indices must fit the output
            break
    dtype = _dtype(rng)
    x = _input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial), dtype)
    values, indices = ref.max_pool_with_indices(x, kernel_size=k, stride=s, padding=p)
    # torch accepts an output_size strictly within (default - stride, default + stride)
    sizes: list[list[int] | None] = [
        None,
        [o + int(rng.integers(0, si)) for o, si in zip(default, s)],
    ]
    for size in sizes:
        cfg = {"x.shape": x.shape, "dtype": dtype, "k": k, "s": s, "p": p, "output_size": size}
        want = ref.max_unpool(values, indices, kernel_size=k, stride=s, padding=p, output_size=size)
        got = _torch_fn("max_unpool", rank)(_t(values), _t(indices), k, s, p, output_size=size)
        _check("output", _np(got), want, 0, None, cfg)


# ---------------------------------------------------------------------------
# convolution and its gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(N_CONFIGS["conv"]))
def test_conv(i: int) -> None:
    rng = _rng("conv", i)
    rank = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    cig, cog = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    while True:
        spatial = [int(v) for v in rng.integers(1, 7 if rank < 3 else 5, size=rank)]
        k = [int(v) for v in rng.integers(1, 4, size=rank)]
        s = [int(v) for v in rng.integers(1, 3, size=rank)]
        d = [int(v) for v in rng.integers(1, 3, size=rank)]
        p = [int(v) for v in rng.integers(0, 3, size=rank)]  # conv allows any padding
        try:
            geo.pool_geometry(spatial, k, s, p, d, False)
            break
        except SpecError:
            continue
    dtype = _dtype(rng)
    n = int(rng.integers(1, 3))
    x = _input(rng, (n, cig * groups, *spatial), dtype)
    w = _input(rng, (cog * groups, cig, *k), dtype)
    bias = _input(rng, (cog * groups,), dtype) if rng.random() < 0.6 else None
    params = {"stride": s, "padding": p, "dilation": d, "groups": groups}
    cfg = {
        "x.shape": x.shape,
        "w.shape": w.shape,
        "bias": bias is not None,
        "dtype": dtype,
        **params,
    }
    tx, tw = _t(x, grad=True), _t(w, grad=True)
    tb = _t(bias, grad=True) if bias is not None else None
    tout = _torch_fn("conv", rank)(tx, tw, tb, s, p, d, groups)
    want = ref.conv(x, w, bias, **params)
    inputs = {"x": x, "weight": w, "bias": bias}
    b = tolerance.budgets("conv", inputs, params)
    g = _input(rng, want.shape, dtype)
    sc = tolerance.scales("conv", {**inputs, "grad_output": g}, params)
    _check("output", _np(tout), want, b["output"].ulps, sc["output"], cfg)
    tout.backward(_t(g))
    gx, gw, gb = ref.conv_grad(x, w, bias, g, **params)
    _check("grad_input", _np(tx.grad), gx, b["grad_input"].ulps, sc["grad_input"], cfg)
    _check("grad_weight", _np(tw.grad), gw, b["grad_weight"].ulps, sc["grad_weight"], cfg)
    if bias is not None:
        _check("grad_bias", _np(tb.grad), gb, b["grad_bias"].ulps, sc["grad_bias"], cfg)
