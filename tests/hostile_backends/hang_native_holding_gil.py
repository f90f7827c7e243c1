"""Hostile: average pooling sleeps for ever in C while holding the interpreter lock, so
no other Python thread of the process runs again."""

import ctypes

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403

LIBC = ctypes.PyDLL(None)  # PyDLL: the call keeps the interpreter lock


def avg_pool(x, **params):
    while True:
        LIBC.sleep(1000)
