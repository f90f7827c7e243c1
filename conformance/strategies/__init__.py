"""Hypothesis strategies for pooling calls: configurations, values and whole cases.

* ``pool_configs`` (``configs``) draws a valid call of a forward op without values;
  ``mirrored_configs`` and ``overhang_configs`` draw the geometries two checks need;
* ``arrays``, ``special_values``, ``seeded_values`` (``values``) draw and build values;
* ``pool_cases`` (``cases``) adds the arrays and a seeded ``grad_output``.

``scale_configs`` draws the scale tier's larger calls (channel tails, sides past a
tile, up to ``SCALE_MAX_ELEMENTS`` elements). Inputs stay small by default (at most ``max_elements`` elements of ``x``) so the
loop-based reference stays fast and shrinking gives a small counterexample.
"""

from poolconf.conformance.strategies.cases import PoolCase, pool_cases, reference_forward
from poolconf.conformance.strategies.configs import (
    PADDING_KINDS,
    Bounds,
    PoolConfig,
    mirrored_configs,
    overhang_configs,
    pool_configs,
    scale_configs,
)
from poolconf.conformance.strategies.values import arrays, seeded_values, special_values

__all__ = [
    "PADDING_KINDS",
    "Bounds",
    "PoolCase",
    "PoolConfig",
    "arrays",
    "mirrored_configs",
    "overhang_configs",
    "pool_cases",
    "pool_configs",
    "reference_forward",
    "scale_configs",
    "seeded_values",
    "special_values",
]
