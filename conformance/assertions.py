"""The one failure format every check uses, and the comparisons that produce it.

``output[0,0,1,2]=3.0, but should be 4.0 [max_pool(x: float32[1, 1, 4, 4]; ...)] [POOL-MAX-1]``

``fail`` raises it (a ``CheckFailure`` carrying the clause), with a ready-to-run
reproducer attached as an exception note (PEP 678), which pytest and Hypothesis print
after the one-line message.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any, NoReturn

import numpy as np

from poolconf.conformance.attribution import comparison_clause
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo
from poolconf.reference.tolerance import Comparison, compare, zero_sign_checked

PURE_CLAUSE = "POOL-SHAPE-2"
MAX_INLINE = 64  # arrays up to this many elements are written out in full in reproducers


class CheckFailure(AssertionError):
    """A backend did not do what the spec says; ``clause`` is the clause it violates."""

    def __init__(self, message: str, clause: str) -> None:
        super().__init__(message)
        self.clause = clause


def add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc`` (PEP 678; set by hand before Python 3.11)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def fail(message: str, *, call: str, clause: str, repro: str = "", detail: str = "") -> NoReturn:
    """Fail the current check in the one format, ``message [call] [clause]``, with
    ``detail`` (more of what was found) and the reproducer (a script or a command)
    attached as notes."""
    __tracebackhide__ = True
    exc = CheckFailure(f"{message} [{call}] [{clause}]", clause)
    if detail:
        add_note(exc, detail)
    if repro:
        add_note(exc, f"reproducer:\n{repro}")
    raise exc


def format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def format_call(op: str, arrays: Mapping[str, np.ndarray | None], params: Mapping[str, Any]) -> str:
    shapes = ", ".join(
        f"{k}: {_dtype(v)}{list(v.shape)}" for k, v in arrays.items() if v is not None
    )
    return f"{op}({shapes}; {format_params(params)})"


def _dtype(a: np.ndarray) -> str:
    try:
        return dt.dtype_name(a.dtype)
    except (ValueError, TypeError):
        return str(a.dtype)


def describe_result(result: Any) -> str:
    """``float32[2, 3]``, ``(float32[1], int64[1])``, ``a list``: what a backend returned."""
    if isinstance(result, np.ndarray):
        return f"{_dtype(result)}{list(result.shape)}"
    if isinstance(result, tuple):
        return "(" + ", ".join(describe_result(r) for r in result) + ")"
    return f"a {type(result).__name__}"


def _literal(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "float('nan')" if math.isnan(v) else ("float('inf')" if v > 0 else "-float('inf')")
    return repr(v)


LITERAL_ELEMENTS = 4096  # larger arrays are written as their bytes (quick to build)


def array_literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` exactly (floats through their float64 repr;
    past ``LITERAL_ELEMENTS`` elements, the array's bytes in base64)."""
    name = dt.dtype_name(a.dtype)
    shape = tuple(a.shape)
    if a.size > LITERAL_ELEMENTS:
        data = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
        dtype = "ml_dtypes.bfloat16" if name == "bfloat16" else f"np.{name}"
        return (
            f"np.frombuffer(__import__('base64').b64decode('{data}'), dtype={dtype})"
            f".reshape({shape}).copy()"
        )
    if dt.is_float(name):
        body = ", ".join(_literal(v) for v in a.astype(np.float64).ravel().tolist())
        dtype = "ml_dtypes.bfloat16" if name == "bfloat16" else f"np.{name}"
        return f"np.array([{body}], dtype=np.float64).astype({dtype}).reshape({shape})"
    body = ", ".join(repr(v) for v in a.ravel().tolist())
    return f"np.array([{body}], dtype=np.{name}).reshape({shape})"


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
    for k, v in arrays.items():
        if v is None:
            lines.append(f"{k} = None")
        else:
            size = "" if v.size <= MAX_INLINE else f"  # {v.size} elements"
            lines.append(f"{k} = {array_literal(v)}{size}")
    args = ", ".join(arrays)
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
    limit: int = 5,
) -> str:
    """What a failed comparison found, in the one format without the call and clause:
    the first mismatching element first, then up to ``limit - 1`` more on their own lines."""
    if not comparison.shape_ok:
        return f"{what}.shape={tuple(np.shape(got))}, but should be {tuple(expected.shape)}"
    if not comparison.dtype_ok:
        got_dt = getattr(got, "dtype", type(got).__name__)
        return f"{what}.dtype={got_dt}, but should be {expected.dtype}"
    lines = []
    for m in comparison.mismatches[:limit]:
        err = "" if ulps == 0 else f", {m.ulp_error:.3g} ULP > {ulps} allowed"
        lines.append(f"{what}[{_index(m.index)}]={m.got!r}, but should be {m.expected!r}{err}")
    more = len(comparison.mismatches) - limit
    if more > 0:
        lines.append(f"... and {more} more mismatching elements of {what}")
    return lines[0] + "".join(f"\n  also {line}" for line in lines[1:])


def assert_matches(
    got: Any,
    expected: np.ndarray,
    *,
    ulps: int,
    scale: np.ndarray | None = None,
    what: str = "output",
    call: str,
    clause: str,
    repro: str = "",
    op: str | None = None,
    params: Mapping[str, Any] | None = None,
    arrays: Mapping[str, np.ndarray | None] | None = None,
) -> float:
    """Fail the current check in the one format unless ``got`` matches ``expected``
    within ``ulps`` at ``scale`` [POOL-TOL-1]; return the largest ULP error seen.

    With ``op`` (and the call's ``params`` and input ``arrays``), a failure cites the clause
    the failing comparison checks (``conformance.attribution``), ``clause`` being the
    one a wrong value cites when nothing more specific applies."""
    __tracebackhide__ = True
    if not isinstance(got, np.ndarray):
        fail(
            f"{what} is {describe_result(got)}, but should be a numpy.ndarray",
            call=call,
            clause=clause,
            repro=repro,
        )
    comparison = compare(got, expected, ulps, scale, zero_sign=zero_sign_checked(what))
    if not comparison.ok:
        if op is not None:
            clause = comparison_clause(
                comparison,
                got,
                expected,
                op=op,
                name=what,
                params=params or {},
                arrays=arrays or {},
                default=clause,
            )
        first, _, rest = describe(comparison, got, expected, what=what, ulps=ulps).partition("\n")
        fail(first, call=call, clause=clause, repro=repro, detail=rest)
    return comparison.max_ulp_error


def _element_bytes(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)


def assert_pure(
    stored: Mapping[str, np.ndarray | None],
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
    where = {"call": call, "clause": PURE_CLAUSE, "repro": repro}
    for (name, want), got in zip(stored.items(), passed):
        if want is None or got is None:
            continue
        if got.dtype != want.dtype or got.shape != want.shape:
            fail(
                f"the call changed input {name} from {want.dtype}{list(want.shape)} to "
                f"{got.dtype}{list(got.shape)}, but inputs are read-only",
                **where,
            )
        if got.tobytes() != want.tobytes():
            changed = int(np.any(_element_bytes(got) != _element_bytes(want), axis=1).sum())
            fail(
                f"the call modified {changed} of {want.size} elements of input {name}, but "
                "inputs are read-only",
                **where,
            )
        for out_name, out in outputs.items():
            if isinstance(out, np.ndarray) and np.shares_memory(out, got):
                fail(
                    f"{out_name} shares memory with input {name}, but should be a new array",
                    **where,
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
                fail(
                    f"indices[{_index(tuple(int(i) for i in pos))}] (channels_first)={value}, "
                    f"but should be one of {allowed} (the window's maxima)",
                    call=call,
                    clause="POOL-MAX-4",
                    repro=repro,
                )
