"""numpy-im2col and numpy-strided against the reference, within the tolerance budgets.

Seeded random small configurations over every op x rank 1-3 x layout x padding
kind x ceil mode x count_include_pad x divisor_override x dtype, with special
values (NaN, +-inf, -0.0, subnormals) and ties mixed in. Max-family outputs and
indices must be bit-exact; sums within ``tolerance.budgets`` at ``tolerance.scales``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.conformance.backend import load_backend
from poolconf.reference import dtypes as dt
from poolconf.reference import tolerance as tol

BACKENDS = ["numpy-im2col", "numpy-strided"]
N_CONFIGS = 40  # per (backend, op group); each is seeded by its index


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Any:
    return load_backend(request.param)


def _values(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: str, special: bool
) -> np.ndarray:
    """Small integers (many ties) or normals, with special values mixed in."""
    if dt.is_float(dtype):
        if rng.random() < 0.5:
            v = rng.integers(-3, 4, size=shape).astype(np.float64)
        else:
            v = rng.standard_normal(shape) * 2.0 ** float(rng.integers(-4, 5))
        if special:
            pool = [np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324 if dtype == "float64" else 1e-40]
            mask = rng.random(shape) < 0.15
            v[mask] = rng.choice(pool, size=int(mask.sum()))
        return v.astype(dt.numpy_dtype(dtype))
    info = np.iinfo(dt.numpy_dtype(dtype))
    v = rng.integers(max(info.min, -4), min(info.max, 4) + 1, size=shape)
    if special:
        v.ravel()[rng.integers(0, v.size)] = info.min
    return v.astype(dt.numpy_dtype(dtype))


def _layout_shape(n: int, c: int, spatial: tuple[int, ...], layout: str) -> tuple[int, ...]:
    return (n, *spatial, c) if layout == "channels_last" else (n, c, *spatial)


def _pool_params(rng: np.random.Generator, rank: int) -> tuple[tuple[int, ...], dict[str, Any]]:
    """A valid (spatial shape, window params) draw; padding of every kind."""
    while True:
        k = tuple(int(v) for v in rng.integers(1, 4, size=rank))
        s = tuple(int(v) for v in rng.integers(1, 4, size=rank))
        d = tuple(int(v) for v in rng.integers(1, 3, size=rank))
        spatial = tuple(int(v) for v in rng.integers(1, 7 if rank < 3 else 5, size=rank))
        kind = rng.integers(0, 4)
        if kind == 0:
            padding: Any = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(rank, 2)))
        elif kind == 1:
            padding = "valid"
        else:
            padding = "same_upper" if kind == 2 else "same_lower"
        params = {
            "kernel_size": k,
            "stride": s,
            "padding": padding,
            "dilation": d,
            "ceil_mode": bool(rng.random() < 0.5),
            "layout": str(rng.choice(["channels_first", "channels_last"])),
        }
        try:
            ref.geometry.pool_geometry(spatial, k, s, padding, d, params["ceil_mode"])
        except SpecError:
            continue
        return spatial, params


def _compare(got: Any, expected: np.ndarray, ulps: int, scale: Any, what: str) -> float:
    __tracebackhide__ = True
    c = tol.compare(got, expected, ulps, scale)
    if not c.ok:
        m = c.mismatches[:3]
        pytest.fail(
            f"{what}: shape_ok={c.shape_ok} dtype_ok={c.dtype_ok} max_ulp={c.max_ulp_error} "
            f"budget={ulps} first mismatches={m}"
        )
    return c.max_ulp_error


def _call(backend: Any, op: str, *args: Any, **kw: Any) -> Any:
    return backend.call(op, *args, **kw)


def _check_forward_and_grad(
    backend: Any, op: str, x: np.ndarray, params: dict[str, Any], rng: np.random.Generator
) -> None:
    inputs = {"x": x}
    what = f"{backend.name} {op}(x{x.shape} {x.dtype}, {params})"
    budgets = tol.budgets(op, inputs, params)
    scales = tol.scales(op, inputs, params)
    expected = getattr(ref, op)(x, **params)
    x_before = x.copy()
    got = _call(backend, op, x, **params)
    _compare(got, expected, budgets["output"].ulps, scales.get("output"), what)
    assert np.array_equal(x, x_before, equal_nan=dt.is_float(dt.dtype_name(x.dtype))), (
        f"{what} modified x"
    )
    if op == "max_pool":
        ev, ei = ref.max_pool_with_indices(x, **params)
        gv, gi = _call(backend, "max_pool_with_indices", x, **params)
        _compare(gv, ev, 0, None, what + " with_indices values")
        _compare(gi, ei, 0, None, what + " indices")
    grad_op = f"{op}_grad"
    if not hasattr(ref, grad_op) or not dt.is_float(dt.dtype_name(x.dtype)):
        return
    g = _values(rng, expected.shape, dt.dtype_name(x.dtype), special=rng.random() < 0.2)
    policies = ["first", "all"] if "max" in op else [None]
    for policy in policies:
        gp = {} if policy is None else {"tie_policy": policy}
        gin = {"x": x, "grad_output": g}
        budget = tol.budgets(op, gin, params)["grad_input"].ulps
        scale = tol.scales(op, gin, params, gp).get("grad_input")
        exp_g = getattr(ref, grad_op)(x, g, **params, **gp)
        got_g = _call(backend, grad_op, x, g, **params, **gp)
        _compare(got_g, exp_g, budget, scale, f"{what} {grad_op}{gp}")


DTYPES_FLOAT = ["float32", "float64", "float16", "bfloat16"]


@pytest.mark.parametrize("seed", range(N_CONFIGS))
@pytest.mark.parametrize("op", ["max_pool", "avg_pool", "lp_pool"])
def test_windowed(backend: Any, op: str, seed: int) -> None:
    rng = np.random.default_rng([seed, ["max_pool", "avg_pool", "lp_pool"].index(op)])
    rank = 1 + seed % 3
    spatial, params = _pool_params(rng, rank)
    dtypes = DTYPES_FLOAT + (["int8", "uint8", "int32", "int64"] if op == "max_pool" else [])
    dtype = dtypes[seed % len(dtypes)]
    if op == "avg_pool":
        params["count_include_pad"] = bool(rng.random() < 0.5)
        params["divisor_override"] = None if rng.random() < 0.7 else int(rng.integers(1, 5))
    if op == "lp_pool":
        params["p"] = int(rng.choice([1, 2, 3, 4]))
    x = _values(rng, _layout_shape(2, 2, spatial, params["layout"]), dtype, special=seed % 2 == 1)
    _check_forward_and_grad(backend, op, x, params, rng)


@pytest.mark.parametrize("seed", range(N_CONFIGS))
@pytest.mark.parametrize("op", ["adaptive_max_pool", "adaptive_avg_pool"])
def test_adaptive(backend: Any, op: str, seed: int) -> None:
    rng = np.random.default_rng([seed, 10 + (op == "adaptive_avg_pool")])
    rank = 1 + seed % 3
    spatial = tuple(int(v) for v in rng.integers(1, 7 if rank < 3 else 5, size=rank))
    out = tuple(int(v) for v in rng.integers(1, 7, size=rank))  # also larger than the input
    layout = ["channels_first", "channels_last"][seed // 3 % 2]
    dtype = DTYPES_FLOAT[seed % 4] if op.endswith("avg_pool") or seed % 5 else "int16"
    x = _values(rng, _layout_shape(2, 2, spatial, layout), dtype, special=seed % 2 == 1)
    _check_forward_and_grad(backend, op, x, {"output_size": out, "layout": layout}, rng)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("op", ["global_max_pool", "global_avg_pool", "global_lp_pool"])
def test_global(backend: Any, op: str, seed: int) -> None:
    rng = np.random.default_rng([seed, 20])
    rank = 1 + seed % 3
    spatial = tuple(int(v) for v in rng.integers(1, 6, size=rank))
    layout = ["channels_first", "channels_last"][seed % 2]
    params: dict[str, Any] = {"layout": layout}
    if op == "global_lp_pool":
        params["p"] = 1 + seed % 3
    dtype = DTYPES_FLOAT[seed % 4] if op != "global_max_pool" or seed < 4 else "uint16"
    x = _values(rng, _layout_shape(2, 3, spatial, layout), dtype, special=seed % 2 == 0)
    _check_forward_and_grad(backend, op, x, params, rng)


def test_zero_tie_sign(backend: Any) -> None:
    """-0.0 and +0.0 tie; the first in row-major window order is kept, bit for bit [POOL-MAX-5]."""
    for first in (-0.0, 0.0):
        x = np.full((1, 1, 4, 4), -first, np.float32)
        x[0, 0, 0, 0] = first
        x[0, 0, 2, 3] = first
        got = backend.call(
            "max_pool", x, kernel_size=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0))
        )
        _compare(got, ref.max_pool(x, kernel_size=(2, 2)), 0, None, "zero tie")
        got = backend.call("global_max_pool", x)
        _compare(got, ref.global_max_pool(x), 0, None, "global zero tie")


def test_empty_window(backend: Any) -> None:
    """A window entirely in padding: -inf / dtype min with index -1, NaN average [POOL-EMPTY-1]."""
    for dtype in ("float32", "int8"):
        x = np.full((1, 1, 2), -np.inf if dtype == "float32" else -128, dt.numpy_dtype(dtype))
        params = {"kernel_size": (1,), "stride": (3,), "padding": ((1, 2),)}
        ev, ei = ref.max_pool_with_indices(x, **params)
        gv, gi = backend.call("max_pool_with_indices", x, **params)
        _compare(gv, ev, 0, None, "empty values")
        _compare(gi, ei, 0, None, "empty indices")
    x = np.ones((1, 1, 2), np.float32)
    params = {"kernel_size": (1,), "stride": (3,), "padding": ((1, 2),), "count_include_pad": False}
    _compare(backend.call("avg_pool", x, **params), ref.avg_pool(x, **params), 2, None, "empty avg")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_precision_accumulates_in_float32(backend: Any, dtype: str) -> None:
    """A sum that stalls in the input's own precision must not [POOL-DTYPE-4]."""
    x = np.ones((1, 1, 16), dt.numpy_dtype(dtype))
    x[0, 0, 0] = 2048 if dtype == "float16" else 256
    for op, params in [
        ("avg_pool", {"kernel_size": (16,)}),
        ("global_avg_pool", {}),
        ("adaptive_avg_pool", {"output_size": (1,)}),
    ]:
        budget = tol.budgets(op, {"x": x}, params)["output"].ulps
        _compare(
            backend.call(op, x, **params),
            getattr(ref, op)(x, **params),
            budget,
            None,
            f"{op} {dtype}",
        )
    g = np.ones((1, 1, 1), dt.numpy_dtype(dtype))
    params = {"kernel_size": (1,), "stride": (1,)}
    x1 = np.zeros((1, 1, 1), dt.numpy_dtype(dtype))
    _compare(
        backend.call("avg_pool_grad", x1, g, **params),
        ref.avg_pool_grad(x1, g, **params),
        0,
        None,
        "grad",
    )


@pytest.mark.parametrize("seed", range(8))
def test_unpool_and_pad(backend: Any, seed: int) -> None:
    rng = np.random.default_rng([seed, 30])
    rank = 1 + seed % 3
    layout = ["channels_first", "channels_last"][seed % 2]
    dtype = ["float32", "int32", "bfloat16", "uint8"][seed % 4]
    spatial = tuple(int(v) for v in rng.integers(1, 5, size=rank))
    x = _values(rng, _layout_shape(2, 2, spatial, layout), dtype, special=True)
    pad = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(rank, 2)))
    _compare(
        backend.call("zero_pad", x, padding=pad, layout=layout),
        ref.zero_pad(x, padding=pad, layout=layout),
        0,
        None,
        "zero_pad",
    )
    k = tuple(int(v) for v in rng.integers(1, 3, size=rank))
    out_spatial = tuple(a * b for a, b in zip(spatial, k))
    size = math.prod(out_spatial)
    idx = rng.integers(0, size, size=x.shape).astype(np.int64)  # repeats: last one wins
    params = {
        "kernel_size": k,
        "stride": k,
        "padding": 0,
        "output_size": out_spatial,
        "layout": layout,
    }
    _compare(
        backend.call("max_unpool", x, idx, **params),
        ref.max_unpool(x, idx, **params),
        0,
        None,
        "unpool",
    )
    idx.ravel()[0] = size
    with pytest.raises(SpecError):
        backend.call("max_unpool", x, idx, **params)


@pytest.mark.parametrize("seed", range(8))
def test_conv(backend: Any, seed: int) -> None:
    rng = np.random.default_rng([seed, 40])
    rank = 1 + seed % 3
    layout = ["channels_first", "channels_last"][seed // 2 % 2]
    dtype = DTYPES_FLOAT[seed % 4]
    groups = 1 + seed % 2
    c_in, c_out = 2 * groups, 2 * groups
    while True:
        k = tuple(int(v) for v in rng.integers(1, 3 if rank == 3 else 4, size=rank))
        spatial = tuple(int(v) for v in rng.integers(2, 5, size=rank))
        params: dict[str, Any] = {
            "stride": tuple(int(v) for v in rng.integers(1, 3, size=rank)),
            "padding": [
                "same_upper",
                "valid",
                tuple((int(a), int(b)) for a, b in rng.integers(0, 2, size=(rank, 2))),
            ][seed % 3],
            "dilation": tuple(int(v) for v in rng.integers(1, 3, size=rank)),
            "groups": groups,
            "layout": layout,
        }
        try:
            ref.geometry.pool_geometry(
                spatial, k, params["stride"], params["padding"], params["dilation"], False
            )
            break
        except SpecError:
            continue
    x = _values(rng, _layout_shape(1 + seed % 2, c_in, spatial, layout), dtype, special=seed == 5)
    w = _values(rng, (c_out, c_in // groups, *k), dtype, special=seed == 7)
    b = _values(rng, (c_out,), dtype, special=False) if seed % 3 else None
    inputs = {"x": x, "weight": w, "bias": b}
    expected = ref.conv(x, w, b, **params)
    g = _values(rng, expected.shape, dtype, special=False)
    budgets = tol.budgets("conv", inputs, params)
    scales = tol.scales("conv", {**inputs, "grad_output": g}, params)
    what = f"{backend.name} conv(x{x.shape} {dtype}, w{w.shape}, bias={b is not None}, {params})"
    _compare(
        backend.call("conv", x, w, b, **params),
        expected,
        budgets["output"].ulps,
        scales["output"],
        what,
    )
    egx, egw, egb = ref.conv_grad(x, w, b, g, **params)
    gx, gw, gb = backend.call("conv_grad", x, w, b, g, **params)
    _compare(gx, egx, budgets["grad_input"].ulps, scales["grad_input"], what + " grad_input")
    _compare(gw, egw, budgets["grad_weight"].ulps, scales["grad_weight"], what + " grad_weight")
    if b is None:
        assert gb is None
    else:
        _compare(gb, egb, budgets["grad_bias"].ulps, scales["grad_bias"], what + " grad_bias")


@pytest.mark.parametrize(
    "op,kwargs",
    [
        ("max_pool", {"kernel_size": (0, 2)}),
        ("max_pool", {"kernel_size": (2, 2), "stride": (1, 0)}),
        ("avg_pool", {"kernel_size": (2, 2), "divisor_override": 0}),
        ("lp_pool", {"kernel_size": (2, 2), "p": 0}),
        ("max_pool", {"kernel_size": (9, 9)}),
        ("max_pool", {"kernel_size": (2, 2), "ceil_mode": 1}),
        ("adaptive_avg_pool", {"output_size": (0, 2)}),
    ],
    ids=["kernel0", "stride0", "divisor0", "p0", "too-big", "ceil-int", "adaptive0"],
)
def test_invalid_raises(backend: Any, op: str, kwargs: dict[str, Any]) -> None:
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(SpecError):
        backend.call(op, x, **kwargs)


def test_declarations(backend: Any) -> None:
    assert backend.declarations == {
        "tie_policy": "first",
        "empty_window": "reference",
        "nan_index": "first",
        "zero_tie": "first",
        "lp_zero_grad": "zero",
        "padding_limit": "any",
        "subnormals": "preserve",
        "accumulator": "exact",
    }
    assert set(backend.ops) == set(ref.FORWARD_OPS + ref.GRAD_OPS)


def test_conv_nonfinite_weight_skips_padding(backend: Any) -> None:
    """Padding taps take no part in a convolution, even against an infinite weight or
    upstream value (0 * inf would make NaN) [POOL-CONV-1, POOL-GRAD-5]."""
    x = np.arange(1.0, 5.0, dtype=np.float32).reshape(1, 1, 4)
    w = np.array([[[np.inf, 1.0, 2.0]]], np.float32)
    params = {"stride": (1,), "padding": ((1, 1),)}
    expected = ref.conv(x, w, None, **params)
    _compare(backend.call("conv", x, w, None, **params), expected, 0, None, "conv inf weight")
    g = np.array([[[np.inf, 1.0, 1.0, 1.0]]], np.float32)
    w = np.ones((1, 1, 3), np.float32)
    for got, exp in zip(
        backend.call("conv_grad", x, w, None, g, **params)[:2],
        ref.conv_grad(x, w, None, g, **params)[:2],
    ):
        _compare(got, exp, 4, None, "conv_grad inf upstream")


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_extreme_magnitudes(backend: Any, p: int) -> None:
    """|x|**p must neither overflow nor underflow on the way [POOL-LP-1]."""
    big = np.finfo(np.float64).max
    x = np.array([[[big, big / 4, 5e-324, 1e-300]]], np.float64)
    for op, params in [("lp_pool", {"kernel_size": (2,), "p": p}), ("global_lp_pool", {"p": p})]:
        budget = tol.budgets(op, {"x": x}, params)["output"].ulps
        _compare(
            backend.call(op, x, **params),
            getattr(ref, op)(x, **params),
            budget,
            None,
            f"{op} p={p}",
        )
