"""The jax backend: its lax mapping (ceil mode through padding, the average's divisor
mask), its Unsupported reasons, and the divergences its known-failure file lists
(each still shows, so a fixed upstream behaviour turns the entry stale)."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from poolconf import SpecError, Unsupported
from poolconf import reference as ref
from poolconf.conformance.xfail import load_xfail_file

pytest.importorskip("jax")
jb = pytest.importorskip("poolconf.conformance.backends.jax_backend")

CLAUSE = re.compile(r"\[POOL-[A-Z]+-\d+")


def _x(*shape: int, dtype: str = "float64", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_ceil_mode_average_never_counts_the_overhang(count_include_pad: bool) -> None:
    x = np.ones((1, 1, 6))
    kw = {
        "kernel_size": (3,),
        "stride": (2,),
        "padding": ((1, 1),),
        "dilation": (1,),
        "ceil_mode": True,
        "count_include_pad": count_include_pad,
    }
    np.testing.assert_allclose(jb.avg_pool(x, **kw), ref.avg_pool(x, **kw), rtol=1e-15)


def test_window_entirely_in_padding_gives_the_reference_values() -> None:
    x = _x(1, 1, 2)
    kw = {
        "kernel_size": (2,),
        "stride": (2,),
        "padding": ((2, 2),),
        "dilation": (1,),
        "ceil_mode": False,
    }
    np.testing.assert_array_equal(jb.max_pool(x, **kw), ref.max_pool(x, **kw))
    np.testing.assert_array_equal(
        jb.avg_pool(x, **kw, count_include_pad=False),
        ref.avg_pool(x, **kw, count_include_pad=False),
    )


def test_float64_and_uint64_keep_their_width() -> None:
    assert jb.max_pool(_x(1, 1, 4), kernel_size=(2,)).dtype == np.float64
    x = np.array([[[2**63 + 5, 1, 2**64 - 1, 0]]], np.uint64)
    np.testing.assert_array_equal(jb.max_pool(x, kernel_size=(2,)), [[[2**63 + 5, 2**64 - 1]]])


def test_unsupported_reasons_name_a_clause() -> None:
    x = _x(1, 1, 4)
    with pytest.raises(Unsupported) as exc:
        jb.max_pool_grad(x, np.ones((1, 1, 2)), kernel_size=(2,), tie_policy="all")
    assert CLAUSE.search(exc.value.reason)


def test_adapter_owned_arguments_are_validated() -> None:
    with pytest.raises(SpecError):
        jb.max_pool(_x(1, 1, 4), kernel_size=(2,), ceil_mode=1)
    with pytest.raises(SpecError):
        jb.avg_pool(_x(1, 1, 4), kernel_size=(2,), divisor_override=0)
    with pytest.raises(SpecError):
        jb.max_pool(_x(1, 1, 4), kernel_size=(2,), layout="NCW")


def test_ops_jax_lacks_are_missing() -> None:
    for op in ("lp_pool", "max_pool_with_indices", "max_unpool", "adaptive_max_pool"):
        assert not hasattr(jb, op)


def test_documented_divergences_still_show() -> None:
    # XLA on the CPU flushes subnormal results to zero (float32 and float64)
    tiny = np.full((1, 1, 2), np.finfo(np.float32).smallest_subnormal, np.float32)
    assert jb.avg_pool(tiny, kernel_size=(2,))[0, 0, 0] == 0.0
    # XLA's max of -0.0 and +0.0 is +0.0 in either order [POOL-MAX-5]
    z = np.array([[[-0.0, 0.0]]])
    assert not np.signbit(jb.max_pool(z, kernel_size=(2,))[0, 0, 0])
    # the max gradient goes to a non-NaN element of a window holding NaN [POOL-MAX-2]
    x = np.array([[[1.0, np.nan, 3.0]]])
    g = jb.max_pool_grad(x, np.ones((1, 1, 1)), kernel_size=(3,))
    np.testing.assert_array_equal(g, [[[0.0, 0.0, 1.0]]])


def test_known_failure_file_lines_carry_a_clause_and_a_link() -> None:
    known = load_xfail_file(pathlib.Path(jb.__file__).parent / jb.XFAIL_FILE)
    assert known
    for entry in known.values():
        assert re.search(r"POOL-[A-Z]+-\d+", entry.reason), entry
        assert "http" in entry.reason or "no upstream report found" in entry.reason, entry


def test_compile_options_keep_float16_window_sums_in_float32() -> None:
    # LLVM -O0 in XLA's CPU pipeline accumulates a float16 window sum in float16 (64x64
    # ones average to 0.5); the adapter's compile options must not change results
    assert "xla_backend_optimization_level" not in (jb._COMPILER_OPTIONS or {})
    x = np.ones((1, 1, 64, 64), np.float16)
    assert jb.avg_pool(x, kernel_size=(64, 64))[0, 0, 0, 0] == 1.0
    g = jb.avg_pool_grad(x, np.ones((1, 1, 1, 1), np.float16), kernel_size=(64, 64))
    assert g[0, 0, 0, 0] == np.float16(1 / 4096)


def test_repeated_calls_reuse_the_compiled_function() -> None:
    kw = {
        "kernel_size": (2,),
        "stride": (1,),
        "padding": ((0, 0),),
        "dilation": (1,),
        "ceil_mode": False,
    }
    jb.max_pool(_x(1, 1, 5), **kw)
    before = jb._compiled.cache_info().hits
    jb.max_pool(_x(2, 3, 5), **kw)
    assert jb._compiled.cache_info().hits == before + 1
