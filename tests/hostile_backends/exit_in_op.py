"""Hostile: average pooling ends the process with status 0; the other ops are correct."""

import os

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    os._exit(0)
