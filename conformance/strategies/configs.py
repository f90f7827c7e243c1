"""Strategies for valid calls of the forward ops, without their values.

``pool_configs(op=...)`` draws a ``PoolConfig``: the op, its rank, layout, dtype,
batch, channels, spatial shape and keyword arguments, always *valid*. Geometry is
constructed valid, never filtered: lengths are drawn so every output length is >= 1
[POOL-GEOM-7], using ``poolconf.reference.geometry``. One strategy per op family
(``window_configs``, ``adaptive_configs``, ``global_configs``, ``unpool_configs``,
``pad_configs``, ``conv_configs``) does the family's own draws; ``mirrored_configs``
and ``overhang_configs`` draw the window geometries two checks need on purpose.

Arguments follow Hypothesis' style: every one a value or a strategy, ``None`` meaning
"any"; ``min_*``/``max_*`` bounds are checked when the strategy is built. A call may
leave out every keyword whose drawn value is the spec's default, so a backend's
defaults are exercised too [POOL-PARAM-2, POOL-AVG-3, ...]. Params are otherwise
normalised the way a backend receives them: per-dim tuples of ints, padding a tuple
of ``(begin, end)`` pairs or a string.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import note, reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from poolconf import reference as ref
from poolconf.conformance.strategies._args import Arg, check_bounds, resolve
from poolconf.reference import catalog as cat
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo

PADDING_KINDS = ("symmetric", "asymmetric", "valid", "same_upper", "same_lower")
PADDING_STRINGS = ("valid", "same_upper", "same_lower")
LENGTH_RULES = ("any", "mirror", "overhang")
Draw = Callable[..., Any]


@dataclass(frozen=True)
class PoolConfig:
    """One call of a forward op without its values.

    ``spatial`` is in channels_first order (for ``max_unpool``: the unpooled plane);
    ``x_shape`` is laid out per ``layout``. ``params`` are the keyword arguments as a
    backend receives them (defaulted ones may be left out). ``weight_shape`` and
    ``has_bias`` only for conv."""

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
        return self._laid_out(self.channels, self.spatial)

    @property
    def windowed(self) -> bool:
        return cat.op(self.op).windowed

    @property
    def kernel(self) -> tuple[int, ...] | None:
        return self.weight_shape[2:] if self.weight_shape else None

    def _laid_out(self, channels: int, spatial: tuple[int, ...]) -> tuple[int, ...]:
        if self.layout == "channels_last":
            return (self.batch, *spatial, channels)
        return (self.batch, channels, *spatial)

    def geometry(self) -> geo.PoolGeometry | None:
        """The window geometry of a windowed op (None otherwise)."""
        if not self.windowed:
            return None
        return geo.call_geometry(self.op, self.spatial, self.params, self.kernel)

    def windows(self) -> list[list[int]]:
        """In-bounds flat indices (within an (N, C) plane) of every window, row-major
        over output positions, taps in window order; [] for ops without windows."""
        return geo.window_lists(self.op, self.spatial, self.params, self.kernel)

    def output_shape(self) -> tuple[int, ...]:
        """The shape of the (first) forward output, laid out per ``layout``."""
        family = cat.op(self.op).family
        channels = self.weight_shape[0] if self.weight_shape else self.channels
        if family == "adaptive":
            rank = len(self.spatial)
            out = geo.per_dim(self.params["output_size"], "output_size", rank, 1, "POOL-ADAPT-2")
        elif family == "global":
            out = (1,) * self.rank
        elif family == "pad":
            out = tuple(L + pb + pe for L, (pb, pe) in zip(self.spatial, self.params["padding"]))
        elif family == "unpool":
            out = self.spatial  # the drawn output_size, or the default that equals it
        else:
            g = self.geometry()
            assert g is not None
            out = g.out_shape
        return self._laid_out(channels, out)

    def has_ceil_overhang(self) -> bool:
        """Whether some window reaches past the end padding (ceil mode) [POOL-GEOM-3]."""
        g = self.geometry() if cat.op(self.op).family == "window" else None
        return g is not None and any(
            (a.out - 1) * a.stride - a.pad_begin + (a.kernel - 1) * a.dilation
            >= a.length + a.pad_end
            for a in g.axes
        )

    def within_padding_limit(self, limit: str) -> bool:
        """Whether the explicit padding stays within the declared ``padding_limit``
        [POOL-PARAM-7]."""
        if limit == "any":
            return True
        found = flagreg.padding_flags(self.op, self.spatial, self.params)
        return flagreg.within_padding_limit(limit, found)

    def has_empty_window(self) -> bool:
        """Whether some window has no in-bounds tap [POOL-EMPTY-1] (for conv: only
        bias and padding, which is well defined but makes no useful gradient test)."""
        geometry = self.geometry()
        return geometry is not None and geometry.has_empty_window()


# ---------------------------------------------------------------------------
# bounds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """Size bounds of a drawn call, checked when built."""

    min_rank: int = 1
    max_rank: int = 3
    min_batch: int = 1
    max_batch: int = 2
    min_channels: int = 1
    max_channels: int = 3
    min_side: int = 1
    max_side: int = 7
    max_elements: int = 200
    max_kernel: int = 3
    max_stride: int = 3
    max_dilation: int = 2
    max_padding: int | None = None
    max_p: int = 3
    channels: Any = field(default=None)  # a value or strategy overriding min/max_channels

    def __post_init__(self) -> None:
        check_bounds("rank", self.min_rank, self.max_rank, minimum=1)
        check_bounds("batch", self.min_batch, self.max_batch, minimum=1)
        check_bounds("channels", self.min_channels, self.max_channels, minimum=1)
        check_bounds("side", self.min_side, self.max_side, minimum=1)
        for name in ("max_kernel", "max_stride", "max_dilation", "max_p"):
            check_bounds(name[4:], 1, getattr(self, name), minimum=1)
        if self.max_padding is not None:
            check_bounds("padding", 0, self.max_padding)
        smallest = self.min_batch * self.min_channels * self.min_side**self.min_rank
        if self.max_elements < smallest:
            raise InvalidArgument(
                f"max_elements={self.max_elements} is below the smallest shape's {smallest}"
            )

    def side_room(self, spatial: list[int]) -> int:
        """The largest next spatial length the element budget leaves."""
        budget = self.max_elements // (self.min_batch * self.min_channels)
        return min(self.max_side, budget // max(1, math.prod(spatial)))


# ---------------------------------------------------------------------------
# one family each: spatial shape and family keywords
# ---------------------------------------------------------------------------


@dataclass
class _Draft:
    """A config being drawn: its spatial shape, keywords and family extras."""

    spatial: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    kernel: tuple[int, ...] | None = None
    padding_kind: str | None = None


def _window_axis(
    draw: Draw,
    i: int,
    b: Bounds,
    kind: str,
    ceil: bool,
    omit_stride: bool,
    rule: str,
    spatial: list[int],
) -> tuple[int, int, int, tuple[int, int], int]:
    """(kernel, stride, dilation, (pb, pe), length) of spatial dim ``i``."""
    k = draw(st.integers(1, b.max_kernel), label=f"kernel_size[{i}]")
    s = k if omit_stride else draw(st.integers(1, b.max_stride), label=f"stride[{i}]")
    d = draw(st.integers(1, b.max_dilation), label=f"dilation[{i}]") if k > 1 else 1
    if rule == "overhang" and i == 0 and s < 2:
        s = 2  # an overhang needs a stride above 1 in some dim
        k = s if omit_stride else k
    eff = geo.effective_kernel(k, d)
    pads = (0, 0) if kind in PADDING_STRINGS else _explicit_pads(draw, i, kind, eff, b.max_padding)
    lo, hi = max(b.min_side, eff - sum(pads)), b.side_room(spatial)
    step = None
    if rule == "mirror":  # (L + pb + pe - eff) % s == 0: the windows mirror onto each other
        base = eff - sum(pads)
        lo = max(lo, base if base >= 1 else base + -(-(1 - base) // s) * s)
        lo += (base - lo) % s
        step = s
    if hi < lo:
        reject()
    if step is None:
        length = draw(st.integers(lo, hi), label=f"spatial[{i}]")
    else:
        length = lo + step * draw(st.integers(0, (hi - lo) // step), label=f"spatial[{i}] steps")
    if ceil and s > 1 and (rule == "overhang" or draw(st.booleans(), label=f"ceil overhang[{i}]")):
        # lengthen L until ceil mode adds a window that hangs past the end padding (where
        # Lp scaling and the count_include_pad divisor differ between libraries
        # [POOL-GEOM-3, POOL-AVG-3]); small draws rarely land there
        length = next((c for c in range(length, hi + 1) if (c + sum(pads) - eff) % s), length)
    return k, s, d, pads, length


def _explicit_pads(
    draw: Draw, i: int, kind: str, eff: int, max_padding: int | None
) -> tuple[int, int]:
    top = eff if max_padding is None else max_padding  # up to eff: windows entirely in padding
    if kind == "symmetric" or top == 0:
        p = draw(st.integers(0, top), label=f"padding[{i}]")
        return p, p
    pb = draw(st.integers(0, top), label=f"padding[{i}].begin")
    pe = draw(st.integers(0, top).filter(lambda v: v != pb), label=f"padding[{i}].end")
    return pb, pe


def _windowed(draw: Draw, op: str, rank: int, b: Bounds, opts: dict[str, Any]) -> _Draft:
    """Pooling and conv: kernel, stride, dilation, padding and lengths per dim."""
    rule = opts["length_rule"]
    conv = op == "conv"
    kind = draw(resolve(opts["padding_kind"], st.sampled_from(PADDING_KINDS)), label="padding_kind")
    if rule == "mirror" and kind in ("same_upper", "same_lower"):
        kind = "asymmetric"
    if conv or rule == "mirror":
        ceil = False
    else:
        ceil = rule == "overhang" or draw(
            resolve(opts["ceil_mode"], st.booleans()), label="ceil_mode"
        )
    # a pooling call may leave stride out: it defaults to kernel_size [POOL-PARAM-2]
    omit_stride = not conv and draw(st.booleans(), label="stride omitted")
    draft = _Draft(padding_kind=kind)
    axes = []
    for i in range(rank):
        axis = _window_axis(draw, i, b, kind, ceil, omit_stride, rule, draft.spatial)
        axes.append(axis)
        draft.spatial.append(axis[4])
    ks, ss, ds, pads, _ = (tuple(v) for v in zip(*axes))
    padding: Any = kind if kind in PADDING_STRINGS else pads
    if conv:
        draft.kernel = ks
        draft.params.update(stride=ss, padding=padding, dilation=ds)
        return draft
    draft.params.update(kernel_size=ks, stride=ss, padding=padding, dilation=ds, ceil_mode=ceil)
    if omit_stride:
        del draft.params["stride"]
    if op == "avg_pool":
        draft.params["count_include_pad"] = draw(st.booleans(), label="count_include_pad")
        use = draw(resolve(opts["divisor_override"], st.booleans()), label="use divisor_override")
        draft.params["divisor_override"] = (
            draw(st.integers(1, 9), label="divisor_override") if use else None
        )
    if op == "lp_pool":
        draft.params["p"] = draw(st.integers(1, b.max_p), label="p")
    return draft


def _lengths(draw: Draw, rank: int, b: Bounds) -> list[int]:
    spatial: list[int] = []
    for i in range(rank):
        hi = b.side_room(spatial)
        if hi < b.min_side:
            reject()
        spatial.append(draw(st.integers(b.min_side, hi), label=f"spatial[{i}]"))
    return spatial


def _unwindowed(draw: Draw, op: str, rank: int, b: Bounds) -> _Draft:
    """Adaptive, global, unpooling and padding: lengths first, then the family keywords."""
    draft = _Draft(spatial=_lengths(draw, rank, b))
    family = cat.op(op).family
    if family == "adaptive":
        draft.params["output_size"] = tuple(
            draw(st.integers(1, L + 1), label=f"output_size[{i}]")
            for i, L in enumerate(draft.spatial)
        )
    elif op == "global_lp_pool":
        draft.params["p"] = draw(st.integers(1, b.max_p), label="p")
    elif family == "pad":
        draft.params["padding"] = tuple(
            (
                draw(st.integers(0, 2), label=f"padding[{i}].begin"),
                draw(st.integers(0, 2), label=f"padding[{i}].end"),
            )
            for i in range(rank)
        )
    elif family == "unpool":
        draft.params.update(_unpool_params(draw, draft.spatial, b))
    return draft


def _unpool_params(draw: Draw, spatial: list[int], b: Bounds) -> dict[str, Any]:
    """Indices come from a floor-mode max pool with padding < kernel of the drawn plane,
    so every window has an in-bounds tap and every index is valid [POOL-UNPOOL-3]; the
    unpooled plane is that plane (``output_size``, or None when the default of
    POOL-UNPOOL-1 already is its size)."""
    ks, ss, pads = [], [], []
    for i, L in enumerate(spatial):
        k = draw(st.integers(1, min(b.max_kernel, L)), label=f"kernel_size[{i}]")
        s = draw(st.integers(1, b.max_stride), label=f"stride[{i}]")
        pb = draw(st.integers(0, k - 1), label=f"padding[{i}].begin")
        pe = draw(st.integers(0, k - 1), label=f"padding[{i}].end")
        ks.append(k)
        ss.append(s)
        pads.append((pb, pe))
    default = tuple(
        geo.unpool_output_length(geo.output_length(L, k, s, 1, pb, pe, False), k, s, pb, pe)
        for L, k, s, (pb, pe) in zip(spatial, ks, ss, pads)
    )
    use_default = default == tuple(spatial) and draw(st.booleans(), label="default output_size")
    return {
        "kernel_size": tuple(ks),
        "stride": tuple(ss),
        "padding": tuple(pads),
        "output_size": None if use_default else tuple(spatial),
    }


# ---------------------------------------------------------------------------
# a whole config
# ---------------------------------------------------------------------------


def _batch_and_channels(
    draw: Draw, op: str, b: Bounds, plane: int, draft: _Draft
) -> tuple[int, int, tuple[int, ...] | None, bool]:
    """(batch, channels, weight shape, bias) within the element budget."""
    room = b.max_elements // plane
    if room < b.min_batch * b.min_channels:
        reject()
    batch = draw(
        st.integers(b.min_batch, max(b.min_batch, min(b.max_batch, room // b.min_channels))),
        label="N",
    )
    if op == "conv":
        groups = draw(st.integers(1, 2), label="groups")
        draft.params["groups"] = groups
        cig = draw(st.integers(1, max(1, min(2, room // (batch * groups)))), label="C_in/groups")
        cog = draw(st.integers(1, 2), label="C_out/groups")
        assert draft.kernel is not None
        weight = (groups * cog, cig, *draft.kernel)
        return batch, groups * cig, weight, draw(st.booleans(), label="bias")
    top = max(b.min_channels, min(b.max_channels, room // batch))
    channels = draw(resolve(b.channels, st.integers(b.min_channels, top)), label="C")
    return batch, channels, None, False


@functools.cache
def _defaults(op: str) -> dict[str, Any]:
    """The keyword defaults of ``op``, read off the reference's signature."""
    params = inspect.signature(getattr(ref, op)).parameters.values()
    return {
        p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.default is not p.empty
    }


def _is_default(value: Any, default: Any) -> bool:
    """``value`` means the same as the default: equal, or a per-dim tuple of it (pairs of
    it for padding)."""
    if value == default:
        return True
    if not isinstance(value, tuple) or isinstance(default, (tuple, str)) or default is None:
        return False
    return all(v == default or v == (default, default) for v in value)


def _omit_defaults(draw: Draw, op: str, params: dict[str, Any]) -> dict[str, Any]:
    """The keywords, with those that equal the op's default left out in some calls."""
    if not draw(st.booleans(), label="leave out defaulted keywords"):
        return params
    defaults = _defaults(op)
    return {k: v for k, v in params.items() if k not in defaults or not _is_default(v, defaults[k])}


@st.composite
def _configs(
    draw: Draw,
    *,
    op: Arg[str] | None,
    rank: Arg[int] | None,
    layout: Arg[str] | None,
    dtype: Arg[str] | None,
    bounds: Bounds,
    opts: dict[str, Any],
) -> PoolConfig:
    op_ = draw(resolve(op, st.sampled_from(cat.FORWARD_OPS)), label="op")
    rank_ = draw(resolve(rank, st.integers(bounds.min_rank, bounds.max_rank)), label="rank")
    layout_ = draw(resolve(layout, st.sampled_from(cat.LAYOUTS)), label="layout")
    dtype_ = draw(resolve(dtype, st.sampled_from(cat.op(op_).dtypes)), label="dtype")
    if dtype_ not in cat.op(op_).dtypes:
        reject()
    if cat.op(op_).windowed:
        draft = _windowed(draw, op_, rank_, bounds, opts)
    else:
        draft = _unwindowed(draw, op_, rank_, bounds)
    plane = max(1, math.prod(draft.spatial))
    batch, channels, weight, bias = _batch_and_channels(draw, op_, bounds, plane, draft)
    if batch * channels * plane > bounds.max_elements:
        reject()
    params = _omit_defaults(draw, op_, {**draft.params, "layout": layout_})
    config = PoolConfig(
        op_,
        rank_,
        layout_,
        dtype_,
        batch,
        channels,
        tuple(draft.spatial),
        params,
        weight,
        bias,
        draft.padding_kind,
    )
    if not opts["allow_empty_windows"] and config.has_empty_window():
        reject()
    if not config.within_padding_limit(opts["padding_limit"]):
        reject()
    if opts["length_rule"] == "overhang" and not config.has_ceil_overhang():
        reject()
    note(f"config: {config}")
    return config


def pool_configs(
    *,
    op: Arg[str] | None = None,
    rank: Arg[int] | None = None,
    layout: Arg[str] | None = None,
    dtype: Arg[str] | None = None,
    padding_kind: Arg[str] | None = None,
    ceil_mode: Arg[bool] | None = None,
    divisor_override: Arg[bool] | None = None,
    allow_empty_windows: bool = True,
    padding_limit: str = "any",
    length_rule: str = "any",
    **bounds: Any,
) -> st.SearchStrategy[PoolConfig]:
    """A valid configuration of a forward op.

    ``None`` means "any": every forward op, rank in ``[min_rank, max_rank]``, both
    layouts, the op's dtypes of POOL-DTYPE-1, every padding kind, both modes.
    ``divisor_override`` says whether avg_pool may draw one. ``max_padding=None`` lets
    padding reach the effective kernel, so some windows lie entirely in padding (flag
    EmptyWindow) unless ``allow_empty_windows=False``; ``padding_limit`` (a
    ``padding_limit`` declaration) keeps explicit pooling padding within that limit
    [POOL-PARAM-7]. ``length_rule``: ``any``;
    ``mirror`` (floor mode, explicit padding, ``(L + pb + pe - eff) % s == 0`` per dim:
    the geometry commutes with flipping the spatial axes); ``overhang`` (ceil mode with
    a window hanging past the end padding). The remaining keywords are the ``Bounds``:
    ``min_/max_rank``, ``_batch``, ``_channels``, ``_side``, ``max_elements``,
    ``max_kernel``, ``max_stride``, ``max_dilation``, ``max_padding``, ``max_p`` and
    ``channels`` (a value or strategy)."""
    if padding_limit not in flagreg.PADDING_LIMITS:
        raise InvalidArgument(
            f"padding_limit={padding_limit!r} is not one of {flagreg.PADDING_LIMITS}"
        )
    if length_rule not in LENGTH_RULES:
        raise InvalidArgument(f"length_rule={length_rule!r} is not one of {LENGTH_RULES}")
    if length_rule == "overhang" and isinstance(op, str) and cat.op(op).family != "window":
        raise InvalidArgument(f"length_rule='overhang' needs a pooling op, got {op!r}")
    opts = {
        "padding_kind": padding_kind,
        "ceil_mode": ceil_mode,
        "divisor_override": divisor_override,
        "allow_empty_windows": allow_empty_windows,
        "padding_limit": padding_limit,
        "length_rule": length_rule,
    }
    return _configs(
        op=op, rank=rank, layout=layout, dtype=dtype, bounds=Bounds(**bounds), opts=opts
    )


# ---------------------------------------------------------------------------
# the scale tier: shapes past the toy sizes, where kernels change code path
# ---------------------------------------------------------------------------

# channel counts around the chunk widths of vectorised channel loops (8, 16, 32): one
# chunk, a chunk and a tail (17, 33), tails alone (3) and several whole chunks
SCALE_CHANNELS = (17, 1, 3, 8, 16, 33, 17, 24, 32, 64)
SCALE_RANKS = (2, 2, 2, 1, 3)  # mainly 2-D, as the kernels users gate are
SCALE_MAX_BATCH = 8
SCALE_MAX_SIDE = 128
SCALE_TILE = 64  # sides past it cross a spatial tile of a tiled kernel
SCALE_MAX_ELEMENTS = 2**17  # elements of x per draw: keeps the oracle and flag detection quick
SCALE_DTYPES = ("float32", "float16", "bfloat16")  # the fast oracle's quick dtypes


@st.composite
def scale_configs(
    draw: Draw,
    *,
    op: Arg[str] | None = None,
    rank: Arg[int] | None = None,
    layout: Arg[str] | None = None,
    dtype: Arg[str] | None = None,
    **kw: Any,
) -> PoolConfig:
    """A valid call at scale: batch up to ``SCALE_MAX_BATCH``, channels from
    ``SCALE_CHANNELS``, spatial sides up to ``SCALE_MAX_SIDE`` and at most
    ``SCALE_MAX_ELEMENTS`` elements of ``x``. Half the draws are *wide*: every side past
    ``SCALE_TILE`` where the element budget lets it (it does for rank 1 and 2), so a
    window crosses a tile boundary; the others leave the sides free. ``dtype`` defaults to
    ``SCALE_DTYPES`` (those of the op); the other keywords go to ``pool_configs``."""
    op_ = draw(resolve(op, st.sampled_from(cat.FORWARD_OPS)), label="op")
    rank_ = draw(resolve(rank, st.sampled_from(SCALE_RANKS)), label="rank")
    if dtype is None:
        fast = [d for d in SCALE_DTYPES if d in cat.op(op_).dtypes] or list(cat.op(op_).dtypes)
        dtype = st.sampled_from(fast)
    channels = draw(st.sampled_from(SCALE_CHANNELS), label="scale C")
    batch = draw(st.integers(1, SCALE_MAX_BATCH), label="scale N")
    budget = SCALE_MAX_ELEMENTS // (channels * batch)
    # the first choices are the telling ones (Hypothesis starts with them): wide, channels_last
    wide = (SCALE_TILE + 1) ** rank_ <= budget and not draw(st.booleans(), label="not wide")
    min_side = SCALE_TILE + 1 if wide else 1
    max_side = SCALE_MAX_SIDE
    if wide:
        max_side = min(SCALE_MAX_SIDE, budget // min_side ** (rank_ - 1))
    if layout is None:
        layout = st.sampled_from(tuple(reversed(cat.LAYOUTS)))
    bounds = {
        "min_batch": batch,
        "max_batch": batch,
        "min_channels": channels,
        "max_channels": channels,
        "min_side": min_side,
        "max_side": max_side,
        "max_elements": SCALE_MAX_ELEMENTS,
        **kw,
    }
    config = pool_configs(op=op_, rank=rank_, layout=layout, dtype=dtype, **bounds)
    return draw(config, label="scale config")


def mirrored_configs(**kw: Any) -> st.SearchStrategy[PoolConfig]:
    """Configs whose windows map onto windows when the spatial axes are flipped."""
    return pool_configs(length_rule="mirror", **kw)


def overhang_configs(**kw: Any) -> st.SearchStrategy[PoolConfig]:
    """Ceil-mode pooling configs where some window hangs past the end padding."""
    return pool_configs(length_rule="overhang", **kw)
