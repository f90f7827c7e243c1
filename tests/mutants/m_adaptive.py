"""Adaptive and global pooling: window boundaries and kept dims [POOL-ADAPT-1, POOL-GLOBAL-1]."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mutants.base import GEOMETRY, Mutant


def _floor_end(i: int, length: int, out: int) -> tuple[int, int]:
    return (i * length) // out, ((i + 1) * length) // out  # the bug: floor, not ceil


class AdaptiveEndFloored(Mutant):
    """Adaptive window ``i`` ends at ``floor((i+1)*L/O)`` instead of the ceiling, so
    windows do not overlap and, when ``L < O``, some are empty.

    Models FlagGems' adaptive_avg_pool2d (https://github.com/flagos-ai/FlagGems/issues/4915,
    fixed in https://github.com/flagos-ai/FlagGems/pull/4924); PyTorch's own bounds are
    in https://github.com/pytorch/pytorch/pull/82833."""

    CLAUSES = ("POOL-ADAPT-1",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {GEOMETRY: {"adaptive_bounds": _floor_end}}


def _fixed_kernel(i: int, length: int, out: int) -> tuple[int, int]:
    stride = length // out
    kernel = length - (out - 1) * stride
    return i * stride, i * stride + kernel  # the bug: a fixed kernel and stride


class AdaptiveAsFixedWindows(Mutant):
    """Adaptive pooling replaced by a fixed kernel ``L - (O-1)*(L//O)`` and stride
    ``L//O`` (the usual export trick), which is exact only when ``O`` divides ``L``.

    Models converters that lower AdaptiveAvgPool/AdaptiveMaxPool to a plain pool,
    see https://github.com/pytorch/pytorch/pull/53607 and
    https://github.com/tracel-ai/cubek/pull/639 for adaptive kernels written apart."""

    CLAUSES = ("POOL-ADAPT-1",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {GEOMETRY: {"adaptive_bounds": _fixed_kernel}}


class GlobalDropsSpatialDims(Mutant):
    """Global pools return ``(N, C)`` instead of keeping the spatial dims as 1.

    Models ``keras.layers.GlobalAveragePooling2D`` (``keepdims=False`` by default)
    and ``tf.reduce_mean`` without ``keepdims``; the TVM global pool ops keep them
    (https://github.com/apache/tvm/pull/3085)."""

    CLAUSES = ("POOL-GLOBAL-1",)

    def _squeeze(self, y: np.ndarray, layout: str) -> np.ndarray:
        return y.reshape(y.shape[0], -1)

    def global_max_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._squeeze(self.base.global_max_pool(x, **kw), kw.get("layout", ""))

    def global_avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._squeeze(self.base.global_avg_pool(x, **kw), kw.get("layout", ""))

    def global_lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._squeeze(self.base.global_lp_pool(x, **kw), kw.get("layout", ""))


class GlobalReducesLastAxes(Mutant):
    """Global pools always reduce the trailing axes ``2..``, whatever the layout: on
    channels_last input they pool over the channels too and keep a spatial axis.

    Models ``data_format`` ignored by pooling (TensorFlow's max_pool on GPU treating
    NCHW as NHWC, https://github.com/tensorflow/tensorflow/issues/8754)."""

    CLAUSES = ("POOL-GLOBAL-1", "POOL-LAYOUT-1")

    def _wrong(self, op: str, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        y = getattr(self.base, op)(x, **kw)
        if kw.get("layout") != "channels_last":
            return y
        # the channels_last array read as if it were channels_first
        z = getattr(self.base, op)(np.ascontiguousarray(x), **{**kw, "layout": "channels_first"})
        return z

    def global_max_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._wrong("global_max_pool", x, kw)

    def global_avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._wrong("global_avg_pool", x, kw)

    def global_lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        return self._wrong("global_lp_pool", x, kw)
