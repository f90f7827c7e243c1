"""Shared plumbing of the two NumPy backends (``numpy-im2col`` and ``numpy-strided``).

Layout bookkeeping, accumulation dtypes, and the two ops that are scatters rather
than window reductions (``max_unpool`` and ``zero_pad``). Arguments are validated
by the reference's own rules (``poolconf.reference.arguments``), so a backend
rejects exactly what the spec rejects, with the same message. ``numpy-strided``
takes its window geometry from ``poolconf.reference.geometry``; ``numpy-im2col``
computes it itself, so that the two check each other. The window arithmetic
itself lives in each backend.

Accumulation [POOL-DTYPE-4]: float16 and bfloat16 sum in float32, float32 in
float32 and float64 in float64; a sum that overflows the accumulator is redone
in float64 (or, for float64, on inputs scaled by a power of two), so a finite
exact result never comes back as an infinity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf import SpecError
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.flags import DEFAULT_DECLARATIONS

DECLARATIONS = dict(DEFAULT_DECLARATIONS)  # every choice is the reference's
OVERFLOW_SCALE_BITS = 64  # float64 sums that overflow are redone on x * 2**-64


# ---------------------------------------------------------------------------
# layout bookkeeping
# ---------------------------------------------------------------------------


def spatial_axes(ndim: int, layout: str) -> tuple[int, ...]:
    """Axis numbers of the spatial dims in the array as it is laid out."""
    return tuple(range(1, ndim - 1)) if layout == "channels_last" else tuple(range(2, ndim))


def spatial_shape(x: np.ndarray, layout: str) -> tuple[int, ...]:
    return tuple(x.shape[a] for a in spatial_axes(x.ndim, layout))


def with_spatial(
    x: np.ndarray, layout: str, spatial: Sequence[int], channels: int | None = None
) -> tuple[int, ...]:
    """``x``'s shape with its spatial dims (and optionally channel count) replaced."""
    c = x.shape[-1 if layout == "channels_last" else 1] if channels is None else channels
    if layout == "channels_last":
        return (x.shape[0], *spatial, c)
    return (x.shape[0], c, *spatial)


def axis_shape(ndim: int, axis: int, values: np.ndarray) -> np.ndarray:
    """``values`` (1-D) reshaped to broadcast along ``axis`` of an ``ndim`` array."""
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


# ---------------------------------------------------------------------------
# geometry (through the reference's public functions)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A validated windowed call: dtype name, spatial axes and per-axis geometry."""

    dtype: str
    layout: str
    axes: tuple[int, ...]
    geometry: geo.PoolGeometry

    @property
    def out_spatial(self) -> tuple[int, ...]:
        return self.geometry.out_shape


def window(
    x: np.ndarray,
    op: str,
    allowed: Sequence[str],
    layout: str,
    kernel_size: object,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    ceil_mode: bool,
) -> Window:
    dtype, g = args.window_call(
        x, op, allowed, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    return Window(dtype, layout, spatial_axes(x.ndim, layout), g)


def tap_range(a: geo.AxisGeometry, j: int) -> tuple[int, int, int]:
    """Outputs ``[lo, hi)`` whose tap ``j`` lies inside the input, and the input
    position of tap ``j`` of output ``lo`` [POOL-GEOM-8]: position ``o*s - pb + j*d``
    is in bounds for ``ceil((pb - j*d)/s) <= o <= floor((L - 1 + pb - j*d)/s)``."""
    off = a.pad_begin - j * a.dilation
    lo = max(0, -(-off // a.stride))
    hi = min(a.out, (a.length - 1 + off) // a.stride + 1)
    return lo, max(lo, hi), lo * a.stride - off


def tap_masks(a: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(out, kernel)`` arrays along one axis (``a``: a ``geo.AxisGeometry`` or any
    object with its fields): the input position ``o*s - pb + j*d`` of every tap, whether
    it lies inside the input, and whether inside the padded extent ``[-pb, L + pe)``
    [POOL-GEOM-8, POOL-AVG-3, POOL-AVG-4]."""
    o = np.arange(a.out)[:, None]
    pos = o * a.stride - a.pad_begin + np.arange(a.kernel)[None, :] * a.dilation
    return pos, (pos >= 0) & (pos < a.length), (pos >= -a.pad_begin) & (pos < a.length + a.pad_end)


def tap_counts(a: geo.AxisGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Per output along one axis: taps inside the input, and taps inside the
    padded extent ``[-pb, L + pe)`` [POOL-AVG-3, POOL-AVG-4]."""
    _, inb, ext = tap_masks(a)
    return inb.sum(axis=1), ext.sum(axis=1)


def divisor(
    w: Window, ndim: int, count_include_pad: bool, override: int | None
) -> np.ndarray | int:
    """The average's divisor as an array broadcasting over the output: a product of
    per-axis counts, since an N-d window is the product of its per-axis taps."""
    if override is not None:
        return override
    result: Any = 1
    for axis, a in zip(w.axes, w.geometry.axes):
        inb, ext = tap_counts(a)
        result = result * axis_shape(ndim, axis, ext if count_include_pad else inb)
    return result


def adaptive_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[str, tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]]:
    """dtype, output size and per-axis ``(start, length)`` of the adaptive windows [POOL-ADAPT-1]."""
    dtype = args.check_array(x, "x", allowed, op, layout)
    spatial = spatial_shape(x, layout)
    out = geo.per_dim(output_size, "output_size", len(spatial), 1, "POOL-ADAPT-2")
    bounds = []
    for L, o in zip(spatial, out):
        se = np.array([geo.adaptive_bounds(i, L, o) for i in range(o)], dtype=np.int64)
        bounds.append((se[:, 0], se[:, 1] - se[:, 0]))
    return dtype, out, bounds


# ---------------------------------------------------------------------------
# dtypes and accumulation
# ---------------------------------------------------------------------------


def acc_dtype(dtype: str) -> np.dtype:
    """The accumulator for sums: float64 for float64, else float32 [POOL-DTYPE-4]."""
    return np.dtype(np.float64) if dtype == "float64" else np.dtype(np.float32)


def ident_max(dtype: np.dtype) -> Any:
    """Identity of max, i.e. the max of an empty window [POOL-EMPTY-1]."""
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return -np.inf


def working(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 -> float32 (exact) for comparisons; others unchanged."""
    return x.astype(np.float32) if dt.dtype_name(x.dtype) in ("float16", "bfloat16") else x


def is_float_array(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" or dt.dtype_name(a.dtype) == "bfloat16"


def robust_sum(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dtype: str) -> np.ndarray:
    """``fn(x in the accumulator dtype)`` (a linear map: sums, averages), redone where
    the accumulator overflowed. Non-finite results are recomputed in float64 (for
    float64, on ``x * 2**-64`` and scaled back, exactly); elements that are
    non-finite because of non-finite inputs come out the same either way."""
    acc = acc_dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = fn(x.astype(acc, copy=False))
        bad = ~np.isfinite(result)
        if not bad.any():
            return result
        if dtype == "float64":
            scale = 2.0**OVERFLOW_SCALE_BITS
            again = fn(np.ldexp(x, -OVERFLOW_SCALE_BITS)) * scale
        else:
            again = fn(x.astype(np.float64)).astype(acc)
        return np.where(bad, again, result)


def finish(a: np.ndarray, dtype: str) -> np.ndarray:
    """Round once to the output dtype [POOL-DTYPE-2]; always a fresh array."""
    target = dt.numpy_dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(target)
    return out


# ---------------------------------------------------------------------------
# scatters: max_unpool and zero_pad (the same in both backends)
# ---------------------------------------------------------------------------


def planes_view(x: np.ndarray, layout: str) -> np.ndarray:
    """``x`` as ``(A, P, B)``: A planes-or-batches, P flat spatial positions, B channels
    (1 for channels_first). A view when ``x`` is contiguous."""
    p = math.prod(spatial_shape(x, layout))
    if layout == "channels_last":
        return x.reshape(x.shape[0], p, x.shape[-1])
    return x.reshape(x.shape[0] * x.shape[1], p, 1)


def max_unpool_scatter(
    x: np.ndarray, indices: np.ndarray, dtype: str, out_spatial: Sequence[int], layout: str
) -> np.ndarray:
    """Scatter ``x`` to its flat per-plane ``indices`` in a zero output [POOL-UNPOOL-2];
    an index outside the plane is an error [POOL-UNPOOL-3]; a repeated index keeps the
    value that comes last in row-major input order [POOL-UNPOOL-4] (made explicit,
    not left to the order of NumPy's fancy assignment)."""
    size = math.prod(out_spatial)
    idx = planes_view(indices, layout).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx[(idx < 0) | (idx >= size)][0]
        raise SpecError(
            f"indices value {int(bad)} is outside the output plane of {size} elements",
            "POOL-UNPOOL-3",
        )
    vals = planes_view(x, layout)
    a, _, b = vals.shape
    out = np.zeros((a, size, b), dtype=x.dtype)
    keys = ((np.arange(a)[:, None, None] * size + idx) * b + np.arange(b)[None, None, :]).ravel()
    # the last occurrence of each key in row-major input order wins
    _, first_rev = np.unique(keys[::-1], return_index=True)
    keep = keys.size - 1 - first_rev
    out.reshape(-1)[keys[keep]] = vals.reshape(-1)[keep]
    return out.reshape(with_spatial(x, layout, out_spatial))


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
    """Scatter to the flat indices (col2im of a one-tap window) [POOL-UNPOOL-*]."""
    dtype, out = args.unpool_output_size(
        x, indices, kernel_size, stride, padding, output_size, layout
    )
    return max_unpool_scatter(x, indices, dtype, out, layout)


def zero_pad(x: np.ndarray, *, padding: object, layout: str = "channels_first") -> np.ndarray:
    """Zero padding by slice assignment into a zero array [POOL-PAD-1]."""
    args.check_array(x, "x", dt.ALL_DTYPES, "zero_pad", layout)
    spatial = spatial_shape(x, layout)
    pads = args.explicit_padding(padding, spatial, "POOL-PAD-1", "zero_pad")
    out_spatial = tuple(L + pb + pe for L, (pb, pe) in zip(spatial, pads))
    out = np.zeros(with_spatial(x, layout, out_spatial), dtype=x.dtype)
    index = [slice(None)] * x.ndim
    for axis, L, (pb, _) in zip(spatial_axes(x.ndim, layout), spatial, pads):
        index[axis] = slice(pb, pb + L)
    out[tuple(index)] = x
    return out


def lp_root(s: np.ndarray, p: int) -> np.ndarray:
    """``s ** (1/p)`` in float64 with one Newton step for ``p > 3`` [POOL-LP-1]."""
    if p == 1:
        return s
    if p == 2:
        return np.sqrt(s)
    if p == 3:
        return np.cbrt(s)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.power(s, 1.0 / p)
        fix = r - (np.power(r, p) - s) / (p * np.power(r, p - 1))
        return np.where(np.isfinite(fix) & (r > 0), fix, r)


def lp_finish(m: np.ndarray, scale: np.ndarray, s: np.ndarray, p: int) -> np.ndarray:
    """Norm from the scaled sum ``s = sum (|x|/scale)**p`` and the window max ``m``;
    NaN, inf, empty and all-zero windows by rule [POOL-LP-1]."""
    with np.errstate(invalid="ignore", over="ignore"):
        y = lp_root(s, p) * scale
    y = np.where(m > 0, y, 0.0)
    y = np.where(np.isinf(m) & (m > 0), np.inf, y)
    return np.where(np.isnan(m), np.nan, y)


def lp_grad_coef(g: np.ndarray, m: np.ndarray, s: np.ndarray, p: int) -> np.ndarray:
    """``g / y**(p-1)`` per window, the factor of ``sign(x) * (|x|/scale)**(p-1)`` in
    the Lp gradient: 0 at a zero norm, NaN over a non-finite input or upstream value
    [POOL-GRAD-4, POOL-GRAD-8]."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        coef = np.where(m > 0, g / lp_root(s, p) ** (p - 1), 0.0)
    return np.where(np.isfinite(m) & np.isfinite(g), coef, np.nan)


def group_channels(groups: int, cig: int, cog: int) -> list[tuple[slice, slice]]:
    """The (input, output) channel ranges of each convolution group [POOL-CONV-2]."""
    return [(slice(i * cig, (i + 1) * cig), slice(i * cog, (i + 1) * cog)) for i in range(groups)]


def pow2_scale(m: np.ndarray) -> np.ndarray:
    """The power of two ``2**e`` with ``m / 2**e`` in ``[0.5, 1)`` (in ``[0.5, 2)`` near
    the float64 maximum, where ``2**1024`` would overflow; 2 where ``m`` is 0 or not
    finite): dividing by it is exact, and keeps ``|x|**p`` in range."""
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(np.where(np.isfinite(m) & (m > 0), m, 1.0))
    return np.ldexp(1.0, np.minimum(e, 1023))
