"""The fast oracle against numpy-strided and the loop reference, side by side in one run.

    python benchmarks/fast_oracle.py            # the four pooling calls, one table
    python benchmarks/fast_oracle.py --more     # and further dtypes, layouts and ops
    python benchmarks/fast_oracle.py --rounds 3 # fewer timing rounds

For each call on the full shape ((8, 64, 56, 56) float32, kernel 3, stride 2, padding 1):

* ``fast ms``: ``poolconf.reference.fast``; ``strided ms``: the ``numpy-strided`` backend on
  the same arguments. Both are timed interleaved (one call of each per round) and each
  time is the median of the rounds after a warm-up call, so that a busy machine slows
  both alike. ``fast / strided`` is the ratio of the two (target: at most 10).
* ``loop us/elem``: the loop reference on a reduced shape it can afford, per output
  element (the gradient's output is ``grad_input``); ``fast us/elem`` the fast path on the
  full shape, likewise; ``loop / fast`` their ratio (target: at least 100).
* ``fallback``: output elements the fast path recomputed with the loop reference over
  the timed calls, of all elements it returned (``fallback_counts()``); "whole calls"
  when the call went to the loop reference as a whole.

The fast path's result on the reduced shape is checked against the loop reference bit for
bit before anything is timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout without installing


@dataclass(frozen=True)
class Case:
    op: str
    shape: tuple[int, ...]
    reduced: tuple[int, ...]
    dtype: str = "float32"
    layout: str = "channels_first"
    params: tuple[tuple[str, Any], ...] = (("kernel_size", 3), ("stride", 2), ("padding", 1))

    def label(self) -> str:
        extra = "" if self.layout == "channels_first" else " cl"
        tie = dict(self.params).get("tie_policy")
        return f"{self.op} {self.dtype}{extra}" + (f" tie={tie}" if tie else "")


FULL = (8, 64, 56, 56)
REDUCED = (1, 2, 16, 16)
CASES = (
    Case("max_pool", FULL, REDUCED),
    Case("avg_pool", FULL, REDUCED),
    Case("max_pool_grad", FULL, REDUCED),
    Case("avg_pool_grad", FULL, REDUCED),
)
MORE = (
    Case("max_pool_with_indices", FULL, REDUCED),
    Case("avg_pool", FULL, REDUCED, "float16"),
    Case("avg_pool", FULL, REDUCED, "bfloat16"),
    Case("avg_pool", (8, 56, 56, 64), (1, 16, 16, 2), layout="channels_last"),
    Case("avg_pool", (2, 64, 56, 56), (1, 2, 16, 16), "float64"),
    Case("avg_pool_grad", FULL, REDUCED, "float16"),
    Case(
        "max_pool_grad",
        FULL,
        REDUCED,
        params=(("kernel_size", 3), ("stride", 2), ("padding", 1), ("tie_policy", "all")),
    ),
    Case("lp_pool", (2, 64, 56, 56), (1, 2, 16, 16)),
    Case("lp_pool_grad", (2, 64, 56, 56), (1, 2, 12, 12)),
    Case("adaptive_avg_pool", FULL, REDUCED, params=(("output_size", (7, 7)),)),
    Case("global_avg_pool", FULL, REDUCED, params=()),
    Case("conv", (2, 16, 32, 32), (1, 2, 8, 8), params=(("stride", 1), ("padding", 1))),
)


def _arrays(case: Case, shape: tuple[int, ...], seed: int = 0) -> list[Any]:
    """Inputs of ``case.op`` at ``shape``: normal values, and for gradients a normal
    ``grad_output`` of the forward output's shape; conv gets 3x3 weights and a bias."""
    from poolconf.reference import dtypes as dt

    rng = np.random.default_rng(seed)
    npdt = dt.numpy_dtype(case.dtype)
    x = rng.standard_normal(shape).astype(npdt)
    params = dict(case.params)
    params.pop("tie_policy", None)
    if case.op == "conv":
        c = shape[-1] if case.layout == "channels_last" else shape[1]
        w = rng.standard_normal((c, c, 3, 3)).astype(npdt)
        return [x, w, rng.standard_normal(c).astype(npdt)]
    if case.op.endswith("_grad"):
        fwd = case.op[: -len("_grad")]
        out_shape = _forward_shape(fwd, x, params, case.layout)
        return [x, rng.standard_normal(out_shape).astype(npdt)]
    return [x]


def _forward_shape(fwd: str, x: np.ndarray, params: dict[str, Any], layout: str) -> tuple[int, ...]:
    from poolconf.reference import fast

    small = x[:1, :1] if layout == "channels_first" else x[:1, ..., :1]
    out = getattr(fast, fwd)(small, **params, layout=layout)
    out = out[0] if isinstance(out, tuple) else out
    n, c = x.shape[0], (x.shape[-1] if layout == "channels_last" else x.shape[1])
    if layout == "channels_last":
        return (n, *out.shape[1:-1], c)
    return (n, c, *out.shape[2:])


def _size(result: Any) -> int:
    if isinstance(result, tuple):
        return int(result[0].size)
    return int(result.size)


def _median_times(fns: list[Callable[[], Any]], rounds: int) -> list[float]:
    for fn in fns:  # warm-up
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _loop_time(fn: Callable[[], Any], budget_s: float = 2.0) -> float:
    """Median time of the loop reference over as many calls as fit in ``budget_s``."""
    times = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < budget_s and len(times) < 7):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _same_bits(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return all(_same_bits(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is b
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "iu":
        return bool(np.array_equal(a, b))
    nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
    w = f"u{a.dtype.itemsize}"
    return bool(np.all((np.ascontiguousarray(a).view(w) == np.ascontiguousarray(b).view(w)) | nan))


def measure(case: Case, rounds: int, strided: Any) -> dict[str, Any]:
    """One row: the fast path and numpy-strided on the full shape, the loop reference on
    the reduced one (after checking the fast path against it there)."""
    from poolconf import reference as ref
    from poolconf.reference import fast

    params = {**dict(case.params), "layout": case.layout}
    small = _arrays(case, case.reduced, seed=1)
    loop_fn = getattr(ref, case.op)
    fast_fn = getattr(fast, case.op)
    expected = loop_fn(*small, **params)
    if not _same_bits(expected, fast_fn(*small, **params)):
        raise SystemExit(f"{case.label()}: the fast path differs from the loop reference")
    per_loop = _loop_time(lambda: loop_fn(*small, **params)) / _size(expected)
    full = _arrays(case, case.shape)
    fast.reset_fallback_counts()
    t_fast, t_strided = _median_times(
        [lambda: fast_fn(*full, **params), lambda: strided.call(case.op, *full, **params)], rounds
    )
    counts = fast.fallback_counts().get(case.op, {})
    out_size = _size(fast_fn(*full, **params))
    return {
        "case": case.label(),
        "shape": case.shape,
        "fast_ms": t_fast * 1e3,
        "strided_ms": t_strided * 1e3,
        "ratio": t_fast / t_strided,
        "loop_us": per_loop * 1e6,
        "fast_us": t_fast / out_size * 1e6,
        "speedup": per_loop / (t_fast / out_size),
        "fallback": counts.get("fallback_elements", 0),
        "elements": counts.get("elements", 0),
        "fallback_calls": counts.get("fallback_calls", 0),
        "fallback_call_elements": counts.get("fallback_call_elements", 0),
    }


def run(cases: tuple[Case, ...], rounds: int) -> list[dict[str, Any]]:
    from poolconf.conformance.backend import load_backend

    strided = load_backend("numpy-strided")
    rows = []
    for case in cases:
        rows.append(measure(case, rounds, strided))
        print(f"  measured {case.label()}", file=sys.stderr)
    return rows


def table(rows: list[dict[str, Any]], reduced: tuple[int, ...]) -> str:
    head = (
        "| call | full shape | fast ms | strided ms | fast / strided | loop us/elem "
        "| fast us/elem | loop / fast | fallback |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        fb = f"{r['fallback']}/{r['elements']}"
        if r["fallback_calls"]:
            fb = f"{r['fallback_call_elements']}/{r['elements']} (whole calls)"
        lines.append(
            f"| {r['case']} | {r['shape']} | {r['fast_ms']:.1f} | {r['strided_ms']:.1f} "
            f"| {r['ratio']:.2f} | {r['loop_us']:.1f} | {r['fast_us']:.4f} "
            f"| {r['speedup']:.0f} | {fb} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--more", action="store_true", help="further dtypes, layouts and ops")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per call (median)")
    args = parser.parse_args(argv)
    cases = CASES + (MORE if args.more else ())
    print(
        f"# fast oracle benchmark ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, python {platform.python_version()})"
    )
    print(
        "kernel 3, stride 2, padding 1 unless the call says otherwise; the loop reference "
        f"is timed on {REDUCED} (channels_last: its transpose; some --more rows smaller)"
    )
    print()
    print(table(run(cases, args.rounds), REDUCED))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
