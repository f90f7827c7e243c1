"""Hostile: average pooling spins for ever in Python; the other ops are correct."""

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    n = 0
    while True:
        n += 1
