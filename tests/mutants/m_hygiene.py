"""API hygiene: inputs are read, never written; results are new arrays of the input's
dtype [spec/backend-api.md, POOL-DTYPE-2]."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants.base import Mutant


class LpPoolAbsInPlace(Mutant):
    """lp_pool takes ``np.abs(x, out=x)``: the result is right, the caller's input is
    overwritten with its absolute values.

    Models in-place ops on inputs in forward passes (``x.abs_()`` in custom ops; the
    NumPy tutorials' ``np.abs(x, out=x)`` shortcut), cf. the non-contiguous gradOutput
    write in https://github.com/torch/cunn/pull/199."""

    CLAUSES = ("POOL-SHAPE-2",)
    KIND = "hygiene"

    def lp_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.lp_pool(x, **kw)
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            np.abs(x, out=x)
        return y


class MaxPoolGradClobbersGradOutput(Mutant):
    """max_pool_grad scales ``grad_output`` in place (``g *= 0`` once routed): the
    result is right, the caller's gradient buffer is destroyed.

    Models backward passes that reuse the incoming gradient buffer as scratch
    (https://github.com/torch/cunn/pull/199: max pooling wrote through gradOutput)."""

    CLAUSES = ("POOL-SHAPE-2",)
    KIND = "hygiene"

    def max_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        gx = self.base.max_pool_grad(x, grad_output, **kw)
        if isinstance(grad_output, np.ndarray):
            grad_output *= 0
        return gx


class ZeroPadReturnsInput(Mutant):
    """zero_pad with all-zero padding returns its input itself (no copy), so the
    caller's result aliases the input.

    Models fast paths that return the input unchanged (``F.pad`` with zero pads,
    identity-shortcut kernels; ONNX Runtime's MaxUnpool output handling in
    https://github.com/microsoft/onnxruntime/pull/2193 shows the allocate-vs-reuse choice)."""

    CLAUSES = ("POOL-SHAPE-2",)
    KIND = "hygiene"

    def zero_pad(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.zero_pad(x, **kw)
        return x if y.shape == x.shape else y


class AvgPoolUpcasts(Mutant):
    """avg_pool returns its float32 accumulator for float16/bfloat16 input (and
    float64 for float32) instead of the input's dtype.

    Models reduced-precision pools returning the accumulator dtype (candle's f16 fix
    computes in f64 and must narrow back, https://github.com/huggingface/candle/pull/3719;
    the tutorials' ``np.zeros`` outputs are float64, seeds 001 and 003)."""

    CLAUSES = ("POOL-DTYPE-2",)
    KIND = "hygiene"

    def avg_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        y = self.base.avg_pool(x, **kw)
        wider = {np.dtype(np.float32): np.float64}.get(y.dtype, np.float32)
        return y.astype(wider) if y.dtype != np.float64 else y
