"""``accumulating`` without its declaration: an overflowing accumulator is then a failure."""

from accumulating import avg_pool, global_avg_pool, global_lp_pool, lp_pool

__all__ = ["avg_pool", "global_avg_pool", "global_lp_pool", "lp_pool"]
