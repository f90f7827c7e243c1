"""Hostile: correct max and average pooling, and no gradients."""

from poolconf.conformance.backends.numpy_strided import DECLARATIONS, avg_pool, max_pool

__all__ = ["DECLARATIONS", "avg_pool", "max_pool"]
