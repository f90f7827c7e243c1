"""Seed 002 (the PyTorch ``Pool2D`` example): ``nn.Module`` with ``size=(h, w)``, one
``stride``, no padding.

Its output is ``torch.zeros((N, C, (H - h + 1)//stride, (W - w + 1)//stride))``
(float32), and each output ``[:, :, i, j]`` is the ``.max()`` (or ``.mean()``) of the
*whole* slice ``x[:, :, i*s : i*s + w, j*s : j*s + h]``: over every example and channel
at once, with the kernel's two sizes swapped between the axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants._seed_args import common, pair, require, square, symmetric_padding

SEED = "seed 002 Pool2D"


def _pool(x: np.ndarray, kw: dict[str, Any], mode: str) -> np.ndarray:
    common(x, kw.get("layout", "channels_first"), SEED, "channels_first", kw)
    require(symmetric_padding(kw.get("padding", 0), SEED) == 0, f"{SEED}: no padding")
    size_h, size_w = pair(kw["kernel_size"], "kernel_size", SEED)
    stride = square(kw["kernel_size"] if kw.get("stride") is None else kw["stride"], "stride", SEED)
    out = np.zeros(
        (
            x.shape[0],
            x.shape[1],
            (x.shape[2] - size_h + 1) // stride,
            (x.shape[3] - size_w + 1) // stride,
        ),
        dtype=np.float32,
    )
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride : i * stride + size_w, j * stride : j * stride + size_h]
            out[:, :, i, j] = window.max() if mode == "max" else window.mean()
    return out


def max_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _pool(x, kw, "max")


def avg_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _pool(x, kw, "average")
