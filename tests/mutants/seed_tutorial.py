"""Seed 001 ("Convolution model - Step by Step"): the course's explicit loops.

Channels-last ``(m, n_H, n_W, n_C)`` arrays, one ``f`` and one ``stride``, no padding
in pooling, ``n_H = int(1 + (n_H_prev - f) / stride)``, ``np.max`` / ``np.mean`` of each
slice into a ``np.zeros`` (float64) output. The backward routes the gradient through
``mask = (x >= np.max(x))`` (every tied maximum: tie policy ``all``) and spreads an
average evenly; ``zero_pad`` is ``np.pad`` with equal pads; ``conv_forward`` /
``conv_backward`` loop over examples, positions and filters, and the backward unpads
with ``X[pad:-pad, pad:-pad]`` (empty when ``pad`` is 0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants._seed_args import common, require, square, symmetric_padding

SEED = "seed 001 tutorial"
DECLARATIONS = {"tie_policy": "all"}


def _pool_args(x: np.ndarray, kw: dict[str, Any]) -> tuple[int, int]:
    common(x, kw.get("layout", "channels_first"), SEED, "channels_last", kw)
    require(symmetric_padding(kw.get("padding", 0), SEED) == 0, f"{SEED}: no padding in pooling")
    f = square(kw["kernel_size"], "kernel_size", SEED)
    stride = square(kw["kernel_size"] if kw.get("stride") is None else kw["stride"], "stride", SEED)
    return f, stride


def _pool_forward(a_prev: np.ndarray, f: int, stride: int, mode: str) -> np.ndarray:
    m, n_h_prev, n_w_prev, n_c = a_prev.shape
    n_h = int(1 + (n_h_prev - f) / stride)
    n_w = int(1 + (n_w_prev - f) / stride)
    a = np.zeros((m, n_h, n_w, n_c))
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    vs, hs = h * stride, w * stride
                    window = a_prev[i, vs : vs + f, hs : hs + f, c]
                    a[i, h, w, c] = np.max(window) if mode == "max" else np.mean(window)
    return a


def max_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _pool_forward(x, *_pool_args(x, kw), "max")


def avg_pool(x: np.ndarray, **kw: Any) -> np.ndarray:
    return _pool_forward(x, *_pool_args(x, kw), "average")


def _pool_backward(
    a_prev: np.ndarray, da: np.ndarray, f: int, stride: int, mode: str
) -> np.ndarray:
    m, n_h, n_w, n_c = da.shape
    da_prev = np.zeros(a_prev.shape)
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    vs, hs = h * stride, w * stride
                    if mode == "max":
                        window = a_prev[i, vs : vs + f, hs : hs + f, c]
                        mask = window >= np.max(window)
                        da_prev[i, vs : vs + f, hs : hs + f, c] += da[i, h, w, c] * mask
                    else:
                        da_prev[i, vs : vs + f, hs : hs + f, c] += (
                            da[i, h, w, c] / (f * f) * np.ones((f, f))
                        )
    return da_prev


def max_pool_grad(x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
    kw.pop("tie_policy", None)  # the course has one policy: every tied maximum
    return _pool_backward(x, grad_output, *_pool_args(x, kw), "max")


def avg_pool_grad(x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
    return _pool_backward(x, grad_output, *_pool_args(x, kw), "average")


def zero_pad(x: np.ndarray, *, padding: Any, layout: str = "channels_first") -> np.ndarray:
    require(x.ndim == 4 and layout == "channels_last", f"{SEED}: 2-D channels_last only")
    pad = symmetric_padding(padding, SEED)
    return np.pad(
        x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=(0, 0)
    )


def _conv_args(
    x: np.ndarray, weight: np.ndarray, kw: dict[str, Any]
) -> tuple[np.ndarray, int, int]:
    require(x.ndim == 4 and kw.get("layout") == "channels_last", f"{SEED}: 2-D channels_last only")
    require(kw.get("groups", 1) == 1, f"{SEED}: groups=1 only")
    require(kw.get("dilation", 1) in (1, (1, 1)), f"{SEED}: no dilation")
    square(weight.shape[2:], "kernel", SEED)
    stride = square(kw.get("stride", 1), "stride", SEED)
    pad = symmetric_padding(kw.get("padding", 0), SEED)
    return np.transpose(weight, (2, 3, 1, 0)), stride, pad


def conv(x: np.ndarray, weight: np.ndarray, bias: Any = None, **kw: Any) -> np.ndarray:
    w, stride, pad = _conv_args(x, weight, kw)
    f, _, _, n_c = w.shape
    b = np.zeros((1, 1, 1, n_c)) if bias is None else bias.reshape(1, 1, 1, n_c)
    m, n_h_prev, n_w_prev, _ = x.shape
    n_h = (n_h_prev - f + 2 * pad) // stride + 1
    n_w = (n_w_prev - f + 2 * pad) // stride + 1
    z = np.zeros((m, n_h, n_w, n_c))
    a_prev_pad = zero_pad(x, padding=pad, layout="channels_last")
    for i in range(m):
        for h in range(n_h):
            for wi in range(n_w):
                for c in range(n_c):
                    vs, hs = h * stride, wi * stride
                    a_slice = a_prev_pad[i, vs : vs + f, hs : hs + f, :]
                    z[i, h, wi, c] = np.sum(a_slice * w[:, :, :, c]) + float(b[0, 0, 0, c])
    return z


def conv_grad(
    x: np.ndarray, weight: np.ndarray, bias: Any, grad_output: np.ndarray, **kw: Any
) -> Any:
    w, stride, pad = _conv_args(x, weight, kw)
    f, _, _, n_c = w.shape
    m, n_h, n_w, _ = grad_output.shape
    da_prev = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    db = np.zeros((1, 1, 1, n_c))
    a_prev_pad = zero_pad(x, padding=pad, layout="channels_last")
    da_prev_pad = zero_pad(da_prev, padding=pad, layout="channels_last")
    for i in range(m):
        a_p, da_p = a_prev_pad[i], da_prev_pad[i]
        for h in range(n_h):
            for wi in range(n_w):
                for c in range(n_c):
                    vs, hs = h * stride, wi * stride
                    dz = grad_output[i, h, wi, c]
                    da_p[vs : vs + f, hs : hs + f, :] += w[:, :, :, c] * dz
                    dw[:, :, :, c] += a_p[vs : vs + f, hs : hs + f, :] * dz
                    db[:, :, :, c] += dz
        da_prev[i, :, :, :] = da_p[pad:-pad, pad:-pad, :]  # empty when pad == 0
    return da_prev, np.transpose(dw, (3, 2, 0, 1)), (None if bias is None else db.reshape(n_c))
