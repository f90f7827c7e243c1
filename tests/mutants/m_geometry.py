"""Output geometry: ceil mode, padding kinds, stride and dilation [POOL-GEOM-*]."""

from __future__ import annotations

from typing import Any, ClassVar

from mutants.base import GEOMETRY, Mutant, ParamMutant


def _eff(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def _length_without_drop(
    length: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad_begin: int,
    pad_end: int,
    ceil_mode: bool,
) -> int:
    span = length + pad_begin + pad_end - _eff(kernel, dilation)
    return -(-span // stride) + 1 if ceil_mode else span // stride + 1


class CeilKeepsWindowInPadding(Mutant):
    """Ceil mode keeps a last window that starts in the end padding (no POOL-GEOM-4 drop).

    Models PyTorch's max_pool2d before the fix, which took a max over a window
    entirely outside the input and returned -inf
    (https://github.com/pytorch/pytorch/issues/45357, fixed for XLA in
    https://github.com/pytorch/xla/pull/2583), and burn's pool output size
    (https://github.com/tracel-ai/burn/issues/5791)."""

    CLAUSES = ("POOL-GEOM-4", "POOL-GEOM-3")
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"output_length": _length_without_drop}
    }


def _ceil_as_floor_plus_one(
    length: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad_begin: int,
    pad_end: int,
    ceil_mode: bool,
) -> int:
    span = length + pad_begin + pad_end - _eff(kernel, dilation)
    if not ceil_mode:
        return span // stride + 1
    out = span // stride + 2  # the slip: ceil(a / b) written as a // b + 1
    if out > 1 and (out - 1) * stride >= length + pad_begin:
        out -= 1
    return out


class CeilAsFloorPlusOne(Mutant):
    """Ceil mode computes ``ceil(span / s)`` as ``span // s + 1``, one window too many
    whenever the stride divides the span exactly.

    The integer ceil-division slip behind several "ceil_mode output size" reports,
    e.g. https://github.com/pytorch/pytorch/issues/57178 (a ceil-mode size that
    disagrees with the documented formula by one)."""

    CLAUSES = ("POOL-GEOM-3",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"output_length": _ceil_as_floor_plus_one}
    }


class CeilModeIgnored(ParamMutant):
    """``ceil_mode=True`` is dropped: every call runs in floor mode.

    Models converters and runtimes that did not implement ceil mode for pooling
    (https://github.com/tenstorrent/pytorch2.0_ttnn/issues/408, the NNEF round trip
    that drops ceil mode in https://github.com/sonos/tract/pull/2851)."""

    CLAUSES = ("POOL-GEOM-3",)

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("ceil_mode") is True:
            kw["ceil_mode"] = False
        return kw


class SameUpperLowerSwapped(ParamMutant):
    """``same_upper`` and ``same_lower`` swapped: the odd padding element goes to the
    wrong end.

    Models onnxmltools' CoreML pooling converter, which had the two modes the wrong
    way round (https://github.com/onnx/onnxmltools/issues/93)."""

    CLAUSES = ("POOL-GEOM-5",)

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        swap = {"same_upper": "same_lower", "same_lower": "same_upper"}
        if isinstance(kw.get("padding"), str):
            kw["padding"] = swap.get(kw["padding"], kw["padding"])
        return kw


class ValidAsSame(ParamMutant):
    """``padding="valid"`` treated as ``"same_upper"`` (a padding-string mapping that
    pads whenever a string is given).

    Models converter bugs in mapping Keras/TF padding strings onto pooling, e.g.
    https://github.com/onnx/keras-onnx/pull/72."""

    CLAUSES = ("POOL-GEOM-6",)

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("padding") == "valid":
            kw["padding"] = "same_upper"
        return kw


def _same_without_dilation(
    length: int, kernel: int, stride: int, dilation: int, upper: bool
) -> tuple[int, int]:
    out = -(-length // stride)
    total = max(0, (out - 1) * stride + kernel - length)  # the bug: kernel, not d*(k-1)+1
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


class SamePaddingIgnoresDilation(Mutant):
    """SAME padding computed from the kernel size instead of the dilated (effective)
    kernel, so dilated SAME pooling pads too little.

    Models https://github.com/pytorch/glow/pull/2696-style SAME_UPPER/SAME_LOWER
    importers that compute ``pad = (out-1)*s + k - L`` without dilation."""

    CLAUSES = ("POOL-GEOM-5",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"same_padding": _same_without_dilation}
    }


def _same_without_stride(
    length: int, kernel: int, stride: int, dilation: int, upper: bool
) -> tuple[int, int]:
    total = _eff(kernel, dilation) - 1  # the bug: the stride-1 formula for every stride
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


class SamePaddingIgnoresStride(Mutant):
    """SAME padding always ``eff - 1`` in total (the stride-1 formula), so strided SAME
    pooling pads too much and can produce a different output size.

    Models the "same = pad (k-1)/2" shortcut of converters that ignore TF's
    stride-dependent SAME rule (https://github.com/apache/singa/issues/583)."""

    CLAUSES = ("POOL-GEOM-5",)
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"same_padding": _same_without_stride}
    }


class DilationIgnored(ParamMutant):
    """``dilation`` is dropped (every op runs with dilation 1).

    Models runtimes that accepted but ignored the pooling ``dilations`` attribute
    (https://github.com/llvm/torch-mlir/pull/4144 added dilation to the divisor
    computation of a lowering that lacked it)."""

    CLAUSES = ("POOL-GEOM-1", "POOL-GEOM-8", "POOL-AVG-5")

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw["dilation"] = 1
        return kw


def _effective_kernel_times(kernel: int, dilation: int) -> int:
    return dilation * kernel  # the bug: d*k instead of d*(k-1)+1


class EffectiveKernelOffByOne(Mutant):
    """The dilated kernel's extent is ``d*k`` instead of ``d*(k-1)+1`` (one gap too
    many), so dilated outputs lose a window.

    The off-by-one the PyTorch docs had to spell out for dilated pooling sizes
    (https://github.com/pytorch/pytorch/issues/6842)."""

    CLAUSES = ("POOL-GEOM-1", "POOL-GEOM-2")
    PATCHES: ClassVar[dict[str, dict[str, Any]]] = {
        GEOMETRY: {"effective_kernel": _effective_kernel_times}
    }


class StrideDefaultsToOne(ParamMutant):
    """``stride=None`` means stride 1 instead of ``kernel_size``.

    Models Keras/TF-style defaults leaking into PyTorch-style APIs (ML-From-Scratch's
    PoolingLayer, seed 000, defaults ``stride=1``; RETURNN documents the opposite
    default in https://github.com/rwth-i6/returnn/pull/77)."""

    CLAUSES = ("POOL-PARAM-2", "POOL-GEOM-2")

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("stride") is None:
            kw["stride"] = 1
        return kw


class EndPaddingIgnored(ParamMutant):
    """Asymmetric explicit padding ``(begin, end)`` is applied as ``(begin, begin)``.

    Models backends that only support symmetric pads and silently keep the first
    one (https://github.com/apache/singa/pull/612 added the split of asymmetric
    ONNX pads that had been dropped)."""

    CLAUSES = ("POOL-PARAM-4", "POOL-GEOM-2")

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        pad = kw.get("padding")
        if isinstance(pad, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in pad):
            kw["padding"] = tuple((p[0], p[0]) for p in pad)
        return kw
