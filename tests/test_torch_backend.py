"""The torch backend against the reference, and its Unsupported rules.

Seeded random small configurations for every op the backend has: results must
agree with the reference within the tolerance rules (max family, indices,
unpooling and padding bit-exact), and the backend must raise ``Unsupported``
(with a clause id in the reason) exactly where the rules documented in
``conformance/backends/torch_backend.py`` say, predicted here independently from
the reference's window geometry.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from poolconf import SpecError, Unsupported
from poolconf import reference as ref
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.tolerance import budgets, compare, scales

torch = pytest.importorskip("torch")
tb = pytest.importorskip("poolconf.conformance.backends.torch_backend")

pytestmark = pytest.mark.torch

CLAUSE = re.compile(r"\[POOL-[A-Z]+-\d+")
FLOATS = ("float32", "float64", "float16", "bfloat16")
TORCH_MAX_INTS = ("int8", "int16", "int32", "int64", "uint8")
SEEDS = range(24)


# ---------------------------------------------------------------------------
# drawing cases
# ---------------------------------------------------------------------------


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Small values; half of the draws are coarse (quarter steps), so ties happen."""
    if not dt.is_float(dtype):
        info = np.iinfo(dt.numpy_dtype(dtype))
        lo, hi = max(int(info.min), -50), min(int(info.max), 50)
        return rng.integers(lo, hi + 1, size=shape).astype(dt.numpy_dtype(dtype))
    if rng.random() < 0.5:
        v = rng.integers(-8, 9, size=shape) / 4.0
    else:
        v = rng.uniform(-2.0, 2.0, size=shape)
    return v.astype(dt.numpy_dtype(dtype))


def _layout_shape(
    rng: np.random.Generator, spatial: tuple[int, ...], layout: str
) -> tuple[int, ...]:
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    return (n, *spatial, c) if layout == "channels_last" else (n, c, *spatial)


def _window_params(rng: np.random.Generator, rank: int) -> dict[str, Any]:
    k = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    s = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    d = tuple(int(rng.choice([1, 1, 2])) for _ in range(rank))
    kind = rng.choice(["native", "native", "pairs", "valid", "same_upper", "same_lower"])
    padding: Any
    if kind == "native":
        padding = tuple((p, p) for p in (int(rng.integers(0, ki // 2 + 1)) for ki in k))
    elif kind == "pairs":
        padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank))
    else:
        padding = str(kind)
    return {
        "kernel_size": k,
        "stride": s,
        "padding": padding,
        "dilation": d,
        "ceil_mode": bool(rng.random() < 0.5),
    }


def _draw_windowed(seed: int, dtypes: tuple[str, ...]) -> tuple[np.ndarray, dict[str, Any]]:
    """A spec-valid windowed case (input and params), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    while True:
        rank = int(rng.integers(1, 4))
        spatial = tuple(int(rng.integers(1, 7 if rank < 3 else 5)) for _ in range(rank))
        params = _window_params(rng, rank)
        try:
            geo.pool_geometry(
                spatial,
                params["kernel_size"],
                params["stride"],
                params["padding"],
                params["dilation"],
                params["ceil_mode"],
            )
        except SpecError:
            continue
        layout = str(rng.choice(["channels_first", "channels_last"]))
        dtype = str(rng.choice(list(dtypes)))
        params["layout"] = layout
        return _values(rng, _layout_shape(rng, spatial, layout), dtype), params


def _spatial(x: np.ndarray, layout: str) -> tuple[int, ...]:
    return tuple(x.shape[1:-1]) if layout == "channels_last" else tuple(x.shape[2:])


def _geometry(x: np.ndarray, params: dict[str, Any]) -> geo.PoolGeometry:
    return geo.pool_geometry(
        _spatial(x, params["layout"]),
        params["kernel_size"],
        params["stride"],
        params["padding"],
        params["dilation"],
        params["ceil_mode"],
    )


# ---------------------------------------------------------------------------
# the documented Unsupported rules, predicted from the reference geometry
# ---------------------------------------------------------------------------


def _native(g: geo.PoolGeometry) -> bool:
    """torch's pools take symmetric padding of at most kernel_size // 2."""
    return all(a.pad_begin == a.pad_end <= a.kernel // 2 for a in g.axes)


def _empty_window(g: geo.PoolGeometry) -> bool:
    return any(not any(t.in_bounds for t in taps) for _, taps in g.windows())


def _padded_counts_match(g: geo.PoolGeometry, ceil_mode: bool) -> bool:
    """Windows torch makes on an explicitly padded input equal the spec's."""
    return all(
        geo.output_length(
            a.length + a.pad_begin + a.pad_end, a.kernel, a.stride, a.dilation, 0, 0, ceil_mode
        )
        == a.out
        for a in g.axes
    )


def _expect_unsupported(op: str, x: np.ndarray, params: dict[str, Any]) -> str:
    """How the adapter handles the call: "" (torch computes the spec's result),
    "unsupported" (torch has no form for it), "torch" (torch raises its own error: its
    padding limit, declared, or a known failure) or "differs" (torch computes a known
    divergence, listed in torch_xfail.txt)."""
    g = _geometry(x, params)
    name = dt.dtype_name(x.dtype)
    symmetric = all(a.pad_begin == a.pad_end for a in g.axes)
    declined = "torch" if symmetric else "unsupported"  # see _torch_common._native
    if name in ("int8", "uint8") and params["layout"] == "channels_last" and op == "max_pool":
        # torch's channels-last kernel keeps 1-byte indices: planes above 127 elements raise
        padded = math.prod(a.length + a.pad_begin + a.pad_end for a in g.axes)
        if (padded if not _native(g) else math.prod(a.length for a in g.axes)) > 127:
            return "torch"
    if op == "max_pool":
        if name not in FLOATS + TORCH_MAX_INTS:
            return "unsupported"
        if not _native(g) and (
            _empty_window(g) or not _padded_counts_match(g, params["ceil_mode"])
        ):
            return declined
        return ""
    if op in ("max_pool_with_indices", "max_pool_grad"):
        if name in ("int8", "uint8") and params["layout"] == "channels_last" and _native(g):
            if math.prod(a.length for a in g.axes) > 127:
                return "torch"
        if not _native(g):
            return declined
        return "unsupported" if _empty_window(g) else ""
    if op.startswith(("avg", "lp")) and len(g.axes) == 3 and name in ("float16", "bfloat16"):
        return "unsupported"  # no CPU avg_pool3d kernel for them
    if op in ("avg_pool", "avg_pool_grad"):
        if any(a.dilation != 1 for a in g.axes):
            return "unsupported"
        if _native(g):  # torch's avg_pool3d also wants every input dim >= the kernel
            return "torch" if len(g.axes) == 3 and any(a.length < a.kernel for a in g.axes) else ""
        if not (params["count_include_pad"] or params["divisor_override"] is not None):
            return declined
        return "" if _padded_counts_match(g, params["ceil_mode"]) else declined
    if op in ("lp_pool", "lp_pool_grad"):
        if any(a.dilation != 1 for a in g.axes):
            return "unsupported"
        if _padded_counts_match(g, False):
            return ""
        # a ceil-mode overhang: torch's ceil mode on the padded input, scaled (a known
        # divergence), where its window count is the spec's
        return "differs" if _padded_counts_match(g, True) else "unsupported"
    raise AssertionError(op)


# ---------------------------------------------------------------------------
# comparing
# ---------------------------------------------------------------------------


def _check(
    op: str,
    got: np.ndarray,
    want: np.ndarray,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any],
    output: str,
    grad_params: dict[str, Any] | None = None,
) -> float:
    budget = budgets(op, inputs, params)[output]
    scale = scales(op, inputs, params, grad_params).get(output)
    c = compare(got, want, budget.ulps, scale)
    assert c.shape_ok and c.dtype_ok, (
        f"{op} {output}: got {getattr(got, 'dtype', None)}{np.shape(got)}, "
        f"want {want.dtype}{want.shape} [{params}]"
    )
    assert c.ok, f"{op} {output}: {c.mismatches[:3]} ({budget.ulps} ULP allowed) [{params}]"
    return c.max_ulp_error


def _call(op: str, expected: str, *args: Any, **params: Any) -> Any:
    """Call the backend; it declines exactly as ``_expect_unsupported`` predicts
    (Unsupported with a clause, or torch's own error); None where nothing is compared."""
    try:
        result = getattr(tb, op)(*args, **params)
    except Unsupported as exc:
        assert expected == "unsupported", f"{op} raised Unsupported({exc.reason!r}) [{params}]"
        assert CLAUSE.search(exc.reason), f"no clause id in {exc.reason!r}"
        return None
    except RuntimeError as exc:
        assert expected == "torch", f"{op} raised {exc} [{params}]"
        return None
    assert expected in ("", "differs"), f"{op} should decline ({expected}) [{params}]"
    return None if expected == "differs" else result


def _grad_output(seed: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.random.default_rng(seed + 10_000).uniform(-1, 1, size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# agreement on random configurations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool_family(seed: int) -> None:
    """max_pool, max_pool_with_indices (bit-exact) and max_pool_grad."""
    x, params = _draw_windowed(seed, FLOATS + TORCH_MAX_INTS)
    want, want_idx = ref.max_pool_with_indices(x, **params)
    got = _call("max_pool", _expect_unsupported("max_pool", x, params), x, **params)
    if got is not None:
        _check("max_pool", got, want, {"x": x}, params, "output")
    pair = _call(
        "max_pool_with_indices",
        _expect_unsupported("max_pool_with_indices", x, params),
        x,
        **params,
    )
    if pair is not None:
        _check("max_pool_with_indices", pair[0], want, {"x": x}, params, "output")
        _check("max_pool_with_indices", pair[1], want_idx, {"x": x}, params, "indices")
    if dt.is_float(dt.dtype_name(x.dtype)):
        g = _grad_output(seed, want.shape, x.dtype)
        gp = {"tie_policy": "first"}
        got_g = _call(
            "max_pool_grad", _expect_unsupported("max_pool_grad", x, params), x, g, **params, **gp
        )
        if got_g is not None:
            want_g = ref.max_pool_grad(x, g, **params, **gp)
            _check("max_pool", got_g, want_g, {"x": x, "grad_output": g}, params, "grad_input", gp)


@pytest.mark.parametrize("seed", SEEDS)
def test_avg_pool(seed: int) -> None:
    x, params = _draw_windowed(seed, FLOATS)
    rng = np.random.default_rng(seed + 1)
    params["count_include_pad"] = bool(rng.random() < 0.5)
    params["divisor_override"] = int(rng.integers(1, 5)) if rng.random() < 0.3 else None
    expect = _expect_unsupported("avg_pool", x, params)
    got = _call("avg_pool", expect, x, **params)
    if got is not None:
        _check("avg_pool", got, ref.avg_pool(x, **params), {"x": x}, params, "output")
    want = ref.avg_pool(x, **params)
    g = _grad_output(seed, want.shape, x.dtype)
    got_g = _call("avg_pool_grad", expect, x, g, **params)
    if got_g is not None:
        _check(
            "avg_pool",
            got_g,
            ref.avg_pool_grad(x, g, **params),
            {"x": x, "grad_output": g},
            params,
            "grad_input",
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_lp_pool(seed: int) -> None:
    x, params = _draw_windowed(seed, FLOATS)
    params["p"] = int(np.random.default_rng(seed + 2).integers(1, 4))
    # keep |x|**p / kernel inside every dtype's normal range (that limit has its own test)
    x = np.where(np.abs(x.astype(np.float64)) < 0.25, 0.5, x).astype(x.dtype)
    expect = _expect_unsupported("lp_pool", x, params)
    want = ref.lp_pool(x, **params)
    got = _call("lp_pool", expect, x, **params)
    if got is not None:
        _check("lp_pool", got, want, {"x": x}, params, "output")
    g = _grad_output(seed, want.shape, x.dtype)
    got_g = _call("lp_pool_grad", expect, x, g, **params)
    if got_g is not None:
        _check(
            "lp_pool",
            got_g,
            ref.lp_pool_grad(x, g, **params),
            {"x": x, "grad_output": g},
            params,
            "grad_input",
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_and_global(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 4))
    spatial = tuple(int(rng.integers(1, 7 if rank < 3 else 5)) for _ in range(rank))
    layout = str(rng.choice(["channels_first", "channels_last"]))
    x = _values(rng, _layout_shape(rng, spatial, layout), str(rng.choice(FLOATS)))
    out = tuple(int(rng.integers(1, L + 2)) for L in spatial)
    params = {"output_size": out, "layout": layout}
    for op in ("adaptive_max_pool", "adaptive_avg_pool"):
        want = getattr(ref, op)(x, **params)
        _check(op, getattr(tb, op)(x, **params), want, {"x": x}, params, "output")
        g = _grad_output(seed, want.shape, x.dtype)
        gp = {"tie_policy": "first"} if op == "adaptive_max_pool" else {}
        want_g = getattr(ref, f"{op}_grad")(x, g, **params, **gp)
        got_g = getattr(tb, f"{op}_grad")(x, g, **params, **gp)
        _check(op, got_g, want_g, {"x": x, "grad_output": g}, params, "grad_input", gp)
    lp = {"layout": layout, "p": int(rng.integers(1, 4))}
    xl = np.where(np.abs(x.astype(np.float64)) < 0.25, 0.5, x).astype(x.dtype)
    for op, xi, p in (
        ("global_max_pool", x, {"layout": layout}),
        ("global_avg_pool", x, {"layout": layout}),
        ("global_lp_pool", xl, lp),
    ):
        half_3d = op == "global_lp_pool" and rank == 3 and x.dtype.itemsize == 2
        got = _call(op, "unsupported" if half_3d else "", xi, **p)  # no 3-d half avg_pool kernel
        if got is not None:
            _check(op, got, getattr(ref, op)(xi, **p), {"x": xi}, p, "output")


@pytest.mark.parametrize("seed", SEEDS)
def test_max_unpool_and_zero_pad(seed: int) -> None:
    """Unpooling the indices of a native max pool, and zero padding; both bit-exact."""
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 4))
    spatial = tuple(int(rng.integers(2, 7 if rank < 3 else 5)) for _ in range(rank))
    layout = str(rng.choice(["channels_first", "channels_last"]))
    dtype = str(rng.choice(FLOATS))
    x = _values(rng, _layout_shape(rng, spatial, layout), dtype)
    k = tuple(int(rng.integers(1, min(3, L) + 1)) for L in spatial)
    s = tuple(int(rng.integers(1, 3)) for _ in range(rank))
    pads = tuple((p, p) for p in (int(rng.integers(0, ki // 2 + 1)) for ki in k))
    pooled, idx = ref.max_pool_with_indices(x, kernel_size=k, stride=s, padding=pads, layout=layout)
    # the original size lies within stride of torch's default size, which torch requires
    size = spatial if rng.random() < 0.5 else None
    params = {"kernel_size": k, "stride": s, "padding": pads, "output_size": size, "layout": layout}
    try:
        want = ref.max_unpool(pooled, idx, **params)
    except SpecError:
        pytest.skip("indices outside the default-size plane")
    got = _call("max_unpool", "", pooled, idx, **params)
    _check("max_unpool", got, want, {"x": pooled}, params, "output")
    zp = {
        "padding": tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank)),
        "layout": layout,
    }
    _check("zero_pad", tb.zero_pad(x, **zp), ref.zero_pad(x, **zp), {"x": x}, zp, "output")


@pytest.mark.parametrize("seed", SEEDS)
def test_conv(seed: int) -> None:
    rng = np.random.default_rng(seed)
    while True:
        rank = int(rng.integers(1, 4))
        spatial = tuple(int(rng.integers(1, 6 if rank < 3 else 4)) for _ in range(rank))
        groups = int(rng.choice([1, 1, 2]))
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(rng.integers(1, 4)) for _ in range(rank))
        params: dict[str, Any] = {
            "stride": tuple(int(rng.integers(1, 3)) for _ in range(rank)),
            "padding": str(rng.choice(["same_upper", "valid"]))
            if rng.random() < 0.3
            else tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank)),
            "dilation": tuple(int(rng.choice([1, 2])) for _ in range(rank)),
            "groups": groups,
            "layout": str(rng.choice(["channels_first", "channels_last"])),
        }
        try:
            geo.pool_geometry(spatial, k, params["stride"], params["padding"], params["dilation"])
            break
        except SpecError:
            continue
    dtype = str(rng.choice(FLOATS))
    n = int(rng.integers(1, 3))
    shape = (n, *spatial, c_in) if params["layout"] == "channels_last" else (n, c_in, *spatial)
    x = _values(rng, shape, dtype)
    w = _values(rng, (c_out, c_in // groups, *k), dtype)
    b = _values(rng, (c_out,), dtype) if rng.random() < 0.7 else None
    inputs = {"x": x, "weight": w, "bias": b}
    want = ref.conv(x, w, b, **params)
    _check("conv", tb.conv(x, w, b, **params), want, inputs, params, "output")
    g = _grad_output(seed, want.shape, x.dtype)
    got_g = tb.conv_grad(x, w, b, g, **params)
    want_g = ref.conv_grad(x, w, b, g, **params)
    for name, got_i, want_i in zip(("grad_input", "grad_weight", "grad_bias"), got_g, want_g):
        if want_i is None:
            assert got_i is None
            continue
        _check("conv", got_i, want_i, {**inputs, "grad_output": g}, params, name)


# ---------------------------------------------------------------------------
# declarations, measured on torch itself
# ---------------------------------------------------------------------------


def test_declarations_are_what_torch_does() -> None:
    assert tb.DECLARATIONS == {
        "tie_policy": "first",
        "empty_window": "reference",
        "nan_index": "other",
        "lp_zero_grad": "other",
        "accumulator": "float32",
        "padding_limit": "half_kernel",
    }
    # torch's pools reject symmetric padding above k//2, with dilation too (its kernels
    # check the undilated kernel); where F.pad composes an equivalent call it is computed
    x5 = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    over = {"kernel_size": (3,), "stride": (1,), "padding": ((2, 2),), "layout": "channels_first"}
    with pytest.raises(RuntimeError, match="half of"):
        tb.max_pool_grad(x5, np.ones((1, 1, 7), np.float32), **over, dilation=(2,))
    assert tb.max_pool(x5, **over).tobytes() == ref.max_pool(x5, **over).tobytes()
    # window sums in float32 (float64 for float64 data): the float32 average of (max, max)
    # overflows, float16's and float64's do not
    m = float(np.finfo(np.float32).max)
    av = {"kernel_size": (2,), "stride": (2,), "padding": ((0, 0),), "layout": "channels_first"}
    assert np.isposinf(tb.avg_pool(np.array([[[m, m]]], np.float32), **av)).all()
    assert tb.avg_pool(np.array([[[m, m]]], np.float64), **av)[0, 0, 0] == m
    assert tb.avg_pool(np.array([[[6e4, 6e4]]], np.float16), **av)[0, 0, 0] == np.float16(6e4)
    kw = {
        "stride": (1,),
        "padding": ((0, 0),),
        "dilation": (1,),
        "ceil_mode": False,
        "layout": "channels_first",
    }
    # ties: equal values and -0.0 / +0.0 -> the first in window order, value bits included
    x = np.array([[[1.0, 1.0, 0.5, -0.0, 0.0, 0.0]]], dtype=np.float32)
    for k in (2, 3):
        got = tb.max_pool_with_indices(x, kernel_size=(k,), **kw)
        want = ref.max_pool_with_indices(x, kernel_size=(k,), **kw)
        assert got[0].tobytes() == want[0].tobytes() and (got[1] == want[1]).all()
    # several NaNs: torch reports the last one (the reference the first) -> "other"
    x = np.array([[[1.0, np.nan, 2.0, np.nan]]], dtype=np.float32)
    _, idx = tb.max_pool_with_indices(x, kernel_size=(4,), **kw)
    assert int(idx[0, 0, 0]) == 3
    # a window entirely in padding: -inf, as the reference; its index is Unsupported
    x = np.array([[[5.0]]], dtype=np.float32)
    ew = {
        "kernel_size": (2,),
        "stride": (1,),
        "padding": ((1, 1),),
        "dilation": (2,),
        "ceil_mode": False,
        "layout": "channels_first",
    }
    assert tb.max_pool(x, **ew).tobytes() == ref.max_pool(x, **ew).tobytes()
    xi = np.array([[[5]]], dtype=np.int32)
    assert tb.max_pool(xi, **ew).tobytes() == ref.max_pool(xi, **ew).tobytes()
    with pytest.raises(Unsupported, match=r"POOL-EMPTY-1"):
        tb.max_pool_with_indices(x, **ew)
    # Lp gradient at a zero norm is 0
    x = np.zeros((1, 1, 4), dtype=np.float64)
    lp = {
        "kernel_size": (2,),
        "p": 2,
        "stride": (2,),
        "padding": ((0, 0),),
        "dilation": (1,),
        "ceil_mode": False,
        "layout": "channels_first",
    }
    g = tb.lp_pool_grad(x, np.ones((1, 1, 2)), **lp)
    assert (g == 0).all() and (g == ref.lp_pool_grad(x, np.ones((1, 1, 2)), **lp)).all()
    # ... but with an infinite input torch's gradient is finite where the reference
    # gives NaN: the LpZeroNorm behaviour as a whole is "other"
    x = np.array([[[1.0, -np.inf, 2.0, 3.0]]])
    g = tb.lp_pool_grad(x, np.ones((1, 1, 2)), **lp)
    assert np.isnan(ref.lp_pool_grad(x, np.ones((1, 1, 2)), **lp)[0, 0, 0])
    assert not np.isnan(g[0, 0, 0])


def test_nan_propagates_in_every_max_path() -> None:
    rng = np.random.default_rng(7)
    for layout, shape in (
        ("channels_first", (1, 2, 4, 5)),
        ("channels_last", (1, 4, 5, 3)),
        ("channels_first", (2, 2, 7)),
        ("channels_last", (1, 3, 3, 3, 2)),
    ):
        x = rng.standard_normal(shape).astype(np.float32)
        x.flat[rng.integers(0, x.size, 3)] = np.nan
        rank = x.ndim - 2
        kw = {
            "kernel_size": (2,) * rank,
            "stride": (1,) * rank,
            "padding": ((1, 1),) * rank,
            "dilation": (1,) * rank,
            "ceil_mode": True,
            "layout": layout,
        }
        assert compare(tb.max_pool(x, **kw), ref.max_pool(x, **kw), 0).ok
        ao = {"output_size": (2,) * rank, "layout": layout}
        assert compare(tb.adaptive_max_pool(x, **ao), ref.adaptive_max_pool(x, **ao), 0).ok
