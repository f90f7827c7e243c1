"""Hypothesis strategies for pooling configurations and inputs, and the small
runner the property, gradient, metamorphic and hygiene checks share.

Public strategies follow Hypothesis' style: keyword-only ``min_*``/``max_*``
bounds, every other argument either a value or a strategy, dataclass results,
every draw labelled.

* ``pool_configs(...)`` draws an op and a *valid* geometry for it: rank 1-3,
  layout, batch/channels, spatial sizes, kernel/stride/dilation per dim, every
  padding kind (symmetric and asymmetric ``(begin, end)`` pairs, ``"valid"``,
  ``"same_upper"``, ``"same_lower"``), ``ceil_mode``, ``count_include_pad``,
  ``divisor_override``, ``p``, ``output_size``, ``groups`` and the dtype. Validity
  is computed with ``poolconf.reference.geometry``: lengths are constructed so every
  output length is ``>= 1`` [POOL-GEOM-7], never assumed. Params are normalised
  the way a backend receives them: per-dim tuples of ints, padding a tuple of
  ``(begin, end)`` pairs or a string.
* ``pool_cases(...)`` adds the arrays: ``x`` (with ``weight``/``bias`` for conv and
  valid ``indices`` for unpooling) and a seeded ``grad_output``; ``special=True``
  mixes in NaN, +-inf, -0.0, subnormals, ties, huge and tiny magnitudes.
* ``profile_restrictions(profile)`` gives the keyword arguments that keep draws
  inside a spec profile (``core``: 2D max/avg, float32, channels_first, symmetric
  padding or ``"valid"``, no dilation, no ``divisor_override``, floor and ceil).

Inputs stay small (at most ``max_elements`` elements of ``x``) so the loop-based
reference stays fast and shrinking gives a small counterexample.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from poolconf import Unsupported
from poolconf import reference as ref
from poolconf.conformance.plugin import THOROUGH_EXAMPLES
from poolconf.conformance.plugin import profile_of as plugin_profile_of
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

T = TypeVar("T")
Arg = Union[T, st.SearchStrategy[T]]  # noqa: UP007 (a runtime alias)

PADDING_KINDS = ("symmetric", "asymmetric", "valid", "same_upper", "same_lower")


def _strategy(value: Any) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _any(value: Any, default: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return default if value is None else _strategy(value)


# ---------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolConfig:
    """One call of a forward op without its values.

    ``spatial`` is in channels_first order; ``x_shape`` is laid out per
    ``layout``. ``params`` are the keyword arguments as a backend receives them.
    ``weight_shape``/``has_bias`` only for conv."""

    op: str
    rank: int
    layout: str
    dtype: str
    batch: int
    channels: int
    spatial: tuple[int, ...]
    params: dict[str, Any]
    weight_shape: tuple[int, ...] | None = None
    has_bias: bool = False
    padding_kind: str | None = None

    @property
    def x_shape(self) -> tuple[int, ...]:
        if self.layout == "channels_last":
            return (self.batch, *self.spatial, self.channels)
        return (self.batch, self.channels, *self.spatial)

    @property
    def windowed(self) -> bool:
        return cat.op(self.op).windowed

    def geometry(self) -> geo.PoolGeometry | None:
        """The window geometry of a windowed op (None otherwise)."""
        if not self.windowed:
            return None
        return geo.call_geometry(
            self.op, self.spatial, self.params, self.weight_shape[2:] if self.weight_shape else None
        )

    def windows(self) -> list[list[int]]:
        """In-bounds flat indices (within an (N, C) plane) of every window, row-major
        over output positions, taps in window order; [] for ops without windows."""
        kernel = self.weight_shape[2:] if self.weight_shape else None
        return geo.window_lists(self.op, self.spatial, self.params, kernel)

    def has_ceil_overhang(self) -> bool:
        """Whether some window reaches past the end padding (ceil mode) [POOL-GEOM-3]."""
        g = self.geometry() if cat.op(self.op).family == "window" else None
        return g is not None and any(
            (a.out - 1) * a.stride - a.pad_begin + (a.kernel - 1) * a.dilation
            >= a.length + a.pad_end
            for a in g.axes
        )

    def has_empty_window(self) -> bool:
        """Whether some window has no in-bounds tap [POOL-EMPTY-1] (for conv: only
        bias and padding, which is well defined but makes no useful gradient test)."""
        return any(not w for w in self.windows()) if self.windowed else False


def profile_restrictions(profile: Any) -> dict[str, Any]:
    """Keyword arguments for ``pool_configs`` that keep draws inside ``profile``
    (a ``poolconf.conformance.profiles.Profile`` or its name)."""
    name = getattr(profile, "name", profile)
    if name == "full":
        return {}
    return {
        "rank": 2,
        "layout": "channels_first",
        "dtype": "float32",
        "padding_kind": st.sampled_from(("symmetric", "valid")),
        "max_dilation": 1,
        "divisor_override": False,
    }


def _window_axis(
    draw: Callable[..., Any], i: int, max_kernel: int, max_stride: int, max_dilation: int
) -> tuple[int, int, int]:
    k = draw(st.integers(1, max_kernel), label=f"kernel_size[{i}]")
    s = draw(st.integers(1, max_stride), label=f"stride[{i}]")
    d = draw(st.integers(1, max_dilation), label=f"dilation[{i}]") if k > 1 else 1
    return k, s, d


def _explicit_pads(
    draw: Callable[..., Any], i: int, kind: str, eff: int, max_padding: int | None
) -> tuple[int, int]:
    top = eff if max_padding is None else max_padding  # up to eff: windows entirely in padding
    if kind == "symmetric" or top == 0:
        p = draw(st.integers(0, top), label=f"padding[{i}]")
        return p, p
    pb = draw(st.integers(0, top), label=f"padding[{i}].begin")
    pe = draw(st.integers(0, top).filter(lambda v: v != pb), label=f"padding[{i}].end")
    return pb, pe


def _length(draw: Callable[..., Any], i: int, lo: int, hi: int, step: int | None) -> int:
    """A spatial length in [lo, hi]; with ``step``, one of ``lo + m*step``."""
    if step is None:
        return draw(st.integers(lo, hi), label=f"spatial[{i}]")
    m = draw(st.integers(0, (hi - lo) // step), label=f"spatial[{i}] steps")
    return lo + m * step


@st.composite
def pool_configs(
    draw: Callable[..., Any],
    *,
    op: Arg[str] | None = None,
    rank: Arg[int] | None = None,
    layout: Arg[str] | None = None,
    dtype: Arg[str] | None = None,
    padding_kind: Arg[str] | None = None,
    ceil_mode: Arg[bool] | None = None,
    divisor_override: Arg[bool] | None = None,
    min_rank: int = 1,
    max_rank: int = 3,
    min_batch: int = 1,
    max_batch: int = 2,
    min_channels: int = 1,
    max_channels: int = 3,
    max_side: int = 7,
    max_elements: int = 200,
    max_kernel: int = 3,
    max_stride: int = 3,
    max_dilation: int = 2,
    max_padding: int | None = None,
    max_p: int = 3,
    allow_empty_windows: bool = True,
    mirror_symmetric: bool = False,
    ceil_overhang: bool = False,
) -> PoolConfig:
    """A valid configuration of a forward op (see the module docstring).

    ``None`` means "any": every forward op, rank in ``[min_rank, max_rank]``, both
    layouts, the op's dtypes of POOL-DTYPE-1, every padding kind, both modes.

    ``divisor_override`` says whether avg_pool may draw one; ``max_padding=None``
    lets padding reach the effective kernel, so some windows lie entirely in
    padding (flag EmptyWindow) unless ``allow_empty_windows=False``.
    ``mirror_symmetric=True`` draws only geometries that commute with flipping the
    spatial axes: floor mode and ``(L + pb + pe - eff) % s == 0`` per dim, explicit
    padding (the flip mirrors the pairs). ``ceil_overhang=True`` draws only ceil-mode
    windowed configurations where some window hangs past the end padding (the edge
    where libraries disagree on Lp scaling and the count_include_pad divisor)."""
    op_ = draw(_any(op, st.sampled_from(cat.FORWARD_OPS)), label="op")
    rank_ = draw(
        _strategy(rank) if rank is not None else st.integers(min_rank, max_rank), label="rank"
    )
    layout_ = draw(_any(layout, st.sampled_from(cat.LAYOUTS)), label="layout")
    allowed = cat.op(op_).dtypes
    dtype_ = draw(
        _strategy(dtype) if dtype is not None else st.sampled_from(allowed), label="dtype"
    )
    if dtype_ not in allowed:
        reject()
    budget = max_elements // (min_batch * min_channels)
    params: dict[str, Any] = {}
    spatial: list[int] = []
    weight_shape = None
    has_bias = False
    kind = None
    groups = 1
    c_out = 0
    if cat.op(op_).windowed:
        kind = draw(_any(padding_kind, st.sampled_from(PADDING_KINDS)), label="padding_kind")
        if mirror_symmetric and kind in ("same_upper", "same_lower"):
            kind = "asymmetric"
        if ceil_overhang and (cat.op(op_).family != "window" or mirror_symmetric):
            raise ValueError("ceil_overhang needs a pooling op and no mirror_symmetric")
        ceil = (
            False
            if (op_ == "conv" or mirror_symmetric)
            else True
            if ceil_overhang
            else draw(_any(ceil_mode, st.booleans()), label="ceil_mode")
        )
        # a pooling call may leave stride out: it defaults to kernel_size [POOL-PARAM-2]
        omit_stride = op_ != "conv" and draw(st.booleans(), label="stride omitted")
        ks, ss, ds, pads = [], [], [], []
        for i in range(rank_):
            k, s, d = _window_axis(draw, i, max_kernel, max_stride, max_dilation)
            if omit_stride:
                s = k
            if ceil_overhang and i == 0 and s < 2:
                s = 2  # an overhang needs a stride above 1 in some dim
                if omit_stride:
                    k = s
            eff = geo.effective_kernel(k, d)
            pb, pe = (
                (0, 0)
                if kind in ("valid", "same_upper", "same_lower")
                else _explicit_pads(draw, i, kind, eff, max_padding)
            )
            lo = max(1, eff - pb - pe)
            hi = min(max_side, budget // max(1, math.prod(spatial)))
            if hi < lo:
                reject()
            step = None
            if mirror_symmetric:  # (L + pb + pe - eff) % s == 0: the windows mirror onto each other
                base = eff - pb - pe
                lo = base if base >= 1 else base + -(-(1 - base) // s) * s
                step = s
                if hi < lo:
                    reject()
            L = _length(draw, i, lo, hi, step)
            if (
                ceil
                and s > 1
                and (ceil_overhang or draw(st.booleans(), label=f"ceil overhang[{i}]"))
            ):
                # lengthen L until ceil mode adds a window that hangs past the end padding
                # (where Lp scaling and the count_include_pad divisor differ between
                # libraries [POOL-GEOM-3, POOL-AVG-3]); small draws rarely land there
                L = next((c for c in range(L, hi + 1) if (c + pb + pe - eff) % s), L)
            spatial.append(L)
            ks.append(k), ss.append(s), ds.append(d), pads.append((pb, pe))
        padding: Any = kind if kind in ("valid", "same_upper", "same_lower") else tuple(pads)
        if op_ == "conv":
            groups = draw(st.integers(1, 2), label="groups")
            params.update(stride=tuple(ss), padding=padding, dilation=tuple(ds), groups=groups)
        else:
            params.update(
                kernel_size=tuple(ks),
                stride=tuple(ss),
                padding=padding,
                dilation=tuple(ds),
                ceil_mode=ceil,
            )
            if omit_stride:
                del params["stride"]
        if op_ == "avg_pool":
            params["count_include_pad"] = draw(st.booleans(), label="count_include_pad")
            use_div = draw(_any(divisor_override, st.booleans()), label="use divisor_override")
            params["divisor_override"] = (
                draw(st.integers(1, 9), label="divisor_override") if use_div else None
            )
        if op_ == "lp_pool":
            params["p"] = draw(st.integers(1, max_p), label="p")
        if op_ == "conv":
            weight_shape = tuple(ks)
    else:
        for i in range(rank_):
            remaining = budget // max(1, math.prod(spatial))
            hi = min(max_side, remaining)
            if hi < 1:
                reject()
            spatial.append(draw(st.integers(1, hi), label=f"spatial[{i}]"))
        if cat.op(op_).family == "adaptive":
            params["output_size"] = tuple(
                draw(st.integers(1, L + 1), label=f"output_size[{i}]")
                for i, L in enumerate(spatial)
            )
        if op_ == "global_lp_pool":
            params["p"] = draw(st.integers(1, max_p), label="p")
        if op_ == "zero_pad":
            params["padding"] = tuple(
                (
                    draw(st.integers(0, 2), label=f"padding[{i}].begin"),
                    draw(st.integers(0, 2), label=f"padding[{i}].end"),
                )
                for i in range(rank_)
            )
        if op_ == "max_unpool":
            # indices come from a floor-mode max pool with padding < kernel, so every
            # window has an in-bounds tap and every index is valid [POOL-UNPOOL-3]
            ks, ss, pads = [], [], []
            for i, L in enumerate(spatial):
                k = draw(st.integers(1, min(max_kernel, L)), label=f"kernel_size[{i}]")
                s = draw(st.integers(1, max_stride), label=f"stride[{i}]")
                pb = draw(st.integers(0, k - 1), label=f"padding[{i}].begin")
                pe = draw(st.integers(0, k - 1), label=f"padding[{i}].end")
                ks.append(k), ss.append(s), pads.append((pb, pe))
            params.update(kernel_size=tuple(ks), stride=tuple(ss), padding=tuple(pads))
    plane = max(1, math.prod(spatial))
    room = max_elements // plane
    if room < min_batch * min_channels:
        reject()
    batch = draw(
        st.integers(min_batch, max(min_batch, min(max_batch, room // min_channels))), label="N"
    )
    if op_ == "conv":
        cig = draw(st.integers(1, max(1, min(2, room // (batch * groups)))), label="C_in/groups")
        channels = groups * cig
        cog = draw(st.integers(1, 2), label="C_out/groups")
        c_out = groups * cog
        weight_shape = (c_out, cig, *weight_shape)  # type: ignore[misc]
        has_bias = draw(st.booleans(), label="bias")
    else:
        channels = draw(
            st.integers(min_channels, max(min_channels, min(max_channels, room // batch))),
            label="C",
        )
    if batch * channels * plane > max_elements:
        reject()
    params["layout"] = layout_
    if op_ == "max_unpool":
        # the unpooled plane must hold every index: the source's own size, or None
        # (the default size of POOL-UNPOOL-1) when that is the same
        default = tuple(
            geo.unpool_output_length(geo.output_length(L, k, s, 1, pb, pe, False), k, s, pb, pe)
            for L, k, s, (pb, pe) in zip(
                spatial, params["kernel_size"], params["stride"], params["padding"]
            )
        )
        use_default = default == tuple(spatial) and draw(st.booleans(), label="default output_size")
        params["output_size"] = None if use_default else tuple(spatial)
    config = PoolConfig(
        op_,
        rank_,
        layout_,
        dtype_,
        batch,
        channels,
        tuple(spatial),
        params,
        weight_shape,
        has_bias,
        kind,
    )
    if cat.op(op_).windowed and not allow_empty_windows and config.has_empty_window():
        reject()
    if ceil_overhang and not config.has_ceil_overhang():
        reject()
    note(f"config: {config}")
    return config


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


def special_values(dtype: str) -> list[float | int]:
    """The special values of a dtype: NaN, +-inf, +-0.0, the smallest and largest
    subnormal, the smallest normal, huge magnitudes (``max/64``, so sums of up to 64
    terms stay finite) and the dtype's extremes; integer dtypes: min, max, 0, +-1."""
    if not dt.is_float(dtype):
        info = np.iinfo(dt.numpy_dtype(dtype))
        vals = [int(info.min), int(info.max), 0, 1, int(info.max) - 1]
        if info.min < 0:
            vals += [-1, int(info.min) + 1]
        return vals
    fi = ml_dtypes.finfo(dt.numpy_dtype(dtype))
    tiny = float(fi.smallest_normal)
    sub = float(fi.smallest_subnormal)
    big = float(fi.max)
    return [
        math.nan,
        math.inf,
        -math.inf,
        0.0,
        -0.0,
        sub,
        -sub,
        tiny - sub,
        tiny,
        -tiny,
        big / 64,
        -big / 64,
        big,
        -big,
    ]


def _float_array(
    dtype: str, shape: tuple[int, ...], elements: st.SearchStrategy[float]
) -> st.SearchStrategy[np.ndarray]:
    if dtype == "bfloat16":
        return hnp.arrays(np.float32, shape, elements=elements).map(
            lambda a: a.astype(ml_dtypes.bfloat16)
        )
    return hnp.arrays(dt.numpy_dtype(dtype), shape, elements=elements)


def _width(dtype: str) -> int:
    return {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}[dtype]


@st.composite
def arrays(
    draw: Callable[..., Any],
    *,
    dtype: Arg[str],
    shape: Arg[tuple[int, ...]],
    special: Arg[bool] = False,
    distinct: Arg[bool] = False,
    min_magnitude: float = 0.0,
    max_magnitude: float = 100.0,
) -> np.ndarray:
    """Values for one input array.

    Ordinary values: floats in ``[-max_magnitude, max_magnitude]`` (with
    ``|v| >= min_magnitude`` when given), integers in ``[-100, 100]`` clipped to the
    dtype. ``special=True`` mixes in ``special_values(dtype)`` and a small pool
    of tie values (1, -1, 2, 0, -0.0). ``distinct=True`` gives pairwise distinct
    values spaced at least ``max(1, min_magnitude)`` apart (tie-free and kink-free:
    a permutation of a grid, exact in every dtype since at most 256 values)."""
    name = draw(_strategy(dtype), label="dtype")
    shp = tuple(draw(_strategy(shape), label="shape"))
    is_special = draw(_strategy(special), label="special")
    n = math.prod(shp)
    if draw(_strategy(distinct), label="distinct"):
        perm = draw(st.permutations(range(n)), label="order")
        base = np.array(perm, dtype=np.float64) - n // 2
        if dt.is_float(name):
            spacing = max(1.0, min_magnitude)
            values = base * spacing
            if min_magnitude > 0:  # keep |v| >= min_magnitude: shift the non-negatives up
                values = np.where(base >= 0, values + spacing, values)
            return values.astype(dt.numpy_dtype(name)).reshape(shp)
        info = np.iinfo(dt.numpy_dtype(name))
        values = base - base.min() + (0 if info.min == 0 else -(n // 2))
        return values.astype(dt.numpy_dtype(name)).reshape(shp)
    if dt.is_float(name):
        ordinary = st.floats(
            -max_magnitude, max_magnitude, width=_width(name), allow_subnormal=False
        )
        if min_magnitude > 0:
            ordinary = ordinary.filter(lambda v: abs(v) >= min_magnitude)
        if is_special:
            pool = [*list(special_values(name)), 1.0, -1.0, 2.0, 0.0, -0.0]
            elements = st.one_of(ordinary, st.sampled_from(pool))
        else:
            elements = ordinary
        return draw(_float_array(name, shp, elements), label="values")
    info = np.iinfo(dt.numpy_dtype(name))
    ints = st.integers(max(int(info.min), -100), min(int(info.max), 100))
    if is_special:
        ints = st.one_of(ints, st.sampled_from(special_values(name)))
    return draw(hnp.arrays(dt.numpy_dtype(name), shp, elements=ints), label="values")


def seeded_values(
    seed: int, shape: tuple[int, ...], dtype: str, *, scale: float = 2.0
) -> np.ndarray:
    """Seeded quarter-integers in ``[-scale, scale]``, exact in every float dtype
    (used for ``grad_output``, convolution weights and bias)."""
    rng = np.random.default_rng(seed)
    q = int(scale * 4)
    return (rng.integers(-q, q + 1, size=shape) / 4.0).astype(dt.numpy_dtype(dtype))


@dataclass(frozen=True)
class PoolCase:
    """A configuration with its arrays. ``inputs`` are the forward op's positional
    arrays by name (``x``; ``x, indices`` for unpooling; ``x, weight, bias`` for
    conv); ``grad_output`` has the forward output's shape and dtype (None when the
    op has no gradient)."""

    config: PoolConfig
    inputs: dict[str, np.ndarray | None]
    grad_output: np.ndarray | None = None
    special: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str:
        return self.config.op

    @property
    def params(self) -> dict[str, Any]:
        return self.config.params

    @property
    def x(self) -> np.ndarray:
        x = self.inputs["x"]
        assert x is not None
        return x


def reference_forward(
    op: str, inputs: Mapping[str, np.ndarray | None], params: Mapping[str, Any]
) -> Any:

    return getattr(ref, op)(*inputs.values(), **params)


def forward_output_shape(
    config: PoolConfig, inputs: Mapping[str, np.ndarray | None]
) -> tuple[int, ...]:
    """Shape of the (first) forward output, from the reference's geometry."""
    c = config
    if cat.op(c.op).family == "adaptive":
        sp = tuple(c.params["output_size"])
        ch = c.channels
    elif cat.op(c.op).family == "global":
        sp, ch = (1,) * c.rank, c.channels
    elif c.op == "zero_pad":
        sp = tuple(L + pb + pe for L, (pb, pe) in zip(c.spatial, c.params["padding"]))
        ch = c.channels
    elif c.op == "max_unpool":
        x = inputs["x"]
        assert x is not None
        pooled = x.shape[1:-1] if c.layout == "channels_last" else x.shape[2:]
        sp = c.params["output_size"] or tuple(
            geo.unpool_output_length(n, k, s, pb, pe)
            for n, k, s, (pb, pe) in zip(
                pooled, c.params["kernel_size"], c.params["stride"], c.params["padding"]
            )
        )
        ch = c.channels
    else:
        g = c.geometry()
        assert g is not None
        sp = g.out_shape
        ch = c.weight_shape[0] if c.op == "conv" and c.weight_shape else c.channels
    return (c.batch, *sp, ch) if c.layout == "channels_last" else (c.batch, ch, *sp)


@st.composite
def pool_cases(
    draw: Callable[..., Any],
    *,
    config: Arg[PoolConfig] | None = None,
    special: Arg[bool] = False,
    distinct: Arg[bool] = False,
    min_magnitude: float = 0.0,
    max_magnitude: float = 100.0,
    **config_kwargs: Any,
) -> PoolCase:
    """A ``PoolConfig`` (drawn with ``config_kwargs`` unless ``config`` is given) with
    its arrays and a seeded ``grad_output`` (see ``arrays`` for the value options)."""
    cfg = draw(
        _strategy(config) if config is not None else pool_configs(**config_kwargs), label="config"
    )
    is_special = draw(_strategy(special), label="special")
    is_distinct = draw(_strategy(distinct), label="distinct")
    seed = draw(st.integers(0, 2**32 - 1), label="seed (weights, grad_output)")
    values = functools.partial(
        arrays,
        dtype=cfg.dtype,
        special=is_special,
        distinct=is_distinct,
        min_magnitude=min_magnitude,
        max_magnitude=max_magnitude,
    )
    if cfg.op == "max_unpool":
        # x and indices: a max pool of a drawn source plane with the unpool's geometry

        src_shape = cfg.x_shape
        src = draw(values(shape=src_shape), label="source")
        p = cfg.params
        pooled, idx = ref.max_pool_with_indices(
            src,
            kernel_size=p["kernel_size"],
            stride=p["stride"],
            padding=p["padding"],
            layout=cfg.layout,
        )
        if draw(st.booleans(), label="x: other values than the pooled maxima"):
            # unpooling scatters any values: with overlapping windows an index repeats,
            # now with different values, where the last one written is kept [POOL-UNPOOL-4]
            pooled = draw(values(shape=pooled.shape), label="x")
        inputs: dict[str, np.ndarray | None] = {"x": pooled, "indices": idx}
    else:
        x = draw(values(shape=cfg.x_shape), label="x")
        inputs = {"x": x}
        if cfg.op == "conv":
            assert cfg.weight_shape is not None
            inputs["weight"] = seeded_values(seed + 1, cfg.weight_shape, cfg.dtype)
            inputs["bias"] = (
                seeded_values(seed + 2, (cfg.weight_shape[0],), cfg.dtype) if cfg.has_bias else None
            )
    grad_output = None
    if cat.op(cfg.op).grad and dt.is_float(cfg.dtype):
        grad_output = seeded_values(seed, forward_output_shape(cfg, inputs), cfg.dtype)
    return PoolCase(cfg, inputs, grad_output, is_special, {"seed": seed})


# ---------------------------------------------------------------------------
# running a property: examples budget, backend calls inside Hypothesis
# ---------------------------------------------------------------------------


def examples(config: Any, default: int) -> int:
    """Examples per property: ``--poolconf-examples N`` when given, the plugin's
    thorough budget under ``--poolconf-thorough``, else the module's ``default``
    (kept small so ``poolconf check`` stays fast)."""
    n = _option(config, "--poolconf-examples")
    if n:
        return int(n)
    if _option(config, "--poolconf-thorough"):
        return max(default, THOROUGH_EXAMPLES)
    return default


def _option(config: Any, name: str) -> Any:
    try:
        return config.getoption(name)
    except (ValueError, AttributeError):
        return None


def profile_of(config: Any) -> Any:
    """The ``Profile`` of this run, as the plugin resolves it."""

    return plugin_profile_of(config)


class UnsupportedDraw(Exception):
    """A backend raised ``Unsupported`` for one drawn example."""


def call_backend(backend: Any, op: str, *args: Any, **params: Any) -> Any:
    """Call ``op`` inside a Hypothesis example: ``Unsupported`` becomes
    ``UnsupportedDraw`` (``run_property`` counts it; a ``pytest.skip`` here would
    end the whole property on the first unsupported draw)."""
    try:
        return backend.call(op, *args, **params)
    except Unsupported as exc:
        raise UnsupportedDraw(exc.reason) from exc


@dataclass
class Tally:
    """How many examples a property checked, and why the others were not checked."""

    checked: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1


def run_property(
    request: Any,
    strategy: st.SearchStrategy[T],
    body: Callable[[T], str | None],
    *,
    default_examples: int,
) -> Tally:
    """Run ``body`` on examples of ``strategy`` under the loaded Hypothesis profile
    with this run's example budget and a seed fixed per test id (so a CI gate never
    flakes, and every property draws its own examples).

    ``body`` returns None when it checked the example, or the reason it did not
    (an implementation-defined behaviour this backend declares differently); an
    unsupported draw (``UnsupportedDraw``) is tallied with its reason. A failed
    check raises, so Hypothesis shrinks it and prints the falsifying example.
    When no example was checked the test skips with the reasons."""
    tally = Tally()
    n = examples(request.config, default_examples)

    @settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(strategy)
    def prop(example: T) -> None:
        try:
            reason = body(example)
        except UnsupportedDraw as exc:
            reason = f"unsupported: {exc}"
        if reason is None:
            tally.checked += 1
        else:
            tally.skip(reason)

    # one fixed seed per test id: deterministic like the plugin's derandomised profile,
    # but different for every property (they share this inner function's source)
    seed(zlib.crc32(request.node.name.encode()))(prop)()
    if tally.checked == 0:
        reasons = "; ".join(f"{r} (x{c})" for r, c in tally.skipped.most_common(3))
        pytest.skip(reasons or "no example drawn")
    return tally
