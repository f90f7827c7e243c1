"""Hostile: average pooling sleeps for ever in C, with the interpreter lock released."""

import ctypes

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403

LIBC = ctypes.CDLL(None)


def avg_pool(x, **params):
    while True:
        LIBC.sleep(1000)
