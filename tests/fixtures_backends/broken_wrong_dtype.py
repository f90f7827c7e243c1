"""Broken on purpose: max pooling returns float64 for float32 input [POOL-DTYPE-2]."""

import numpy as np

from poolconf import reference as ref


def max_pool(x, **params):
    return ref.max_pool(x, **params).astype(np.float64)
