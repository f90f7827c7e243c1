"""Window plans: which input positions feed which outputs, per spatial axis and kernel
tap, and the separable reductions (max, min, sum) and their transposes over them.

Arrays are ``(P, *spatial)`` (``P = N*C`` planes). A pooling window is a product of
per-axis windows, so a reduction over it is one reduction per axis, and every tap of an
axis is a strided slice of the input (adaptive windows: index arrays)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from poolconf.reference import geometry as geo

Indexer = Union[slice, np.ndarray]  # noqa: UP007 (a runtime alias)


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a windowed op on ``(P, *spatial)`` arrays.

    ``taps``: per kernel offset, ``(dst, src)``: the outputs whose tap is in bounds and
    the input positions they read (slices, or index arrays for adaptive windows).
    ``count``: in-bounds taps per output; ``extent``: taps inside the padded extent per
    output; ``cover``: windows (with an in-bounds tap there) reaching each input."""

    axis: int
    n_in: int
    n_out: int
    taps: tuple[tuple[Indexer, Indexer], ...]
    count: np.ndarray
    extent: np.ndarray
    cover: np.ndarray
    offsets: tuple[int, ...] = ()  # kernel offset ``j`` of each tap


def _as_indexer(ix: np.ndarray) -> Indexer:
    """An increasing arithmetic progression as a slice (faster views), else the array."""
    if ix.size == 1:
        return slice(int(ix[0]), int(ix[0]) + 1)
    step = int(ix[1] - ix[0])
    if step >= 1 and np.all(np.diff(ix) == step):
        return slice(int(ix[0]), int(ix[-1]) + 1, step)
    return ix


def _pool_axes(g: geo.PoolGeometry) -> list[_Axis]:
    axes = []
    for i, a in enumerate(g.axes):
        o = np.arange(a.out)[:, None]
        j = np.arange(a.kernel)[None, :]
        pos = o * a.stride - a.pad_begin + j * a.dilation  # [POOL-GEOM-8]
        inb = (pos >= 0) & (pos < a.length)
        ext = (pos >= -a.pad_begin) & (pos < a.length + a.pad_end)
        taps, offsets = [], []
        for jj in range(a.kernel):
            outs = np.flatnonzero(inb[:, jj])
            if outs.size:
                lo, hi = int(outs[0]), int(outs[-1]) + 1
                start = int(pos[lo, jj])
                taps.append(
                    (slice(lo, hi), slice(start, start + (hi - lo - 1) * a.stride + 1, a.stride))
                )
                offsets.append(jj)
        cover = np.bincount(pos[inb], minlength=a.length)
        axes.append(
            _Axis(
                1 + i, a.length, a.out, tuple(taps), inb.sum(1), ext.sum(1), cover, tuple(offsets)
            )
        )
    return axes


def _adaptive_axes(spatial: Sequence[int], out: Sequence[int]) -> list[_Axis]:
    axes = []
    for i, (L, n_out) in enumerate(zip(spatial, out)):
        bounds = np.array([geo.adaptive_bounds(o, L, n_out) for o in range(n_out)], dtype=np.int64)
        start, length = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
        taps = []
        for j in range(int(length.max())):
            dst = np.flatnonzero(length > j)
            src = start[dst] + j
            taps.append((_as_indexer(dst), _as_indexer(src)))
        members = np.concatenate([np.arange(s, s + n) for s, n in zip(start, length)])
        cover = np.bincount(members, minlength=L)
        axes.append(_Axis(1 + i, L, n_out, tuple(taps), length, length, cover))
    return axes


def _ix(ndim: int, axis: int, ix: Indexer) -> tuple[Any, ...]:
    index: list[Any] = [slice(None)] * ndim
    index[axis] = ix
    return tuple(index)


def _get(a: np.ndarray, axis: int, ix: Indexer) -> np.ndarray:
    return a[_ix(a.ndim, axis, ix)] if isinstance(ix, slice) else np.take(a, ix, axis=axis)


def _resized(a: np.ndarray, axis: int, n: int) -> tuple[int, ...]:
    shape = list(a.shape)
    shape[axis] = n
    return tuple(shape)


def _per_output(axes: Sequence[_Axis], field: str) -> np.ndarray:
    """The product over axes of a per-output (``count``, ``extent``) or per-input
    (``cover``) table, shaped ``(1, *spatial)`` to broadcast over planes."""
    out = np.ones((1,) * (len(axes) + 1), dtype=np.int64)
    for i, ax in enumerate(axes):
        shape = [1] * (len(axes) + 1)
        shape[1 + i] = -1
        out = out * getattr(ax, field).astype(np.int64).reshape(shape)
    return out


_UFUNC = {"max": np.maximum, "min": np.minimum, "sum": np.add}


def _reduce(a: np.ndarray, ax: _Axis, kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    """Reduce along one axis over each output's taps (``kind``: max, min or sum). A tap
    that feeds every output starts the result (a copy, one pass less); else ``ident``."""
    uf = _UFUNC[kind]
    taps = list(ax.taps)
    for i, (dst, src) in enumerate(taps):
        if (
            isinstance(dst, slice)
            and dst == slice(0, ax.n_out)
            and (dtype is None or dtype == a.dtype)
        ):
            res = np.array(_get(a, ax.axis, src))
            del taps[i]
            break
    else:
        res = np.full(_resized(a, ax.axis, ax.n_out), ident, dtype or a.dtype)
    for dst, src in taps:
        v = _get(a, ax.axis, src)
        index = _ix(res.ndim, ax.axis, dst)
        if isinstance(dst, slice):
            r = res[index]
            uf(r, v, out=r)
        else:  # distinct outputs within one tap
            res[index] = uf(res[index], v)
    return res


def _spread(a: np.ndarray, ax: _Axis, kind: str, ident: Any, dtype: Any = None) -> np.ndarray:
    """Transpose of ``_reduce``: each output's value combined into every input it reads."""
    uf = _UFUNC[kind]
    res = np.full(_resized(a, ax.axis, ax.n_in), ident, dtype or a.dtype)
    for dst, src in ax.taps:
        part = _get(a, ax.axis, dst)
        if isinstance(src, slice):  # distinct inputs within one tap
            r = res[_ix(res.ndim, ax.axis, src)]
            uf(r, part, out=r)
        else:  # adaptive windows: an input may repeat within one tap
            uf.at(np.moveaxis(res, ax.axis, 0), src, np.moveaxis(part, ax.axis, 0))
    return res


def _sep(
    a: np.ndarray, axes: Sequence[_Axis], kind: str, ident: Any, dtype: Any = None
) -> np.ndarray:
    for ax in axes:
        a = _reduce(a, ax, kind, ident, dtype)
    return a


def _sep_spread(
    a: np.ndarray, axes: Sequence[_Axis], kind: str, ident: Any, dtype: Any = None
) -> np.ndarray:
    for ax in axes:
        a = _spread(a, ax, kind, ident, dtype)
    return a


BLOCK_BYTES = 1 << 20


def _blocks(total: int, per_plane_bytes: int) -> list[slice]:
    """Blocks of planes small enough for a block's intermediates to stay in cache."""
    rows = max(1, BLOCK_BYTES // max(1, per_plane_bytes))
    return [slice(i, min(total, i + rows)) for i in range(0, total, rows)]


def _nd_taps(
    axes: Sequence[_Axis],
) -> list[tuple[tuple[Any, ...], tuple[Any, ...], tuple[int, ...]]]:
    """Every N-d kernel tap of slice-planned axes in row-major kernel order: (output
    index, input index) on ``(P, *spatial)`` arrays, and the kernel offsets."""
    taps = []
    for combo in itertools.product(*(zip(ax.taps, ax.offsets) for ax in axes)):
        taps.append(
            (
                (slice(None), *(d for (d, _), _ in combo)),
                (slice(None), *(s for (_, s), _ in combo)),
                tuple(j for _, j in combo),
            )
        )
    return taps
