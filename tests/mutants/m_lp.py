"""Lp pooling: the absolute value, the root, p, and the window's tap count [POOL-LP-*]."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mutants.base import Mutant, ParamMutant, broadcast_spatial, count_grid, window_loop


def _signed_power_sum(p: int) -> Any:
    def reduce(plane: np.ndarray, taps: list[int]) -> float:
        s = math.fsum(float(plane[t]) ** p for t in taps)
        return math.nan if s < 0 else s ** (1.0 / p)

    return reduce


def _has_negative(plane: np.ndarray, taps: list[int]) -> bool:
    return any(plane[t] < 0 for t in taps)


class LpWithoutAbs(Mutant):
    """``(sum x**p)**(1/p)`` without the absolute value: with odd ``p``, negative
    values subtract, and a negative sum gives NaN.

    Models PyTorch's ``lp_pool`` (``input.pow(norm_type)``, discussed in
    https://github.com/FluxML/Flux.jl/pull/2166 and
    https://github.com/pytorch/pytorch/issues/184037) and NNlib's lpnormpool
    (https://github.com/FluxML/NNlib.jl/pull/639)."""

    CLAUSES = ("POOL-LP-1",)

    def lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.lp_pool(x, **kw)
        p = kw.get("p", 2)
        if p % 2 == 0:
            return y
        buggy = window_loop(x, kw, _signed_power_sum(p), np.float64)
        affected = window_loop(x, kw, _has_negative, bool)
        return np.where(affected, buggy.astype(x.dtype), y)


class LpPIgnored(ParamMutant):
    """``p`` is ignored: every Lp pool is an L2 pool.

    Models runtimes that implement LpPool/GlobalLpPool for the default p=2 only
    (ONNX's ``p`` attribute defaults to 2; https://github.com/onnx/onnx/issues/5459
    on how underspecified LpPool was)."""

    CLAUSES = ("POOL-LP-1", "POOL-LP-2")
    OPS = ("lp_pool", "lp_pool_grad", "global_lp_pool")

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if isinstance(kw.get("p"), int) and kw["p"] >= 1:
            kw["p"] = 2
        return kw


class LpWithoutRoot(Mutant):
    """The root is missing: the result is ``sum |x|**p``.

    Models the onnxruntime LpPool rewrite that changed how the norm was taken
    (https://github.com/microsoft/onnxruntime/pull/6303) and hand-written Lp pools
    that return the power sum."""

    CLAUSES = ("POOL-LP-1",)

    def lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.lp_pool(x, **kw)
        p = kw.get("p", 2)
        with np.errstate(over="ignore"):
            return (y.astype(np.float64) ** p).astype(x.dtype)


class LpScaledByKernelVolume(Mutant):
    """The power sum is computed as ``avg_pool(|x|**p) * prod(kernel_size)`` (PyTorch's
    formula), so a ceil-mode window that hangs past the padded input is scaled up by
    ``kernel volume / taps in the padded extent``.

    Models ``torch.nn.functional.lp_pool2d``: ``avg_pool2d(...).mul(kw * kh)``, whose
    average divides by the clipped window (see
    https://github.com/pytorch/xla/pull/6409 on ceil-mode divisors)."""

    CLAUSES = ("POOL-LP-1", "POOL-GEOM-3")

    def lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.lp_pool(x, **kw)
        rank = x.ndim - 2
        k = kw["kernel_size"]
        volume = math.prod(k) if isinstance(k, tuple) else k**rank
        ext = broadcast_spatial(count_grid(x, kw, 1), kw.get("layout", "channels_first"))
        p = kw.get("p", 2)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            factor = (volume / np.maximum(ext, 1)) ** (1.0 / p)
            scaled = (y.astype(np.float64) * factor).astype(x.dtype)
        return np.where(ext != volume, scaled, y)
