"""The tensorflow backend: its tf.nn mapping (channels-last transposition, argmax
index format, the forms it can express), its Unsupported reasons, and the
divergences its known-failure file lists (each still shows, so a fixed upstream
behaviour turns the entry stale)."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from poolconf import SpecError, Unsupported
from poolconf import reference as ref
from poolconf.conformance.xfail import load_xfail_file

pytest.importorskip("tensorflow")
tb = pytest.importorskip("poolconf.conformance.backends.tensorflow_backend")

CLAUSE = re.compile(r"\[POOL-[A-Z]+-\d+")


def _x(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_argmax_becomes_the_plane_index(layout: str) -> None:
    x = _x(2, 3, 4, 5)
    if layout == "channels_last":
        x = np.moveaxis(x, 1, -1).copy()
    kw = {
        "kernel_size": (2, 2),
        "stride": (2, 2),
        "padding": "same_upper",
        "dilation": (1, 1),
        "ceil_mode": False,
        "layout": layout,
    }
    got, want = tb.max_pool_with_indices(x, **kw), ref.max_pool_with_indices(x, **kw)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_max_pool_through_every_padding_form() -> None:
    for shape, pads in (
        ((1, 2, 5, 6), ((1, 0), (2, 1))),
        ((1, 1, 3, 4, 5), ((1, 0), (0, 2), (1, 1))),
    ):
        x = _x(*shape)
        rank = len(shape) - 2
        kw = {
            "kernel_size": (3,) * rank,
            "stride": (2,) * rank,
            "padding": pads,
            "dilation": (1,) * rank,
            "ceil_mode": True,
        }
        np.testing.assert_array_equal(tb.max_pool(x, **kw), ref.max_pool(x, **kw))


def test_unsupported_reasons_name_a_clause() -> None:
    x = _x(1, 1, 6)
    cases = [
        lambda: tb.avg_pool(x, kernel_size=(2,), divisor_override=3),
        lambda: tb.avg_pool(x, kernel_size=(2,), padding=((1, 0),), count_include_pad=False),
        lambda: tb.max_pool(x, kernel_size=(2,), stride=(2,), dilation=(2,), padding=((1, 1),)),
        lambda: tb.max_pool_with_indices(x, kernel_size=(2,)),
    ]
    for call in cases:
        with pytest.raises(Unsupported) as exc:
            call()
        assert CLAUSE.search(exc.value.reason), exc.value.reason


def test_groups_the_weight_does_not_imply_are_rejected() -> None:
    x, w = _x(1, 4, 5), _x(2, 2, 3)
    with pytest.raises(SpecError):
        tb.conv(x, w, groups=1)
    np.testing.assert_allclose(tb.conv(x, w, groups=2), ref.conv(x, w, groups=2), rtol=1e-5)


def test_ops_tensorflow_lacks_are_missing() -> None:
    for op in ("lp_pool", "max_unpool", "adaptive_avg_pool"):
        assert not hasattr(tb, op)


def test_documented_divergences_still_show() -> None:
    # tf.nn.max_pool drops a NaN that is not first in its window [POOL-MAX-2]
    x = np.array([[[1.0], [np.nan], [3.0]]], np.float32)
    assert tb.max_pool(x, kernel_size=(3,), layout="channels_last")[0, 0, 0] == 3.0
    # TensorFlow flushes subnormal results to zero on the CPU
    tiny = np.full((1, 1, 2), np.finfo(np.float32).smallest_subnormal, np.float32)
    assert tb.avg_pool(tiny, kernel_size=(2,))[0, 0, 0] == 0.0


def test_known_failure_file_lines_carry_a_clause_and_a_link() -> None:
    known = load_xfail_file(pathlib.Path(tb.__file__).parent / tb.XFAIL_FILE)
    assert known
    for entry in known.values():
        assert re.search(r"POOL-[A-Z]+-\d+", entry.reason), entry
        assert "http" in entry.reason or "no upstream report found" in entry.reason, entry


def test_values_the_adapter_translates_are_validated_by_it() -> None:
    """The padding strings and the bools have no TensorFlow spelling of their own: a value
    that is not the spec's ("SAME", TensorFlow's own word; an int 1) is rejected by the
    adapter, with its clause, instead of reaching TensorFlow as a valid one."""
    x = _x(1, 1, 4)
    for call, clause in (
        (lambda: tb.avg_pool(x, kernel_size=(2,), padding="SAME"), "POOL-PARAM-4"),
        (lambda: tb.max_pool(x, kernel_size=(2,), padding="VALID"), "POOL-PARAM-4"),
        (lambda: tb.max_pool(x, kernel_size=(2,), ceil_mode=1), "POOL-PARAM-6"),
        (lambda: tb.avg_pool(x, kernel_size=(2,), count_include_pad=1), "POOL-PARAM-6"),
    ):
        with pytest.raises(SpecError) as exc:
            call()
        assert exc.value.clause == clause
