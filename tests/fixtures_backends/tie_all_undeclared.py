"""Broken on purpose: routes a tied maximum's gradient to every tied element but
declares nothing, i.e. claims the reference's 'first' policy [POOL-MAX-4]."""

from poolconf import reference as ref

max_pool = ref.max_pool


def max_pool_grad(x, grad_output, tie_policy=None, **params):
    return ref.max_pool_grad(x, grad_output, **params, tie_policy="all")
