"""Arguments the spec forbids (family ``invalid``), one row per line.

The reference raises ``SpecError`` with exactly the row's clause; the vector stores
``params`` and ``inputs`` only. One spec violation per row. A row reads
``bad(name, op, clause, what, x, [indices=, weight=, bias=,] **params)``.

Not declared here: invalid gradient arguments (an unknown ``tie_policy``, a
``grad_output`` of the wrong shape, POOL-GRAD-7), because vectors hold invalid cases
for forward ops only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.tools.cases.case import Case, case
from poolconf.tools.cases.inputs import Draw, draw, literal, random_values, x1


@dataclass(frozen=True)
class Bad:
    """One invalid call: ``op(**inputs, **params)`` raises ``SpecError`` [``clause``]."""

    name: str
    op: str
    clause: str
    what: str
    inputs: dict[str, np.ndarray | Draw]
    params: dict[str, Any]


def bad(
    name: str,
    op: str,
    clause: str,
    what: str,
    x: np.ndarray | Draw,
    /,
    *,
    indices: np.ndarray | Draw | None = None,
    weight: np.ndarray | Draw | None = None,
    bias: np.ndarray | Draw | None = None,
    **params: Any,
) -> Bad:
    arrays = {"x": x, "indices": indices, "weight": weight, "bias": bias}
    inputs = {k: v for k, v in arrays.items() if v is not None}
    return Bad(name, op, clause, what, inputs, params)


def rows() -> list[Bad]:
    x_2d = random_values("x_2d", (1, 1, 4, 4), "float32")
    x_1d = random_values("x_1d", (1, 1, 5), "float32")
    x3 = x1([1.0, 2.0, 3.0])

    def idx(*values: int) -> np.ndarray:
        return literal([[list(values)]], "int64")

    # fmt: off
    return [
        bad("kernel_size_zero", "max_pool", "POOL-PARAM-1", "kernel_size 0", x_2d, kernel_size=[0, 2]),
        bad("kernel_size_zero_int", "avg_pool", "POOL-PARAM-1", "kernel_size 0 as a plain int", x_2d, kernel_size=0),
        bad("stride_zero", "max_pool", "POOL-PARAM-2", "stride 0", x_2d, kernel_size=[2, 2], stride=[0, 1]),
        bad("stride_zero_int", "lp_pool", "POOL-PARAM-2", "stride 0 as a plain int", x_1d, kernel_size=[2], stride=0),
        bad("dilation_zero", "max_pool", "POOL-PARAM-3", "dilation 0", x_2d, kernel_size=[2, 2], dilation=[1, 0]),
        bad("dilation_negative", "avg_pool", "POOL-PARAM-3", "dilation -1", x_1d, kernel_size=[2], dilation=-1),
        bad("padding_negative_int", "max_pool", "POOL-PARAM-4", "negative padding as an int", x_2d, kernel_size=[2, 2], padding=-1),
        bad("padding_negative_end", "avg_pool", "POOL-PARAM-4", "negative end padding in a pair", x_2d, kernel_size=[2, 2], padding=[[0, 0], [1, -1]]),
        bad("padding_string_same", "max_pool_with_indices", "POOL-PARAM-4", "unknown padding string 'same'", x_2d, kernel_size=[2, 2], padding="same"),
        bad("padding_string_upper_case", "lp_pool", "POOL-PARAM-4", "padding string in the wrong case 'SAME_UPPER'", x_1d, kernel_size=[2], padding="SAME_UPPER"),
        bad("padding_pair_of_three", "max_pool", "POOL-PARAM-4", "padding pair with three entries", x_1d, kernel_size=[2], padding=[[1, 1, 1]]),
        bad("kernel_size_too_long", "max_pool", "POOL-PARAM-5", "kernel_size with 2 entries for a 1D input", x_1d, kernel_size=[2, 2]),
        bad("stride_too_long", "avg_pool", "POOL-PARAM-5", "stride with 3 entries for a 2D input", x_2d, kernel_size=[2, 2], stride=[1, 1, 1]),
        bad("padding_too_short", "max_pool", "POOL-PARAM-5", "padding with 1 entry for a 2D input", x_2d, kernel_size=[2, 2], padding=[[1, 1]]),
        bad("ceil_mode_int", "max_pool", "POOL-PARAM-6", "ceil_mode 1 is not a bool", x_2d, kernel_size=[2, 2], ceil_mode=1),
        bad("ceil_mode_string", "avg_pool", "POOL-PARAM-6", "ceil_mode 'true' is not a bool", x_1d, kernel_size=[2], ceil_mode="true"),
        bad("count_include_pad_int", "avg_pool", "POOL-PARAM-6", "count_include_pad 0 is not a bool", x_1d, kernel_size=[2], count_include_pad=0),
        bad("kernel_larger_than_input", "max_pool", "POOL-GEOM-7", "kernel 5 larger than the input L=4 in floor mode: output length 0", x_2d, kernel_size=[5, 2]),
        bad("dilated_kernel_larger_than_input", "avg_pool", "POOL-GEOM-7", "dilated kernel (eff 7) larger than the padded input L=5", x_1d, kernel_size=[4], dilation=[2], padding=[[0, 1]]),
        bad("divisor_override_zero", "avg_pool", "POOL-AVG-2", "divisor_override 0", x_2d, kernel_size=[2, 2], divisor_override=0),
        bad("divisor_override_negative", "avg_pool", "POOL-AVG-2", "divisor_override -2", x_1d, kernel_size=[2], divisor_override=-2),
        bad("p_zero", "lp_pool", "POOL-LP-2", "p 0", x_1d, kernel_size=[2], p=0),
        bad("p_not_an_integer", "lp_pool", "POOL-LP-2", "p 1.5 (not an integer)", x_1d, kernel_size=[2], p=1.5),
        bad("p_zero", "global_lp_pool", "POOL-LP-2", "global Lp with p 0", x_2d, p=0),
        bad("output_size_zero", "adaptive_avg_pool", "POOL-ADAPT-2", "output_size 0", x_2d, output_size=[0, 2]),
        bad("output_size_zero_int", "adaptive_max_pool", "POOL-ADAPT-2", "output_size 0 as a plain int", x_1d, output_size=0),
        bad("output_size_too_short", "adaptive_max_pool", "POOL-PARAM-5", "output_size with 1 entry for a 2D input", x_2d, output_size=[2]),
        bad("layout_nhwc", "max_pool", "POOL-LAYOUT-1", "unknown layout 'NHWC'", x_2d, kernel_size=[2, 2], layout="NHWC"),
        bad("layout_unknown", "global_avg_pool", "POOL-LAYOUT-1", "unknown layout 'channels_middle'", x_2d, layout="channels_middle"),
        bad("no_spatial_dim", "max_pool", "POOL-SHAPE-1", "input without a spatial dim (shape (2, 5))", draw((2, 5)), kernel_size=[2]),
        bad("empty_spatial_dim", "avg_pool", "POOL-SHAPE-1", "input with an empty spatial dim (shape (1, 1, 0))", np.zeros((1, 1, 0), dtype=np.float32), kernel_size=[1]),
        bad("integer_input_int32", "avg_pool", "POOL-DTYPE-1", "integer input (int32) for average pooling", draw((1, 1, 4, 4), "int32"), kernel_size=[2, 2]),
        bad("integer_input_int8", "lp_pool", "POOL-DTYPE-1", "integer input (int8) for Lp pooling", draw((1, 1, 5), "int8"), kernel_size=[2]),
        bad("integer_input_uint8", "adaptive_avg_pool", "POOL-DTYPE-1", "integer input (uint8) for adaptive average", draw((1, 1, 5), "uint8"), output_size=[2]),
        bad("integer_input_int64", "global_avg_pool", "POOL-DTYPE-1", "integer input (int64) for global average", draw((1, 1, 5), "int64")),
        bad("integer_input_uint16", "global_lp_pool", "POOL-DTYPE-1", "integer input (uint16) for global Lp", draw((1, 1, 5), "uint16"), p=2),
        bad("integer_input_int16", "conv", "POOL-DTYPE-1", "integer input (int16) for convolution", draw((1, 1, 5), "int16"), weight=draw((1, 1, 2), "int16")),
        bad("groups_not_dividing_channels", "conv", "POOL-CONV-2", "groups 3 does not divide C_in 4", draw((1, 4, 5)), weight=draw((3, 1, 2)), groups=3),
        bad("groups_zero", "conv", "POOL-CONV-2", "groups 0", draw((1, 2, 5)), weight=draw((2, 2, 2)), groups=0),
        bad("weight_channels_mismatch", "conv", "POOL-CONV-3", "weight C_in/groups 3 does not match the input's 4 channels", draw((1, 4, 5)), weight=draw((2, 3, 2))),
        bad("weight_dtype_mismatch", "conv", "POOL-CONV-3", "weight dtype float64 for a float32 input", draw((1, 2, 5)), weight=draw((2, 2, 2), "float64")),
        bad("weight_rank_mismatch", "conv", "POOL-CONV-3", "weight of rank 4 for a 1D input", draw((1, 2, 5)), weight=draw((2, 2, 2, 2))),
        bad("bias_shape_mismatch", "conv", "POOL-CONV-4", "bias of shape (3,) for C_out 2", draw((1, 2, 5)), weight=draw((2, 2, 2)), bias=draw((3,))),
        bad("stride_zero", "conv", "POOL-PARAM-2", "stride 0", draw((1, 2, 5)), weight=draw((2, 2, 2)), stride=0),
        bad("kernel_longer_than_padded_input", "conv", "POOL-GEOM-7", "kernel 4 longer than the padded input 3", draw((1, 1, 2)), weight=draw((1, 1, 4)), padding=[[0, 1]]),
        bad("index_past_default_output", "max_unpool", "POOL-UNPOOL-3", "index 6 outside the default output of 6 elements", x3, indices=idx(1, 2, 6), kernel_size=[2]),
        bad("index_negative", "max_unpool", "POOL-UNPOOL-3", "negative index -1", x3, indices=idx(-1, 2, 5), kernel_size=[2]),
        bad("indices_shape_mismatch", "max_unpool", "POOL-UNPOOL-3", "indices shape differs from x", x3, indices=idx(1, 2), kernel_size=[2]),
        bad("index_past_output_size", "max_unpool", "POOL-UNPOOL-3", "index 5 outside an explicit output_size [5]", x3, indices=idx(1, 2, 5), kernel_size=[2], output_size=[5]),
        bad("padding_string", "max_unpool", "POOL-UNPOOL-1", "padding string for unpooling", x3, indices=idx(1, 2, 5), kernel_size=[2], padding="same_upper"),
        bad("default_length_below_one", "max_unpool", "POOL-UNPOOL-1", "default unpooled length < 1 (k=1, padding (1,1) on L=1)", x1([1.0]), indices=idx(0), kernel_size=[1], padding=[[1, 1]]),
        bad("padding_string", "zero_pad", "POOL-PAD-1", "padding string for zero_pad", x_1d, padding="valid"),
        bad("padding_negative", "zero_pad", "POOL-PARAM-4", "negative padding for zero_pad", x_1d, padding=[[0, -2]]),
    ]
    # fmt: on


def invalid_cases() -> list[Case]:
    """Every invalid row as a case, in a fixed order."""
    return [
        case(
            name=r.name,
            op=r.op,
            family="invalid",
            comment=f"invalid: {r.op} {r.what}",
            focus=[r.clause],
            x=r.inputs["x"],
            indices=r.inputs.get("indices"),
            weight=r.inputs.get("weight"),
            bias=r.inputs.get("bias"),
            params=r.params,
            result="invalid",
            error_clause=r.clause,
        )
        for r in rows()
    ]
