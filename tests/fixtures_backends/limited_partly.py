"""Declares padding_limit="below_kernel" and enforces it on max pooling only (as
TensorFlow's explicit max_pool padding); average and Lp pooling past the limit return
the reference's values, which a declared limit allows [POOL-PARAM-7]."""

from limited import limited

from poolconf import reference as ref

DECLARATIONS = {"padding_limit": "below_kernel"}

max_pool = limited("max_pool")
max_pool_grad = limited("max_pool_grad")
avg_pool = ref.avg_pool
avg_pool_grad = ref.avg_pool_grad
lp_pool = ref.lp_pool
lp_pool_grad = ref.lp_pool_grad
