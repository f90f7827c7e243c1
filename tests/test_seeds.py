"""The seeded tutorial cases reproduce what the seeds print [seeds in shared/seeds/].

Seed 001 prints numbers; they are transcribed below from ``001_7c2e83e318201444.txt``.
Arrays are printed by NumPy with 8 decimals, so a reference value must lie within
``5e-9`` of the printed one (plus the tutorial's own rounding error, below ``1e-13`` at these
magnitudes). Scalars are printed with 16-17 significant digits: the tutorial sums in float64
in its own order while the reference is exact and rounds once, so the two may differ in the
last digits. The allowed difference is the textbook bound for any float64 summation order,
``(k + m) * 2**-53 * mean(scale)``: ``k`` roundings per element (``n - 1`` for a sum of ``n``
terms, one per product, plus those of an upstream input such as ``dZ = Z``), ``m`` for the
mean over ``m`` elements, and ``scale`` the same computation on absolute values
(``poolconf.reference.tolerance.scales``). In practice the differences are 0-4 ULPs of the
scale, e.g. ``db_mean`` differs by 8.8e-14 (1.1e-14 relative, 0.5 ULP of its scale 187),
which a plain ``1e-14`` relative tolerance would reject.
"""

from __future__ import annotations

import numpy as np
import pytest

from poolconf import reference as ref
from poolconf.reference import tolerance
from poolconf.tools import seed_cases
from poolconf.tools.casedef import Case

U64 = 2.0**-53
ARRAY_ATOL = 5e-9 + 1e-13


def _case(file: str, function: str, op: str | None = None) -> Case:
    found = [
        c
        for c in seed_cases.all_cases()
        if c.source["file"] == file
        and c.source["function"] == function
        and (op is None or c.op == op)
    ]
    assert len(found) == 1, (file, function, op, len(found))
    return found[0]


def _s001(function: str) -> Case:
    return _case(seed_cases.SEED_001, function)


def _forward(case: Case) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    fn = getattr(ref, case.op)
    if case.op == "conv":
        return fn(case.inputs["x"], case.inputs["weight"], case.inputs.get("bias"), **case.params)
    return fn(case.inputs["x"], **case.params)


def _grad(case: Case) -> np.ndarray:
    fn = getattr(ref, f"{case.op}_grad")
    return fn(case.inputs["x"], case.inputs["grad_output"], **case.params, **case.grad_params)


def _assert_printed_array(got: np.ndarray, printed: list) -> None:
    printed_arr = np.array(printed, dtype=np.float64)
    assert got.shape == printed_arr.shape
    np.testing.assert_allclose(got, printed_arr, rtol=0, atol=ARRAY_ATOL)


def _assert_printed_scalar(got: float, printed: float, roundings: int, scale: float) -> None:
    bound = roundings * U64 * scale
    assert abs(got - printed) <= bound, f"{got!r} vs printed {printed!r}: |diff| > {bound:.3g}"


# ---------------------------------------------------------------------------
# 001: every printed number
# ---------------------------------------------------------------------------


def test_001_zero_pad() -> None:
    case = _s001("zero_pad")
    x = case.inputs["x"]
    out = _forward(case)
    assert x.shape == (4, 3, 3, 2) and out.shape == (4, 7, 7, 2)
    _assert_printed_array(
        x[1, 1], [[0.90085595, -0.68372786], [-0.12289023, -0.93576943], [-0.26788808, 0.53035547]]
    )
    _assert_printed_array(out[1, 1], [[0.0, 0.0]] * 7)
    np.testing.assert_array_equal(out[:, 2:5, 2:5, :], x)  # the input sits inside the border
    assert np.count_nonzero(out) == x.size


def test_001_conv_single_step() -> None:
    case = _s001("conv_single_step")
    z = _forward(case)
    assert z.shape == (1, 1, 1, 1)
    scale = tolerance.scales("conv", case.inputs, case.params)["output"]
    # np.multiply (1 rounding), np.sum of 48 products (47), + float(b) (1)
    _assert_printed_scalar(float(z[0, 0, 0, 0]), -6.999089450680221, 49, float(scale.mean()))


def test_001_conv_forward() -> None:
    case = _s001("conv_forward")
    z = _forward(case)
    assert z.shape == (10, 4, 4, 8)
    scale = tolerance.scales("conv", case.inputs, case.params)["output"]
    # each Z: 12 products + bias = 13 roundings; the mean of 1280 values: 1280 more
    _assert_printed_scalar(
        float(np.mean(z)), 0.048995203528855794, 13 + z.size, float(scale.mean())
    )
    _assert_printed_array(
        z[3, 2, 1],
        [
            -0.61490741,
            -6.7439236,
            -2.55153897,
            1.75698377,
            3.56208902,
            0.53036437,
            5.18531798,
            8.75898442,
        ],
    )
    # cache_conv[0][1][2][3] is A_prev[1, 2, 3]
    _assert_printed_array(case.inputs["x"][1, 2, 3], [-0.20075807, 0.18656139, 0.41005165])


def test_001_conv_backward() -> None:
    case = _s001("conv_backward")
    forward = _s001("conv_forward")
    np.testing.assert_array_equal(case.inputs["grad_output"], _forward(forward))  # dZ = Z
    d_a, d_w, d_b = ref.conv_grad(
        case.inputs["x"],
        case.inputs["weight"],
        case.inputs["bias"],
        case.inputs["grad_output"],
        **case.params,
    )
    assert d_a.shape == (10, 4, 4, 3) and d_w.shape == (8, 3, 2, 2) and d_b.shape == (8,)
    sc = tolerance.scales("conv", case.inputs, case.params)
    z_roundings = 13  # dZ = Z carries the tutorial's own forward rounding
    # dA: 8 channels accumulate into each position (f == stride: no overlap), times a product
    _assert_printed_scalar(
        float(np.mean(d_a)),
        1.4524377775388075,
        9 + z_roundings + d_a.size,
        float(sc["grad_input"].mean()),
    )
    # dW and db: 160 (= 10 samples x 4 x 4 positions) accumulations each
    _assert_printed_scalar(
        float(np.mean(d_w)),
        1.7269914583139097,
        161 + z_roundings + d_w.size,
        float(sc["grad_weight"].mean()),
    )
    _assert_printed_scalar(
        float(np.mean(d_b)),
        7.839232564616838,
        160 + z_roundings + d_b.size,
        float(sc["grad_bias"].mean()),
    )


def test_001_pool_forward() -> None:
    out_max = _forward(_s001("pool_forward(mode='max')"))
    out_avg = _forward(_s001("pool_forward(mode='average')"))
    assert out_max.shape == out_avg.shape == (2, 1, 1, 3)
    _assert_printed_array(
        out_max,
        [[[[1.74481176, 0.86540763, 1.13376944]]], [[[1.13162939, 1.51981682, 2.18557541]]]],
    )
    _assert_printed_array(
        out_avg,
        [[[[0.02105773, -0.20328806, -0.40389855]]], [[[-0.22154621, 0.51716526, 0.48155844]]]],
    )


def test_001_create_mask_from_window() -> None:
    case = _s001("create_mask_from_window")
    assert case.grad_params == {"tie_policy": "all"}
    _assert_printed_array(
        case.inputs["x"][0, :, :, 0],
        [[1.62434536, -0.61175641, -0.52817175], [-1.07296862, 0.86540763, -2.3015387]],
    )
    mask = _grad(case)[0, :, :, 0]
    np.testing.assert_array_equal(mask, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # printed True/False


def test_001_distribute_value() -> None:
    got = _grad(_s001("distribute_value"))
    np.testing.assert_array_equal(got[0, :, :, 0], [[0.5, 0.5], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("mode", "printed"),
    [
        ("max", [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]]),
        (
            "average",
            [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        ),
    ],
)
def test_001_pool_backward(mode: str, printed: list) -> None:
    case = _s001(f"pool_backward(mode={mode!r})")
    d_a = case.inputs["grad_output"]
    assert _forward(case).shape == d_a.shape == (5, 4, 2, 2)
    _assert_printed_scalar(
        float(np.mean(d_a)), 0.14571390272918056, d_a.size, float(np.mean(np.abs(d_a)))
    )
    d_prev = _grad(case)
    assert d_prev.shape == case.inputs["x"].shape == (5, 5, 3, 2)
    _assert_printed_array(d_prev[1, 1], printed)


def test_001_mask_policy_matches_first_without_ties() -> None:
    """The tutorial's mask (tie_policy 'all') equals 'first' when windows hold no ties, so
    the pool_backward case is valid under either policy [POOL-GRAD-2]."""
    case = _s001("pool_backward(mode='max')")
    first = ref.max_pool_grad(case.inputs["x"], case.inputs["grad_output"], **case.params)
    np.testing.assert_array_equal(first, _grad(case))


# ---------------------------------------------------------------------------
# 000: the im2col pooling layer, reimplemented from the seed
# ---------------------------------------------------------------------------


def _im2col_pool(
    x: np.ndarray, grad: np.ndarray, k: int, s: int, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """ML-From-Scratch's PoolingLayer forward and backward ('valid' padding), condensed."""
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    i = np.repeat(np.arange(k), k)[:, None] + s * np.repeat(np.arange(oh), ow)[None, :]
    j = np.tile(np.arange(k), k)[:, None] + s * np.tile(np.arange(ow), oh)[None, :]
    planes = x.reshape(n * c, h, w)
    cols = planes[:, i, j].transpose(1, 2, 0).reshape(k * k, -1)  # (k*k, oh*ow*n*c)
    g = grad.transpose(2, 3, 0, 1).ravel()
    g_cols = np.zeros_like(cols)
    if mode == "max":
        arg = np.argmax(cols, axis=0)
        out = cols[arg, range(arg.size)]
        g_cols[arg, range(arg.size)] = g
    else:
        out = np.mean(cols, axis=0)
        g_cols[:, :] = 1.0 / (k * k) * g
    out = out.reshape(oh, ow, n, c).transpose(2, 3, 0, 1)
    g_cols = g_cols.reshape(k * k, oh * ow, n * c).transpose(2, 0, 1)
    d_x = np.zeros((n * c, h, w))
    np.add.at(d_x, (slice(None), i, j), g_cols)
    return out, d_x.reshape(x.shape)


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
def test_000_im2col_layer(op: str) -> None:
    case = _case(
        seed_cases.SEED_000, "MaxPooling2D" if op == "max_pool" else "AveragePooling2D", op
    )
    x = case.inputs["x"]
    rng = np.random.default_rng(0)
    out = _forward(case)
    grad = rng.standard_normal(out.shape)
    want_out, want_dx = _im2col_pool(x, grad, 2, 1, "max" if op == "max_pool" else "average")
    got_dx = getattr(ref, f"{op}_grad")(x, grad, **case.params)
    assert out.shape == (2, 2, 3, 3)
    b = tolerance.budgets(op, {"x": x}, case.params)
    sc = tolerance.scales(op, {"x": x, "grad_output": grad}, case.params)
    if op == "max_pool":
        np.testing.assert_array_equal(out, want_out)
    else:
        assert tolerance.compare(want_out, out, b["output"].ulps, sc["output"]).ok
    # np.add.at sums overlapping windows in float64: within the budget, not always exact
    assert tolerance.compare(want_dx, got_dx, b["grad_input"].ulps, sc["grad_input"]).ok


def test_000_ties_follow_first_argmax() -> None:
    case = _case(seed_cases.SEED_000, "MaxPooling2D", "max_pool_with_indices")
    assert case.flags == ("Tie",) and case.result == "acceptable"
    x = case.inputs["x"]
    values, indices = _forward(case)
    want, _ = _im2col_pool(x, np.zeros(values.shape), 2, 1, "max")
    np.testing.assert_array_equal(values, want)
    # np.argmax picks the first maximum in row-major window order: map it to a plane index
    w = x.shape[3]
    cols = np.stack([x[:, :, dy : dy + 3, dx : dx + 3] for dy in range(2) for dx in range(2)])
    arg = np.argmax(cols, axis=0)
    oy, ox = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    np.testing.assert_array_equal(indices, (oy + arg // 2) * w + ox + arg % 2)
    assert np.any(np.sum(cols == cols.max(axis=0), axis=0) > 1), "the case must contain ties"


# ---------------------------------------------------------------------------
# 002, 003, 004: the printed shapes and what each demonstrates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["max", "average"])
def test_002_pool2d_shape(mode: str) -> None:
    case = _case(seed_cases.SEED_002, f"Pool2D(mode={mode!r})")
    assert case.inputs["x"].dtype == np.float32
    assert _forward(case).shape == (3, 2, 4, 4)  # torch.Size([3, 2, 4, 4])


def _tutorial_003(x: np.ndarray, pool: tuple[int, int], reduce: str) -> np.ndarray:
    """The seed's max_pooling / average_pooling on one (H, W, C) image, verbatim in effect."""
    height, width, channels = x.shape
    ph, pw = pool
    out = np.zeros((height // ph, width // pw, channels))
    for h in range(height // ph):
        for w in range(width // pw):
            region = x[h * ph : (h + 1) * ph, w * pw : (w + 1) * pw, :]
            out[h, w, :] = (
                np.amax(region, axis=(0, 1)) if reduce == "max" else np.mean(region, axis=(0, 1))
            )
    return out


@pytest.mark.parametrize(
    ("function", "reduce"), [("max_pooling", "max"), ("average_pooling", "mean")]
)
def test_003_numpy_loop_pooling(function: str, reduce: str) -> None:
    case = _case(seed_cases.SEED_003, function)
    x = case.inputs["x"]
    got = _forward(case)
    want = _tutorial_003(x[0], (2, 2), reduce)[None]
    assert got.shape == want.shape == (1, 2, 2, 3)
    if reduce == "max":
        np.testing.assert_array_equal(got, want)
    else:
        b = tolerance.budgets(case.op, {"x": x}, case.params)["output"].ulps
        sc = tolerance.scales(case.op, {"x": x}, case.params)["output"]
        assert tolerance.compare(want, got, b, sc).ok


def test_003_mnist_feature_map_shape() -> None:
    assert _forward(_case(seed_cases.SEED_003, "MaxPooling2D")).shape == (1, 5, 5, 2)


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        ("tf.nn.conv2d", (10, 9, 9, 2)),
        ("tf.nn.avg_pool", (10, 9, 9, 2)),
        ("tf.nn.max_pool", (10, 9, 9, 2)),
        ("tf.nn.conv3d", (1, 1, 3, 5, 3)),
        ("tf.nn.avg_pool3d", (1, 1, 2, 5, 3)),
        ("tf.nn.max_pool3d", (1, 1, 2, 5, 3)),
    ],
)
def test_004_tensorflow_shapes(function: str, shape: tuple[int, ...]) -> None:
    case = _case(seed_cases.SEED_004, function)
    out = _forward(case)
    assert out.shape == shape and out.dtype == np.float32


def test_004_same_padding_is_tensorflow_same() -> None:
    """TF SAME: the odd padding element at the end, and average divides by in-bounds taps:
    the bottom-right output of a 2x2/stride-1 SAME average is the corner element itself."""
    case = _case(seed_cases.SEED_004, "tf.nn.avg_pool")
    x = case.inputs["x"]
    out = _forward(case)
    np.testing.assert_array_equal(out[:, -1, -1, :], x[:, -1, -1, :])
    np.testing.assert_array_equal(
        _forward(_case(seed_cases.SEED_004, "tf.nn.max_pool"))[:, -1, -1, :], x[:, -1, -1, :]
    )


def tf_argmax_from_plane_index(
    indices: np.ndarray, spatial: tuple[int, ...], include_batch_in_index: bool
) -> np.ndarray:
    """TensorFlow's ``max_pool_with_argmax`` index from a reference plane index (channels_last
    ``indices`` of shape (N, *out, C)) [POOL-IDX-3]: the position in the flattened NHWC input,
    ``((b*H + y)*W + x)*C + c``, or ``(y*W + x)*C + c`` without ``include_batch_in_index``.
    The plane index is ``y*W + x``, so the TF index is ``(b*H*W + plane)*C + c``."""
    n, c = indices.shape[0], indices.shape[-1]
    b = np.arange(n).reshape((n,) + (1,) * (indices.ndim - 1))
    ch = np.arange(c).reshape((1,) * (indices.ndim - 1) + (c,))
    plane_size = int(np.prod(spatial))
    base = b * plane_size if include_batch_in_index else 0
    return (base + indices) * c + ch


def test_004_tf_argmax_index_mapping() -> None:
    case = _case(seed_cases.SEED_004, "tf.nn.max_pool_with_argmax")
    x = case.inputs["x"]
    values, indices = _forward(case)
    assert values.shape == indices.shape == (10, 9, 9, 2) and indices.dtype == np.int64
    n, h, w, c = x.shape
    tf_idx = tf_argmax_from_plane_index(indices, (h, w), include_batch_in_index=True)
    # the TF index addresses the selected element in the flattened NHWC input
    np.testing.assert_array_equal(x.ravel()[tf_idx], values)
    b, yy, xx, cc = np.unravel_index(tf_idx, x.shape)
    assert np.all(b == np.arange(n)[:, None, None, None]) and np.all(cc == np.arange(c))
    oy, ox = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    # SAME (0,1) padding, stride 1: window (oy, ox) covers rows oy..oy+1 and cols ox..ox+1
    assert np.all((yy - oy[None, :, :, None] >= 0) & (yy - oy[None, :, :, None] <= 1))
    assert np.all((xx - ox[None, :, :, None] >= 0) & (xx - ox[None, :, :, None] <= 1))
    # without include_batch_in_index the batch term drops out
    no_batch = tf_argmax_from_plane_index(indices, (h, w), include_batch_in_index=False)
    batch_term = np.broadcast_to(np.arange(n)[:, None, None, None] * h * w * c, tf_idx.shape)
    np.testing.assert_array_equal(tf_idx - no_batch, batch_term)
    # hand-worked: batch 1, plane index 5 (y=0, x=5), channel 1 -> ((1*9 + 0)*9 + 5)*2 + 1
    one = np.zeros((2, 1, 1, 2), dtype=np.int64)
    one[1, 0, 0, 1] = 5
    assert tf_argmax_from_plane_index(one, (9, 9), True)[1, 0, 0, 1] == 2 * (81 + 5) + 1


def test_seed_cases_are_declared_with_provenance() -> None:
    cases = seed_cases.all_cases()
    files = {c.source["file"] for c in cases}
    assert files == {
        seed_cases.SEED_000,
        seed_cases.SEED_001,
        seed_cases.SEED_002,
        seed_cases.SEED_003,
        seed_cases.SEED_004,
    }
    for c in cases:
        assert c.family == "seed" and c.source["name"] == "seed" and c.source["function"]
        assert c.clauses
    functions_001 = {c.source["function"] for c in cases if c.source["file"] == seed_cases.SEED_001}
    assert functions_001 == {
        "zero_pad",
        "conv_single_step",
        "conv_forward",
        "conv_backward",
        "pool_forward(mode='max')",
        "pool_forward(mode='average')",
        "create_mask_from_window",
        "distribute_value",
        "pool_backward(mode='max')",
        "pool_backward(mode='average')",
    }


def test_seed_cases_are_deterministic() -> None:
    a, b = seed_cases.all_cases(), seed_cases.all_cases()
    assert len(a) == len(b)
    for ca, cb in zip(a, b):
        assert ca.comment == cb.comment and ca.params == cb.params
        assert ca.inputs.keys() == cb.inputs.keys()
        for k in ca.inputs:
            assert ca.inputs[k].dtype == cb.inputs[k].dtype
            np.testing.assert_array_equal(ca.inputs[k], cb.inputs[k])
