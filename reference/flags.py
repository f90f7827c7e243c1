"""Vector flags: every flag a case may carry, how it is detected and how it is judged.

A flag names why a test is special. *Implementation-defined* flags (those with a
``declaration``) mark behaviour the spec leaves open [POOL-MAX-4, POOL-MAX-7,
POOL-EMPTY-1, POOL-GRAD-8]: ``detect`` finds them on a call (the generator turns a
``valid`` case that has one into ``acceptable``; the property checks use the same
function on their draws), and ``judge`` says how a backend is checked where one
occurs, from the value it declares for the flag's key (``DECLARATIONS`` of a
backend; ``spec/backend-api.md``). *Descriptive* flags only label a case; a case
declares them itself. Every flag used in a vector file is described once in the
file's ``notes``, with Wycheproof's ``bugType`` and, where a real bug report
exists, its ``links``.

To add a flag: add its row to ``_FLAGS``; an implementation-defined flag also needs
its detection in ``detect`` and its rule in ``judge``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from poolconf.reference import catalog, fast
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

PARTS = ("forward", "grad")
# explicit padding a backend accepts [POOL-PARAM-7]: any (the reference), each side below
# kernel_size, each side at most half the (undilated) kernel_size
PADDING_LIMITS = ("any", "below_kernel", "half_kernel")
# the range of a backend's intermediate sums, products and Lp powers [POOL-DTYPE-6]: unbounded
# (the reference), float32 or wider (float64 for float64 data), the input dtype
ACCUMULATORS = ("exact", "float32", "dtype")
# Wycheproof's classification of what a flagged test probes
BUG_TYPES = ("BASIC", "EDGE_CASE", "FUNCTIONALITY", "KNOWN_BUG", "MISSING_STEP", "DEFINED")


@dataclass(frozen=True)
class Flag:
    """A vector flag.

    ``clause``: the spec clause behind it. ``declaration``: the backend declaration
    key that decides it (None for a descriptive flag), ``allowed`` its values, the
    first being the reference's choice, and ``parts`` the parts of a case ("forward",
    "grad") whose result it can change. ``bug_type``, ``effect`` and ``links`` are
    Wycheproof's note fields: what kind of bug the flagged tests probe, what goes
    wrong when an implementation gets it wrong, and real reports of it. ``raise_on``: the
    declared values under which a flagged case must raise; with ``limit`` the flag marks
    a case past one limit: under a declared value in ``raise_on`` the backend may raise
    (or return the reference's value), and any other declared value leaves it judged as
    valid."""

    name: str
    description: str
    clause: str
    bug_type: str
    declaration: str | None = None
    allowed: tuple[str, ...] = ()
    parts: tuple[str, ...] = PARTS
    effect: str | None = None
    links: tuple[str, ...] = field(default=())
    raise_on: tuple[str, ...] = ("error",)
    limit: bool = False


_FLAGS = (
    # implementation-defined: detected on every case, they make it "acceptable"
    Flag(
        "Tie",
        "A max window's maximum occurs more than once (-0.0 and +0.0 included) and the result "
        "depends on which is chosen: the index, the gradient routing or the sign of a zero. The "
        "reference chooses the first in row-major window order; expected.grad_input_all holds "
        "the 'all' policy.",
        "POOL-MAX-4",
        "DEFINED",
        declaration="tie_policy",
        allowed=("first", "all", "other"),
        effect="Gradients routed to another tied element than the reference's.",
        links=(
            "https://github.com/tensorflow/tensorflow/issues/4886",
            "https://github.com/tinygrad/tinygrad/pull/229",
        ),
    ),
    Flag(
        "EmptyWindow",
        "A window lies entirely in the padding (no in-bounds tap). The reference returns -inf "
        "(integer: the dtype minimum) with index -1 for max, NaN for an average without "
        "count_include_pad, 0 for Lp; many libraries reject such padding instead.",
        "POOL-EMPTY-1",
        "DEFINED",
        declaration="empty_window",
        allowed=("reference", "error"),
        effect="Libraries that accept such padding return -inf, 0 or uninitialised values.",
        links=("https://github.com/webmachinelearning/webnn/issues/935",),
    ),
    Flag(
        "NanIndex",
        "A max window holds two or more NaNs and the case reports indices or a gradient: the "
        "reference selects the first NaN in window order; which one is selected is left open.",
        "POOL-MAX-7",
        "DEFINED",
        declaration="nan_index",
        allowed=("first", "other"),
        effect="The index, and the element receiving the gradient, of a NaN maximum differ.",
    ),
    Flag(
        "ZeroSignTie",
        "A max window's maximum is zero, held by both -0.0 and +0.0. The reference returns the "
        "sign of the first tied zero in window order (POOL-MAX-5); IEEE 754 maximum, as in "
        "XLA and StableHLO, returns +0.0 in either order.",
        "POOL-MAX-5",
        "DEFINED",
        declaration="zero_tie",
        allowed=("first", "positive"),
        parts=("forward",),
        effect="A max of tied zeros returned as +0.0 where the first tied zero is -0.0.",
        links=("https://github.com/openxla/stablehlo/blob/main/docs/spec.md#stablehlomaximum",),
    ),
    Flag(
        "LpZeroNorm",
        "An Lp gradient over a window whose norm is zero or whose values are not all finite: the "
        "derivative is undefined there; the reference's value is one choice.",
        "POOL-GRAD-8",
        "DEFINED",
        declaration="lp_zero_grad",
        allowed=("zero", "other"),
        parts=("grad",),
        effect="NaN or infinite gradients where the reference gives 0.",
        links=("https://github.com/pytorch/pytorch/issues/184037",),
    ),
    Flag(
        "PaddingNotBelowKernel",
        "Explicit padding of kernel_size or more on some side of a pooling dim (dilation "
        "aside). The reference accepts any padding; ONNX Runtime rejects it ('Pad should be "
        "smaller than kernel'), also where every window holds an input element.",
        "POOL-PARAM-7",
        "DEFINED",
        declaration="padding_limit",
        allowed=PADDING_LIMITS,
        raise_on=("below_kernel",),
        limit=True,
        effect="An error, or windows of padding only, where the reference returns a value.",
    ),
    Flag(
        "PaddingOverHalfKernel",
        "Explicit padding of more than half the kernel size, k//2 (dilation aside), on some "
        "side of a pooling dim. The reference accepts it; PyTorch's pooling rejects it (torch "
        "2.13 checks 'pad should be at most half of effective kernel size' and, in its "
        "kernels, 'pad should be smaller than or equal to half of kernel size': with dilation "
        "the second, undilated bound is the one that holds).",
        "POOL-PARAM-7",
        "DEFINED",
        declaration="padding_limit",
        allowed=PADDING_LIMITS,
        raise_on=("half_kernel",),
        limit=True,
        effect="An error where the reference returns a value.",
    ),
    Flag(
        "Subnormal",
        "A float input or result holds a subnormal of its dtype. The reference computes with "
        "subnormals; XLA and TensorFlow on the CPU flush them to zero (inputs and results).",
        "POOL-DTYPE-5",
        "DEFINED",
        declaration="subnormals",
        allowed=("preserve", "flush"),
        effect="Subnormal inputs read as zero and subnormal results returned as zero.",
        links=("https://github.com/jax-ml/jax/issues/16200",),
    ),
    Flag(
        "AccumulatorOverflow",
        "A window of an average, Lp or convolution whose intermediate magnitude (the sum of "
        "|x|, of |x|**p, of |x*w| plus |bias|) exceeds the input dtype's largest finite value "
        "although the exact result may be finite. The reference never overflows an "
        "intermediate; a backend that declares a bounded accumulator may return an infinity "
        "or NaN for the outputs whose intermediate exceeds its accumulator's range.",
        "POOL-DTYPE-6",
        "DEFINED",
        declaration="accumulator",
        allowed=ACCUMULATORS,
        parts=("forward",),
        effect="An infinity or NaN where the exact average, norm or dot product is finite.",
    ),
    # descriptive: computed from each case by ``describe``
    Flag(
        "NegativeZero",
        "A float input holds -0.0.",
        "POOL-MAX-5",
        "EDGE_CASE",
        effect="A max of tied zeros loses the sign of the selected zero.",
        links=("https://github.com/tensorflow/tensorflow/issues/4886",),
    ),
    Flag(
        "SpecialValues",
        "The input holds NaN or infinities.",
        "POOL-AVG-6",
        "EDGE_CASE",
        effect="NaN dropped by a max, or a NaN or infinity turned into a number.",
        links=(
            "https://github.com/pytorch/pytorch/issues/7645",
            "https://github.com/Theano/Theano/issues/3060",
            "https://github.com/tensorflow/tensorflow/issues/2501",
        ),
    ),
    Flag(
        "Float16Accumulation",
        "A float16 or bfloat16 average whose running sum in that dtype (window order) rounds "
        "to another value than the exact sum, e.g. stalling at 2048; the spec requires "
        "accumulation in at least float32.",
        "POOL-DTYPE-4",
        "KNOWN_BUG",
        effect="Averages of many float16 values come out far too small.",
        links=(
            "https://github.com/huggingface/candle/pull/3719",
            "https://github.com/pytorch/pytorch/pull/53607",
            "https://github.com/ROCm/MIOpen/issues/2109",
        ),
    ),
    Flag(
        "CeilModeLastWindow",
        "Ceil mode where the last window would start in the end padding and is dropped.",
        "POOL-GEOM-4",
        "KNOWN_BUG",
        effect="One output row or column too many, computed entirely from padding.",
        links=(
            "https://github.com/pytorch/pytorch/issues/45357",
            "https://github.com/tracel-ai/burn/issues/5791",
            "https://github.com/webmachinelearning/webnn/issues/935",
        ),
    ),
    Flag(
        "CeilModeOverhang",
        "A ceil-mode window overhangs the explicit end padding; the overhang never counts in an "
        "average's divisor.",
        "POOL-AVG-3",
        "KNOWN_BUG",
        effect="The last window's average is divided by too large a count.",
        links=(
            "https://github.com/microsoft/onnxruntime/issues/16203",
            "https://github.com/sonos/tract/pull/2851",
        ),
    ),
    Flag("KernelEqualsInput", "The window covers the whole input.", "POOL-GEOM-2", "EDGE_CASE"),
    Flag(
        "UnevenAdaptive",
        "Adaptive windows of unequal size that overlap.",
        "POOL-ADAPT-1",
        "FUNCTIONALITY",
        effect="Adaptive windows computed with a fixed kernel and stride.",
    ),
    Flag(
        "LargeValues",
        "A finite float input of at least half its dtype's maximum.",
        "POOL-AVG-1",
        "EDGE_CASE",
        effect="An intermediate sum overflows to infinity.",
    ),
)

FLAGS: Mapping[str, Flag] = {f.name: f for f in _FLAGS}
# the flags whose presence makes a valid case "acceptable", in registry order
IMPLEMENTATION_DEFINED: tuple[str, ...] = tuple(f.name for f in _FLAGS if f.declaration)
# declaration key -> its allowed values, the first being the reference's choice
ALLOWED_DECLARATIONS: Mapping[str, tuple[str, ...]] = {
    f.declaration: f.allowed for f in _FLAGS if f.declaration
}
DEFAULT_DECLARATIONS: Mapping[str, str] = {k: v[0] for k, v in ALLOWED_DECLARATIONS.items()}
FLAG_DECLARATION: Mapping[str, str] = {f.name: f.declaration for f in _FLAGS if f.declaration}


def note(name: str) -> dict[str, Any]:
    """The ``notes`` entry of a flag in a vector file: ``description``, ``clause``,
    ``bugType`` and, where the flag has them, ``effect`` and ``links``."""
    f = FLAGS[name]
    entry: dict[str, Any] = {
        "description": f.description,
        "clause": f.clause,
        "bugType": f.bug_type,
    }
    if f.effect:
        entry["effect"] = f.effect
    if f.links:
        entry["links"] = list(f.links)
    return entry


# ---------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------


def planes(x: np.ndarray, layout: str) -> np.ndarray:
    """The ``(N*C, S)`` planes of ``x`` (any layout), floats widened to float64 exactly."""
    cf = np.moveaxis(x, -1, 1) if layout == "channels_last" else x
    flat = np.ascontiguousarray(cf).reshape(cf.shape[0] * cf.shape[1], -1)
    return flat.astype(np.float64) if dt.is_float(dt.dtype_name(x.dtype)) else flat


def detect(
    op: str,
    x: np.ndarray,
    params: Mapping[str, Any],
    *,
    reports: bool,
    grad: bool,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> tuple[str, ...]:
    """The implementation-defined flags of a call of forward op ``op`` on ``x`` (and, for
    conv, ``weight`` and ``bias``), in registry order. ``reports``: the call reports which
    element was selected (indices or a gradient); ``grad``: the gradient is computed.

    * Tie: a max window whose maximum occurs more than once (-0.0 == +0.0), when the
      call reports the selected element or the tied maxima differ in sign;
    * NanIndex: a max window with two or more NaNs, when the call reports;
    * ZeroSignTie: a max window whose maximum is zero, held by both -0.0 and +0.0;
    * EmptyWindow: a pooling window with no in-bounds tap;
    * LpZeroNorm: an Lp gradient over a window whose values are all zero (or none) or
      not all finite;
    * PaddingNotBelowKernel, PaddingOverHalfKernel: see ``padding_flags``;
    * AccumulatorOverflow: an average, Lp or conv output whose intermediates may exceed
      the input dtype's range (``overflow_mask`` for ``accumulator="dtype"``, the
      narrowest range a backend can declare)."""
    o = catalog.op(op)
    sums = {"x": x, "weight": weight, "bias": bias}
    overflow = overflow_mask(op, sums, params, "dtype") is not None
    if o.family == "conv" or o.family not in ("window", "adaptive", "global"):
        return ("AccumulatorOverflow",) if overflow else ()
    layout = params.get("layout", "channels_first")
    windows = geo.window_lists(op, geo.spatial_shape(x.shape, layout), params)
    found: set[str] = set(padding_flags(op, geo.spatial_shape(x.shape, layout), params))
    if overflow:
        found.add("AccumulatorOverflow")
    if o.family == "window" and any(not w for w in windows):
        found.add("EmptyWindow")
        if o.reduction == "lp" and grad:
            found.add("LpZeroNorm")
    values = planes(x, layout)
    is_float = values.dtype == np.float64
    for plane in values:
        for w in windows:
            if not w:
                continue
            v = plane[w]
            if o.selects_max:
                found |= _max_window_flags(v, is_float, reports)
            elif o.reduction == "lp" and grad and (not np.isfinite(v).all() or not v.any()):
                found.add("LpZeroNorm")
    return tuple(f for f in IMPLEMENTATION_DEFINED if f in found)


def accumulator_range(declared: str, dtype: str) -> float:
    """The largest finite intermediate an accumulator declared ``declared`` holds for data
    of ``dtype`` [POOL-DTYPE-6]: unbounded for ``exact``, the wider of float32 and
    ``dtype`` for ``float32``, ``dtype``'s own for ``dtype``."""
    if declared not in ACCUMULATORS:
        raise ValueError(f"accumulator={declared!r} is not one of {ACCUMULATORS} [POOL-DTYPE-6]")
    if declared == "exact":
        return math.inf
    own = float(dt.FLOAT_FORMATS[dtype].max_finite)
    return max(own, float(np.finfo(np.float32).max)) if declared == "float32" else own


def _range_precision(declared: str, dtype: str) -> int:
    own = dt.FLOAT_FORMATS[dtype].precision
    return max(own, 24) if declared == "float32" else own


def _finite_abs(a: np.ndarray) -> np.ndarray:
    """``|a|`` in float64 with NaN and infinities as 0: a window holding one has no finite
    exact result, so no overflow of its intermediates can matter."""
    v = np.abs(a.astype(np.float64))
    return np.where(np.isfinite(v), v, 0.0)


def _finite_top(a: np.ndarray) -> float:
    """The largest finite ``|a|`` (0 for none), without a float64 copy where ``a`` holds
    no NaN or infinity."""
    if not a.size:
        return 0.0
    top = float(np.max(np.abs(a)))
    if math.isfinite(top):
        return top
    return float(_finite_abs(a).max())


def intermediate_bounds(
    op: str, inputs: Mapping[str, np.ndarray | None], params: Mapping[str, Any]
) -> np.ndarray | None:
    """Per output element of forward op ``op`` (its shape and layout), the magnitude that
    bounds every intermediate of the exact computation [POOL-DTYPE-6]: the sum of ``|x|``
    over an average's window, of ``|x|**p`` over an Lp window, of ``|x*w|`` plus ``|bias|``
    for a convolution output; NaN and infinite inputs count as 0. Computed in float64
    (overflowing to inf past its range). None for ops without sums and non-float data."""
    o = catalog.op(op)
    x, w, b = inputs["x"], inputs.get("weight"), inputs.get("bias")
    if o.is_grad or o.reduction not in ("mean", "lp", "dot") or x is None:
        return None
    if not dt.is_float(dt.dtype_name(x.dtype)):
        return None
    layout = params.get("layout", "channels_first")
    with np.errstate(over="ignore", invalid="ignore"):
        if o.reduction == "dot":
            if w is None:
                return None
            wa, ba = _finite_abs(w), None if b is None else _finite_abs(b)
            return np.asarray(fast.conv(_finite_abs(x), wa, ba, **params), dtype=np.float64)
        a = _finite_abs(x)
        cf = np.moveaxis(a, -1, 1) if layout == "channels_last" else a
        terms = cf.reshape(cf.shape[0] * cf.shape[1], -1)
        if o.reduction == "lp":
            terms = terms ** float(params.get("p", 2))
        spatial = geo.spatial_shape(x.shape, layout)
        if o.family == "global":
            sums, out = terms.sum(axis=1, keepdims=True), (1,) * len(spatial)
        else:
            windows = geo.window_lists(op, spatial, params)
            sums = np.stack([terms[:, w].sum(axis=1) for w in windows], axis=1)
            out = _out_spatial(op, spatial, params)
    result = sums.reshape(cf.shape[0], cf.shape[1], *out)
    return np.moveaxis(result, 1, -1) if layout == "channels_last" else result


def _out_spatial(op: str, spatial: tuple[int, ...], params: Mapping[str, Any]) -> tuple[int, ...]:
    if catalog.op(op).family == "adaptive":
        return geo.per_dim(params["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
    return tuple(a.out for a in geo.call_geometry(op, spatial, params).axes)


def _most_terms(op: str, spatial: tuple[int, ...], params: Mapping[str, Any]) -> int:
    """An upper bound on the in-bounds taps of any window of a pooling call."""
    family = catalog.op(op).family
    if family == "window":
        k = geo.per_dim(params["kernel_size"], "kernel_size", len(spatial), 1, "POOL-PARAM-1")
        return math.prod(k)
    if family == "adaptive":
        out = geo.per_dim(params["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
        return math.prod(-(-L // n) + 1 for L, n in zip(spatial, out))
    return math.prod(spatial)


def overflow_mask(
    op: str,
    inputs: Mapping[str, np.ndarray | None],
    params: Mapping[str, Any],
    declared: str,
) -> np.ndarray | None:
    """The output elements of forward op ``op`` whose intermediates may overflow an
    accumulator declared ``declared`` [POOL-DTYPE-6]: the bound of ``intermediate_bounds``,
    grown by the relative error of a recursive sum of its terms in the accumulator
    (``(1 + u)**n <= 1 + 2*n*u`` with ``u`` its unit roundoff, ``n`` the terms) and of its
    own float64 computation, exceeds the accumulator's largest finite value. None when
    no element may (or the op has no sums)."""
    x, w, b = inputs["x"], inputs.get("weight"), inputs.get("bias")
    if declared == "exact" or x is None or not dt.is_float(dt.dtype_name(x.dtype)):
        return None
    o = catalog.op(op)
    if (
        o.is_grad
        or o.reduction not in ("mean", "lp", "dot")
        or (o.reduction == "dot" and w is None)
    ):
        return None
    dtype = dt.dtype_name(x.dtype)
    limit = accumulator_range(declared, dtype)
    layout = params.get("layout", "channels_first")
    spatial = geo.spatial_shape(x.shape, layout)
    top = _finite_top(x)
    if o.reduction == "dot":
        assert w is not None  # checked above
        n = math.prod(w.shape[1:]) + 1
        with np.errstate(over="ignore"):
            quick = top * _finite_top(w) * n + (0.0 if b is None else _finite_top(b))
    else:
        n = _most_terms(op, spatial, params)
        p = float(params.get("p", 2)) if o.reduction == "lp" else 1.0
        with np.errstate(over="ignore"):
            quick = float(np.power(top, p)) * n
    grow = 1 + 2 * n * (2.0 ** -_range_precision(declared, dtype) + 2.0**-53)
    if quick * grow <= limit:  # no window can reach the limit
        return None
    bounds = intermediate_bounds(op, inputs, params)
    if bounds is None:
        return None
    with np.errstate(over="ignore"):
        mask = bounds * grow > limit
    return mask if mask.any() else None


def padding_flags(op: str, spatial: tuple[int, ...], params: Mapping[str, Any]) -> tuple[str, ...]:
    """The padding-limit flags of a pooling call on input of ``spatial`` shape with
    explicit padding [POOL-PARAM-7]:
    PaddingNotBelowKernel when some side's padding is ``kernel_size`` or more,
    PaddingOverHalfKernel when it is more than ``kernel_size // 2``. Padding strings
    (computed by the implementation itself) and other ops carry neither."""
    padding = params.get("padding", 0)
    if catalog.op(op).family != "window" or isinstance(padding, str):
        return ()
    rank = len(spatial)
    k = geo.per_dim(params["kernel_size"], "kernel_size", rank, 1, "POOL-PARAM-1")
    d = geo.per_dim(params.get("dilation", 1), "dilation", rank, 1, "POOL-PARAM-3")
    pads = geo.resolve_padding(padding, spatial, k, k, d)
    found = []
    if any(max(pair) >= ki for pair, ki in zip(pads, k)):
        found.append("PaddingNotBelowKernel")
    if any(max(pair) > ki // 2 for pair, ki in zip(pads, k)):
        found.append("PaddingOverHalfKernel")
    return tuple(found)


def within_padding_limit(limit: str, flags: Iterable[str]) -> bool:
    """Whether a call carrying ``flags`` stays within the declared ``padding_limit``."""
    return not any(limit in FLAGS[f].raise_on for f in flags if FLAGS[f].limit)


def describe(
    op: str,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    outputs: Mapping[str, np.ndarray | None],
) -> tuple[str, ...]:
    """The flags found in the values of a valid call of forward op ``op`` (the
    descriptive ones, and Subnormal), from its inputs, its
    keyword arguments and the reference's ``outputs``, in registry order:

    * NegativeZero, SpecialValues: a float input holds -0.0, or NaN or an infinity;
    * Subnormal: a float input or output holds a subnormal of its dtype;
    * LargeValues: a finite float input of at least half its dtype's maximum;
    * Float16Accumulation: a float16 or bfloat16 average whose running sum in that dtype,
      window by window in window order, rounds to another value than the exact sum;
    * CeilModeLastWindow: ceil mode drops a window that would start in the end padding;
    * CeilModeOverhang: a ceil-mode window reaches past the end padding;
    * KernelEqualsInput: a window covers the whole input along every dim;
    * UnevenAdaptive: an adaptive dim whose length is not a multiple of its output."""
    found: set[str] = set()
    for name, a in [*inputs.items(), *outputs.items()]:
        if a is None or name == "indices" or not dt.is_float(dt.dtype_name(a.dtype)):
            continue
        found |= _value_flags(a, dt.FLOAT_FORMATS[dt.dtype_name(a.dtype)], name in outputs)
    o = catalog.op(op)
    x = inputs["x"]
    spatial = geo.spatial_shape(x.shape, params.get("layout", "channels_first"))
    if o.family in ("window", "conv"):
        kernel = inputs["weight"].shape[2:] if o.family == "conv" else None
        found |= _window_geometry_flags(geo.call_geometry(op, spatial, params, kernel), params)
    elif o.family == "adaptive":
        out = geo.per_dim(params["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
        if any(L % n for L, n in zip(spatial, out)):
            found.add("UnevenAdaptive")
    if o.reduction == "mean" and dt.dtype_name(x.dtype) in ("float16", "bfloat16"):
        windows = geo.window_lists(op, spatial, params)
        if _running_sum_differs(
            planes(x, params.get("layout", "channels_first")), windows, x.dtype
        ):
            found.add("Float16Accumulation")
    return tuple(f.name for f in _FLAGS if f.name in found)


def _value_flags(a: np.ndarray, fmt: dt.FloatFormat, is_output: bool) -> set[str]:
    v = a.astype(np.float64)
    finite = np.isfinite(v)
    found = set()
    mask = dt.subnormal_mask(a)
    if mask is not None and mask.any():
        found.add("Subnormal")
    if is_output:
        return found
    if np.any((v == 0) & np.signbit(v)):
        found.add("NegativeZero")
    if not finite.all():
        found.add("SpecialValues")
    if np.any(finite & (np.abs(v) >= float(fmt.max_finite) / 2)):
        found.add("LargeValues")
    return found


def _window_geometry_flags(g: geo.PoolGeometry, params: Mapping[str, Any]) -> set[str]:
    found = set()
    ceil = bool(params.get("ceil_mode", False))
    for a in g.axes:
        eff = geo.effective_kernel(a.kernel, a.dilation)
        span = a.length + a.pad_begin + a.pad_end - eff
        if ceil and a.out < -(-span // a.stride) + 1:
            found.add("CeilModeLastWindow")
        last_tap = (a.out - 1) * a.stride - a.pad_begin + eff - 1
        if ceil and last_tap >= a.length + a.pad_end:
            found.add("CeilModeOverhang")
    if all(a.dilation == 1 and a.kernel - a.pad_begin >= a.length for a in g.axes):
        found.add("KernelEqualsInput")  # the first window holds every input position
    return found


def _running_sum_differs(values: np.ndarray, windows: list[list[int]], dtype: np.dtype) -> bool:
    """Whether some window's running sum in ``dtype`` rounds to another value than the
    exact sum rounded once (NaN and infinities aside)."""
    for plane in values:
        for w in windows:
            terms = plane[w]
            if len(terms) < 2 or not np.isfinite(terms).all():
                continue
            acc = np.zeros((), dtype=dtype)
            with np.errstate(over="ignore"):  # an overflowing running sum differs too
                for t in terms.astype(dtype):
                    acc = (acc + t).astype(dtype)
            exact = sum((Fraction(t) for t in terms.tolist()), Fraction(0))
            if float(acc) != dt.round_exact(exact, dt.dtype_name(np.dtype(dtype))):
                return True
    return False


def _max_window_flags(v: np.ndarray, is_float: bool, reports: bool) -> set[str]:
    if is_float and np.isnan(v).any():
        return {"NanIndex"} if reports and np.isnan(v).sum() >= 2 else set()
    tied = v == v.max()
    if tied.sum() < 2:
        return set()
    signs = np.signbit(v[tied]) if is_float else np.zeros(1, bool)
    both = bool(signs.any() and not signs.all())  # tied zeros of both signs
    return ({"Tie"} if reports or both else set()) | ({"ZeroSignTie"} if both else set())


# ---------------------------------------------------------------------------
# judging
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """How one part of a call is checked, given its flags and the backend's declarations.

    ``mode``: ``compare`` (against the reference), ``raise`` (the backend must raise,
    as it declares) or ``skip`` (the spec leaves the result open and the backend
    declares a choice poolconf cannot check; ``reason`` says which). With ``compare``:
    ``refusal``, when set, says why the backend may raise instead (a declared limit it
    may enforce: an exception passes, a returned value is compared);
    ``tie_routing`` is the tie policy whose gradient routing is expected; with
    ``free_indices`` an index may name any of its window's tied maxima (any of its
    NaNs), and ``free_zero_sign`` lets a max of tied zeros take either sign; with
    ``flush_subnormals`` an output that differs from the reference's on a call with
    subnormals may match the flushed reference instead (``conformance.declared``); with
    ``accumulator`` other than ``exact``, an output element whose intermediates may exceed
    that accumulator's range (``overflow_mask``) may be an infinity or NaN;
    ``ignore`` names outputs that are not compared."""

    mode: str
    clause: str = ""
    reason: str = ""
    tie_routing: str = "first"
    free_indices: bool = False
    free_zero_sign: bool = False
    flush_subnormals: bool = False
    accumulator: str = "exact"
    ignore: frozenset[str] = frozenset()
    refusal: str = ""


def judge(flags: Iterable[str], declarations: Mapping[str, str], part: str) -> Judgement:
    """The judgement of ``part`` ("forward" or "grad") of a call carrying ``flags`` for a
    backend with ``declarations``: each implementation-defined flag that concerns the
    part and is declared other than the reference's choice relaxes or replaces the
    comparison (spec/backend-api.md, "DECLARATIONS")."""
    if part not in PARTS:
        raise ValueError(f"part={part!r} is not one of {PARTS}")
    # a flushing backend: every comparison may fall back to the flushed reference, since a
    # subnormal result can come from normal inputs (flag Subnormal marks such vectors)
    relax: dict[str, Any] = {"flush_subnormals": declarations.get("subnormals") == "flush"}
    raises: list[tuple[str, str]] = []
    for name in flags:
        flag = FLAGS.get(name)
        if flag is None or flag.declaration is None or part not in flag.parts:
            continue
        declared = declarations.get(flag.declaration, DEFAULT_DECLARATIONS[flag.declaration])
        if declared == DEFAULT_DECLARATIONS[flag.declaration]:
            continue
        skip = f"implementation-defined (flag {name}, declared {declared})"
        if declared in flag.raise_on and flag.limit:  # past the limit the backend declares
            relax.setdefault("refusal", f"flag {name}, declared {declared}")
        elif declared in flag.raise_on:
            raises.append((name, declared))
        elif flag.limit:
            continue  # past another limit than the declared one
        elif name == "Tie" and part == "forward":
            relax.update(free_indices=True, free_zero_sign=True)
        elif name == "Tie" and declared == "all":
            relax["tie_routing"] = "all"
        elif name == "NanIndex" and part == "forward":
            relax["free_indices"] = True
        elif name == "ZeroSignTie":  # "positive": the zero's sign (and index) left open
            relax.update(free_indices=True, free_zero_sign=True)
        elif name == "Subnormal":
            continue  # judged by the comparison (flush_subnormals above)
        elif name == "AccumulatorOverflow":  # outputs past the declared range may overflow
            relax["accumulator"] = declared
        else:
            return Judgement("skip", FLAGS[name].clause, skip)
    if raises:
        name, declared = raises[0]
        return Judgement("raise", FLAGS[name].clause, f"flag {name}, declared {declared}")
    return Judgement("compare", **relax)
