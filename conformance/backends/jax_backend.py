"""The ``jax`` backend: ``jax.lax`` window reductions and convolution on the CPU, gradients
through ``jax.vjp``.

Importing this backend turns on ``jax_enable_x64`` (float64, int64 and uint64 arrays
would otherwise be silently narrowed to 32 bits). Arrays go in and out as NumPy
arrays of the input dtype. The ops and how they map:

* ``max_pool``: ``lax.reduce_window(x, init, lax.max, ...)`` with ``init`` = ``-inf``
  (integer dtypes: the dtype's minimum). ``reduce_window`` fills its padding with
  ``init``. Proof of equivalence with POOL-MAX-1 and POOL-EMPTY-1: the max of a
  non-empty set ``S`` of dtype values together with copies of the smallest value of
  the dtype is ``max(S)`` (XLA's max propagates NaN, and ``max(z, -inf) = z`` for
  either zero ``z``); for an empty ``S`` it is ``-inf`` (integers: the minimum), which
  is the spec's value for a window entirely in padding.
* ``avg_pool``: ``reduce_window(x, 0, lax.add)`` divided by a divisor computed with the
  same ``reduce_window`` over an int32 mask of ones (exact counts), the idiom of
  ``flax.linen.avg_pool`` and ``jax.example_libraries.stax.AvgPool``. Padding adds zeros, which leave a sum
  unchanged (POOL-AVG-1). The mask is 1 on the input and 0 in the padding
  (``count_include_pad=False``: the in-bounds count of POOL-AVG-4), or 1 on the input
  and the padding, padded with ``lax.pad`` before the window sum, and 0 in the
  ceil-mode overhang (``count_include_pad=True``: the count of taps in ``[-pb, L+pe)``
  of POOL-AVG-3). ``divisor_override`` divides by the given integer [POOL-AVG-2]. A
  window with no in-bounds tap and divisor 0 gives ``0/0 = NaN``, the spec's value.
* ceil mode [POOL-GEOM-3, POOL-GEOM-4]: JAX's windows are floor-mode only; the spec's
  output length ``O`` is reached by giving ``reduce_window`` the end padding ``pe'``
  nearest to ``pe`` in ``[lo, lo + s - 1]``, ``lo = (O-1)*s + eff - L - pb``: exactly
  the lengths whose floor-mode count is ``O``. Above ``pe`` (the ceil-mode overhang)
  the extra positions are padding to ``reduce_window`` (``init``: see above) and 0 in
  the divisor mask, so they never count; below ``pe`` (a last window dropped by
  POOL-GEOM-4) the positions cut off belong to no remaining window.
* ``conv``: ``lax.conv_general_dilated`` with dimension numbers for either layout, the
  spec's weight layout ``(C_out, C_in/groups, *kernel)`` as ``OI...``, native
  asymmetric padding, ``rhs_dilation`` and ``feature_group_count``; the bias is added
  to the result.
* ``global_max_pool``, ``global_avg_pool``, ``global_lp_pool``: ``jnp.max``,
  ``jnp.mean`` and ``jnp.linalg.vector_norm(ord=p)`` over the spatial axes with
  ``keepdims=True``.
* ``zero_pad``: ``lax.pad`` with 0.
* every gradient: ``jax.vjp`` of the forward function at ``x`` applied to ``grad_output``.

Each op runs as one ``jax.jit`` computation (the forward function, or its ``jax.vjp``
pullback), cached by the op's static parameters; see ``_compiled`` for why, and
``_COMPILER_OPTIONS`` for the XLA compile options it uses.

Padding strings go to JAX as its own forms (``"VALID"``, ``"SAME"`` (upper),
``"SAME_LOWER"``) where the window count needs no ceil-mode extension. JAX has no
windowed Lp pooling, no max pooling with indices, no unpooling and no adaptive
pooling: those functions are missing. ``ceil_mode``, ``count_include_pad``,
``divisor_override``, ``layout`` and the padding strings have no JAX counterpart of the
same spelling: the adapter translates them, so it rejects values it cannot translate
(``SpecError``, their clauses).
Every other argument goes to JAX as given when the spec rejects it, and JAX's own
checks decide; no result is adjusted.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # before any array exists

import jax.numpy as jnp  # noqa: E402 - after the float64 switch above
from jax import lax  # noqa: E402

from poolconf import SpecError, Unsupported  # noqa: E402
from poolconf.reference import arguments  # noqa: E402
from poolconf.reference import geometry as geo  # noqa: E402

# Verified on jax/jaxlib 0.10.2, CPU:
# * the max gradient goes to the first maximal element in window order (ties); XLA's
#   max of -0.0 and +0.0 is +0.0 in either order (StableHLO's maximum is IEEE 754's;
#   a known failure: POOL-MAX-5 wants the first one's sign);
# * the max gradient's selection compares with >=, which is false for NaN, so in a
#   window holding NaN it goes to whichever element the comparisons leave last, a NaN
#   or not ([1, NaN] -> the NaN, [1, NaN, 3] -> 3): no first-NaN rule, hence "other";
# * windows entirely in padding give -inf, 0 or NaN as the reference does (see the
#   reduce_window proof above).
DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "reference",
    "nan_index": "other",
    "zero_tie": "positive",  # XLA's max is IEEE 754 maximum: +0.0 > -0.0 [POOL-MAX-5]
    "subnormals": "flush",  # DAZ and FTZ on the CPU [POOL-DTYPE-5]
    # window sums, and vector_norm's |x|**p, rounded to the input dtype [POOL-DTYPE-6]
    "accumulator": "dtype",
}
XFAIL_FILE = "jax_xfail.txt"

_JAX_PADDING = {"valid": "VALID", "same_upper": "SAME", "same_lower": "SAME_LOWER"}


# ---------------------------------------------------------------------------
# conversion and adapter-owned arguments
# ---------------------------------------------------------------------------


def _numpy(a: Any) -> np.ndarray:
    return np.array(a, copy=True)


def _check_global_rank(x: Any) -> None:
    """Global pooling reduces the axes the layout calls spatial; with fewer than three
    dims the layout names none, and the adapter has no axes to give JAX [POOL-SHAPE-1]."""
    if getattr(x, "ndim", 0) < 3:
        raise SpecError(
            f"x.shape={getattr(x, 'shape', None)} has no spatial dim for the layout", "POOL-SHAPE-1"
        )


def _spatial_axes(ndim: int, layout: str) -> tuple[int, ...]:
    return tuple(range(1, ndim - 1)) if layout == "channels_last" else tuple(range(2, ndim))


def _spatial(x: np.ndarray, layout: str) -> tuple[int, ...]:
    return tuple(x.shape[i] for i in _spatial_axes(x.ndim, layout))


def _full(values: list[Any], fill: Any, ndim: int, layout: str) -> tuple[Any, ...]:
    """Per-spatial-dim ``values`` as a full-rank tuple, ``fill`` on N and C."""
    if layout == "channels_last":
        return (fill, *values, fill)
    return (fill, fill, *values)


def _raw(v: Any, rank: int) -> list[Any]:
    if isinstance(v, (tuple, list)):
        return list(v)
    return [v] * rank


def _raw_pairs(padding: Any, rank: int) -> Any:
    """Spec padding as JAX pairs, without judging it: a string goes as JAX's string
    form (or unchanged), an int or per-dim int as ``(p, p)``."""
    if isinstance(padding, str):
        return _JAX_PADDING.get(padding, padding)
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in _raw(padding, rank)]


def _end_padding(a: geo.AxisGeometry) -> int:
    """The end padding that gives exactly the spec's ``a.out`` floor-mode windows: the
    value nearest ``a.pad_end`` in ``[lo, lo + s - 1]`` (see the module docstring)."""
    lo = (
        (a.out - 1) * a.stride + geo.effective_kernel(a.kernel, a.dilation) - a.length - a.pad_begin
    )
    return max(0, min(max(a.pad_end, lo), lo + a.stride - 1))


class _Window:
    """One windowed call in JAX's terms: per-spatial-dim window, strides, dilation and
    padding (JAX pairs or string), plus the spec geometry when the spec accepts the
    arguments (None: they go to JAX raw and its checks decide)."""

    def __init__(
        self,
        spatial: tuple[int, ...],
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: Any,
    ) -> None:
        arguments.check_bool(ceil_mode, "ceil_mode")
        if isinstance(padding, str):  # the adapter translates the spec's strings
            arguments.check_padding_string(padding)
        rank = len(spatial)
        try:
            geom = geo.pool_geometry(spatial, kernel_size, stride, padding, dilation, ceil_mode)
        except SpecError:
            self.geom = None
            self.kernel = _raw(kernel_size, rank)
            self.stride = self.kernel if stride is None else _raw(stride, rank)
            self.dilation = _raw(dilation, rank)
            self.padding = _raw_pairs(padding, rank)
            return
        self.geom = geom
        self.kernel = [a.kernel for a in geom.axes]
        self.stride = [a.stride for a in geom.axes]
        self.dilation = [a.dilation for a in geom.axes]
        self.end = [_end_padding(a) for a in geom.axes]
        if isinstance(padding, str) and self.end == [a.pad_end for a in geom.axes]:
            self.padding = _JAX_PADDING[padding]  # JAX's own SAME/VALID arithmetic
        else:
            self.padding = [(a.pad_begin, e) for a, e in zip(geom.axes, self.end)]

    def args(self, ndim: int, layout: str) -> dict[str, Any]:
        padding = self.padding
        if not isinstance(padding, str):
            padding = _full(list(padding), (0, 0), ndim, layout)
        return {
            "window_dimensions": _full(self.kernel, 1, ndim, layout),
            "window_strides": _full(self.stride, 1, ndim, layout),
            "padding": padding,
            "window_dilation": _full(self.dilation, 1, ndim, layout),
        }


def _window(
    x: np.ndarray,
    layout: str,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
) -> _Window:
    arguments.check_layout(layout)
    return _Window(_spatial(x, layout), kernel_size, stride, padding, dilation, ceil_mode)


def _lowest(dtype: Any) -> Any:
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return np.array(np.iinfo(dtype).min, dtype)
    return np.array(-np.inf, dtype)


def _freeze(v: Any) -> Any:
    """``v`` with lists turned into tuples, so it can key the compiled-function cache."""
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(e) for e in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(e)) for k, e in v.items()))
    return v


# One compiled XLA computation per call shape: every op is a pure function of its
# arrays, built from static parameters and wrapped in ``jax.jit``; the jitted
# functions are cached by those parameters (jit itself caches per shape and dtype),
# so a repeated call does not trace or compile again, and a new shape compiles one
# fused computation instead of one per primitive (eager dispatch compiles every lax
# primitive, and jax.vjp every primitive of the forward and backward pass, on its
# own). The cache is bounded, so compiled code does not accumulate without limit.
_CACHE_SIZE = 128

# XLA's CPU compiler spends ~90 ms on even a one-op computation with its default
# pipeline, and a conformance check compiles thousands of small ones (each drawn
# shape and parameter set is new). These options make XLA compile the same HLO
# about 1.7 times faster (a reduce_window forward and an average-pool vjp: 184 ms ->
# 107 ms per pair on this project's 2-core machine): one LLVM module instead of a
# parallel split, XLA's elemental IR emitter for fusions instead of the MLIR fusion
# emitters (both implement the same HLO semantics), and no expensive LLVM passes
# (XLA never enables fast-math unless asked, so no pass may change IEEE results).
# ``xla_backend_optimization_level=0`` would compile faster still but is left out: it
# also changes which HLO passes run, and with it a float16 window sum is accumulated
# in float16 (64x64 ones average to 0.5) where the default pipeline accumulates in
# float32. The options apply to this adapter's computations only;
# POOLCONF_JAX_XLA_DEFAULTS=1 compiles with XLA's defaults.
_COMPILER_OPTIONS: dict[str, Any] | None = (
    None
    if os.environ.get("POOLCONF_JAX_XLA_DEFAULTS")
    else {
        "xla_llvm_disable_expensive_passes": True,
        "xla_cpu_parallel_codegen_split_count": 1,
        "xla_cpu_use_fusion_emitters": False,
    }
)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compiled(kind: str, key: Any) -> Any:
    f = _BUILDERS[key[0]](*key[1:])
    if kind == "forward":
        return jax.jit(f, compiler_options=_COMPILER_OPTIONS)

    def pullback(*args: Any) -> Any:
        *primals, cotangent = args
        _, vjp = jax.vjp(f, *primals)
        return vjp(cotangent)

    return jax.jit(pullback, compiler_options=_COMPILER_OPTIONS)


def _call(kind: str, key: Any, *arrays: Any) -> Any:
    key = _freeze(key)
    try:
        fn = _compiled(kind, key)
    except TypeError:  # an unhashable (invalid) argument: no caching, JAX decides
        fn = _compiled.__wrapped__(kind, key)
    return fn(*arrays)


def _vjp(key: Any, x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    (gx,) = _call("vjp", key, x, grad_output)
    return _numpy(gx)


def _no_all_ties(tie_policy: str) -> None:
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: JAX's reduce_window max gradient routes to one element "
            f"per window [POOL-GRAD-2]"
        )


# ---------------------------------------------------------------------------
# max pooling [POOL-MAX-*, POOL-GRAD-2]
# ---------------------------------------------------------------------------


def _build_max(args: Any) -> Any:
    kw = dict(args)
    return lambda a: lax.reduce_window(a, _lowest(a.dtype), lax.max, **kw)


def _max_key(w: _Window, ndim: int, layout: str) -> Any:
    return ("max", w.args(ndim, layout))


def max_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """``lax.reduce_window(max)`` with ``-inf`` padding (see the module docstring)."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    return _numpy(_call("forward", _max_key(w, x.ndim, layout), x))


def max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """``jax.vjp`` of ``max_pool``."""
    _no_all_ties(tie_policy)
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    try:
        return _vjp(_max_key(w, x.ndim, layout), x, grad_output)
    except NotImplementedError as exc:  # JAX's own word that it has no such gradient
        raise Unsupported(f"jax {jax.__version__}: {exc} [POOL-GRAD-2, POOL-PARAM-3]") from exc


# ---------------------------------------------------------------------------
# average pooling [POOL-AVG-*, POOL-GRAD-1]
# ---------------------------------------------------------------------------


def _check_divisor(divisor_override: Any) -> None:
    if divisor_override is None:
        return
    if not (geo.is_integer(divisor_override) and int(divisor_override) >= 1):
        raise SpecError(
            f"divisor_override={divisor_override!r} must be an integer >= 1", "POOL-AVG-2"
        )


def _build_avg(args: Any, divisor: Any) -> Any:
    kw = dict(args)

    def f(a: Any) -> Any:
        zero = np.array(0, a.dtype)
        total = lax.reduce_window(a, zero, lax.add, **kw)
        if divisor[0] == "override":
            return total / np.array(divisor[1], a.dtype)
        # the divisor counts taps: int32 window sums of a 0/1 mask, exact at any size
        # (a float16 sum of ones would stall at 2048)
        spatial = divisor[1]
        shape = tuple(n if i in spatial else 1 for i, n in enumerate(a.shape))
        ones = jnp.ones(shape, np.int32)
        izero = np.array(0, np.int32)
        if divisor[0] == "extent":
            # ones on the input and its padding, zeros in the ceil-mode overhang
            extent = lax.pad(ones, np.array(1, np.int32), divisor[2])
            count = lax.reduce_window(
                extent,
                izero,
                lax.add,
                kw["window_dimensions"],
                kw["window_strides"],
                divisor[3],
                window_dilation=kw["window_dilation"],
            )
        else:  # the in-bounds taps
            count = lax.reduce_window(ones, izero, lax.add, **kw)
        return total / count.astype(a.dtype)

    return f


def _avg_key(
    w: _Window, x: np.ndarray, layout: str, count_include_pad: Any, divisor_override: Any
) -> Any:
    arguments.check_bool(count_include_pad, "count_include_pad")
    _check_divisor(divisor_override)
    args = w.args(x.ndim, layout)
    spatial = _spatial_axes(x.ndim, layout)
    if divisor_override is not None:
        divisor: Any = ("override", int(divisor_override))
    elif count_include_pad and w.geom is not None:
        pads = _full(
            [(a.pad_begin, min(a.pad_end, e), 0) for a, e in zip(w.geom.axes, w.end)],
            (0, 0, 0),
            x.ndim,
            layout,
        )
        overhang = _full(
            [(0, max(0, e - a.pad_end)) for a, e in zip(w.geom.axes, w.end)], (0, 0), x.ndim, layout
        )
        divisor = ("extent", spatial, pads, overhang)
    else:
        divisor = ("inbounds", spatial)
    return ("avg", args, divisor)


def avg_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``reduce_window(add)`` over the divisor (see the module docstring)."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    key = _avg_key(w, x, layout, count_include_pad, divisor_override)
    return _numpy(_call("forward", key, x))


def avg_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``jax.vjp`` of ``avg_pool``."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    key = _avg_key(w, x, layout, count_include_pad, divisor_override)
    return _vjp(key, x, grad_output)


# ---------------------------------------------------------------------------
# global pooling [POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``jnp.max`` over the spatial axes, ``keepdims=True``."""
    arguments.check_layout(layout)
    _check_global_rank(x)
    return _numpy(_call("forward", ("gmax", _spatial_axes(x.ndim, layout)), x))


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``jnp.mean`` over the spatial axes, ``keepdims=True``."""
    arguments.check_layout(layout)
    _check_global_rank(x)
    return _numpy(_call("forward", ("gavg", _spatial_axes(x.ndim, layout)), x))


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """``jnp.linalg.vector_norm(ord=p)`` over the spatial axes, ``keepdims=True``."""
    arguments.check_layout(layout)
    _check_global_rank(x)
    return _numpy(_call("forward", ("glp", _spatial_axes(x.ndim, layout), p), x))


# ---------------------------------------------------------------------------
# zero padding and convolution [POOL-PAD-1, POOL-CONV-*, POOL-GRAD-5]
# ---------------------------------------------------------------------------


def zero_pad(x: np.ndarray, *, padding: Any, layout: str = "channels_first") -> np.ndarray:
    """``lax.pad(x, 0, config)`` with no padding on N and C."""
    arguments.check_layout(layout)
    rank = x.ndim - 2
    if isinstance(padding, str):
        config: Any = padding  # lax.pad has no string form; it rejects it
    else:
        pairs = [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in _raw(padding, rank)]
        config = _full([(*p, 0) for p in pairs], (0, 0, 0), x.ndim, layout)
    return _numpy(_call("forward", ("pad", config), x))


def _conv_spec(ndim: int, layout: str) -> tuple[str, str, str]:
    letters = "DHW"[-(ndim - 2) :] if ndim - 2 <= 3 else None
    if letters is None:
        raise Unsupported(
            f"{ndim - 2}-d convolution: the adapter names at most 3 spatial dims [POOL-SHAPE-1]"
        )
    lhs = f"N{letters}C" if layout == "channels_last" else f"NC{letters}"
    return lhs, f"OI{letters}", lhs


def _build_conv(
    stride: Any, padding: Any, dilation: Any, groups: Any, spec: Any, channel_axis: int
) -> Any:
    def f(a: Any, w: Any, b: Any = None) -> Any:
        dn = lax.conv_dimension_numbers(a.shape, w.shape, spec)
        out = lax.conv_general_dilated(
            a,
            w,
            window_strides=stride,
            padding=padding,
            rhs_dilation=dilation,
            dimension_numbers=dn,
            feature_group_count=groups,
            precision=lax.Precision.HIGHEST,
        )
        if b is None:
            return out
        shape = [1] * out.ndim
        shape[channel_axis] = -1
        return out + b.reshape(shape)

    return f


def _conv_key(
    x: np.ndarray, stride: Any, padding: Any, dilation: Any, groups: Any, layout: str
) -> Any:
    arguments.check_layout(layout)
    rank = x.ndim - 2
    channel_axis = x.ndim - 1 if layout == "channels_last" else 1
    return (
        "conv",
        _raw(stride, rank),
        _raw_pairs(padding, rank),
        _raw(dilation, rank),
        groups,
        _conv_spec(x.ndim, layout),
        channel_axis,
    )


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> np.ndarray:
    """``lax.conv_general_dilated`` (+ bias)."""
    key = _conv_key(x, stride, padding, dilation, groups, layout)
    args = [x, weight] + ([] if bias is None else [bias])
    return _numpy(_call("forward", key, *args))


def conv_grad(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_output: np.ndarray,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``jax.vjp`` of ``conv`` with respect to x, weight and bias."""
    key = _conv_key(x, stride, padding, dilation, groups, layout)
    args = [x, weight] + ([] if bias is None else [bias])
    grads = _call("vjp", key, *args, grad_output)
    gb = None if bias is None else _numpy(grads[2])
    return _numpy(grads[0]), _numpy(grads[1]), gb


_BUILDERS: dict[str, Callable[..., Any]] = {
    "max": _build_max,
    "avg": _build_avg,
    "conv": _build_conv,
    "gmax": lambda axes: lambda a: jnp.max(a, axis=axes, keepdims=True),
    "gavg": lambda axes: lambda a: jnp.mean(a, axis=axes, keepdims=True),
    "glp": lambda axes, p: lambda a: jnp.linalg.vector_norm(a, ord=p, axis=axes, keepdims=True),
    "pad": lambda config: lambda a: lax.pad(a, np.array(0, a.dtype), config),
}
