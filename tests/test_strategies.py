"""The conformance strategies draw only valid cases, cover the spec's parameter space,
and the reference passes the property, gradient, metamorphic and hygiene modules."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from poolconf import reference as ref
from poolconf.conformance import strategies as S
from poolconf.conformance.profiles import get_profile
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import flags as flagreg
from poolconf.reference import geometry as geo

FAST = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _draws(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` derandomised examples of ``strategy``."""
    out: list[Any] = []

    @settings(FAST, max_examples=n)
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out


@FAST
@given(S.pool_cases(special=st.booleans()))
def test_reference_accepts_every_draw(case: S.PoolCase) -> None:
    """Forward (and gradient) of every drawn case run on the reference without an error,
    and produce the shape the strategy predicts."""
    out = S.reference_forward(case.op, case.inputs, case.params)
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape == case.config.output_shape()
    assert case.x.size <= 200
    if case.grad_output is not None:
        grad = getattr(ref, cat.grad_of(case.op))
        args = [*case.inputs.values(), case.grad_output]
        grad(*args, **case.params)


def test_draws_cover_the_parameter_space() -> None:
    seen: Counter[str] = Counter()
    for case in _draws(S.pool_cases(special=st.booleans()), 600):
        c = case.config
        seen.update([f"op:{c.op}", f"rank:{c.rank}", f"layout:{c.layout}", f"dtype:{c.dtype}"])
        if c.padding_kind:
            seen[f"padding:{c.padding_kind}"] += 1
        if c.op in cat.forward_ops("window"):
            seen[f"ceil_mode:{c.params.get('ceil_mode', False)}"] += 1
        if c.op == "avg_pool":
            seen[f"count_include_pad:{c.params.get('count_include_pad', True)}"] += 1
            seen[f"divisor_override:{c.params.get('divisor_override') is not None}"] += 1
        # keywords left out so the backend's defaults apply [POOL-PARAM-*]
        defaulted = {"ceil_mode", "dilation", "layout"} - set(c.params)
        if c.op in cat.forward_ops("window") and defaulted:
            seen["defaulted keywords left out"] += 1
        if any(d > 1 for d in c.params.get("dilation", (1,))):
            seen["dilation>1"] += 1
        if c.has_empty_window():
            seen["empty window"] += 1
    wanted = (
        [f"op:{op}" for op in ref.FORWARD_OPS]
        + [f"rank:{r}" for r in (1, 2, 3)]
        + [f"layout:{lay}" for lay in cat.LAYOUTS]
        + [f"dtype:{d}" for d in dt.ALL_DTYPES]
        + [f"padding:{k}" for k in S.PADDING_KINDS]
        + [
            "ceil_mode:True",
            "ceil_mode:False",
            "count_include_pad:True",
            "count_include_pad:False",
            "divisor_override:True",
            "divisor_override:False",
            "dilation>1",
            "empty window",
            "defaulted keywords left out",
        ]
    )
    missing = [w for w in wanted if not seen[w]]
    assert not missing, f"not drawn in 600 examples: {missing}"


def test_special_values_are_drawn() -> None:
    kinds: Counter[str] = Counter()
    for case in _draws(S.pool_cases(op="max_pool", dtype="float32", special=True), 150):
        x = case.x.astype(np.float64)
        kinds["nan"] += int(np.isnan(x).any())
        kinds["+inf"] += int((x == math.inf).any())
        kinds["-inf"] += int((x == -math.inf).any())
        kinds["-0.0"] += int(((x == 0) & np.signbit(x)).any())
        tiny = np.finfo(np.float32).tiny
        kinds["subnormal"] += int(((np.abs(x) < tiny) & (x != 0)).any())
        kinds["huge"] += int((np.abs(x[np.isfinite(x)]) > 1e36).any())
        kinds["tie"] += int(
            "Tie" in flagreg.detect(case.op, case.x, case.params, reports=True, grad=False)
        )
    missing = [
        k for k in ("nan", "+inf", "-inf", "-0.0", "subnormal", "huge", "tie") if not kinds[k]
    ]
    assert not missing, f"special values never drawn: {missing}"


@FAST
@given(S.pool_cases(length_rule="mirror", op=st.sampled_from(("max_pool", "avg_pool", "conv"))))
def test_mirror_symmetric_draws_mirror(case: S.PoolCase) -> None:
    g = case.config.geometry()
    assert g is not None
    for a in g.axes:
        eff = geo.effective_kernel(a.kernel, a.dilation)
        assert (a.length + a.pad_begin + a.pad_end - eff) % a.stride == 0
    assert not case.params.get("ceil_mode", False)
    padding = case.params.get("padding", 0)
    assert not isinstance(padding, str) or padding == "valid"


@FAST
@given(
    S.pool_cases(
        allow_empty_windows=False,
        distinct=True,
        op=st.sampled_from((*cat.forward_ops("window"), "conv")),
    )
)
def test_no_empty_windows_and_distinct_values(case: S.PoolCase) -> None:
    assert not case.config.has_empty_window()
    assert len(np.unique(case.x)) == case.x.size


@FAST
@given(
    st.sampled_from(("below_kernel", "half_kernel")).flatmap(
        lambda limit: st.tuples(
            st.just(limit),
            S.pool_configs(op=st.sampled_from(cat.forward_ops("window")), padding_limit=limit),
        )
    )
)
def test_draws_stay_within_the_padding_limit(drawn: tuple[str, S.PoolConfig]) -> None:
    """pool_configs(padding_limit=...) never draws explicit padding past it [POOL-PARAM-7]."""
    limit, config = drawn
    found = flagreg.padding_flags(config.op, config.spatial, config.params)
    assert flagreg.within_padding_limit(limit, found), (limit, found, config)


def test_padding_limit_must_be_known() -> None:
    with pytest.raises(InvalidArgument, match=r"padding_limit='pad < k'"):
        S.pool_configs(padding_limit="pad < k")


@FAST
@given(
    S.pool_cases(
        op=st.sampled_from(("max_pool", "avg_pool")), **get_profile("core").strategy_kwargs()
    )
)
def test_core_profile_draws_stay_in_core(case: S.PoolCase) -> None:
    core = get_profile("core")
    assert core.allows(case.op, rank=case.config.rank, dtype=case.config.dtype, params=case.params)


def test_params_are_normalised() -> None:
    omitted = 0
    for case in _draws(S.pool_cases(op=st.sampled_from(cat.forward_ops("window"))), 60):
        p = case.params
        # stride may be left out (it defaults to kernel_size [POOL-PARAM-2]); never None
        omitted += "stride" not in p
        for key in ("kernel_size", "stride", "dilation"):
            if key in p:
                assert isinstance(p[key], tuple) and all(type(v) is int for v in p[key])
        pad = p["padding"]
        assert pad in geo.PADDING_STRINGS or all(
            isinstance(pair, tuple) and len(pair) == 2 for pair in pad
        )
    assert 0 < omitted < 60, f"stride left out in {omitted} of 60 draws"


@pytest.mark.skipif(os.environ.get("POOLCONF_SKIP_SUBPROCESS") == "1", reason="subprocess runs off")
@pytest.mark.timeout(600)
def test_reference_passes_the_property_modules(tmp_path: Any) -> None:
    """The reference passes properties, gradients, metamorphic and hygiene checks
    (full profile, 5 examples per property)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "poolconf.conformance",
        "--poolconf-backend=reference",
        "--poolconf-profile=full",
        "--poolconf-examples",
        "5",
        "-k",
        "properties or gradients or metamorphic or hygiene",
        "-q",
    ]
    proc = subprocess.run(
        cmd, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    counts = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", proc.stdout)
    assert counts is not None, tail
    assert int(counts[1]) >= 150 and int(counts[2]) == 0 and int(counts[3]) == 0, tail


# ---------------------------------------------------------------------------
# the scale tier
# ---------------------------------------------------------------------------


def test_scale_configs_reach_channel_tails_and_wide_sides() -> None:
    """The scale tier draws what it promises: channel tails past a chunk (C = 17),
    sides past a 64-wide tile, batches above 2, both layouts, every rank, at most
    ``SCALE_MAX_ELEMENTS`` elements, valid geometry, and only its quick dtypes."""
    from poolconf.conformance.strategies import configs as C

    drawn = _draws(S.scale_configs(op=st.sampled_from(("max_pool", "avg_pool"))), 120)
    for cfg in drawn:
        assert math.prod(cfg.x_shape) <= C.SCALE_MAX_ELEMENTS, cfg
        assert cfg.channels in C.SCALE_CHANNELS and 1 <= cfg.batch <= C.SCALE_MAX_BATCH
        assert max(cfg.spatial) <= C.SCALE_MAX_SIDE and cfg.dtype in C.SCALE_DTYPES
        assert all(v >= 1 for v in cfg.output_shape())
    assert any(c.channels == 17 and c.layout == "channels_last" for c in drawn)
    assert any(c.spatial[-1] > C.SCALE_TILE for c in drawn)
    assert any(c.rank == 2 and min(c.spatial) > C.SCALE_TILE for c in drawn)
    assert any(c.batch > 2 for c in drawn)
    assert {c.rank for c in drawn} == {1, 2, 3}
    assert {c.layout for c in drawn} == set(cat.LAYOUTS)


def test_scale_cases_permute_memory_order() -> None:
    """``permuted`` stores x in the other layout's memory order with the same values."""
    cases = _draws(S.pool_cases(config=S.scale_configs(op="max_pool", rank=2), permuted=True), 5)
    for case in cases:
        x = case.x
        if case.config.channels > 1 and math.prod(case.config.spatial) > 1:
            assert not x.flags.c_contiguous, case.config
        assert x.copy(order="K").strides == x.strides  # the harness's copies keep it


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32"])
def test_large_array_literal_rebuilds_exactly(dtype: str) -> None:
    """A reproducer's array past ``LITERAL_ELEMENTS`` elements (its bytes in base64) and
    a transposed one rebuild bit for bit."""
    import ml_dtypes

    from poolconf.conformance.assertions import LITERAL_ELEMENTS, array_literal
    from poolconf.conformance.strategies.values import seeded_dense

    a = seeded_dense(7, (2, 3, 40, 40), dtype)
    assert a.size > LITERAL_ELEMENTS
    for arr in (a, np.moveaxis(a, 1, -1)):
        back = eval(array_literal(arr), {"np": np, "ml_dtypes": ml_dtypes})
        assert back.dtype == arr.dtype and back.shape == arr.shape
        assert np.ascontiguousarray(back).tobytes() == np.ascontiguousarray(arr).tobytes()


_PROBE = """
import sys, types
sys.path.insert(0, sys.argv[1])
import probe_constants  # a module outside site-packages, with a literal in its source
from hypothesis import strategies as st
from poolconf.conformance import harness
if sys.argv[2] == "as-hypothesis-does":
    harness.ignore_source_constants = lambda: False
node = types.SimpleNamespace(
    name="test_probe", user_properties=[], get_closest_marker=lambda name: None
)
request = types.SimpleNamespace(config=None, node=node)
drawn = []
big = st.integers(10**9, 10**9 + 10**6)
harness.run_property(request, st.tuples(big, big, big, big), drawn.append, scale=20)
print(len(drawn), sum(v.count(1_000_123_457) for v in drawn))
"""


@pytest.mark.parametrize("mode", ["as-hypothesis-does", "run_property"])
def test_draws_ignore_constants_in_local_source(mode: str, tmp_path: Any) -> None:
    """A property's draws do not depend on the source text of loaded modules outside
    site-packages (Hypothesis mixes their literals into its draws), so an editable and a
    wheel install of poolconf, or two backend modules that differ in a constant, draw the
    same examples. The control shows the probe can see the difference: without
    ``ignore_source_constants`` Hypothesis draws the probe module's literal."""
    (tmp_path / "probe_constants.py").write_text("MAGIC = 1_000_123_457\n")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path), mode],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / ".hypothesis")},
    )
    assert out.returncode == 0, out.stderr
    checked, magic = map(int, out.stdout.split())
    assert checked == 400
    if mode == "as-hypothesis-does":
        if magic == 0:
            pytest.skip("this Hypothesis draws no constants from local source")
    else:
        assert magic == 0, f"the local literal was drawn {magic} times in {checked} examples"
