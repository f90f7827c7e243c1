"""Hostile: average pooling calls sys.exit(0); the other ops are correct."""

import sys

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403


def avg_pool(x, **params):
    sys.exit(0)
