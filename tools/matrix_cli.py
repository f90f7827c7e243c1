"""``poolconf matrix``: run ``poolconf check`` on several libraries and publish the result.

Each backend is checked by the real command (``poolconf check B --report-json``, its
shipped known-failure file applied) in turn; its declarations and library version come
from a throw-away process that loads it. The reports are rendered into
``conformance-matrix.md`` and a self-contained ``conformance-matrix.html`` (a colour grid,
no scripts, no external files):

* per library: version, verdict, totals, declared implementation choices;
* library x op, and library x op x clause: pass / fail / known divergence / library choice
  the spec cannot express / declared / unsupported;
* the largest ULP error per op, dtype and output;
* every divergence with a one-line reproducer (``poolconf explain ID --backend B`` for a
  vector, ``poolconf check B --only PART -k TEST`` for a property).

Everything but two lines (``Machine:`` and ``Timings:``) depends only on the reports, so
regenerating on the same installs reproduces the files byte for byte;
``--render-only`` rebuilds them from kept reports (``--reports DIR``).
"""

from __future__ import annotations

import argparse
import functools
import html
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolconf.conformance.xfail import KNOWN_FAILURE_PREFIX
from poolconf.reference import catalog as cat
from poolconf.reference import flags as flagreg

LIBRARIES = ("torch", "onnxruntime", "jax", "tensorflow")
# the distribution whose version a backend reports
DISTRIBUTIONS = {
    "torch": ("torch",),
    "onnxruntime": ("onnxruntime",),
    "jax": ("jax", "jaxlib"),
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
}
MD_NAME, HTML_NAME = "conformance-matrix.md", "conformance-matrix.html"
SPEC_GAP = "spec cannot express:"
# cell status -> (short word, meaning, HTML colour), in order of precedence
STATUSES: dict[str, tuple[str, str, str]] = {
    "fail": ("FAIL", "a test failed that is not a known failure", "#d73027"),
    "known": ("known", "known divergence from the spec (listed, with its reason)", "#fc8d59"),
    "choice": ("choice", "a documented library choice the spec cannot express yet", "#fee090"),
    "other": ("other", "its tests failed, each judged by another clause", "#e0e0e0"),
    "declared": ("declared", "passes under a declared implementation choice", "#91bfdb"),
    "pass": ("pass", "every test passed", "#1a9850"),
    "unsupported": ("unsup.", "every test was declined as unsupported (or skipped)", "#bdbdbd"),
}
PROBE = """
import importlib.metadata as md, json, sys
from poolconf.conformance.backend import load_backend
b = load_backend(sys.argv[1])
versions = {}
for d in sys.argv[2:]:
    try:
        versions[d] = md.version(d)
    except md.PackageNotFoundError:
        pass
print("POOLCONF-PROBE " + json.dumps({"declarations": b.declarations, "versions": versions}))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "backends", nargs="*", metavar="BACKEND",
        help=f"backends to check (default: {' '.join(LIBRARIES)})",
    )  # fmt: skip
    parser.add_argument("--out", default="docs", metavar="DIR", help="where the files go")
    parser.add_argument(
        "--reports", metavar="DIR",
        help="keep each backend's JSON report and log here (default: a temporary folder)",
    )  # fmt: skip
    parser.add_argument(
        "--render-only", action="store_true",
        help="do not run checks: render from the reports in --reports",
    )  # fmt: skip
    parser.add_argument("--profile", default="full", help="check profile (default full)")
    parser.add_argument("--only", metavar="PART", help="only this part (vectors, properties, ...)")
    parser.add_argument("-n", dest="workers", default="2", metavar="N", help="workers per check")


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------


@dataclass
class Result:
    """One backend's check: its report, declarations, versions and wall time."""

    backend: str
    report: dict[str, Any]
    declarations: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    command: str = ""

    @functools.cached_property
    def trouble(self) -> dict[tuple[str, str], set[str]]:
        """``attributed(self)``, computed once for all the cells of this backend."""
        return attributed(self)

    @functools.cached_property
    def declared(self) -> dict[tuple[str, str], str]:
        """``declared_clauses`` of this backend's declarations, computed once."""
        return declared_clauses(self.declarations)


def check_command(backend: str, args: argparse.Namespace, report: pathlib.Path) -> list[str]:
    cmd = [sys.executable, "-m", "poolconf.tools.cli", "check", backend]
    cmd += ["--profile", args.profile, "-n", str(args.workers), "--report-json", str(report)]
    return cmd + (["--only", args.only] if args.only else [])


def shown_command(backend: str, args: argparse.Namespace) -> str:
    """The check as a user types it."""
    only = f" --only {args.only}" if args.only else ""
    return f"poolconf check {backend} --profile {args.profile} -n {args.workers}{only}"


def probe(backend: str) -> dict[str, Any]:
    """Declarations and library versions, from a process that loads the backend."""
    dists = DISTRIBUTIONS.get(backend, ())
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, backend, *dists],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("POOLCONF-PROBE "):
            data: dict[str, Any] = json.loads(line.split(" ", 1)[1])
            return data
    last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise RuntimeError(f"backend {backend!r} cannot be loaded: {last}")


def run_one(backend: str, args: argparse.Namespace, folder: pathlib.Path) -> Result:
    report = folder / f"{backend}.json"
    log = folder / f"{backend}.log"
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            check_command(backend, args, report), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - start
    if not report.exists():
        raise RuntimeError(
            f"poolconf check {backend} left no report (exit {proc.returncode}); see {log}"
        )
    meta = probe(backend)
    meta.update(seconds=seconds, command=shown_command(backend, args))
    (folder / f"{backend}.meta.json").write_text(
        json.dumps(meta, indent=1) + "\n", encoding="utf-8"
    )
    print(f"poolconf matrix: {backend}: exit {proc.returncode} in {seconds:.0f} s", flush=True)
    return load_result(folder, backend)


def load_result(folder: pathlib.Path, backend: str) -> Result:
    report = json.loads((folder / f"{backend}.json").read_text(encoding="utf-8"))
    meta_path = folder / f"{backend}.meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    return Result(
        backend,
        report,
        declarations=meta.get("declarations", {}),
        versions=meta.get("versions", {}),
        seconds=meta.get("seconds"),
        command=meta.get("command", f"poolconf check {backend}"),
    )


# ---------------------------------------------------------------------------
# the tables (plain data: rows of cells), shared by both renderings
# ---------------------------------------------------------------------------


EXCEPTION_PREFIX = re.compile(r"^[\w.]*(?:Error|Failure|Exception): ")


def known_reason(entry: Mapping[str, Any]) -> str:
    """A known failure's reason as its known-failure file gives it."""
    reason = str(entry.get("reason") or "")
    return reason.removeprefix(KNOWN_FAILURE_PREFIX)


def failure_line(entry: Mapping[str, Any]) -> str:
    """A failure's first message line, without the exception's name."""
    lines = str(entry.get("message") or "").strip().splitlines()
    return EXCEPTION_PREFIX.sub("", lines[0]) if lines else ""


def _is_choice(reason: str) -> bool:
    return reason.lstrip().startswith(SPEC_GAP)


def declared_clauses(declarations: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(clause, part) -> ``key=value`` for each declaration that differs from the
    reference's, for each part ("forward", "grad") its flag concerns."""
    out: dict[tuple[str, str], str] = {}
    for flag in flagreg.FLAGS.values():
        key = flag.declaration
        if (
            key
            and declarations.get(key, flagreg.DEFAULT_DECLARATIONS[key])
            != (flagreg.DEFAULT_DECLARATIONS[key])
        ):
            for part in flag.parts:
                out[(flag.clause, part)] = f"{key}={declarations[key]}"
    return out


CLAUSE = re.compile(r"\bPOOL-[A-Z0-9]+-\d+\b")


def attributed(result: Result) -> dict[tuple[str, str], set[str]]:
    """(op, clause) -> the kinds of trouble attributed to that clause: ``fail`` for a
    failure whose failing comparison checks the clause, ``known``/``choice`` for a known
    failure whose reason names it. A test marks several clauses; its failure concerns
    the one it was judged by, so only that clause's cell says so."""
    ops = {t["id"]: t.get("op") or "" for t in result.report.get("tests", [])}
    out: dict[tuple[str, str], set[str]] = {}
    for f in result.report.get("failures", []):
        out.setdefault((f.get("op") or "", f.get("clause") or ""), set()).add("fail")
    for x in result.report.get("xfailed", []):
        for part in known_reason(x).split(";"):
            kind = "choice" if _is_choice(part) else "known"
            for clause in CLAUSE.findall(part):
                out.setdefault((ops.get(x["id"], ""), clause), set()).add(kind)
    return out


def status_of(counts: Mapping[str, int], trouble: set[str], *, declared: bool) -> str:
    """A cell's status (see ``STATUSES``) from its outcome counts and the trouble
    attributed to its clause."""
    for kind in ("fail", "known", "choice"):
        if kind in trouble:
            return kind
    if counts.get("xpassed", 0):
        return "fail"
    if counts.get("passed", 0):
        return "declared" if declared else "pass"
    if counts.get("failed", 0) or counts.get("xfailed", 0):
        return "other"
    return "unsupported"


def op_order(ops: Iterable[str]) -> list[str]:
    known = list(cat.ALL_OPS)
    return sorted(set(ops), key=lambda op: (known.index(op) if op in known else len(known), op))


def clause_grid(results: Sequence[Result]) -> list[tuple[str, str, list[str]]]:
    """Rows (op, clause, status per backend) over every (op, clause) any report has."""
    keys: set[tuple[str, str]] = set()
    for r in results:
        for op, per in r.report.get("op_clauses", {}).items():
            keys.update((op, cl) for cl in per)
    rows = []
    for op in op_order(k[0] for k in keys):
        for clause in sorted(cl for o, cl in keys if o == op):
            rows.append((op, clause, [_clause_cell(r, op, clause) for r in results]))
    return rows


def _clause_cell(result: Result, op: str, clause: str) -> str:
    counts = result.report.get("op_clauses", {}).get(op, {}).get(clause)
    if counts is None:
        return ""
    trouble = result.trouble.get((op, clause), set())
    part = "grad" if op in cat.ALL_OPS and cat.op(op).is_grad else "forward"
    declared = (clause, part) in result.declared
    return status_of(counts, trouble, declared=declared)


def op_grid(results: Sequence[Result]) -> list[tuple[str, list[str]]]:
    """Rows (op, the most severe of its clauses' statuses per backend)."""
    order = list(STATUSES)
    rows = []
    for op in op_order(op for r in results for op in r.report.get("ops", {})):
        cells = []
        for r in results:
            clauses = r.report.get("op_clauses", {}).get(op, {})
            statuses = [s for s in (_clause_cell(r, op, cl) for cl in clauses) if s]
            cells.append(min(statuses, key=order.index, default=""))
        rows.append((op, cells))
    return rows


def ulp_rows(results: Sequence[Result]) -> list[tuple[str, str, str, list[str]]]:
    """Rows (op, dtype, output, largest ULP error per backend)."""
    keys: set[tuple[str, str, str]] = set()
    for r in results:
        for op, per in r.report.get("max_ulp_error", {}).items():
            for dtype, outs in per.items():
                keys.update((op, dtype, name) for name in outs)
    rows = []
    for op in op_order(k[0] for k in keys):
        for dtype, name in sorted((d, n) for o, d, n in keys if o == op):
            cells = []
            for r in results:
                e = r.report.get("max_ulp_error", {}).get(op, {}).get(dtype, {}).get(name)
                cells.append("-" if e is None else _ulp(e))
            rows.append((op, dtype, name, cells))
    return rows


def _ulp(e: Any) -> str:
    if isinstance(e, str):
        return e
    return f"{e:.3g}" if e else "0"


@dataclass(frozen=True)
class Divergence:
    backend: str
    test: str
    kind: str  # fail, known or choice
    reason: str
    reproducer: str


def reproducer(backend: str, test_id: str) -> str:
    """One command that reruns the test on the backend."""
    name = test_id.rsplit("::", 1)[-1]
    if name.startswith(("test_vector[", "test_vector_grad[")):
        case = name[name.index("[") + 1 : -1]
        return f"poolconf explain {shlex.quote(case)} --backend {backend}"
    part = test_id.rsplit("::", 1)[0].rsplit("/", 1)[-1].removeprefix("test_").removesuffix(".py")
    return f"poolconf check {backend} --only {part} -k {shlex.quote(name)}"


def divergences(results: Sequence[Result]) -> list[Divergence]:
    out = []
    for r in results:
        for x in r.report.get("xfailed", []):
            reason = known_reason(x)
            kind = "choice" if _is_choice(reason) else "known"
            out.append(
                Divergence(r.backend, _short(x["id"]), kind, reason, reproducer(r.backend, x["id"]))
            )
        for f in r.report.get("failures", []):
            out.append(
                Divergence(
                    r.backend,
                    _short(f["id"]),
                    "fail",
                    failure_line(f),
                    reproducer(r.backend, f["id"]),
                )
            )
    return sorted(out, key=lambda d: (d.backend, d.kind, d.test))


def _short(test_id: str) -> str:
    path, _, name = test_id.rpartition("::")
    return f"{path.rsplit('/', 1)[-1]}::{name}" if path else name


def failed_by_all(results: Sequence[Result]) -> list[str]:
    """Tests every backend fails or lists as a known divergence (not as a library choice)."""
    if len(results) < 2:
        return []
    sets = []
    for r in results:
        bad = {_short(f["id"]) for f in r.report.get("failures", [])}
        bad |= {_short(x["id"]) for x in r.report.get("xfailed", [])}
        sets.append(bad)
    return sorted(set.intersection(*sets))


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def _version(r: Result) -> str:
    return ", ".join(f"{d} {v}" for d, v in sorted(r.versions.items())) or "-"


def _declared(r: Result) -> str:
    defaults = flagreg.DEFAULT_DECLARATIONS
    items = sorted((k, v) for k, v in r.declarations.items() if defaults.get(k) != v)
    return ", ".join(f"{k}={v}" for k, v in items) or "(the reference's choices)"


def _counts(r: Result) -> str:
    t = r.report.get("totals", {})
    return (
        f"{t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
        f"{t.get('xfailed', 0)} known, {t.get('skipped', 0)} skipped"
    )


def _verdict(r: Result) -> str:
    v = r.report.get("verdict") or {}
    return str(v.get("word") or v.get("verdict") or f"exit {r.report.get('exitstatus')}")


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return (
        f"Machine: {cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"NumPy {importlib.metadata.version('numpy')}, {platform.platform()}"
    )


def timings_line(results: Sequence[Result]) -> str:
    parts = [f"{r.backend} {r.seconds:.0f} s" for r in results if r.seconds is not None]
    return "Timings: " + (", ".join(parts) or "(rendered from kept reports)")


def _md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head), *(line(r) for r in rows)]


def _word(status: str) -> str:
    return STATUSES[status][0] if status else "-"


def render_markdown(results: Sequence[Result], command: str) -> str:
    names = [r.backend for r in results]
    out = [
        "# poolconf conformance matrix",
        "",
        f"Generated by `{command}`; do not edit by hand. Everything below except the",
        "machine and timings lines is determined by the check reports: regenerating on the same",
        "installs reproduces it.",
        "",
        machine_line(),
        "",
        timings_line(results),
        "",
        "## Libraries",
        "",
        *_md_table(
            ["library", "version", "check", "verdict", "tests", "declared choices"],
            [
                [r.backend, _version(r), f"`{r.command}`", _verdict(r), _counts(r), _declared(r)]
                for r in results
            ],
        ),
        "",
        "Cells: " + "; ".join(f"**{w}** {m}" for w, m, _ in STATUSES.values()) + "; - not run.",
        "",
        "## Library x op",
        "",
        *_md_table(["op", *names], [[op, *map(_word, cells)] for op, cells in op_grid(results)]),
        "",
        "## Library x op x clause",
        "",
        *_md_table(
            ["op", "clause", *names],
            [[op, cl, *map(_word, cells)] for op, cl, cells in clause_grid(results)],
        ),
        "",
        "## Largest ULP error",
        "",
        "Over every comparison the check made (vectors and properties), per op, dtype and",
        "output; - where it made none.",
        "",
        *_md_table(["op", "dtype", "output", *names], [[*k, *c] for *k, c in ulp_rows(results)]),
        "",
        *_md_common(results),
    ]
    return "\n".join(out) + "\n"


def _md_common(results: Sequence[Result]) -> list[str]:
    out = ["## Failed by every library", ""]
    common = failed_by_all(results)
    out += [f"- `{t}`" for t in common] or ["None: no test is failed by every library checked."]
    out += ["", "## Divergences", ""]
    out += [
        "Each known failure and failure with its reason (from the backend's known-failure file,",
        "or the failure message) and a command that reruns it.",
        "",
    ]
    rows = [[d.backend, STATUSES[d.kind][0], f"`{d.test}`", d.reason, f"`{d.reproducer}`"]
            for d in divergences(results)]  # fmt: skip
    out += (
        _md_table(["library", "kind", "test", "reason", "reproducer"], rows) if rows else ["None."]
    )
    return out


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
td.cell { text-align: center; min-width: 5em; }
code { font-size: 12px; }
""".strip()


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(head: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    th = "".join(f"<th>{_h(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(c if raw else f"<td>{_h(c)}</td>" for c in r) + "</tr>"
                   for r in rows)  # fmt: skip
    return f"<table><tr>{th}</tr>{body}</table>"


def _cell(status: str) -> str:
    if not status:
        return '<td class="cell">-</td>'
    word, meaning, colour = STATUSES[status]
    return f'<td class="cell" style="background:{colour}" title="{_h(meaning)}">{_h(word)}</td>'


def render_html(results: Sequence[Result], command: str) -> str:
    names = [r.backend for r in results]
    legend = _html_table(["status", "meaning"], [[_cell(s), f"<td>{_h(m)}</td>"]
                                                 for s, (_, m, _) in STATUSES.items()], raw=True)  # fmt: skip
    libs = _html_table(
        ["library", "version", "check", "verdict", "tests", "declared choices"],
        [
            [r.backend, _version(r), r.command, _verdict(r), _counts(r), _declared(r)]
            for r in results
        ],
    )
    ops = _html_table(["op", *names], [[f"<td>{_h(op)}</td>", *map(_cell, cells)]
                                       for op, cells in op_grid(results)], raw=True)  # fmt: skip
    clauses = _html_table(
        ["op", "clause", *names],
        [[f"<td>{_h(op)}</td><td>{_h(cl)}</td>", *map(_cell, cells)]
         for op, cl, cells in clause_grid(results)],
        raw=True,
    )  # fmt: skip
    ulps = _html_table(["op", "dtype", "output", *names], [[*k, *c] for *k, c in ulp_rows(results)])
    common = failed_by_all(results)
    divs = _html_table(
        ["library", "kind", "test", "reason", "reproducer"],
        [[d.backend, STATUSES[d.kind][0], d.test, d.reason, d.reproducer]
         for d in divergences(results)],
    )  # fmt: skip
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>poolconf conformance matrix</title>',
        f"<style>{CSS}</style></head><body>",
        "<h1>poolconf conformance matrix</h1>",
        f"<p>Generated by <code>{_h(command)}</code>; do not edit by hand.</p>",
        f"<p>{_h(machine_line())}</p>",
        f"<p>{_h(timings_line(results))}</p>",
        "<h2>Libraries</h2>", libs, legend,
        "<h2>Library x op</h2>", ops,
        "<h2>Library x op x clause</h2>", clauses,
        "<h2>Largest ULP error</h2>", ulps,
        "<h2>Failed by every library</h2>",
        "<ul>" + "".join(f"<li><code>{_h(t)}</code></li>" for t in common) + "</ul>"
        if common else "<p>None: no test is failed by every library checked.</p>",
        "<h2>Divergences</h2>", divs,
        "</body></html>",
    ]  # fmt: skip
    return "\n".join(parts) + "\n"


def write_atomic(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    backends = list(args.backends or LIBRARIES)
    if args.render_only and not args.reports:
        print("poolconf matrix: --render-only needs --reports DIR", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keep = pathlib.Path(args.reports) if args.reports else None
    with tempfile.TemporaryDirectory(prefix="poolconf-matrix-") as tmp:
        folder = keep or pathlib.Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.render_only:
            results = [load_result(folder, b) for b in backends]
        else:
            results = [run_one(b, args, folder) for b in backends]
    only = f" --only {args.only}" if args.only else ""
    command = f"poolconf matrix {' '.join(backends)} --profile {args.profile}{only}"
    write_atomic(out / MD_NAME, render_markdown(results, command))
    write_atomic(out / HTML_NAME, render_html(results, command))
    print(f"poolconf matrix: wrote {out / MD_NAME} and {out / HTML_NAME}")
    return 0
