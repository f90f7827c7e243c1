"""Hostile: has every op, and reports every call as unsupported."""

from poolconf.conformance.backend import Unsupported
from poolconf.reference.catalog import ALL_OPS


def _unsupported(*args, **kwargs):
    raise Unsupported("nothing is implemented")


for _op in ALL_OPS:
    globals()[_op] = _unsupported
