"""Tolerances in ULPs, and the one comparison every check uses [POOL-TOL-*].

Exact ops (max, indices, unpooling, padding, and a max gradient that routes a
single value) allow 0 ULPs: the result must be bit-identical, except that any
NaN matches any NaN [POOL-TOL-2].

Sum-based results are compared at the *scale* of the element: the same op
applied to the absolute values of its inputs (for max gradients, |g| routed
exactly as g). A result passes when ``|got - expected| <= ulps * ulp(scale)``,
with ``ulp`` taken in the output dtype [POOL-TOL-1]. The ULP budget bounds the
rounding error of any summation carried out in a precision of at least
max(dtype, float32) [POOL-TOL-3]:

* recursive summation of ``n`` terms in precision ``u_acc`` errs by at most
  ``(n-1) * u_acc * sum|x_i|``, which is ``(n-1) * r`` ULPs at the scale with
  ``r = 2**(p_out - p_acc)`` (``r = 1`` for float32 and float64, ``2**-13`` for
  float16, ``2**-16`` for bfloat16 when accumulating in float32);
* each further rounding (the division of an average, the final conversion to
  the dtype) adds at most one ULP;
* a p-th root computed as ``pow(s, 1/p)`` adds ``|ln y|`` ULPs at most (``root_term``).

So a float16 average accumulated in float16 (which stalls at 2048) fails, while
one accumulated in float32 passes, as the spec intends [POOL-DTYPE-4].
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from poolconf.reference import catalog, ops
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

EXACT_OPS = frozenset(n for n in catalog.FORWARD_OPS if catalog.op(n).exact)


def accumulation_ratio(dtype: str) -> float:
    """``r = 2**(p_out - p_acc)`` with ``p_acc = max(p_out, 24)``."""
    p = dt.FLOAT_FORMATS[dtype].precision
    return 2.0 ** (p - max(p, 24))


def sum_budget(n_terms: int, dtype: str, extra_roundings: int = 1) -> int:
    """ULPs allowed for a sum of ``n_terms`` rounded ``extra_roundings`` more times."""
    if n_terms <= 1 and extra_roundings <= 1:
        return extra_roundings if n_terms > 1 else 0
    return math.ceil(max(n_terms - 1, 0) * accumulation_ratio(dtype)) + extra_roundings


def _window_lists(op: str, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[list[int]]:
    """In-bounds flat indices of every window of a call (conv: of its weight's kernel)."""
    x, w = inputs["x"], inputs.get("weight")
    spatial = geo.spatial_shape(x.shape, params.get("layout", "channels_first"))
    return geo.window_lists(op, spatial, params, None if w is None else w.shape[2:])


def _max_window(windows: list[list[int]]) -> int:
    return max((len(w) for w in windows), default=0)


def _max_overlap(windows: list[list[int]]) -> int:
    c: Counter[int] = Counter(f for w in windows for f in w)
    return max(c.values(), default=0)


@dataclass(frozen=True)
class Budget:
    """ULPs allowed for one output of one case."""

    ulps: int
    terms: int


def budgets(
    op: str, inputs: Mapping[str, np.ndarray | None], params: Mapping[str, Any]
) -> dict[str, Budget]:
    """The ULP budget of every output of a (valid) case of forward op ``op`` and of its
    gradient [POOL-TOL-3].

    Keys are the output names of the vector format: ``output``, ``indices``,
    ``grad_input``, ``grad_weight``, ``grad_bias``."""
    o = catalog.op(op)
    x = inputs["x"]
    assert x is not None
    name = dt.dtype_name(x.dtype)
    if o.exact or not dt.is_float(name):
        result = {"output": Budget(0, 1), "indices": Budget(0, 1)}
        if o.grad is not None:
            ov = _max_overlap(_window_lists(op, inputs, params))
            exact = not dt.is_float(name)
            result["grad_input"] = Budget(0, 1) if exact else Budget(sum_budget(ov, name), ov)
        return result
    windows = _window_lists(op, inputs, params)
    n, ov = _max_window(windows), _max_overlap(windows)
    if o.reduction == "dot":
        w = inputs["weight"]
        assert w is not None
        fwd = w.shape[1] * math.prod(w.shape[2:]) + (1 if inputs.get("bias") is not None else 0)
        per_input = ov * (w.shape[0] // params.get("groups", 1))
        n_out = x.shape[0] * len(windows)
        return {
            "output": Budget(sum_budget(2 * fwd, name), fwd),
            "grad_input": Budget(sum_budget(2 * per_input, name), per_input),
            "grad_weight": Budget(sum_budget(2 * n_out, name), n_out),
            "grad_bias": Budget(sum_budget(n_out, name), n_out),
        }
    if o.reduction == "mean":
        return {
            "output": Budget(sum_budget(n, name, 2), n),
            "grad_input": Budget(sum_budget(ov, name, 2), ov),
        }
    if o.reduction == "lp":
        p = int(params.get("p", 2))
        fwd = n + 2 * p
        grad = (n + 3 * p) * max(ov, 1)
        root = root_term(x, windows, params.get("layout", "channels_first"), p, name)
        return {
            "output": Budget(sum_budget(fwd, name, 2) + root, fwd),
            "grad_input": Budget(sum_budget(grad, name, 4) + (p - 1) * root, (n + 3 * p) * ov),
        }
    raise KeyError(f"no tolerance rule for op {op!r}")


def root_term(x: np.ndarray, windows: list[list[int]], layout: str, p: int, dtype: str) -> int:
    """ULPs a p-th root computed as ``pow(s, 1/p)`` may add [POOL-TOL-3].

    ``1/p`` rounded to the accumulation precision is ``(1/p)(1 + d)`` with ``|d| <= u``,
    so ``s ** fl(1/p) = y * exp(d * ln y)``: a relative error of ``|ln y| * u``, which is
    ``|ln y| * r`` ULPs of the output (``r`` as in ``accumulation_ratio``). The term is
    ``ceil(L * r)`` with ``L`` the largest ``|ln y|`` of any window's norm ``y`` of ``|x|``,
    and 0 when ``1/p`` is exact (``p`` a power of two)."""
    if p & (p - 1) == 0 or not windows:
        return 0
    cf = np.moveaxis(x, -1, 1) if layout == "channels_last" else x
    planes = np.abs(np.ascontiguousarray(cf).astype(np.float64)).reshape(
        cf.shape[0] * cf.shape[1], -1
    )
    largest = 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for w in windows:
            if not w:
                continue
            v = planes[:, w]
            top = v.max(axis=1, keepdims=True)
            ok = (top[:, 0] > 0) & np.isfinite(top[:, 0])
            if not ok.any():
                continue
            # ln y = ln(top) + ln(sum((v / top)**p)) / p, without under- or overflow
            ln_y = np.log(top[ok, 0]) + np.log(np.sum((v[ok] / top[ok]) ** p, axis=1)) / p
            largest = max(largest, float(np.max(np.abs(ln_y))))
    return math.ceil(largest * accumulation_ratio(dtype))


def ulp_array(scale: np.ndarray, dtype: str) -> np.ndarray:
    """Element-wise ``ulp`` of ``dtype`` at ``|scale|`` (float64) [POOL-TOL-1]."""
    flat = np.asarray(scale, dtype=np.float64).ravel()
    return np.array(
        [dt.ulp(float(v), dtype) if not math.isnan(v) else math.inf for v in flat]
    ).reshape(np.shape(scale))


@dataclass(frozen=True)
class Mismatch:
    """One element that is out of tolerance."""

    index: tuple[int, ...]
    got: float
    expected: float
    ulp_error: float


@dataclass(frozen=True)
class Comparison:
    mismatches: list[Mismatch]
    max_ulp_error: float
    shape_ok: bool
    dtype_ok: bool

    @property
    def ok(self) -> bool:
        return self.shape_ok and self.dtype_ok and not self.mismatches


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def zero_sign_checked(output_name: str) -> bool:
    """Whether the sign of a zero is compared for this output [POOL-DTYPE-3].

    Forward outputs select or copy input elements (max, unpool, padding), so the
    sign of a zero is part of the value. Gradients are sums: the sign of an exact
    zero is not specified, and -0.0 matches +0.0."""
    return not output_name.startswith("grad")


def compare(
    got: np.ndarray,
    expected: np.ndarray,
    ulps: int,
    scale: np.ndarray | None = None,
    *,
    zero_sign: bool = True,
) -> Comparison:
    """Compare ``got`` with ``expected`` [POOL-TOL-1, POOL-TOL-2].

    Shape and dtype must match exactly. With ``ulps == 0`` every element must be
    bit-identical, NaN matching any NaN. Otherwise NaN must be NaN, an infinity
    must be the same infinity, and finite values must lie within
    ``ulps * ulp(scale)`` (``scale`` defaults to ``|expected|``); a result of +-inf
    where a finite value of that sign is expected is taken as ``+-(max + ulp(max))``,
    the first value past the dtype's largest finite one."""
    shape_ok = tuple(np.shape(got)) == tuple(expected.shape)
    dtype_ok = isinstance(got, np.ndarray) and got.dtype == expected.dtype
    if not (shape_ok and dtype_ok):
        return Comparison([], math.inf, shape_ok, dtype_ok)
    name = dt.dtype_name(expected.dtype)
    mismatches: list[Mismatch] = []
    if not dt.is_float(name):
        bad = np.argwhere(got != expected)
        for idx in bad[:1000]:
            t = tuple(int(i) for i in idx)
            mismatches.append(Mismatch(t, int(got[t]), int(expected[t]), math.inf))
        return Comparison(mismatches, 0.0 if not len(bad) else math.inf, True, True)
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    g_nan, e_nan = np.isnan(g), np.isnan(e)
    if ulps == 0:
        same = (_bits(got) == _bits(expected)) | (g_nan & e_nan)
        if not zero_sign:
            same |= (g == 0) & (e == 0)
        err = np.where(same, 0.0, math.inf)
    else:
        s = (
            np.abs(e)
            if scale is None
            else np.maximum(np.abs(np.asarray(scale, dtype=np.float64)), 0)
        )
        u = ulp_array(np.where(np.isnan(s), np.abs(e), s), name)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(g - e)
            err = np.where(g_nan & e_nan, 0.0, diff / u)
            nonfinite = ~np.isfinite(e) | ~np.isfinite(g)
            err = np.where(nonfinite & ~(g_nan & e_nan), np.where(g == e, 0.0, math.inf), err)
            # an overflow to +-inf where a finite value of that sign is expected counts as
            # the first value past the largest finite one, max + ulp(max): the result of a
            # computation within budget of a near-max exact value may round there
            largest = float(dt.FLOAT_FORMATS[name].max_finite)
            overflow = np.isinf(g) & np.isfinite(e) & (np.sign(g) == np.sign(e))
            past = (largest - np.abs(e) + dt.ulp(largest, name)) / u
            err = np.where(overflow, past, err)
        same = err <= ulps
    for idx in np.argwhere(~same)[:1000]:
        t = tuple(int(i) for i in idx)
        mismatches.append(Mismatch(t, float(g[t]), float(e[t]), float(err[t])))
    finite_err = err[np.isfinite(err)]
    max_err = float(err.max()) if err.size else 0.0
    if not np.isfinite(max_err) and finite_err.size == err.size:
        max_err = float(finite_err.max())
    return Comparison(mismatches, max_err, True, True)


def _as_tuple(result: Any) -> tuple[Any, ...]:
    return tuple(result) if isinstance(result, tuple) else (result,)


def _impl(impl: Any, name: str) -> Any:
    return (None if impl is None else getattr(impl, name, None)) or getattr(ops, name)


def scales(
    op: str,
    inputs: Mapping[str, np.ndarray | None],
    params: Mapping[str, Any],
    grad_params: Mapping[str, Any] | None = None,
    *,
    impl: Any = None,
) -> dict[str, np.ndarray]:
    """The scale of every sum-based output of forward op ``op`` and of its gradient: the
    op on absolute values [POOL-TOL-1].

    ``impl`` is a module with the ops to compute it with, falling back to the loop
    reference for an op it lacks: the harness passes ``poolconf.reference.fast``, equal
    to the loop reference bit for bit and much quicker on large inputs.

    ``inputs`` holds the forward op's arrays (``x``; ``weight``, ``bias`` for conv) and,
    for gradients, ``grad_output``. Max gradients route |g| exactly as g is routed (the
    routing reads the signed ``x``). Returned as float64 arrays keyed by output name;
    exact outputs have no scale."""
    o = catalog.op(op)
    absolute = {k: None if v is None else np.abs(v) for k, v in inputs.items()}
    out: dict[str, Any] = {}
    if not o.exact:
        forward = _impl(impl, op)(*(absolute.get(a) for a in o.arrays), **params)
        out.update(zip(o.outputs, _as_tuple(forward)))
    if o.grad is not None and inputs.get("grad_output") is not None:
        g = catalog.op(o.grad)
        args = [inputs[a] if a == "x" and o.selects_max else absolute.get(a) for a in g.arrays]
        grads = _impl(impl, o.grad)(*args, **params, **dict(grad_params or {}))
        out.update(zip(g.outputs, _as_tuple(grads)))
    return {k: v.astype(np.float64) for k, v in out.items() if v is not None}
