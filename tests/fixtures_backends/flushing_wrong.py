"""Declares ``subnormals="flush"`` and flushes, but returns 1.0 where its max_pool result
is a zero: the declaration excuses flushed subnormals, not a wrong normal value."""

import numpy as np
from flushing import max_pool as _max_pool

DECLARATIONS = {"subnormals": "flush"}


def max_pool(x, **params):
    out = _max_pool(x, **params)
    return np.where(out == 0, np.ones_like(out), out) if out.dtype.kind == "f" else out
