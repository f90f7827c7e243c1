"""The poolconf reference: the oracle every backend is checked against.

Loop-based, exact, one implementation for every rank. See ``spec/pooling.md``.
"""

from poolconf.reference.catalog import FORWARD_OPS, GRAD_OPS, OPS
from poolconf.reference.geometry import (
    adaptive_bounds,
    effective_kernel,
    output_length,
    resolve_padding,
    same_padding,
)
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

__all__ = [
    "FORWARD_OPS",
    "GRAD_OPS",
    "OPS",
    "adaptive_avg_pool",
    "adaptive_avg_pool_grad",
    "adaptive_bounds",
    "adaptive_max_pool",
    "adaptive_max_pool_grad",
    "avg_pool",
    "avg_pool_grad",
    "conv",
    "conv_grad",
    "effective_kernel",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "lp_pool_grad",
    "max_pool",
    "max_pool_grad",
    "max_pool_with_indices",
    "max_unpool",
    "output_length",
    "resolve_padding",
    "same_padding",
    "zero_pad",
]
