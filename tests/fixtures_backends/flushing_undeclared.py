"""``flushing`` without its declaration: flushing subnormals is then a failure."""

from flushing import avg_pool, avg_pool_grad, global_avg_pool, max_pool, max_pool_grad

__all__ = ["avg_pool", "avg_pool_grad", "global_avg_pool", "max_pool", "max_pool_grad"]
