"""The op catalogue agrees with the reference's signatures and with the vector schemas."""

from __future__ import annotations

import inspect
import json
import pathlib

import pytest

from poolconf import reference as ref
from poolconf.reference import catalog as cat

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "spec" / "schema"


@pytest.mark.parametrize("name", cat.ALL_OPS)
def test_row_matches_the_reference_signature(name: str) -> None:
    op = cat.op(name)
    params = inspect.signature(getattr(ref, name)).parameters.values()
    positional = tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
    keywords = tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY)
    assert positional == op.arrays
    assert keywords == op.params


@pytest.mark.parametrize("name", cat.FORWARD_OPS)
def test_gradients_pair_with_their_forward_op(name: str) -> None:
    op = cat.op(name)
    if op.grad is None:
        assert f"{name}_grad" not in cat.OPS
        return
    grad = cat.op(op.grad)
    assert grad.forward == name
    assert grad.arrays == (*op.arrays, "grad_output")
    assert set(op.params) <= set(grad.params)
    assert ("tie_policy" in grad.params) == op.selects_max


def test_forward_and_grad_ops_are_the_public_names() -> None:
    assert set(cat.ALL_OPS) == set(cat.OPS)
    assert ref.FORWARD_OPS == cat.FORWARD_OPS
    assert ref.GRAD_OPS == cat.GRAD_OPS
    assert all(callable(getattr(ref, name)) for name in cat.ALL_OPS)


def test_clauses_name_every_output_and_exist_in_the_spec() -> None:
    spec = (SCHEMAS.parent / "pooling.md").read_text(encoding="utf-8")
    for op in cat.OPS.values():
        assert set(op.clauses) == set(op.outputs), op.name
        for clause in (*op.clauses.values(), op.nan_clause):
            assert f"### {clause}:" in spec, (op.name, clause)


def _schema(test_type: cat.TestType) -> dict:
    return json.loads((SCHEMAS / test_type.schema).read_text(encoding="utf-8"))


@pytest.mark.parametrize("family", cat.FAMILIES)
def test_test_type_matches_its_schema(family: str) -> None:
    tt = cat.TEST_TYPES[family]
    schema = _schema(tt)
    assert schema["$id"] == tt.schema
    assert set(schema["properties"]["algorithm"]["enum"]) == set(tt.ops)
    assert schema["$defs"]["testGroup"]["properties"]["type"]["const"] == tt.name
    test = schema["$defs"]["test"]["properties"]
    assert set(test["params"]["properties"]) == set(tt.params)
    assert set(test["inputs"]["properties"]) == set(tt.inputs)
    assert set(test["expected"]["properties"]) == set(tt.outputs)
    assert set(test["tolerance"]["properties"]) == set(tt.outputs)


def test_every_schema_belongs_to_a_test_type() -> None:
    names = {p.name for p in SCHEMAS.glob("*.schema.json")} - {"common.schema.json"}
    assert names == {tt.schema for tt in cat.TEST_TYPES.values()}


def test_unknown_op_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="max_pool"):
        cat.op("maxpool")
    with pytest.raises(KeyError, match="has no gradient"):
        cat.grad_of("zero_pad")
