"""Correct, but partial: max pooling only without ceil mode (else Unsupported), no
gradients, no average pooling."""

from poolconf import Unsupported
from poolconf import reference as ref


def max_pool(x, *, ceil_mode=False, **params):
    if ceil_mode:
        raise Unsupported("ceil_mode=True is not implemented")
    return ref.max_pool(x, ceil_mode=ceil_mode, **params)
