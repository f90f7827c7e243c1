"""Hostile: average pooling raises KeyboardInterrupt, as if the user had pressed Ctrl-C."""

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    raise KeyboardInterrupt
