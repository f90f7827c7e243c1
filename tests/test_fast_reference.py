"""The fast oracle (``poolconf.reference.fast``) against the loop reference, bit for bit.

The loop reference is the definition. Every example runs both and requires the same
result: same shape and dtype, every element with the same bits (any NaN matching any
NaN, so the sign of every zero counts), or the same ``SpecError`` message. Examples
cover every op, rank 1-3, both layouts, every padding kind, ceil mode, dilation,
``count_include_pad``, ``divisor_override``, ``p``, ``output_size``, ``groups``, every
dtype, special values (NaN, +-inf, -0.0, subnormals, ties, huge and tiny magnitudes),
general upstream values and weights, and tiny plane blocks so that block boundaries fall
inside the arrays. Targeted tests pin empty windows, the ceil-mode overhang, each
fallback path, zero-size arrays, strided and read-only inputs, invalid arguments, every
integer dtype with its extremes, and sizes past what the drawn examples reach (17
channels, planes of more than 2**16 elements).

Budget: the drawn property runs ``DEFAULT_EXAMPLES`` (60) derandomized examples per op,
so the file takes about a minute with ``-n 2`` on two cores; each value of a parameter
those examples missed gets a few examples of its own (``_top_up``), and the test asserts
that every value of every parameter above was reached (``required_features``: each
float dtype, some integer dtype, both layouts, ranks 1-3, special values on and off,
every padding kind, dilation, ceil mode, ``count_include_pad``, ``divisor_override``,
``p`` of 1, 2-6 and past 6, both tie policies). For a heavier run set
``POOLCONF_FAST_EXAMPLES``, e.g. ``POOLCONF_FAST_EXAMPLES=1000 python -m pytest
tests/test_fast_reference.py -n 2``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolconf import SpecError
from poolconf import reference as ref
from poolconf.conformance import strategies as S
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import fast
from poolconf.reference.fast import common as fast_common
from poolconf.reference.fast import windows as fast_windows

DEFAULT_EXAMPLES = 60
# examples per op: the default keeps the file near a minute with ``-n 2`` on two cores;
# POOLCONF_FAST_EXAMPLES=1000 (or more) is the heavier run
EXAMPLES = int(os.environ.get("POOLCONF_FAST_EXAMPLES", DEFAULT_EXAMPLES))
FORWARD_OF = {grad: cat.op(grad).forward for grad in cat.GRAD_OPS}
ALL_OPS = (*ref.FORWARD_OPS, *ref.GRAD_OPS)
NAN, INF = math.nan, math.inf


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def assert_same(expected: Any, got: Any, where: str = "result") -> None:
    """Same structure, shapes, dtypes and bits; NaN matches NaN."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), where
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{where}[{i}]")
        return
    if expected is None:
        assert got is None, f"{where}: expected None"
        return
    assert isinstance(got, np.ndarray), f"{where}: {type(got).__name__}"
    assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind in "iu":
        np.testing.assert_array_equal(got, expected, err_msg=where)
        return
    e64, g64 = expected.astype(np.float64), got.astype(np.float64)
    same = (_bits(expected) == _bits(got)) | (np.isnan(e64) & np.isnan(g64))
    if not same.all():
        at = np.argwhere(~same)[:5].tolist()
        pairs = [(float(e64[tuple(i)]), float(g64[tuple(i)])) for i in at]
        raise AssertionError(
            f"{where}: {int((~same).sum())} elements differ, e.g. at {at}: {pairs}"
        )


def _call(fn: Any, args: list[Any], params: dict[str, Any]) -> Any:
    try:
        return fn(*args, **params)
    except SpecError as exc:
        return exc


def check_call(op: str, args: list[Any], params: dict[str, Any]) -> Any:
    """Run the reference and the fast path on the same arguments and compare; the fast
    path must leave its inputs unchanged and return arrays that share no memory with
    them [POOL-SHAPE-2]."""
    before = [None if a is None else a.copy() for a in args]
    expected = _call(getattr(ref, op), args, params)
    got = _call(getattr(fast, op), args, params)
    if isinstance(expected, SpecError) or isinstance(got, SpecError):
        assert isinstance(got, SpecError) and isinstance(expected, SpecError), (expected, got)
        assert str(got) == str(expected) and got.clause == expected.clause
        return got
    assert_same(expected, got, op)
    outs = got if isinstance(got, tuple) else (got,)
    for a, b in zip(args, before):
        if a is not None:
            assert_same(b, a, f"{op}: input modified")
            for o in outs:
                assert o is None or not np.shares_memory(o, a), f"{op}: output aliases an input"
    return got


@contextlib.contextmanager
def block_bytes(n: int) -> Iterator[None]:
    old = fast_windows.BLOCK_BYTES
    fast_windows.BLOCK_BYTES = n
    try:
        yield
    finally:
        fast_windows.BLOCK_BYTES = old


# ---------------------------------------------------------------------------
# the differential property
# ---------------------------------------------------------------------------


@st.composite
def calls(
    draw: Any, op: str, forced: dict[str, Any] | None = None
) -> tuple[list[Any], dict[str, Any], int, set[str]]:
    """Arguments of one call of ``op``: a drawn configuration (``pool_configs``), its
    arrays (``pool_cases``), and for gradients and conv sometimes general upstream values
    and weights in place of the seeded quarter-integers; a block size; and the features
    of the call (``features``). ``forced``: ``pool_configs`` arguments that pin a value."""
    fwd = FORWARD_OF.get(op, op)
    special = draw(st.booleans(), label="special")
    dtypes = st.sampled_from(dt.FLOAT_DTYPES) if op != fwd else None  # gradients: floats
    config_args = {"dtype": dtypes, "max_p": 7, **(forced or {})}
    cfg = draw(S.pool_configs(op=fwd, **config_args), label="config")
    huge = (
        float(ml_dtypes.finfo(dt.numpy_dtype(cfg.dtype)).max) / 4
        if dt.is_float(cfg.dtype)
        else 100.0
    )
    magnitude = draw(st.sampled_from([100.0, 2.0**-10, huge]), label="max_magnitude")
    case = draw(S.pool_cases(config=cfg, special=special, max_magnitude=magnitude), label="case")
    params = dict(case.params)
    inputs = dict(case.inputs)
    general = functools.partial(
        S.arrays, dtype=cfg.dtype, special=draw(st.booleans(), label="special 2")
    )
    if fwd == "conv" and draw(st.booleans(), label="general weights"):
        inputs["weight"] = draw(general(shape=inputs["weight"].shape), label="weight")
        if inputs["bias"] is not None:
            inputs["bias"] = draw(general(shape=inputs["bias"].shape), label="bias")
    if fwd == "avg_pool" and draw(st.booleans(), label="large divisor_override"):
        params["divisor_override"] = draw(st.sampled_from([3 * 2**28 + 1, 2**40, 2**53 + 1]))
    args = list(inputs.values())
    if op != fwd:
        g = case.grad_output
        assert g is not None
        if draw(st.booleans(), label="general grad_output"):
            g = draw(general(shape=g.shape), label="grad_output")
        args = [*args, g] if op == "conv_grad" else [args[0], g]
        if op in ("max_pool_grad", "adaptive_max_pool_grad"):
            params["tie_policy"] = draw(st.sampled_from(["first", "all"]), label="tie_policy")
    block = draw(st.sampled_from([1, 1 << 12, fast_windows.BLOCK_BYTES]), label="block bytes")
    return args, params, block, features(cfg, params, special)


def features(cfg: S.PoolConfig, params: dict[str, Any], special: bool) -> set[str]:
    """What a drawn call covers of the parameter space (defaults may be left out of
    ``params``)."""
    dilation = params.get("dilation", 1)
    p = params.get("p", 2)
    found = {
        f"dtype={cfg.dtype if dt.is_float(cfg.dtype) else 'an integer'}",
        f"layout={cfg.layout}",
        f"rank={cfg.rank}",
        f"special={special}",
        f"ceil_mode={bool(params.get('ceil_mode', False))}",
        f"count_include_pad={bool(params.get('count_include_pad', True))}",
        f"divisor_override={params.get('divisor_override') is not None}",
        f"tie_policy={params.get('tie_policy', 'first')}",
        "p=1" if p == 1 else f"p={'2..6' if p <= 6 else '>6'}",
        f"dilated={any(d > 1 for d in (dilation if isinstance(dilation, tuple) else (dilation,)))}",
    }
    if cfg.padding_kind is not None:
        found.add(f"padding={cfg.padding_kind}")
    return found


def required_features(op: str) -> set[str]:
    """The parameter space of ``op``, each value of each parameter at least once (every
    float dtype, and some integer dtype where the op takes them: each integer dtype is
    covered by ``test_every_integer_dtype``)."""
    fwd = cat.op(FORWARD_OF.get(op, op))
    want = {f"dtype={d}" for d in cat.op(op).dtypes if dt.is_float(d)}
    want |= {"dtype=an integer"} if cat.op(op).takes_ints else set()
    want |= {f"layout={la}" for la in cat.LAYOUTS}
    want |= {"rank=1", "rank=2", "rank=3", "special=True", "special=False"}
    if fwd.windowed:
        want |= {f"padding={k}" for k in S.PADDING_KINDS} | {"dilated=True", "dilated=False"}
    if fwd.family == "window":
        want |= {"ceil_mode=True", "ceil_mode=False"}
    if fwd.name == "avg_pool":
        want |= {"count_include_pad=True", "count_include_pad=False", "divisor_override=True"}
    if fwd.reduction == "lp":
        want |= {"p=1", "p=2..6", "p=>6"}
    if "tie_policy" in cat.op(op).params:
        want |= {"tie_policy=first", "tie_policy=all"}
    return want


def _top_up(op: str, feature: str, seen: set[str]) -> None:
    """A few examples of ``op`` with ``feature`` (``name=value``): pinned through
    ``pool_configs`` where it takes the parameter, filtered for otherwise."""
    name, value = feature.split("=", 1)
    forced: dict[str, Any] = {}
    if name == "dtype":
        forced["dtype"] = st.sampled_from(dt.INT_DTYPES) if value == "an integer" else value
    elif name == "layout":
        forced["layout"] = value
    elif name == "rank":
        forced["rank"] = int(value)
    elif name == "ceil_mode":
        forced["ceil_mode"] = value == "True"
    elif name == "padding":
        forced["padding_kind"] = value

    @settings(
        max_examples=3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(calls(op, forced).filter(lambda call: feature in call[3]))
    def prop(call: tuple[list[Any], dict[str, Any], int, set[str]]) -> None:
        args, params, block, covered = call
        with block_bytes(block):
            check_call(op, args, params)
        seen.update(covered)

    prop()


@pytest.mark.parametrize("op", ALL_OPS)
def test_fast_path_equals_loop_reference(op: str) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(calls(op))
    def prop(call: tuple[list[Any], dict[str, Any], int, set[str]]) -> None:
        args, params, block, covered = call
        with block_bytes(block):
            check_call(op, args, params)
        seen.update(covered)

    fast.reset_fallback_counts()
    prop()
    for feature in sorted(required_features(op) - seen):
        # Hypothesis does not draw the same examples in every process: each value of
        # each parameter that this run missed gets a few examples of its own
        _top_up(op, feature, seen)
    missing = required_features(op) - seen
    assert not missing, f"{op}: no example drew {sorted(missing)}"
    # how often the fast path fell back (shown with -s), counted over every call made
    n = fast.fallback_counts().get(op, {})
    print(
        f"\nfallbacks {op}: {n.get('fallback_elements', 0)} of {n.get('elements', 0)} elements one by "
        f"one; {n.get('fallback_calls', 0)} of {n.get('calls', 0)} calls whole "
        f"({n.get('fallback_call_elements', 0)} elements)"
    )


# ---------------------------------------------------------------------------
# targeted cases
# ---------------------------------------------------------------------------


def a1(*values: float, dtype: Any = np.float32) -> np.ndarray:
    return np.array(values, dtype=dtype).reshape(1, 1, -1)


def rand(
    shape: tuple[int, ...], dtype: str = "float32", seed: int = 0, scale: float = 1.0
) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(
        dt.numpy_dtype(dtype)
    )


WINDOW_OPS = ("max_pool", "max_pool_with_indices", "avg_pool", "lp_pool")


@pytest.mark.parametrize("dtype", dt.FLOAT_DTYPES)
@pytest.mark.parametrize("op", WINDOW_OPS)
def test_empty_windows_and_overhang(op: str, dtype: str) -> None:
    """Windows entirely in padding [POOL-EMPTY-1] and a ceil-mode overhang [POOL-GEOM-3]."""
    x = rand((2, 3, 5, 4), dtype)
    extra = {"count_include_pad": False} if op == "avg_pool" else {}
    for params in (
        {"kernel_size": 2, "stride": 2, "padding": 2},
        {"kernel_size": 2, "stride": 3, "padding": ((2, 2), (0, 1)), "dilation": (3, 1)},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": (2, 3), "stride": (3, 2), "padding": "same_lower", "ceil_mode": True},
    ):
        check_call(op, [x], {**params, **extra})
        if op == "avg_pool":
            check_call(op, [x], {**params, "count_include_pad": True})
            check_call("avg_pool_grad", [x, ref.avg_pool(x, **params)], params)
        if op == "max_pool":
            g = ref.max_pool(x, **params)
            for tie in ("first", "all"):
                check_call("max_pool_grad", [x, g], {**params, "tie_policy": tie})
        if op == "lp_pool":
            check_call("lp_pool_grad", [x, ref.lp_pool(x, **params)], params)


def _fallbacks(op: str) -> dict[str, int]:
    return fast.fallback_counts().get(op, {})


def test_float64_sums_that_cannot_be_proven_fall_back() -> None:
    """Full float64 significands over several binades: the float64 sum may round, so the
    elements go to the loop reference, and the result is still the reference's."""
    fast.reset_fallback_counts()
    x = np.array([1.0 + 2**-52, 2.0**-30, 3.0 + 2**-51, 1e-300], dtype=np.float64).reshape(1, 1, 4)
    check_call("avg_pool", [x], {"kernel_size": 4})
    assert _fallbacks("avg_pool")["fallback_elements"] == 1


def test_float64_sums_by_two_limbs() -> None:
    """Random float64 data (full significands): each window sum is split into two exact
    limb sums and rounded by exact sign tests, with no fallback."""
    fast.reset_fallback_counts()
    x = rand((2, 3, 11, 9), "float64", 4)
    g = rand((2, 3, 6, 5), "float64", 5)
    params = {"kernel_size": 3, "stride": 2, "padding": 1}
    check_call("avg_pool", [x], params)
    check_call("avg_pool_grad", [x, g], params)
    check_call(
        "max_pool_grad",
        [x, rand((2, 3, 6, 5), "float64", 6)],
        {**params, "stride": 1, "kernel_size": 5, "padding": 2},
    )
    check_call("global_avg_pool", [x], {})
    check_call("adaptive_avg_pool", [x], {"output_size": (4, 7)})
    for op in ("avg_pool", "avg_pool_grad", "global_avg_pool", "adaptive_avg_pool"):
        assert _fallbacks(op)["fallback_elements"] == 0, op


def test_sums_near_the_float64_maximum() -> None:
    """A limb or partial sum that would reach 2**1024 is never trusted."""
    big = np.finfo(np.float64).max
    x = np.array([big, big, -big, big / 3, 1.0, -big], dtype=np.float64).reshape(1, 1, 6)
    for params in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1}, {"kernel_size": 6}):
        check_call("avg_pool", [x], params)
        check_call("lp_pool", [x], {**params, "p": 1})
    check_call("global_avg_pool", [x], {})
    check_call("avg_pool_grad", [x, np.full((1, 1, 5), big)], {"kernel_size": 2, "stride": 1})


def test_midpoint_quotients() -> None:
    """``S / d`` exactly a float32 midpoint: resolved exactly for small ``d`` (ties to
    even), left to the loop reference for ``d >= 2**28``."""
    fast.reset_fallback_counts()
    x = a1(3.0, 3 * 2.0**-24)  # sum / 3 = 1 + 2**-24, the midpoint between 1 and 1 + 2**-23
    check_call("avg_pool", [x], {"kernel_size": 2, "divisor_override": 3})
    assert float(fast.avg_pool(x, kernel_size=2, divisor_override=3)[0, 0, 0]) == 1.0  # even
    x = a1(3.0, 3 * 2.0**-24, 2.0**-40)  # just above the midpoint: rounds up
    check_call("avg_pool", [x], {"kernel_size": 3, "divisor_override": 3})
    assert float(fast.avg_pool(x, kernel_size=3, divisor_override=3)[0, 0, 0]) == 1.0 + 2.0**-23
    assert _fallbacks("avg_pool")["fallback_elements"] == 0
    x = a1(2.0**40, 2.0**16, dtype=np.float32)  # sum / 2**40 = 1 + 2**-24
    check_call("avg_pool", [x], {"kernel_size": 2, "divisor_override": 2**40})
    assert _fallbacks("avg_pool")["fallback_elements"] == 1
    check_call("avg_pool", [x], {"kernel_size": 2, "divisor_override": 2**53 + 1})
    assert _fallbacks("avg_pool")["fallback_calls"] == 1
    assert _fallbacks("avg_pool")["fallback_call_elements"] == 1


def test_lp_tie_and_whole_call_fallbacks() -> None:
    """An Lp norm exactly on a float32 midpoint (20971525 from a 3-4-5 triangle) is never
    certified and goes to the loop reference; float64 with ``p >= 2`` and ``p > 6`` go
    whole."""
    fast.reset_fallback_counts()
    k = 2**22 + 1
    x = a1(3 * k, 4 * k)
    check_call("lp_pool", [x], {"kernel_size": 2, "p": 2})
    assert float(fast.lp_pool(x, kernel_size=2, p=2)[0, 0, 0]) == 20971524.0
    assert _fallbacks("lp_pool")["fallback_elements"] >= 1
    check_call("lp_pool_grad", [x, a1(1.0)], {"kernel_size": 2, "p": 2})
    for dtype, p in (("float64", 2), ("float32", 7)):
        xx = rand((1, 2, 6), dtype)
        check_call("lp_pool", [xx], {"kernel_size": 3, "p": p})
        check_call("global_lp_pool", [xx], {"p": p})
        check_call("lp_pool_grad", [xx, rand((1, 2, 2), dtype, 1)], {"kernel_size": 3, "p": p})
    assert _fallbacks("lp_pool")["fallback_calls"] == 2
    assert _fallbacks("lp_pool_grad")["fallback_calls"] == 2


def test_flush_to_zero_environment_goes_to_the_loop_reference() -> None:
    torch = pytest.importorskip("torch")
    fast.reset_fallback_counts()
    x = a1(1e-40, -1e-41, 2e-45, 0.0)
    torch.set_flush_denormal(True)
    try:
        flushing = not fast_common._fp_env_ok()
        expected = ref.avg_pool(x, kernel_size=2)
        got = fast.avg_pool(x, kernel_size=2)
    finally:
        torch.set_flush_denormal(False)
    if not flushing:
        pytest.skip("this CPU does not flush subnormals")
    assert_same(expected, got)
    assert _fallbacks("avg_pool")["fallback_calls"] == 1


def _args_for(
    op: str, x: np.ndarray, layout: str = "channels_first"
) -> tuple[list[Any], dict[str, Any]]:
    """Arguments of ``op`` on ``x`` for the size tests."""
    cf = np.moveaxis(x, -1, 1) if layout == "channels_last" else x
    rank = cf.ndim - 2
    fwd = FORWARD_OF.get(op, op)
    params: dict[str, Any] = {"layout": layout}
    if fwd in WINDOW_OPS:
        params.update(kernel_size=3, stride=2, padding=1)
        if fwd in ("lp_pool",):
            params["p"] = 2
    elif fwd.startswith("adaptive"):
        params["output_size"] = tuple(max(1, (L * 2) // 3) for L in cf.shape[2:])
    elif fwd == "global_lp_pool":
        params["p"] = 3
    elif fwd == "zero_pad":
        params["padding"] = ((1, 0),) * rank
    args: list[Any] = [x]
    if fwd == "max_unpool":
        v, i = ref.max_pool_with_indices(x, kernel_size=2, layout=layout)
        args = [v, i]
        params["kernel_size"] = 2
    if fwd == "conv":
        c = cf.shape[1]
        args = [
            x,
            rand((2, c, *(2,) * rank), dt.dtype_name(x.dtype), 5),
            rand((2,), dt.dtype_name(x.dtype), 6),
        ]
        params.update(stride=1, padding=1)
    if op != fwd:
        out = getattr(ref, fwd)(*args, **params)
        out = out[0] if isinstance(out, tuple) else out
        g = rand(out.shape, dt.dtype_name(x.dtype), 7)
        args = [*args, g] if op == "conv_grad" else [x, g]
    return args, params


@pytest.mark.parametrize("op", ALL_OPS)
def test_zero_size_batch_or_channels(op: str) -> None:
    for shape in ((0, 2, 4, 4), (2, 0, 4, 4)):
        x = np.zeros(shape, np.float32)
        if op.startswith("conv") and shape[1] == 0:
            continue  # groups must divide C_in; weight.shape[1] = 0 is tested by conv below
        args, params = _args_for(op, x)
        check_call(op, args, params)


@pytest.mark.parametrize("op", ALL_OPS)
def test_channels_last_strided_and_read_only_inputs(op: str) -> None:
    base = rand((2, 9, 7, 12), "float32", 3)
    x = base[:, :, ::2, :]  # a strided, non-contiguous view, channels_last (N, H, W, C)
    x.setflags(write=False)
    args, params = _args_for(op, x, "channels_last")
    for a in args:
        if isinstance(a, np.ndarray) and a.flags.writeable:
            a.setflags(write=False)
    check_call(op, args, params)


@pytest.mark.parametrize("op", [op for op in ALL_OPS if cat.op(op).takes_ints])
def test_every_integer_dtype(op: str) -> None:
    """Every integer dtype in both layouts, with its extremes, ties and (64-bit dtypes)
    neighbours that float64 cannot tell apart [POOL-DTYPE-1, POOL-MAX-6]."""
    rng = np.random.default_rng(3)
    for dtype in dt.INT_DTYPES:
        info = np.iinfo(dt.numpy_dtype(dtype))
        values = [int(info.min), int(info.max), int(info.max) - 1, int(info.min) + 1, 0, 1, 1]
        if info.bits == 64:
            values += [2**53, 2**53 + 1]
        x = rng.permutation(np.resize(np.array(values, dt.numpy_dtype(dtype)), 2 * 3 * 5 * 4))
        x = x.reshape(2, 3, 5, 4)
        for layout in cat.LAYOUTS:
            args, params = _args_for(
                op, np.moveaxis(x, 1, -1) if layout == "channels_last" else x, layout
            )
            check_call(op, args, params)


def test_integer_dtypes_compare_exactly() -> None:
    """int64/uint64 extremes that float64 cannot tell apart [POOL-MAX-6]."""
    big = np.iinfo(np.int64).max
    x = np.array([big - 1, big, big - 2, -big - 1, 2**53 + 1, 2**53], dtype=np.int64).reshape(
        1, 1, 6
    )
    for op in ("max_pool", "max_pool_with_indices"):
        check_call(op, [x], {"kernel_size": 2, "stride": 1})
    u = np.array([2**64 - 1, 2**64 - 2, 2**63, 0, 2**53 + 1, 2**53], dtype=np.uint64).reshape(
        1, 1, 6
    )
    check_call("max_pool_with_indices", [u], {"kernel_size": 3, "stride": 1, "padding": 1})
    check_call("adaptive_max_pool", [u], {"output_size": 4})
    check_call("global_max_pool", [u.reshape(1, 2, 3)], {})


@pytest.mark.parametrize("dtype", dt.FLOAT_DTYPES)
def test_nan_maximum_is_the_first_nan_bit_for_bit(dtype: str) -> None:
    """A window with NaNs of both signs: the maximum is its first NaN in row-major window
    order with that NaN's own bits, as the loop reference returns it [POOL-MAX-2]."""
    pos, neg = np.float32(math.nan), -np.float32(math.nan)
    npdt = dt.numpy_dtype(dtype)
    for values in ([1.0, neg, pos, 2.0], [pos, 1.0, neg, 2.0], [neg, pos, pos, -INF]):
        x = np.array(values, np.float32).astype(npdt).reshape(1, 1, 2, 2)
        for op, params in (
            ("max_pool", {"kernel_size": 2}),
            ("max_pool_with_indices", {"kernel_size": 2}),
            ("adaptive_max_pool", {"output_size": 1}),
            ("global_max_pool", {}),
        ):
            expected, got = getattr(ref, op)(x, **params), getattr(fast, op)(x, **params)
            e, g = (expected[0], got[0]) if isinstance(expected, tuple) else (expected, got)
            assert _bits(e).tolist() == _bits(g).tolist(), (op, dtype, values)


def test_signed_zero_and_nan_selection() -> None:
    x = a1(-0.0, 0.0, 0.0, -0.0, NAN, 1.0, -NAN, 2.0, -INF, -INF, dtype=np.float16)
    for op in ("max_pool", "max_pool_with_indices", "adaptive_max_pool"):
        params = (
            {"output_size": 4} if op.startswith("adaptive") else {"kernel_size": 2, "stride": 1}
        )
        check_call(op, [x], params)
    check_call("global_max_pool", [x[..., :4]], {})
    g = a1(*([1.0] * 9), dtype=np.float16)
    for tie in ("first", "all"):
        check_call("max_pool_grad", [x, g], {"kernel_size": 2, "stride": 1, "tie_policy": tie})


@pytest.mark.parametrize("dtype", dt.FLOAT_DTYPES)
def test_seventeen_channels_and_many_blocks(dtype: str) -> None:
    """A channel count that leaves a tail in any chunking, split into many blocks."""
    x = rand((2, 17, 9, 8), dtype, 11)
    with block_bytes(3000):
        for op in (
            "max_pool",
            "max_pool_with_indices",
            "avg_pool",
            "lp_pool",
            "max_pool_grad",
            "avg_pool_grad",
            "lp_pool_grad",
        ):
            args, params = _args_for(op, x)
            check_call(op, args, params)
        args, params = _args_for("avg_pool", np.moveaxis(x, 1, -1), "channels_last")
        check_call("avg_pool", args, params)


@pytest.mark.parametrize("op", ["global_avg_pool", "global_max_pool", "global_lp_pool"])
def test_planes_past_two_to_the_sixteen(op: str) -> None:
    """One plane of 66049 float32 elements (257 x 257) with a wide exponent spread."""
    x = rand((1, 1, 257, 257), "float32", 12) * np.float32(2.0) ** np.random.default_rng(
        1
    ).integers(-20, 20, (1, 1, 257, 257)).astype(np.float32)
    params = {"p": 2} if op == "global_lp_pool" else {}
    check_call(op, [x], params)


# ---------------------------------------------------------------------------
# invalid arguments: the same SpecError (message and clause)
# ---------------------------------------------------------------------------

X = rand((1, 2, 5, 5))
XI = np.arange(50, dtype=np.int32).reshape(1, 2, 5, 5)
G2 = rand((1, 2, 2, 2))
W = rand((2, 2, 3, 3))
INVALID: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("max_pool", [[1, 2, 3]], {"kernel_size": 2}),
    ("max_pool", [X[0, 0]], {"kernel_size": 2}),
    ("max_pool", [X.astype(np.complex64)], {"kernel_size": 2}),
    ("max_pool", [X], {"kernel_size": 0}),
    ("max_pool", [X], {"kernel_size": (2, 2, 2)}),
    ("max_pool", [X], {"kernel_size": 2, "stride": (1, 0)}),
    ("max_pool", [X], {"kernel_size": 2, "padding": -1}),
    ("max_pool", [X], {"kernel_size": 2, "padding": "same"}),
    ("max_pool", [X], {"kernel_size": 2, "padding": [(1, 2, 3), 0]}),
    ("max_pool", [X], {"kernel_size": 2, "ceil_mode": 1}),
    ("max_pool", [X], {"kernel_size": 2, "dilation": True}),
    ("max_pool", [X], {"kernel_size": 7}),
    ("max_pool", [X], {"kernel_size": 2, "layout": "NCHW"}),
    ("max_pool", [np.zeros((1, 0, 3), np.float32)], {"kernel_size": 1, "layout": "channels_last"}),
    ("max_pool_with_indices", [X], {"kernel_size": 2.0}),
    ("avg_pool", [XI], {"kernel_size": 2}),
    ("avg_pool", [X], {"kernel_size": 2, "count_include_pad": 0}),
    ("avg_pool", [X], {"kernel_size": 2, "divisor_override": 0}),
    ("avg_pool", [X], {"kernel_size": 2, "divisor_override": True}),
    ("avg_pool_grad", [X, G2[..., :1]], {"kernel_size": 2}),
    ("avg_pool_grad", [X, G2.astype(np.float64)], {"kernel_size": 2}),
    ("avg_pool_grad", [X, G2.tolist()], {"kernel_size": 2}),
    ("max_pool_grad", [X, G2], {"kernel_size": 2, "tie_policy": "last"}),
    ("max_pool_grad", [XI, G2], {"kernel_size": 2}),
    ("lp_pool", [X], {"kernel_size": 2, "p": 0}),
    ("lp_pool", [X], {"kernel_size": 2, "p": 2.0}),
    ("lp_pool_grad", [X, G2], {"kernel_size": 2, "p": math.inf}),
    ("global_lp_pool", [X], {"p": True}),
    ("adaptive_max_pool", [X], {"output_size": 0}),
    ("adaptive_avg_pool", [X], {"output_size": (2, 2, 2)}),
    ("adaptive_avg_pool_grad", [X, G2], {"output_size": (3, 3)}),
    ("adaptive_max_pool_grad", [X, G2], {"output_size": 2, "tie_policy": None}),
    ("global_avg_pool", [XI], {}),
    ("global_max_pool", [X.astype(bool)], {}),
    ("max_unpool", [G2, np.zeros((1, 2, 2, 2), np.int64) - 1], {"kernel_size": 2}),
    ("max_unpool", [G2, np.full((1, 2, 2, 2), 16, np.int64)], {"kernel_size": 2}),
    ("max_unpool", [G2, np.full((1, 2, 2, 2), 2**64 - 1, np.uint64)], {"kernel_size": 2}),
    ("max_unpool", [G2, np.zeros((1, 2, 2, 2), np.float32)], {"kernel_size": 2}),
    ("max_unpool", [G2, np.zeros((1, 2, 2), np.int64)], {"kernel_size": 2}),
    ("max_unpool", [G2, np.zeros((1, 2, 2, 2), np.int64)], {"kernel_size": 2, "padding": "valid"}),
    ("max_unpool", [G2, np.zeros((1, 2, 2, 2), np.int64)], {"kernel_size": 1, "padding": 1}),
    (
        "max_unpool",
        [G2, np.zeros((1, 2, 2, 2), np.int64)],
        {"kernel_size": 2, "output_size": (4, 0)},
    ),
    ("zero_pad", [X], {"padding": "same_upper"}),
    ("zero_pad", [X], {"padding": (1, -1)}),
    ("conv", [X, W.astype(np.float64)], {}),
    ("conv", [X, W[:, :1]], {"groups": 3}),
    ("conv", [X, W[:, :1]], {"groups": 2, "padding": "bogus"}),
    ("conv", [X, W], {"groups": 0}),
    ("conv", [X, W[0]], {}),
    ("conv", [X, W], {"stride": 0}),
    ("conv", [X, W, np.zeros(3, np.float32)], {}),
    ("conv", [X, W, np.zeros(2, np.float64)], {}),
    ("conv_grad", [X, W, None, G2], {}),
    ("conv_grad", [X, W, None, rand((1, 2, 3, 3)).astype(np.float16)], {}),
]


@pytest.mark.parametrize("case", range(len(INVALID)))
def test_invalid_arguments_raise_the_same_spec_error(case: int) -> None:
    op, args, params = INVALID[case]
    got = check_call(op, args, params)
    assert isinstance(got, SpecError), f"{op} {params}: no error"


def test_bfloat16_inputs_keep_their_dtype() -> None:
    x = rand((1, 2, 6, 6), "bfloat16")
    assert fast.avg_pool(x, kernel_size=3).dtype == np.dtype(ml_dtypes.bfloat16)
    check_call("avg_pool", [x], {"kernel_size": 3, "stride": 1, "padding": 1})
