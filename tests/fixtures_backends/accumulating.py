"""Correct up to its accumulator: every window sum, and every Lp power, is held in float32
(float64 for float64 data), window by window in window order, so a window whose running sum
leaves that range comes out infinite, as in PyTorch's and ONNX Runtime's CPU kernels; the
backend declares it [POOL-DTYPE-6]. ``accumulating_undeclared`` is the same backend without
the declaration; ``accumulating_narrow`` holds its sums in the input dtype and declares
float32 all the same."""

import numpy as np

from poolconf import reference as ref
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo

DECLARATIONS = {"accumulator": "float32"}


def accumulator(x):
    return np.float64 if x.dtype == np.float64 else np.float32


def accumulating(op, acc_of=accumulator):
    def call(x, **params):
        out = getattr(ref, op)(x, **params)
        layout = params.get("layout", "channels_first")
        values = flagreg.planes(x, layout)
        windows = geo.window_lists(op, geo.spatial_shape(x.shape, layout), params)
        p = params.get("p", 2) if "lp" in op else None
        acc = acc_of(x)
        with np.errstate(over="ignore", invalid="ignore"):
            terms = (values if p is None else np.abs(values) ** p).astype(acc)
            running = [np.cumsum(terms[:, w], axis=1, dtype=acc) for w in windows]
        overflow = np.stack(
            [~np.isfinite(r).all(axis=1) & np.isfinite(values[:, w]).all(axis=1)
             for r, w in zip(running, windows)],
            axis=1,
        )  # fmt: skip
        cf = np.moveaxis(out, -1, 1) if layout == "channels_last" else out
        flat = np.ascontiguousarray(cf).reshape(overflow.shape)
        flat[overflow] = np.inf
        result = flat.reshape(cf.shape)
        return np.moveaxis(result, 1, -1) if layout == "channels_last" else result

    return call


avg_pool = accumulating("avg_pool")
lp_pool = accumulating("lp_pool")
global_avg_pool = accumulating("global_avg_pool")
global_lp_pool = accumulating("global_lp_pool")
