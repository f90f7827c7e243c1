"""Max, average and Lp pooling for the ``torch`` backend (see ``torch_backend``)."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import torch  # importing this backend imports torch; the harness itself never does
import torch.nn.functional as F

from poolconf import SpecError, Unsupported
from poolconf.conformance.backends._torch_common import (
    _check_dtype,
    _check_grad_dtype,
    _dtype_name,
    _explicit_pad,
    _lift,
    _numpy,
    _padded_count_matches,
    _padding_unsupported,
    _Plan,
    _plan,
    _rank_fn,
    _spatial,
    _tensor,
)
from poolconf.reference import catalog
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

# ---------------------------------------------------------------------------
# max pooling [POOL-MAX-*, POOL-IDX-*, POOL-GRAD-2]
# ---------------------------------------------------------------------------


def _max_call(t: Any, plan: _Plan, ceil_mode: Any, indices: bool) -> Any:
    rank = t.dim() - 2
    integer = not t.dtype.is_floating_point
    volume = math.prod(t.shape[2:])
    if t.dtype in (torch.int8, torch.uint8) and t.shape[1] and t.stride(1) == 1 and volume > 127:
        # torch 2.13's channels-last CPU max-pool kernel keeps indices in the input's
        # own 1-byte integer type and raises for planes of more than 127 elements
        raise Unsupported(
            f"torch's channels-last max-pool kernel raises for {t.dtype} planes of more than "
            f"127 elements (this one has {volume}) [POOL-MAX-6]"
        )
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
        raise _padding_unsupported(
            op,
            plan,
            "padding with -inf would let a padded element win a tie or an index",
            "POOL-PARAM-4",
        )
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
        if plan.geom.has_empty_window():
            raise _padding_unsupported(
                "max_pool",
                plan,
                "-inf padding is not equivalent when a window lies entirely in padding",
                "POOL-PARAM-4",
            )
        if not _padded_count_matches(plan, _spatial(x, layout), ceil_mode):
            raise _padding_unsupported(
                "max_pool",
                plan,
                "on the padded input torch's ceil-mode rule makes different windows",
                "POOL-GEOM-4",
            )
        low = -math.inf if t.dtype.is_floating_point else int(torch.iinfo(t.dtype).min)
        t = _explicit_pad(t, plan.explicit, low)
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
    _check_grad_dtype(x, grad_output)
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
    if divisor_override is not None and not (
        geo.is_integer(divisor_override) and int(divisor_override) >= 0
    ):
        raise Unsupported(
            f"divisor_override={divisor_override!r}: torch accepts a negative divisor and "
            f"returns a value; not validated on torch's behalf [POOL-AVG-2]"
        )
    plan = _plan(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    if plan.explicit is not None:
        if (
            not (count_include_pad is True or divisor_override is not None)
            and plan.geom is not None
        ):
            raise _padding_unsupported(
                op, plan, "zero padding changes the count_include_pad=False divisor", "POOL-AVG-4"
            )
        if plan.geom is not None and not _padded_count_matches(plan, spatial, ceil_mode):
            raise _padding_unsupported(
                op,
                plan,
                "on the padded input torch's ceil-mode rule makes different windows",
                "POOL-GEOM-4",
            )
        t = _explicit_pad(t, plan.explicit, 0.0)
    rank = t.dim() - 2
    _check_half_3d(op, t)
    if rank == 3 and plan.geom is not None and any(L < k for L, k in zip(t.shape[2:], plan.kernel)):
        raise Unsupported(
            f"torch avg_pool3d rejects an input {list(t.shape[2:])} smaller than the kernel "
            f"{list(plan.kernel)} although the padding gives a valid output (avg_pool1d/2d "
            f"accept it) [POOL-GEOM-2]"
        )
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
    _check_grad_dtype(x, grad_output)
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


def _check_p(p: Any) -> int:
    if not geo.is_integer(p) or int(p) < 1:
        raise Unsupported(
            f"p={p!r}: torch lp_pool accepts any real p and returns a value; the spec requires "
            f"an integer >= 1; not validated on torch's behalf [POOL-LP-2]"
        )
    return int(p)


def _check_lp_range(x: np.ndarray, p: int, window: int, name: str, op: str) -> None:
    """torch evaluates ``x**p`` and the window mean in the input dtype: Unsupported
    where that leaves the dtype's normal range although the spec's exact result does
    not [POOL-DTYPE-3, POOL-DTYPE-4]. Conservative: judged per element. A float32 or
    float64 forward value that overflows is what the declared float32 accumulator allows
    [POOL-DTYPE-6]; float16 and bfloat16 powers overflow before a float32 accumulator
    would, and gradients keep the exact range."""
    fmt = dt.FLOAT_FORMATS.get(name)
    if fmt is None:
        return
    a = np.abs(x.astype(np.float64))
    a = a[np.isfinite(a) & (a > 0)]
    if not a.size:
        return
    with np.errstate(divide="ignore"):
        log2 = np.log2(a)
    max_log = float(log2.max()) * p + math.log2(window)
    min_log = float(log2.min()) * p - math.log2(window)
    if max_log >= fmt.emax + 1 and (name in ("float16", "bfloat16") or op.endswith("_grad")):
        raise Unsupported(
            f"torch {op} forms sum(|x|**p) in {name}; with max |x|={a.max():g} and p={p} it "
            f"overflows where the exact result may be finite [POOL-DTYPE-4, POOL-DTYPE-6]"
        )
    if min_log < fmt.emin:
        raise Unsupported(
            f"torch lp_pool forms |x|**p/kernel in {name}; with min nonzero |x|={a.min():g} and "
            f"p={p} it underflows below the normal range [POOL-DTYPE-4]"
        )


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
        for a, (pb, pe) in zip(plan.geom.axes, pads):
            padded = a.length + pb + pe
            floor = geo.output_length(padded, a.kernel, a.stride, 1, 0, 0, False)
            if a.out != floor:
                raise Unsupported(
                    f"torch {op}: ceil_mode=True makes a window overhang the input; torch "
                    f"computes Lp as avg_pool(x**p) * prod(kernel_size), which scales such a "
                    f"window by kernel/in-bounds count [POOL-LP-1, POOL-GEOM-3]"
                )
        _check_lp_range(x, p, math.prod(plan.kernel), _dtype_name(x) or "", op)
        if any(pb or pe for pb, pe in pads):
            t = _explicit_pad(t, pads, 0.0)  # |0|**p adds nothing [POOL-LP-1]
        ceil_mode = False  # equal window counts, checked above
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
    return fn(t.abs(), float(p), kernel, stride_t, ceil_mode)


def _check_uncovered_finite(
    x: np.ndarray,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    layout: str,
) -> None:
    """torch differentiates ``abs(x)**p`` over the whole input, so a NaN or infinite
    element that no window covers gets ``0 * NaN = NaN`` instead of 0 [POOL-GRAD-4]."""
    if layout not in catalog.LAYOUTS:
        return
    x_cf = np.moveaxis(x, -1, 1) if layout == "channels_last" else x
    bad = ~np.isfinite(x_cf.astype(np.float64))
    if not bad.any():
        return
    try:
        g = geo.pool_geometry(x_cf.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    except SpecError:
        return
    covered = np.zeros(math.prod(x_cf.shape[2:]), dtype=bool)
    for _, taps in g.windows():
        covered[[tp.flat for tp in taps if tp.in_bounds]] = True
    plane_bad = bad.reshape(bad.shape[0] * bad.shape[1], -1).any(axis=0)
    if (plane_bad & ~covered).any():
        raise Unsupported(
            "torch lp_pool_grad differentiates |x|**p over the whole input: a non-finite "
            "element that no window covers gets a NaN gradient instead of 0 [POOL-GRAD-4]"
        )


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
    p = _check_p(p)
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
    p = _check_p(p)
    _check_grad_dtype(x, grad_output)
    _check_uncovered_finite(x, kernel_size, stride, padding, dilation, ceil_mode, layout)
    leaf, t = _tensor(x, layout, grad=True)
    out = _lp_forward(
        x, t, "lp_pool_grad", kernel_size, p, stride, padding, dilation, ceil_mode, layout
    )
    _, g = _tensor(grad_output, layout)
    out.backward(g)
    return _numpy(leaf.grad, layout, moved=False)
