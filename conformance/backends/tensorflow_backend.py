"""The ``tensorflow`` backend: ``tf.nn`` pooling and convolution on the CPU, gradients
through ``tf.GradientTape``.

TensorFlow's CPU pooling and convolution kernels take channels-last data (``NWC``,
``NHWC``, ``NDHWC``), so ``channels_first`` inputs (and ``grad_output``) are transposed
to channels last before the call and results transposed back; ``conv``'s weight
``(C_out, C_in/groups, *kernel)`` becomes TensorFlow's ``(*kernel, C_in/groups, C_out)``.
The layout is the adapter's translation, so an unknown value is rejected here
[POOL-LAYOUT-1]. The runtime runs with one intra-op and one inter-op thread.

How the spec's windows map onto TensorFlow's (only where the windows are the same):

* ``"VALID"``: no padding and the floor-mode window count; ``"SAME"``: the padding of
  ``"same_upper"`` [POOL-GEOM-5] and ``ceil(L/s)`` windows; for the pools, TensorFlow
  leaves ``SAME`` padding out of a max and out of an average's count.
* explicit padding lists: ``tf.nn.max_pool`` takes them for 1-D and 2-D inputs and
  ``tf.nn.conv2d`` for 2-D; padding is left out of the max, as the spec's is
  [POOL-MAX-1]. A ceil-mode window count [POOL-GEOM-3, POOL-GEOM-4] is reached by
  changing the end padding to the value nearest ``pe`` whose floor-mode count is the
  spec's (``_end_padding``): added taps are padding to TensorFlow, so they take no
  part in a max, and removed ones belonged only to a window the spec drops.

Compositions of TensorFlow ops, each equivalent to the spec where it is used:

* max pooling (values) where TensorFlow has no padding form (3-D explicit padding,
  ``same_lower``, dilation through ``tf.nn.pool``): ``tf.pad`` with ``-inf`` (integer
  dtypes: the dtype's minimum), then ``VALID``. The max of a non-empty set together
  with copies of the dtype's smallest value is the set's max (NaN and signed zeros
  included). Used only when every window holds an input element: a window entirely
  in padding has no TensorFlow counterpart (its explicit padding must be smaller
  than the window), and not for gradients or indices, where a padded ``-inf`` could
  take the place of an input ``-inf``.
* average pooling with ``count_include_pad=True``: ``tf.pad`` with zeros, then
  ``VALID``. Zeros add nothing to a sum and the ``VALID`` divisor is the kernel size,
  which is the count of taps in ``[-pb, L+pe)`` [POOL-AVG-3] when no window overhangs
  the end padding (floor-mode window counts only).
* convolution with padding TensorFlow cannot pass itself: ``tf.pad`` with zeros, then
  ``VALID``, for finite weights only (``0 * w`` is then an exact zero).
* global pooling: ``tf.reduce_max``, ``tf.reduce_mean`` over the spatial axes and
  ``tf.norm(ord=p)`` over the spatial positions reshaped to one axis.
* ``max_pool_with_indices``: ``tf.nn.max_pool_with_argmax`` (2-D, ``VALID``/``SAME``)
  flattens ``[b, y, x, c]`` to ``(y*W + x)*C + c``; the spec's index is that
  divided by ``C`` [POOL-IDX-3].

``Unsupported`` (with the clause) where TensorFlow has no form: ``divisor_override``,
``count_include_pad=False`` with padding other than ``SAME``'s, a ceil-mode overhang
in an average, dilation with stride above 1, indices outside 2-D ``VALID``/``SAME``,
and dtypes without a CPU kernel. TensorFlow has no Lp pooling, no unpooling and no
adaptive pooling: those functions are missing. The values the adapter translates
(``layout``, ``ceil_mode``, ``count_include_pad``, the padding strings) are rejected here
when they are not the spec's (``SpecError``, their clauses); every other argument the spec
rejects goes to TensorFlow as given and its own checks decide; no result is adjusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf  # importing this backend imports tensorflow; the harness never does

from poolconf import SpecError, Unsupported
from poolconf.reference import arguments as args
from poolconf.reference import dtypes as dt
from poolconf.reference import geometry as geo

try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:  # the runtime was started before this module was imported
    pass

# Verified on tensorflow-cpu 2.21.0:
# * ties (equal values, -0.0 and +0.0) select the first element in window order, for
#   values, argmax and the gradient;
# * tf.nn.max_pool drops NaN unless it comes first in its window (a known failure,
#   POOL-MAX-2): when a NaN is selected it is the first one;
# * explicit padding of the window size or more is rejected ("Left padding 3 needs to
#   be smaller than the window size 2"), which is how windows entirely in padding arise.
DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "error",
    "nan_index": "first",
    "subnormals": "flush",  # DAZ and FTZ on the CPU [POOL-DTYPE-5]
    # tf.nn.max_pool's explicit padding must be smaller than the window; the average's
    # composition (tf.pad, then VALID) has no limit, and a value returned past the limit
    # is judged as any other [POOL-PARAM-7]
    "padding_limit": "below_kernel",
    # window sums and tf.norm's |x|**p rounded to the input dtype [POOL-DTYPE-6]
    "accumulator": "dtype",
}
XFAIL_FILE = "tensorflow_xfail.txt"

_DATA_FORMAT = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
_ALL_DTYPE_OPS = ("max_pool", "max_pool_with_indices", "global_max_pool", "zero_pad")
# TensorFlow's words for "no kernel for this dtype" (attr 'T' is the data's dtype; other
# attrs, such as a string given as paddings, are argument errors, not missing kernels)
_MISSING_KERNEL = (
    "Could not find device for node",
    "Value for attr 'T' of",
    "No registered",
    "no registered",
)


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------


def _to_last(a: Any, layout: str) -> np.ndarray:
    """A channels-last copy of ``a`` (TensorFlow's CPU layout)."""
    args.check_layout(layout)
    if layout == "channels_first":
        a = np.moveaxis(a, 1, -1)
    return np.array(a, copy=True, order="C")


def _from_last(t: Any, layout: str) -> np.ndarray:
    a = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    if layout == "channels_first":
        a = np.moveaxis(a, -1, 1)
    return np.array(a, copy=True, order="C")


def _spec_dtype_ok(op: str, a: Any) -> bool:
    try:
        name = dt.dtype_name(a.dtype)
    except (SpecError, TypeError, AttributeError):
        return False
    return dt.is_float(name) or op in _ALL_DTYPE_OPS


def _call(op: str, x: Any, fn: Any) -> Any:
    """``fn()``; a missing TensorFlow kernel for a dtype the spec allows is Unsupported, and
    so is what TensorFlow itself says it does not support on the CPU (the gradient of a
    grouped convolution)."""
    try:
        return fn()
    except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError, TypeError) as exc:
        if any(m in str(exc) for m in _MISSING_KERNEL) and _spec_dtype_ok(op, x):
            raise Unsupported(
                f"tensorflow {tf.__version__} has no CPU kernel for {op} on "
                f"{dt.dtype_name(x.dtype)} {x.ndim - 2}-d input [POOL-DTYPE-1]"
            ) from exc
        if "not supported on CPU" in str(exc) or "do not yet support" in str(exc):
            reason = str(exc).split("}}")[-1].split(".")[0].strip()
            raise Unsupported(
                f"tensorflow {tf.__version__}: {reason} ({op}) [POOL-GRAD-5, POOL-CONV-2]"
            ) from exc
        raise


def _raw(v: Any, rank: int) -> list[Any]:
    if isinstance(v, (tuple, list)):
        return list(v)
    return [v] * rank


def _explicit(pairs: list[Any]) -> list[list[Any]]:
    """Spatial pairs as TensorFlow's explicit channels-last padding list."""
    return [[0, 0], *[list(p) for p in pairs], [0, 0]]


def _raw_padding(padding: Any, rank: int) -> Any:
    if isinstance(padding, str):
        return {"valid": "VALID", "same_upper": "SAME"}.get(padding, padding)  # same_lower: none
    return _explicit([p if isinstance(p, (tuple, list)) else (p, p) for p in _raw(padding, rank)])


def _fmt(t: Any) -> str | None:
    """TensorFlow's channels-last data format for ``t``, passed explicitly: with the
    default (None) TensorFlow 2.21's eager gradients of 3-d pools and convolutions fail
    (their gradient functions read the format attribute as None)."""
    return _DATA_FORMAT.get(len(t.shape) - 2)


def _pad_const(t: Any, pairs: list[tuple[int, int]], value: Any) -> Any:
    return tf.pad(t, _explicit(pairs), constant_values=value)


def _lowest(dtype: Any) -> Any:
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return -np.inf


# ---------------------------------------------------------------------------
# window geometry
# ---------------------------------------------------------------------------


def _end_padding(a: geo.AxisGeometry) -> int:
    """The end padding that gives exactly the spec's ``a.out`` windows to a floor-mode
    pool: the value nearest ``a.pad_end`` in ``[lo, lo + s - 1]``,
    ``lo = (O-1)*s + eff - L - pb``. Above ``pad_end`` it adds the ceil-mode overhang;
    below, it cuts positions that only a window dropped by POOL-GEOM-4 reached."""
    lo = (
        (a.out - 1) * a.stride + geo.effective_kernel(a.kernel, a.dilation) - a.length - a.pad_begin
    )
    return max(0, min(max(a.pad_end, lo), lo + a.stride - 1))


class _Window:
    """The spec geometry of one windowed call and TensorFlow's forms for it.

    ``geom`` is None when the spec rejects the arguments (they then go to TensorFlow
    raw). ``string`` is ``"VALID"``/``"SAME"`` when that TensorFlow padding gives the
    spec's windows; ``pairs`` the explicit (begin, end) padding giving them (the end
    as ``_end_padding`` gives it; ``overhang`` when that adds ceil-mode positions)."""

    def __init__(
        self,
        spatial: tuple[int, ...],
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: Any,
    ) -> None:
        args.check_bool(ceil_mode, "ceil_mode")
        if isinstance(padding, str):  # the adapter translates the spec's strings
            args.check_padding_string(padding)
        rank = len(spatial)
        self.raw = (kernel_size, stride, padding, dilation)
        try:
            g = geo.pool_geometry(spatial, kernel_size, stride, padding, dilation, ceil_mode)
        except SpecError:
            self.geom = None
            self.kernel = _raw(kernel_size, rank)
            self.stride = self.kernel if stride is None else _raw(stride, rank)
            self.dilation = _raw(dilation, rank)
            self.string = None
            self.pairs: list[
                tuple[int, int]
            ] = []  # no spec geometry: TensorFlow gets the raw arguments
            self.overhang = False
            return
        self.geom = g
        self.kernel = [a.kernel for a in g.axes]
        self.stride = [a.stride for a in g.axes]
        self.dilation = [a.dilation for a in g.axes]
        self.end = [_end_padding(a) for a in g.axes]
        self.overhang = any(e > a.pad_end for a, e in zip(g.axes, self.end))
        self.pairs = [(a.pad_begin, e) for a, e in zip(g.axes, self.end)]
        self.string = None
        floor_valid = all(
            geo.output_length(a.length, a.kernel, a.stride, a.dilation, 0, 0, False) == a.out
            for a in g.axes
        )
        if all(p == (0, 0) for p in g.padding) and floor_valid:
            self.string = "VALID"
        else:
            same = [
                geo.same_padding(a.length, a.kernel, a.stride, a.dilation, True) for a in g.axes
            ]
            if list(g.padding) == same and all(a.out == -(-a.length // a.stride) for a in g.axes):
                self.string = "SAME"

    @property
    def dilated(self) -> bool:
        return any(d != 1 for d in self.dilation)

    def has_empty_window(self) -> bool:
        assert self.geom is not None
        return any(not any(t.in_bounds for t in taps) for _, taps in self.geom.windows())


def _window(
    x: Any, layout: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any
) -> _Window:
    args.check_layout(layout)
    spatial = tuple(x.shape[2:]) if layout == "channels_first" else tuple(x.shape[1:-1])
    return _Window(spatial, kernel_size, stride, padding, dilation, ceil_mode)


def _dilated_stride(op: str, w: _Window) -> None:
    if w.dilated and any(s != 1 for s in w.stride):
        raise Unsupported(
            f"tf.nn.pool takes dilation only with stride 1; got stride={w.stride}, "
            f"dilation={w.dilation} ({op}) [POOL-PARAM-3]"
        )


# ---------------------------------------------------------------------------
# max pooling [POOL-MAX-*, POOL-IDX-3, POOL-GRAD-2]
# ---------------------------------------------------------------------------


def _max_forward(op: str, t: Any, w: _Window, grad: bool) -> Any:
    rank = len(t.shape) - 2
    if w.geom is None:  # the spec rejects the arguments: TensorFlow's checks decide
        k, s, d = w.kernel, w.stride, w.dilation
        padding = _raw_padding(w.raw[2], rank)
        if any(v != 1 for v in d):
            return tf.nn.pool(
                t, k, "MAX", strides=s, padding=padding, dilations=d, data_format=_fmt(t)
            )
        return tf.nn.max_pool(t, k, s, padding, data_format=_fmt(t))
    if w.string is not None and not w.dilated:
        return tf.nn.max_pool(t, w.kernel, w.stride, w.string, data_format=_fmt(t))
    spec_pad_too_big = any(max(a.pad_begin, a.pad_end) >= a.kernel for a in w.geom.axes)
    fits = all(max(pair) < k for pair, k in zip(w.pairs, w.kernel))
    if rank in (1, 2) and not w.dilated and (fits or spec_pad_too_big):
        # TensorFlow's explicit padding; padding of the window size or more is the spec's
        # own here, and TensorFlow's check decides
        return tf.nn.max_pool(t, w.kernel, w.stride, _explicit(w.pairs), data_format=_fmt(t))
    # no TensorFlow padding form (3-d explicit padding, dilation, or a ceil-mode overhang
    # as long as the window): -inf padding, then VALID (see the module docstring)
    why = (
        "dilation with padding"
        if w.dilated
        else "3-d explicit padding"
        if rank == 3
        else "ceil mode (its overhang would be padding as long as the window)"
    )
    if grad:
        raise Unsupported(
            f"tensorflow has no {why} for max pooling; padding with -inf would let a padded "
            f"element take an input -inf's gradient ({op}) [POOL-GRAD-2]"
        )
    if w.has_empty_window():
        raise Unsupported(
            f"a window lies entirely in padding; tensorflow's own explicit padding must be "
            f"smaller than the window and it has no {why} ({op}) [POOL-EMPTY-1]"
        )
    _dilated_stride(op, w)
    t = _pad_const(t, w.pairs, _lowest(t.dtype.as_numpy_dtype))
    if w.dilated:
        return tf.nn.pool(
            t,
            w.kernel,
            "MAX",
            strides=w.stride,
            padding="VALID",
            dilations=w.dilation,
            data_format=_fmt(t),
        )
    return tf.nn.max_pool(t, w.kernel, w.stride, "VALID", data_format=_fmt(t))


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
    """``tf.nn.max_pool`` (``tf.nn.pool`` when dilated)."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    t = tf.constant(_to_last(x, layout))
    return _from_last(_call("max_pool", x, lambda: _max_forward("max_pool", t, w, False)), layout)


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
    """``tf.nn.max_pool_with_argmax`` (2-D, ``VALID``/``SAME``): index ``(y*W + x)*C + c``
    divided by ``C`` is the plane index ``y*W + x`` [POOL-IDX-3]."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    rank = x.ndim - 2
    if w.geom is not None:
        if rank != 2:
            raise Unsupported(
                f"tf.nn.max_pool_with_argmax takes 2-d input only, got {rank}-d [POOL-IDX-1]"
            )
        if w.dilated:
            raise Unsupported("tf.nn.max_pool_with_argmax has no dilation [POOL-PARAM-3]")
        if w.string is None:
            raise Unsupported(
                f"tf.nn.max_pool_with_argmax takes VALID or SAME padding only; got padding "
                f"{list(w.geom.padding)} with {list(w.geom.out_shape)} windows [POOL-PARAM-4]"
            )
        padding_tf: Any = w.string
    else:
        padding_tf = _raw_padding(padding, rank)
    t = tf.constant(_to_last(x, layout))
    values, argmax = _call(
        "max_pool_with_indices",
        x,
        lambda: tf.nn.max_pool_with_argmax(
            t, w.kernel, w.stride, padding_tf, include_batch_in_index=False
        ),
    )
    channels = int(t.shape[-1])
    idx = argmax.numpy().astype(np.int64) // channels
    return _from_last(values, layout), _from_last(idx, layout)


def _tape_grad(f: Any, x: np.ndarray, grad_output: np.ndarray, layout: str) -> np.ndarray:
    t = tf.constant(_to_last(x, layout))
    g = tf.constant(_to_last(grad_output, layout))
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = f(t)
    return _from_last(tape.gradient(y, t, output_gradients=g), layout)


def max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """``tf.GradientTape`` through ``max_pool``'s native forms."""
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: tensorflow routes a max gradient to one element "
            f"[POOL-GRAD-2]"
        )
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    return _call(
        "max_pool_grad",
        x,
        lambda: _tape_grad(
            lambda t: _max_forward("max_pool_grad", t, w, True), x, grad_output, layout
        ),
    )


# ---------------------------------------------------------------------------
# average pooling [POOL-AVG-*, POOL-GRAD-1]
# ---------------------------------------------------------------------------


def _avg_forward(op: str, t: Any, w: _Window, count_include_pad: Any, divisor_override: Any) -> Any:
    args.check_bool(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        raise Unsupported(
            f"divisor_override={divisor_override!r}: tensorflow's average pools have no divisor "
            f"override [POOL-AVG-2]"
        )
    rank = len(t.shape) - 2
    if w.geom is None:
        k, s, d = w.kernel, w.stride, w.dilation
        padding = _raw_padding(w.raw[2], rank)
        if any(v != 1 for v in d):
            return tf.nn.pool(
                t, k, "AVG", strides=s, padding=padding, dilations=d, data_format=_fmt(t)
            )
        return tf.nn.avg_pool(t, k, s, padding, data_format=_fmt(t))
    _dilated_stride(op, w)
    string = w.string
    if string == "SAME" and count_include_pad:
        string = None  # SAME leaves the padding out of the count
    if string is None:
        if w.overhang:
            raise Unsupported(
                f"tensorflow's average pools have no ceil mode; a window overhanging the end "
                f"padding would be counted in full by VALID on a padded input ({op}) "
                f"[POOL-AVG-3, POOL-GEOM-3]"
            )
        if not count_include_pad:
            raise Unsupported(
                f"count_include_pad=False with padding {list(w.geom.padding)}: tensorflow "
                f"leaves padding out of the count only for SAME padding ({op}) [POOL-AVG-4]"
            )
        if w.has_empty_window():
            raise Unsupported(
                f"a window lies entirely in padding; tensorflow's average pools have no explicit "
                f"padding and its max pool's must be smaller than the window ({op}) "
                f"[POOL-EMPTY-1]"
            )
        t = _pad_const(t, w.pairs, 0)  # zeros add nothing; VALID counts the kernel
        string = "VALID"
    if w.dilated:
        if string != "VALID":
            raise Unsupported(
                f"tf.nn.pool has no SAME average pooling with dilation ({op}) [POOL-AVG-5]"
            )
        return tf.nn.pool(
            t,
            w.kernel,
            "AVG",
            strides=w.stride,
            padding="VALID",
            dilations=w.dilation,
            data_format=_fmt(t),
        )
    return tf.nn.avg_pool(t, w.kernel, w.stride, string, data_format=_fmt(t))


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
    """``tf.nn.avg_pool`` (``tf.nn.pool`` when dilated); see the module docstring."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    t = tf.constant(_to_last(x, layout))
    out = _call(
        "avg_pool", x, lambda: _avg_forward("avg_pool", t, w, count_include_pad, divisor_override)
    )
    return _from_last(out, layout)


def avg_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
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
    """``tf.GradientTape`` through ``avg_pool``."""
    w = _window(x, layout, kernel_size, stride, padding, dilation, ceil_mode)
    return _call(
        "avg_pool_grad",
        x,
        lambda: _tape_grad(
            lambda t: _avg_forward("avg_pool_grad", t, w, count_include_pad, divisor_override),
            x,
            grad_output,
            layout,
        ),
    )


# ---------------------------------------------------------------------------
# global pooling [POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def _check_global_rank(x: Any) -> None:
    """Global pooling reduces the axes the layout calls spatial; with fewer than three
    dims the layout names none, and the adapter has no axes to give TensorFlow
    [POOL-SHAPE-1]."""
    if getattr(x, "ndim", 0) < 3:
        raise SpecError(
            f"x.shape={getattr(x, 'shape', None)} has no spatial dim for the layout", "POOL-SHAPE-1"
        )


def _spatial_axes(ndim: int) -> list[int]:
    return list(range(1, ndim - 1))  # channels last


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``tf.reduce_max`` over the spatial axes, ``keepdims=True``."""
    _check_global_rank(x)
    t = tf.constant(_to_last(x, layout))
    out = _call(
        "global_max_pool",
        x,
        lambda: tf.reduce_max(t, axis=_spatial_axes(t.shape.rank), keepdims=True),
    )
    return _from_last(out, layout)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``tf.reduce_mean`` over the spatial axes, ``keepdims=True``."""
    _check_global_rank(x)
    t = tf.constant(_to_last(x, layout))
    out = _call(
        "global_avg_pool",
        x,
        lambda: tf.reduce_mean(t, axis=_spatial_axes(t.shape.rank), keepdims=True),
    )
    return _from_last(out, layout)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """``tf.norm(ord=p)`` over the spatial positions (reshaped to one axis: ``tf.norm``
    takes one axis for a vector norm)."""
    _check_global_rank(x)
    xl = _to_last(x, layout)
    t = tf.constant(xl)
    n, c = xl.shape[0], xl.shape[-1]

    def f() -> Any:
        flat = tf.reshape(t, (n, -1, c))
        norm = tf.norm(flat, ord=p, axis=1, keepdims=True)
        return tf.reshape(norm, (n, *([1] * (xl.ndim - 2)), c))

    return _from_last(_call("global_lp_pool", x, f), layout)


# ---------------------------------------------------------------------------
# zero padding and convolution [POOL-PAD-1, POOL-CONV-*, POOL-GRAD-5]
# ---------------------------------------------------------------------------


def zero_pad(x: np.ndarray, *, padding: Any, layout: str = "channels_first") -> np.ndarray:
    """``tf.pad`` with zeros, none on N and C."""
    t = tf.constant(_to_last(x, layout))
    rank = x.ndim - 2
    if isinstance(padding, str):
        paddings: Any = padding  # tf.pad has no string form; it rejects it
    else:
        paddings = _explicit(
            [p if isinstance(p, (tuple, list)) else (p, p) for p in _raw(padding, rank)]
        )
    return _from_last(_call("zero_pad", x, lambda: tf.pad(t, paddings)), layout)


def _filters(weight: np.ndarray) -> np.ndarray:
    """``(C_out, C_in/groups, *kernel)`` -> TensorFlow's ``(*kernel, C_in/groups, C_out)``."""
    return np.ascontiguousarray(np.moveaxis(np.moveaxis(weight, 0, -1), 0, -2))


def _check_groups(x: np.ndarray, weight: np.ndarray, groups: Any, layout: str) -> None:
    """tensorflow has no groups argument: it infers them as ``C_in / filter C_in``. The
    adapter translates ``groups`` into nothing, so it rejects a value the weight does
    not imply [POOL-CONV-2]."""
    c_in = x.shape[-1] if layout == "channels_last" else x.shape[1]
    ok = (
        isinstance(groups, int)
        and not isinstance(groups, bool)
        and groups >= 1
        and weight.ndim >= 2
        and weight.shape[1] * groups == c_in
        and weight.shape[0] % groups == 0
    )
    if not ok:
        raise SpecError(
            f"groups={groups!r} with C_in={c_in} and weight.shape={tuple(weight.shape)}: "
            f"tensorflow infers groups from the channel counts",
            "POOL-CONV-2",
        )


def _conv_forward(
    t: Any,
    f: Any,
    b: Any,
    x: np.ndarray,
    weight: np.ndarray,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    layout: str,
) -> Any:
    rank = x.ndim - 2
    _check_groups(x, weight, groups, layout)
    spatial = tuple(x.shape[2:]) if layout == "channels_first" else tuple(x.shape[1:-1])
    try:
        kernel = tuple(int(k) for k in weight.shape[2:])
        g = geo.pool_geometry(spatial, kernel, stride, padding, dilation, False)
    except (SpecError, AttributeError):
        out = tf.nn.convolution(
            t,
            f,
            strides=_raw(stride, rank),
            padding=_raw_padding(padding, rank),
            dilations=_raw(dilation, rank),
            data_format=_DATA_FORMAT.get(rank),
        )
        return out if b is None else tf.nn.bias_add(out, b)
    s = [a.stride for a in g.axes]
    d = [a.dilation for a in g.axes]
    if rank == 3 and groups != 1:
        raise Unsupported(
            f"groups={groups}: tensorflow's Conv3D has no grouped convolution (the "
            f"filter's input channels must equal the input's) [POOL-CONV-2]"
        )
    if any(v != 1 for v in d) and any(v != 1 for v in s):
        raise Unsupported(
            f"tf.nn.convolution takes dilation only with stride 1; got "
            f"stride={s}, dilation={d} [POOL-PARAM-3]"
        )
    same = [geo.same_padding(a.length, a.kernel, a.stride, a.dilation, True) for a in g.axes]
    if all(p == (0, 0) for p in g.padding):
        pad: Any = "VALID"
    elif list(g.padding) == same:
        pad = "SAME"
    elif rank == 2:
        pad = _explicit(list(g.padding))
    else:
        if not np.all(np.isfinite(np.asarray(weight, dtype=np.float64))):
            raise Unsupported(
                "tensorflow has no explicit convolution padding for this rank; zero padding "
                "with tf.pad multiplies zeros by the weights, and a non-finite weight gives "
                "0*inf = NaN where the spec sums in-bounds taps only [POOL-CONV-1]"
            )
        t = _pad_const(t, list(g.padding), 0)
        pad = "VALID"
    # data_format is passed although it is the default: without it TensorFlow 2.21's
    # eager Conv3D gradient fails (_Conv3DGrad reads the format attribute as None)
    fmt = _DATA_FORMAT[rank]
    if rank == 2 and not isinstance(pad, str):
        out = tf.nn.conv2d(t, f, strides=s, padding=pad, dilations=d, data_format=fmt)
    else:
        out = tf.nn.convolution(t, f, strides=s, padding=pad, dilations=d, data_format=fmt)
    return out if b is None else tf.nn.bias_add(out, b)


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
    """``tf.nn.convolution`` (``tf.nn.conv2d`` for explicit 2-D padding) + ``tf.nn.bias_add``;
    groups are implied by ``C_in / filter C_in``."""
    t = tf.constant(_to_last(x, layout))
    f = tf.constant(_filters(weight))
    b = None if bias is None else tf.constant(bias)
    out = _call(
        "conv",
        x,
        lambda: _conv_forward(t, f, b, x, weight, stride, padding, dilation, groups, layout),
    )
    return _from_last(out, layout)


def conv_grad(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_output: np.ndarray,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "channels_first",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``tf.GradientTape`` through ``conv`` for x, weight and bias."""
    t = tf.constant(_to_last(x, layout))
    f = tf.constant(_filters(weight))
    b = None if bias is None else tf.constant(bias)
    g = tf.constant(_to_last(grad_output, layout))

    def run() -> Any:
        with tf.GradientTape() as tape:
            tape.watch(t)
            tape.watch(f)
            if b is not None:
                tape.watch(b)
            y = _conv_forward(t, f, b, x, weight, stride, padding, dilation, groups, layout)
        sources = [t, f] + ([] if b is None else [b])
        return tape.gradient(y, sources, output_gradients=g)

    grads = _call("conv_grad", x, run)
    gw = np.array(np.moveaxis(np.moveaxis(grads[1].numpy(), -1, 0), -1, 1), copy=True, order="C")
    gb = None if bias is None else np.array(grads[2].numpy(), copy=True)
    return _from_last(grads[0], layout), gw, gb
