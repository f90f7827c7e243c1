"""Max, average and Lp pooling for the ``torch`` backend (see ``torch_backend``)."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import torch  # importing this backend imports torch; the harness itself never does
import torch.nn.functional as F

from poolconf import Unsupported
from poolconf.conformance.backends._torch_common import (
    _check_dtype,
    _explicit_pad,
    _lift,
    _native,
    _numpy,
    _padded_count_matches,
    _padding_unsupported,
    _Plan,
    _plan,
    _rank_fn,
    _spatial,
    _tensor,
)
from poolconf.reference import geometry as geo

# ---------------------------------------------------------------------------
# max pooling [POOL-MAX-*, POOL-IDX-*, POOL-GRAD-2]
# ---------------------------------------------------------------------------


def _max_call(t: Any, plan: _Plan, ceil_mode: Any, indices: bool) -> Any:
    rank = t.dim() - 2
    integer = not t.dtype.is_floating_point
    if rank == 1 and integer:  # torch's max_pool1d has no integer kernel; use its 2-D one
        out = cast(Any, F).max_pool2d(  # return_indices is a runtime bool, not a Literal
            t.unsqueeze(2),
            _lift(plan.kernel, 1),
            _lift(plan.stride, 1),
            _lift(plan.pad, 0),
            _lift(plan.dilation, 1),
            ceil_mode,
            indices,
        )
        return tuple(o.squeeze(2) for o in out) if indices else out.squeeze(2)
    fn = _rank_fn("max_pool", rank)
    return fn(t, plan.kernel, plan.stride, plan.pad, plan.dilation, ceil_mode, indices)


def _native_max_plan(op: str, x: np.ndarray, kw: dict[str, Any]) -> _Plan:
    """The plan for max ops that need indices or gradients: torch's own padding only,
    and no window entirely in padding."""
    plan = _plan(
        _spatial(x, kw["layout"]),
        kw["kernel_size"],
        kw["stride"],
        kw["padding"],
        kw["dilation"],
        kw["ceil_mode"],
    )
    if plan.explicit is not None:
        native = _native(plan)
        if native is None:
            raise _padding_unsupported(
                op,
                plan,
                "padding with -inf would let a padded element win a tie or an index",
                "POOL-PARAM-4",
            )
        return native  # torch's own limit decides
    if plan.geom is not None and plan.geom.has_empty_window():
        raise Unsupported(
            f"torch {op}: a window lies entirely in padding; torch reports an index of a "
            f"padding position for it instead of -1 [POOL-EMPTY-1, POOL-IDX-1]"
        )
    return plan


def _max_kw(
    kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any, layout: str
) -> dict[str, Any]:
    return {
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": ceil_mode,
        "layout": layout,
    }


def max_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """``F.max_pool{1,2,3}d``; other padding via ``F.pad(-inf)`` when no window is empty."""
    _check_dtype("max_pool", "max_pool", x)
    plan = _plan(_spatial(x, layout), kernel_size, stride, padding, dilation, ceil_mode)
    _, t = _tensor(x, layout)
    if plan.explicit is not None:
        assert plan.geom is not None
        why = ""
        if plan.geom.has_empty_window():
            why = "-inf padding is not equivalent when a window lies entirely in padding"
        elif not _padded_count_matches(plan, _spatial(x, layout), ceil_mode):
            why = "on the padded input torch's ceil-mode rule makes different windows"
        if not why:
            low = -math.inf if t.dtype.is_floating_point else int(torch.iinfo(t.dtype).min)
            t = _explicit_pad(t, plan.explicit, low)
        elif (native := _native(plan)) is not None:
            plan = native  # torch's own limit decides
        else:
            clause = "POOL-GEOM-4" if why.startswith("on the padded") else "POOL-PARAM-4"
            raise _padding_unsupported("max_pool", plan, why, clause)
    return _numpy(_max_call(t, plan, ceil_mode, False), layout)


def max_pool_with_indices(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray]:
    """``F.max_pool*d(return_indices=True)``: flat indices per (N, C) plane [POOL-IDX-1]."""
    _check_dtype("max_pool_with_indices", "max_pool", x)
    kw = _max_kw(kernel_size, stride, padding, dilation, ceil_mode, layout)
    plan = _native_max_plan("max_pool_with_indices", x, kw)
    _, t = _tensor(x, layout)
    values, idx = _max_call(t, plan, ceil_mode, True)
    return _numpy(values, layout), _numpy(idx, layout)


def max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """Autograd through ``F.max_pool*d``; torch routes to one element per window."""
    _check_dtype("max_pool_grad", "grad", x)
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: torch routes a max gradient to one element [POOL-GRAD-2]"
        )
    kw = _max_kw(kernel_size, stride, padding, dilation, ceil_mode, layout)
    plan = _native_max_plan("max_pool_grad", x, kw)
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _max_call(t, plan, ceil_mode, False).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


# ---------------------------------------------------------------------------
# average pooling [POOL-AVG-*, POOL-GRAD-1]
# ---------------------------------------------------------------------------


def _check_half_3d(op: str, t: Any) -> None:
    """torch 2.13's CPU avg_pool3d (and so lp_pool3d) has no float16/bfloat16 kernel."""
    if t.dim() == 5 and t.device.type == "cpu" and t.dtype in (torch.float16, torch.bfloat16):
        name = "float16" if t.dtype == torch.float16 else "bfloat16"
        raise Unsupported(f"torch has no {name} avg_pool3d kernel on cpu ({op}) [POOL-DTYPE-1]")


def _avg_forward(
    x: np.ndarray,
    t: Any,
    op: str,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    count_include_pad: Any,
    divisor_override: Any,
    layout: str,
) -> Any:
    spatial = _spatial(x, layout)
    # torch's avg_pool has no dilation argument: the adapter validates it [POOL-PARAM-3]
    dil = geo.per_dim(dilation, "dilation", len(spatial), 1, "POOL-PARAM-3")
    if any(d != 1 for d in dil):
        raise Unsupported(f"torch avg_pool has no dilation; got dilation={list(dil)} [POOL-AVG-5]")
    plan = _plan(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    if plan.explicit is not None:
        why, clause = "", ""
        if not (count_include_pad is True or divisor_override is not None) and plan.geom:
            why, clause = "zero padding changes the count_include_pad=False divisor", "POOL-AVG-4"
        elif plan.geom is not None and not _padded_count_matches(plan, spatial, ceil_mode):
            why = "on the padded input torch's ceil-mode rule makes different windows"
            clause = "POOL-GEOM-4"
        if not why:
            t = _explicit_pad(t, plan.explicit, 0.0)
        elif (native := _native(plan)) is not None:
            plan = native  # torch's own limit decides
        else:
            raise _padding_unsupported(op, plan, why, clause)
    rank = t.dim() - 2
    _check_half_3d(op, t)
    if rank == 1 and divisor_override is not None:  # avg_pool1d has no divisor_override
        out = F.avg_pool2d(
            t.unsqueeze(2),
            _lift(plan.kernel, 1),
            _lift(plan.stride, 1),
            _lift(plan.pad, 0),
            ceil_mode,
            count_include_pad,
            int(divisor_override),
        )
        return out.squeeze(2)
    fn = _rank_fn("avg_pool", rank)
    if rank == 1:
        return fn(t, plan.kernel, plan.stride, plan.pad, ceil_mode, count_include_pad)
    return fn(t, plan.kernel, plan.stride, plan.pad, ceil_mode, count_include_pad, divisor_override)


def avg_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``F.avg_pool{1,2,3}d``; torch's divisor rules are the spec's [POOL-AVG-3, POOL-AVG-4]."""
    _check_dtype("avg_pool", "avg_pool", x)
    _, t = _tensor(x, layout)
    out = _avg_forward(
        x,
        t,
        "avg_pool",
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )
    return _numpy(out, layout)


def avg_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """Autograd through ``avg_pool``."""
    _check_dtype("avg_pool_grad", "grad", x)
    leaf, t = _tensor(x, layout, grad=True)
    out = _avg_forward(
        x,
        t,
        "avg_pool_grad",
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        count_include_pad,
        divisor_override,
        layout,
    )
    _, g = _tensor(grad_output, layout)
    out.backward(g)
    return _numpy(leaf.grad, layout, moved=False)


# ---------------------------------------------------------------------------
# Lp pooling [POOL-LP-*, POOL-GRAD-4]
# ---------------------------------------------------------------------------


def _norm_type(p: Any) -> Any:
    """``p`` as torch's ``norm_type``: an integer as a float, anything else as given
    (torch's own checks decide) [POOL-LP-2]."""
    return float(p) if geo.is_integer(p) else p


def _lp_forward(
    x: np.ndarray,
    t: Any,
    op: str,
    kernel_size: Any,
    p: int,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    layout: str,
) -> Any:
    spatial = _spatial(x, layout)
    # torch's lp_pool has no dilation argument: the adapter validates it [POOL-PARAM-3]
    dil = geo.per_dim(dilation, "dilation", len(spatial), 1, "POOL-PARAM-3")
    if any(d != 1 for d in dil):
        raise Unsupported(f"torch lp_pool has no dilation; got dilation={list(dil)} [POOL-LP-1]")
    plan = _plan(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    if plan.geom is not None:
        pads = plan.geom.padding
        # torch's lp_pool has no padding argument: F.pad with zeros (|0|**p adds nothing,
        # POOL-LP-1), then torch's own ceil mode where the spec's last window overhangs
        overhang = any(
            a.out != geo.output_length(a.length + pb + pe, a.kernel, a.stride, 1, 0, 0, False)
            for a, (pb, pe) in zip(plan.geom.axes, pads)
        )
        padded_ceil = [
            geo.output_length(a.length + pb + pe, a.kernel, a.stride, 1, 0, 0, True)
            for a, (pb, pe) in zip(plan.geom.axes, pads)
        ]
        if overhang and padded_ceil != [a.out for a in plan.geom.axes]:
            raise Unsupported(
                f"torch lp_pool has no padding argument, and its ceil mode on the zero-padded "
                f"input counts {padded_ceil} windows where the spec's last window must start "
                f"before the end padding ({[a.out for a in plan.geom.axes]}) ({op}) [POOL-GEOM-4]"
            )
        if any(pb or pe for pb, pe in pads):
            t = _explicit_pad(t, pads, 0.0)
        ceil_mode = overhang
        stride_t: Any = plan.stride
    else:
        if plan.explicit is not None:  # torch's lp_pool has no padding argument
            t = _explicit_pad(t, plan.explicit, 0.0)
        elif any(plan.pad):
            t = _explicit_pad(t, [(p, p) for p in plan.pad], 0.0)
        stride_t = plan.stride
    rank = t.dim() - 2
    _check_half_3d(op, t)
    fn = _rank_fn("lp_pool", rank)
    # lp_pool1d multiplies by its kernel_size, so it takes an int; a tuple of another
    # length goes to torch as given, whose own check rejects it [POOL-PARAM-5]
    kernel: Any = plan.kernel[0] if rank == 1 and len(plan.kernel) == 1 else plan.kernel
    if rank == 1 and isinstance(stride_t, (tuple, list)) and len(stride_t) == 1:
        stride_t = stride_t[0]
    return fn(t.abs(), _norm_type(p), kernel, stride_t, ceil_mode)


def lp_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    p: int = 2,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """``F.lp_pool*d(abs(x))`` with zero padding applied by ``F.pad`` [POOL-LP-1]."""
    _check_dtype("lp_pool", "lp_pool", x)
    _, t = _tensor(x, layout)
    out = _lp_forward(x, t, "lp_pool", kernel_size, p, stride, padding, dilation, ceil_mode, layout)
    return _numpy(out, layout)


def lp_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    p: int = 2,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """Autograd through ``lp_pool`` (the abs included)."""
    _check_dtype("lp_pool_grad", "grad", x)
    leaf, t = _tensor(x, layout, grad=True)
    out = _lp_forward(
        x, t, "lp_pool_grad", kernel_size, p, stride, padding, dilation, ceil_mode, layout
    )
    _, g = _tensor(grad_output, layout)
    out.backward(g)
    return _numpy(leaf.grad, layout, moved=False)
