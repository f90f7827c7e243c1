"""Hostile: average pooling reads address 0 (a segmentation fault)."""

import ctypes

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    return ctypes.string_at(0)
