"""The ``onnxruntime`` backend: one-node ONNX models run by ONNX Runtime's CPU provider.

Every call builds (once) a model holding a single standard-domain node (``MaxPool``
with its ``Indices`` output, ``AveragePool``, ``LpPool``, ``GlobalMaxPool``,
``GlobalAveragePool``, ``GlobalLpPool``, ``MaxUnpool``, ``Pad``, ``Conv``) whose
inputs have dynamic dims, and runs it in an ``InferenceSession`` on the CPU
provider with one thread. Sessions are cached by (op type, attributes, input
dtypes and ranks), so a check creates a few hundred sessions, not one per call.

The spec's arguments map onto ONNX attributes one to one:

* ``kernel_size``, ``stride``, ``dilation`` -> ``kernel_shape``, ``strides``,
  ``dilations``; an omitted stride is the kernel [POOL-PARAM-2] (ONNX's own default
  stride is 1, so it is always passed).
* ``padding`` pairs -> ``pads`` (all begins, then all ends: ONNX's order, so
  asymmetric padding is native); the strings ``"valid"``, ``"same_upper"``,
  ``"same_lower"`` -> ``auto_pad`` ``VALID``, ``SAME_UPPER``, ``SAME_LOWER``. The
  strings are the adapter's translation, so any other string (ONNX's own ``"SAME_UPPER"``
  among them) is rejected here [POOL-PARAM-4].
* ``ceil_mode``, ``count_include_pad`` -> the int attributes 0 or 1: ONNX has no boolean
  attribute type, so the bool is the adapter's translation and a value that is not a bool
  (an int 1 included) is rejected here [POOL-PARAM-6].
* ``p``, ``groups`` -> the attributes of the same meaning, passed as the values given.
* ``layout="channels_last"``: the input is transposed to ``(N, C, *spatial)`` (ONNX's
  pools take channels first) and the outputs back; the layout is the adapter's own
  argument, so an unknown value is rejected here [POOL-LAYOUT-1].

Index formats [POOL-IDX-1, POOL-IDX-2]: ONNX flattens ``MaxPool``'s ``Indices`` and
``MaxUnpool``'s ``I`` over the whole tensor, ``(n*C + c)*S + i`` with ``storage_order=0``
and ``S`` the plane size; the adapter subtracts (adds) the plane offset ``(n*C + c)*S``.
An ONNX index outside its own plane (``-1`` for a window with no element) is passed
through unchanged; a spec index outside ``[0, S)`` (invalid, POOL-UNPOOL-3) has no
ONNX counterpart inside its plane and goes to ONNX Runtime as ``-1``, so its own
range check decides.

bfloat16 arrays travel as their uint16 bits in ``OrtValue``s tagged bfloat16 (ONNX
Runtime's Python binding has no NumPy bfloat16 type).

ONNX has no ``divisor_override`` (``Unsupported``, POOL-AVG-2), no adaptive pooling
and no gradients in the inference package (those functions are missing). Where a
dtype the spec allows has no ONNX Runtime kernel (the session cannot be created:
"Could not find an implementation", or the ONNX schema excludes the type) the call
is ``Unsupported`` [POOL-DTYPE-1]; dtypes the spec rejects go to ONNX Runtime, which
rejects them. Apart from the values the adapter translates (layout, the bools, the
padding strings), no argument is validated on ONNX Runtime's behalf and no result is
adjusted: what ONNX Runtime accepts and computes is what the check judges.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # importing this backend imports onnxruntime; the harness never does
from onnx import TensorProto, helper

from poolconf import SpecError, Unsupported
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt

# Verified on onnxruntime 1.32.0 CPU:
# * ties (equal values, -0.0 and +0.0) select the first element in window order;
# * a NaN is selected only when it is a window's first element (the kernel keeps the
#   first element unless a later one is greater), so when a NaN is selected it is
#   the first NaN; windows holding NaN elsewhere lose it (a known failure, POOL-MAX-2);
# * padding of kernel_shape or more is rejected when the session is created ("Pad
#   should be smaller than kernel"), also where every window holds an input element
#   [POOL-PARAM-7]; such padding is how windows entirely in padding usually arise.
DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "error",
    "nan_index": "first",
    "padding_limit": "below_kernel",
    "accumulator": "float32",  # window sums and LpPool's |x|**p in float32 [POOL-DTYPE-6]
}
XFAIL_FILE = "onnxruntime_xfail.txt"

OPSET = 22
# ONNX Runtime registers GlobalLpPool only for schema version 2 (opsets 2..21).
OP_OPSET = {"GlobalLpPool": 21}

# ops -> dtypes the spec allows [POOL-DTYPE-1]
_ALL_DTYPE_OPS = ("max_pool", "max_pool_with_indices", "global_max_pool", "max_unpool", "zero_pad")

_AUTO_PAD = {"valid": "VALID", "same_upper": "SAME_UPPER", "same_lower": "SAME_LOWER"}
_SESSIONS: dict[Any, Any] = {}
ort.set_default_logger_severity(4)


def _session_options() -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 4  # errors come back as exceptions; keep them off stderr
    return so


def _elem_type(a: np.ndarray) -> int:
    if dt.dtype_name(a.dtype) == "bfloat16":
        return TensorProto.BFLOAT16
    return helper.np_dtype_to_tensor_dtype(a.dtype)


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(e) for e in v)
    return (type(v).__name__, v)


def _spec_dtype_ok(op: str, a: np.ndarray) -> bool:
    try:
        name = dt.dtype_name(a.dtype)
    except (SpecError, TypeError):
        return False
    return dt.is_float(name) or op in _ALL_DTYPE_OPS


def _session(
    op: str, op_type: str, attrs: dict[str, Any], inputs: list[np.ndarray], out_types: list[int]
) -> Any:
    key = (
        op_type,
        tuple(sorted((k, _hashable(v)) for k, v in attrs.items())),
        tuple((_elem_type(a), a.ndim) for a in inputs),
        tuple(out_types),
    )
    cached = _SESSIONS.get(key)
    if cached is not None:
        if isinstance(cached, Unsupported):
            raise Unsupported(cached.reason)
        return cached
    names = [f"in{i}" for i in range(len(inputs))]
    outs = [f"out{i}" for i in range(len(out_types))]
    node = helper.make_node(op_type, names, outs, **attrs)
    graph = helper.make_graph(
        [node],
        op_type,
        [
            helper.make_tensor_value_info(n, _elem_type(a), [None] * a.ndim)
            for n, a in zip(names, inputs)
        ],
        [helper.make_tensor_value_info(n, t, None) for n, t in zip(outs, out_types)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OP_OPSET.get(op_type, OPSET))]
    )
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    try:
        sess = ort.InferenceSession(
            model.SerializeToString(), _session_options(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        msg = str(exc)
        missing = "Could not find an implementation" in msg or (
            "Type Error: Type 'tensor(" in msg and "parameter (in0)" in msg
        )
        if missing and _spec_dtype_ok(op, inputs[0]):
            unsupported = Unsupported(
                f"onnxruntime {ort.__version__} has no {dt.dtype_name(inputs[0].dtype)} kernel for "
                f"{op_type} on the CPU [POOL-DTYPE-1]"
            )
            _SESSIONS[key] = unsupported
            raise unsupported from exc
        raise
    _SESSIONS[key] = sess
    return sess


def _run(
    op: str, op_type: str, attrs: dict[str, Any], inputs: list[np.ndarray], out_types: list[int]
) -> list[np.ndarray]:
    sess = _session(op, op_type, attrs, inputs, out_types)
    if not any(_elem_type(a) == TensorProto.BFLOAT16 for a in inputs):
        return sess.run(None, {f"in{i}": a for i, a in enumerate(inputs)})
    # NumPy has no bfloat16 that ONNX Runtime's Python binding knows: the bits travel as
    # uint16 in OrtValues tagged bfloat16, and come back read from the output's buffer
    feeds = {
        f"in{i}": ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
            a.view(np.uint16), TensorProto.BFLOAT16
        )
        if _elem_type(a) == TensorProto.BFLOAT16
        else ort.OrtValue.ortvalue_from_numpy(a)
        for i, a in enumerate(inputs)
    }
    return [_ort_numpy(v) for v in sess.run_with_ort_values(None, feeds)]


def _ort_numpy(v: Any) -> np.ndarray:
    if v.data_type() != "tensor(bfloat16)":
        return np.array(v.numpy(), copy=True)
    shape = tuple(v.shape())
    n = math.prod(shape)
    bits = (
        np.ctypeslib.as_array((ctypes.c_uint16 * n).from_address(v.data_ptr()))
        if n
        else (np.zeros(0, np.uint16))
    )
    return bits.copy().view(dt.numpy_dtype("bfloat16")).reshape(shape)


# ---------------------------------------------------------------------------
# layout and arguments
# ---------------------------------------------------------------------------


def _to_cf(x: Any, layout: str) -> np.ndarray:
    """``x`` as a contiguous channels-first array (a copy: the input is never handed on)."""
    args.check_layout(layout)
    if layout == "channels_last":
        x = np.moveaxis(x, -1, 1)
    return np.array(x, copy=True, order="C")


def _from_cf(y: np.ndarray, layout: str) -> np.ndarray:
    if layout == "channels_last":
        y = np.moveaxis(y, 1, -1)
    return np.ascontiguousarray(y)


def _value(v: Any) -> Any:
    """Plain Python values for ONNX attributes (NumPy integers become ints)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _ints(v: Any, rank: int) -> list[Any]:
    if isinstance(v, (tuple, list)):
        return [_value(e) for e in v]
    return [_value(v)] * rank


def _pads(padding: Any, rank: int) -> dict[str, Any]:
    """``padding`` as ONNX ``pads`` (begins, then ends) or ``auto_pad``."""
    if isinstance(padding, str):
        return {"auto_pad": _AUTO_PAD[args.check_padding_string(padding)]}
    entries = padding if isinstance(padding, (tuple, list)) else [padding] * rank
    begins, ends = [], []
    for e in entries:
        if isinstance(e, (tuple, list)):
            vals = [_value(v) for v in e]
            if len(vals) == 2:
                begins.append(vals[0])
                ends.append(vals[1])
            else:  # not a pair: no ONNX counterpart; the pads length ONNX Runtime gets is wrong
                begins += vals
                ends += vals
        else:
            begins.append(_value(e))
            ends.append(_value(e))
    return {"pads": begins + ends}


def _window_attrs(
    rank: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any
) -> dict[str, Any]:
    kernel = _ints(kernel_size, rank)
    attrs: dict[str, Any] = {
        "kernel_shape": kernel,
        "strides": kernel if stride is None else _ints(stride, rank),
        "dilations": _ints(dilation, rank),
        "ceil_mode": int(args.check_bool(ceil_mode, "ceil_mode")),
    }
    attrs.update(_pads(padding, rank))
    return attrs


def _rank(x: Any) -> int:
    return x.ndim - 2


def _plane_offsets(shape_cf: tuple[int, ...], plane: int) -> np.ndarray:
    """``(n*C + c) * plane`` broadcast over a channels-first array of ``shape_cf``."""
    n, c = shape_cf[0], shape_cf[1]
    offsets = np.arange(n * c, dtype=np.int64).reshape(n, c) * plane
    return offsets.reshape(n, c, *([1] * (len(shape_cf) - 2)))


# ---------------------------------------------------------------------------
# max pooling [POOL-MAX-*, POOL-IDX-*]
# ---------------------------------------------------------------------------


def max_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """``MaxPool`` (output ``Y`` only)."""
    xc = _to_cf(x, layout)
    attrs = _window_attrs(_rank(xc), kernel_size, stride, padding, dilation, ceil_mode)
    (y,) = _run("max_pool", "MaxPool", attrs, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


def max_pool_with_indices(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray]:
    """``MaxPool`` with ``Indices`` (``storage_order=0``), mapped to per-plane indices
    by subtracting the plane offset [POOL-IDX-2]."""
    xc = _to_cf(x, layout)
    attrs = _window_attrs(_rank(xc), kernel_size, stride, padding, dilation, ceil_mode)
    attrs["storage_order"] = 0
    y, idx = _run(
        "max_pool_with_indices", "MaxPool", attrs, [xc], [_elem_type(xc), TensorProto.INT64]
    )
    plane = math.prod(xc.shape[2:])
    offsets = _plane_offsets(idx.shape, plane)
    inside = (idx >= offsets) & (idx < offsets + plane)
    local = np.where(inside, idx - offsets, idx).astype(np.int64)
    return _from_cf(y, layout), _from_cf(local, layout)


# ---------------------------------------------------------------------------
# average and Lp pooling [POOL-AVG-*, POOL-LP-*]
# ---------------------------------------------------------------------------


def avg_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``AveragePool`` with ``count_include_pad`` and ``dilations`` (opset 19+)."""
    if divisor_override is not None:
        raise Unsupported(
            f"divisor_override={divisor_override!r}: ONNX AveragePool has no divisor override "
            f"[POOL-AVG-2]"
        )
    xc = _to_cf(x, layout)
    attrs = _window_attrs(_rank(xc), kernel_size, stride, padding, dilation, ceil_mode)
    attrs["count_include_pad"] = int(args.check_bool(count_include_pad, "count_include_pad"))
    (y,) = _run("avg_pool", "AveragePool", attrs, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


def lp_pool(
    x: np.ndarray,
    *,
    kernel_size: Any,
    p: int = 2,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
) -> np.ndarray:
    """``LpPool`` (``p`` an int attribute; ``ceil_mode`` and ``dilations`` since opset 18)."""
    xc = _to_cf(x, layout)
    attrs = _window_attrs(_rank(xc), kernel_size, stride, padding, dilation, ceil_mode)
    attrs["p"] = _value(p)
    (y,) = _run("lp_pool", "LpPool", attrs, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


# ---------------------------------------------------------------------------
# global pooling [POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``GlobalMaxPool``."""
    xc = _to_cf(x, layout)
    (y,) = _run("global_max_pool", "GlobalMaxPool", {}, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``GlobalAveragePool``."""
    xc = _to_cf(x, layout)
    (y,) = _run("global_avg_pool", "GlobalAveragePool", {}, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """``GlobalLpPool`` (opset 21 model: ONNX Runtime has no kernel for version 22)."""
    xc = _to_cf(x, layout)
    (y,) = _run("global_lp_pool", "GlobalLpPool", {"p": _value(p)}, [xc], [_elem_type(xc)])
    return _from_cf(y, layout)


# ---------------------------------------------------------------------------
# unpooling, padding, convolution
# ---------------------------------------------------------------------------


def _unpool_plane(
    spatial: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, output_size: Any
) -> int | None:
    """The output plane size ONNX MaxUnpool will use, or None when the arguments give
    none (they are invalid; ONNX Runtime decides)."""
    rank = len(spatial)
    try:
        if output_size is not None:
            return math.prod(int(o) for o in _ints(output_size, rank))
        k = _ints(kernel_size, rank)
        s = k if stride is None else _ints(stride, rank)
        pads = _pads(padding, rank)["pads"]
        return math.prod(
            (L - 1) * si - pb - pe + ki
            for L, ki, si, pb, pe in zip(spatial, k, s, pads[:rank], pads[rank:])
        )
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def max_unpool(
    x: np.ndarray,
    indices: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    layout: str = "channels_first",
) -> np.ndarray:
    """``MaxUnpool(X, I[, output_shape])``; per-plane indices become whole-tensor ones by
    adding the plane offset [POOL-IDX-2]. Without ``output_size`` ONNX's default
    ``(in-1)*s - pb - pe + k`` is the spec's [POOL-UNPOOL-1]."""
    xc = _to_cf(x, layout)
    ic = _to_cf(indices, layout)
    rank = _rank(xc)
    kernel = _ints(kernel_size, rank)
    attrs: dict[str, Any] = {
        "kernel_shape": kernel,
        "strides": kernel if stride is None else _ints(stride, rank),
    }
    attrs.update(_pads(padding, rank))
    plane = _unpool_plane(tuple(xc.shape[2:]), kernel_size, stride, padding, output_size)
    if ic.dtype.kind in "iu" and plane is not None and ic.shape == xc.shape:
        local = ic.astype(np.int64)
        inside = (ic >= 0) & (ic < plane)
        ic = np.where(inside, local + _plane_offsets(ic.shape, plane), -1).astype(np.int64)
    inputs = [xc, ic]
    if output_size is not None:
        inputs.append(
            np.array([xc.shape[0], xc.shape[1], *_ints(output_size, rank)], dtype=np.int64)
        )
    (y,) = _run("max_unpool", "MaxUnpool", attrs, inputs, [_elem_type(xc)])
    return _from_cf(y, layout)


def zero_pad(x: np.ndarray, *, padding: Any, layout: str = "channels_first") -> np.ndarray:
    """``Pad(mode="constant")`` with the default constant 0, pads 0 on N and C [POOL-PAD-1]."""
    xc = _to_cf(x, layout)
    rank = _rank(xc)
    pads = _pads(padding, rank)
    if "auto_pad" in pads:  # Pad has no automatic padding: hand the string over as its pads
        pads_in = np.array(padding)
    else:
        begins, ends = (
            pads["pads"][: len(pads["pads"]) // 2],
            pads["pads"][len(pads["pads"]) // 2 :],
        )
        pads_in = np.array([0, 0, *begins, 0, 0, *ends], dtype=np.int64)
    (y,) = _run("zero_pad", "Pad", {"mode": "constant"}, [xc, pads_in], [_elem_type(xc)])
    return _from_cf(y, layout)


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> np.ndarray:
    """``Conv(X, W[, B])``: ONNX's weight layout ``(C_out, C_in/group, *kernel)`` is the
    spec's in both layouts [POOL-CONV-1..4]."""
    xc = _to_cf(x, layout)
    rank = _rank(xc)
    attrs: dict[str, Any] = {
        "strides": _ints(stride, rank),
        "dilations": _ints(dilation, rank),
        "group": _value(groups),
    }
    attrs.update(_pads(padding, rank))
    inputs = [xc, np.array(weight, copy=True, order="C")]
    if bias is not None:
        inputs.append(np.array(bias, copy=True, order="C"))
    (y,) = _run("conv", "Conv", attrs, inputs, [_elem_type(xc)])
    return _from_cf(y, layout)
