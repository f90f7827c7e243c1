"""Correct up to flushing: every subnormal input reads as a zero of its sign and every
subnormal result comes back as one (DAZ and FTZ, as XLA and TensorFlow on the CPU), and
the backend declares it [POOL-DTYPE-5]. ``flushing_undeclared`` is the same backend
without the declaration."""

import numpy as np

from poolconf import reference as ref
from poolconf.reference import dtypes as dt

DECLARATIONS = {"subnormals": "flush"}


def _flush(a):
    tiny = dt.subnormal_mask(a)
    return a if tiny is None else np.where(tiny, np.copysign(np.zeros_like(a), a), a)


def _flushing(fn):
    def call(*arrays, **params):
        result = fn(*(_flush(a) for a in arrays), **params)
        return tuple(_flush(r) for r in result) if isinstance(result, tuple) else _flush(result)

    return call


max_pool = _flushing(ref.max_pool)
max_pool_grad = _flushing(ref.max_pool_grad)
avg_pool = _flushing(ref.avg_pool)
avg_pool_grad = _flushing(ref.avg_pool_grad)
global_avg_pool = _flushing(ref.global_avg_pool)
