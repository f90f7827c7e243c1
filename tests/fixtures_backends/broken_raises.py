"""Broken on purpose: max pooling raises on valid input."""


def max_pool(x, **params):
    raise RuntimeError("this backend cannot pool")
