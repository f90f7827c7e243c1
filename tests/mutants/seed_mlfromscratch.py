"""Seed 000 (ML-From-Scratch ``PoolingLayer``, ``MaxPooling2D``, ``AveragePooling2D``).

Channels-first; one ``stride`` and one ``padding``. The forward reshapes ``X`` to
``(N*C, 1, H, W)``, builds im2col columns with the padding (zeros), reduces each
column (``np.argmax`` then a gather, or ``np.mean``) and reshapes to the size
``output_shape()`` gives: ``(H - pool_h) / stride + 1``, asserting it is an integer
and ignoring the padding. The backward scatters into float64 columns and runs
col2im with padding 0 (``np.add.at``, so overlaps accumulate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants._seed_args import common, pair, square, symmetric_padding

SEED = "seed 000 ML-From-Scratch"


def _args(x: np.ndarray, kw: dict[str, Any]) -> tuple[tuple[int, int], int, int]:
    common(x, kw.get("layout", "channels_first"), SEED, "channels_first", kw)
    pool_shape = pair(kw["kernel_size"], "kernel_size", SEED)
    stride = square(kw["kernel_size"] if kw.get("stride") is None else kw["stride"], "stride", SEED)
    padding = symmetric_padding(kw.get("padding", 0), SEED)
    return pool_shape, stride, padding


def _output_shape(x: np.ndarray, pool_shape: tuple[int, int], stride: int) -> tuple[int, int]:
    _, _, height, width = x.shape
    out_height = (height - pool_shape[0]) / stride + 1
    out_width = (width - pool_shape[1]) / stride + 1
    assert out_height % 1 == 0
    assert out_width % 1 == 0
    return int(out_height), int(out_width)


def _image_to_column(
    images: np.ndarray, pool_shape: tuple[int, int], stride: int, padding: int
) -> np.ndarray:
    """Columns ``(pool_h*pool_w, positions * images)``, images fastest."""
    padded = np.pad(
        images, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant"
    )
    ph, pw = pool_shape
    out_h = (padded.shape[2] - ph) // stride + 1
    out_w = (padded.shape[3] - pw) // stride + 1
    cols = []
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, 0, i * stride : i * stride + ph, j * stride : j * stride + pw]
            cols.append(patch.reshape(patch.shape[0], -1).T)
    return np.concatenate(cols, axis=1)


def _column_to_image(
    cols: np.ndarray, shape: tuple[int, ...], pool_shape: tuple[int, int], stride: int
) -> np.ndarray:
    n, _, height, width = shape
    ph, pw = pool_shape
    out_h = (height - ph) // stride + 1
    out_w = (width - pw) // stride + 1
    image = np.zeros(shape)
    k = 0
    for i in range(out_h):
        for j in range(out_w):
            block = cols[:, k * n : (k + 1) * n].T.reshape(n, ph, pw)
            np.add.at(
                image,
                (
                    slice(None),
                    0,
                    slice(i * stride, i * stride + ph),
                    slice(j * stride, j * stride + pw),
                ),
                block,
            )
            k += 1
    return image


def _forward(x: np.ndarray, kw: dict[str, Any], reduce: Any) -> np.ndarray:
    pool_shape, stride, padding = _args(x, kw)
    batch_size, channels, height, width = x.shape
    out_height, out_width = _output_shape(x, pool_shape, stride)
    x_col = _image_to_column(
        x.reshape(batch_size * channels, 1, height, width), pool_shape, stride, padding
    )
    output = reduce(x_col)
    output = output.reshape(out_height, out_width, batch_size, channels)
    return output.transpose(2, 3, 0, 1)


def _max_columns(x_col: np.ndarray) -> np.ndarray:
    arg_max = np.argmax(x_col, axis=0).flatten()
    return x_col[arg_max, range(arg_max.size)]


def max_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _forward(x, kw, _max_columns)


def avg_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _forward(x, kw, lambda c: np.mean(c, axis=0))


def _backward(x: np.ndarray, grad: np.ndarray, kw: dict[str, Any], mode: str) -> np.ndarray:
    pool_shape, stride, padding = _args(x, kw)
    batch_size, channels, height, width = x.shape
    accum = grad.transpose(2, 3, 0, 1).ravel()
    cols = np.zeros((int(np.prod(pool_shape)), accum.size))
    if mode == "max":
        x_col = _image_to_column(
            x.reshape(batch_size * channels, 1, height, width), pool_shape, stride, padding
        )
        arg_max = np.argmax(x_col, axis=0).flatten()
        cols[arg_max, range(accum.size)] = accum
    else:
        cols[:, range(accum.size)] = 1.0 / cols.shape[0] * accum
    image = _column_to_image(cols, (batch_size * channels, 1, height, width), pool_shape, stride)
    return image.reshape(x.shape)


def max_pool_grad(x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
    kw.pop("tie_policy", None)  # argmax: the first maximum, as the spec's "first"
    return _backward(x, grad_output, kw, "max")


def avg_pool_grad(x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
    return _backward(x, grad_output, kw, "average")
