"""poolconf benchmark: one command, one run, one table of ratios.

    python benchmarks/run.py                      # full run, writes docs/benchmarks.md
    python benchmarks/run.py --quick --out t.md   # smoke test: small shapes, few repeats

What it measures, all in the same process and run, so that ratios compare like with like
on a shared, noisy machine:

* forward and backward of max and average pooling with ``numpy-strided``, ``numpy-im2col``,
  torch CPU (``torch.nn.functional``, contiguous NC... layout and channels_last memory
  format) on the shapes of ``FULL_SHAPES``; ratios against torch's default layout. Backends are
  timed interleaved (one call of each per round, then the next round) and each time is
  the median of the rounds after a warm-up call. A backward is the whole gradient call:
  the NumPy backends' ``*_grad(x, grad_output)`` recompute the forward, so torch is timed
  as forward + ``backward()`` as well.
* the reference on a reduced shape of each case (it is exact and slow): calls per second
  and time per output element, and an extrapolation to the full shape (marked ``~``).
* the memory-bandwidth bound of every call: bytes read and written (inputs + outputs)
  divided by the copy bandwidth measured in this run with a large ``np.copyto``.
* peak memory: ``tracemalloc`` for NumPy (NumPy reports its data buffers to it); for
  torch, which bypasses tracemalloc, the peak resident-set growth (``VmHWM - VmRSS`` after
  resetting the high-water mark through ``/proc/self/clear_refs``), which counts whole
  pages, includes allocator caching and any other thread's allocations, and needs Linux.
* ``poolconf check torch`` wall time, full profile (the default) and core, the full one
  also split with ``--only`` into vectors, properties and gradients, with 1 and 2 xdist
  workers; ``poolconf vectors verify`` and ``poolconf vectors generate --out TMP``; the
  reference's throughput over the declared vector cases (``generate.build_test``: forward,
  gradients, tolerances).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.md")
NUMPY_BACKENDS = ("numpy-strided", "numpy-im2col")
TORCH_COLUMNS = ("torch", "torch-cl")
COLUMNS = (*NUMPY_BACKENDS, *TORCH_COLUMNS)


@dataclass(frozen=True)
class Shape:
    """One benchmark case: a float input and one window configuration."""

    name: str
    shape: tuple[int, ...]
    kernel: int
    stride: int
    padding: int
    dtype: str
    reduced: tuple[int, ...]  # the shape the reference is timed on

    @property
    def rank(self) -> int:
        return len(self.shape) - 2

    def label(self) -> str:
        pad = f" p{self.padding}" if self.padding else ""
        return f"{self.shape} k{self.kernel} s{self.stride}{pad} {self.dtype}"


FULL_SHAPES = (
    Shape("2d-k3s2p1", (32, 64, 56, 56), 3, 2, 1, "float32", (1, 2, 12, 12)),
    Shape("2d-k2s2", (32, 64, 56, 56), 2, 2, 0, "float32", (1, 2, 12, 12)),
    Shape("3d-k2s2", (8, 32, 16, 32, 32), 2, 2, 0, "float32", (1, 1, 4, 8, 8)),
    Shape("1d-k3s2p1", (64, 128, 1024), 3, 2, 1, "float32", (1, 2, 64)),
    Shape("2d-k3s2p1-f16", (32, 64, 56, 56), 3, 2, 1, "float16", (1, 2, 12, 12)),
)
QUICK_SHAPES = (
    Shape("2d-k3s2p1", (2, 4, 12, 12), 3, 2, 1, "float32", (1, 1, 6, 6)),
    Shape("2d-k2s2", (2, 4, 12, 12), 2, 2, 0, "float32", (1, 1, 6, 6)),
    Shape("3d-k2s2", (1, 2, 4, 8, 8), 2, 2, 0, "float32", (1, 1, 2, 4, 4)),
    Shape("1d-k3s2p1", (2, 4, 64), 3, 2, 1, "float32", (1, 1, 16)),
    Shape("2d-k3s2p1-f16", (2, 4, 12, 12), 3, 2, 1, "float16", (1, 1, 6, 6)),
)
OPS = ("max", "avg")
DIRECTIONS = ("fwd", "bwd")


# ---------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor() or "unknown"
    info = {
        "CPU": model,
        "logical CPUs": str(os.cpu_count()),
        "usable CPUs": str(len(os.sched_getaffinity(0)))
        if hasattr(os, "sched_getaffinity")
        else "?",
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch threads"] = (
            f"{torch.get_num_threads()} (intra-op), {torch.get_num_interop_threads()} (inter-op)"
        )
    except ImportError:
        info["torch"] = "not installed"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE"):
        info[var] = os.environ.get(var, "(unset)")
    return info


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------------------
# timing and memory
# ---------------------------------------------------------------------------


def copy_bandwidth(nbytes: int, repeats: int) -> float:
    """Bytes moved per second (read + write) by ``np.copyto`` of a large buffer."""
    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / statistics.median(times)


def time_interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin after one warm-up call."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def numpy_peak(fn: Callable[[], Any]) -> float:
    """Peak bytes allocated through tracemalloc during one call (NumPy buffers included)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
        del out
    finally:
        tracemalloc.stop()
    return float(peak)


def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_peak(fn: Callable[[], Any]) -> float | None:
    """Peak resident-set growth during one call, in bytes, or None where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = _status_kib("VmRSS")
        out = fn()
        peak = _status_kib("VmHWM") - base
        del out
    except (OSError, KeyError):
        return None
    return max(0, peak) * 1024.0


# ---------------------------------------------------------------------------
# the calls
# ---------------------------------------------------------------------------


@dataclass
class Calls:
    """Zero-argument callables per column for one (shape, op, direction), plus bytes moved."""

    fns: dict[str, Callable[[], Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    bytes_moved: int = 0
    out_elements: int = 0


def _np_dtype(name: str) -> np.dtype:
    return np.dtype(name)


def _torch_fns(
    s: Shape, op: str, direction: str, x: np.ndarray, g: np.ndarray
) -> tuple[dict, dict]:
    fns: dict[str, Callable[[], Any]] = {}
    skipped: dict[str, str] = {}
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return fns, dict.fromkeys(TORCH_COLUMNS, "torch not installed")
    pool = {
        ("max", 1): F.max_pool1d,
        ("max", 2): F.max_pool2d,
        ("max", 3): F.max_pool3d,
        ("avg", 1): F.avg_pool1d,
        ("avg", 2): F.avg_pool2d,
        ("avg", 3): F.avg_pool3d,
    }[(op, s.rank)]
    kw = {"kernel_size": s.kernel, "stride": s.stride, "padding": s.padding}
    formats = {"torch": torch.contiguous_format}
    if s.rank == 2:
        formats["torch-cl"] = torch.channels_last
    elif s.rank == 3:
        formats["torch-cl"] = torch.channels_last_3d
    else:
        skipped["torch-cl"] = "no channels_last format for 1-D"
    for col, fmt in formats.items():
        xt = torch.from_numpy(x).contiguous(memory_format=fmt)
        gt = torch.from_numpy(g).contiguous(memory_format=fmt)
        try:
            if direction == "fwd":

                def fn(xt: Any = xt) -> Any:
                    with torch.no_grad():
                        return pool(xt, **kw)
            else:
                leaf = xt.detach().requires_grad_(True)

                def fn(leaf: Any = leaf, gt: Any = gt) -> Any:
                    (gx,) = torch.autograd.grad(pool(leaf, **kw), leaf, gt)
                    return gx

            fn()
        except (RuntimeError, NotImplementedError) as e:
            skipped[col] = f"unsupported: {str(e).splitlines()[0][:60]}"
            continue
        fns[col] = fn
    return fns, skipped


def build_calls(
    s: Shape, op: str, direction: str, x: np.ndarray, g: np.ndarray, backends: dict[str, Any]
) -> Calls:
    calls = Calls()
    kw = {"kernel_size": s.kernel, "stride": s.stride, "padding": s.padding}
    name = f"{op}_pool" if direction == "fwd" else f"{op}_pool_grad"
    for col in NUMPY_BACKENDS:
        fn = getattr(backends[col], name)
        if direction == "fwd":
            calls.fns[col] = lambda fn=fn: fn(x, **kw)
        else:
            calls.fns[col] = lambda fn=fn: fn(x, g, **kw)
    tfns, tskip = _torch_fns(s, op, direction, x, g)
    calls.fns.update(tfns)
    calls.skipped.update(tskip)
    calls.out_elements = g.size
    # fwd: read x, write y; bwd: read x and grad_output, write grad_input
    calls.bytes_moved = x.nbytes + g.nbytes if direction == "fwd" else 2 * x.nbytes + g.nbytes
    return calls


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


@dataclass
class Row:
    shape: Shape
    op: str
    direction: str
    times: dict[str, float]
    skipped: dict[str, str]
    peaks: dict[str, float | None]
    bound: float
    ref_rate: float | None = None  # reference calls per second on the reduced shape
    ref_per_elem: float | None = None  # reference seconds per output element
    ref_full: float | None = None  # extrapolated seconds on the full shape


def _inputs(s: Shape, shape: Sequence[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from poolconf.reference.geometry import pool_geometry

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(_np_dtype(s.dtype))
    geo = pool_geometry(tuple(shape[2:]), s.kernel, s.stride, s.padding, 1, False)
    g = rng.standard_normal((*shape[:2], *geo.out_shape)).astype(_np_dtype(s.dtype))
    return x, g


def _reference_rate(s: Shape, op: str, direction: str, repeats: int) -> tuple[float, float, float]:
    from poolconf import reference as ref

    x, g = _inputs(s, s.reduced, 1)
    kw = {"kernel_size": s.kernel, "stride": s.stride, "padding": s.padding}
    fn = getattr(ref, f"{op}_pool" if direction == "fwd" else f"{op}_pool_grad")
    call = (lambda: fn(x, **kw)) if direction == "fwd" else (lambda: fn(x, g, **kw))
    seconds = time_interleaved({"ref": call}, max(1, repeats))["ref"]
    per_elem = seconds / g.size
    full_out = (
        int(np.prod(s.shape[:2]))
        * int(np.prod(g.shape[2:]))
        * int(np.prod([a / b for a, b in zip(s.shape[2:], s.reduced[2:])]))
    )
    return 1.0 / seconds, per_elem, per_elem * full_out


def run_kernels(
    shapes: Sequence[Shape], repeats: int, ref_repeats: int, bw: float, log: Callable[[str], None]
) -> list[Row]:
    from poolconf.conformance.backend import load_backend

    backends = {name: load_backend(name).impl for name in NUMPY_BACKENDS}
    rows = []
    for i, s in enumerate(shapes):
        x, g = _inputs(s, s.shape, i)
        for op in OPS:
            for direction in DIRECTIONS:
                calls = build_calls(s, op, direction, x, g, backends)
                times = time_interleaved(calls.fns, repeats)
                peaks: dict[str, float | None] = {}
                for col, fn in calls.fns.items():
                    peaks[col] = numpy_peak(fn) if col in NUMPY_BACKENDS else rss_peak(fn)
                row = Row(s, op, direction, times, calls.skipped, peaks, calls.bytes_moved / bw)
                row.ref_rate, row.ref_per_elem, row.ref_full = _reference_rate(
                    s, op, direction, ref_repeats
                )
                rows.append(row)
                log(
                    f"  {s.name} {op} {direction}: "
                    + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in times.items())
                )
    return rows


@dataclass
class CliTiming:
    label: str
    command: list[str]
    seconds: float | None
    rc: int | None
    note: str = ""


def _cli(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "poolconf.tools.cli", *args]


def run_cli(log: Callable[[str], None], workers: Sequence[int], timeout: float) -> list[CliTiming]:
    """Wall time of the poolconf commands, each in a fresh subprocess."""
    jobs: list[tuple[str, list[str]]] = []
    for n in workers:
        for part in (None, "vectors", "properties", "gradients"):
            only = [] if part is None else ["--only", part]
            label = f"check torch -n {n}" + ("" if part is None else f" --only {part}")
            jobs.append((label, _cli(["check", "torch", "-n", str(n), *only])))
        label = f"check torch -n {n} --profile core"
        jobs.append((label, _cli(["check", "torch", "-n", str(n), "--profile", "core"])))
    out: list[CliTiming] = []
    with tempfile.TemporaryDirectory(prefix="poolconf-bench-") as tmp:
        jobs.append(("vectors verify", _cli(["vectors", "verify"])))
        jobs.append(("vectors generate --out TMP", _cli(["vectors", "generate", "--out", tmp])))
        for label, cmd in jobs:
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(
                    cmd, check=False, capture_output=True, text=True, timeout=timeout, cwd=tmp
                )
            except subprocess.TimeoutExpired:
                out.append(CliTiming(label, cmd, None, None, f"timed out after {timeout:.0f} s"))
                log(f"  {label}: timed out")
                continue
            seconds = time.perf_counter() - t0
            tail = (proc.stdout.strip().splitlines() or [""])[-1]
            out.append(CliTiming(label, cmd, seconds, proc.returncode, tail.strip("= ")[:90]))
            log(f"  {label}: {seconds:.1f} s (exit {proc.returncode})")
    return out


def reference_throughput(limit: int | None) -> tuple[int, float]:
    """(cases, seconds) for ``generate.build_test`` over the declared vector cases."""
    from poolconf.tools import generate
    from poolconf.tools.cases import all_cases

    cases = all_cases()
    if limit is not None:
        cases = cases[:limit]
    t0 = time.perf_counter()
    for i, case in enumerate(cases):
        generate.build_test(case, i)
    return len(cases), time.perf_counter() - t0


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------


def _num(v: float) -> str:
    """3 significant digits, without exponents for the magnitudes in these tables."""
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"


def _ms(v: float | None) -> str:
    return "-" if v is None else _num(v * 1e3)


def _ratio(a: float | None, b: float | None) -> str:
    # 3 significant digits like the times, so that a small ratio (0.0321) is not cut to 0.03
    return "-" if a is None or b is None or b == 0 else _num(a / b)


def _mib(v: float | None) -> str:
    return "n/a" if v is None else _num(v / 2**20)


@dataclass
class Target:
    what: str
    value: float | None
    limit: float
    unit: str = "x"

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        return "met" if self.value <= self.limit else "MISSED"


def targets(rows: Sequence[Row], cli: Sequence[CliTiming]) -> list[Target]:
    """The speed targets, each evaluated on this run's numbers."""
    out: list[Target] = []
    for r in rows:
        if r.shape.rank != 2 or r.shape.dtype != "float32":
            continue
        t = r.times
        tag = f"{r.shape.name} {r.op} {r.direction}"
        if "torch" in t and "numpy-strided" in t:
            limit = 1.0 if r.direction == "fwd" else 1.5
            out.append(
                Target(f"numpy-strided / torch, {tag}", t["numpy-strided"] / t["torch"], limit)
            )
        if r.direction == "fwd" and "numpy-strided" in t:
            out.append(
                Target(f"numpy-strided / bandwidth bound, {tag}", t["numpy-strided"] / r.bound, 4.0)
            )
        if "torch" in t and "numpy-im2col" in t:
            out.append(Target(f"numpy-im2col / torch, {tag}", t["numpy-im2col"] / t["torch"], 3.0))
    by_label = {c.label: c for c in cli}
    for label, limit in (
        ("check torch -n 1", 60.0),
        ("check torch -n 1 --only vectors", 15.0),
        ("check torch -n 2", 45.0),
        ("check torch -n 2 --profile core", 8.0),
        ("vectors verify", 60.0),
    ):
        c = by_label.get(label)
        ok = c is not None and c.rc == 0
        out.append(
            Target(f"`poolconf {label}` wall time", c.seconds if ok and c else None, limit, " s")
        )
    return out


KEPT_HEADING = "## Fast oracle"  # a hand-run section that a rewrite keeps


def kept_sections(path: str) -> str:
    """The hand-run sections of the file at ``path`` (from ``KEPT_HEADING`` to its end),
    which a rewrite appends after the generated ones; ``""`` when there are none."""
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        return ""
    at = old.find("\n" + KEPT_HEADING + "\n")
    return "" if at < 0 else old[at:]


def render(
    info: dict[str, str],
    rows: Sequence[Row],
    cli: Sequence[CliTiming],
    bw: float,
    ref_cases: tuple[int, float],
    meta: dict[str, str],
) -> str:
    """The benchmark report (Markdown), one section per helper below."""
    lines = _render_machine(info, bw, meta)
    lines += _render_kernels(rows)
    lines += _render_memory(rows)
    lines += _render_reference(rows, ref_cases)
    lines += _render_cli(cli)
    lines += _render_targets(rows, cli, meta)
    return "\n".join(lines) + "\n"


def _render_machine(info: dict[str, str], bw: float, meta: dict[str, str]) -> list[str]:
    lines: list[str] = [
        "# poolconf benchmarks",
        "",
        "Generated by `python benchmarks/run.py"
        + (" --quick" if meta["mode"] == "quick" else "")
        + "`; do not edit by hand. All numbers come from one run on one machine; ratios are",
        "taken within that run (the machine is shared, so absolute times are noisy: compare",
        "ratios, not runs).",
        "",
        "## Machine",
        "",
        "| item | value |",
        "|---|---|",
    ]
    for k, v in {**info, **meta}.items():
        lines.append(f"| {k} | {v} |")
    lines.append(f"| copy bandwidth (np.copyto, read + write) | {bw / 1e9:.1f} GB/s |")
    return lines


def _render_kernels(rows: Sequence[Row]) -> list[str]:
    lines: list[str] = [
        "",
        "## Pooling kernels",
        "",
        "Milliseconds per call (median of the rounds, backends interleaved, after a warm-up),",
        "ratios to torch in its default (contiguous) layout. `bwd` is a full gradient call:",
        "`*_pool_grad(x, grad_output)` for NumPy (it recomputes the forward), forward +",
        "`autograd.grad` for torch. `torch-cl` is torch with channels_last memory format (same",
        "logical shape). `bound` is the memory-bandwidth bound: bytes read + written (fwd: x, y;",
        "bwd: x, grad_output, grad_input) / copy bandwidth.",
        "",
        (
            "| case | op | dir | strided ms | im2col ms | torch ms | torch-cl ms | strided / torch "
            "| im2col / torch | torch-cl / torch | bound ms | strided / bound |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t = r.times
        cells = [_ms(t.get(c)) if c in t else r.skipped.get(c, "-") for c in COLUMNS]
        lines.append(
            f"| {r.shape.name} | {r.op} | {r.direction} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(
                _ratio(t.get(c), t.get("torch"))
                for c in ("numpy-strided", "numpy-im2col", "torch-cl")
            )
            + f" | {_ms(r.bound)} | {_ratio(t.get('numpy-strided'), r.bound)} |"
        )
    lines += [
        "",
        "Cases: " + "; ".join(f"`{s.name}` = {s.label()}" for s in _unique_shapes(rows)) + ".",
    ]
    return lines


def _render_memory(rows: Sequence[Row]) -> list[str]:
    lines: list[str] = [
        "",
        "## Peak memory (MiB)",
        "",
        "NumPy: `tracemalloc` peak during one call (NumPy data buffers are traced). torch:",
        "peak resident-set growth during one call (`VmHWM - VmRSS` after resetting the",
        "high-water mark via `/proc/self/clear_refs`): whole pages, includes allocator caches",
        "and anything else the process allocates meanwhile, reads 0 when the call reuses pages",
        "freed earlier (torch's allocator keeps them), Linux only (`n/a` elsewhere).",
        "",
        "| case | op | dir | input | strided | im2col | torch (RSS) | torch-cl (RSS) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        x_bytes = float(np.prod(r.shape.shape)) * np.dtype(r.shape.dtype).itemsize
        cells = [_mib(r.peaks[c]) if c in r.peaks else "-" for c in COLUMNS]
        lines.append(
            f"| {r.shape.name} | {r.op} | {r.direction} | {_mib(x_bytes)} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _render_reference(rows: Sequence[Row], ref_cases: tuple[int, float]) -> list[str]:
    lines: list[str] = [
        "",
        "## Reference (exact, explicit loops)",
        "",
        "Timed on a reduced shape (the full shapes would take minutes per call); `~full s` is",
        "an extrapolation (seconds per output element x the full shape's output elements),",
        "not a measurement.",
        "",
        "| case | op | dir | reduced shape | calls/s | us per output element | ~full s | ~full / torch |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.shape.name} | {r.op} | {r.direction} | {r.shape.reduced} | "
            f"{_num(r.ref_rate or 0)} | {_num((r.ref_per_elem or 0) * 1e6)} | {_num(r.ref_full or 0)} | "
            f"{_ratio(r.ref_full, r.times.get('torch'))} |"
        )
    n_cases, secs = ref_cases
    lines += [
        "",
        "Reference over the declared vector cases (`generate.build_test`: forward, gradients,",
        f"tolerance scales): {n_cases} cases in {secs:.2f} s = **{n_cases / secs:.0f} cases/s**.",
    ]
    return lines


def _render_cli(cli: Sequence[CliTiming]) -> list[str]:
    lines: list[str] = [
        "",
        "## Command wall times",
        "",
        "Each command in a fresh subprocess (`python -m poolconf.tools.cli ...`), default",
        "profile unless `--profile` says otherwise; `-n` is the number of pytest-xdist",
        "workers; `--only` runs one part.",
        "",
        "| command | wall s | exit | last line |",
        "|---|---:|---:|---|",
    ]
    if not cli:
        lines.append("| (skipped: --quick or --skip-cli) | - | - | - |")
    for c in cli:
        secs_s = "-" if c.seconds is None else f"{c.seconds:.1f}"
        rc = "-" if c.rc is None else str(c.rc)
        lines.append(f"| `poolconf {c.label}` | {secs_s} | {rc} | {c.note.replace('|', '/')} |")
    return lines


def _render_targets(
    rows: Sequence[Row], cli: Sequence[CliTiming], meta: dict[str, str]
) -> list[str]:
    lines: list[str] = ["", "## Targets", ""]
    quick = meta["mode"] == "quick"
    if quick:
        lines += ["Quick mode: small shapes, so the verdicts do not apply to the targets.", ""]
    lines += ["| target | measured | limit | verdict |", "|---|---:|---:|---|"]
    for tg in targets(rows, cli):
        val = "-" if tg.value is None else f"{tg.value:.2f}{tg.unit}"
        verdict = "n/a (quick)" if quick else tg.verdict
        lines.append(f"| {tg.what} | {val} | {tg.limit:g}{tg.unit} | {verdict} |")
    return lines


def _unique_shapes(rows: Sequence[Row]) -> list[Shape]:
    seen: list[Shape] = []
    for r in rows:
        if r.shape not in seen:
            seen.append(r.shape)
    return seen


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small shapes, 2 rounds, no CLI timings (a smoke test)"
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help=f"markdown table to write (default {os.path.relpath(DEFAULT_OUT)}; '-' prints only)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        metavar="N",
        help="timed rounds per kernel (default 7; 2 with --quick)",
    )
    parser.add_argument(
        "--skip-cli", action="store_true", help="skip the poolconf check / vectors command timings"
    )
    parser.add_argument(
        "--cli-timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="limit per command (default 900 s)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (2 if quick else 7)
    out = args.out if args.out is not None else DEFAULT_OUT

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    meta = {
        "mode": "quick" if quick else "full",
        "rounds per kernel": str(repeats),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "load average at start": load_average(),
    }
    info = machine_info()
    log("copy bandwidth...")
    bw = copy_bandwidth((16 if quick else 256) << 20, 3 if quick else 7)
    log(f"  {bw / 1e9:.1f} GB/s")
    log("kernels...")
    rows = run_kernels(QUICK_SHAPES if quick else FULL_SHAPES, repeats, 1 if quick else 3, bw, log)
    log("reference over the vector cases...")
    ref_cases = reference_throughput(40 if quick else None)
    cli: list[CliTiming] = []
    if not quick and not args.skip_cli:
        log("commands...")
        cli = run_cli(log, (1, 2), args.cli_timeout)
    meta["load average at end"] = load_average()
    meta["benchmark wall time"] = f"{time.perf_counter() - started:.0f} s"
    text = render(info, rows, cli, bw, ref_cases, meta)
    if out != "-":
        text += kept_sections(out)
    if out == "-":
        sys.stdout.write(text)
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    sys.stdout.write(text)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
