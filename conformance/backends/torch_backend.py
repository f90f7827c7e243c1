"""The ``torch`` backend: torch.nn.functional and autograd behind the poolconf backend API.

``poolconf check torch`` runs on the CPU; ``poolconf check torch:cuda`` calls
``configure(device="cuda")`` first. Arrays go in and out as NumPy arrays of the
input dtype (indices int64). ``channels_last`` inputs are moved to dim 1 with
``movedim`` (a view, so 4-D inputs reach torch in ``torch.channels_last``
memory format and exercise its channels-last kernels).

Where torch cannot express the spec's semantics the adapter raises
``poolconf.Unsupported`` with the torch behaviour and the clause in the reason;
it never patches a torch result. Compositions of torch ops are used only where
they are provably equivalent to the spec:

* max pooling (values only) with asymmetric padding or padding above ``k//2``:
  ``F.pad`` with ``-inf`` (integer dtypes: the dtype's minimum), when every
  window holds an input element. A max over a non-empty set is unchanged by
  adding the smallest value, NaN and signed zeros included. Indices and
  gradients are not (a padded ``-inf`` can win a tie), so those are Unsupported.
* average pooling with ``count_include_pad=True`` or ``divisor_override``, and
  Lp pooling, with padding torch's pools reject: ``F.pad`` with zeros. Zeros add
  exactly nothing to a sum and the divisor is then the padded extent, which is
  the spec's [POOL-AVG-3]. Only when the ceil-mode window count is unchanged.
* Lp pooling as ``F.lp_pool*d(abs(x))``: torch raises x (not |x|) to the p-th
  power; the absolute value comes first so odd ``p`` follows [POOL-LP-1].
* convolution with asymmetric padding: ``F.pad`` with zeros (torch's own padding
  also multiplies zeros by the weights), finite weights only.
* 1-D integer max pooling and 1-D average pooling with ``divisor_override`` go
  through torch's 2-D kernel on an unsqueezed input (torch's 1-D entry points
  lack those); max unpooling with asymmetric padding passes the spec's output
  size explicitly (torch's padding only sets the default size).

For arguments the spec rejects, the adapter does not validate: it forwards what
it can to torch and lets torch's own checks raise (or not). Where torch accepts
something the spec rejects (integer average pooling, non-integer ``p``, negative
padding in ``F.pad``, a grad_output of another dtype), it raises Unsupported
naming that torch behaviour rather than validating on torch's behalf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch  # importing this backend imports torch; the harness itself never does
import torch.nn.functional as F

from poolconf import SpecError, Unsupported
from poolconf.reference import catalog
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

# Verified on torch 2.13.0 CPU: -0.0/+0.0 and equal values tie to the first
# element in window order; of several NaNs the LAST one's index is reported
# (and receives the gradient); windows entirely in padding give -inf, as the
# reference does (their indices are garbage, so those calls are Unsupported);
# the Lp gradient at a zero norm is 0 as in the reference, but over a window with
# an infinite input it is finite where the reference gives NaN, hence "other".
DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "reference",
    "nan_index": "other",
    "lp_zero_grad": "other",
}

_device = "cpu"

FLOATS = dt.FLOAT_DTYPES
# Dtypes torch 2.13 computes on the CPU, per op (probed; see tests/test_torch_backend.py).
# Integer entries for ops the spec restricts to floats are torch accepting what
# the spec rejects; they turn into Unsupported, never into a result.
_CPU_MAX_INTS = ("int8", "int16", "int32", "int64", "uint8")
_TORCH_DTYPES: dict[str, tuple[str, ...]] = {
    "max_pool": FLOATS + _CPU_MAX_INTS,
    "avg_pool": (*FLOATS, "int64"),
    "lp_pool": FLOATS + _CPU_MAX_INTS,  # integer input is promoted to float32 by x.pow(p)
    "adaptive_max_pool": FLOATS,
    "adaptive_avg_pool": FLOATS,
    "max_unpool": FLOATS,
    "zero_pad": dt.ALL_DTYPES,
    "conv": (*FLOATS, "int8", "int16", "int32", "int64", "uint8"),
    "grad": FLOATS,  # autograd: floating point only
}


def configure(*, device: str = "cpu") -> None:
    """Select the torch device: ``"cpu"`` or ``"cuda"`` / ``"cuda:N"`` (``torch:cuda``)."""
    global _device
    if device == "cpu":
        _device = "cpu"
        return
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"torch backend: device {device!r} requested but torch.cuda.is_available() is "
                f"False (torch {torch.__version__}); use the plain 'torch' backend for the CPU"
            )
        torch.device(device)  # rejects a malformed ordinal
        _device = device
        return
    raise ValueError(f"torch backend: unknown device {device!r}; use 'cpu' or 'cuda[:N]'")


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------


def _dtype_name(a: np.ndarray) -> str | None:
    try:
        return dt.dtype_name(a.dtype)
    except (SpecError, TypeError, AttributeError):
        return None


def _tensor(a: np.ndarray, layout: str = "channels_first", grad: bool = False) -> tuple[Any, Any]:
    """``(leaf, channels_first_view)``: a copy of ``a`` on the device; the leaf keeps
    ``a``'s layout so its ``.grad`` comes back in that layout. The layout is the
    adapter's own translation (torch has no such argument), so it is checked here."""
    if layout not in catalog.LAYOUTS:
        raise SpecError(f"layout={layout!r} is not one of {list(catalog.LAYOUTS)}", "POOL-LAYOUT-1")
    a = np.array(a, copy=True, order="C")
    if _dtype_name(a) == "bfloat16":
        t = torch.from_numpy(a.view(np.uint16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(a)
    t = t.to(_device)
    if grad:
        t.requires_grad_(True)
    view = t.movedim(-1, 1) if layout == "channels_last" and t.dim() >= 3 else t
    return t, view


def _numpy(t: Any, layout: str = "channels_first", moved: bool = True) -> np.ndarray:
    if moved and layout == "channels_last":
        t = t.movedim(1, -1)
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.uint16).numpy().view(dt.numpy_dtype("bfloat16")).copy()
    return t.numpy().copy()


def _spatial(x: np.ndarray, layout: str) -> tuple[int, ...]:
    return tuple(x.shape[1:-1]) if layout == "channels_last" else tuple(x.shape[2:])


def _check_dtype(op: str, family: str, x: np.ndarray) -> None:
    """Unsupported when torch has no kernel for a dtype the spec allows, or when torch
    computes a dtype the spec rejects [POOL-DTYPE-1]. Other dtypes go to torch."""
    name = _dtype_name(x)
    torch_ok = _TORCH_DTYPES[family]
    if _device != "cpu":
        torch_ok = tuple(d for d in torch_ok if d in FLOATS)  # integer kernels verified on CPU only
    spec_ok = catalog.op(op).dtypes
    if name in spec_ok and name not in torch_ok:
        raise Unsupported(f"torch has no {name} kernel for {op} on {_device} [POOL-DTYPE-1]")
    if name is not None and name not in spec_ok and name in torch_ok:
        raise Unsupported(
            f"torch computes {op} on {name} input, which the spec rejects; not validated on "
            f"torch's behalf [POOL-DTYPE-1]"
        )


def _check_grad_dtype(x: np.ndarray, grad_output: np.ndarray) -> None:
    if isinstance(grad_output, np.ndarray) and grad_output.dtype != x.dtype:
        raise Unsupported(
            f"torch autograd casts grad_output.dtype={grad_output.dtype.name} to the output's "
            f"{x.dtype.name} instead of rejecting it [POOL-GRAD-7]"
        )


# ---------------------------------------------------------------------------
# window geometry: deciding what torch can express
# ---------------------------------------------------------------------------


class _Plan:
    """How one windowed call maps onto torch.

    ``pad`` is the symmetric padding handed to torch's pool; ``explicit`` the
    per-dim (begin, end) pairs applied with ``F.pad`` first (None when native);
    ``geom`` the spec geometry, or None when the spec rejects the arguments (then
    the raw values go to torch and torch's own checks decide)."""

    def __init__(
        self,
        kernel: Sequence[int],
        stride: Sequence[int],
        dilation: Sequence[int],
        pad: Sequence[int],
        explicit: tuple[tuple[int, int], ...] | None,
        geom: geo.PoolGeometry | None,
    ) -> None:
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pad, self.explicit, self.geom = tuple(pad), explicit, geom


def _raw(v: Any, rank: int) -> tuple:
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * rank


def _lift(values: Any, first: int) -> tuple:
    """1-D arguments for torch's 2-D kernel: ``first`` prepended to every entry, so an
    argument of the wrong length stays wrong and torch's own check rejects it
    [POOL-PARAM-5]."""
    return (first, *_raw(values, 1))


def _plan(
    spatial: tuple[int, ...],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
) -> _Plan:
    rank = len(spatial)
    try:
        geom = geo.pool_geometry(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    except SpecError:
        # The spec rejects the arguments. Padding forms are the adapter's translation
        # (torch takes one int per dim), so resolve_padding validates them; the values
        # torch has counterparts for go to torch raw and its own checks decide.
        k, s, d = (
            _raw(kernel_size, rank),
            None if stride is None else _raw(stride, rank),
            _raw(dilation, rank),
        )
        pads = geo.resolve_padding(padding, spatial, k, k if s is None else s, d)
        s = k if s is None else s
        if all(pb == pe for pb, pe in pads):
            return _Plan(k, s, d, tuple(pb for pb, _ in pads), None, None)
        return _Plan(k, s, d, (0,) * rank, pads, None)
    k = tuple(a.kernel for a in geom.axes)
    s = tuple(a.stride for a in geom.axes)
    d = tuple(a.dilation for a in geom.axes)
    pads = geom.padding
    if all(pb == pe and pb <= ki // 2 for (pb, pe), ki in zip(pads, k)):
        return _Plan(k, s, d, tuple(pb for pb, _ in pads), None, geom)
    return _Plan(k, s, d, (0,) * rank, pads, geom)


def _padded_count_matches(plan: _Plan, spatial: tuple[int, ...], ceil_mode: bool) -> bool:
    """Whether torch, pooling the explicitly padded input with no padding, makes the
    same windows as the spec: its ceil-mode rule sees ``L+pb+pe`` where the spec's
    last window must start before ``L+pb`` [POOL-GEOM-4]."""
    assert plan.geom is not None and plan.explicit is not None
    for a, (pb, pe) in zip(plan.geom.axes, plan.explicit):
        torch_out = geo.output_length(
            a.length + pb + pe, a.kernel, a.stride, a.dilation, 0, 0, ceil_mode
        )
        if torch_out != a.out:
            return False
    return True


def _has_empty_window(geom: geo.PoolGeometry) -> bool:
    return any(not any(t.in_bounds for t in taps) for _, taps in geom.windows())


def _padding_unsupported(op: str, plan: _Plan, why: str, clause: str) -> Unsupported:
    return Unsupported(
        f"torch {op} takes symmetric padding of at most kernel_size//2 per dim; got "
        f"{list(plan.explicit or ())} with kernel_size={list(plan.kernel)}; {why} [{clause}]"
    )


def _explicit_pad(t: Any, pads: Sequence[tuple[int, int]], value: float) -> Any:
    flat: list[int] = []
    for pb, pe in reversed(list(pads)):
        flat += [pb, pe]
    return F.pad(t, flat, mode="constant", value=value)


def _rank_fn(name: str, rank: int) -> Any:
    if rank not in (1, 2, 3):
        raise Unsupported(
            f"torch has no {rank}-d {name}; it offers 1-d, 2-d and 3-d [POOL-SHAPE-1]"
        )
    return getattr(F, f"{name}{rank}d")


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
    if plan.geom is not None and _has_empty_window(plan.geom):
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
        if _has_empty_window(plan.geom):
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


def _check_sum_range(op: str, x: np.ndarray, taps: int) -> None:
    """torch sums a window in the dtype's accumulation type (float32 for float16,
    bfloat16 and float32; float64 for float64). Unsupported where such a sum could
    overflow although the exact average is finite [POOL-AVG-1]. Conservative:
    ``max|x| * taps`` is compared with the accumulation type's largest value."""
    name = _dtype_name(x)
    if name not in FLOATS or not x.size:
        return
    a = np.abs(x.astype(np.float64))
    a = a[np.isfinite(a)]
    if not a.size:
        return
    limit = float(np.finfo(np.float64 if name == "float64" else np.float32).max)
    with np.errstate(over="ignore"):
        bound = float(a.max()) * taps
    if bound > limit:
        raise Unsupported(
            f"torch {op} sums windows in {'float64' if name == 'float64' else 'float32'}, which "
            f"can overflow for |x| up to {float(a.max()):g} over {taps} elements although the "
            f"exact average is finite [POOL-AVG-1]"
        )


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
    if plan.geom is not None:
        _check_sum_range(op, x, math.prod(plan.kernel))
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


def _check_lp_range(x: np.ndarray, p: int, window: int, name: str) -> None:
    """torch evaluates ``x**p`` and the window mean in the input dtype: Unsupported
    where that leaves the dtype's normal range although the spec's exact result does
    not [POOL-DTYPE-3, POOL-DTYPE-4]. Conservative: judged per element."""
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
    if max_log >= fmt.emax + 1:
        raise Unsupported(
            f"torch lp_pool forms sum(|x|**p) in {name}; with max |x|={a.max():g} and p={p} it "
            f"overflows where the exact result may be finite [POOL-DTYPE-4]"
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
        _check_lp_range(x, p, math.prod(plan.kernel), _dtype_name(x) or "")
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


# ---------------------------------------------------------------------------
# adaptive and global pooling [POOL-ADAPT-*, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def _rank(x: np.ndarray) -> int:
    return x.ndim - 2


def _check_output_size(op: str, output_size: Any) -> None:
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    if any(geo.is_integer(o) and int(o) == 0 for o in sizes):
        raise Unsupported(
            f"output_size={output_size!r}: torch {op} accepts 0 and returns an empty tensor; "
            f"not validated on torch's behalf [POOL-ADAPT-2]"
        )


def _check_nonempty(op: str, x: Any, layout: str) -> None:
    if isinstance(x, np.ndarray) and x.ndim >= 3 and 0 in _spatial(x, layout):
        raise Unsupported(
            f"x.shape={x.shape}: torch {op} of an empty spatial dim returns NaN instead of "
            f"rejecting it; not validated on torch's behalf [POOL-SHAPE-1]"
        )


def adaptive_max_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_max_pool{1,2,3}d``; torch's windows are the spec's [POOL-ADAPT-1]."""
    _check_dtype("adaptive_max_pool", "adaptive_max_pool", x)
    _check_output_size("adaptive_max_pool", output_size)
    _, t = _tensor(x, layout)
    return _numpy(_rank_fn("adaptive_max_pool", _rank(x))(t, output_size), layout)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_avg_pool{1,2,3}d``."""
    _check_dtype("adaptive_avg_pool", "adaptive_avg_pool", x)
    _check_output_size("adaptive_avg_pool", output_size)
    _check_nonempty("adaptive_avg_pool", x, layout)
    _check_sum_range("adaptive_avg_pool", x, math.prod(_spatial(x, layout)))
    _, t = _tensor(x, layout)
    return _numpy(_rank_fn("adaptive_avg_pool", _rank(x))(t, output_size), layout)


def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: Any,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """Autograd through ``F.adaptive_max_pool*d``."""
    _check_dtype("adaptive_max_pool_grad", "grad", x)
    _check_output_size("adaptive_max_pool_grad", output_size)
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: torch routes a max gradient to one element [POOL-GRAD-2]"
        )
    _check_grad_dtype(x, grad_output)
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _rank_fn("adaptive_max_pool", _rank(x))(t, output_size).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """Autograd through ``F.adaptive_avg_pool*d``."""
    _check_dtype("adaptive_avg_pool_grad", "grad", x)
    _check_output_size("adaptive_avg_pool_grad", output_size)
    _check_nonempty("adaptive_avg_pool_grad", x, layout)
    _check_grad_dtype(x, grad_output)
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _rank_fn("adaptive_avg_pool", _rank(x))(t, output_size).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``adaptive_max_pool`` with output 1 per dim (torch's global-pooling idiom)."""
    _check_dtype("global_max_pool", "adaptive_max_pool", x)
    return adaptive_max_pool(x, output_size=(1,) * _rank(x), layout=layout)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``adaptive_avg_pool`` with output 1 per dim."""
    _check_dtype("global_avg_pool", "adaptive_avg_pool", x)
    return adaptive_avg_pool(x, output_size=(1,) * _rank(x), layout=layout)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """``lp_pool`` with the kernel covering the whole spatial extent (torch has no
    adaptive Lp pool)."""
    _check_dtype("global_lp_pool", "lp_pool", x)
    spatial = _spatial(x, layout)
    return lp_pool(
        x, kernel_size=spatial, p=p, stride=spatial, padding=((0, 0),) * len(spatial), layout=layout
    )


# ---------------------------------------------------------------------------
# max unpooling, zero padding, convolution
# ---------------------------------------------------------------------------


def max_unpool(
    x: np.ndarray,
    indices: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``F.max_unpool{1,2,3}d`` [POOL-UNPOOL-1..4]. torch's padding only sets the
    default output size, so asymmetric padding passes that size explicitly."""
    _check_dtype("max_unpool", "max_unpool", x)
    rank = _rank(x)
    spatial = _spatial(x, layout)
    torch_pad: Any = padding
    torch_size: Any = output_size
    k: Any
    s: Any
    pads: Any
    try:
        k = geo.per_dim(kernel_size, "kernel_size", rank, 1, "POOL-PARAM-1")
        s = k if stride is None else geo.per_dim(stride, "stride", rank, 1, "POOL-PARAM-2")
        if isinstance(padding, str):
            raise SpecError("string padding", "POOL-UNPOOL-1")
        pads = geo.resolve_padding(padding, spatial, k, s, (1,) * rank)
        if output_size is not None:
            out = geo.per_dim(output_size, "output_size", rank, 1, "POOL-UNPOOL-1")
    except SpecError:
        k = s = pads = None  # spec-invalid: torch's own checks decide
    if pads is not None:
        assert k is not None and s is not None
        torch_pad = tuple(min(pb, pe) for pb, pe in pads)
        if output_size is None and any(pb != pe for pb, pe in pads):
            out = tuple(
                geo.unpool_output_length(L, ki, si, pb, pe)
                for L, ki, si, (pb, pe) in zip(spatial, k, s, pads)
            )
        if output_size is not None or any(pb != pe for pb, pe in pads):
            torch_size = out
            for i, (L, ki, si, tp, o) in enumerate(zip(spatial, k, s, torch_pad, out)):
                default = (L - 1) * si + ki - 2 * tp
                if not default - si < o < default + si:
                    raise Unsupported(
                        f"torch max_unpool accepts an output size only strictly within stride "
                        f"of its default: dim {i} wants {o}, default {default}, stride {si} "
                        f"[POOL-UNPOOL-1]"
                    )
        torch_pad, k, s = list(torch_pad), list(k), list(s)
    else:
        k, s = kernel_size, stride
    if isinstance(indices, np.ndarray) and indices.dtype != np.int64 and indices.dtype.kind in "iu":
        if indices.size and (int(indices.max()) > np.iinfo(np.int64).max):
            raise Unsupported("indices beyond int64 cannot reach torch [POOL-IDX-4]")
        indices = indices.astype(np.int64)
    if _repeats_differ(x, indices, layout):
        raise Unsupported(
            "an index repeats within a plane with different values: torch's CPU max_unpool "
            "scatters from parallel threads, so which value survives depends on the thread count "
            "(torch 2.13, 1-D, 5 values at one index: 1 thread keeps the 5th, 2 threads the 3rd) "
            "where the spec keeps the last [POOL-UNPOOL-4]"
        )
    _, t = _tensor(x, layout)
    _, it = _tensor(indices, layout)
    fn = _rank_fn("max_unpool", rank)
    size = list(torch_size) if torch_size is not None else None
    return _numpy(fn(t, it, k, s, torch_pad, size), layout)


def _repeats_differ(x: Any, indices: Any, layout: str) -> bool:
    """Whether some (n, c) plane of ``indices`` repeats an index with values of ``x`` that
    differ (NaN equals NaN; -0.0 differs from +0.0). Malformed arguments: False, torch decides."""
    if (
        not (isinstance(x, np.ndarray) and isinstance(indices, np.ndarray))
        or x.shape != indices.shape
    ):
        return False
    if x.ndim < 3 or x.size == 0:
        return False
    xf = np.moveaxis(x, -1, 1) if layout == "channels_last" else x
    idf = np.moveaxis(indices, -1, 1) if layout == "channels_last" else indices
    planes = xf.shape[0] * xf.shape[1]
    flat = np.ascontiguousarray(xf).reshape(planes, -1)
    bits = flat.view(np.uint8).reshape(planes, flat.shape[1], -1)
    is_float = xf.dtype.kind == "f" or xf.dtype.name == "bfloat16"
    nan = np.isnan(xf.astype(np.float64)) if is_float else np.zeros(xf.shape, bool)
    nan = nan.reshape(planes, -1)
    idx = idf.reshape(planes, -1)
    order = np.argsort(idx, axis=1, kind="stable")
    sorted_idx = np.take_along_axis(idx, order, axis=1)
    same = sorted_idx[:, 1:] == sorted_idx[:, :-1]
    if not same.any():
        return False
    b = np.take_along_axis(bits, order[..., None], axis=1)
    n = np.take_along_axis(nan, order, axis=1)
    differ = np.any(b[:, 1:] != b[:, :-1], axis=2) & ~(n[:, 1:] & n[:, :-1])
    return bool(np.any(same & differ))


def zero_pad(x: np.ndarray, *, padding: Any, layout: str = "channels_first") -> np.ndarray:
    """``F.pad(mode="constant", value=0)`` [POOL-PAD-1]."""
    _check_dtype("zero_pad", "zero_pad", x)
    _, t = _tensor(x, layout)
    rank = _rank(x)
    if isinstance(padding, (tuple, list)) or geo.is_integer(padding):
        pairs: list[Any] = [
            p if isinstance(p, (tuple, list)) else (p, p) for p in _raw(padding, rank)
        ]
        if any(geo.is_integer(v) and v < 0 for pair in pairs for v in pair):
            raise Unsupported(
                f"padding={padding!r}: torch F.pad crops for negative padding instead of "
                f"rejecting it; not validated on torch's behalf [POOL-PARAM-4]"
            )
        if len(pairs) != rank:
            raise Unsupported(
                f"padding={padding!r} has {len(pairs)} entries for {rank} spatial dims: torch "
                f"F.pad pads the trailing dims it is given instead of rejecting it; not validated "
                f"on torch's behalf [POOL-PARAM-5]"
            )
        return _numpy(_explicit_pad(t, pairs, 0), layout)
    return _numpy(F.pad(t, padding), layout)  # a string: torch's own check raises


def _conv_plan(
    x: np.ndarray, weight: np.ndarray, stride: Any, padding: Any, dilation: Any, layout: str
) -> tuple[Any, Any, Any, tuple[tuple[int, int], ...] | None]:
    spatial = _spatial(x, layout)
    rank = len(spatial)
    try:
        kernel = tuple(int(k) for k in weight.shape[2:])
        geom = geo.pool_geometry(spatial, kernel, stride, padding, dilation, False)
    except (SpecError, AttributeError):
        # the spec rejects the arguments; torch's own checks decide. torch takes one pad
        # per dim: a pair goes as its smaller value, so a negative end reaches torch too
        pads = padding if isinstance(padding, (tuple, list)) else _raw(padding, rank)
        begin = tuple(min(p) if isinstance(p, (tuple, list)) and p else p for p in pads)
        return stride, begin, dilation, None
    s = tuple(a.stride for a in geom.axes)
    d = tuple(a.dilation for a in geom.axes)
    pads = geom.padding
    if any(pb or pe for pb, pe in pads) and not np.all(np.isfinite(weight.astype(np.float64))):
        raise Unsupported(
            "torch conv multiplies padding zeros by the weights, so a non-finite weight gives "
            "0*inf = NaN where the spec sums in-bounds taps only [POOL-CONV-1]"
        )
    if all(pb == pe for pb, pe in pads):
        return s, tuple(pb for pb, _ in pads), d, None
    return s, (0,) * rank, d, pads


def _conv_forward(
    x: np.ndarray,
    t: Any,
    w: Any,
    b: Any,
    weight: np.ndarray,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    layout: str,
) -> Any:
    stride = 1 if stride is None else stride  # the spec's conv default; torch wants a value
    s, p, d, explicit = _conv_plan(x, weight, stride, padding, dilation, layout)
    if explicit is not None:
        t = _explicit_pad(t, explicit, 0.0)
    return _rank_fn("conv", t.dim() - 2)(t, w, b, s, p, d, groups)


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> np.ndarray:
    """``F.conv{1,2,3}d``; asymmetric padding via ``F.pad`` with zeros [POOL-CONV-1, POOL-CONV-2]."""
    _check_dtype("conv", "conv", x)
    _, t = _tensor(x, layout)
    _, w = _tensor(weight)
    b = None if bias is None else _tensor(bias)[0]
    out = _conv_forward(x, t, w, b, weight, stride, padding, dilation, groups, layout)
    return _numpy(out, layout)


def conv_grad(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_output: np.ndarray,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Autograd through ``conv``: gradients for x, weight and bias [POOL-GRAD-5]."""
    _check_dtype("conv_grad", "grad", x)
    _check_grad_dtype(x, grad_output)
    leaf, t = _tensor(x, layout, grad=True)
    w, _ = _tensor(weight, grad=True)
    b = None if bias is None else _tensor(bias, grad=True)[0]
    out = _conv_forward(x, t, w, b, weight, stride, padding, dilation, groups, layout)
    _, g = _tensor(grad_output, layout)
    out.backward(g)
    gb = None if b is None else _numpy(b.grad, moved=False)
    return _numpy(leaf.grad, layout, moved=False), _numpy(w.grad, moved=False), gb
