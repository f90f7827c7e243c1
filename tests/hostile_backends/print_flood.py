"""Hostile: average pooling prints 5 MB per call and returns a wrong value."""

import numpy as np

from poolconf.conformance.backends import numpy_strided
from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    print("flood " * 850_000)
    return numpy_strided.avg_pool(x, **params) + np.asarray(1, dtype=x.dtype)
