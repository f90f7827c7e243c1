"""Geometry edges where libraries disagree, one behaviour per case (family ``edge``).

Ceil-mode windows, windows entirely in padding, kernels equal to or larger than the
input, dilation with padding, gaps between windows, one-sided and mixed padding,
same_upper/same_lower, Lp specifics, uneven adaptive windows, convolution and zero
padding corners. Unpooling edges are in ``poolconf.tools.cases.unpool``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from poolconf.reference import dtypes as dt
from poolconf.tools.cases.case import TWIN, Case, case
from poolconf.tools.cases.inputs import Draw, draw, random_values, x1

edge = functools.partial(case, family="edge")


def with_float32_twin(**kw: Any) -> list[Case]:
    """The edge case ``kw`` and, when it draws its inputs in another float dtype, its
    twin drawn in float32 (``<name>_as_float32``): a geometry edge is about windows, not
    rounding, and a backend without float64 must still meet every one of them."""
    cases = [edge(**kw)]
    draws = {k: v for k, v in kw.items() if isinstance(v, Draw)}
    if any(d.dtype != "float32" and dt.is_float(d.dtype) for d in draws.values()):
        twin = {k: dataclasses.replace(d, dtype="float32") for k, d in draws.items()}
        cases.append(
            edge(
                **{
                    **kw,
                    **twin,
                    "name": kw["name"] + TWIN,
                    "comment": f"{kw['comment']} (float32 twin)",
                }
            )
        )
    return cases


X5 = random_values("x5", (1, 1, 5), "float32")  # shared by several cases
X6 = random_values("x6", (1, 1, 6), "float32")


def ceil_last_window_cases() -> list[Case]:
    """The ceil-mode last-window rule [POOL-GEOM-4]."""
    return [
        edge(
            name="ceil_last_window_dropped",
            op="max_pool",
            comment="ceil mode: L=5, k=2, s=2, pad (1,1): ceil((5+2-2)/2)+1 = 4, but the 4th "
            "window would start at 6 = L+pb, entirely in the end padding, and is dropped: 3",
            focus=["POOL-GEOM-3", "POOL-GEOM-4", "POOL-MAX-1"],
            x=X5,
            params={"kernel_size": [2], "stride": [2], "padding": [[1, 1]], "ceil_mode": True},
        ),
        *with_float32_twin(
            name="ceil_last_window_dropped_2d",
            op="avg_pool",
            comment="ceil mode 2D: 5x5, k=2, s=2, pad 1 gives 3x3, not 4x4: the window starting "
            "in the end padding is dropped in both dims (count_include_pad)",
            focus=["POOL-AVG-3", "POOL-GEOM-3", "POOL-GEOM-4"],
            x=draw((1, 1, 5, 5), "float64"),
            params={"kernel_size": [2, 2], "stride": [2, 2], "padding": 1, "ceil_mode": True},
        ),
        edge(
            name="ceil_last_window_dropped",
            op="max_pool_with_indices",
            comment="ceil mode with indices: L=5, k=2, s=2, pad (1,1); the dropped 4th "
            "window would have no in-bounds element (it would report index -1)",
            focus=["POOL-GEOM-3", "POOL-GEOM-4", "POOL-IDX-1"],
            x=draw((1, 2, 5), "float32"),
            params={"kernel_size": [2], "stride": [2], "padding": [[1, 1]], "ceil_mode": True},
        ),
    ]


def ceil_overhang_cases() -> list[Case]:
    """Ceil-mode windows overhanging the end padding: overhang taps never count."""
    return [
        edge(
            name="ceil_overhang_include_pad",
            op="avg_pool",
            comment="ceil-mode overhang, count_include_pad: L=6, k=3, s=2, pad (1,1); the last "
            "window covers x[5], one end-pad tap and one overhang tap: divisor 2, not 3",
            focus=["POOL-AVG-3", "POOL-GEOM-3"],
            x=X6,
            params={
                "kernel_size": [3],
                "stride": [2],
                "padding": [[1, 1]],
                "ceil_mode": True,
                "count_include_pad": True,
            },
        ),
        edge(
            name="ceil_overhang_no_padding",
            op="avg_pool",
            comment="ceil-mode overhang without padding, count_include_pad: L=5, k=2, s=2; the "
            "last window holds x[4] and an overhang tap: divisor 1",
            focus=["POOL-AVG-3", "POOL-GEOM-3"],
            x=X5,
            params={"kernel_size": [2], "stride": [2], "padding": 0, "ceil_mode": True},
        ),
        edge(
            name="ceil_overhang_exclude_pad",
            op="avg_pool",
            comment="ceil-mode overhang, count_include_pad False: L=6, k=3, s=2, pad (1,1); "
            "divisor counts in-bounds taps only",
            focus=["POOL-AVG-4", "POOL-GEOM-3"],
            x=X6,
            params={
                "kernel_size": [3],
                "stride": [2],
                "padding": [[1, 1]],
                "ceil_mode": True,
                "count_include_pad": False,
            },
        ),
        edge(
            name="ceil_overhang_asymmetric_padding_2d",
            op="avg_pool",
            comment="ceil-mode overhang 2D with asymmetric padding (0,1),(1,0), k=2x3, s=2, "
            "count_include_pad: overhang taps never count",
            focus=["POOL-AVG-3", "POOL-GEOM-3", "POOL-PARAM-4"],
            x=draw((1, 1, 4, 5), "float32"),
            params={
                "kernel_size": [2, 3],
                "stride": [2, 2],
                "padding": [[0, 1], [1, 0]],
                "ceil_mode": True,
            },
        ),
        edge(
            name="ceil_overhang_divisor_override",
            op="avg_pool",
            comment="ceil-mode overhang with divisor_override 3: the override wins over the "
            "clipped window",
            focus=["POOL-AVG-2", "POOL-GEOM-3"],
            x=X5,
            params={"kernel_size": [2], "stride": [2], "ceil_mode": True, "divisor_override": 3},
        ),
        edge(
            name="ceil_overhang",
            op="lp_pool",
            comment="ceil-mode overhang in Lp: L=5, k=2, s=2, p=2; the overhang adds nothing",
            focus=["POOL-GEOM-3", "POOL-LP-1"],
            x=X5,
            params={"kernel_size": [2], "stride": [2], "ceil_mode": True, "p": 2},
        ),
    ]


def kernel_size_cases() -> list[Case]:
    """Kernels equal to, or larger than, the input."""
    x3 = x1([0.5, -1.25, 2.0])
    return [
        edge(
            name="kernel_equals_input",
            op="max_pool",
            comment="kernel equal to the input (4x5): one window over everything",
            focus=["POOL-GEOM-2", "POOL-MAX-1"],
            x=draw((1, 2, 4, 5), "float32"),
            params={"kernel_size": [4, 5]},
        ),
        edge(
            name="kernel_equals_input",
            op="avg_pool",
            comment="kernel equal to the input (4x5), no padding",
            focus=["POOL-AVG-1", "POOL-GEOM-2"],
            x=draw((1, 2, 4, 5), "float32"),
            params={"kernel_size": [4, 5]},
        ),
        edge(
            name="kernel_equals_input",
            op="lp_pool",
            comment="kernel equal to the input (4x5), p=2",
            focus=["POOL-GEOM-2", "POOL-LP-1"],
            x=draw((1, 2, 4, 5), "float32"),
            params={"kernel_size": [4, 5], "p": 2},
        ),
        edge(
            name="kernel_equals_input_3d_channels_last",
            op="max_pool_with_indices",
            comment="kernel equal to the 3D input (2x3x3), channels_last",
            focus=["POOL-GEOM-2", "POOL-IDX-1", "POOL-LAYOUT-1"],
            x=draw((1, 2, 2, 3, 3), layout="channels_last"),
            params={"kernel_size": [2, 3, 3], "layout": "channels_last"},
        ),
        edge(
            name="kernel_larger_than_input_ceil",
            op="max_pool",
            comment="kernel 4 larger than the input L=3 with ceil mode, s=2: one window "
            "(floor mode would give 0 windows and is invalid)",
            focus=["POOL-GEOM-3", "POOL-GEOM-4", "POOL-MAX-1"],
            x=x3,
            params={"kernel_size": [4], "stride": [2], "ceil_mode": True},
        ),
        edge(
            name="kernel_larger_than_input_include_pad",
            op="avg_pool",
            comment="kernel 5 larger than the input L=3, pad (1,0), s=2, ceil mode, "
            "count_include_pad: divisor 4 (begin pad + 3 inputs; the overhang does not count)",
            focus=["POOL-AVG-3", "POOL-GEOM-3"],
            x=x3,
            params={"kernel_size": [5], "stride": [2], "padding": [[1, 0]], "ceil_mode": True},
        ),
        edge(
            name="kernel_larger_than_input_exclude_pad",
            op="avg_pool",
            comment="kernel 5 larger than the input L=3, pad (1,0), s=2, ceil mode, "
            "count_include_pad False: divisor 3",
            focus=["POOL-AVG-4", "POOL-GEOM-3"],
            x=x3,
            params={
                "kernel_size": [5],
                "stride": [2],
                "padding": [[1, 0]],
                "ceil_mode": True,
                "count_include_pad": False,
            },
        ),
    ]


def empty_window_cases() -> list[Case]:
    """Windows entirely in padding (padding >= the effective kernel) [EmptyWindow]."""
    x3 = x1([1.5, -2.0, 0.25])
    pad2 = {"kernel_size": [2], "stride": [1], "padding": [[2, 2]]}
    return [
        edge(
            name="windows_entirely_in_padding",
            op="max_pool",
            comment="windows entirely in padding: L=3, k=2, s=1, pad (2,2); the first and last "
            "windows have no input element (reference: -inf)",
            focus=["POOL-EMPTY-1", "POOL-MAX-1"],
            x=x3,
            params=pad2,
        ),
        edge(
            name="windows_entirely_in_padding",
            op="max_pool_with_indices",
            comment="windows entirely in padding with indices: L=3, k=2, s=1, pad "
            "(2,2) (reference: -inf, index -1)",
            focus=["POOL-EMPTY-1", "POOL-IDX-1"],
            x=x3,
            params=pad2,
        ),
        edge(
            name="int8_windows_entirely_in_padding",
            op="max_pool",
            comment="int8 windows entirely in padding: L=3, k=2, s=1, pad (2,2) (reference: "
            "the dtype minimum -128)",
            focus=["POOL-EMPTY-1", "POOL-MAX-6"],
            x=x1([5, -7, 100], "int8"),
            params=pad2,
        ),
        edge(
            name="windows_entirely_in_padding_include_pad",
            op="avg_pool",
            comment="windows entirely in padding, count_include_pad: L=3, k=2, s=1, pad (2,2) "
            "(reference: 0 = zero sum over divisor 2)",
            focus=["POOL-AVG-3", "POOL-EMPTY-1"],
            x=x3,
            params={**pad2, "count_include_pad": True},
        ),
        edge(
            name="windows_entirely_in_padding_exclude_pad",
            op="avg_pool",
            comment="windows entirely in padding, count_include_pad False: L=3, k=2, s=1, pad "
            "(2,2) (reference: NaN, divisor 0)",
            focus=["POOL-AVG-4", "POOL-EMPTY-1"],
            x=x3,
            params={**pad2, "count_include_pad": False},
        ),
        edge(
            name="windows_entirely_in_padding",
            op="lp_pool",
            comment="windows entirely in padding in Lp: L=3, k=2, s=1, pad (2,2), p=2 "
            "(reference: 0)",
            focus=["POOL-EMPTY-1", "POOL-GRAD-8", "POOL-LP-1"],
            x=x3,
            params={**pad2, "p": 2},
        ),
        edge(
            name="windows_entirely_in_padding_dilated_2d",
            op="max_pool",
            comment="2D windows entirely in padding with dilation: k=2, d=2 (eff 3), pad 3 on "
            "one side of each dim",
            focus=["POOL-EMPTY-1", "POOL-GEOM-1", "POOL-GEOM-8"],
            x=draw((1, 1, 3, 3), "float32"),
            params={
                "kernel_size": [2, 2],
                "stride": [1, 1],
                "padding": [[3, 0], [0, 3]],
                "dilation": [2, 2],
            },
        ),
    ]


def padding_limit_cases() -> list[Case]:
    """Explicit padding past a library's limit with every window holding an input element
    [POOL-PARAM-7]: valid for the reference, an error for a backend declaring the limit."""
    return [
        edge(
            name="padding_equal_to_kernel_dilated",
            op="max_pool",
            comment="padding (2,2) equal to kernel_size 2, dilation 3 (effective kernel 4): "
            "every window holds an input element; ONNX Runtime rejects pads >= kernel_shape",
            focus=["POOL-PARAM-7", "POOL-GEOM-8"],
            x=x1([0.5, -1.0, 3.0, 2.0, -0.25]),
            params={"kernel_size": [2], "stride": [1], "dilation": [3], "padding": [[2, 2]]},
        ),
        edge(
            name="padding_over_half_kernel",
            op="avg_pool",
            comment="end padding 2 over half of kernel_size 3: the last window holds x[3] "
            "(divisor 3 with count_include_pad); PyTorch rejects pad > kernel_size/2",
            focus=["POOL-PARAM-7", "POOL-AVG-3"],
            x=x1([1.0, 2.0, 4.0, 8.0]),
            params={
                "kernel_size": [3],
                "stride": [1],
                "padding": [[0, 2]],
                "count_include_pad": True,
            },
        ),
    ]


def dilation_and_gap_cases() -> list[Case]:
    """Dilation with padding, and strides that leave gaps between windows."""
    dilated = {"kernel_size": [3], "stride": [1], "padding": [[2, 2]], "dilation": [2]}
    return [
        edge(
            name="dilation_include_pad",
            op="avg_pool",
            comment="dilation 2 with count_include_pad: L=6, k=3, pad (2,2); only the dilated "
            "taps inside the padded extent count, not the holes",
            focus=["POOL-AVG-3", "POOL-AVG-5", "POOL-GEOM-1", "POOL-GEOM-8"],
            x=X6,
            params={**dilated, "count_include_pad": True},
        ),
        edge(
            name="dilation_exclude_pad",
            op="avg_pool",
            comment="dilation 2 without count_include_pad: L=6, k=3, pad (2,2); divisor = "
            "in-bounds dilated taps",
            focus=["POOL-AVG-4", "POOL-AVG-5", "POOL-GEOM-1"],
            x=X6,
            params={**dilated, "count_include_pad": False},
        ),
        edge(
            name="dilation_per_dim_include_pad_2d",
            op="avg_pool",
            comment="2D dilation (2,1) with count_include_pad and padding 1, 5x5",
            focus=["POOL-AVG-3", "POOL-AVG-5", "POOL-GEOM-1"],
            x=draw((1, 1, 5, 5), "float32"),
            params={"kernel_size": [2, 2], "stride": [1, 2], "padding": [1, 1], "dilation": [2, 1]},
        ),
        edge(
            name="stride_larger_than_kernel",
            op="max_pool",
            comment="stride 3 > kernel 2: elements between windows are never read",
            focus=["POOL-GEOM-2", "POOL-GEOM-8"],
            x=draw((1, 1, 8), "float32"),
            params={"kernel_size": [2], "stride": [3]},
        ),
        edge(
            name="stride_larger_than_kernel_2d",
            op="avg_pool",
            comment="2D stride (3,2) > kernel (2,1): gaps in both dims",
            focus=["POOL-AVG-1", "POOL-GEOM-2"],
            x=draw((1, 1, 7, 5), "float32"),
            params={"kernel_size": [2, 1], "stride": [3, 2]},
        ),
    ]


def padding_form_cases() -> list[Case]:
    """One-sided, mixed, plain-int and same_* padding."""
    return [
        edge(
            name="padding_end_only",
            op="max_pool",
            comment="padding on one side only: pad (0,2), k=3, s=1, L=5",
            focus=["POOL-MAX-1", "POOL-PARAM-4"],
            x=X5,
            params={"kernel_size": [3], "stride": [1], "padding": [[0, 2]]},
        ),
        edge(
            name="padding_begin_only_include_pad",
            op="avg_pool",
            comment="padding on the begin side only, count_include_pad: pad (2,0), k=3, L=5",
            focus=["POOL-AVG-3", "POOL-PARAM-4"],
            x=X5,
            params={"kernel_size": [3], "stride": [1], "padding": [[2, 0]]},
        ),
        edge(
            name="padding_one_side_per_dim_2d",
            op="lp_pool",
            comment="2D padding on one side per dim: (0,1),(1,0), k=2, p=3",
            focus=["POOL-LP-1", "POOL-PARAM-4"],
            x=draw((1, 1, 4, 4), "float32"),
            params={"kernel_size": [2, 2], "stride": [1, 1], "padding": [[0, 1], [1, 0]], "p": 3},
        ),
        edge(
            name="padding_mixed_int_and_pair",
            op="max_pool",
            comment="padding written mixed per dim: [1, [0, 2]] (int for dim 0, pair for dim 1)",
            focus=["POOL-PARAM-4", "POOL-PARAM-5"],
            x=draw((1, 1, 4, 4), "float32"),
            params={"kernel_size": [3, 3], "stride": [1, 2], "padding": [1, [0, 2]]},
        ),
        edge(
            name="plain_int_arguments_2d",
            op="max_pool",
            comment="kernel_size, stride and dilation written as plain ints in 2D",
            focus=["POOL-PARAM-1", "POOL-PARAM-2", "POOL-PARAM-3", "POOL-PARAM-5"],
            x=draw((1, 1, 6, 6), "float32"),
            params={"kernel_size": 2, "stride": 2, "dilation": 2, "padding": 1},
        ),
        edge(
            name="same_lower_even_kernel",
            op="avg_pool",
            comment="same_lower with even kernel: the odd padding element goes to the start",
            focus=["POOL-AVG-3", "POOL-GEOM-5"],
            x=X5,
            params={"kernel_size": [2], "stride": [1], "padding": "same_lower"},
        ),
        edge(
            name="same_upper_even_kernel",
            op="avg_pool",
            comment="same_upper with even kernel: the odd padding element goes to the end",
            focus=["POOL-AVG-3", "POOL-GEOM-5"],
            x=X5,
            params={"kernel_size": [2], "stride": [1], "padding": "same_upper"},
        ),
        edge(
            name="same_upper_stride_2_ceil",
            op="max_pool",
            comment="same_upper with stride 2 and ceil mode on L=6, k=3",
            focus=["POOL-GEOM-3", "POOL-GEOM-5"],
            x=X6,
            params={"kernel_size": [3], "stride": [2], "padding": "same_upper", "ceil_mode": True},
        ),
        edge(
            name="divisor_override_larger_than_window",
            op="avg_pool",
            comment="divisor_override 7 larger than the window (k=2x2)",
            focus=["POOL-AVG-2"],
            x=draw((1, 1, 4, 4), "float32"),
            params={"kernel_size": [2, 2], "divisor_override": 7},
        ),
        edge(
            name="indices_flat_per_plane_channels_last",
            op="max_pool_with_indices",
            comment="indices are flat per (N, C) plane: N=2, C=2, channels_last "
            "(the index is row-major over the spatial dims, whatever the layout)",
            focus=["POOL-IDX-1", "POOL-IDX-4", "POOL-LAYOUT-1"],
            x=draw((2, 2, 4, 4), layout="channels_last"),
            params={"kernel_size": [2, 2], "stride": [2, 2], "layout": "channels_last"},
        ),
    ]


def lp_cases() -> list[Case]:
    """Lp specifics: absolute values, zero windows, exact roots."""
    negatives = x1([-1.5, -2.0, 0.75, -0.5, 3.0])
    return [
        edge(
            name="p1_sums_absolute_values",
            op="lp_pool",
            comment="Lp with p=1 over negative values: |x| is summed (no cancellation)",
            focus=["POOL-LP-1"],
            x=negatives,
            params={"kernel_size": [2], "stride": [1], "p": 1},
        ),
        edge(
            name="p3_cubes_absolute_values",
            op="lp_pool",
            comment="Lp with p=3 over negative values: |x|**3, not x**3",
            focus=["POOL-LP-1"],
            x=negatives,
            params={"kernel_size": [2], "stride": [1], "p": 3},
        ),
        edge(
            name="window_of_zeros",
            op="lp_pool",
            comment="Lp with a window of zeros: forward 0; the gradient at a zero norm is "
            "implementation-defined",
            focus=["POOL-GRAD-8", "POOL-LP-1"],
            x=x1([0.0, 0.0, 1.0, -2.0]),
            params={"kernel_size": [2], "stride": [2]},
        ),
        edge(
            name="p2_exact_root_3_4_5",
            op="lp_pool",
            comment="Lp p=2 with a 3-4-5 window: exactly 5",
            focus=["POOL-DTYPE-3", "POOL-LP-1"],
            x=x1([3.0, -4.0, 0.0, 12.0, 5.0, 0.0]),
            params={"kernel_size": [3], "stride": [3], "p": 2},
        ),
    ]


def adaptive_cases() -> list[Case]:
    """Uneven, overlapping and growing adaptive windows."""
    x3 = x1([1.0, -2.0, 0.5])
    focus = ["POOL-ADAPT-1", "POOL-GRAD-6"]
    return [
        edge(
            name="uneven_5_to_3",
            op="adaptive_avg_pool",
            comment="adaptive L=5 -> O=3: windows [0,2), [1,4), [3,5) overlap unevenly",
            focus=focus,
            x=X5,
            params={"output_size": [3]},
        ),
        edge(
            name="uneven_7_to_4",
            op="adaptive_max_pool",
            comment="adaptive L=7 -> O=4: windows [0,2), [1,4), [3,6), [5,7)",
            focus=focus,
            x=draw((1, 2, 7), "float32"),
            params={"output_size": [4]},
        ),
        edge(
            name="grow_3_to_5",
            op="adaptive_avg_pool",
            comment="adaptive O > L: L=3 -> O=5, every window non-empty, elements repeat",
            focus=focus,
            x=x3,
            params={"output_size": [5]},
        ),
        edge(
            name="grow_3_to_5",
            op="adaptive_max_pool",
            comment="adaptive O > L: L=3 -> O=5",
            focus=focus,
            x=x3,
            params={"output_size": [5]},
        ),
        *with_float32_twin(
            name="uneven_2d",
            op="adaptive_max_pool",
            comment="adaptive 2D (5,7) -> (3,4), uneven overlaps in both dims",
            focus=focus,
            x=draw((1, 1, 5, 7), "float64"),
            params={"output_size": [3, 4]},
        ),
        edge(
            name="shrink_and_grow_3d",
            op="adaptive_avg_pool",
            comment="adaptive 3D (3,4,2) -> (2,3,3): shrink, shrink and grow",
            focus=focus,
            x=draw((1, 1, 3, 4, 2), "float32"),
            params={"output_size": [2, 3, 3]},
        ),
        edge(
            name="output_size_1_is_global",
            op="adaptive_avg_pool",
            comment="adaptive output_size 1 equals global average",
            focus=["POOL-ADAPT-1", "POOL-GLOBAL-1"],
            x=draw((2, 1, 4, 3), "float32"),
            params={"output_size": 1},
        ),
    ]


def conv_cases() -> list[Case]:
    """Depthwise, pointwise, dilated and strided convolutions with same_* padding."""
    return [
        edge(
            name="depthwise_2d",
            op="conv",
            comment="depthwise conv: groups = C_in = C_out = 4, 2D, padding 1",
            focus=["POOL-CONV-1", "POOL-CONV-2", "POOL-GRAD-5"],
            x=draw((1, 4, 4, 4), "float32", distinct=False),
            weight=draw((4, 1, 3, 3), "float32", distinct=False),
            params={"padding": 1, "groups": 4},
        ),
        *with_float32_twin(
            name="pointwise_bias_channels_last",
            op="conv",
            comment="conv 1x1 kernel, C_in 3 -> C_out 2, with bias, channels_last",
            focus=["POOL-CONV-1", "POOL-CONV-4", "POOL-GRAD-5", "POOL-LAYOUT-1"],
            x=draw((2, 3, 3, 3), "float64", distinct=False, layout="channels_last"),
            weight=draw((2, 3, 1, 1), "float64", distinct=False),
            bias=draw((2,), "float64", distinct=False),
            params={"layout": "channels_last"},
        ),
        edge(
            name="dilation_same_lower_even_kernel",
            op="conv",
            comment="conv dilation 2 with same_lower and an even kernel (odd padding at the start)",
            focus=["POOL-CONV-1", "POOL-GEOM-1", "POOL-GEOM-5", "POOL-GRAD-5"],
            x=draw((1, 1, 6), "float32", distinct=False),
            weight=draw((1, 1, 2), "float32", distinct=False),
            params={"padding": "same_lower", "dilation": 2},
        ),
        edge(
            name="stride_2_same_upper_odd_padding",
            op="conv",
            comment="conv stride 2 with same_upper where the total padding is odd",
            focus=["POOL-CONV-1", "POOL-GEOM-5", "POOL-GRAD-5"],
            x=draw((1, 2, 6, 5), "float32", distinct=False),
            weight=draw((2, 2, 2, 3), "float32", distinct=False),
            params={"stride": 2, "padding": "same_upper"},
        ),
        edge(
            name="kernel_equals_input",
            op="conv",
            comment="conv kernel equal to the input: one output per channel",
            focus=["POOL-CONV-1", "POOL-GRAD-5"],
            x=draw((2, 2, 3, 3), "float32", distinct=False),
            weight=draw((3, 2, 3, 3), "float32", distinct=False),
            bias=draw((3,), "float32", distinct=False),
        ),
    ]


def zero_pad_cases() -> list[Case]:
    """Zero padding larger than the input, zero padding, special values kept."""
    return [
        edge(
            name="padding_larger_than_input",
            op="zero_pad",
            comment="zero_pad with padding larger than the input (L=2, pad (3,4))",
            focus=["POOL-PAD-1"],
            x=x1([1.0, -1.0]),
            params={"padding": [[3, 4]]},
        ),
        edge(
            name="zero_padding_is_identity",
            op="zero_pad",
            comment="zero_pad with padding 0 is the identity (int16)",
            focus=["POOL-PAD-1"],
            x=draw((1, 2, 2, 3), "int16"),
            params={"padding": 0},
        ),
        edge(
            name="keeps_special_values",
            op="zero_pad",
            comment="zero_pad keeps -0.0, NaN and infinities of the input",
            focus=["POOL-MAX-3", "POOL-PAD-1"],
            x=x1([-0.0, math.nan, math.inf, -math.inf]),
            params={"padding": [[1, 1]]},
        ),
    ]


def edge_cases() -> list[Case]:
    """Every geometry edge but unpooling's, in a fixed order."""
    return [
        *ceil_last_window_cases(),
        *ceil_overhang_cases(),
        *kernel_size_cases(),
        *empty_window_cases(),
        *padding_limit_cases(),
        *dilation_and_gap_cases(),
        *padding_form_cases(),
        *lp_cases(),
        *adaptive_cases(),
        *conv_cases(),
        *zero_pad_cases(),
    ]
