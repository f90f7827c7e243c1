"""Max pooling values: padding, NaN, infinities, signed zero, integer dtypes [POOL-MAX-*]."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from mutants.base import Mutant, is_float, spatial_shape, window_loop
from poolconf.reference import geometry as geo

MAX_OPS = ("max_pool", "max_pool_with_indices", "adaptive_max_pool", "global_max_pool")


class _OutputMutant(Mutant):
    """Rewrites the input (``before``) or the values (``after``) of the max ops."""

    def before(self, x: np.ndarray) -> np.ndarray:
        return x

    def after(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return y

    def __getattr__(self, name: str) -> Any:
        fn = super().__getattr__(name)
        if name not in MAX_OPS:
            return fn

        def wrapped(x: np.ndarray, **kw: Any) -> Any:
            result = fn(self.before(x), **kw)
            if name == "max_pool_with_indices":
                return self.after(result[0], x), result[1]
            return self.after(result, x)

        return wrapped


class PaddingTakesPartInMax(Mutant):
    """Max pooling over a zero-padded input: padding competes as 0, so an
    all-negative window at the border returns 0.

    Models onnx-tensorflow's pooling via ``tf.pad`` (discussed in
    https://github.com/onnx/onnx-tensorflow/pull/83: "tf.pad will pad 0 which will
    get unexpected result if all numbers in window is negative")."""

    CLAUSES = ("POOL-MAX-1",)

    def max_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        layout = kw.get("layout", "channels_first")
        rank = x.ndim - 2
        k = kw["kernel_size"]
        s = k if kw.get("stride") is None else kw["stride"]
        d = kw.get("dilation", 1)
        pads = geo.resolve_padding(
            kw.get("padding", 0),
            spatial_shape(x, layout),
            geo.per_dim(k, "kernel_size", rank, 1, "POOL-PARAM-1"),
            geo.per_dim(s, "stride", rank, 1, "POOL-PARAM-2"),
            geo.per_dim(d, "dilation", rank, 1, "POOL-PARAM-3"),
        )
        padded = self.base.zero_pad(x, padding=pads, layout=layout)
        return self.base.max_pool(padded, **{**kw, "padding": tuple((0, 0) for _ in pads)})


class NanDropped(_OutputMutant):
    """NaN is skipped by max (``fmax`` semantics); an all-NaN window gives -inf.

    Models PyTorch's max pooling before https://github.com/pytorch/pytorch/pull/7670
    (https://github.com/pytorch/pytorch/issues/7645) and cuDNN without NaN
    propagation (https://github.com/pytorch/pytorch/issues/39846)."""

    CLAUSES = ("POOL-MAX-2",)

    def before(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), -np.inf, x).astype(x.dtype) if is_float(x) else x


def _greater_than_loop(plane: np.ndarray, taps: list[int]) -> Any:
    if not taps:
        return -np.inf
    best = plane[taps[0]]
    for t in taps[1:]:
        if plane[t] > best:
            best = plane[t]
    return best


class NanOnlyIfFirst(Mutant):
    """The running max updates with ``if v > best``: a NaN is kept only when it is the
    window's first tap, and dropped anywhere else.

    Models Theano's CPU max pool (https://github.com/Theano/Theano/issues/3060) and
    burn-flex before https://github.com/tracel-ai/burn/pull/5662."""

    CLAUSES = ("POOL-MAX-2",)

    def max_pool(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        if not is_float(x):
            return self.base.max_pool(x, **kw)
        self.base.max_pool(x, **kw)  # the argument checks of the correct backend
        return window_loop(x, kw, _greater_than_loop, x.dtype)


class NegInfBecomesLowest(_OutputMutant):
    """The running max starts at the lowest finite value, so a window of -inf (or an
    empty one) returns ``-FLT_MAX`` instead of -inf.

    Models TensorFlow's CPU max_pool (https://github.com/tensorflow/tensorflow/issues/2501)
    and PyTorch's early -THInf/-FLT_MAX initialisation
    (https://github.com/pytorch/pytorch/issues/39846)."""

    CLAUSES = ("POOL-MAX-3",)

    def after(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        if not is_float(y):
            return y
        lowest = ml_dtypes.finfo(y.dtype).min
        return np.where(y == -np.inf, lowest, y).astype(y.dtype)


class NegativeZeroLost(_OutputMutant):
    """A zero result always comes back as +0.0 (the epilogue adds 0.0), so a window
    whose first maximum is -0.0 returns +0.0.

    Models the signed-zero ambiguity of ``max``: IEEE leaves ``max(-0, +0)``
    open and SIMD ``maxps`` returns its second operand; poolconf requires the first
    zero in window order (POOL-MAX-5), as numpy-strided has to fix up explicitly.
    Tie handling differs across libraries: https://github.com/tensorflow/tensorflow/issues/4886."""

    CLAUSES = ("POOL-MAX-5",)

    def after(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        if not is_float(y):
            return y
        return (y + np.zeros((), dtype=y.dtype)).astype(y.dtype)


class IntegerMaxThroughFloat32(_OutputMutant):
    """Integer max pooling runs in float32 and casts back, so int32/int64 values
    beyond 2**24 lose their low bits.

    Models backends that implement integer pooling by casting to float
    (the MPS backend falls back for int64 pooling,
    https://github.com/kulinseth/pytorch/pull/273; TFLite pools only float and 8-bit)."""

    CLAUSES = ("POOL-MAX-6",)

    def before(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32) if x.dtype.kind in "iu" else x

    def after(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind in "iu":
            with np.errstate(invalid="ignore", over="ignore"):
                return (
                    y.astype(np.float64)
                    .clip(np.iinfo(x.dtype).min, np.iinfo(x.dtype).max)
                    .astype(x.dtype)
                )
        return y


class IntegerMaxStartsAtZero(_OutputMutant):
    """Integer max pooling starts its running max at 0 (an unsigned-8-bit
    assumption), so all-negative windows of signed integers return 0.

    Models https://github.com/webmachinelearning/webnn/issues/935 (TFLite returns 0
    where a window has no element) and quantized kernels written for uint8."""

    CLAUSES = ("POOL-MAX-6",)

    def after(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        if y.dtype.kind == "i":
            return np.maximum(y, 0).astype(y.dtype)
        return y
