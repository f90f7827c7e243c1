"""Hostile: average pooling returns a wrong 256 MiB array on every call; a harness that
keeps failed outputs alive runs out of memory."""

import numpy as np

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    return np.ones(2**26, dtype=np.float32)
