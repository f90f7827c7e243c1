"""The loop reference for the elements whose exactness is not proven.

An element whose exactness is not proven is recomputed with the loop reference's own
per-window code (``ops._in_bounds``, ``ops._divisor``, ``ops._select_max``,
``roots.lp_norm``, ``roots.lp_grad_window``, ``dtypes.ExactSum``, ``dtypes.round_exact``)
on just the windows it needs: its own window for a forward op, the windows covering it
for a gradient (each run once, accumulating into the reference's exact sums). A call no
proof covers goes whole to the loop reference (``_whole``)."""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.fast.common import _count, _size

Elements = Callable[[int, np.ndarray], list]


def _refill(
    op: str, res: np.ndarray, fail: np.ndarray | None, elements: Elements, whole: bool = False
) -> None:
    """Recompute with the loop reference every element of ``res`` (float64, ``(P, ...)``)
    whose exactness was not proven: ``elements(p, positions)`` gives the values at the
    ``(k, rank)`` positions of plane ``p``. ``whole``: every element, counted as a call
    handed whole to the loop reference."""
    if fail is None or not fail.any():
        return
    flat_fail = fail.reshape(fail.shape[0], -1)
    rows = np.flatnonzero(flat_fail.any(axis=1))
    if whole:
        _count(op, "fallback_calls")
        _count(op, "fallback_call_elements", int(flat_fail.sum()))
    else:
        _count(op, "fallback_elements", int(flat_fail.sum()))
        _count(op, "fallback_units", rows.size)
    for p in rows:
        at = np.flatnonzero(flat_fail[p])
        positions = np.stack(np.unravel_index(at, res.shape[1:]), axis=1)
        res[p].reshape(-1)[at] = elements(int(p), positions)


def _per_plane(plane: Callable[[int], np.ndarray]) -> Elements:
    """Elements of ops with one output per plane (global pooling): the plane's call."""
    return lambda p, positions: [float(np.asarray(plane(p)).reshape(-1)[0])] * len(positions)


class _Windows:
    """The loop reference's windows, one at a time: pooling windows (``geometry``) or
    adaptive ones (``output_size``)."""

    def __init__(
        self,
        spatial: Sequence[int],
        geometry: geo.PoolGeometry | None = None,
        output_size: Sequence[int] | None = None,
    ) -> None:
        self.spatial = tuple(spatial)
        self.g = geometry
        self.out = geometry.out_shape if geometry is not None else tuple(output_size or ())
        self.strides = [math.prod(self.spatial[i + 1 :]) for i in range(len(self.spatial))]
        self._taps: dict[tuple[int, ...], list[geo.WindowTap]] = {}

    def taps(self, o: Sequence[int]) -> list[geo.WindowTap]:
        key = tuple(int(v) for v in o)
        if key not in self._taps:
            self._taps[key] = self._build(key)
        return self._taps[key]

    def _build(self, o: tuple[int, ...]) -> list[geo.WindowTap]:
        """Window ``o``'s taps in window order, as ``PoolGeometry.windows`` builds them
        (adaptive windows: ``adaptive_windows``' members, all in bounds)."""
        if self.g is None:
            ranges = [
                range(*geo.adaptive_bounds(int(oi), L, n_out))
                for oi, L, n_out in zip(o, self.spatial, self.out)
            ]
            return [
                geo.WindowTap(sum(q * st for q, st in zip(pos, self.strides)), True, True)
                for pos in itertools.product(*ranges)
            ]
        taps = []
        for combo in itertools.product(*(a.taps(int(oi)) for a, oi in zip(self.g.axes, o))):
            inb = all(t.in_bounds for t in combo)
            ext = all(t.in_extent for t in combo)
            flat = sum(t.position * st for t, st in zip(combo, self.strides)) if inb else -1
            taps.append(geo.WindowTap(flat, inb, ext))
        return taps

    def covering(self, i: Sequence[int]) -> list[tuple[int, ...]]:
        """Output positions whose window holds input position ``i`` in bounds."""
        per_axis = []
        for k, ii in enumerate(i):
            if self.g is None:
                L, n_out = self.spatial[k], self.out[k]
                per_axis.append(
                    [
                        o
                        for o in range(n_out)
                        if geo.adaptive_bounds(o, L, n_out)[0]
                        <= ii
                        < geo.adaptive_bounds(o, L, n_out)[1]
                    ]
                )
            else:
                a = self.g.axes[k]
                os = {
                    (ii + a.pad_begin - j * a.dilation) // a.stride
                    for j in range(a.kernel)
                    if (ii + a.pad_begin - j * a.dilation) % a.stride == 0
                }
                per_axis.append(sorted(o for o in os if 0 <= o < a.out))
        return list(itertools.product(*per_axis))

    def out_flat(self, o: Sequence[int]) -> int:
        return int(np.ravel_multi_index(tuple(int(v) for v in o), self.out))

    def in_flat(self, i: Sequence[int]) -> int:
        return int(np.ravel_multi_index(tuple(int(v) for v in i), self.spatial))


def _plane_values(a_cf: np.ndarray) -> Callable[[int], list]:
    """Plane ``p`` of a channels_first array as the reference reads it (exact Python
    scalars, row-major), cached."""
    cache: dict[int, list] = {}
    channels = a_cf.shape[1]

    def get(p: int) -> list:
        if p not in cache:
            b, ch = divmod(p, channels)
            cache[p] = dt.array_to_python(np.ascontiguousarray(a_cf[b, ch]))
        return cache[p]

    return get


def _forward_elements(
    W: _Windows, x_cf: np.ndarray, value: Callable[[list, list], float]
) -> Elements:
    """A forward op's elements: ``value(plane, taps)`` per output window."""
    planes = _plane_values(x_cf)

    def elements(p: int, positions: np.ndarray) -> list:
        plane = planes(p)
        return [value(plane, W.taps(o)) for o in positions]

    return elements


def _round_sum(acc: dt.ExactSum, dtype: str) -> float:
    return dt.round_exact(acc.value(), dtype)


def _grad_elements(
    W: _Windows,
    x_cf: np.ndarray,
    g_cf: np.ndarray,
    dtype: str,
    window: Callable[[list, list, float, dict], None],
    *,
    accumulator: Callable[[], Any] = dt.ExactSum,
    rounded: Callable[[Any, str], float] = _round_sum,
) -> Elements:
    """A gradient's elements: ``window(plane, taps, g, acc)`` (the reference's body for
    one window, adding into ``acc[flat]``, an ``accumulator()``) over every window
    covering the elements, each once, then the reference's ``rounded`` of their sums."""
    planes, gplanes = _plane_values(x_cf), _plane_values(g_cf)

    def elements(p: int, positions: np.ndarray) -> list:
        plane, gplane = planes(p), gplanes(p)
        acc: dict[int, Any] = collections.defaultdict(accumulator)
        for o in sorted({o for i in positions for o in W.covering(i)}):
            window(plane, W.taps(o), gplane[W.out_flat(o)], acc)
        return [rounded(acc[W.in_flat(i)], dtype) for i in positions]

    return elements


def _whole(op: str, loop: Callable[[], Any]) -> Any:
    """A call the proofs do not cover at all, handed to the loop reference."""
    result = loop()
    _count(op, "fallback_calls")
    _count(op, "fallback_call_elements", _size(result))
    return result


def _plane_caller(
    fn: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], channels: int, **params: Any
) -> Callable[[int], np.ndarray]:
    """The loop reference ``fn`` on plane ``p`` of channels_first ``arrays``, as float64."""

    def call(p: int) -> np.ndarray:
        b, ch = divmod(p, channels)
        sub = [a[b : b + 1, ch : ch + 1] for a in arrays]
        out = fn(*sub, **params, layout="channels_first")
        return np.asarray(out, dtype=np.float64)[0, 0]

    return call
