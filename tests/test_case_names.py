"""Case names are identities, and their tcIds are append-only.

The declared names are well formed and unique within each vector file; the committed
registry (``poolconf/tools/cases/tcids.json``) gives every declared name a tcId and
keeps every released name, either still declared or retired with a reason; an id is
never given to two names of a file, retired ones included; a new name gets the next id
of its file only through ``poolconf vectors generate --assign-ids``.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
from collections import Counter

import numpy as np
import pytest

from poolconf.conformance import report
from poolconf.conformance import vector_format as vf
from poolconf.tools import generate as gen
from poolconf.tools import vectors_cli
from poolconf.tools.cases import Case, all_cases, case, tcids

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli there
    import tomli as tomllib

ALL = all_cases()
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_names_are_identifiers_unique_within_their_file() -> None:
    for c in ALL:
        assert tcids.NAME.match(c.name) and len(c.name) <= 48, c.test_id
    dup = [t for t, n in Counter(c.test_id for c in ALL).items() if n > 1]
    assert dup == []


def test_committed_registry_matches_the_declarations() -> None:
    """Every declared name has a tcId; no released name disappeared (retire it with a
    reason instead); no id is used twice in a file."""
    registry = tcids.Registry.load()
    assert registry.check(ALL) == []


def test_committed_registry_is_canonical() -> None:
    text = tcids.REGISTRY_PATH.read_text(encoding="utf-8")
    assert tcids.Registry.load().dumps() == text


def test_registry_is_package_data() -> None:
    """``poolconf vectors generate --out DIR`` from an installed wheel needs it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    assert setuptools["package-dir"]["poolconf.tools.cases"] == "tools/cases"
    assert "tcids.json" in setuptools["package-data"]["poolconf.tools.cases"]


def _case(name: str, family: str = "edge") -> Case:
    return case(
        name=name,
        op="max_pool",
        family=family,
        comment=f"case {name}",
        focus=["POOL-MAX-1"],
        x=np.arange(4, dtype=np.float32).reshape(1, 1, 4),
        params={"kernel_size": [2]},
        seed=1,
    )


def test_new_names_get_the_next_id_and_old_ids_stay() -> None:
    a, b, c = _case("first"), _case("second"), _case("third")
    registry = tcids.Registry.fresh([a, b])
    assert registry.ids == {"max_pool_edge_test": {"first": 1, "second": 2}}
    grown, added = registry.assign([a, c, b])  # inserted in the middle
    assert added == ["max_pool_edge_test#third -> tcId 3"]
    assert grown.ids["max_pool_edge_test"] == {"first": 1, "second": 2, "third": 3}
    assert grown.assign([a, b, c]) == (grown, [])


def test_a_vanished_name_fails_until_retired_and_its_id_is_never_reused() -> None:
    a, b = _case("first"), _case("second")
    registry = tcids.Registry.fresh([a, b])
    problems = registry.check([a])
    assert problems == [
        "max_pool_edge_test#second: registered but no longer declared; move it to 'retired' "
        "in tcids.json with a reason"
    ]
    retired = tcids.Registry(
        {"max_pool_edge_test": {"first": 1}},
        {"max_pool_edge_test": {"second": tcids.Retired(2, "merged into first")}},
    )
    assert retired.check([a]) == []
    grown, added = retired.assign([a, _case("third")])
    assert grown.ids["max_pool_edge_test"] == {"first": 1, "third": 3}
    assert added == ["max_pool_edge_test#third -> tcId 3"]
    with pytest.raises(ValueError, match="retired"):
        retired.assign([a, b])
    assert tcids.Registry.from_json(retired.to_json()) == retired


def test_registry_problems() -> None:
    reused = tcids.Registry({"f_test": {"a": 1, "b": 1}})
    assert reused.problems() == ["f_test: tcId 1 is used by a, b"]
    retired_reused = tcids.Registry(
        {"f_test": {"a": 1}}, {"f_test": {"old": tcids.Retired(1, "gone")}}
    )
    assert retired_reused.problems() == ["f_test: tcId 1 is used by a, old"]
    bad = tcids.Registry({"f_test": {"Bad-Name": 0}}, {"f_test": {"x": tcids.Retired(2, " ")}})
    assert bad.problems() == [
        "f_test#Bad-Name: not a case name",
        "f_test#Bad-Name: tcId 0 is below 1",
        "f_test#x: retired without a reason",
    ]


def test_generation_refuses_names_used_twice_in_a_file() -> None:
    a = _case("same")
    b = dataclasses.replace(a, comment="another")
    with pytest.raises(gen.GenerationError, match="max_pool_edge_test#same: name used by 2"):
        gen.render_files([a, b])


def test_bad_names_are_refused() -> None:
    for name in ("", "Upper", "9starts_with_digit", "has-dash", "x" * 49):
        with pytest.raises(ValueError, match="name="):
            _case(name)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    vectors_cli.add_arguments(parser)
    return vectors_cli.run(parser.parse_args(list(argv)))


def test_cli_assigns_ids_only_when_asked(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "tcids.json"
    out = tmp_path / "vectors"
    cases = [_case("first"), _case("second")]
    tcids.Registry.fresh(cases).save(registry)
    monkeypatch.setattr(tcids, "REGISTRY_PATH", registry)
    monkeypatch.setattr(gen, "all_cases", lambda: cases)
    assert _cli("generate", "--out", str(out)) == 0
    cases.insert(1, _case("new_one"))
    before = registry.read_bytes()
    assert _cli("generate", "--out", str(out)) == 1
    assert _cli("generate", "--out", str(out), "--check") == 1
    err = capsys.readouterr().err
    assert err.count("max_pool_edge_test#new_one: no tcId registered; run 'poolconf vectors ") == 2
    assert registry.read_bytes() == before
    assert _cli("generate", "--out", str(out), "--assign-ids") == 0
    assert "registered: max_pool_edge_test#new_one -> tcId 3" in capsys.readouterr().out
    assert tcids.Registry.load(registry).ids["max_pool_edge_test"]["new_one"] == 3
    assert _cli("generate", "--out", str(out), "--check") == 0


def test_harness_ids_are_the_declared_names() -> None:
    """The suite's vector test ids are ``<file stem>#<name>`` of the declared cases, and
    the report recognises them (a crashed worker's test is looked up by its id)."""
    loaded = vf.load_cases()
    assert sorted(c.test_id for c in loaded) == sorted(c.test_id for c in ALL)
    for c in loaded:
        m = report.VECTOR_ID.search(f"test_vector_grad[{c.test_id}]")
        assert m is not None and m.group("id") == c.test_id
    assert report.VECTOR_ID.search("test_vector[max_pool_edge_test#7]") is None
