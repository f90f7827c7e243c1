"""The reference itself as a backend: it must pass everything."""

from poolconf.reference import *  # noqa: F403 - every reference op is this backend's op
from poolconf.reference import __all__  # noqa: F401

DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "reference",
    "nan_index": "first",
    "lp_zero_grad": "zero",
}
