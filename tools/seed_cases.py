"""The seeded tutorial cases: what each seed in ``shared/seeds/`` computes, as golden cases.

Every case names its provenance, ``source = {"name": "seed", "file": ..., "function": ...}``,
and belongs to the family ``seed``.

* ``001`` (Coursera "CNN step by step") prints numbers. Its cases use the tutorial's own
  inputs: ``np.random.seed(1)`` and then ``np.random.randn`` draws (NumPy's legacy
  ``RandomState``) in the tutorial's order, so the reference reproduces every printed number
  (``tests/test_seeds.py``). The tutorial is channels_last; its convolution weights
  ``(f, f, C_prev, C)`` become ``(C, C_prev, f, f)`` and its bias ``(1, 1, 1, C)`` becomes
  ``(C,)``.
* ``000`` (ML-From-Scratch im2col pooling layer), ``002`` (a PyTorch ``Pool2D`` module),
  ``003`` (NumPy loop pooling) and ``004`` (TensorFlow's pooling API tour) print no values, so
  their inputs come from a fixed ``numpy.random.default_rng(seed)``; the cases capture the op,
  layout, padding mode and the printed shapes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from poolconf.reference import ops as ref
from poolconf.tools.casedef import Case

SEED_000 = "000_337f27bad17161b1.txt"
SEED_001 = "001_7c2e83e318201444.txt"
SEED_002 = "002_3a02e62c192baf87.txt"
SEED_003 = "003_4259f12e840bb054.txt"
SEED_004 = "004_2b5c0b613600971d.txt"

FAMILY = "seed"
CL = "channels_last"


def _source(file: str, function: str) -> dict[str, str]:
    return {"name": "seed", "file": file, "function": function}


def _legacy_randn(*shapes: tuple[int, ...]) -> list[np.ndarray]:
    """``np.random.seed(1)`` then one ``np.random.randn(*shape)`` per shape, in order."""
    rs = np.random.RandomState(1)
    return [rs.randn(*shape) for shape in shapes]


def conv_weight_from_hwio(w: np.ndarray) -> np.ndarray:
    """A tutorial / TensorFlow filter ``(*kernel, C_in, C_out)`` as ``(C_out, C_in, *kernel)``."""
    rank = w.ndim - 2
    return np.ascontiguousarray(np.transpose(w, (rank + 1, rank, *range(rank))))


# ---------------------------------------------------------------------------
# 001: Coursera "Convolution model - Step by Step"
# ---------------------------------------------------------------------------


def step_by_step_conv_inputs() -> dict[str, np.ndarray]:
    """conv_forward's inputs: ``A_prev (10,4,4,3)``, ``W (2,2,3,8)``, ``b (1,1,1,8)`` after
    ``np.random.seed(1)``, mapped to the reference's conv arguments."""
    a_prev, w, b = _legacy_randn((10, 4, 4, 3), (2, 2, 3, 8), (1, 1, 1, 8))
    return {"x": a_prev, "weight": conv_weight_from_hwio(w), "bias": b.reshape(8)}


STEP_BY_STEP_CONV_PARAMS: Mapping[str, Any] = {"stride": [2, 2], "padding": [2, 2], "layout": CL}


def _seed_001() -> list[Case]:
    cases = []
    src = functools.partial(_source, SEED_001)

    (x,) = _legacy_randn((4, 3, 3, 2))
    cases.append(
        Case(
            op="zero_pad",
            family=FAMILY,
            comment="zero_pad(x, 2) on randn(4,3,3,2), channels_last: pads H and W by 2 on "
            "both sides, giving (4,7,7,2)",
            clauses=("POOL-PAD-1", "POOL-LAYOUT-1"),
            inputs={"x": x},
            params={"padding": [[2, 2], [2, 2]], "layout": CL},
            seed=1,
            source=src("zero_pad"),
            grad=False,
        )
    )

    a_slice, w, b = _legacy_randn((4, 4, 3), (4, 4, 3), (1, 1, 1))
    cases.append(
        Case(
            op="conv",
            family=FAMILY,
            comment="conv_single_step: sum(a_slice_prev * W) + b over one (4,4,3) slice, as a "
            "conv of a (1,4,4,3) channels_last input with one 4x4 filter; prints Z",
            clauses=("POOL-CONV-1", "POOL-CONV-4", "POOL-DTYPE-3"),
            inputs={
                "x": a_slice.reshape(1, 4, 4, 3),
                "weight": conv_weight_from_hwio(w.reshape(4, 4, 3, 1)),
                "bias": b.reshape(1),
            },
            params={"layout": CL},
            seed=1,
            source=src("conv_single_step"),
        )
    )

    conv_inputs = step_by_step_conv_inputs()
    conv_comment = (
        "A_prev randn(10,4,4,3), W randn(2,2,3,8) -> (8,3,2,2), b randn(1,1,1,8) -> (8,), "
        "pad 2, stride 2, channels_last: Z is (10,4,4,8). The tutorial's conv_forward slices "
        "vert_end = vert_start + stride (a bug: it should add f), harmless here since "
        "f == stride == 2"
    )
    cases.append(
        Case(
            op="conv",
            family=FAMILY,
            comment=f"conv_forward: {conv_comment}",
            clauses=("POOL-CONV-1", "POOL-CONV-4", "POOL-PARAM-4", "POOL-GEOM-2"),
            inputs=conv_inputs,
            params=dict(STEP_BY_STEP_CONV_PARAMS),
            seed=1,
            source=src("conv_forward"),
        )
    )
    z = ref.conv(
        conv_inputs["x"], conv_inputs["weight"], conv_inputs["bias"], **STEP_BY_STEP_CONV_PARAMS
    )
    cases.append(
        Case(
            op="conv",
            family=FAMILY,
            comment="conv_backward(Z, cache): the gradients of conv_forward with dZ = Z, "
            "conv_forward's own output (the reference's Z, float64). " + conv_comment,
            clauses=("POOL-GRAD-5", "POOL-GRAD-3", "POOL-CONV-1"),
            inputs={**conv_inputs, "grad_output": z},
            params=dict(STEP_BY_STEP_CONV_PARAMS),
            seed=1,
            source=src("conv_backward"),
        )
    )

    (a_prev,) = _legacy_randn((2, 4, 4, 3))
    for mode, op, clauses in (
        ("max", "max_pool", ("POOL-MAX-1", "POOL-GEOM-2")),
        ("average", "avg_pool", ("POOL-AVG-1", "POOL-GEOM-2")),
    ):
        cases.append(
            Case(
                op=op,
                family=FAMILY,
                comment=f"pool_forward(A_prev, f=3, stride=2, mode={mode!r}) on randn(2,4,4,3), "
                "channels_last, no padding: one 3x3 window per plane, A is (2,1,1,3)",
                clauses=(*clauses, "POOL-LAYOUT-1"),
                inputs={"x": a_prev},
                params={"kernel_size": [3, 3], "stride": [2, 2], "layout": CL},
                seed=1,
                source=src(f"pool_forward(mode={mode!r})"),
            )
        )

    (window,) = _legacy_randn((2, 3))
    cases.append(
        Case(
            op="max_pool",
            family=FAMILY,
            comment="create_mask_from_window(x) = (x >= max(x)) on randn(2,3): the max gradient "
            "of one 2x3 window with upstream 1 under the tutorial's mask policy (tie_policy "
            "'all': every maximal element gets the full value)",
            clauses=("POOL-GRAD-2", "POOL-MAX-1"),
            inputs={"x": window.reshape(1, 2, 3, 1), "grad_output": np.ones((1, 1, 1, 1))},
            params={"kernel_size": [2, 3], "layout": CL},
            seed=1,
            source=src("create_mask_from_window"),
            grad_params={"tie_policy": "all"},
        )
    )
    cases.append(
        Case(
            op="avg_pool",
            family=FAMILY,
            comment="distribute_value(2, (2,2)): the average gradient of one 2x2 window with "
            "upstream 2 is 0.5 everywhere (x is zeros: the tutorial gives no x, and the average "
            "gradient does not depend on it)",
            clauses=("POOL-GRAD-1", "POOL-AVG-1"),
            inputs={"x": np.zeros((1, 2, 2, 1)), "grad_output": np.full((1, 1, 1, 1), 2.0)},
            params={"kernel_size": [2, 2], "layout": CL},
            seed=1,
            source=src("distribute_value"),
        )
    )

    a_prev, d_a = _legacy_randn((5, 5, 3, 2), (5, 4, 2, 2))
    for mode, op, clauses, grad_params in (
        ("max", "max_pool", ("POOL-GRAD-2", "POOL-GRAD-3"), {"tie_policy": "all"}),
        ("average", "avg_pool", ("POOL-GRAD-1", "POOL-GRAD-3"), {}),
    ):
        policy = " with the tutorial's mask policy (tie_policy 'all')" if grad_params else ""
        cases.append(
            Case(
                op=op,
                family=FAMILY,
                comment=f"pool_backward(dA, cache, mode={mode!r}){policy}: A_prev randn(5,5,3,2), "
                "f=2, stride 1, channels_last; dA is the next draw, randn(5,4,2,2); "
                "overlapping windows accumulate",
                clauses=(*clauses, "POOL-LAYOUT-1"),
                inputs={"x": a_prev, "grad_output": d_a},
                params={"kernel_size": [2, 2], "stride": [1, 1], "layout": CL},
                seed=1,
                source=src(f"pool_backward(mode={mode!r})"),
                grad_params=grad_params,
            )
        )
    return cases


# ---------------------------------------------------------------------------
# 000: ML-From-Scratch PoolingLayer (im2col)
# ---------------------------------------------------------------------------


def _seed_000() -> list[Case]:
    seed = 1000
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 4, 4))
    ties = rng.integers(0, 3, size=(1, 2, 4, 4)).astype(np.float64)
    src = functools.partial(_source, SEED_000)
    common = (
        "ML-From-Scratch PoolingLayer defaults: pool_shape (2,2), stride 1, no padding, "
        "(N, C, H, W); each (N, C) plane goes through image_to_column, whose rows are the "
        "window offsets in row-major order"
    )
    return [
        Case(
            op="max_pool",
            family=FAMILY,
            comment=f"MaxPooling2D: np.argmax over the im2col column; backward routes the "
            f"upstream value to that argmax. {common}",
            clauses=("POOL-MAX-1", "POOL-GRAD-2", "POOL-GRAD-3", "POOL-GEOM-2"),
            inputs={"x": x},
            params={"kernel_size": [2, 2], "stride": [1, 1], "padding": "valid"},
            seed=seed,
            source=src("MaxPooling2D"),
        ),
        Case(
            op="avg_pool",
            family=FAMILY,
            comment=f"AveragePooling2D: np.mean over the im2col column; backward spreads "
            f"1/(kh*kw) of the upstream value over the window. {common}",
            clauses=("POOL-AVG-1", "POOL-GRAD-1", "POOL-GRAD-3", "POOL-GEOM-2"),
            inputs={"x": x},
            params={"kernel_size": [2, 2], "stride": [1, 1], "padding": "valid"},
            seed=seed,
            source=src("AveragePooling2D"),
        ),
        Case(
            op="max_pool_with_indices",
            family=FAMILY,
            comment="MaxPooling2D on integer-valued input with ties: np.argmax returns the first "
            "maximum in row-major window order, which is the reference's tie rule; other "
            f"implementations may pick another tied element. {common}",
            clauses=("POOL-MAX-4", "POOL-IDX-1", "POOL-GRAD-2"),
            inputs={"x": ties},
            params={"kernel_size": [2, 2], "stride": [1, 1], "padding": "valid"},
            seed=seed,
            source=src("MaxPooling2D"),
            flags=("Tie",),
            result="acceptable",
        ),
    ]


# ---------------------------------------------------------------------------
# 002: PyTorch Pool2D module
# ---------------------------------------------------------------------------


def _seed_002() -> list[Case]:
    seed = 1002
    x = np.random.default_rng(seed).random((3, 2, 5, 5), dtype=np.float32)
    bugs = (
        "The tutorial's module sizes the output (L - k + 1) // stride (equal to the spec's "
        "(L - k) // stride + 1 only at stride 1), takes .max()/.mean() over the whole batch "
        "and all channels instead of per (N, C) plane, and swaps h and w in its slices "
        "(harmless for a square kernel); the case follows the spec"
    )
    return [
        Case(
            op=op,
            family=FAMILY,
            comment=f"Pool2D(size=(2,2), mode={mode!r}, stride=1) on torch.rand((3,2,5,5)), "
            f"float32, (N, C, H, W): prints torch.Size([3, 2, 4, 4]). {bugs}",
            clauses=(clause, "POOL-GEOM-2", "POOL-SHAPE-1"),
            inputs={"x": x},
            params={"kernel_size": [2, 2], "stride": [1, 1]},
            seed=seed,
            source=_source(SEED_002, f"Pool2D(mode={mode!r})"),
        )
        for mode, op, clause in (
            ("max", "max_pool", "POOL-MAX-1"),
            ("average", "avg_pool", "POOL-AVG-1"),
        )
    ]


# ---------------------------------------------------------------------------
# 003: NumPy loop pooling (channels_last, stride = pool size)
# ---------------------------------------------------------------------------


def _seed_003() -> list[Case]:
    seed = 1003
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 5, 5, 3))
    feature = rng.standard_normal((1, 11, 11, 2))
    cases = [
        Case(
            op=op,
            family=FAMILY,
            comment=f"{fn}(x, (2,2)) on one (5,5,3) image (H, W, C) with a batch dim added: "
            "stride = pool size, output height // 2 by width // 2 (floor: the last row and "
            "column are dropped), giving (1,2,2,3)",
            clauses=(clause, "POOL-GEOM-2", "POOL-LAYOUT-1"),
            inputs={"x": x},
            params={"kernel_size": [2, 2], "layout": CL},
            seed=seed,
            source=_source(SEED_003, fn),
        )
        for fn, op, clause in (
            ("max_pooling", "max_pool", "POOL-MAX-1"),
            ("average_pooling", "avg_pool", "POOL-AVG-1"),
        )
    ]
    cases.append(
        Case(
            op="max_pool",
            family=FAMILY,
            comment="MaxPooling2D((2, 2)) after the second Conv2D of the tutorial's MNIST model: "
            "an 11x11 feature map (channels_last, 2 channels here) pools to 5x5",
            clauses=("POOL-MAX-1", "POOL-GEOM-2", "POOL-LAYOUT-1"),
            inputs={"x": feature},
            params={"kernel_size": [2, 2], "padding": "valid", "layout": CL},
            seed=seed,
            source=_source(SEED_003, "MaxPooling2D"),
        )
    )
    return cases


# ---------------------------------------------------------------------------
# 004: TensorFlow pooling API tour (NHWC / NDHWC, SAME padding)
# ---------------------------------------------------------------------------


def _seed_004() -> list[Case]:
    seed = 1004
    rng = np.random.default_rng(seed)
    img = rng.random((10, 9, 9, 3), dtype=np.float32)
    filt = rng.random((2, 2, 3, 2), dtype=np.float32)
    y = rng.random((10, 9, 9, 2), dtype=np.float32)
    vol = rng.random((1, 2, 5, 5, 1), dtype=np.float32)
    filt3 = rng.random((2, 3, 3, 1, 3), dtype=np.float32)
    y3 = rng.random((1, 1, 3, 5, 3), dtype=np.float32)
    src = functools.partial(_source, SEED_004)
    same = "TensorFlow SAME is same_upper (out = ceil(L/s), the odd padding element at the end)"
    pool2d = {"kernel_size": [2, 2], "stride": [1, 1], "padding": "same_upper", "layout": CL}
    pool3d = {"kernel_size": [1, 2, 2], "stride": [2, 2, 1], "padding": "same_upper", "layout": CL}
    return [
        Case(
            op="conv",
            family=FAMILY,
            comment="tf.nn.conv2d(rand(10,9,9,3), rand(2,2,3,2), strides 1, SAME) -> "
            f"shape=(10, 9, 9, 2); the filter HWIO -> (C_out, C_in, kh, kw). {same}",
            clauses=("POOL-CONV-1", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": img, "weight": conv_weight_from_hwio(filt)},
            params={"stride": [1, 1], "padding": "same_upper", "layout": CL},
            seed=seed,
            source=src("tf.nn.conv2d"),
        ),
        Case(
            op="avg_pool",
            family=FAMILY,
            comment="tf.nn.avg_pool(y, ksize 2, strides 1, SAME) on a (10,9,9,2) NHWC tensor -> "
            f"shape=(10, 9, 9, 2); TensorFlow divides by the in-bounds count. {same}",
            clauses=("POOL-AVG-1", "POOL-AVG-4", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": y},
            params={**pool2d, "count_include_pad": False},
            seed=seed,
            source=src("tf.nn.avg_pool"),
        ),
        Case(
            op="max_pool",
            family=FAMILY,
            comment="tf.nn.max_pool(y, ksize 2, strides 1, SAME) on a (10,9,9,2) NHWC tensor -> "
            f"shape=(10, 9, 9, 2); padding never wins the max. {same}",
            clauses=("POOL-MAX-1", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": y},
            params=dict(pool2d),
            seed=seed,
            source=src("tf.nn.max_pool"),
        ),
        Case(
            op="max_pool_with_indices",
            family=FAMILY,
            comment="tf.nn.max_pool_with_argmax(y, ksize 2, strides 1, SAME) -> values and int64 "
            "argmax, both (10, 9, 9, 2). The indices here are flat per (N, C) plane "
            "(h*W + w); TensorFlow's argmax is ((b*H + h)*W + w)*C + c with "
            f"include_batch_in_index, (h*W + w)*C + c without. {same}",
            clauses=("POOL-IDX-1", "POOL-IDX-3", "POOL-IDX-4", "POOL-GEOM-5"),
            inputs={"x": y},
            params=dict(pool2d),
            seed=seed,
            source=src("tf.nn.max_pool_with_argmax"),
        ),
        Case(
            op="conv",
            family=FAMILY,
            comment="tf.nn.conv3d(rand(1,2,5,5,1), rand(2,3,3,1,3), strides [2,2,1], SAME) -> "
            f"shape=(1, 1, 3, 5, 3); the filter DHWIO -> (C_out, C_in, kd, kh, kw). {same}",
            clauses=("POOL-CONV-1", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": vol, "weight": conv_weight_from_hwio(filt3)},
            params={"stride": [2, 2, 1], "padding": "same_upper", "layout": CL},
            seed=seed,
            source=src("tf.nn.conv3d"),
        ),
        Case(
            op="avg_pool",
            family=FAMILY,
            comment="tf.nn.avg_pool3d(y, ksize [1,2,2], strides [2,2,1], SAME) on a (1,1,3,5,3) "
            "NDHWC tensor -> shape=(1, 1, 2, 5, 3); divides by the in-bounds count. " + same,
            clauses=("POOL-AVG-1", "POOL-AVG-4", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": y3},
            params={**pool3d, "count_include_pad": False},
            seed=seed,
            source=src("tf.nn.avg_pool3d"),
        ),
        Case(
            op="max_pool",
            family=FAMILY,
            comment="tf.nn.max_pool3d(y, ksize [1,2,2], strides [2,2,1], SAME) on a (1,1,3,5,3) "
            f"NDHWC tensor -> shape=(1, 1, 2, 5, 3). {same}",
            clauses=("POOL-MAX-1", "POOL-GEOM-5", "POOL-LAYOUT-1"),
            inputs={"x": y3},
            params=dict(pool3d),
            seed=seed,
            source=src("tf.nn.max_pool3d"),
        ),
    ]


def all_cases() -> list[Case]:
    """Every seeded tutorial case, in a fixed order (001 first: it prints numbers)."""
    return [*_seed_001(), *_seed_000(), *_seed_002(), *_seed_003(), *_seed_004()]
