"""Window geometry against hand-worked tables [POOL-GEOM-*, POOL-PARAM-*, POOL-ADAPT-1,
POOL-UNPOOL-1], and the SpecError messages for bad arguments."""

from __future__ import annotations

import re

import numpy as np
import pytest

from poolconf import SpecError
from poolconf.reference import geometry as geo

# (L, k, s, d, pb, pe) -> (floor-mode length, ceil-mode length); the derivation is in the id.
OUTPUT_LENGTHS = [
    pytest.param(4, 2, 2, 1, 0, 0, 2, 2, id="span2/s2: exact fit, ceil adds nothing"),
    pytest.param(5, 2, 2, 1, 0, 0, 2, 3, id="span3/s2: ceil keeps a window starting at 4 < 5"),
    pytest.param(5, 3, 2, 1, 1, 1, 3, 3, id="span4/s2: exact fit with padding"),
    pytest.param(6, 3, 2, 1, 1, 1, 3, 4, id="span5/s2: ceil window starts at 6 < 6+1, kept"),
    pytest.param(
        5, 2, 2, 1, 1, 1, 3, 3, id="span5/s2: ceil window would start at 6 >= 5+1, dropped"
    ),
    pytest.param(
        4, 2, 3, 1, 1, 1, 2, 2, id="span4/s3: ceil window would start at 6 >= 4+1, dropped"
    ),
    pytest.param(4, 3, 3, 1, 1, 1, 2, 2, id="span3/s3: exact"),
    pytest.param(
        2, 3, 2, 1, 0, 0, 0, 1, id="span-1: floor gives 0 (error), ceil one overhanging window"
    ),
    pytest.param(1, 1, 2, 1, 0, 0, 1, 1, id="L1 k1 s2"),
    pytest.param(7, 3, 1, 2, 0, 0, 3, 3, id="dilation2: eff5, span2"),
    pytest.param(7, 3, 2, 3, 0, 0, 1, 1, id="dilation3: eff7 equals L"),
    pytest.param(10, 3, 2, 2, 1, 1, 4, 5, id="dilation2 pad1: eff5, span7, ceil start 8 < 11"),
    pytest.param(5, 3, 2, 1, 0, 1, 2, 3, id="asymmetric (0,1): span3"),
    pytest.param(5, 3, 2, 1, 2, 0, 3, 3, id="asymmetric (2,0): span4"),
    pytest.param(9, 2, 1, 1, 0, 1, 9, 9, id="TF SAME k2 s1 on 9"),
    pytest.param(3, 3, 1, 1, 0, 0, 1, 1, id="kernel equals input"),
    pytest.param(11, 2, 2, 1, 0, 0, 5, 6, id="11 by 2: floor drops the last element"),
]


@pytest.mark.parametrize(("L", "k", "s", "d", "pb", "pe", "floor_len", "ceil_len"), OUTPUT_LENGTHS)
def test_output_length(
    L: int, k: int, s: int, d: int, pb: int, pe: int, floor_len: int, ceil_len: int
) -> None:
    assert geo.output_length(L, k, s, d, pb, pe, False) == floor_len
    assert geo.output_length(L, k, s, d, pb, pe, True) == ceil_len


@pytest.mark.parametrize(("L", "k", "s", "d", "pb", "pe", "floor_len", "ceil_len"), OUTPUT_LENGTHS)
def test_output_length_by_enumeration(
    L: int, k: int, s: int, d: int, pb: int, pe: int, floor_len: int, ceil_len: int
) -> None:
    """Independent derivation: count window starts o*s - pb. Floor mode: the window ends
    inside the padded extent. Ceil mode: it starts before L + pb and (any overhang allowed)
    the first window always counts."""
    eff = d * (k - 1) + 1
    floor_count = sum(1 for o in range(L + pb + pe + 1) if o * s + eff <= L + pb + pe)
    ceil_count = max(
        1,
        sum(1 for o in range(L + pb + pe + 1) if o * s < L + pb and o * s < L + pb + pe - eff + s),
    )
    assert (floor_count, ceil_count) == (floor_len, ceil_len)


@pytest.mark.parametrize(
    ("L", "k", "s", "d", "upper", "lower"),
    [
        pytest.param(5, 2, 1, 1, (0, 1), (1, 0), id="total1 odd"),
        pytest.param(5, 3, 2, 1, (1, 1), (1, 1), id="total2 even"),
        pytest.param(6, 3, 2, 1, (0, 1), (1, 0), id="out3 total1"),
        pytest.param(7, 4, 3, 1, (1, 2), (2, 1), id="out3 total3 odd"),
        pytest.param(5, 3, 1, 2, (2, 2), (2, 2), id="dilation2 eff5 total4"),
        pytest.param(4, 1, 2, 1, (0, 0), (0, 0), id="negative total clamps to 0"),
        pytest.param(9, 2, 1, 1, (0, 1), (0, 1)[::-1], id="TF seed: 9 k2 s1"),
        pytest.param(3, 2, 2, 1, (0, 1), (1, 0), id="TF seed 3d: H3 k2 s2"),
        pytest.param(1, 1, 2, 1, (0, 0), (0, 0), id="D1 k1 s2"),
        pytest.param(5, 3, 2, 1, (1, 1), (1, 1), id="TF conv3d H5 k3 s2"),
    ],
)
def test_same_padding(
    L: int, k: int, s: int, d: int, upper: tuple[int, int], lower: tuple[int, int]
) -> None:
    assert geo.same_padding(L, k, s, d, upper=True) == upper
    assert geo.same_padding(L, k, s, d, upper=False) == lower
    out = -(-L // s)
    for pb, pe in (upper, lower):
        assert geo.output_length(L, k, s, d, pb, pe, False) == out


def test_effective_kernel() -> None:
    assert [geo.effective_kernel(k, d) for k, d in [(1, 1), (1, 5), (3, 1), (3, 2), (2, 4)]] == [
        1,
        1,
        3,
        5,
        5,
    ]


@pytest.mark.parametrize(
    ("padding", "expected"),
    [
        (0, ((0, 0), (0, 0))),
        (2, ((2, 2), (2, 2))),
        ([1, 2], ((1, 1), (2, 2))),
        ([(0, 1), (2, 3)], ((0, 1), (2, 3))),
        ([(0, 1), 2], ((0, 1), (2, 2))),
        ((np.int64(1), [np.int32(0), 2]), ((1, 1), (0, 2))),
        ("valid", ((0, 0), (0, 0))),
        ("same_upper", ((0, 1), (1, 1))),
        ("same_lower", ((1, 0), (1, 1))),
    ],
)
def test_resolve_padding(padding: object, expected: tuple) -> None:
    # spatial (5, 5), kernel (2, 3), stride (1, 2): same totals 1 and 2
    assert geo.resolve_padding(padding, (5, 5), (2, 3), (1, 2), (1, 1)) == expected


@pytest.mark.parametrize(
    ("L", "O", "bounds"),
    [
        (5, 3, [(0, 2), (1, 4), (3, 5)]),
        (4, 2, [(0, 2), (2, 4)]),
        (7, 3, [(0, 3), (2, 5), (4, 7)]),
        (3, 5, [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]),
        (10, 1, [(0, 10)]),
        (6, 6, [(i, i + 1) for i in range(6)]),
    ],
)
def test_adaptive_bounds(L: int, O: int, bounds: list) -> None:  # noqa: E741 - the spec's names
    assert [geo.adaptive_bounds(i, L, O) for i in range(O)] == bounds
    for start, end in bounds:
        assert 0 <= start < end <= L  # never empty


def test_adaptive_windows_flat_indices() -> None:
    got = dict(geo.adaptive_windows((3, 2), (2, 1)))
    # rows [0,2) and [1,3) of a 3x2 plane, both columns
    assert got == {(0, 0): [0, 1, 2, 3], (1, 0): [2, 3, 4, 5]}


@pytest.mark.parametrize(
    ("n", "k", "s", "pb", "pe", "expected"),
    [
        (2, 2, 2, 0, 0, 4),
        (3, 3, 2, 1, 1, 5),
        (3, 2, 2, 0, 1, 5),
        (1, 3, 1, 0, 0, 3),
        (4, 3, 1, 0, 0, 6),
    ],
)
def test_unpool_output_length(n: int, k: int, s: int, pb: int, pe: int, expected: int) -> None:
    assert geo.unpool_output_length(n, k, s, pb, pe) == expected


def test_windows_taps_in_row_major_order() -> None:
    """3x4 plane, kernel 2, stride 2, padding 1: tap positions o*s - pb + j*d [POOL-GEOM-8]."""
    g = geo.pool_geometry((3, 4), 2, 2, 1, 1, False)
    assert g.out_shape == (2, 3) and g.padding == ((1, 1), (1, 1))
    windows = dict(g.windows())
    first = windows[(0, 0)]
    assert [t.in_bounds for t in first] == [False, False, False, True]
    assert [t.flat for t in first] == [-1, -1, -1, 0]
    assert all(t.in_extent for t in first)
    assert [t.flat for t in windows[(1, 1)]] == [5, 6, 9, 10]
    assert [t.flat for t in windows[(1, 2)]] == [7, -1, 11, -1]


def test_ceil_overhang_is_outside_the_extent() -> None:
    g = geo.pool_geometry((5,), 2, 2, 0, 1, True)
    assert g.out_shape == (3,)
    last = dict(g.windows())[(2,)]
    assert [(t.in_bounds, t.in_extent) for t in last] == [(True, True), (False, False)]


def test_stride_defaults_to_kernel() -> None:
    assert geo.pool_geometry((6, 7), (2, 3)).out_shape == (3, 2)


ERRORS = [
    pytest.param({"kernel_size": 0}, "kernel_size[0]=0 must be >= 1", "POOL-PARAM-1", id="k0"),
    pytest.param(
        {"kernel_size": [2, -1]}, "kernel_size[1]=-1 must be >= 1", "POOL-PARAM-1", id="k-1"
    ),
    pytest.param(
        {"kernel_size": 2.0}, "kernel_size=2.0 must be an integer", "POOL-PARAM-1", id="kfloat"
    ),
    pytest.param(
        {"kernel_size": [2, 2.5]},
        "kernel_size[1]=2.5 must be an integer",
        "POOL-PARAM-1",
        id="kfloat1",
    ),
    pytest.param(
        {"kernel_size": [True, 2]},
        "kernel_size[0]=True must be an integer",
        "POOL-PARAM-1",
        id="kbool",
    ),
    pytest.param(
        {"kernel_size": 2, "stride": [1, 0]}, "stride[1]=0 must be >= 1", "POOL-PARAM-2", id="s0"
    ),
    pytest.param(
        {"kernel_size": 2, "dilation": 0}, "dilation[0]=0 must be >= 1", "POOL-PARAM-3", id="d0"
    ),
    pytest.param(
        {"kernel_size": 2, "padding": -1}, "padding=-1 must be >= 0", "POOL-PARAM-4", id="p-1"
    ),
    pytest.param(
        {"kernel_size": 2, "padding": [(0, 1), (1, -2)]},
        "padding[1].end=-2 must be >= 0",
        "POOL-PARAM-4",
        id="pend-2",
    ),
    pytest.param(
        {"kernel_size": 2, "padding": "same"},
        "padding='same' is not one of",
        "POOL-PARAM-4",
        id="psame",
    ),
    pytest.param(
        {"kernel_size": 2, "padding": [(0, 1, 2), 0]},
        "padding[0]=(0, 1, 2) must be an int or a (begin, end) pair",
        "POOL-PARAM-4",
        id="ptriple",
    ),
    pytest.param(
        {"kernel_size": 2, "padding": 1.0}, "padding=1.0 is not an int", "POOL-PARAM-4", id="pfloat"
    ),
    pytest.param(
        {"kernel_size": [2, 2, 2]},
        "kernel_size=[2, 2, 2] has 3 entries but the input has 2",
        "POOL-PARAM-5",
        id="krank",
    ),
    pytest.param(
        {"kernel_size": 2, "stride": [1]}, "stride=[1] has 1 entries", "POOL-PARAM-5", id="srank"
    ),
    pytest.param(
        {"kernel_size": 2, "padding": [1, 1, 1]},
        "padding=[1, 1, 1] has 3 entries",
        "POOL-PARAM-5",
        id="prank",
    ),
    pytest.param(
        {"kernel_size": 2, "ceil_mode": 1},
        "ceil_mode=1 must be a bool",
        "POOL-PARAM-6",
        id="ceil-int",
    ),
    pytest.param(
        {"kernel_size": [5, 2]},
        "output length 0 along spatial dim 0 (input 4, kernel_size 5",
        "POOL-GEOM-7",
        id="out0",
    ),
    pytest.param(
        {"kernel_size": [3, 2], "dilation": [2, 1]},
        "output length 0 along spatial dim 0",
        "POOL-GEOM-7",
        id="out0-dilated",
    ),
]


@pytest.mark.parametrize(("kwargs", "message", "clause"), ERRORS)
def test_spec_errors_name_argument_value_and_clause(
    kwargs: dict, message: str, clause: str
) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        geo.pool_geometry((4, 5), **kwargs)
    assert info.value.clause == clause
    assert str(info.value).endswith(f"[{clause}]")


def test_numpy_integers_are_integers() -> None:
    g = geo.pool_geometry((6,), np.int64(2), np.uint8(2), np.int32(0), np.uint16(1), False)
    assert g.out_shape == (3,)
