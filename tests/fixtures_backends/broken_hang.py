"""Broken on purpose: average pooling never returns; max pooling is correct."""

import time

from poolconf import reference as ref

max_pool = ref.max_pool


def avg_pool(x, **params):
    while True:
        time.sleep(0.05)
