"""Input arrays of the declared cases: random draws, literals, layouts, unpooling indices.

Every array is either written out literally (``literal``, ``x1``) or drawn from a seeded
``np.random.default_rng``, so a case's inputs are the same on every machine and in every
run. Seeds are names, never hand-numbered integers: ``seed_of(label)`` is the CRC-32 of
the label. An input of one case is a ``draw(shape, dtype)``, which the case constructor
draws from the label ``<file stem>#<name>/<input>`` (``max_pool_edge_test#p1/x``); an
input shared by several cases is drawn once from a label of its own
(``random_values("x5", ...)``).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt


def _key(a: np.ndarray) -> np.ndarray:
    """Values as a sortable key where equal values (``-0.0 == +0.0``) collide."""
    if a.dtype.kind in "iu":
        return a
    return a.astype(np.float64)


def seed_of(label: str) -> int:
    """The seed a label names: ``zlib.crc32`` of its UTF-8 bytes."""
    return zlib.crc32(label.encode("utf-8"))


def random_values(
    seed: int | str, shape: Sequence[int], dtype: str, *, distinct: bool = True
) -> np.ndarray:
    """An array of ``dtype`` drawn from ``np.random.default_rng(seed)`` (a string seed
    is a label: ``seed_of(seed)``).

    Floats: standard normal values rounded to the dtype. Integers: uniform over
    the whole range of the dtype (so values near the int64/uint64 limits, which
    no float64 holds exactly, do occur). With ``distinct`` every value differs
    from every other: duplicates are redrawn from the same generator."""
    rng = np.random.default_rng(seed_of(seed) if isinstance(seed, str) else seed)
    npdt = dt.numpy_dtype(dtype)
    n = math.prod(shape)
    if dt.is_float(dtype):

        def draw(k: int) -> np.ndarray:
            return rng.standard_normal(k).astype(npdt)
    else:
        info = np.iinfo(npdt)

        def draw(k: int) -> np.ndarray:
            return rng.integers(info.min, info.max, size=k, endpoint=True, dtype=npdt)

    flat = draw(n)
    for _ in range(100):
        if not distinct:
            break
        _, first = np.unique(_key(flat), return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        flat[dup] = draw(int(dup.sum()))
    else:
        raise RuntimeError(f"could not draw {n} distinct {dtype} values")
    return flat.reshape(tuple(shape))


@dataclass(frozen=True)
class Draw:
    """A random input not drawn yet: the case constructor draws it from the case's own
    label (``random_values(label, shape, dtype, distinct=distinct)``), channels-first,
    then moves it to ``layout``."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    distinct: bool = True
    layout: str = "channels_first"

    def array(self, label: str) -> np.ndarray:
        values = random_values(label, self.shape, self.dtype, distinct=self.distinct)
        return to_layout(values, self.layout) if values.ndim >= 3 else values


def draw(
    shape: Sequence[int],
    dtype: str = "float32",
    *,
    distinct: bool = True,
    layout: str = "channels_first",
) -> Draw:
    """A random input of one case (see ``Draw``); ``shape`` is channels-first."""
    return Draw(tuple(shape), dtype, distinct, layout)


def literal(values: Any, dtype: str) -> np.ndarray:
    """An array of ``dtype`` holding ``values`` (nested lists, floats or ints) exactly."""
    if dt.is_float(dtype):
        wide = np.array(values, dtype=np.float64)
        arr = wide.astype(dt.numpy_dtype(dtype))
        back = arr.astype(np.float64)
        same = (back == wide) | (np.isnan(back) & np.isnan(wide))
        if not same.all() or np.any(np.signbit(back) != np.signbit(wide)):
            raise ValueError(f"{values!r} is not exactly representable in {dtype}")
        return arr
    return np.array(values, dtype=dt.numpy_dtype(dtype))


def x1(values: Sequence[Any], dtype: str = "float32") -> np.ndarray:
    """A ``(1, 1, L)`` input holding ``values`` exactly."""
    return literal([[list(values)]], dtype)


def to_layout(x_cf: np.ndarray, layout: str) -> np.ndarray:
    """A channels-first array ``(N, C, *spatial)`` in ``layout``."""
    if layout == "channels_last":
        return np.ascontiguousarray(np.moveaxis(x_cf, 1, -1))
    return np.ascontiguousarray(x_cf)


def fmax(dtype: str) -> float:
    """The largest finite value of a float dtype."""
    return float(dt.FLOAT_FORMATS[dtype].max_finite)


def min_subnormal(dtype: str) -> float:
    """The smallest positive subnormal of a float dtype."""
    return float(dt.FLOAT_FORMATS[dtype].min_subnormal)


def window_indices(
    rng: np.random.Generator,
    pooled: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    out: Sequence[int],
    planes: int,
) -> np.ndarray:
    """Indices a max pool could have produced: for every pooled position, a
    random in-bounds tap of its window, pairwise distinct within each plane,
    flat row-major in the ``out`` spatial shape. Shape ``(planes, *pooled)``."""
    strides_out = [math.prod(out[i + 1 :]) for i in range(len(out))]
    result = []
    for _ in range(planes):
        used: set[int] = set()
        row = []
        for pos in np.ndindex(*pooled):
            taps = [
                [o * s - pb + j for j in range(k) if 0 <= o * s - pb + j < L]
                for o, s, k, (pb, _), L in zip(pos, stride, kernel, pads, out)
            ]
            flats = [
                sum(c * st for c, st in zip(combo, strides_out))
                for combo in itertools.product(*taps)
            ]
            free = [f for f in flats if f not in used]
            choice = int(free[rng.integers(len(free))])
            used.add(choice)
            row.append(choice)
        result.append(row)
    return np.array(result, dtype=np.int64).reshape((planes, *pooled))
