"""``poolconf explain ID [--backend B]``: print a golden-vector case and rerun it.

``ID`` is a vector test id, ``<file stem>#<tcId>`` (``max_pool_geometry_test#3``),
or a test name as the suite prints it (``test_vector[max_pool_geometry_test#3]``,
``test_vector_grad[...]``). With ``--backend`` the case is rerun on the backend
and judged exactly as ``poolconf check`` judges it. Exit status: 0 when every part
passed or was skipped, 1 when one failed, 2 when the case cannot be found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import numpy as np

from poolconf.conformance import vector_format as vectorfile
from poolconf.conformance.backend import load_backend
from poolconf.conformance.vector_checks import backend_params, call_of, check_part, has_grad_part
from poolconf.conformance.vector_format import VectorCase
from poolconf.reference import dtypes as dt

ID_FORMS = re.compile(r"^(?:.*::)?(?:test_vector(?P<grad>_grad)?\[)?(?P<id>[^\[\]]+?)\]?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("test_id", metavar="ID", help="<file stem>#<tcId> or test_vector[...]")
    parser.add_argument("--backend", help="rerun the case on this backend and compare")
    parser.add_argument(
        "--vectors", metavar="DIR", help="golden vectors folder (default: installed)"
    )


def _array(a: np.ndarray) -> str:

    name = dt.dtype_name(a.dtype)
    if dt.is_float(name):
        body = np.array2string(
            a.astype(np.float64), threshold=10_000, max_line_width=100, floatmode="unique"
        )
    else:
        body = np.array2string(a, threshold=10_000, max_line_width=100)
    return f"{name}{list(a.shape)}\n" + "\n".join("    " + line for line in body.splitlines())


def describe_case(case: VectorCase) -> list[str]:
    """The lines ``poolconf explain`` prints for a case."""

    lines = [
        f"{case.test_id}  ({case.file}, tcId {case.tc_id})",
        f"  op: {case.op}   family: {case.family}   result: {case.result}",
        f"  comment: {case.comment}",
        f"  clauses: {', '.join(case.clauses)}"
        + (f"   errorClause: {case.error_clause}" if case.error_clause else ""),
        f"  flags: {', '.join(case.flags) or '-'}",
        f"  source: {json.dumps(case.source, sort_keys=True)}",
        f"  params (as a backend receives them): {backend_params(dict(case.params))!r}",
    ]
    if case.grad_params:
        lines.append(f"  gradParams: {backend_params(dict(case.grad_params))!r}")
    for title, arrays in (("inputs", case.inputs), ("expected", case.expected)):
        for name, a in arrays.items():
            tol = ""
            if title == "expected":
                ulps, scale = case.tolerance.get(name, (0, None))
                tol = f"  (tolerance {ulps} ULP" + (", at scale" if scale is not None else "") + ")"
            lines.append(f"  {title}.{name}: {_array(a)}{tol}")
            scale = case.tolerance.get(name, (0, None))[1] if title == "expected" else None
            if scale is not None:
                lines.append(f"  scale.{name}: {_array(scale)}")
    return lines


def rerun(case: VectorCase, backend_spec: str, parts: list[str]) -> tuple[list[str], bool]:
    """Rerun ``parts`` of ``case`` on the backend: (lines to print, all passed or skipped)."""
    import pytest

    backend = load_backend(backend_spec)
    lines = [f"backend {backend_spec!r}, declarations {backend.declarations}"]
    ok = True
    for part in parts:
        if part == "grad" and not has_grad_part(case):
            continue
        op = call_of(case, part)[0]
        name = "test_vector" if part == "forward" else "test_vector_grad"
        sink: dict[str, Any] = {}
        try:
            results = check_part(case, part, backend, sink=sink)
        except pytest.skip.Exception as exc:
            lines.append(f"SKIP {name}[{case.test_id}] ({op}): {exc.msg}")
            continue
        except AssertionError as exc:
            ok = False
            lines.append(f"FAIL {name}[{case.test_id}] ({op}):")
            lines.extend("  " + line for line in str(exc).splitlines())
        else:
            lines.append(f"PASS {name}[{case.test_id}] ({op}):")
            lines.extend("  " + line for line in results)
        for out_name, value in sink.items():
            if isinstance(value, np.ndarray):
                try:
                    lines.append(f"  got.{out_name}: {_array(value)}")
                except Exception:
                    lines.append(f"  got.{out_name}: {value.dtype}{list(value.shape)} {value!r}")
    return lines, ok


def run(args: argparse.Namespace) -> int:

    m = ID_FORMS.match(args.test_id.strip())
    if not m:
        print(f"poolconf explain: {args.test_id!r} is not a vector test id", file=sys.stderr)
        return 2
    try:
        case = vectorfile.find_case(m.group("id"), args.vectors)
    except vectorfile.VectorError as exc:
        print(f"poolconf explain: {exc}", file=sys.stderr)
        return 2
    print("\n".join(describe_case(case)))
    if not args.backend:
        return 0
    parts = (
        ["grad"]
        if m.group("grad")
        else (["forward"] if "test_vector[" in args.test_id else ["forward", "grad"])
    )
    lines, ok = rerun(case, args.backend, parts)
    print("\n".join(lines))
    return 0 if ok else 1
