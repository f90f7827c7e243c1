"""Behaviours of every reference op on tiny hand-checked inputs (clause ids in each test)."""

from __future__ import annotations

import decimal
import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.reference import dtypes as dt
from poolconf.reference import roots

NAN, INF = math.nan, math.inf


def a1(*values: float, dtype: object = np.float64) -> np.ndarray:
    """A (1, 1, L) array."""
    return np.array(values, dtype=dtype).reshape(1, 1, -1)


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
    return bool(np.all((a.view(f"u{a.itemsize}") == b.view(f"u{b.itemsize}")) | nan))


# ---------------------------------------------------------------------------
# max [POOL-MAX-*]
# ---------------------------------------------------------------------------


def test_max_excludes_padding() -> None:
    """All-negative input with padding: padding is not a 0 (or any value) in the max."""
    out, idx = ref.max_pool_with_indices(a1(-5.0, -3.0, -4.0), kernel_size=3, stride=1, padding=1)
    np.testing.assert_array_equal(out.ravel(), [-3.0, -3.0, -3.0])
    np.testing.assert_array_equal(idx.ravel(), [1, 1, 1])


def test_max_nan_propagates_first_nan_selected() -> None:
    out, idx = ref.max_pool_with_indices(a1(1.0, NAN, 3.0, NAN, 2.0), kernel_size=4, stride=1)
    assert np.isnan(out).all()
    np.testing.assert_array_equal(idx.ravel(), [1, 1])


def test_max_infinities_are_ordinary() -> None:
    out, idx = ref.max_pool_with_indices(a1(-INF, -INF, INF, 1.0), kernel_size=2)
    np.testing.assert_array_equal(out.ravel(), [-INF, INF])
    np.testing.assert_array_equal(idx.ravel(), [0, 2])


def test_max_signed_zero_tie_selects_first() -> None:
    out, idx = ref.max_pool_with_indices(a1(-0.0, 0.0, 0.0, -0.0), kernel_size=2)
    assert math.copysign(1, out.ravel()[0]) == -1 and math.copysign(1, out.ravel()[1]) == 1
    np.testing.assert_array_equal(idx.ravel(), [0, 2])


def test_max_ties_first_in_row_major_window_order() -> None:
    x = np.array([[7, 1], [7, 7]], dtype=np.float64).reshape(1, 1, 2, 2)
    _, idx = ref.max_pool_with_indices(x, kernel_size=2)
    assert idx.item() == 0
    x = np.array([[1, 7], [7, 1]], dtype=np.float64).reshape(1, 1, 2, 2)
    _, idx = ref.max_pool_with_indices(x, kernel_size=2)
    assert idx.item() == 1


def test_max_grad_tie_policies() -> None:
    x = a1(2.0, 2.0, 1.0, 2.0)
    g = a1(3.0, 5.0)
    first = ref.max_pool_grad(x, g, kernel_size=2, tie_policy="first")
    every = ref.max_pool_grad(x, g, kernel_size=2, tie_policy="all")
    np.testing.assert_array_equal(first.ravel(), [3.0, 0.0, 0.0, 5.0])
    np.testing.assert_array_equal(every.ravel(), [3.0, 3.0, 0.0, 5.0])
    with pytest.raises(SpecError):
        ref.max_pool_grad(x, g, kernel_size=2, tie_policy="last")


def test_max_grad_overlaps_accumulate() -> None:
    """[POOL-GRAD-3]: element 1 is the max of both windows."""
    grad = ref.max_pool_grad(a1(0.0, 9.0, 1.0), a1(0.25, 0.5), kernel_size=2, stride=1)
    np.testing.assert_array_equal(grad.ravel(), [0.0, 0.75, 0.0])


def test_max_dilation_taps() -> None:
    out, idx = ref.max_pool_with_indices(
        a1(5.0, 9.0, 1.0, 9.0, 2.0), kernel_size=2, stride=1, dilation=2
    )
    # windows {0,2}, {1,3}, {2,4}
    np.testing.assert_array_equal(out.ravel(), [5.0, 9.0, 2.0])
    np.testing.assert_array_equal(idx.ravel(), [0, 1, 4])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
def test_max_integer_dtypes(dtype: str) -> None:
    """[POOL-MAX-6]: exact, padding excluded (not 0), empty windows give the dtype minimum."""
    info = np.iinfo(dtype)
    x = a1(info.min, info.min + 1, info.max, dtype=dtype)
    out = ref.max_pool(x, kernel_size=2, stride=1, padding=1)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.ravel(), [info.min, info.min + 1, info.max, info.max])
    out = ref.max_pool(a1(3, dtype=dtype), kernel_size=1, stride=1, padding=1)
    np.testing.assert_array_equal(out.ravel(), [info.min, 3, info.min])


def test_max_int64_beyond_float64_precision() -> None:
    big = 2**60
    out, idx = ref.max_pool_with_indices(a1(big, big + 1, big, dtype=np.int64), kernel_size=3)
    assert out.item() == big + 1 and idx.item() == 1
    assert (
        ref.max_pool(a1(2**64 - 1, 2**64 - 2, dtype=np.uint64), kernel_size=2).item() == 2**64 - 1
    )


def test_integer_dtypes_rejected_by_sum_ops() -> None:
    x = a1(1, 2, dtype=np.int32)
    for fn in (ref.avg_pool, ref.lp_pool):
        with pytest.raises(SpecError, match=r"POOL-DTYPE-1"):
            fn(x, kernel_size=2)


# ---------------------------------------------------------------------------
# windows entirely in padding [POOL-EMPTY-1]
# ---------------------------------------------------------------------------


def test_empty_windows() -> None:
    x = a1(4.0)  # L=1, k=1, padding 1: windows at -1, 0, 1
    out, idx = ref.max_pool_with_indices(x, kernel_size=1, stride=1, padding=1)
    np.testing.assert_array_equal(out.ravel(), [-INF, 4.0, -INF])
    np.testing.assert_array_equal(idx.ravel(), [-1, 0, -1])
    incl = ref.avg_pool(x, kernel_size=1, stride=1, padding=1, count_include_pad=True)
    np.testing.assert_array_equal(incl.ravel(), [0.0, 4.0, 0.0])
    excl = ref.avg_pool(x, kernel_size=1, stride=1, padding=1, count_include_pad=False)
    assert np.isnan(excl.ravel()[0]) and excl.ravel()[1] == 4.0 and np.isnan(excl.ravel()[2])
    np.testing.assert_array_equal(
        ref.lp_pool(x, kernel_size=1, stride=1, padding=1).ravel(), [0, 4, 0]
    )
    # gradients: empty windows route nothing
    g = a1(1.0, 2.0, 3.0)
    assert ref.max_pool_grad(x, g, kernel_size=1, stride=1, padding=1).item() == 2.0
    kw = {"kernel_size": 1, "stride": 1, "padding": 1, "count_include_pad": False}
    assert ref.avg_pool_grad(x, g, **kw).item() == 2.0


# ---------------------------------------------------------------------------
# average [POOL-AVG-*]
# ---------------------------------------------------------------------------


def test_avg_divisors_with_ceil_overhang() -> None:
    """L=6, k=3, s=2, p=1, ceil: windows start at -1, 1, 3, 5; the last has taps 5 (input),
    6 (end padding, inside the extent [-1, 7)) and 7 (overhang, never counted)."""
    x = a1(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    kw = {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}
    incl = ref.avg_pool(x, **kw)
    excl = ref.avg_pool(x, **kw, count_include_pad=False)
    over = ref.avg_pool(x, **kw, divisor_override=4)
    np.testing.assert_array_equal(incl.ravel(), [3 / 3, 9 / 3, 15 / 3, 6 / 2])
    np.testing.assert_array_equal(excl.ravel(), [3 / 2, 9 / 3, 15 / 3, 6 / 1])
    np.testing.assert_array_equal(over.ravel(), [3 / 4, 9 / 4, 15 / 4, 6 / 4])


def test_avg_dilation_counts_taps_only() -> None:
    """[POOL-AVG-5]: k=2, d=3, padding 1: window -1 has taps -1 (pad) and 2."""
    x = a1(1.0, 2.0, 4.0, 8.0)
    incl = ref.avg_pool(x, kernel_size=2, stride=1, dilation=3, padding=1)
    excl = ref.avg_pool(x, kernel_size=2, stride=1, dilation=3, padding=1, count_include_pad=False)
    # windows: {-1,2}, {0,3}, {1,4}
    np.testing.assert_array_equal(incl.ravel(), [2.0, 4.5, 1.0])
    np.testing.assert_array_equal(excl.ravel(), [4.0, 4.5, 2.0])


def test_avg_is_exact_then_rounded_once() -> None:
    """(1 + 2**-53 + 2**-53) / 1 in float64: naive left-to-right gives 1.0, exact gives 1 + 2**-52."""
    x = a1(1.0, 2.0**-53, 2.0**-53)
    out = ref.avg_pool(x, kernel_size=3, divisor_override=1)
    assert out.item() == 1 + 2.0**-52
    # a mean of 3 thirds: 0.1 + 0.2 + 0.3 averaged is the rounding of the exact mean
    v = [0.1, 0.2, 0.3]
    assert ref.avg_pool(a1(*v), kernel_size=3).item() == float(sum(map(Fraction, v)) / 3)


def test_avg_special_values() -> None:
    """[POOL-AVG-6]."""
    out = ref.avg_pool(a1(INF, 1.0, INF, -INF, NAN, 1.0), kernel_size=2)
    assert out.ravel()[0] == INF and np.isnan(out.ravel()[1]) and np.isnan(out.ravel()[2])


def test_avg_bad_arguments() -> None:
    x = a1(1.0, 2.0)
    with pytest.raises(
        SpecError, match=r"divisor_override=0 must be an integer >= 1 \[POOL-AVG-2\]"
    ):
        ref.avg_pool(x, kernel_size=2, divisor_override=0)
    with pytest.raises(SpecError, match=r"count_include_pad=1 must be a bool \[POOL-PARAM-6\]"):
        ref.avg_pool(x, kernel_size=2, count_include_pad=1)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_output_dtype_is_input_dtype(dtype: str) -> None:
    x = np.arange(8, dtype=np.float64).reshape(1, 1, 8).astype(dt.numpy_dtype(dtype))
    for fn in (ref.max_pool, ref.avg_pool, ref.lp_pool):
        assert fn(x, kernel_size=2).dtype == x.dtype
    assert ref.global_avg_pool(x).dtype == x.dtype


def test_bfloat16_average_rounds_once() -> None:
    """(1 + (1 + 2**-7)) / 2 = 1 + 2**-8 is a bfloat16 tie: ties to even gives 1.0."""
    x = np.array([1.0, 1 + 2.0**-7], dtype=ml_dtypes.bfloat16).reshape(1, 1, 2)
    assert float(ref.avg_pool(x, kernel_size=2).item()) == 1.0
    x = np.array([1.0 + 2.0**-7, 1 + 2.0**-6], dtype=ml_dtypes.bfloat16).reshape(1, 1, 2)
    assert float(ref.avg_pool(x, kernel_size=2).item()) == 1 + 2.0**-6  # tie to even, upward


# ---------------------------------------------------------------------------
# Lp [POOL-LP-*]
# ---------------------------------------------------------------------------


def _assert_correctly_rounded_root(r: float, s: Fraction, p: int, dtype: str) -> None:
    """``r`` is the nearest ``dtype`` value to ``s ** (1/p)``: the root lies within half an
    ulp of r (checked exactly by raising the bracket ends to the power p)."""
    half = Fraction(dt.ulp(r, dtype)) / 2
    lo, hi = Fraction(r) - half, Fraction(r) + half
    assert lo**p <= s <= hi**p, (r, s, p)


def test_lp_exact_cases() -> None:
    assert ref.lp_pool(a1(3.0, 4.0), kernel_size=2).item() == 5.0
    assert ref.lp_pool(a1(-3.0, -4.0), kernel_size=2).item() == 5.0
    assert ref.lp_pool(a1(3.0, 4.0, 5.0), kernel_size=3, p=3).item() == 6.0
    assert ref.lp_pool(a1(-1.0, 2.0), kernel_size=2, p=1).item() == 3.0  # |x| summed
    assert ref.lp_pool(a1(0.0, 0.0), kernel_size=2).item() == 0.0
    assert ref.global_lp_pool(a1(3.0, -4.0), p=2).item() == 5.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_lp_sqrt2_correctly_rounded(dtype: str) -> None:
    x = np.ones((1, 1, 2), dtype=dt.numpy_dtype(dtype))
    got = float(ref.lp_pool(x, kernel_size=2).item())
    if dtype != "bfloat16":  # IEEE sqrt is correctly rounded
        assert got == float(np.sqrt(np.array(2.0, dtype=dt.numpy_dtype(dtype))))
    _assert_correctly_rounded_root(got, Fraction(2), 2, dtype)


def test_lp_random_roots_correctly_rounded() -> None:
    rng = np.random.default_rng(11)
    for p in (1, 2, 3, 4, 7):
        x = rng.standard_normal((1, 1, 5))
        r = ref.lp_pool(x, kernel_size=5, p=p).item()
        s = sum(abs(Fraction(v)) ** p for v in x.ravel().tolist())
        _assert_correctly_rounded_root(r, s, p, "float64")


def test_lp_bad_p() -> None:
    for p in (0, 1.5, -2):
        with pytest.raises(SpecError, match=r"POOL-LP-2"):
            ref.lp_pool(a1(1.0), kernel_size=1, p=p)


def test_lp_grad_euler_identity_and_zero_norm() -> None:
    """Lp is positively homogeneous of degree 1, so sum_i x_i * dy/dx_i = y per window
    [POOL-GRAD-4]; a zero norm gives a zero gradient [POOL-GRAD-8]."""
    x = a1(3.0, -4.0, 0.0, 0.0)
    g = a1(1.0, 1.0)
    grad = ref.lp_pool_grad(x, g, kernel_size=2)
    np.testing.assert_array_equal(grad.ravel(), [0.6, -0.8, 0.0, 0.0])
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 6))
    grad = ref.lp_pool_grad(x, np.ones((1, 1, 2)), kernel_size=3, p=3)
    y = ref.lp_pool(x, kernel_size=3, p=3)
    for w in range(2):
        lhs = math.fsum((x.ravel() * grad.ravel())[3 * w : 3 * w + 3].tolist())
        assert lhs == pytest.approx(y.ravel()[w], rel=1e-14)


# ---------------------------------------------------------------------------
# adaptive and global [POOL-ADAPT-1, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def test_adaptive_overlapping_windows() -> None:
    x = a1(1.0, 2.0, 3.0, 4.0, 5.0)  # windows [0,2), [1,4), [3,5)
    np.testing.assert_array_equal(ref.adaptive_max_pool(x, output_size=3).ravel(), [2, 4, 5])
    np.testing.assert_array_equal(ref.adaptive_avg_pool(x, output_size=3).ravel(), [1.5, 3, 4.5])
    g = a1(6.0, 6.0, 6.0)
    np.testing.assert_array_equal(
        ref.adaptive_avg_pool_grad(x, g, output_size=3).ravel(), [3, 3 + 2, 2, 2 + 3, 3]
    )
    np.testing.assert_array_equal(
        ref.adaptive_max_pool_grad(x, g, output_size=3).ravel(), [0, 6, 0, 6, 6]
    )


def test_adaptive_upsampling_and_errors() -> None:
    x = a1(1.0, 2.0)
    np.testing.assert_array_equal(ref.adaptive_avg_pool(x, output_size=3).ravel(), [1, 1.5, 2])
    with pytest.raises(SpecError, match=r"output_size\[0\]=0 must be >= 1 \[POOL-ADAPT-2\]"):
        ref.adaptive_max_pool(x, output_size=0)


def test_global_ops_keep_spatial_dims() -> None:
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)
    assert ref.global_max_pool(x).shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(ref.global_max_pool(x).ravel(), x.reshape(6, 4).max(axis=1))
    np.testing.assert_array_equal(ref.global_avg_pool(x).ravel(), x.reshape(6, 4).mean(axis=1))
    xl = np.moveaxis(x, 1, -1)
    assert ref.global_avg_pool(xl, layout="channels_last").shape == (2, 1, 1, 3)


# ---------------------------------------------------------------------------
# unpooling [POOL-UNPOOL-*]
# ---------------------------------------------------------------------------


def test_unpool_roundtrip_and_default_size() -> None:
    x = np.array([[1, 5, 2, 0], [3, 4, 8, 7]], dtype=np.float64).reshape(1, 1, 2, 4)
    v, i = ref.max_pool_with_indices(x, kernel_size=2)
    up = ref.max_unpool(v, i, kernel_size=2)
    want = np.array([[0, 5, 0, 0], [0, 0, 8, 0]], dtype=np.float64).reshape(1, 1, 2, 4)
    np.testing.assert_array_equal(up, want)
    assert ref.max_unpool(v, i, kernel_size=2, output_size=[3, 5]).shape == (1, 1, 3, 5)


def test_unpool_repeated_index_keeps_last() -> None:
    up = ref.max_unpool(a1(1.0, 2.0), a1(1, 1, dtype=np.int64), kernel_size=2)
    np.testing.assert_array_equal(up.ravel(), [0.0, 2.0, 0.0, 0.0])


def test_unpool_errors() -> None:
    v = a1(1.0, 2.0)
    with pytest.raises(SpecError, match=r"indices value 4 is outside .* \[POOL-UNPOOL-3\]"):
        ref.max_unpool(v, a1(0, 4, dtype=np.int64), kernel_size=2)
    with pytest.raises(SpecError, match=r"indices value -1 .*POOL-UNPOOL-3"):
        ref.max_unpool(v, a1(-1, 1, dtype=np.int64), kernel_size=2)
    with pytest.raises(SpecError, match=r"indices.shape=.*POOL-UNPOOL-3"):
        ref.max_unpool(v, a1(0, dtype=np.int64), kernel_size=2)
    with pytest.raises(SpecError, match=r"indices.dtype='float64'.*POOL-UNPOOL-3"):
        ref.max_unpool(v, a1(0.0, 1.0), kernel_size=2)
    with pytest.raises(SpecError, match=r"POOL-UNPOOL-1"):
        ref.max_unpool(v, a1(0, 1, dtype=np.int64), kernel_size=1, padding=1)


# ---------------------------------------------------------------------------
# zero padding and convolution [POOL-PAD-1, POOL-CONV-*]
# ---------------------------------------------------------------------------


def test_zero_pad_asymmetric() -> None:
    x = np.arange(1, 5, dtype=np.int16).reshape(1, 1, 2, 2)
    out = ref.zero_pad(x, padding=[(1, 0), (0, 2)])
    want = np.array([[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]], dtype=np.int16)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out[0, 0], want)


def _conv_direct(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, s: int, p: int, d: int, groups: int
) -> np.ndarray:
    """Straightforward 2D cross-correlation on small integer data (exact in float64)."""
    n, _c_in, h, wd = x.shape
    c_out, cig, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh = (h + 2 * p - d * (kh - 1) - 1) // s + 1
    ow = (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    out = np.zeros((n, c_out, oh, ow))
    cog = c_out // groups
    for co in range(c_out):
        gi = co // cog
        for oy in range(oh):
            for ox in range(ow):
                patch = xp[:, gi * cig : (gi + 1) * cig, oy * s : oy * s + d * (kh - 1) + 1 : d,
                           ox * s : ox * s + d * (kw - 1) + 1 : d]  # fmt: skip
                out[:, co, oy, ox] = (patch * w[co]).sum(axis=(1, 2, 3))
        if b is not None:
            out[:, co] += b[co]
    return out


@pytest.mark.parametrize(
    ("s", "p", "d", "groups"), [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 2), (1, 1, 2, 4)]
)
def test_conv_groups_dilation(s: int, p: int, d: int, groups: int) -> None:
    rng = np.random.default_rng(s * 100 + p * 10 + d + groups)
    x = rng.integers(-3, 4, size=(2, 4, 5, 6)).astype(np.float64)
    w = rng.integers(-3, 4, size=(4, 4 // groups, 2, 3)).astype(np.float64)
    b = rng.integers(-3, 4, size=(4,)).astype(np.float64)
    got = ref.conv(x, w, b, stride=s, padding=p, dilation=d, groups=groups)
    np.testing.assert_array_equal(got, _conv_direct(x, w, b, s, p, d, groups))


def test_conv_argument_errors() -> None:
    x = np.zeros((1, 4, 3, 3))
    with pytest.raises(SpecError, match=r"groups=3 must divide C_in=4.*POOL-CONV-2"):
        ref.conv(x, np.zeros((3, 1, 1, 1)), groups=3)
    with pytest.raises(
        SpecError, match=r"weight.shape\[1\]=2 must equal C_in/groups=4.*POOL-CONV-3"
    ):
        ref.conv(x, np.zeros((2, 2, 1, 1)))
    with pytest.raises(SpecError, match=r"bias.shape=\(3,\) must be.*POOL-CONV-4"):
        ref.conv(x, np.zeros((2, 4, 1, 1)), np.zeros(3))
    with pytest.raises(SpecError, match=r"weight.dtype='float32'.*POOL-CONV-3"):
        ref.conv(x, np.zeros((2, 4, 1, 1), dtype=np.float32))


# ---------------------------------------------------------------------------
# gradients: adjoint identities [POOL-GRAD-*]
# ---------------------------------------------------------------------------


def _dot(a: np.ndarray, b: np.ndarray) -> Fraction:
    return sum(
        (Fraction(u) * Fraction(v) for u, v in zip(a.ravel().tolist(), b.ravel().tolist())),
        Fraction(0),
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3, "stride": 1, "padding": 1},
        {
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
        {"kernel_size": 2, "stride": 1, "dilation": 2, "divisor_override": 4},
        {"kernel_size": [2, 3], "stride": [1, 2], "padding": [(0, 1), (1, 1)], "ceil_mode": True},
    ],
)
def test_avg_grad_adjoint_identity_exact(kw: dict) -> None:
    """<avg_pool(x), g> = <x, avg_pool_grad(x, g)> exactly: with dyadic x and g and a
    power-of-two divisor everything is exact; otherwise compare the exact linear maps."""
    rng = np.random.default_rng(1)
    x = rng.integers(-8, 9, size=(1, 2, 5, 5)).astype(np.float64) / 4
    out = ref.avg_pool(x, **kw)
    g = rng.integers(-8, 9, size=out.shape).astype(np.float64) / 8
    grad = ref.avg_pool_grad(x, g, **kw)
    if kw.get("divisor_override") == 4:
        assert _dot(out, g) == _dot(x, grad)  # every value is exact
    else:
        # each output/gradient is rounded once: |error| <= half an ulp per element
        lhs, rhs = _dot(out, g), _dot(x, grad)
        slack = sum(Fraction(dt.ulp(v, "float64")) for v in out.ravel().tolist()) * 4
        slack += sum(Fraction(dt.ulp(v, "float64")) for v in grad.ravel().tolist()) * 4
        assert abs(lhs - rhs) <= slack


def test_max_and_conv_grad_adjoint_identities() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(-50, 50, size=(2, 2, 4, 5)).astype(np.float64)
    out = ref.max_pool(x, kernel_size=2, stride=1, padding=1)
    g = rng.integers(-4, 5, size=out.shape).astype(np.float64)
    # max is piecewise linear: <max(x), g> = <x, grad> (policy "first"; "all" double-counts ties)
    assert _dot(out, g) == _dot(x, ref.max_pool_grad(x, g, kernel_size=2, stride=1, padding=1))
    w = rng.integers(-3, 4, size=(4, 1, 2, 2)).astype(np.float64)
    y = ref.conv(x, w, stride=1, padding=1, groups=2)
    gy = rng.integers(-3, 4, size=y.shape).astype(np.float64)
    gx, gw, gb = ref.conv_grad(x, w, None, gy, stride=1, padding=1, groups=2)
    assert gb is None
    assert _dot(y, gy) == _dot(x, gx) == _dot(w, gw)
    b = np.array([1.0, -2.0, 0.5, 3.0])
    _, _, gb = ref.conv_grad(x, w, b, gy, stride=1, padding=1, groups=2)
    np.testing.assert_array_equal(gb, gy.sum(axis=(0, 2, 3)))


def test_grad_output_checks() -> None:
    x = a1(1.0, 2.0, 3.0, 4.0)
    with pytest.raises(SpecError, match=r"grad_output.shape=\(1, 1, 3\) must equal .*POOL-GRAD-7"):
        ref.avg_pool_grad(x, a1(1.0, 1.0, 1.0), kernel_size=2)
    with pytest.raises(SpecError, match=r"grad_output.dtype='float32'.*POOL-GRAD-7"):
        ref.avg_pool_grad(x, a1(1.0, 1.0, dtype=np.float32), kernel_size=2)


# ---------------------------------------------------------------------------
# layouts and argument checks [POOL-LAYOUT-1, POOL-SHAPE-1]
# ---------------------------------------------------------------------------


LAYOUT_OPS = [
    ("max_pool", {"kernel_size": [2, 3], "stride": [1, 2], "padding": 1}),
    (
        "avg_pool",
        {"kernel_size": 2, "stride": 1, "padding": "same_lower", "count_include_pad": False},
    ),
    ("lp_pool", {"kernel_size": 2, "p": 3, "ceil_mode": True}),
    ("adaptive_avg_pool", {"output_size": [2, 3]}),
    ("adaptive_max_pool", {"output_size": [3, 2]}),
    ("global_lp_pool", {"p": 2}),
    ("zero_pad", {"padding": [(1, 0), (2, 1)]}),
]


@pytest.mark.parametrize(("op", "kw"), LAYOUT_OPS, ids=[o for o, _ in LAYOUT_OPS])
def test_layouts_agree(op: str, kw: dict) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4, 5))
    fn = getattr(ref, op)
    cf = fn(x, **kw)
    cl = fn(np.moveaxis(x, 1, -1), **kw, layout="channels_last")
    assert _bits_equal(np.moveaxis(cf, 1, -1), cl)
    grad_fn = getattr(ref, f"{op}_grad", None)
    if grad_fn is not None:
        g = rng.standard_normal(cf.shape)
        gcf = grad_fn(x, g, **kw)
        gcl = grad_fn(np.moveaxis(x, 1, -1), np.moveaxis(g, 1, -1), **kw, layout="channels_last")
        assert _bits_equal(np.moveaxis(gcf, 1, -1), gcl)


def test_layout_and_shape_errors() -> None:
    with pytest.raises(SpecError, match=r"layout='NHWC'.*POOL-LAYOUT-1"):
        ref.max_pool(np.zeros((1, 1, 2)), kernel_size=1, layout="NHWC")
    with pytest.raises(SpecError, match=r"x.shape=\(2, 2\).*POOL-SHAPE-1"):
        ref.max_pool(np.zeros((2, 2)), kernel_size=1)
    with pytest.raises(SpecError, match=r"empty spatial dim.*POOL-SHAPE-1"):
        ref.max_pool(np.zeros((1, 1, 0)), kernel_size=1)
    with pytest.raises(SpecError, match=r"x must be a numpy.ndarray, got list.*POOL-SHAPE-1"):
        ref.max_pool([[[1.0]]], kernel_size=1)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"dtype='complex128'.*POOL-DTYPE-1"):
        ref.max_pool(np.zeros((1, 1, 2), dtype=complex), kernel_size=1)


def test_three_spatial_dims() -> None:
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(1, 1, 2, 3, 4)
    out, idx = ref.max_pool_with_indices(x, kernel_size=2, stride=1)
    assert out.shape == (1, 1, 1, 2, 3)
    np.testing.assert_array_equal(idx.ravel(), x[0, 0, 1, 1:, 1:].ravel().astype(np.int64))
    np.testing.assert_array_equal(out.ravel(), x[0, 0, 1, 1:, 1:].ravel())


def test_lp_grad_keeps_full_relative_precision_for_subnormal_norms() -> None:
    """The root enclosure must be relative, not a fixed 2**-1100 grid [POOL-GRAD-4].

    With x = [5e-324, 5e-324] the norm is 5e-324*sqrt(2), so the gradient is
    g/sqrt(2) for each element; a fixed absolute grid gave an error of 6e6 ULP."""
    x = np.array([[[[5e-324, 5e-324]]]])
    grad = ref.lp_pool_grad(x, np.array([[[[1.5]]]]), kernel_size=(1, 2), p=2)
    exact = decimal.Context(prec=60).divide(
        decimal.Decimal("1.5"), decimal.Decimal(2).sqrt(decimal.Context(prec=60))
    )
    assert grad[0, 0, 0, 0] == float(exact)


def _mp_fraction(v: object) -> Fraction:
    """An mpmath number as the exact Fraction it holds."""
    sign, man, exp, _ = mpmath.mpf(v)._mpf_
    return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp)


def _mp_lp_grad(x: list[float], g: list[float], k: int, p: int) -> list[Fraction]:
    """The Lp gradient (stride 1, no padding) in 8000-bit arithmetic, independently of
    the reference's root enclosures [POOL-GRAD-4]."""
    with mpmath.workprec(8000):
        xs, gs = [mpmath.mpf(v) for v in x], [mpmath.mpf(v) for v in g]
        out = [mpmath.mpf(0)] * len(xs)
        for o, gv in enumerate(gs):
            win = xs[o : o + k]
            y = mpmath.root(mpmath.fsum(abs(v) ** p for v in win), p)
            for j, v in enumerate(win):
                if y != 0:
                    out[o + j] += gv * mpmath.sign(v) * abs(v) ** (p - 1) / y ** (p - 1)
        return [_mp_fraction(v) for v in out]


def test_lp_grad_correctly_rounded_next_to_a_rounding_boundary() -> None:
    """The exact gradient of the middle element is a float64 midpoint plus about 1e-618,
    so it rounds up; a root known to a fixed 256 correct bits rounded it down. An exact
    gradient of 0 from cancelling irrational terms comes out 0, not -5.4e-79
    [POOL-GRAD-4, POOL-DTYPE-3]."""
    x = np.array([1.5e-323, -3.0, 2.2250738585072014e-308]).reshape(1, 1, 3)
    g = np.array([-0.12326154745654545, 0.05900365320781637]).reshape(1, 1, 2)
    got = ref.lp_pool_grad(x, g, kernel_size=2, stride=1, p=2)
    assert got[0, 0, 1] == 0.06425789424872909
    exact = _mp_lp_grad(x.ravel().tolist(), g.ravel().tolist(), 2, 2)
    assert got.ravel().tolist() == [dt.round_exact(v, "float64") for v in exact]
    x = np.array([1.0, 1.0, 7.0]).reshape(1, 1, 3) * 2.0**-1074
    got = ref.lp_pool_grad(x, np.array([1.0, -5.0]).reshape(1, 1, 2), kernel_size=2, stride=1)
    assert got[0, 0, 1] == 0.0


@pytest.mark.parametrize("p", [2, 3])
def test_lp_grad_float64_matches_high_precision(p: int) -> None:
    """Random float64 windows mixing normal, tiny and subnormal values: every element is
    the 8000-bit gradient rounded once [POOL-GRAD-4]."""
    rng = np.random.default_rng(2026 + p)
    scales = np.array([1.0, 2.0**-1000, 2.0**-1070, 1e300])
    for _ in range(15):
        x = rng.standard_normal(5) * scales[rng.integers(0, 4, 5)]
        g = rng.standard_normal(3) * scales[rng.integers(0, 2, 3)]
        got = ref.lp_pool_grad(x.reshape(1, 1, 5), g.reshape(1, 1, 3), kernel_size=3, stride=1, p=p)
        exact = _mp_lp_grad(x.tolist(), g.tolist(), 3, p)
        want = [dt.round_exact(v, "float64") for v in exact]
        assert [float(v) if v != 0 else 0.0 for v in got.ravel()] == [
            w if w != 0 else 0.0 for w in want
        ], (x, g)


def test_lp_grad_exact_boundary_rounds_to_even() -> None:
    """Irrational terms that cancel exactly onto a float64 midpoint never separate from
    it; past the precision cap the sum is taken to be that midpoint, ties to even
    [POOL-DTYPE-3]: 1/sqrt(2) - 2/sqrt(8) + (1 + 2**-53) rounds to 1."""
    for mid, want in ((1 + Fraction(1, 2**53), 1.0), (1 + Fraction(3, 2**53), 1 + 2.0**-51)):
        acc = roots.LpGradSum()
        acc.add(Fraction(1), roots.LpWindow(Fraction(2), 2))
        acc.add(Fraction(-2), roots.LpWindow(Fraction(8), 2))
        acc.add(mid, roots.LpWindow(Fraction(1), 2))
        assert acc.rounded("float64") == want
