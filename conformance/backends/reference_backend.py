"""The reference itself as a backend: it must pass everything."""

from poolconf.reference.flags import DEFAULT_DECLARATIONS
from poolconf.reference.ops import (
    adaptive_avg_pool,
    adaptive_avg_pool_grad,
    adaptive_max_pool,
    adaptive_max_pool_grad,
    avg_pool,
    avg_pool_grad,
    conv,
    conv_grad,
    global_avg_pool,
    global_lp_pool,
    global_max_pool,
    lp_pool,
    lp_pool_grad,
    max_pool,
    max_pool_grad,
    max_pool_with_indices,
    max_unpool,
    zero_pad,
)

DECLARATIONS = dict(DEFAULT_DECLARATIONS)  # every choice is the reference's

__all__ = [
    "adaptive_avg_pool",
    "adaptive_avg_pool_grad",
    "adaptive_max_pool",
    "adaptive_max_pool_grad",
    "avg_pool",
    "avg_pool_grad",
    "conv",
    "conv_grad",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "lp_pool_grad",
    "max_pool",
    "max_pool_grad",
    "max_pool_with_indices",
    "max_unpool",
    "zero_pad",
]
