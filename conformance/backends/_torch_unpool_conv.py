"""Max unpooling, zero padding and convolution for the ``torch`` backend (see ``torch_backend``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch.nn.functional as F

from poolconf import SpecError, Unsupported
from poolconf.conformance.backends._torch_common import (
    _check_dtype,
    _explicit_pad,
    _numpy,
    _rank,
    _rank_fn,
    _raw,
    _spatial,
    _tensor,
)
from poolconf.reference import geometry as geo

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
        if len(pairs) != rank:  # F.pad's flat list is the adapter's translation
            raise SpecError(
                f"padding={padding!r} has {len(pairs)} entries for {rank} spatial dims",
                "POOL-PARAM-5",
            )
        if any(not isinstance(pair, (tuple, list)) or len(pair) != 2 for pair in pairs):
            raise SpecError(f"padding={padding!r}: each entry is an int or a pair", "POOL-PARAM-4")
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
    if all(pb == pe for pb, pe in pads):
        return s, tuple(pb for pb, _ in pads), d, None  # torch's own padding
    if not np.all(np.isfinite(weight.astype(np.float64))):
        raise Unsupported(
            "torch conv takes symmetric padding only; zeros padded by F.pad times a non-finite "
            "weight would give the adapter's 0*inf = NaN where the spec sums in-bounds taps "
            "only [POOL-CONV-1]"
        )
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
    leaf, t = _tensor(x, layout, grad=True)
    w, _ = _tensor(weight, grad=True)
    b = None if bias is None else _tensor(bias, grad=True)[0]
    out = _conv_forward(x, t, w, b, weight, stride, padding, dilation, groups, layout)
    _, g = _tensor(grad_output, layout)
    out.backward(g)
    gb = None if b is None else _numpy(b.grad, moved=False)
    return _numpy(leaf.grad, layout, moved=False), _numpy(w.grad, moved=False), gb
