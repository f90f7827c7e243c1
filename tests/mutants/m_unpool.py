"""Max unpooling: output size, scatter, index checks [POOL-UNPOOL-*]."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mutants.base import GEOMETRY, Mutant, ParamMutant, scatter


def _unpool_ignoring_padding(
    in_length: int, kernel: int, stride: int, pad_begin: int, pad_end: int
) -> int:
    return (in_length - 1) * stride + kernel  # the bug: padding not subtracted


class UnpoolSizeIgnoresPadding(Mutant):
    """The default unpooled length is ``(in-1)*s + k``: the padding is not subtracted.

    Models ONNX MaxUnpool implementations that infer the output shape without
    ``pads`` (PyTorch's rule subtracts ``2*padding``, see the size issues in
    https://github.com/pytorch/pytorch/issues/144836)."""

    CLAUSES = ("POOL-UNPOOL-1",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"unpool_output_length": _unpool_ignoring_padding}
    }


class UnpoolOutputSizeIgnored(ParamMutant):
    """``output_size`` is ignored; the default size is always used.

    Models MaxUnpool ports that drop the optional ``output_shape`` input (ONNX) /
    ``output_size`` argument (PyTorch), losing the odd row of an odd-sized input
    (https://github.com/pytorch/pytorch/issues/580,
    https://github.com/microsoft/onnxruntime/pull/2193)."""

    CLAUSES = ("POOL-UNPOOL-1",)
    OPS = ("max_unpool",)

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw["output_size"] = None
        return kw


class _ScatterMutant(Mutant):
    KEEP = "last"
    SKIP_INVALID = False

    def max_unpool(self, x: np.ndarray, indices: np.ndarray, **kw: Any) -> np.ndarray:
        # the correct backend checks the arguments and gives the output shape
        probe = np.zeros_like(indices) if isinstance(indices, np.ndarray) else indices
        shape = self.base.max_unpool(x, probe, **kw).shape
        if not self.SKIP_INVALID:
            self.base.max_unpool(x, indices, **kw)
        layout = kw.get("layout", "channels_first")
        return scatter(x, indices, shape, layout, keep=self.KEEP, skip_invalid=self.SKIP_INVALID)


class UnpoolSkipsInvalidIndices(_ScatterMutant):
    """An index outside the output plane is silently skipped instead of raising.

    Models PyTorch's CUDA max_unpool (https://github.com/pytorch/pytorch/issues/68727,
    https://github.com/pytorch/pytorch/issues/89409)."""

    CLAUSES = ("POOL-UNPOOL-3",)
    SKIP_INVALID = True


class UnpoolRepeatedKeepsFirst(_ScatterMutant):
    """A repeated index keeps the first value written, not the last.

    Models scatter kernels whose write order differs from input order (parallel
    CUDA scatters; https://github.com/pytorch/pytorch/issues/132041 on CPU/GPU
    max_unpool differences)."""

    CLAUSES = ("POOL-UNPOOL-4",)
    KEEP = "first"
