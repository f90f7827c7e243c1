"""Unpooling and padding [POOL-UNPOOL-*, POOL-PAD-1]: values moved, never rounded."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from poolconf import SpecError
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import ops as ref
from poolconf.reference.fast.common import _assemble, _op, _planes


@_op
def max_unpool(
    x: np.ndarray,
    indices: np.ndarray,
    *,
    kernel_size: object,
    stride: object = None,
    padding: object = 0,
    output_size: object = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """Scatter each value to its flat index in a zero plane; a repeated index keeps the
    value written last in row-major order [POOL-UNPOOL-1..4]."""
    _, out = args.unpool_output_size(x, indices, kernel_size, stride, padding, output_size, layout)
    x_cf, idx_cf = ref._to_channels_first(x, layout), ref._to_channels_first(indices, layout)
    size = math.prod(out)
    n, c = x_cf.shape[:2]
    V = _planes(x_cf).reshape(n * c, -1) if n * c else np.zeros((0, 1), x.dtype)
    idx = _planes(idx_cf).reshape(n * c, -1) if n * c else np.zeros((0, 1), np.int64)
    invalid = idx >= size if idx.dtype.kind == "u" else (idx < 0) | (idx >= size)
    if invalid.any():
        first = int(np.flatnonzero(invalid.ravel())[0])
        raise SpecError(
            f"indices value {int(idx.ravel()[first])} is outside the output plane of {size} elements",
            "POOL-UNPOOL-3",
        )
    result = np.zeros((n * c, size), x.dtype)
    if idx.size:
        flat = (idx.astype(np.int64) + (np.arange(n * c, dtype=np.int64) * size)[:, None]).ravel()
        # the last write to a position wins: its first occurrence in reversed order
        rev = flat[::-1]
        targets, first_rev = np.unique(rev, return_index=True)
        result.reshape(-1)[targets] = V.reshape(-1)[flat.size - 1 - first_rev]
    return _assemble(result.reshape(n * c, *out), n, c, layout)


@_op
def zero_pad(x: np.ndarray, *, padding: object, layout: str = "channels_first") -> np.ndarray:
    """Pad every spatial dim with zeros, ``(begin, end)`` per dim [POOL-PAD-1]."""
    dtype = args.check_array(x, "x", dt.ALL_DTYPES, "zero_pad", layout)
    x_cf = ref._to_channels_first(x, layout)
    pads = args.explicit_padding(padding, x_cf.shape[2:], "POOL-PAD-1", "zero_pad")
    out_spatial = tuple(L + pb + pe for L, (pb, pe) in zip(x_cf.shape[2:], pads))
    out = np.zeros((*x_cf.shape[:2], *out_spatial), dt.numpy_dtype(dtype))
    inner = tuple(slice(pb, pb + L) for L, (pb, _) in zip(x_cf.shape[2:], pads))
    index: tuple[Any, ...] = (slice(None), slice(None), *inner)
    out[index] = x_cf
    return ref._from_channels_first(out, layout)
