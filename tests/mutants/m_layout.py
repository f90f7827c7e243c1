"""Layout handling: channels_last read or written as channels_first [POOL-LAYOUT-1]."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants.base import Mutant
from poolconf.reference.catalog import OPS

# the ops with one input array and one output: the layout bug is in their shared plumbing
LAYOUT_OPS = tuple(
    name for name, op in OPS.items() if op.arrays == ("x",) and op.outputs == ("output",)
)


class _LayoutMutant(Mutant):
    def wrong(self, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        fn = super().__getattr__(name)
        if name not in LAYOUT_OPS:
            return fn

        def wrapped(x: np.ndarray, **kw: Any) -> Any:
            if kw.get("layout") != "channels_last":
                return fn(x, **kw)
            fn(x, **kw)  # the argument checks of the correct backend
            return self.wrong(fn, x, kw)

        return wrapped


class ChannelsLastReshaped(_LayoutMutant):
    """channels_last input is converted with ``reshape`` instead of ``transpose``
    (``x.reshape(N, C, *spatial)``), scrambling channels and positions, and the
    result is reshaped back the same way.

    Models the reshape-for-transpose mistake of NHWC/NCHW conversions in converters
    and from-scratch code (onnx-tensorflow's data_format handling,
    https://github.com/onnx/onnx-tensorflow/pull/83)."""

    CLAUSES = ("POOL-LAYOUT-1",)

    def wrong(self, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        n, c = x.shape[0], x.shape[-1]
        as_first = np.ascontiguousarray(x).reshape(n, c, *x.shape[1:-1])
        y = fn(as_first, **{**kw, "layout": "channels_first"})
        return y.reshape(y.shape[0], *y.shape[2:], y.shape[1])


class ChannelsLastOutputNotPermuted(_LayoutMutant):
    """channels_last input is transposed to channels_first correctly, but the result
    is returned in channels_first order.

    Models ``data_format`` handled on the way in only
    (https://github.com/tensorflow/tensorflow/issues/12999,
    https://github.com/tensorflow/tensorflow/issues/8754)."""

    CLAUSES = ("POOL-LAYOUT-1",)

    def wrong(self, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        first = np.ascontiguousarray(np.moveaxis(x, -1, 1))
        return fn(first, **{**kw, "layout": "channels_first"})
