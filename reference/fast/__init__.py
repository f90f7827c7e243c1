"""A vectorised path of the oracle that returns the loop reference's results bit for bit.

``poolconf.reference.fast`` has the public functions of ``poolconf.reference`` with the
same signatures, the same argument checks (``poolconf.reference.arguments``, called in the
same order, so the same ``SpecError`` messages and clauses) and the same results, NaN
matching NaN and the sign of every zero as the reference gives it. It computes with
NumPy and proves, element by element, that each result is the exact value rounded once.
An element whose proof does not go through is recomputed by the loop reference's own
per-window code (``ops._divisor``, ``ops._select_max``, ``roots.lp_norm``,
``roots.lp_grad_window``, ``dtypes.ExactSum``, ``dtypes.round_exact``) on just the windows
it needs; a call no proof covers (float64 Lp with ``p >= 2``, ``p > 6``, a divisor past
``2**53``, a floating-point environment that flushes subnormals) goes whole to the loop
reference. ``fallback_counts()`` says how often. The loop reference stays the
definition; ``tests/test_fast_reference.py`` checks the two against each other.

Why each result is exact: each module's docstring gives the argument for its part.

* ``selection``: selection moves values and never rounds (max ops; ``scatter``:
  unpooling and padding; ``max_grad``: the routing of max gradients);
* ``bits``: exact sums with one float64 limb, the certificate from the terms' bits;
* ``limbs``: exact sums with two limbs, error-free transformations;
* ``rounding``: one rounding of an exact sum over an integer divisor, and certified
  rounding of an approximation with a proven error bound;
* ``sums``: the two tiers put together over windows, transposed windows and planes;
* ``lp``: Lp's certificate on the sum side; ``conv``: sums of products;
* ``fallback``: the loop reference's own code for what is not proven;
* ``windows``: the separable window plans every op runs on;
* ``common``: counting, the floating-point environment check, argument checks.

Imports go downward only: ``common`` and ``windows`` first, then the arithmetic
(``bits``, ``rounding``, ``limbs``, ``sums``), ``fallback``, and the op modules last.

Clause ids refer to ``spec/pooling.md``.
"""

from poolconf.reference.fast.average import (
    adaptive_avg_pool,
    adaptive_avg_pool_grad,
    avg_pool,
    avg_pool_grad,
    global_avg_pool,
)
from poolconf.reference.fast.common import fallback_counts, reset_fallback_counts
from poolconf.reference.fast.conv import conv, conv_grad
from poolconf.reference.fast.lp import global_lp_pool, lp_pool, lp_pool_grad
from poolconf.reference.fast.max_grad import adaptive_max_pool_grad, max_pool_grad
from poolconf.reference.fast.scatter import max_unpool, zero_pad
from poolconf.reference.fast.selection import (
    adaptive_max_pool,
    global_max_pool,
    max_pool,
    max_pool_with_indices,
)

__all__ = [
    "adaptive_avg_pool",
    "adaptive_avg_pool_grad",
    "adaptive_max_pool",
    "adaptive_max_pool_grad",
    "avg_pool",
    "avg_pool_grad",
    "conv",
    "conv_grad",
    "fallback_counts",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "lp_pool_grad",
    "max_pool",
    "max_pool_grad",
    "max_pool_with_indices",
    "max_unpool",
    "reset_fallback_counts",
    "zero_pad",
]
