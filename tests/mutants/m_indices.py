"""Max pooling indices: conventions and dtype [POOL-IDX-*]."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants.base import Mutant, from_first, geometry, spatial_shape, to_first, window_loop


class _IndexMutant(Mutant):
    """Rewrites the indices of ``max_pool_with_indices``."""

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def max_pool_with_indices(self, x: np.ndarray, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        y, idx = self.base.max_pool_with_indices(x, **kw)
        return y, self.indices(idx, x, kw)


class IndicesOverWholeTensor(_IndexMutant):
    """Indices count over the whole tensor, ``((n*C + c)*H + h)*W + w`` (ONNX MaxPool's
    ``Indices``, TF's ``include_batch_in_index``), instead of per (N, C) plane.

    Models exporters that pass one convention off as the other (PyTorch -> ONNX
    MaxPool with indices, https://github.com/tensorflow/tensorflow/issues/2169 on
    argmax conventions)."""

    CLAUSES = ("POOL-IDX-1",)

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        layout = kw.get("layout", "channels_first")
        plane = int(np.prod(spatial_shape(x, layout)))
        first = to_first(idx, layout)
        n, c = first.shape[:2]
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * plane
        shifted = first + offset.reshape(n, c, *([1] * (first.ndim - 2)))
        return from_first(np.where(first >= 0, shifted, first), layout).astype(np.int64)


class IndicesChannelsInterleaved(_IndexMutant):
    """On channels_last input the index is ``flat * C + c`` (TensorFlow's
    ``max_pool_with_argmax`` NHWC convention) instead of the per-plane flat index.

    Models https://github.com/tensorflow/tensorflow/issues/2169 (TF argmax indices
    used for unpooling) mixed with PyTorch-style unpooling."""

    CLAUSES = ("POOL-IDX-1", "POOL-IDX-3")

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        if kw.get("layout") != "channels_last":
            return idx
        c = idx.shape[-1]
        return np.where(idx >= 0, idx * c + np.arange(c), idx).astype(np.int64)


def _first_max_offset(plane: np.ndarray, taps: list[int]) -> int:
    if not taps:
        return -1
    vals = plane[taps]
    if vals.dtype.kind == "f" and np.isnan(vals).any():
        return int(np.flatnonzero(np.isnan(vals))[0])
    return int(np.flatnonzero(vals == vals.max())[0])


class IndicesWithinWindow(_IndexMutant):
    """The index is the maximum's offset inside its window's in-bounds taps
    (0..k-1), not its position in the input plane.

    Models kernels that store the argmax register and never add the window origin
    (ML-From-Scratch's ``arg_max`` over an im2col column is window-local, seed 000;
    ONNX MaxUnpool index conventions, https://github.com/onnx/onnx/issues/2398)."""

    CLAUSES = ("POOL-IDX-1",)

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        return window_loop(x, kw, _first_max_offset, np.int64)


class IndicesInt32(_IndexMutant):
    """Indices come back as int32.

    Models backends whose argmax is 32-bit (PyTorch's CUDA max_unpool reads
    indices into an ``int``, https://github.com/pytorch/pytorch/issues/197409;
    TFLite's int32 argmax)."""

    CLAUSES = ("POOL-IDX-4",)

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        return idx.astype(np.int32)


class IndicesInPaddedPlane(_IndexMutant):
    """Indices are flat positions in the *padded* plane, ``(h+pt)*(W+pl+pr) + (w+pl)``.

    Models implementations that pad the input explicitly and take the argmax of the
    padded buffer (Pad + MaxPool lowerings, https://github.com/onnx/onnx-tensorflow/pull/83;
    PyTorch's indices are "agnostic to kernel size and padding",
    https://github.com/onnx/onnx/issues/2398)."""

    CLAUSES = ("POOL-IDX-1",)

    def indices(self, idx: np.ndarray, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        layout = kw.get("layout", "channels_first")
        spatial = spatial_shape(x, layout)
        pads = geometry(x, kw).padding
        padded = tuple(s + pb + pe for s, (pb, pe) in zip(spatial, pads))
        valid = idx >= 0
        coords = np.unravel_index(np.where(valid, idx, 0), spatial)
        moved = tuple(c + pb for c, (pb, _) in zip(coords, pads))
        return np.where(valid, np.ravel_multi_index(moved, padded), idx).astype(np.int64)
