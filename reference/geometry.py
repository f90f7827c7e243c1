"""Window geometry: small pure integer functions [POOL-GEOM-*, POOL-PARAM-*, POOL-ADAPT-1].

Nothing here touches array values. Each spatial axis is described by its input
length ``L``, kernel ``k``, stride ``s``, dilation ``d`` and padding
``(pb, pe)``; axes are independent and an N-d window is the row-major product
of its per-axis taps [POOL-GEOM-8].
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from poolconf import SpecError
from poolconf.reference import catalog

PaddingArg = int | str | Sequence[int] | Sequence[Sequence[int]]
PADDING_STRINGS = ("valid", "same_upper", "same_lower")


def is_integer(v: object) -> TypeGuard[numbers.Integral]:
    """A Python or NumPy integer (signed or unsigned), never a bool [POOL-PARAM-1]."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def per_dim(value: object, name: str, rank: int, minimum: int, clause: str) -> tuple[int, ...]:
    """Normalise an int-or-sequence argument to ``rank`` ints, each ``>= minimum``.

    >>> per_dim(2, "kernel_size", 2, 1, "POOL-PARAM-1")
    (2, 2)
    """
    if is_integer(value):
        values = (int(value),) * rank
    elif isinstance(value, (tuple, list)):
        if len(value) != rank:
            raise SpecError(
                f"{name}={list(value)!r} has {len(value)} entries but the input has {rank} "
                f"spatial dims",
                "POOL-PARAM-5",
            )
        for i, v in enumerate(value):
            if not is_integer(v):
                raise SpecError(f"{name}[{i}]={v!r} must be an integer", clause)
        values = tuple(int(v) for v in value)
    else:
        raise SpecError(f"{name}={value!r} must be an integer or a sequence of integers", clause)
    for i, v in enumerate(values):
        if v < minimum:
            raise SpecError(f"{name}[{i}]={v} must be >= {minimum}", clause)
    return values


def effective_kernel(kernel: int, dilation: int) -> int:
    """Extent of a dilated window: ``eff = d*(k-1) + 1`` [POOL-GEOM-1]."""
    return dilation * (kernel - 1) + 1


def same_padding(
    length: int, kernel: int, stride: int, dilation: int, upper: bool
) -> tuple[int, int]:
    """Padding for ``same_upper`` / ``same_lower`` [POOL-GEOM-5].

    ``out = ceil(L/s)``; the total padding is what the last window needs to end
    at the padded end, ``total = max(0, (out-1)*s + eff - L)``. ``same_upper``
    puts the odd element at the end (``pb = total//2``), ``same_lower`` at the
    start (``pe = total//2``). This is TensorFlow's ``SAME`` and ONNX's
    ``SAME_UPPER`` / ``SAME_LOWER``.

    >>> same_padding(5, 2, 1, 1, upper=True), same_padding(5, 2, 1, 1, upper=False)
    ((0, 1), (1, 0))
    """
    out = -(-length // stride)
    total = max(0, (out - 1) * stride + effective_kernel(kernel, dilation) - length)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def check_padding_string(padding: str) -> str:
    """A padding string must be one of ``PADDING_STRINGS`` [POOL-PARAM-4]."""
    if padding not in PADDING_STRINGS:
        raise SpecError(
            f"padding={padding!r} is not one of {list(PADDING_STRINGS)}", "POOL-PARAM-4"
        )
    return padding


def resolve_padding(
    padding: object,
    spatial_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> tuple[tuple[int, int], ...]:
    """Per-dim ``(begin, end)`` padding from any accepted form [POOL-PARAM-4].

    Accepted: an int (same on both sides of every dim), one int per dim, one
    ``(begin, end)`` pair per dim, or ``"valid"`` (no padding) [POOL-GEOM-6],
    ``"same_upper"`` / ``"same_lower"`` [POOL-GEOM-5]. Negative padding is an
    error.

    >>> resolve_padding(1, (4, 4), (3, 3), (1, 1), (1, 1))
    ((1, 1), (1, 1))
    >>> resolve_padding([(0, 1), 2], (4, 4), (3, 3), (1, 1), (1, 1))
    ((0, 1), (2, 2))
    """
    rank = len(spatial_shape)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * rank
        check_padding_string(padding)
        return tuple(
            same_padding(L, k, s, d, upper=padding == "same_upper")
            for L, k, s, d in zip(spatial_shape, kernel, stride, dilation)
        )
    if is_integer(padding):
        p = int(padding)
        if p < 0:
            raise SpecError(f"padding={p} must be >= 0", "POOL-PARAM-4")
        return ((p, p),) * rank
    if not isinstance(padding, (tuple, list)):
        raise SpecError(
            f"padding={padding!r} is not an int, a sequence or a string", "POOL-PARAM-4"
        )
    if len(padding) != rank:
        raise SpecError(
            f"padding={list(padding)!r} has {len(padding)} entries but the input has {rank} "
            f"spatial dims",
            "POOL-PARAM-5",
        )
    pairs = []
    for i, p in enumerate(padding):
        if is_integer(p):
            pair = (int(p), int(p))
        elif isinstance(p, (tuple, list)) and len(p) == 2 and all(is_integer(v) for v in p):
            pair = (int(p[0]), int(p[1]))
        else:
            raise SpecError(
                f"padding[{i}]={p!r} must be an int or a (begin, end) pair", "POOL-PARAM-4"
            )
        for side, v in zip(("begin", "end"), pair):
            if v < 0:
                raise SpecError(f"padding[{i}].{side}={v} must be >= 0", "POOL-PARAM-4")
        pairs.append(pair)
    return tuple(pairs)


def output_length(
    length: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad_begin: int,
    pad_end: int,
    ceil_mode: bool,
) -> int:
    """Number of windows along one axis [POOL-GEOM-2, POOL-GEOM-3, POOL-GEOM-4].

    With ``span = L + pb + pe - eff``:
    floor mode ``out = floor(span / s) + 1``; ceil mode ``out = ceil(span / s) + 1``,
    after which the last window is dropped when it would start at or past
    ``L + pb``, i.e. when ``(out-1)*s >= L + pb`` (it must start inside the input or
    the begin padding; PyTorch and ONNX opset >= 19 do the same). A result below 1
    is returned as is; callers reject it [POOL-GEOM-7].

    >>> output_length(5, 2, 2, 1, 0, 0, False), output_length(5, 2, 2, 1, 0, 0, True)
    (2, 3)
    >>> output_length(5, 2, 2, 1, 1, 1, True)  # ceil would give 4; window 3 starts at 6 >= 5+1
    3
    """
    span = length + pad_begin + pad_end - effective_kernel(kernel, dilation)
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if out > 1 and (out - 1) * stride >= length + pad_begin:
        out -= 1
    return out


@dataclass(frozen=True)
class Tap:
    """One window position along one axis: its input coordinate and whether it
    lies in the input (``in_bounds``) or in the explicitly padded extent
    ``[-pb, L+pe)`` (``in_extent``)."""

    position: int
    in_bounds: bool
    in_extent: bool


@dataclass(frozen=True)
class AxisGeometry:
    length: int
    kernel: int
    stride: int
    dilation: int
    pad_begin: int
    pad_end: int
    out: int

    def taps(self, o: int) -> list[Tap]:
        """Taps of window ``o``: ``o*s - pb + j*d`` for ``j`` in ``0..k-1`` [POOL-GEOM-8]."""
        start = o * self.stride - self.pad_begin
        result = []
        for j in range(self.kernel):
            pos = start + j * self.dilation
            result.append(
                Tap(
                    pos, 0 <= pos < self.length, -self.pad_begin <= pos < self.length + self.pad_end
                )
            )
        return result


@dataclass(frozen=True)
class WindowTap:
    """One tap of an N-d window: ``flat`` is the row-major index of the input
    position within its (N, C) plane, or -1 when the tap is outside the input."""

    flat: int
    in_bounds: bool
    in_extent: bool


@dataclass(frozen=True)
class PoolGeometry:
    """Geometry of a windowed op over all spatial axes."""

    spatial_shape: tuple[int, ...]
    axes: tuple[AxisGeometry, ...]

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(a.out for a in self.axes)

    @property
    def padding(self) -> tuple[tuple[int, int], ...]:
        return tuple((a.pad_begin, a.pad_end) for a in self.axes)

    def windows(self) -> Iterator[tuple[tuple[int, ...], list[WindowTap]]]:
        """Every output position (row-major) with its taps in window order:
        row-major over the window offsets [POOL-MAX-4]."""
        per_axis = [[a.taps(o) for o in range(a.out)] for a in self.axes]
        strides = [math.prod(self.spatial_shape[i + 1 :]) for i in range(len(self.axes))]
        for out_index in itertools.product(*(range(a.out) for a in self.axes)):
            axis_taps = [per_axis[i][o] for i, o in enumerate(out_index)]
            taps = []
            for combo in itertools.product(*axis_taps):
                inb = all(t.in_bounds for t in combo)
                ext = all(t.in_extent for t in combo)
                flat = sum(t.position * st for t, st in zip(combo, strides)) if inb else -1
                taps.append(WindowTap(flat, inb, ext))
            yield out_index, taps

    def has_empty_window(self) -> bool:
        """Whether some window has no in-bounds tap [POOL-EMPTY-1]. A window's taps are
        the product of its per-axis taps, so it is empty exactly when one of its axes'
        windows is: checked per axis, without enumerating the windows."""
        if any(a.out == 0 for a in self.axes):
            return False
        return any(not any(t.in_bounds for t in a.taps(o)) for a in self.axes for o in range(a.out))


def pool_geometry(
    spatial_shape: Sequence[int],
    kernel_size: object,
    stride: object = None,
    padding: PaddingArg = 0,
    dilation: object = 1,
    ceil_mode: bool = False,
) -> PoolGeometry:
    """Validate the window arguments and compute every axis' geometry.

    Raises ``SpecError`` naming the argument, its value and the clause."""
    rank = len(spatial_shape)
    k = per_dim(kernel_size, "kernel_size", rank, 1, "POOL-PARAM-1")
    s = k if stride is None else per_dim(stride, "stride", rank, 1, "POOL-PARAM-2")
    d = per_dim(dilation, "dilation", rank, 1, "POOL-PARAM-3")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise SpecError(f"ceil_mode={ceil_mode!r} must be a bool", "POOL-PARAM-6")
    pads = resolve_padding(padding, spatial_shape, k, s, d)
    axes = []
    for i, (L, ki, si, di, (pb, pe)) in enumerate(zip(spatial_shape, k, s, d, pads)):
        out = output_length(L, ki, si, di, pb, pe, ceil_mode)
        if out < 1:
            raise SpecError(
                f"output length {out} along spatial dim {i} (input {L}, kernel_size {ki}, "
                f"stride {si}, dilation {di}, padding ({pb}, {pe}), ceil_mode {ceil_mode}) "
                f"must be >= 1",
                "POOL-GEOM-7",
            )
        axes.append(AxisGeometry(L, ki, si, di, pb, pe, out))
    return PoolGeometry(tuple(spatial_shape), tuple(axes))


def adaptive_bounds(i: int, length: int, out: int) -> tuple[int, int]:
    """Window ``i`` of an adaptive pool covers ``[floor(i*L/O), ceil((i+1)*L/O))`` [POOL-ADAPT-1].

    This is PyTorch's rule; consecutive windows overlap when ``L`` is not a
    multiple of ``O``, and every window is non-empty.

    >>> [adaptive_bounds(i, 5, 3) for i in range(3)]
    [(0, 2), (1, 4), (3, 5)]
    """
    return (i * length) // out, -(-((i + 1) * length) // out)


def adaptive_windows(
    spatial_shape: Sequence[int], output_size: Sequence[int]
) -> Iterator[tuple[tuple[int, ...], list[int]]]:
    """Every adaptive output position with the flat input indices of its window."""
    strides = [math.prod(spatial_shape[i + 1 :]) for i in range(len(spatial_shape))]
    for out_index in itertools.product(*(range(o) for o in output_size)):
        ranges = [
            range(*adaptive_bounds(o, length, size))
            for o, length, size in zip(out_index, spatial_shape, output_size)
        ]
        flats = [sum(p * st for p, st in zip(pos, strides)) for pos in itertools.product(*ranges)]
        yield out_index, flats


def unpool_output_length(
    in_length: int, kernel: int, stride: int, pad_begin: int, pad_end: int
) -> int:
    """Default output length of max unpooling: ``(in-1)*s - pb - pe + k`` [POOL-UNPOOL-1].

    It inverts the floor-mode output length of the max pool that made the
    indices (PyTorch's ``max_unpool`` rule with padding split per side).

    >>> unpool_output_length(2, 2, 2, 0, 0)
    4
    """
    return (in_length - 1) * stride - pad_begin - pad_end + kernel


# ---------------------------------------------------------------------------
# the geometry of an op call, from its keyword arguments
# ---------------------------------------------------------------------------


def spatial_shape(shape: Sequence[int], layout: str) -> tuple[int, ...]:
    """The spatial dims of an array shape laid out per ``layout`` [POOL-LAYOUT-1]."""
    return tuple(shape[1:-1]) if layout == "channels_last" else tuple(shape[2:])


def call_geometry(
    op: str,
    spatial: Sequence[int],
    params: Mapping[str, Any],
    kernel: Sequence[int] | None = None,
) -> PoolGeometry:
    """The window geometry of a call of a windowed op (pooling or ``conv``, forward or
    gradient) from its keyword arguments; ``kernel`` is conv's ``weight.shape[2:]``.
    Pooling's stride defaults to the kernel, conv's to 1, conv has no ceil mode
    [POOL-PARAM-2, POOL-CONV-1]."""
    if catalog.op(op).family == "conv":
        if kernel is None:
            raise ValueError("conv geometry needs the kernel (weight.shape[2:])")
        stride = params.get("stride")
        return pool_geometry(
            spatial,
            tuple(kernel),
            1 if stride is None else stride,
            params.get("padding", 0),
            params.get("dilation", 1),
            False,
        )
    return pool_geometry(
        spatial,
        params["kernel_size"],
        params.get("stride"),
        params.get("padding", 0),
        params.get("dilation", 1),
        params.get("ceil_mode", False),
    )


def window_lists(
    op: str,
    spatial: Sequence[int],
    params: Mapping[str, Any],
    kernel: Sequence[int] | None = None,
) -> list[list[int]]:
    """The in-bounds flat indices (row-major within an (N, C) plane) of every window of
    a call, output positions row-major, taps in window order; ``[]`` for ops without
    windows (unpooling, padding)."""
    family = catalog.op(op).family
    if family in ("window", "conv"):
        g = call_geometry(op, spatial, params, kernel)
        return [[t.flat for t in taps if t.in_bounds] for _, taps in g.windows()]
    if family == "adaptive":
        out = per_dim(params["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
        return [flats for _, flats in adaptive_windows(spatial, out)]
    if family == "global":
        return [list(range(math.prod(spatial)))]
    return []
