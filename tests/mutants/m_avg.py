"""Average pooling: the divisor in all its variants, special values, accumulation [POOL-AVG-*]."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from mutants.base import (
    COMMON,
    Mutant,
    ParamMutant,
    divisor_grid,
    from_first,
    geometry,
    per_dim,
    spatial_shape,
    to_first,
    window_loop,
)

AVG_OPS = ("avg_pool", "avg_pool_grad")


class CountIncludePadCountsOverhang(ParamMutant):
    """With ``count_include_pad`` the divisor is always the kernel volume, so a ceil-mode
    window hanging past the padded end is divided by taps that are not there.

    Models https://github.com/microsoft/onnxruntime/issues/16203, fixed alike in
    https://github.com/sonos/tract/pull/2851, https://github.com/robertknight/rten/pull/1456
    and https://github.com/apple/coremltools/pull/2844."""

    CLAUSES = ("POOL-AVG-3",)
    OPS = AVG_OPS

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("count_include_pad", True) is True and kw.get("divisor_override") is None:
            k = kw["kernel_size"]
            kw["divisor_override"] = math.prod(k) if isinstance(k, tuple) else k
        return kw


class ExcludePadIgnored(ParamMutant):
    """``count_include_pad=False`` is ignored: padding is always counted.

    Models TVM's TOPI avg_pool before ``count_include_pad`` was added
    (https://github.com/apache/tvm/issues/1144) and ONNX importers that drop the
    attribute (https://github.com/intel/BigDL/pull/1078)."""

    CLAUSES = ("POOL-AVG-4",)
    OPS = AVG_OPS

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("count_include_pad") is False:
            kw["count_include_pad"] = True
        return kw


def _tap_counts_contiguous(a: Any) -> tuple[np.ndarray, np.ndarray]:
    """The bug: in-bounds count = positions of the window's span inside the input,
    ``clip(min(start + eff, L) - max(start, 0))``, which counts dilation's gaps."""
    o = np.arange(a.out)
    start = o * a.stride - a.pad_begin
    eff = a.dilation * (a.kernel - 1) + 1
    inb = np.clip(np.minimum(start + eff, a.length) - np.maximum(start, 0), 0, None)
    pos = start[:, None] + np.arange(a.kernel)[None, :] * a.dilation
    ext = ((pos >= -a.pad_begin) & (pos < a.length + a.pad_end)).sum(axis=1)
    return inb, ext


class ExcludePadDivisorCountsGaps(Mutant):
    """The exclude-pad divisor counts the positions the dilated window spans inside the
    input, gaps included, instead of its in-bounds taps.

    Models the clamped-divisor bugs of torch-mlir's avg_pool lowering
    (https://github.com/llvm/torch-mlir/pull/4144)."""

    CLAUSES = ("POOL-AVG-4", "POOL-AVG-5")
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {COMMON: {"tap_counts": _tap_counts_contiguous}}


class DivisorOverrideIgnored(ParamMutant):
    """``divisor_override`` is ignored.

    Models ExecuTorch's avg_pool2d with ``count_include_pad=False``
    (https://github.com/pytorch/executorch/pull/18616)."""

    CLAUSES = ("POOL-AVG-2",)
    OPS = AVG_OPS

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw["divisor_override"] = None
        return kw


def _sequential_float16(plane: np.ndarray, taps: list[int]) -> Any:
    total = np.float16(0)
    for t in taps:
        total = np.float16(total + plane[t])  # the bug: the running sum is float16
    return total


def _count(plane: np.ndarray, taps: list[int]) -> Any:
    return len(taps)


class Float16Accumulation(Mutant):
    """float16 averages (windowed, adaptive, global) sum each window sequentially in
    a float16 accumulator, which stalls at 2048 and drops low bits on the way.

    Models candle's CPU avg_pool2d (https://github.com/huggingface/candle/pull/3719),
    PyTorch's adaptive_avg_pool3d on CUDA (https://github.com/pytorch/pytorch/pull/53607)
    and MIOpen's FP16 average pooling (https://github.com/ROCm/MIOpen/issues/2109)."""

    CLAUSES = ("POOL-DTYPE-4",)

    def avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.avg_pool(x, **kw)
        if x.dtype != np.float16:
            return y
        sums = window_loop(x, kw, _sequential_float16, np.float16)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (sums.astype(np.float32) / divisor_grid(x, kw)).astype(np.float16)

    def adaptive_avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.adaptive_avg_pool(x, **kw)
        if x.dtype != np.float16:
            return y
        sums = window_loop(x, kw, _sequential_float16, np.float16)
        counts = window_loop(x, kw, _count, np.int64)
        return (sums.astype(np.float32) / counts).astype(np.float16)

    def global_avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.global_avg_pool(x, **kw)
        if x.dtype != np.float16:
            return y
        layout = kw.get("layout", "channels_first")
        spatial = spatial_shape(x, layout)
        sums = window_loop(
            x, {"kernel_size": spatial, "layout": layout}, _sequential_float16, np.float16
        )
        return (sums.astype(np.float32) / math.prod(spatial)).astype(np.float16)


class SummedAreaTableAverage(Mutant):
    """Average pooling from a summed-area table (prefix sums, ``S[e] - S[b]``): an
    infinity anywhere earlier in a row makes every later window ``inf - inf = NaN``,
    and large values cancel the small ones.

    Models box filters built on integral images (OpenCV ``boxFilter``/``integral``;
    the cumsum trick of NumPy pooling tutorials). The spec's IEEE rule for sums is
    what ONNX Runtime's and PyTorch's direct sums do (see the averaging discussions in
    https://github.com/microsoft/onnxruntime/issues/16203)."""

    CLAUSES = ("POOL-AVG-6", "POOL-AVG-1")

    def avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.avg_pool(x, **kw)  # the argument checks, and the dilated path
        layout = kw.get("layout", "channels_first")
        rank = x.ndim - 2
        if any(d != 1 for d in per_dim(kw.get("dilation", 1), rank)):
            return y
        g = geometry(x, kw)
        a = to_first(x, layout).astype(np.float64)
        for i, ax in enumerate(g.axes):
            axis = 2 + i
            need = (ax.out - 1) * ax.stride + ax.kernel
            pad = [(0, 0)] * a.ndim
            pad[axis] = (ax.pad_begin, max(ax.pad_end, need - ax.length - ax.pad_begin))
            a = np.pad(a, pad)
            zero = np.zeros_like(np.take(a, [0], axis=axis))
            with np.errstate(invalid="ignore", over="ignore"):
                c = np.concatenate([zero, np.cumsum(a, axis=axis)], axis=axis)
                starts = np.arange(ax.out) * ax.stride
                a = np.take(c, starts + ax.kernel, axis=axis) - np.take(c, starts, axis=axis)
        div = to_first(divisor_grid(x, kw), layout)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return from_first((a / div).astype(x.dtype), layout)
