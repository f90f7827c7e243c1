"""The one failure format every check uses.

``out[0,0,1,2]=3.0, but should be 4.0 (0 ULP allowed) [max_pool(kernel_size=(2, 2), ...)] [POOL-MAX-1]``

followed by the largest ULP error and a ready-to-run reproducer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo
from poolconf.reference.tolerance import Comparison, compare

PURE_CLAUSE = "POOL-SHAPE-2"
MAX_INLINE = 64  # arrays up to this many elements are written out in full in reproducers


def format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def format_call(op: str, arrays: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> str:
    shapes = ", ".join(
        f"{k}: {dt.dtype_name(v.dtype)}{list(v.shape)}" for k, v in arrays.items() if v is not None
    )
    return f"{op}({shapes}; {format_params(params)})"


def array_literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` exactly (floats via float64 repr)."""
    name = dt.dtype_name(a.dtype)
    values = a.astype(np.float64).ravel().tolist() if dt.is_float(name) else a.ravel().tolist()
    body = repr(values).replace("nan", "float('nan')").replace("inf", "float('inf')")
    dtype = "ml_dtypes.bfloat16" if name == "bfloat16" else f"np.{name}"
    return f"np.array({body}, dtype=np.float64 if {dt.is_float(name)} else None).astype({dtype}).reshape({tuple(a.shape)})"


def reproducer(
    backend_spec: str, op: str, arrays: Mapping[str, np.ndarray | None], params: Mapping[str, Any]
) -> str:
    """A script that reruns one call on the backend and on the reference."""
    lines = [
        "import numpy as np, ml_dtypes",
        "from poolconf import reference",
        "from poolconf.conformance.backend import load_backend",
        f"backend = load_backend({backend_spec!r})",
    ]
    names = []
    for k, v in arrays.items():
        if v is None:
            lines.append(f"{k} = None")
        elif v.size <= MAX_INLINE:
            lines.append(f"{k} = {array_literal(v)}")
        else:
            lines.append(f"{k} = {array_literal(v)}  # {v.size} elements")
        names.append(k)
    args = ", ".join(names)
    kw = format_params(params)
    lines.append(f"got = backend.call({op!r}, {args}, {kw})")
    lines.append(f"expected = getattr(reference, {op!r})({args}, {kw})")
    lines.append("print(got); print(expected)")
    return "\n".join(lines)


def _index(idx: tuple[int, ...]) -> str:
    return ",".join(str(i) for i in idx)


def describe(
    comparison: Comparison,
    got: Any,
    expected: np.ndarray,
    *,
    what: str,
    ulps: int,
    call: str,
    clause: str,
    limit: int = 5,
) -> str:
    """Human-readable lines for a failed comparison, in the one format."""
    if not comparison.shape_ok:
        return f"{what}.shape={tuple(np.shape(got))}, but should be {tuple(expected.shape)} [{call}] [{clause}]"
    if not comparison.dtype_ok:
        got_dt = getattr(got, "dtype", type(got).__name__)
        return f"{what}.dtype={got_dt}, but should be {expected.dtype} [{call}] [{clause}]"
    lines = []
    for m in comparison.mismatches[:limit]:
        err = "" if ulps == 0 else f", {m.ulp_error:.3g} ULP > {ulps} allowed"
        lines.append(
            f"{what}[{_index(m.index)}]={m.got!r}, but should be {m.expected!r}{err} [{call}] [{clause}]"
        )
    more = len(comparison.mismatches) - limit
    if more > 0:
        lines.append(f"... and {more} more mismatching elements of {what}")
    return "\n".join(lines)


def assert_matches(
    got: Any,
    expected: np.ndarray,
    *,
    ulps: int,
    scale: np.ndarray | None = None,
    what: str = "out",
    call: str,
    clause: str,
    repro: str = "",
) -> float:
    """Fail the current test in the one format; return the largest ULP error seen."""
    __tracebackhide__ = True
    if not isinstance(got, np.ndarray):
        raise AssertionError(
            f"{what} is a {type(got).__name__}, but should be a numpy.ndarray [{call}] [{clause}]"
            + (f"\nreproducer:\n{repro}" if repro else "")
        )
    comparison = compare(got, expected, ulps, scale)
    if not comparison.ok:
        msg = describe(comparison, got, expected, what=what, ulps=ulps, call=call, clause=clause)
        raise AssertionError(msg + (f"\nreproducer:\n{repro}" if repro else ""))
    return comparison.max_ulp_error


def _element_bytes(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)


def assert_pure(
    stored: dict[str, np.ndarray | None],
    passed: list[np.ndarray | None],
    outputs: dict[str, Any],
    call: str,
    repro: str,
) -> str:
    """The call left its inputs as they were, bit for bit, and returned new arrays
    [POOL-SHAPE-2]. ``stored`` are the caller's arrays by name, ``passed`` the copies the
    backend was given (in the same order), ``outputs`` what it returned by name. Every
    check that calls a backend runs this, so a backend that writes to its input or
    returns a view of it fails the golden vectors and the properties too, not only the
    hygiene checks."""
    __tracebackhide__ = True
    tail = f" [{call}] [{PURE_CLAUSE}]" + (f"\nreproducer:\n{repro}" if repro else "")
    for (name, want), got in zip(stored.items(), passed):
        if want is None or got is None:
            continue
        if got.dtype != want.dtype or got.shape != want.shape:
            raise AssertionError(
                f"the call changed input {name} from {want.dtype}{list(want.shape)} to "
                f"{got.dtype}{list(got.shape)}, but inputs are read-only{tail}"
            )
        if got.tobytes() != want.tobytes():
            changed = int(np.any(_element_bytes(got) != _element_bytes(want), axis=1).sum())
            raise AssertionError(
                f"the call modified {changed} of {want.size} elements of input {name}, but "
                f"inputs are read-only{tail}"
            )
        for out_name, out in outputs.items():
            if isinstance(out, np.ndarray) and np.shares_memory(out, got):
                raise AssertionError(
                    f"{out_name} shares memory with input {name}, but should be a new array{tail}"
                )
    return "inputs unchanged and no output aliases an input"


def zero_sign_free(a: Any) -> Any:
    """``a`` with -0.0 replaced by +0.0: a max over tied zeros may select either zero
    when the backend declares a tie policy other than the reference's [POOL-MAX-5]."""
    if not isinstance(a, np.ndarray) or not dt.is_float(dt.dtype_name(a.dtype)):
        return a
    return np.where(a == 0, np.zeros_like(a), a)


def assert_indices_select(
    got: Any,
    expected: np.ndarray,
    op: str,
    x: np.ndarray,
    params: Mapping[str, Any],
    *,
    call: str,
    repro: str = "",
) -> None:
    """Each index names one of its window's maxima (one of its NaNs when the window
    holds NaN), -1 for a window with no in-bounds tap: what a backend whose tie or NaN
    selection is declared other than the reference's must still do [POOL-MAX-4,
    POOL-MAX-7]. The shape and dtype must match exactly [POOL-IDX-4]."""
    __tracebackhide__ = True
    if (
        not isinstance(got, np.ndarray)
        or got.shape != expected.shape
        or got.dtype != expected.dtype
    ):
        assert_matches(
            got, expected, ulps=0, what="indices", call=call, clause="POOL-IDX-4", repro=repro
        )
        return
    layout = params.get("layout", "channels_first")
    values = flagreg.planes(x, layout)
    windows = geo.window_lists(op, geo.spatial_shape(x.shape, layout), params)
    got_cf = np.moveaxis(got, -1, 1) if layout == "channels_last" else got
    got_planes = got_cf.reshape(values.shape[0], -1)
    for p, plane in enumerate(values):
        for o, w in enumerate(windows):
            vals = plane[w]
            if not w:
                allowed = [-1]
            elif np.isnan(vals).any():
                allowed = [f for f, v in zip(w, vals) if np.isnan(v)]
            else:
                allowed = [f for f, v in zip(w, vals) if v == vals.max()]
            value = int(got_planes[p, o])
            if value not in allowed:
                pos = np.unravel_index(p * len(windows) + o, got_cf.shape)
                raise AssertionError(
                    f"indices[{_index(tuple(int(i) for i in pos))}] (channels_first)={value}, "
                    f"but should be one of {allowed} (the window's maxima) [{call}] [POOL-MAX-4]"
                    + (f"\nreproducer:\n{repro}" if repro else "")
                )
