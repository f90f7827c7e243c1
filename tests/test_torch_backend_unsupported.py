"""The torch backend's documented Unsupported combinations, the errors torch raises
itself, input and output hygiene, devices and the registered entry point.

The random agreement with the reference lives in ``test_torch_backend.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from poolconf import SpecError, Unsupported
from poolconf import reference as ref
from poolconf.reference import dtypes as dt
from poolconf.reference.tolerance import compare

torch = pytest.importorskip("torch")
tb = pytest.importorskip("poolconf.conformance.backends.torch_backend")

pytestmark = pytest.mark.torch

# ---------------------------------------------------------------------------
# the documented Unsupported combinations
# ---------------------------------------------------------------------------

X2 = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5) / 8
W2 = {"stride": (1, 1), "dilation": (1, 1), "ceil_mode": False, "layout": "channels_first"}
UNSUPPORTED = [
    pytest.param(
        "max_pool_with_indices",
        X2,
        {"kernel_size": (3, 3), "padding": ((0, 1), (1, 1)), **W2},
        "POOL-PARAM-4",
        id="indices-asymmetric-padding",
    ),
    pytest.param(
        "max_pool",
        X2.astype(np.uint16),
        {"kernel_size": (2, 2), "padding": 0, **W2},
        "POOL-DTYPE-1",
        id="max-uint16",
    ),
    pytest.param(
        "adaptive_max_pool",
        X2.astype(np.int32),
        {"output_size": (2, 2), "layout": "channels_first"},
        "POOL-DTYPE-1",
        id="adaptive-max-int32",
    ),
    pytest.param(
        "max_unpool",
        X2.astype(np.int64),
        {
            "indices": np.zeros((1, 1, 5, 5), np.int64),
            "kernel_size": (1, 1),
            "layout": "channels_first",
        },
        "POOL-DTYPE-1",
        id="unpool-int64",
    ),
    pytest.param(
        "avg_pool",
        X2,
        {"kernel_size": (2, 2), "padding": 0, **W2, "dilation": (2, 1)},
        "POOL-AVG-5",
        id="avg-dilation",
    ),
    pytest.param(
        "avg_pool",
        X2,
        {"kernel_size": (2, 2), "padding": ((0, 1), (0, 1)), **W2, "count_include_pad": False},
        "POOL-AVG-4",
        id="avg-asym-exclude-pad",
    ),
    pytest.param(
        "lp_pool",
        X2,
        {"kernel_size": (2, 2), "p": 2, **W2, "dilation": (1, 2)},
        "POOL-LP-1",
        id="lp-dilation",
    ),
    pytest.param(
        "avg_pool",
        np.ones((1, 1, 4, 4, 4), np.float16),
        {
            "kernel_size": (2, 2, 2),
            "stride": (1, 1, 1),
            "padding": 0,
            "dilation": (1, 1, 1),
            "ceil_mode": False,
            "layout": "channels_first",
        },
        "POOL-DTYPE-1",
        id="avg3d-float16",
    ),
    pytest.param(
        "max_pool_grad",
        X2,
        {
            "grad_output": np.ones((1, 1, 4, 4), np.float32),
            "kernel_size": (2, 2),
            **W2,
            "tie_policy": "all",
        },
        "POOL-GRAD-2",
        id="grad-tie-all",
    ),
    pytest.param(
        "max_unpool",
        X2,
        {
            "indices": np.zeros((1, 1, 5, 5), np.int64),
            "kernel_size": (2, 2),
            "output_size": (30, 30),
            "layout": "channels_first",
        },
        "POOL-UNPOOL-1",
        id="unpool-size-outside-torch-range",
    ),
]

# torch behaviours the spec calls wrong (or cannot express): the adapter hands them to
# torch and the result, or torch's own error, goes to the check; torch_xfail.txt lists
# the tests they fail
AS_TORCH_DOES = [
    pytest.param(
        "max_pool_with_indices",
        X2,
        {"kernel_size": (2, 2), "padding": ((2, 2), (0, 0)), **W2},
        "POOL-PARAM-7",
        id="indices-padding-above-half-kernel-torch-limit",
    ),
    pytest.param(
        "max_pool",
        np.zeros((1, 16, 8, 2), np.int8),
        {"kernel_size": (2, 2), "padding": ((0, 0), (0, 0)), **W2, "layout": "channels_last"},
        "POOL-MAX-6",
        id="int8-channels-last-plane-above-127",
    ),
    pytest.param(
        "avg_pool",
        X2.astype(np.int64),
        {"kernel_size": (2, 2), **W2},
        "POOL-DTYPE-1",
        id="avg-int64-accepted-by-torch",
    ),
    pytest.param(
        "lp_pool",
        X2,
        {"kernel_size": (2, 2), "p": 2, **W2, "stride": (2, 2), "ceil_mode": True},
        "POOL-LP-1",
        id="lp-ceil-overhang",
    ),
    pytest.param(
        "lp_pool",
        X2.astype(np.int8),
        {"kernel_size": (2, 2), "p": 2, **W2},
        "POOL-DTYPE-1",
        id="lp-int8-promoted-by-torch",
    ),
    pytest.param(
        "avg_pool",
        X2,
        {"kernel_size": (2, 2), **W2, "divisor_override": -2},
        "POOL-AVG-2",
        id="avg-negative-divisor-accepted-by-torch",
    ),
    pytest.param(
        "adaptive_avg_pool",
        X2,
        {"output_size": (0, 2), "layout": "channels_first"},
        "POOL-ADAPT-2",
        id="adaptive-output-0-accepted-by-torch",
    ),
    pytest.param(
        "lp_pool",
        X2,
        {"kernel_size": (2, 2), "p": 0, **W2},
        "POOL-LP-2",
        id="lp-p-0-accepted-by-torch",
    ),
    pytest.param(
        "avg_pool",
        np.ones((1, 1, 2, 2, 2), np.float32),
        {
            "kernel_size": (3, 1, 1),
            "stride": (1, 1, 1),
            "padding": ((1, 1), (0, 0), (0, 0)),
            "dilation": (1, 1, 1),
            "ceil_mode": False,
            "layout": "channels_first",
        },
        "POOL-GEOM-2",
        id="avg3d-input-below-kernel",
    ),
    pytest.param(
        "lp_pool",
        X2,
        {"kernel_size": (2, 2), "p": 2.5, **W2},
        "POOL-LP-2",
        id="lp-non-integer-p-accepted-by-torch",
    ),
    pytest.param(
        "lp_pool",
        X2.astype(np.float16) * 200,
        {"kernel_size": (2, 2), "p": 2, **W2},
        "POOL-DTYPE-4",
        id="lp-float16-overflow",
    ),
    pytest.param(
        "lp_pool",
        X2 * 1e-20,
        {"kernel_size": (2, 2), "p": 2, **W2},
        "POOL-DTYPE-4",
        id="lp-float32-underflow",
    ),
    pytest.param(
        "avg_pool_grad",
        X2,
        {"grad_output": np.ones((1, 1, 4, 4), np.float64), "kernel_size": (2, 2), **W2},
        "POOL-GRAD-7",
        id="grad-dtype-cast-by-torch",
    ),
    pytest.param(
        "max_unpool",
        X2,
        {
            "indices": np.arange(25, dtype=np.int64).reshape(1, 1, 5, 5),
            "kernel_size": (0, 2),
            "stride": (2, 2),
            "output_size": (10, 10),
            "layout": "channels_first",
        },
        "POOL-PARAM-1",
        id="unpool-kernel-zero-unchecked-by-torch",
    ),
    pytest.param(
        "max_unpool",
        X2,
        {
            "indices": np.arange(25, dtype=np.int64).reshape(1, 1, 5, 5),
            "kernel_size": (2, 2),
            "stride": (0, 2),
            "layout": "channels_first",
        },
        "POOL-PARAM-2",
        id="unpool-stride-zero-unchecked-by-torch",
    ),
    pytest.param(
        "zero_pad",
        X2,
        {"padding": ((-1, 0), (0, 0)), "layout": "channels_first"},
        "POOL-PARAM-4",
        id="pad-negative-crops-in-torch",
    ),
    pytest.param(
        "conv",
        X2,
        {"weight": np.full((1, 1, 2, 2), np.inf, np.float32), "padding": ((1, 1), (0, 0))},
        "POOL-CONV-1",
        id="conv-inf-weight-with-padding",
    ),
]


def _call(op: str, x: np.ndarray, params: dict[str, Any]) -> Any:
    """``op`` of the torch backend on ``x``, the arrays among ``params`` passed in order."""
    params = dict(params)
    args = [x] + [params.pop(k) for k in ("indices", "weight", "grad_output") if k in params]
    return getattr(tb, op)(*args, **params)


@pytest.mark.parametrize(("op", "x", "params", "clause"), UNSUPPORTED)
def test_unsupported(op: str, x: np.ndarray, params: dict[str, Any], clause: str) -> None:
    with pytest.raises(Unsupported) as info:
        _call(op, x, params)
    assert clause in info.value.reason, info.value.reason


@pytest.mark.parametrize(("op", "x", "params", "clause"), AS_TORCH_DOES)
def test_torch_behaviours_are_not_skipped(
    op: str, x: np.ndarray, params: dict[str, Any], clause: str
) -> None:
    """What torch does where the spec says otherwise (each case names the clause) is not
    turned into a skip: the call returns torch's result or raises torch's own error, never
    Unsupported."""
    try:
        _call(op, x, params)
    except Unsupported as exc:
        pytest.fail(f"{op} declined ({clause}): {exc.reason}")
    except Exception:  # torch's own error: what the check then judges
        pass


def test_equivalent_compositions_are_used() -> None:
    """same_upper max pooling (-inf padding), asymmetric count_include_pad average
    pooling and asymmetric Lp padding (zero padding) are supported and exact-ish."""
    x = (np.arange(30, dtype=np.float64).reshape(1, 1, 5, 6) % 7) - 3
    mp = {"kernel_size": (2, 3), "stride": (2, 2), "padding": "same_upper", **W2}
    assert compare(tb.max_pool(x, **mp), ref.max_pool(x, **mp), 0).ok
    ap = {**mp, "padding": ((0, 2), (1, 0)), "count_include_pad": True, "divisor_override": None}
    assert compare(tb.avg_pool(x, **ap), ref.avg_pool(x, **ap), 2).ok
    lp = {**mp, "padding": ((3, 0), (0, 2)), "p": 3}
    assert compare(tb.lp_pool(x, **lp), ref.lp_pool(x, **lp), 4).ok


# ---------------------------------------------------------------------------
# errors torch raises itself, hygiene, devices
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"kernel_size": (0, 2), "stride": (1, 1), "padding": ((0, 0), (0, 0))},
        {"kernel_size": (2, 2), "stride": (0, 1), "padding": ((0, 0), (0, 0))},
        {"kernel_size": (7, 2), "stride": (1, 1), "padding": ((0, 0), (0, 0))},
    ],
    ids=["kernel-0", "stride-0", "output-empty"],
)
def test_invalid_arguments_raise_through_torch(params: dict[str, Any]) -> None:
    x = X2.copy()
    for op in ("max_pool", "avg_pool", "max_pool_with_indices"):
        with pytest.raises(Exception) as info:
            getattr(tb, op)(x, **params, dilation=(1, 1), ceil_mode=False, layout="channels_first")
        assert not isinstance(info.value, Unsupported)


@pytest.mark.parametrize(
    "params",
    [
        {"kernel_size": (2, 2), "padding": ((0, 0), (1, -1))},
        {"kernel_size": (2, 2), "padding": ((1, 1),)},
        {"kernel_size": (2, 2), "padding": "same"},
        {"kernel_size": (2, 2), "padding": 0, "layout": "NHWC"},
    ],
    ids=["negative-pair", "short-padding", "unknown-string", "unknown-layout"],
)
def test_untranslatable_arguments_raise_spec_error(params: dict[str, Any]) -> None:
    """Padding forms and layouts are the adapter's own translation: it rejects them."""
    for op in ("max_pool", "avg_pool", "lp_pool", "max_pool_with_indices"):
        with pytest.raises(SpecError):
            getattr(tb, op)(X2, **{"layout": "channels_first", **params})


def test_inputs_untouched_and_outputs_fresh() -> None:
    x = np.random.default_rng(3).standard_normal((1, 4, 4, 2)).astype(np.float32)
    before = x.copy()
    kw = {
        "kernel_size": (1, 1),
        "stride": (1, 1),
        "padding": ((0, 0), (0, 0)),
        "dilation": (1, 1),
        "ceil_mode": False,
        "layout": "channels_last",
    }
    out = tb.max_pool(x, **kw)
    assert (x == before).all() and not np.shares_memory(out, x)
    assert out.tobytes() == tb.max_pool(x, **kw).tobytes()
    padded = tb.zero_pad(x, padding=((0, 0), (0, 0)), layout="channels_last")
    assert not np.shares_memory(padded, x) and padded.flags.writeable


def test_configure_devices() -> None:
    tb.configure(device="cpu-no-onednn")
    assert not torch.backends.mkldnn.enabled
    tb.configure(device="cpu")
    assert torch.backends.mkldnn.enabled
    with pytest.raises(ValueError, match="unknown device"):
        tb.configure(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"cuda\.is_available"):
            tb.configure(device="cuda")
        from poolconf.conformance.backends import _torch_common

        assert _torch_common._device == "cpu"  # the device state the op modules read


def test_registered_entry_point() -> None:
    from poolconf.conformance.backend import load_backend, registered_backends

    if "torch" not in registered_backends():
        pytest.skip("poolconf not installed with its entry points")
    backend = load_backend("torch")
    assert backend.declarations["nan_index"] == "other"
    assert set(backend.ops) == set(ref.FORWARD_OPS + ref.GRAD_OPS)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            load_backend("torch:cuda")


def test_reduced_precision_sums_accumulate_wide() -> None:
    """POOL-DTYPE-4: a float16 average of 4096 ones is exactly 1 (a float16
    accumulator stalls at 2048)."""
    for name in ("float16", "bfloat16"):
        x = np.ones((1, 1, 64, 64), dtype=dt.numpy_dtype(name))
        out = tb.global_avg_pool(x, layout="channels_first")
        assert float(out.astype(np.float64).ravel()[0]) == 1.0
        kw = {
            "kernel_size": (64, 64),
            "stride": (64, 64),
            "padding": ((0, 0), (0, 0)),
            "dilation": (1, 1),
            "ceil_mode": False,
            "count_include_pad": True,
            "divisor_override": None,
            "layout": "channels_first",
        }
        assert float(tb.avg_pool(x, **kw).astype(np.float64).ravel()[0]) == 1.0
