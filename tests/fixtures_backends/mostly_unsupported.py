"""Correct, but declines 99 inputs in 100: max_pool raises Unsupported unless the CRC-32
of the input's bytes is a multiple of 100, so a property checks few of its examples
before Hypothesis stops drawing."""

import zlib

from poolconf import Unsupported
from poolconf import reference as ref


def max_pool(x, **params):
    if zlib.crc32(x.tobytes()) % 100:
        raise Unsupported("this input is not handled (it declines 99 inputs in 100)")
    return ref.max_pool(x, **params)
