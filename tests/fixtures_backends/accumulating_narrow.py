"""Holds its window sums and Lp powers in the input dtype (float16 sums overflow at 65504)
but declares a float32 accumulator: the float16 outputs that overflow fail
[POOL-DTYPE-6]."""

from accumulating import accumulating

DECLARATIONS = {"accumulator": "float32"}

avg_pool = accumulating("avg_pool", acc_of=lambda x: x.dtype)
lp_pool = accumulating("lp_pool", acc_of=lambda x: x.dtype)
global_avg_pool = accumulating("global_avg_pool", acc_of=lambda x: x.dtype)
global_lp_pool = accumulating("global_lp_pool", acc_of=lambda x: x.dtype)
