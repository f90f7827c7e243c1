"""Hostile: correct results, but every call (and the import) leaves NumPy raising on any
floating-point event: the harness's own arithmetic must not be affected."""

import functools

import numpy as np

from poolconf.conformance.backends import numpy_strided
from poolconf.reference.catalog import ALL_OPS

DECLARATIONS = numpy_strided.DECLARATIONS
np.seterr(all="raise")


def _leaves_numpy_raising(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        np.seterr(all="raise")
        return result

    return wrapper


for _op in ALL_OPS:
    if hasattr(numpy_strided, _op):
        globals()[_op] = _leaves_numpy_raising(getattr(numpy_strided, _op))
