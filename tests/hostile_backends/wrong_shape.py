"""Hostile: average pooling always returns one extra output column."""

import numpy as np

from poolconf.conformance.backends import numpy_strided
from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    y = numpy_strided.avg_pool(x, **params)
    return np.concatenate([y, y[..., -1:]], axis=-1)
