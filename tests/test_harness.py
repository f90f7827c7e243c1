"""The harness core: plugin, golden-vector judging, check/explain CLI, reports.

End-to-end tests run ``poolconf check`` in a subprocess on a small vector set built
from the reference (``fixtures_backends/vector_builder.py``) against deliberately
broken backends (``fixtures_backends/*.py``), restricted with ``--only vectors``
where the property modules are not what is under test.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

from poolconf.conformance.profiles import case_in_profile, get_profile, symmetric_padding
from poolconf.conformance.vector_checks import backend_params, plan
from poolconf.conformance.vector_format import VectorCase, load_cases
from poolconf.conformance.xfail import XfailFileError, match, parse_xfail_text, stale_ids
from poolconf.tools import cli

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures_backends"
sys.path.insert(0, str(FIXTURES))
import vector_builder  # noqa: E402 - after the sys.path entry for the fixtures


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return vector_builder.build(tmp_path_factory.mktemp("vectors"))


def check(
    vectors: pathlib.Path,
    backend: str,
    *args: str,
    cwd: pathlib.Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), env.get("PYTHONPATH", "")])
    env.pop("POOLCONF_BACKEND", None)
    cmd = [sys.executable, "-m", "poolconf", "check", backend, "--vectors", str(vectors), *args]
    return subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


# ---------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------


def test_reference_passes_core(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    report = tmp_path / "r.json"
    proc = check(
        vectors, "reference", "--profile", "core", "--examples", "3", "--report-json", str(report)
    )
    assert proc.returncode == 0, output(proc)
    data = json.loads(report.read_text())
    assert data["totals"]["failed"] == 0 and data["totals"]["passed"] >= 13
    assert data["profile"] == "core"
    assert data["max_ulp_error"]["avg_pool"]["float32"]["output"] == 0


@pytest.mark.parametrize(
    ("backend", "needles"),
    [
        (
            "broken_pad_zero_max",
            [
                "output[0,0,0,0]=0.0, but should be",
                "[POOL-MAX-1]",
                "poolconf explain max_pool_harness_test#negative_input_padded --backend broken_pad_zero_max",
            ],
        ),
        (
            "broken_avg_counts_pad",
            ["test_vector[avg_pool_harness_test#exclude_pad]", "[POOL-AVG-4]"],
        ),
        ("broken_wrong_dtype", ["output.dtype=float64, but should be float32", "[POOL-DTYPE-2]"]),
        (
            "broken_raises",
            [
                "max_pool raised RuntimeError: this backend cannot pool, but the input is valid",
                "[POOL-MAX-1]",
            ],
        ),
        (
            "tie_all_undeclared",
            ["test_vector_grad[max_pool_harness_test#tied_maxima]", "[POOL-MAX-4]"],
        ),
    ],
)
def test_broken_backend_fails_naming_the_clause(
    vectors: pathlib.Path, backend: str, needles: list[str]
) -> None:
    proc = check(vectors, backend, "--only", "vectors", "-n", "0")
    text = output(proc)
    assert proc.returncode == 1, text
    for needle in needles:
        assert needle in text, (needle, text)


def test_crash_fails_the_case_and_the_run_finishes(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    report = tmp_path / "r.json"
    proc = check(vectors, "broken_crash", "--only", "vectors", "--report-json", str(report))
    text = output(proc)
    assert proc.returncode == 1, text
    assert "crashed (the test killed its worker process" in text
    assert (
        "test_vector[avg_pool_harness_test#include_pad] [avg_pool] [POOL-AVG-3, POOL-AVG-1]" in text
    )
    data = json.loads(report.read_text())
    crashed = [f for f in data["failures"] if f["crashed"]]
    assert {f["id"].rsplit("::", 1)[-1] for f in crashed} == {
        "test_vector[avg_pool_harness_test#include_pad]",
        "test_vector[avg_pool_harness_test#exclude_pad]",
    }
    assert data["ops"]["max_pool"]["passed"] == 6  # the rest of the run still happened


def test_hang_times_out_and_the_run_finishes(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    report = tmp_path / "r.json"
    proc = check(
        vectors,
        "broken_hang",
        "--only",
        "vectors",
        "--profile",
        "core",
        "--timeout",
        "1.5",
        "--report-json",
        str(report),
    )
    text = output(proc)
    assert proc.returncode == 1, text
    assert "timed out" in text and "[POOL-AVG-3]" in text
    data = json.loads(report.read_text())
    assert data["ops"]["avg_pool"]["failed"] == 2 and data["ops"]["max_pool"]["passed"] == 5


def test_unsupported_is_a_skip_with_its_reason(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    report = tmp_path / "r.json"
    proc = check(
        vectors, "partial_unsupported", "--only", "vectors", "-n", "0", "--report-json", str(report)
    )
    assert proc.returncode == 0, output(proc)
    data = json.loads(report.read_text())
    reasons = data["skip_reasons"]
    assert reasons["max_pool"] == {"unsupported: ceil_mode=True is not implemented": 1}
    assert "unsupported: backend 'partial_unsupported' has no avg_pool()" in reasons["avg_pool"]
    assert data["ops"]["max_pool"]["passed"] == 5 and data["totals"]["failed"] == 0


def test_declared_all_tie_policy_is_judged_against_grad_input_all(vectors: pathlib.Path) -> None:
    proc = check(vectors, "tie_all", "--only", "vectors", "-n", "0", "-k", "max_pool_harness")
    assert proc.returncode == 0, output(proc)
    assert "11 passed" in output(proc) and "grad_input_all: 0" in output(proc)


def test_xfail_file_known_stale_and_xpass(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    known = tmp_path / "known.txt"
    known.write_text(
        "# pads with zero; POOL-MAX-1\n"
        "test_vector[max_pool_harness_test#negative_input_padded]   # pads with zero, POOL-MAX-1, https://example.org/1\n"
        "test_vector[max_pool_harness_test#one_d_not_core]   # pads with zero (1D)\n"
    )
    report = tmp_path / "r.json"
    args = [
        "--only",
        "vectors",
        "-n",
        "0",
        "--profile",
        "full",
        "--xfail-file",
        str(known),
        "--report-json",
        str(report),
    ]
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 0, output(proc)
    data = json.loads(report.read_text())
    assert data["totals"]["xfailed"] == 2 and data["stale_xfail_ids"] == []
    assert "pads with zero, POOL-MAX-1" in data["xfailed"][0]["reason"]

    known.write_text(known.read_text() + "test_vector[max_pool_nosuch_test#gone]  # gone\n")
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 1, output(proc)
    assert "stale known-failure ids" in output(proc)
    assert json.loads(report.read_text())["stale_xfail_ids"] == [
        "test_vector[max_pool_nosuch_test#gone]"
    ]

    known.write_text("test_vector[max_pool_harness_test#no_padding]  # it passes: strict xfail\n")
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 1, output(proc)
    assert "XPASS" in output(proc)


def test_xfail_ids_of_other_profiles_are_not_stale(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    known = tmp_path / "known.txt"
    known.write_text("test_vector[max_pool_harness_test#one_d_not_core]  # 1D: outside core\n")
    proc = check(
        vectors,
        "reference",
        "--only",
        "vectors",
        "-n",
        "0",
        "--profile",
        "core",
        "-k",
        "avg_pool",
        "--xfail-file",
        str(known),
    )
    assert proc.returncode == 0, output(proc)


def test_xfail_profile_qualifier_limits_an_entry_to_its_profiles(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    known = tmp_path / "known.txt"
    failing = "test_vector[max_pool_harness_test#negative_input_padded]"
    report = tmp_path / "r.json"
    args = ["--only", "vectors", "-n", "0", "-k", "negative_input_padded or no_padding"]
    args += ["--profile", "full", "--xfail-file", str(known), "--report-json", str(report)]
    known.write_text(f"{failing}  @core,full   # pads with zero, POOL-MAX-1\n")
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 0, output(proc)
    assert json.loads(report.read_text())["totals"]["xfailed"] == 1
    # listed for the core profile only: under full the failure is an ordinary failure
    known.write_text(f"{failing}  @core   # pads with zero, POOL-MAX-1\n")
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 1, output(proc)
    data = json.loads(report.read_text())
    assert data["totals"]["failed"] == 1 and data["stale_xfail_ids"] == []
    # and a passing test listed for another profile is no XPASS
    known.write_text(
        f"{failing}  @full   # pads with zero, POOL-MAX-1\n"
        "test_vector[max_pool_harness_test#no_padding]  @core   # passes\n"
    )
    proc = check(vectors, "broken_pad_zero_max", *args)
    assert proc.returncode == 0, output(proc)
    assert json.loads(report.read_text())["totals"]["passed"] >= 1


def test_a_known_failing_property_does_not_shrink(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A listed property stops at its first failing example, as ``--no-shrink`` does; an
    unlisted one shrinks (it checks more examples than it would without shrinking)."""
    test = "test_properties.py::test_forward_matches_reference[max_pool]"
    known = tmp_path / "known.txt"
    known.write_text(f"{test}   # pads with zero, POOL-MAX-1\n")
    report = tmp_path / "r.json"

    def checked(*extra: str) -> int:
        args = ["--only", "properties", "-n", "0", "-k", "test_forward_matches_reference"]
        args += ["--report-json", str(report), *extra]
        check(vectors, "broken_pad_zero_max", *args)
        data = json.loads(report.read_text())
        assert data["totals"]["failed"] + data["totals"]["xfailed"] >= 1, data["totals"]
        return int(data["examples"][test]["checked"])

    listed, unshrunk, shrunk = (
        checked("--xfail-file", str(known)),
        checked("--no-shrink"),
        checked(),
    )
    assert listed == unshrunk < shrunk, (listed, unshrunk, shrunk)


def test_junit_xml_is_readable(vectors: pathlib.Path, tmp_path: pathlib.Path) -> None:
    junit = tmp_path / "j.xml"
    proc = check(
        vectors, "broken_pad_zero_max", "--only", "vectors", "-n", "0", "--junit-xml", str(junit)
    )
    assert proc.returncode == 1
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None and suite.get("name") == "poolconf-broken_pad_zero_max"
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == int(suite.get("tests", "0")) > 0
    assert [c.get("name") for c in failed] == [
        "test_vector[max_pool_harness_test#negative_input_padded]",
        "test_vector[max_pool_harness_test#one_d_not_core]",
    ]
    assert "[POOL-MAX-1]" in failed[0].find("failure").get("message", "")


def test_report_json_counts_per_op_and_clause(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    report = tmp_path / "r.json"
    proc = check(
        vectors,
        "broken_avg_counts_pad",
        "--only",
        "vectors",
        "-n",
        "0",
        "--report-json",
        str(report),
    )
    assert proc.returncode == 1
    data = json.loads(report.read_text())
    assert data["op_clauses"]["avg_pool"]["POOL-AVG-4"]["failed"] == 1
    assert data["op_clauses"]["avg_pool"]["POOL-AVG-3"]["passed"] == 1
    assert data["clauses"]["POOL-PARAM-2"]["passed"] == 1
    assert set(data["max_ulp_error"]["max_pool"]["float32"]) == {"output"}
    assert data["exitstatus"] == 1
    assert [f["clauses"][0] for f in data["failures"]] == ["POOL-AVG-4", "POOL-AVG-4"]


def test_pytest_pyargs_with_environment_variable(vectors: pathlib.Path) -> None:
    env = dict(
        os.environ,
        POOLCONF_BACKEND="reference",
        POOLCONF_VECTORS=str(vectors),
        POOLCONF_PROFILE="core",
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "poolconf.conformance",
        "--poolconf-only",
        "vectors",
        "-q",
    ]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=env, timeout=120, cwd=FIXTURES
    )
    text = output(proc)
    assert proc.returncode == 0, text
    assert "poolconf summary" in text and "13 passed" in text


def test_unknown_backend_is_a_usage_error(vectors: pathlib.Path) -> None:
    proc = check(vectors, "no_such_backend_module", "-n", "0")
    assert proc.returncode == 2
    assert "cannot import backend 'no_such_backend_module'" in output(proc)


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


def test_explain_prints_and_reruns(
    vectors: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["explain", "max_pool_harness_test#negative_input_padded", "--vectors", str(vectors)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "'padding': ((1, 1), (1, 1))" in out and "expected.output: float32[1, 1, 2, 2]" in out
    code = cli.main(
        [
            "explain",
            "test_vector[max_pool_harness_test#negative_input_padded]",
            "--vectors",
            str(vectors),
            "--backend",
            "broken_pad_zero_max",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "FAIL test_vector[max_pool_harness_test#negative_input_padded]" in out
        and "[POOL-MAX-1]" in out
    )
    assert "got.output: float32[1, 1, 2, 2]" in out and "test_vector_grad" not in out
    code = cli.main(
        [
            "explain",
            "max_pool_harness_test#negative_input_padded",
            "--vectors",
            str(vectors),
            "--backend",
            "reference",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "PASS test_vector[" in out and "PASS test_vector_grad[" in out
    assert (
        cli.main(["explain", "max_pool_harness_test#no_such_case", "--vectors", str(vectors)]) == 2
    )
    capsys.readouterr()
    # an id written with the tcId, as before names, still finds the case
    assert cli.main(["explain", "max_pool_harness_test#2", "--vectors", str(vectors)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "max_pool_harness_test#negative_input_padded  (max_pool_harness_test.json"
    )


# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------


def test_xfail_file_parsing() -> None:
    known = parse_xfail_text(
        "# a comment line\n\n"
        "test_vector[max_pool_geometry_test#rank1_channels_first_asymmetric]   # reason, POOL-MAX-1\n"
        "test_vectors.py::test_vector_grad[a_b_test#some_case]\n"
    )
    assert list(known) == [
        "test_vector[max_pool_geometry_test#rank1_channels_first_asymmetric]",
        "test_vectors.py::test_vector_grad[a_b_test#some_case]",
    ]
    assert (
        known["test_vector[max_pool_geometry_test#rank1_channels_first_asymmetric]"].reason
        == "reason, POOL-MAX-1"
    )
    nodeid = "conformance/test_vectors.py::test_vector_grad[a_b_test#some_case]"
    assert match(known, "test_vector_grad[a_b_test#some_case]", nodeid) is not None
    assert (
        match(known, "test_vector[a_b_test#some_case]", "x::test_vector[a_b_test#some_case]")
        is None
    )
    assert stale_ids(
        known, {"test_vector[max_pool_geometry_test#rank1_channels_first_asymmetric]"}, []
    ) == ["test_vectors.py::test_vector_grad[a_b_test#some_case]"]
    with pytest.raises(XfailFileError, match="listed twice"):
        parse_xfail_text("a\na\n")
    with pytest.raises(XfailFileError, match="not one test id"):
        parse_xfail_text("a b\n")
    with pytest.raises(XfailFileError, match="not one test id"):
        parse_xfail_text("a @core @full\n")
    with pytest.raises(XfailFileError, match="'@fast' names 'fast', not a profile"):
        parse_xfail_text("a @fast  # reason\n")
    qualified = parse_xfail_text("a @full  # reason\nb @core,full\nc\n")
    assert qualified["a"].profiles == {"full"} and qualified["a"].reason == "reason"
    assert [qualified[k].applies("core") for k in "abc"] == [False, True, True]
    assert all(qualified[k].applies("full") for k in "abc")


def _case(result: str = "acceptable", flags: tuple[str, ...] = (), **kw: object) -> SimpleNamespace:
    return SimpleNamespace(
        result=result, flags=flags, clauses=("POOL-MAX-1",), error_clause=None, **kw
    )


# (declarations, flags of a case, part) -> the judgement's mode and the fields it must have
BELOW = {"padding_limit": "below_kernel"}
REFUSE = {"refusal": "flag PaddingNotBelowKernel, declared below_kernel"}
PLANS = [
    ({}, ("Tie",), "forward", "compare", {}),
    ({"tie_policy": "all"}, ("Tie",), "grad", "compare", {"tie_routing": "all"}),
    (
        {"tie_policy": "all"},
        ("Tie",),
        "forward",
        "compare",
        {"tie_routing": "first", "free_indices": True, "free_zero_sign": True},
    ),
    (
        {"tie_policy": "other"},
        ("Tie",),
        "forward",
        "compare",
        {"free_indices": True, "free_zero_sign": True},
    ),
    (
        {"tie_policy": "other"},
        ("Tie",),
        "grad",
        "skip",
        {"reason": "implementation-defined (flag Tie, declared other)"},
    ),
    (
        {"empty_window": "error"},
        ("EmptyWindow",),
        "forward",
        "raise",
        {"clause": "POOL-EMPTY-1"},
    ),
    ({"nan_index": "other"}, ("NanIndex",), "forward", "compare", {"free_indices": True}),
    ({"nan_index": "other"}, ("NanIndex",), "grad", "skip", {}),
    (
        {"zero_tie": "positive"},
        ("Tie", "ZeroSignTie"),
        "forward",
        "compare",
        {"free_indices": True, "free_zero_sign": True},
    ),
    ({"zero_tie": "positive"}, ("Tie", "ZeroSignTie"), "grad", "compare", {}),
    (
        {"accumulator": "dtype"},
        ("AccumulatorOverflow", "LargeValues"),
        "forward",
        "compare",
        {"accumulator": "dtype"},
    ),
    (
        {"accumulator": "float32"},
        ("AccumulatorOverflow",),
        "grad",
        "compare",
        {"accumulator": "exact"},
    ),
    (
        {"accumulator": "exact"},
        ("AccumulatorOverflow",),
        "forward",
        "compare",
        {"accumulator": "exact"},
    ),
    ({"lp_zero_grad": "other"}, ("LpZeroNorm",), "forward", "compare", {}),
    ({"lp_zero_grad": "other"}, ("LpZeroNorm",), "grad", "skip", {}),
    (
        {"empty_window": "error", "tie_policy": "other"},
        ("EmptyWindow", "Tie"),
        "forward",
        "raise",
        {"clause": "POOL-EMPTY-1"},
    ),
    (
        {"empty_window": "error", "tie_policy": "other"},
        ("EmptyWindow", "Tie"),
        "grad",
        "skip",
        {},
    ),
    ({"tie_policy": "other"}, ("NegativeZero",), "forward", "compare", {}),
    # past a declared padding limit the backend may raise; a raise it must make wins
    (BELOW, ("PaddingNotBelowKernel", "PaddingOverHalfKernel"), "grad", "compare", REFUSE),
    (
        {**BELOW, "empty_window": "error"},
        ("PaddingNotBelowKernel", "EmptyWindow"),
        "forward",
        "raise",
        {"clause": "POOL-EMPTY-1"},
    ),
    (BELOW, ("PaddingOverHalfKernel",), "forward", "compare", {"refusal": ""}),
    (
        {"padding_limit": "half_kernel"},
        ("PaddingOverHalfKernel",),
        "forward",
        "compare",
        {"refusal": "flag PaddingOverHalfKernel, declared half_kernel"},
    ),
    (
        {"padding_limit": "half_kernel"},
        ("PaddingNotBelowKernel",),
        "forward",
        "compare",
        {"refusal": ""},
    ),
]


@pytest.mark.parametrize(("declared", "flags", "part", "mode", "extra"), PLANS)
def test_plan_follows_the_declarations(
    declared: dict, flags: tuple, part: str, mode: str, extra: dict
) -> None:
    from poolconf.reference.flags import DEFAULT_DECLARATIONS

    how = plan(_case(flags=flags), {**DEFAULT_DECLARATIONS, **declared}, part)
    assert how.mode == mode
    for key, value in extra.items():
        assert getattr(how, key) == value


def test_plan_invalid_and_valid() -> None:
    invalid = _case("invalid")
    invalid.error_clause = "POOL-PARAM-2"
    assert (plan(invalid, {}, "forward").mode, plan(invalid, {}, "forward").clause) == (
        "raise",
        "POOL-PARAM-2",
    )
    assert plan(_case("valid", ("Tie",)), {"tie_policy": "other"}, "grad").mode == "compare"


def test_backend_params_and_profiles() -> None:
    stored = {
        "kernel_size": [2, 2],
        "padding": [[0, 1], [1, 1]],
        "stride": [0, 1],
        "ceil_mode": True,
    }
    assert backend_params(stored) == {
        "kernel_size": (2, 2),
        "padding": ((0, 1), (1, 1)),
        "stride": (0, 1),
        "ceil_mode": True,
    }
    assert backend_params({"padding": "same_upper"}) == {"padding": "same_upper"}
    assert (
        symmetric_padding([[1, 1], [2, 2]]) and symmetric_padding("valid") and symmetric_padding(1)
    )
    assert not symmetric_padding([[0, 1], [1, 1]]) and not symmetric_padding("same_upper")
    core, full = get_profile("core"), get_profile("full")
    x4 = np.zeros((1, 1, 4, 4), np.float32)
    case = SimpleNamespace(op="max_pool", inputs={"x": x4}, params={"kernel_size": [2, 2]})
    assert case_in_profile(case, core) and case_in_profile(case, full)
    for op, x, params in [
        ("lp_pool", x4, {}),
        ("max_pool", x4.astype(np.float64), {}),
        ("max_pool", np.zeros((1, 1, 4), np.float32), {}),
        ("avg_pool", x4, {"divisor_override": 2}),
        ("avg_pool", x4, {"dilation": [2, 1]}),
        ("max_pool", x4, {"layout": "channels_last"}),
        ("max_pool", x4, {"padding": [[0, 1], [0, 0]]}),
    ]:
        c = SimpleNamespace(op=op, inputs={"x": x}, params=params)
        assert not case_in_profile(c, core), (op, params)
        assert case_in_profile(c, full)


def test_property_below_its_minimum_is_not_established(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A property whose draws the backend mostly declines skips as not established, with
    its checked count, and an op with nothing else established is not claimed."""
    report = tmp_path / "r.json"
    proc = check(
        vectors, "mostly_unsupported", "--only", "properties", "-n", "0",
        "-k", "test_forward_matches_reference", "--report-json", str(report),
    )  # fmt: skip
    text = output(proc)
    data = json.loads(report.read_text())
    nodeid = "test_properties.py::test_forward_matches_reference[max_pool]"
    examples = data["examples"][nodeid]
    assert 0 < examples["checked"] < examples["budget"] / 4, examples
    assert "not established:" in text and "below the minimum" in text, text
    assert proc.returncode == 3, text
    assert "NOTHING ESTABLISHED" in text.splitlines()[-1], text


def _poolconf(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "POOLCONF_BACKEND"}
    return subprocess.run(
        [sys.executable, "-m", "poolconf", *args],
        check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


def test_user_errors_are_one_line_usage_errors(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A backend that cannot be imported (explain), a known-failure file that is not UTF-8,
    and a --out that is a file or a folder of other files: one line, exit 2, nothing written."""
    bad = tmp_path / "bad_xfail.txt"
    bad.write_bytes(b"\xff\xfe not text")
    stray = tmp_path / "a_file"
    stray.write_text("mine")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    own = tmp_path / "own"
    own.mkdir()
    (own / "my_case_test.json").write_text("{}")
    runs = {
        "cannot import backend 'no_such_backend_module'": _poolconf(
            "explain",
            "max_pool_harness_test#no_padding",
            "--vectors",
            str(vectors),
            "--backend",
            "no_such_backend_module",
            cwd=tmp_path,
        ),
        "is not UTF-8 text": check(vectors, "reference", "--xfail-file", str(bad), "-n", "0"),
        "is a file, not a folder": _poolconf(
            "vectors", "generate", "--out", str(stray), cwd=tmp_path
        ),
        "holds files that are not poolconf vectors (notes.txt)": _poolconf(
            "vectors", "generate", "--out", str(foreign), cwd=tmp_path
        ),
        "holds vector files that poolconf did not write": _poolconf(
            "vectors", "generate", "--out", str(own), cwd=tmp_path
        ),
    }
    for needle, proc in runs.items():
        assert proc.returncode == 2, (needle, output(proc))
        assert needle in proc.stderr + proc.stdout, (needle, output(proc))
        assert "Traceback" not in output(proc), output(proc)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert stray.read_text() == "mine"
    assert sorted(p.name for p in own.iterdir()) == ["my_case_test.json"]


def test_explain_finds_a_backend_beside_the_user(
    vectors: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """``--backend mymodule`` works from the folder that holds mymodule.py, as check does."""
    (tmp_path / "my_local_backend.py").write_text(
        "from poolconf.reference import max_pool, max_pool_grad\n"
    )
    proc = _poolconf(
        "explain", "max_pool_harness_test#no_padding", "--vectors", str(vectors),
        "--backend", "my_local_backend", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, output(proc)
    assert "backend 'my_local_backend'" in proc.stdout


def test_vectors_are_selected_by_flag(tmp_path: pathlib.Path) -> None:
    """A vector's flags are pytest keywords: ``-k CeilModeLastWindow`` runs exactly the
    installed vectors that carry it, forward and gradient parts."""
    cases = load_cases(None)
    want = sum(1 + ("grad_output" in c.inputs) for c in cases if "CeilModeLastWindow" in c.flags)
    assert want > 0
    proc = _poolconf(
        "check", "numpy-strided", "--only", "vectors", "-k", "CeilModeLastWindow", "-n", "0",
        cwd=tmp_path,
    )  # fmt: skip
    last = output(proc).strip().splitlines()[-1]
    assert proc.returncode == 0, output(proc)
    assert f"{want} tests: {want} passed" in last, last


def test_tests_are_selected_by_clause(tmp_path: pathlib.Path) -> None:
    """Clause ids are pytest keywords too: ``-k POOL-UNPOOL-2`` runs the vector parts
    whose case names the clause (an invalid case also by its error clause) and nothing
    else of the vectors."""
    clause = "POOL-UNPOOL-2"

    def names(c: VectorCase) -> set[str]:
        return {*c.clauses, *([c.error_clause] if c.result == "invalid" else [])}

    cases = load_cases(None)
    want = sum(1 + ("grad_output" in c.inputs) for c in cases if clause in names(c))
    assert want > 0
    proc = _poolconf(
        "check", "numpy-strided", "--only", "vectors", "-k", clause, "-n", "0", cwd=tmp_path
    )  # fmt: skip
    last = output(proc).strip().splitlines()[-1]
    assert proc.returncode == 0, output(proc)
    assert f"{want} tests: {want} passed" in last, last


def _check_installed(backend: str, *args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), env.get("PYTHONPATH", "")])
    env.pop("POOLCONF_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "poolconf", "check", backend, *args],
        check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("backend", "flag", "status", "needle"),
    [
        ("flushing", "Subnormal", 0, "CONFORMS"),
        ("flushing_undeclared", "Subnormal", 1, "[POOL-DTYPE-5]"),
        ("flushing_wrong", "Subnormal", 1, "also compared with the flushed reference"),
        ("accumulating", "AccumulatorOverflow", 0, "10 passed, 0 failed"),
        ("accumulating_undeclared", "AccumulatorOverflow", 1, "[POOL-DTYPE-6]"),
        ("accumulating_narrow", "AccumulatorOverflow", 1, "float16_near_max"),
        ("limited", "PaddingNotBelowKernel", 0, "CONFORMS"),
        ("limited_partly", "PaddingNotBelowKernel", 0, "CONFORMS"),
        ("limited_wrong", "PaddingNotBelowKernel", 1, "[POOL-PARAM-7]"),
    ],
)
def test_a_declared_choice_is_judged_by_declaration(
    backend: str, flag: str, status: int, needle: str, tmp_path: pathlib.Path
) -> None:
    """On the installed vectors carrying ``flag``: a backend that flushes subnormals (DAZ
    and FTZ) passes when it declares subnormals="flush", fails naming POOL-DTYPE-5 when it
    does not, and a wrong normal value still fails [POOL-DTYPE-5]; a backend whose window
    sums and Lp powers are float32 (float64 for float64 data) passes when it declares
    accumulator="float32", fails citing POOL-DTYPE-6 when it does not, and one that
    declares float32 but sums float16 in float16 fails where a float32 accumulator would
    not overflow [POOL-DTYPE-6]; past a declared padding_limit a backend may raise (on
    every op or some) or return the reference's value, not a wrong one [POOL-PARAM-7]."""
    proc = _check_installed(backend, "--only", "vectors", "-k", flag, "-n", "0", cwd=tmp_path)
    text = output(proc)
    assert proc.returncode == status, text
    assert needle in text, text
