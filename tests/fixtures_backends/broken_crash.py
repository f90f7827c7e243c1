"""Broken on purpose: average pooling kills the process; max pooling is correct."""

import os

from poolconf import reference as ref

max_pool = ref.max_pool


def avg_pool(x, **params):
    os._exit(3)
