"""Builds a small golden-vector folder from the reference, for the harness's own tests.

Only the harness is under test here, so the cases are few, hand-picked and fast;
the real vectors come from ``poolconf vectors generate``. The format follows
``spec/vector-format.md`` as far as ``conformance/vector_format.py`` reads it.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import numpy as np

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.conformance.vector_format import encode_array
from poolconf.reference import tolerance as tol

GRAD = {
    "max_pool": "max_pool_grad",
    "avg_pool": "avg_pool_grad",
    "lp_pool": "lp_pool_grad",
}


def _test(tc_id: int, op: str, spec: dict[str, Any]) -> dict[str, Any]:
    inputs = dict(spec["inputs"])
    params = spec["params"]
    grad_params = spec.get("grad_params", {})
    test: dict[str, Any] = {
        "tcId": tc_id,
        "name": spec["name"],
        "comment": spec["comment"],
        "flags": list(spec.get("flags", ())),
        "clauses": list(spec["clauses"]),
        "source": {"name": "harness-tests"},
        "result": spec.get("result", "valid"),
        "params": params,
    }
    if grad_params:
        test["gradParams"] = grad_params
    if test["result"] == "invalid":
        try:
            getattr(ref, op)(*inputs.values(), **params)
        except SpecError as exc:
            assert exc.clause == spec["error_clause"], exc
        else:  # pragma: no cover - a builder bug
            raise AssertionError(f"{spec['comment']}: the reference accepted an invalid case")
        test["errorClause"] = spec["error_clause"]
        test["inputs"] = {k: encode_array(v) for k, v in inputs.items()}
        return test
    result = getattr(ref, op)(*inputs.values(), **params)
    expected = (
        {"output": result[0], "indices": result[1]}
        if op == "max_pool_with_indices"
        else {"output": result}
    )
    if op in GRAD and spec.get("grad", True):
        g = (
            np.random.default_rng(tc_id)
            .standard_normal(expected["output"].shape)
            .astype(inputs["x"].dtype)
        )
        inputs["grad_output"] = g
        expected["grad_input"] = getattr(ref, GRAD[op])(inputs["x"], g, **params, **grad_params)
        if op == "max_pool":
            alt = ref.max_pool_grad(inputs["x"], g, **params, tie_policy="all")
            if not np.array_equal(alt, expected["grad_input"]):
                expected["grad_input_all"] = alt
    budgets = tol.budgets(op, inputs, params)
    scales = tol.scales(op, inputs, params, grad_params)
    tolerance = {}
    for name in expected:
        b = budgets.get("grad_input" if name == "grad_input_all" else name)
        ulps = b.ulps if b is not None else 0
        entry: dict[str, Any] = {"ulps": ulps}
        if ulps > 0:
            entry["scale"] = encode_array(scales[name if name in scales else "grad_input"])
        tolerance[name] = entry
    test["inputs"] = {k: encode_array(v) for k, v in inputs.items()}
    test["expected"] = {k: encode_array(v) for k, v in expected.items()}
    test["tolerance"] = tolerance
    return test


def write_file(
    folder: pathlib.Path, op: str, family: str, specs: list[dict[str, Any]]
) -> pathlib.Path:
    doc = {
        "algorithm": op,
        "numberOfTests": len(specs),
        "testGroups": [{"tests": [_test(i + 1, op, s) for i, s in enumerate(specs)]}],
    }
    path = folder / f"{op}_{family}_test.json"
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def _x(seed: int, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# window 3, stride 2, padding 1 on both axes, shared by the max and average cases
PAD1 = {"kernel_size": [3, 3], "stride": [2, 2], "padding": [[1, 1], [1, 1]]}


def _max_pool_specs() -> list[dict[str, Any]]:
    """Core max cases that expose the broken fixture backends, an invalid case, a
    flagged (acceptable) case and a non-core case."""
    neg = -np.abs(_x(5, (1, 1, 4, 4))) - 1.0  # all negative: padding with 0 would win the max
    return [
        {
            "name": "no_padding",
            "comment": "k2 s2 no padding",
            "clauses": ["POOL-MAX-1", "POOL-GEOM-2"],
            "inputs": {"x": _x(1, (1, 2, 4, 4))},
            "params": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [[0, 0], [0, 0]]},
        },
        {
            "name": "negative_input_padded",
            "comment": "negative input, padding 1: padding never takes part",
            "clauses": ["POOL-MAX-1"],
            "inputs": {"x": neg},
            "params": PAD1,
        },
        {
            "name": "ceil_mode",
            "comment": "ceil mode",
            "clauses": ["POOL-GEOM-3", "POOL-MAX-1"],
            "inputs": {"x": _x(2, (1, 1, 5, 5))},
            "params": {**PAD1, "ceil_mode": True},
        },
        {
            "name": "stride_zero",
            "comment": "stride 0 is invalid",
            "clauses": ["POOL-PARAM-2"],
            "result": "invalid",
            "error_clause": "POOL-PARAM-2",
            "inputs": {"x": _x(3, (1, 1, 4, 4))},
            "params": {"kernel_size": [2, 2], "stride": [0, 1]},
        },
        {
            "name": "tied_maxima",
            "comment": "tied maxima",
            "clauses": ["POOL-MAX-4"],
            "flags": ["Tie"],
            "result": "acceptable",
            "inputs": {"x": np.ones((1, 1, 4, 4), dtype=np.float32)},
            "params": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [[0, 0], [0, 0]]},
        },
        {
            "name": "one_d_not_core",
            "comment": "1D, not in core",
            "clauses": ["POOL-MAX-1"],
            "inputs": {"x": _x(4, (1, 1, 6))},
            "params": {"kernel_size": [3], "stride": [1], "padding": [[1, 1]]},
        },
    ]


def _avg_pool_specs() -> list[dict[str, Any]]:
    return [
        {
            "name": "include_pad",
            "comment": "k3 s1 padding 1, count_include_pad",
            "clauses": ["POOL-AVG-3", "POOL-AVG-1"],
            "inputs": {"x": _x(6, (1, 2, 4, 4))},
            "params": {**PAD1, "stride": [1, 1], "count_include_pad": True},
        },
        {
            "name": "exclude_pad",
            "comment": "k3 s1 padding 1, exclude padding",
            "clauses": ["POOL-AVG-4", "POOL-AVG-1"],
            "inputs": {"x": _x(7, (1, 2, 4, 4))},
            "params": {**PAD1, "stride": [1, 1], "count_include_pad": False},
        },
    ]


def _max_pool_with_indices_specs() -> list[dict[str, Any]]:
    return [
        {
            "name": "indices_not_core",
            "comment": "indices, not in core",
            "clauses": ["POOL-IDX-1"],
            "inputs": {"x": _x(8, (1, 1, 4, 4))},
            "params": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [[0, 0], [0, 0]]},
        },
    ]


def build(folder: pathlib.Path) -> pathlib.Path:
    """The harness-test vector set: core-profile max/avg cases that expose the broken
    fixture backends, an invalid case, flagged (acceptable) cases and non-core cases."""
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder, "max_pool", "harness", _max_pool_specs())
    write_file(folder, "avg_pool", "harness", _avg_pool_specs())
    write_file(folder, "max_pool_with_indices", "harness", _max_pool_with_indices_specs())
    write_manifest(folder)
    return folder


def write_manifest(folder: pathlib.Path) -> None:
    """``MANIFEST.sha256`` of the folder's vector files, as the generator writes it."""
    files = {p.name: p.read_bytes() for p in folder.glob("*_test.json")}
    (folder / "MANIFEST.sha256").write_text(
        "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
        ),
        encoding="ascii",
    )
