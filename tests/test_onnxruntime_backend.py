"""The onnxruntime backend: its mapping onto ONNX attributes and index formats, its
Unsupported reasons, and the divergences its known-failure file lists (each still
shows, so a fixed upstream behaviour turns the entry stale instead of hiding it)."""

from __future__ import annotations

import re

import ml_dtypes
import numpy as np
import pytest

from poolconf import SpecError, Unsupported
from poolconf import reference as ref
from poolconf.conformance.xfail import load_xfail_file

pytest.importorskip("onnxruntime")
ob = pytest.importorskip("poolconf.conformance.backends.onnxruntime_backend")

CLAUSE = re.compile(r"\[POOL-[A-Z]+-\d+")


def _x(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_max_pool_with_indices_per_plane_in_both_layouts() -> None:
    x = _x(2, 3, 5, 6)
    kw = {
        "kernel_size": (2, 3),
        "stride": (2, 2),
        "padding": ((1, 0), (0, 1)),
        "dilation": (1, 1),
        "ceil_mode": True,
    }
    for layout in ("channels_first", "channels_last"):
        xi = np.moveaxis(x, 1, -1).copy() if layout == "channels_last" else x
        got = ob.max_pool_with_indices(xi, **kw, layout=layout)
        want = ref.max_pool_with_indices(xi, **kw, layout=layout)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[1].dtype == np.int64


def test_max_unpool_takes_per_plane_indices() -> None:
    x = _x(2, 2, 4, 4)
    kw = {"kernel_size": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0))}
    values, idx = ref.max_pool_with_indices(x, **kw, dilation=(1, 1), ceil_mode=False)
    np.testing.assert_array_equal(
        ob.max_unpool(values, idx, **kw), ref.max_unpool(values, idx, **kw)
    )


def test_bfloat16_zero_pad_round_trips_bits() -> None:
    x = _x(1, 2, 3).astype(ml_dtypes.bfloat16)
    got = ob.zero_pad(x, padding=((1, 2),))
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(
        got.view(np.uint16), ref.zero_pad(x, padding=((1, 2),)).view(np.uint16)
    )


def test_sessions_are_cached_across_shapes() -> None:
    kw = {
        "kernel_size": (2,),
        "stride": (1,),
        "padding": ((0, 0),),
        "dilation": (1,),
        "ceil_mode": False,
    }
    ob.max_pool(_x(1, 1, 5), **kw)
    before = len(ob._SESSIONS)
    ob.max_pool(_x(3, 2, 9), **kw)
    assert len(ob._SESSIONS) == before


def test_unsupported_reasons_name_a_clause() -> None:
    with pytest.raises(Unsupported) as exc:
        ob.avg_pool(_x(1, 1, 4), kernel_size=(2,), divisor_override=3)
    assert CLAUSE.search(exc.value.reason)
    with pytest.raises(Unsupported) as exc:  # no bfloat16 MaxPool kernel on the CPU
        ob.max_pool(_x(1, 1, 4).astype(ml_dtypes.bfloat16), kernel_size=(2,))
    assert "[POOL-DTYPE-1]" in exc.value.reason


def test_values_the_adapter_translates_are_validated_by_it() -> None:
    """layout, the bools (ONNX has only int attributes) and the padding strings (ONNX
    spells them otherwise) are the adapter's translation: a value that is not the spec's
    is rejected here, with its clause, and never reaches ONNX Runtime as a valid one."""
    x = _x(1, 1, 4)
    for kw, clause in (
        ({"layout": "NCHW"}, "POOL-LAYOUT-1"),
        ({"ceil_mode": 1}, "POOL-PARAM-6"),
        ({"padding": "SAME_UPPER"}, "POOL-PARAM-4"),
    ):
        with pytest.raises(SpecError) as exc:
            ob.max_pool(x, kernel_size=(2,), **kw)
        assert exc.value.clause == clause
    with pytest.raises(SpecError) as exc:
        ob.avg_pool(x, kernel_size=(2,), count_include_pad=0)
    assert exc.value.clause == "POOL-PARAM-6"
    assert ob.max_pool(x, kernel_size=(2,), ceil_mode=np.bool_(True), padding="same_upper").size


def test_documented_divergences_still_show() -> None:
    # NaN after the first element of a window is dropped [POOL-MAX-2]
    x = np.array([[[1.0, np.nan, 3.0]]], np.float32)
    assert ob.max_pool(x, kernel_size=(3,))[0, 0, 0] == 3.0
    # a window of -inf gives the lowest finite value [POOL-MAX-3]
    x = np.full((1, 1, 2), -np.inf, np.float32)
    assert ob.max_pool(x, kernel_size=(2,))[0, 0, 0] == np.finfo(np.float32).min
    # padding of the kernel size or more is rejected although no window is empty
    with pytest.raises(Exception, match="Pad should be smaller than kernel"):
        ob.max_pool(_x(1, 1, 1), kernel_size=(2,), padding=((0, 2),))
    # the float32 window sum overflows although the average is finite [POOL-AVG-1]
    x = np.full((1, 1, 2), 3e38, np.float32)
    assert np.isinf(ob.avg_pool(x, kernel_size=(2,))[0, 0, 0])


def test_known_failure_file_lines_carry_a_clause_and_a_link() -> None:
    import pathlib

    path = pathlib.Path(ob.__file__).parent / ob.XFAIL_FILE
    known = load_xfail_file(path)
    assert known
    for entry in known.values():
        assert re.search(r"POOL-[A-Z]+-\d+", entry.reason), entry
        assert "http" in entry.reason or "no upstream report found" in entry.reason, entry
