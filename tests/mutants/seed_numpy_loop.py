"""Seed 003 (NumPy loop pooling): ``max_pooling(x, pool_size)`` on one ``(H, W, C)``
image, stride equal to the pool size, ``output_height = height // pool_height``,
``np.amax`` / ``np.mean`` of each region into a ``np.zeros`` (float64) output.

The batch is looped over here (the seed takes one image); everything else is the
seed's: channels_last, no padding, no other stride."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants._seed_args import common, pair, require, symmetric_padding

SEED = "seed 003 NumPy loops"


def _pooling(x: np.ndarray, pool_size: tuple[int, int], reduce: Any) -> np.ndarray:
    height, width, channels = x.shape
    pool_height, pool_width = pool_size
    output_height = height // pool_height
    output_width = width // pool_width
    output = np.zeros((output_height, output_width, channels))
    for h in range(output_height):
        for w in range(output_width):
            region = x[
                h * pool_height : (h + 1) * pool_height, w * pool_width : (w + 1) * pool_width, :
            ]
            output[h, w, :] = reduce(region, axis=(0, 1))
    return output


def _batch(x: np.ndarray, kw: dict[str, Any], reduce: Any) -> np.ndarray:
    common(x, kw.get("layout", "channels_first"), SEED, "channels_last", kw)
    require(symmetric_padding(kw.get("padding", 0), SEED) == 0, f"{SEED}: no padding")
    size = pair(kw["kernel_size"], "kernel_size", SEED)
    if kw.get("stride") is not None:
        require(pair(kw["stride"], "stride", SEED) == size, f"{SEED}: stride = pool size only")
    return np.stack([_pooling(image, size, reduce) for image in x])


def max_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _batch(x, kw, np.amax)


def avg_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _batch(x, kw, np.mean)
