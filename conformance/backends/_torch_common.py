"""Shared layer of the ``torch`` backend: the selected device, the dtypes torch computes,
NumPy <-> tensor conversion, and the window plan that decides what torch can express.

The device is module state here, so every op module reads the one ``configure`` sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch  # importing this backend imports torch; the harness itself never does
import torch.nn.functional as F

from poolconf import SpecError, Unsupported
from poolconf.reference import catalog
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

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
    """Select the torch device: ``"cpu"``, ``"cpu-no-onednn"`` (the CPU with oneDNN turned
    off, ``torch.backends.mkldnn.enabled = False``, for this process: torch's own CPU
    kernels for what oneDNN would compute, convolutions and their gradients among them)
    or ``"cuda"`` / ``"cuda:N"`` (``torch:cuda``)."""
    global _device
    if device in ("cpu", "cpu-no-onednn"):
        _device = "cpu"
        torch.backends.mkldnn.enabled = device == "cpu"  # type: ignore[assignment]
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
    raise ValueError(
        f"torch backend: unknown device {device!r}; use 'cpu', 'cpu-no-onednn' or 'cuda[:N]'"
    )


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
    """Unsupported when torch has no kernel for a dtype the spec allows [POOL-DTYPE-1].
    Other dtypes go to torch, and its own kernels decide (a dtype the spec rejects that
    torch computes is a known failure, not a skip)."""
    name = _dtype_name(x)
    torch_ok = _TORCH_DTYPES[family]
    if _device != "cpu":
        torch_ok = tuple(d for d in torch_ok if d in FLOATS)  # integer kernels verified on CPU only
    if name in catalog.op(op).dtypes and name not in torch_ok:
        raise Unsupported(f"torch has no {name} kernel for {op} on {_device} [POOL-DTYPE-1]")


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
        from_string: bool = False,
    ) -> None:
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pad, self.explicit, self.geom = tuple(pad), explicit, geom
        self.from_string = from_string  # the padding came from a padding string


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
    string = isinstance(padding, str)
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
        return _Plan(k, s, d, tuple(pb for pb, _ in pads), None, geom, string)
    return _Plan(k, s, d, (0,) * rank, pads, geom, string)


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


def _native(plan: _Plan) -> _Plan | None:
    """``plan`` with its symmetric explicit padding handed to torch's own pool, where no
    equivalent composition exists: torch then computes the call or enforces its padding
    limit (declared ``padding_limit="half_kernel"``, POOL-PARAM-7). None for asymmetric
    padding, which torch's pools cannot take, and for padding from a padding string (a
    limit on explicit padding does not bound it)."""
    if plan.explicit is None or plan.from_string or any(pb != pe for pb, pe in plan.explicit):
        return None
    pad = tuple(pb for pb, _ in plan.explicit)
    return _Plan(plan.kernel, plan.stride, plan.dilation, pad, None, plan.geom)


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


def _rank(x: np.ndarray) -> int:
    return x.ndim - 2


def _rank_fn(name: str, rank: int) -> Any:
    if rank not in (1, 2, 3):
        raise Unsupported(
            f"torch has no {rank}-d {name}; it offers 1-d, 2-d and 3-d [POOL-SHAPE-1]"
        )
    return getattr(F, f"{name}{rank}d")
