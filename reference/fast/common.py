"""What every op of the fast path shares: the fallback counters, the wrapper that counts
each public call and hands it whole to the loop reference when the floating-point
environment flushes subnormals, and the argument checks, which are
``poolconf.reference.arguments``' in the loop reference's order (so the same
``SpecError`` messages and clauses)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference import ops as ref

_COUNTS: Counter[tuple[str, str]] = Counter()


def fallback_counts() -> dict[str, dict[str, int]]:
    """Per op, since the last ``reset_fallback_counts()``: ``calls``, ``elements`` (output
    elements returned), ``fallback_elements`` (elements of otherwise proven calls whose
    exactness was not proven, recomputed by the loop reference one by one),
    ``fallback_units`` (planes holding them), ``fallback_calls`` (calls handed whole to
    the loop reference) and ``fallback_call_elements`` (the elements those returned)."""
    keys = (
        "calls",
        "elements",
        "fallback_elements",
        "fallback_units",
        "fallback_calls",
        "fallback_call_elements",
    )
    out: dict[str, dict[str, int]] = {}
    for (op, key), n in _COUNTS.items():
        out.setdefault(op, dict.fromkeys(keys, 0))[key] += n
    return out


def reset_fallback_counts() -> None:
    _COUNTS.clear()


def _count(op: str, key: str, n: int = 1) -> None:
    if n:
        _COUNTS[(op, key)] += int(n)


def _fp_env_ok() -> bool:
    """Whether float64/float32 arithmetic has gradual underflow here: a flush-to-zero or
    denormals-are-zero mode (which another library may set) breaks every argument of
    this module, so calls then go to the loop reference."""
    a = np.array([2.0**-1022, 2.0**-1074])
    return bool(
        (a * 0.5)[0] != 0
        and (a + 0.0)[1] != 0
        and a.astype(np.float32)[0] == 0
        and np.array([2.0**-149]).astype(np.float32)[0] != 0
    )


def _size(result: Any) -> int:
    if isinstance(result, tuple):  # values and indices: the values; conv_grad: all three
        parts = result[:1] if len(result) == 2 else result
        return sum(0 if r is None else r.size for r in parts)
    return int(result.size)


def _op(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A public op: counted, and handed whole to the loop reference when the
    floating-point environment flushes subnormals."""
    name = fn.__name__
    loop = getattr(ref, name)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not _fp_env_ok():
            result = loop(*args, **kwargs)
            _count(name, "fallback_calls")
            _count(name, "fallback_call_elements", _size(result))
        else:
            with np.errstate(all="ignore"):  # overflow, inf - inf: IEEE results are used on purpose
                result = fn(*args, **kwargs)
        _count(name, "calls")
        _count(name, "elements", _size(result))
        return result

    return call


def _pool_setup(
    x: np.ndarray,
    op: str,
    allowed: Sequence[str],
    layout: str,
    kernel_size: object,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    ceil_mode: bool,
) -> tuple[np.ndarray, str, geo.PoolGeometry]:
    """``ops._pool_setup`` without its per-window tap lists (built only on fallback)."""
    dtype, g = args.window_call(
        x, op, allowed, layout, kernel_size, stride, padding, dilation, ceil_mode
    )
    return ref._to_channels_first(x, layout), dtype, g


def _adaptive_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], output_size: object, layout: str
) -> tuple[np.ndarray, str, tuple[int, ...]]:
    """``ops._adaptive_setup`` without its window lists."""
    dtype = args.check_array(x, "x", allowed, op, layout)
    x_cf = ref._to_channels_first(x, layout)
    out = geo.per_dim(output_size, "output_size", x_cf.ndim - 2, 1, "POOL-ADAPT-2")
    return x_cf, dtype, out


def _global_setup(
    x: np.ndarray, op: str, allowed: Sequence[str], layout: str
) -> tuple[np.ndarray, str]:
    dtype = args.check_array(x, "x", allowed, op, layout)
    return ref._to_channels_first(x, layout), dtype


def _conv_setup(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: object,
    padding: geo.PaddingArg,
    dilation: object,
    groups: object,
    layout: str,
    op: str,
) -> tuple[np.ndarray, str, geo.PoolGeometry, int]:
    """``ops._conv_setup`` without its per-window tap lists."""
    dtype, grp = args.check_conv(x, weight, bias, groups, layout, op)
    x_cf = ref._to_channels_first(x, layout)
    stride = 1 if stride is None else stride  # conv's default stride is 1 [POOL-PARAM-2]
    g = geo.pool_geometry(x_cf.shape[2:], tuple(weight.shape[2:]), stride, padding, dilation, False)
    return x_cf, dtype, g, grp


def _out_shape(x_cf: np.ndarray, spatial: Sequence[int]) -> tuple[int, ...]:
    return (x_cf.shape[0], x_cf.shape[1], *spatial)


def _planes(a_cf: np.ndarray) -> np.ndarray:
    """``(N, C, *spatial)`` as a contiguous ``(N*C, *spatial)`` array."""
    return np.ascontiguousarray(a_cf).reshape(a_cf.shape[0] * a_cf.shape[1], *a_cf.shape[2:])


def _assemble(planes: np.ndarray, n: int, c: int, layout: str) -> np.ndarray:
    """A fresh ``(N*C, *spatial)`` result in the call's layout (``_from_channels_first``)."""
    return ref._from_channels_first(planes.reshape(n, c, *planes.shape[1:]), layout)


def _working(a: np.ndarray, dtype: str) -> np.ndarray:
    """Values in a dtype that compares them exactly: float32 for float16/bfloat16."""
    return a.astype(np.float32) if dtype in ("float16", "bfloat16") else a


def _empty_max(dtype: str) -> float | int:
    return ref._empty_max(dtype)


def _fmt(dtype: str) -> dt.FloatFormat:
    return dt.FLOAT_FORMATS[dtype]


def _cast(v64: np.ndarray, dtype: str) -> np.ndarray:
    """float64 values that are exactly ``dtype`` values, converted (no rounding occurs)."""
    return v64.astype(dt.numpy_dtype(dtype))
