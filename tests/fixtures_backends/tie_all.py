"""Correct, declaring the 'all' tie policy: every tied maximum gets the gradient."""

from poolconf import reference as ref

DECLARATIONS = {"tie_policy": "all"}

max_pool = ref.max_pool


def max_pool_grad(x, grad_output, tie_policy=None, **params):
    return ref.max_pool_grad(x, grad_output, **params, tie_policy="all")
