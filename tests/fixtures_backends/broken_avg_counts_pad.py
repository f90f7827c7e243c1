"""Broken on purpose: average pooling always counts padding (ignores
count_include_pad=False) [POOL-AVG-4]."""

from poolconf import reference as ref

max_pool = ref.max_pool


def avg_pool(x, *, count_include_pad=True, **params):
    return ref.avg_pool(x, count_include_pad=True, **params)


def avg_pool_grad(x, grad_output, *, count_include_pad=True, **params):
    return ref.avg_pool_grad(x, grad_output, count_include_pad=True, **params)
