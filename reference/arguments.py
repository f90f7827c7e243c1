"""The spec's argument rules, one function each [POOL-SHAPE-*, POOL-PARAM-*, POOL-DTYPE-1, ...].

Every op of the reference validates its arguments with these functions, and so do the
NumPy backends, so a rule and its message exist once. Each raises ``SpecError`` naming
the argument, its value and the clause, e.g. ``stride[1]=0 must be >= 1 [POOL-PARAM-2]``.
The window geometry itself (kernel, stride, dilation, padding, ceil mode) is validated
by ``poolconf.reference.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poolconf import SpecError
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.catalog import LAYOUTS, TIE_POLICIES
from poolconf.reference.geometry import check_padding_string as check_padding_string


def _dtype_of(a: np.ndarray, name: str, clause: str) -> str:
    """The spec dtype name of ``a``; an unknown dtype is an error citing ``clause``."""
    try:
        return dt.dtype_name(a.dtype)
    except SpecError:
        raise SpecError(
            f"{name}.dtype={a.dtype.name!r} is not one of {list(dt.ALL_DTYPES)}", clause
        ) from None


def check_layout(layout: object) -> str:
    """``layout`` is ``"channels_first"`` or ``"channels_last"`` [POOL-LAYOUT-1]."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise SpecError(f"layout={layout!r} is not one of {list(LAYOUTS)}", "POOL-LAYOUT-1")
    return layout


def check_array(x: object, name: str, allowed: Sequence[str], op: str, layout: object) -> str:
    """An input array ``(N, C, *spatial)`` in ``layout``, at least one spatial dim, none
    empty [POOL-SHAPE-1], of a dtype ``op`` accepts [POOL-DTYPE-1]. Returns the spec
    dtype name."""
    if not isinstance(x, np.ndarray):
        raise SpecError(f"{name} must be a numpy.ndarray, got {type(x).__name__}", "POOL-SHAPE-1")
    if x.ndim < 3:
        raise SpecError(
            f"{name}.shape={x.shape} must be (N, C, *spatial) with at least one spatial dim",
            "POOL-SHAPE-1",
        )
    dtype = dt.dtype_name(x.dtype)
    if dtype not in allowed:
        raise SpecError(
            f"{name}.dtype={dtype!r} is not supported by {op}; allowed: {list(allowed)}",
            "POOL-DTYPE-1",
        )
    if any(n < 1 for n in geo.spatial_shape(x.shape, check_layout(layout))):
        raise SpecError(f"{name}.shape={x.shape} has an empty spatial dim", "POOL-SHAPE-1")
    return dtype


def check_bool(value: object, name: str) -> bool:
    """``ceil_mode``, ``count_include_pad``: ``True`` or ``False`` (a Python or NumPy
    bool) [POOL-PARAM-6]."""
    if not isinstance(value, (bool, np.bool_)):
        raise SpecError(f"{name}={value!r} must be a bool", "POOL-PARAM-6")
    return bool(value)


def check_divisor(divisor_override: object) -> int | None:
    """``divisor_override``: None or an integer >= 1 [POOL-AVG-2]."""
    if divisor_override is None:
        return None
    if not geo.is_integer(divisor_override) or int(divisor_override) < 1:
        raise SpecError(
            f"divisor_override={divisor_override!r} must be an integer >= 1", "POOL-AVG-2"
        )
    return int(divisor_override)


def check_p(p: object) -> int:
    """``p``: an integer >= 1 [POOL-LP-2]."""
    if not geo.is_integer(p) or int(p) < 1:
        raise SpecError(f"p={p!r} must be an integer >= 1", "POOL-LP-2")
    return int(p)


def check_tie_policy(tie_policy: object) -> str:
    """``tie_policy``: ``"first"`` or ``"all"`` [POOL-GRAD-2]."""
    if not isinstance(tie_policy, str) or tie_policy not in TIE_POLICIES:
        raise SpecError(
            f"tie_policy={tie_policy!r} is not one of {list(TIE_POLICIES)}", "POOL-GRAD-2"
        )
    return tie_policy


def check_grad_output(g: object, expected_shape: Sequence[int], dtype: str) -> np.ndarray:
    """``grad_output``: an array of exactly the forward output's shape (in the call's
    layout) and the dtype of ``x`` [POOL-GRAD-7]."""
    if not isinstance(g, np.ndarray):
        raise SpecError(
            f"grad_output must be a numpy.ndarray, got {type(g).__name__}", "POOL-GRAD-7"
        )
    if tuple(g.shape) != tuple(expected_shape):
        raise SpecError(
            f"grad_output.shape={tuple(g.shape)} must equal the forward output shape "
            f"{tuple(expected_shape)}",
            "POOL-GRAD-7",
        )
    g_dt = _dtype_of(g, "grad_output", "POOL-GRAD-7")
    if g_dt != dtype:
        raise SpecError(f"grad_output.dtype={g_dt!r} must equal x.dtype={dtype!r}", "POOL-GRAD-7")
    return g


def explicit_padding(
    padding: object, spatial: Sequence[int], clause: str, op: str
) -> tuple[tuple[int, int], ...]:
    """Explicit ``(begin, end)`` padding per dim for ``max_unpool`` and ``zero_pad``,
    which take no padding string [POOL-PARAM-4, ``clause``]."""
    if isinstance(padding, str):
        raise SpecError(f"padding={padding!r}: {op} takes explicit padding only", clause)
    ones = (1,) * len(spatial)
    return geo.resolve_padding(padding, spatial, ones, ones, ones)


def unpool_output_size(
    x: np.ndarray,
    indices: object,
    kernel_size: object,
    stride: object,
    padding: object,
    output_size: object,
    layout: str,
) -> tuple[str, tuple[int, ...]]:
    """Validate a ``max_unpool`` call; its dtype and output spatial shape: ``output_size``
    (an integer, or one per dim, each >= 1) or ``(in-1)*s - pb - pe + k``
    [POOL-UNPOOL-1, POOL-UNPOOL-3]."""
    dtype = check_array(x, "x", dt.ALL_DTYPES, "max_unpool", layout)
    if not isinstance(indices, np.ndarray) or indices.shape != x.shape:
        got = indices.shape if isinstance(indices, np.ndarray) else type(indices).__name__
        raise SpecError(f"indices.shape={got} must equal x.shape={x.shape}", "POOL-UNPOOL-3")
    if indices.dtype.kind not in "iu":
        raise SpecError(
            f"indices.dtype={indices.dtype.name!r} must be an integer dtype", "POOL-UNPOOL-3"
        )
    spatial = geo.spatial_shape(x.shape, layout)
    rank = len(spatial)
    if isinstance(padding, str):
        raise SpecError(
            f"padding={padding!r}: max_unpool takes explicit padding only", "POOL-UNPOOL-1"
        )
    k = geo.per_dim(kernel_size, "kernel_size", rank, 1, "POOL-PARAM-1")
    s = k if stride is None else geo.per_dim(stride, "stride", rank, 1, "POOL-PARAM-2")
    pads = geo.resolve_padding(padding, spatial, k, s, (1,) * rank)
    if output_size is not None:
        return dtype, geo.per_dim(output_size, "output_size", rank, 1, "POOL-UNPOOL-1")
    out = tuple(
        geo.unpool_output_length(L, ki, si, pb, pe)
        for L, ki, si, (pb, pe) in zip(spatial, k, s, pads)
    )
    for i, o in enumerate(out):
        if o < 1:
            raise SpecError(
                f"unpooled length {o} along spatial dim {i} must be >= 1", "POOL-UNPOOL-1"
            )
    return dtype, out


def check_conv(
    x: np.ndarray, weight: object, bias: object, groups: object, layout: str, op: str
) -> tuple[str, int]:
    """Validate conv operands; return the dtype and ``groups`` [POOL-CONV-2..4]."""
    dtype = check_array(x, "x", dt.FLOAT_DTYPES, op, layout)
    if not isinstance(weight, np.ndarray) or weight.ndim != x.ndim:
        got = weight.shape if isinstance(weight, np.ndarray) else type(weight).__name__
        raise SpecError(f"weight.shape={got} must be (C_out, C_in/groups, *kernel)", "POOL-CONV-3")
    if _dtype_of(weight, "weight", "POOL-CONV-3") != dtype:
        raise SpecError(
            f"weight.dtype={weight.dtype.name!r} must equal x.dtype={dtype!r}", "POOL-CONV-3"
        )
    if not geo.is_integer(groups) or int(groups) < 1:
        raise SpecError(f"groups={groups!r} must be an integer >= 1", "POOL-CONV-2")
    grp = int(groups)
    c_in = x.shape[-1 if layout == "channels_last" else 1]
    c_out = weight.shape[0]
    if c_in % grp or c_out % grp:
        raise SpecError(f"groups={grp} must divide C_in={c_in} and C_out={c_out}", "POOL-CONV-2")
    if weight.shape[1] * grp != c_in:
        raise SpecError(
            f"weight.shape[1]={weight.shape[1]} must equal C_in/groups={c_in // grp}", "POOL-CONV-3"
        )
    if bias is not None:
        if not isinstance(bias, np.ndarray) or bias.shape != (c_out,):
            got = bias.shape if isinstance(bias, np.ndarray) else type(bias).__name__
            raise SpecError(f"bias.shape={got} must be (C_out,)=({c_out},)", "POOL-CONV-4")
        if _dtype_of(bias, "bias", "POOL-CONV-4") != dtype:
            raise SpecError(
                f"bias.dtype={bias.dtype.name!r} must equal x.dtype={dtype!r}", "POOL-CONV-4"
            )
    return dtype, grp


def window_call(
    x: object,
    op: str,
    allowed: Sequence[str],
    layout: object,
    kernel_size: object,
    stride: object,
    padding: Any,
    dilation: object,
    ceil_mode: object,
) -> tuple[str, geo.PoolGeometry]:
    """Validate a windowed pooling call; return its dtype and window geometry."""
    dtype = check_array(x, "x", allowed, op, layout)
    assert isinstance(x, np.ndarray)
    ceil = check_bool(ceil_mode, "ceil_mode")
    spatial = geo.spatial_shape(x.shape, str(layout))
    return dtype, geo.pool_geometry(spatial, kernel_size, stride, padding, dilation, ceil)
