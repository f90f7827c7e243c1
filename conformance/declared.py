"""Comparisons that a backend's declarations relax: subnormals flushed [POOL-DTYPE-5] and a
bounded accumulator [POOL-DTYPE-6].

A backend that declares ``subnormals="flush"`` computes as if every subnormal input were a
zero of its sign (DAZ) and returns a zero of its sign for every subnormal result (FTZ), as
XLA and TensorFlow do on the CPU. Each output is first compared with the reference's, as
for any backend; where that fails and the call involves subnormals, it is compared again
with the *flushed reference*: the reference on the flushed inputs, its results flushed,
against the backend's result flushed, zeros of either sign alike. The second comparison
passes a backend that flushes inputs, results or both. Flushing also zeroes a subnormal
intermediate (a product or partial sum inside a window's sum, a convolution or a
gradient), each moving the result by less than the smallest normal number of the
arithmetic's type; where both comparisons fail, a third accepts an element within
``flush_slack`` of the reference's value or the flushed reference's. Nothing else changes
what a flushing backend's declaration accepts.

A backend that declares ``accumulator="float32"`` or ``"dtype"`` holds its sums, products
and Lp powers in a bounded range. Where one of its output elements is an infinity or NaN
and the exact result is finite, the element passes when the intermediates of its window may
exceed that range (``poolconf.reference.flags.overflow_mask``); every finite element is
compared as for any backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from poolconf.conformance.assertions import CheckFailure, add_note, zero_sign_free
from poolconf.conformance.strategies.cases import reference_forward
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg


def flushed(a: Any) -> Any:
    """``a`` with every subnormal replaced by a zero of its sign; other values as given."""
    mask = dt.subnormal_mask(a)
    if mask is None or not mask.any():
        return a
    out = a.copy()
    out[mask] = np.copysign(np.zeros(1, dtype=a.dtype), a[mask])
    return out


def involves_subnormals(*arrays: Any) -> bool:
    """Whether any of ``arrays`` (or the values of mappings among them) holds a subnormal."""
    for a in arrays:
        values = a.values() if isinstance(a, Mapping) else (a,)
        for v in values:
            mask = dt.subnormal_mask(v)
            if mask is not None and mask.any():
                return True
    return False


def flushed_reference(
    op: str, arrays: Mapping[str, np.ndarray | None], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The reference's outputs of ``op`` on the flushed inputs, flushed, by output name."""
    result = reference_forward(op, {k: flushed(v) for k, v in arrays.items()}, dict(params))
    values = result if isinstance(result, tuple) else (result,)
    return {name: flushed(v) for name, v in zip(cat.op(op).outputs, values)}


def flush_slack(arrays: Mapping[str, np.ndarray | None], dtype: Any, p: float = 1.0) -> float:
    """The most that flushing intermediates can move one result element of a call on
    ``arrays`` with results of ``dtype`` [POOL-DTYPE-5]: ``2 n`` times the smallest normal
    number of the arithmetic's type (float32, or float64 for float64 results: the wider of
    float32 and the result's dtype; float16 and bfloat16 are computed in float32), ``n``
    the element count of the call's largest input. No output element's sum has more than
    ``n`` products (its window, its kernel times the channels, or the batch times the
    output positions of a weight gradient), each product and each partial sum flushed at
    most once, and each flush moves the sum by less than that smallest normal. An Lp norm
    (``p``) is the ``p``-th root of such a sum of powers, so its result may move by the
    root of that bound."""
    sizes = [v.size for v in arrays.values() if isinstance(v, np.ndarray)]
    wide = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    bound = 2.0 * max(sizes, default=1) * float(np.finfo(wide).smallest_normal)
    return max(bound, bound ** (1.0 / p))


def intermediates_flushed(got: Any, candidates: list[Any], slack: float) -> Any:
    """``got`` with each element within ``slack`` of one of ``candidates`` (arrays of its
    shape: the reference's value and the flushed reference's) replaced by that candidate's
    value, so that only the elements outside every candidate's reach are compared; ``got``
    itself when it is not a float array of their shape."""
    if (
        not isinstance(got, np.ndarray)
        or not dt.is_float(dt.dtype_name(got.dtype))
        or any(not isinstance(c, np.ndarray) or c.shape != got.shape for c in candidates)
    ):
        return got
    wide = got.astype(np.float64)
    out = got.copy()
    done = np.zeros(got.shape, dtype=bool)
    for c in candidates:
        with np.errstate(invalid="ignore"):
            near = ~done & (np.abs(wide - c.astype(np.float64)) <= slack)
        out[near] = c[near]
        done |= near
    return out


def overflow_accepted(
    got: Any,
    expected: Any,
    *,
    accumulator: str,
    op: str,
    arrays: Mapping[str, np.ndarray | None],
    params: Mapping[str, Any],
) -> Any:
    """``got`` with each infinity or NaN where ``expected`` is finite replaced by the
    expected value, where the declared ``accumulator`` may overflow on that element's
    intermediates [POOL-DTYPE-6]; ``got`` itself when there is none (or it is not an
    array of ``expected``'s shape)."""
    if (
        accumulator == "exact"
        or not isinstance(got, np.ndarray)
        or not isinstance(expected, np.ndarray)
        or got.shape != expected.shape
        or got.dtype != expected.dtype
        or not dt.is_float(dt.dtype_name(got.dtype))
    ):
        return got
    with np.errstate(invalid="ignore"):
        suspect = ~np.isfinite(got.astype(np.float64)) & np.isfinite(expected.astype(np.float64))
    if not suspect.any():
        return got
    mask = flagreg.overflow_mask(op, arrays, params, accumulator)
    if mask is None or mask.shape != got.shape:
        return got
    accepted = suspect & mask
    return np.where(accepted, expected, got) if accepted.any() else got


def compare_as_declared(
    compare: Callable[[Any, Any], float],
    got: Any,
    expected: Any,
    *,
    flush: bool,
    accumulator: str = "exact",
    op: str,
    arrays: Mapping[str, np.ndarray | None],
    params: Mapping[str, Any],
    name: str,
) -> float:
    """``compare(got, expected)`` for output ``name`` of ``op`` called on ``arrays`` with
    ``params``, after ``overflow_accepted`` for a declared bounded ``accumulator``
    (the ``output`` of a forward op). Where that fails with ``flush`` (the backend declares
    ``subnormals="flush"``): on a call with subnormals (in ``arrays`` or ``expected``),
    ``got`` flushed is compared with the flushed reference's output; then ``got``, each
    element within ``flush_slack`` of the reference's or the flushed reference's value
    taken as that value (flushed intermediates), with the reference's. Zeros of either
    sign are alike in both, since flushing makes zeros whose sign and ties the
    reference's rules do not cover. The first failure is kept when all fail."""
    __tracebackhide__ = True
    if name == "output":
        got = overflow_accepted(
            got, expected, accumulator=accumulator, op=op, arrays=arrays, params=params
        )
    try:
        return compare(got, expected)
    except CheckFailure as first:
        if not flush:
            raise
        candidates = [expected]
        if involves_subnormals(arrays, expected):
            alternative = flushed_reference(op, arrays, params)[name]
            try:
                return compare(zero_sign_free(flushed(got)), zero_sign_free(alternative))
            except CheckFailure:
                candidates.append(alternative)
        o = cat.op(op)
        p = float(params.get("p", 1)) if o.reduction == "lp" and not o.is_grad else 1.0
        slack = flush_slack(arrays, getattr(expected, "dtype", np.float64), p)
        near = intermediates_flushed(got, candidates, slack)
        try:
            return compare(zero_sign_free(near), zero_sign_free(expected))
        except CheckFailure:
            tried = "the flushed reference and " if len(candidates) > 1 else ""
            add_note(
                first,
                f"also compared with {tried}within {slack:.3g} of the reference's values "
                "(declared subnormals=flush)",
            )
            raise first from None
