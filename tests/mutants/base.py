"""What every mutant is made of: the correct ``numpy-strided`` backend plus one injected bug.

A mutant is a class; ``poolconf check mutants.m_max:NanDropped`` (with ``tests/`` on
``PYTHONPATH``) instantiates it and calls its ops. Ops the class does not define come
from the base backend unchanged (``__getattr__``), so a mutant is one of:

* a wrapper that overrides one op and changes one thing about it (its parameters,
  its input, or its output), delegating the rest to the correct backend;
* a *fork* (``PATCHES``): a private copy of ``numpy_strided`` whose helper modules
  (``poolconf.reference.geometry``, ``_numpy_common``) are private copies too, with
  one function replaced. The bug then reaches every op that uses the helper, as it
  would in a real library, while the reference (which the harness uses to judge)
  keeps the original functions: the copies are never put in ``sys.modules``.

Class attributes every mutant sets:

``CLAUSES``       the spec clauses the bug violates: a kill by the golden vectors must
                  come from a failing case that names one of them (tests/test_mutants.py).
``KIND``          ``"forward"``, ``"gradient"`` (the gradient checks alone must kill it)
                  or ``"hygiene"``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from poolconf.conformance.backends import numpy_strided
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo
from poolconf.reference.catalog import ALL_OPS

GEOMETRY = "poolconf.reference.geometry"
ARGUMENTS = "poolconf.reference.arguments"
COMMON = "poolconf.conformance.backends._numpy_common"
STRIDED = "poolconf.conformance.backends.numpy_strided"


def _fresh(module_name: str) -> ModuleType:
    """A new, private instance of ``module_name`` (not registered in ``sys.modules``)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot find module {module_name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patch(module: ModuleType, replacements: dict[str, Any]) -> None:
    for name, value in replacements.items():
        if name not in vars(module):
            # the base backend changed under the mutant: fail loudly, never mutate nothing
            raise AttributeError(f"{module.__name__} has no {name!r} to replace")
        setattr(module, name, value)


def fork(patches: dict[str, dict[str, Any]]) -> ModuleType:
    """A private ``numpy_strided`` whose ``geo``, ``args`` and ``cm`` are private copies
    of ``poolconf.reference.geometry``, ``poolconf.reference.arguments`` and
    ``_numpy_common``, with ``patches``
    (``{GEOMETRY|COMMON|STRIDED: {name: replacement}}``) applied."""
    unknown = set(patches) - {GEOMETRY, COMMON, STRIDED}
    if unknown:
        raise ValueError(f"cannot patch {sorted(unknown)}")
    geo_copy = _fresh(GEOMETRY)
    _patch(geo_copy, patches.get(GEOMETRY, {}))
    args_copy = _fresh(ARGUMENTS)  # the argument rules compute pool geometry through geo
    _patch(args_copy, {"geo": geo_copy})
    cm_copy = _fresh(COMMON)
    _patch(cm_copy, {"geo": geo_copy, "args": args_copy})
    _patch(cm_copy, patches.get(COMMON, {}))
    strided = _fresh(STRIDED)
    _patch(strided, {"geo": geo_copy, "cm": cm_copy, "args": args_copy})
    # ops the backend takes over from the shared module (``max_unpool = cm.max_unpool``)
    # were bound to the real module's functions: point them at the patched copy's
    shared = vars(importlib.import_module(COMMON))
    for name, value in list(vars(strided).items()):
        if getattr(value, "__globals__", None) is shared:
            setattr(strided, name, getattr(cm_copy, value.__name__))
    _patch(strided, patches.get(STRIDED, {}))
    return strided


class Mutant:
    """The correct ``numpy-strided`` backend; subclasses inject exactly one bug."""

    DECLARATIONS: ClassVar[dict[str, str]] = dict(numpy_strided.DECLARATIONS)
    CLAUSES: ClassVar[tuple[str, ...]] = ()
    KIND: ClassVar[str] = "forward"
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self) -> None:
        self.base: Any = fork(self.PATCHES) if self.PATCHES else numpy_strided

    def __getattr__(self, name: str) -> Any:
        if name in ALL_OPS:
            return getattr(self.base, name)
        raise AttributeError(name)


# ---------------------------------------------------------------------------
# helpers for wrappers
# ---------------------------------------------------------------------------


def spatial_shape(x: np.ndarray, layout: str) -> tuple[int, ...]:
    return geo.spatial_shape(x.shape, layout)


def to_first(a: np.ndarray, layout: str) -> np.ndarray:
    """``a`` as (N, C, *spatial)."""
    return np.moveaxis(a, -1, 1) if layout == "channels_last" else a


def from_first(a: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, 1, -1) if layout == "channels_last" else a)


def geometry(x: np.ndarray, kw: dict[str, Any]) -> geo.PoolGeometry:
    """The (correct) window geometry of a windowed call with keywords ``kw``."""
    return geo.call_geometry("max_pool", spatial_shape(x, kw.get("layout", "channels_first")), kw)


def windows(x: np.ndarray, kw: dict[str, Any]) -> list[tuple[tuple[int, ...], list[int]]]:
    """Per output position (row-major): the flat in-plane indices of its in-bounds
    taps, in window order. Adaptive when ``kw`` has ``output_size``."""
    layout = kw.get("layout", "channels_first")
    if "output_size" in kw:
        spatial = spatial_shape(x, layout)
        out = geo.per_dim(kw["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
        return list(geo.adaptive_windows(spatial, out))
    return [(o, [t.flat for t in taps if t.in_bounds]) for o, taps in geometry(x, kw).windows()]


def out_spatial(x: np.ndarray, kw: dict[str, Any]) -> tuple[int, ...]:
    if "output_size" in kw:
        spatial = spatial_shape(x, kw.get("layout", "channels_first"))
        return geo.per_dim(kw["output_size"], "output_size", len(spatial), 1, "POOL-ADAPT-2")
    return geometry(x, kw).out_shape


def planes(a: np.ndarray, layout: str) -> Iterator[tuple[tuple[int, int], np.ndarray]]:
    """Every (n, c) plane of ``a`` (a view, flat) with its (n, c)."""
    first = to_first(a, layout)
    for n in range(first.shape[0]):
        for c in range(first.shape[1]):
            yield (n, c), first[n, c].reshape(-1)


def window_loop(
    x: np.ndarray,
    kw: dict[str, Any],
    reduce: Callable[[np.ndarray, list[int]], Any],
    out_dtype: Any,
) -> np.ndarray:
    """A forward op by explicit loops: ``reduce(plane, taps)`` per window."""
    layout = kw.get("layout", "channels_first")
    wins = windows(x, kw)
    shape = out_spatial(x, kw)
    first = to_first(x, layout)
    out = np.empty((first.shape[0], first.shape[1], *shape), dtype=out_dtype)
    flat = out.reshape(first.shape[0], first.shape[1], -1)
    for (n, c), plane in planes(x, layout):
        for i, (_, taps) in enumerate(wins):
            flat[n, c, i] = reduce(plane, taps)
    return from_first(out, layout)


def grad_loop(
    x: np.ndarray,
    grad_output: np.ndarray,
    kw: dict[str, Any],
    route: Callable[[np.ndarray, np.ndarray, list[int], Any], None],
) -> np.ndarray:
    """An input gradient by explicit loops: ``route(plane_x, plane_gx, taps, g)`` per
    window, writing into ``plane_gx`` (float64; rounded once at the end)."""
    layout = kw.get("layout", "channels_first")
    wins = windows(x, kw)
    gx = np.zeros(to_first(x, layout).shape, dtype=np.float64)
    g_first = to_first(grad_output, layout).astype(np.float64)
    g_flat = g_first.reshape(g_first.shape[0], g_first.shape[1], -1)
    for (n, c), plane in planes(x, layout):
        gplane = gx[n, c].reshape(-1)
        for i, (_, taps) in enumerate(wins):
            route(plane, gplane, taps, g_flat[n, c, i])
    return from_first(gx, layout).astype(x.dtype)


def per_dim(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def kernel_volume(kw: dict[str, Any], rank: int) -> int:
    return math.prod(per_dim(kw["kernel_size"], rank))


def is_float(a: np.ndarray) -> bool:
    return dt.is_float(dt.dtype_name(a.dtype))


def first_window_order(values: Sequence[Any]) -> int:
    """Position of the first maximum (NaN first) in window order: the spec's choice."""
    arr = np.asarray(values, dtype=np.float64)
    nan = np.flatnonzero(np.isnan(arr))
    if nan.size:
        return int(nan[0])
    return int(np.flatnonzero(arr == arr.max())[0])


WINDOW_OPS = (
    "max_pool",
    "max_pool_with_indices",
    "avg_pool",
    "lp_pool",
    "max_pool_grad",
    "avg_pool_grad",
    "lp_pool_grad",
)


class ParamMutant(Mutant):
    """A mutant that misreads its keyword arguments: ``params`` rewrites them before
    the correct backend sees them, for every op in ``OPS``."""

    OPS: ClassVar[tuple[str, ...]] = WINDOW_OPS

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        fn = super().__getattr__(name)
        if name not in self.OPS:
            return fn

        def wrapped(*args: Any, **kw: Any) -> Any:
            return fn(*args, **self.params(dict(kw)))

        return wrapped


def axis_counts(x: np.ndarray, kw: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per spatial axis, per output: (taps in the input, taps in the padded extent)."""
    out = []
    for a in geometry(x, kw).axes:
        o = np.arange(a.out)[:, None]
        pos = o * a.stride - a.pad_begin + np.arange(a.kernel)[None, :] * a.dilation
        inb = ((pos >= 0) & (pos < a.length)).sum(axis=1)
        ext = ((pos >= -a.pad_begin) & (pos < a.length + a.pad_end)).sum(axis=1)
        out.append((inb, ext))
    return out


def count_grid(x: np.ndarray, kw: dict[str, Any], which: int) -> np.ndarray:
    """The product over axes of ``axis_counts`` (0: in-bounds, 1: extent), as an
    (*out_spatial) array."""
    grid = np.ones((), dtype=np.int64)
    for counts in axis_counts(x, kw):
        grid = np.multiply.outer(grid, counts[which])
    return grid


def spatial_view(a: np.ndarray, layout: str) -> np.ndarray:
    """``a`` as (N, C, *spatial) with spatial arrays broadcasting: (1, 1, *spatial)."""
    return to_first(a, layout)


def broadcast_spatial(grid: np.ndarray, layout: str) -> np.ndarray:
    """An (*spatial) array shaped to broadcast against an array in ``layout``."""
    return grid[None, None] if layout == "channels_first" else grid[None, ..., None]


def divisor_grid(x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
    """The spec's average divisor per output [POOL-AVG-2..4], shaped for ``layout``."""
    layout = kw.get("layout", "channels_first")
    if kw.get("divisor_override") is not None:
        grid = np.full(out_spatial(x, kw), kw["divisor_override"], dtype=np.int64)
    else:
        grid = count_grid(x, kw, 1 if kw.get("count_include_pad", True) else 0)
    return broadcast_spatial(grid, layout)


def scatter(
    x: np.ndarray,
    indices: np.ndarray,
    shape: tuple[int, ...],
    layout: str,
    *,
    keep: str,
    skip_invalid: bool = False,
) -> np.ndarray:
    """Max-unpool by explicit loops: each value of ``x`` to its flat in-plane index.
    ``keep``: "last" or "first" value of a repeated index (row-major input order);
    ``skip_invalid``: drop out-of-range indices silently instead of raising."""
    out = np.zeros(shape, dtype=x.dtype)
    out_first = to_first(out, layout)
    xf, idf = to_first(x, layout), to_first(indices, layout)
    for n in range(xf.shape[0]):
        for c in range(xf.shape[1]):
            plane = out_first[n, c].reshape(-1) if out_first[n, c].flags.c_contiguous else None
            target = out_first[n, c]
            written: set[int] = set()
            for v, i in zip(xf[n, c].reshape(-1), idf[n, c].reshape(-1)):
                i = int(i)
                if not 0 <= i < target.size:
                    if skip_invalid:
                        continue
                    raise ValueError(f"index {i} outside the output plane [POOL-UNPOOL-3]")
                if keep == "first" and i in written:
                    continue
                written.add(i)
                if plane is not None:
                    plane[i] = v
                else:
                    target[np.unravel_index(i, target.shape)] = v
    return out
