"""Correct within its padding limit: explicit pooling padding of ``kernel_size`` or more
on some side raises, as ONNX Runtime's does ("Pad should be smaller than kernel"), and the
backend declares padding_limit="below_kernel" [POOL-PARAM-7]. ``limited_partly`` enforces
the limit on max pooling only (as TensorFlow's explicit max_pool padding) and computes
the rest; ``limited_wrong`` declares the limit but returns wrong values past it."""

from poolconf import reference as ref
from poolconf.reference import flags as flagreg

DECLARATIONS = {"padding_limit": "below_kernel"}
WINDOWED = ("max_pool", "max_pool_with_indices", "avg_pool", "lp_pool")


def past_limit(forward, x, params):
    last = params.get("layout", "channels_first") == "channels_last"
    spatial = x.shape[1:-1] if last else x.shape[2:]
    return "PaddingNotBelowKernel" in flagreg.padding_flags(forward, spatial, params)


def limited(name, past=None):
    """The reference's ``name``; past the limit it raises, or returns ``past(result)``."""
    fn = getattr(ref, name)
    forward = name.removesuffix("_grad")

    def call(x, *arrays, **params):
        if not past_limit(forward, x, params):
            return fn(x, *arrays, **params)
        if past is None:
            raise ValueError("Pad should be smaller than kernel")
        return past(fn(x, *arrays, **params))

    return call


for _op in WINDOWED:
    globals()[_op] = limited(_op)
    if _op != "max_pool_with_indices":
        globals()[_op + "_grad"] = limited(_op + "_grad")
