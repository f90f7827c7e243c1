"""Hostile: average pooling fills 4 GiB before it returns anything."""

import numpy as np

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    return np.ones(2**30, dtype=np.float32)
