"""Gradients: accumulation over overlaps, routing of the max, Lp, conv, adaptive [POOL-GRAD-*]."""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants.base import (
    Mutant,
    ParamMutant,
    divisor_grid,
    from_first,
    grad_loop,
    to_first,
    windows,
)


class AvgGradOverwrites(Mutant):
    """The average gradient assigns ``gx[window] = g / divisor`` instead of adding, so
    where windows overlap only the last window's share survives.

    Models the classic from-scratch backward (``dx[...] = ...`` in the loops of
    NumPy CNN tutorials, seed 001; Theano's max pool gradient rework in
    https://github.com/Theano/Theano/pull/5506 notes the overlap needs atomics)."""

    CLAUSES = ("POOL-GRAD-3", "POOL-GRAD-1")
    KIND = "gradient"

    def avg_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        self.base.avg_pool_grad(x, grad_output, **kw)  # the argument checks
        layout = kw.get("layout", "channels_first")
        div = to_first(np.broadcast_to(divisor_grid(x, kw), grad_output.shape), layout)
        g = to_first(grad_output, layout).astype(np.float64) / div
        gx = np.zeros(to_first(x, layout).shape)
        wins = windows(x, kw)
        flat_g = g.reshape(g.shape[0], g.shape[1], -1)
        for n in range(gx.shape[0]):
            for c in range(gx.shape[1]):
                plane = gx[n, c].reshape(-1)
                for i, (_, taps) in enumerate(wins):
                    plane[taps] = flat_g[n, c, i]  # the bug: = instead of +=
        return from_first(gx, layout).astype(x.dtype)


class MaxGradOverwrites(Mutant):
    """The max gradient assigns ``gx[argmax] = g`` instead of adding, so an element
    that is the maximum of several overlapping windows gets one window's gradient.

    Models https://github.com/pytorch/pytorch/pull/1465-era hand-written max pool
    backward passes and the NumPy tutorials' ``dx[idx] = dout`` (the seeds)."""

    CLAUSES = ("POOL-GRAD-3", "POOL-GRAD-2")
    KIND = "gradient"

    def max_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        tie = kw.pop("tie_policy", "first")
        correct = self.base.max_pool_grad(x, grad_output, tie_policy=tie, **kw)
        if tie != "first":
            return correct
        layout = kw.get("layout", "channels_first")
        _, idx = self.base.max_pool_with_indices(x, **kw)
        gx = np.zeros(to_first(x, layout).shape, dtype=x.dtype)
        i_f, g_f = to_first(idx, layout), to_first(grad_output, layout)
        for n in range(gx.shape[0]):
            for c in range(gx.shape[1]):
                plane = gx[n, c].reshape(-1)
                for i, g in zip(i_f[n, c].reshape(-1), g_f[n, c].reshape(-1)):
                    if i >= 0:
                        plane[i] = g  # the bug: = instead of +=
        return from_first(gx, layout)


def _last_max(plane: np.ndarray, taps: list[int]) -> int:
    vals = plane[taps]
    if np.isnan(vals).any():
        return taps[int(np.flatnonzero(np.isnan(vals))[0])]
    return taps[int(np.flatnonzero(vals == vals.max())[-1])]  # the bug: last, not first


class MaxGradToLastTie(Mutant):
    """Among tied maxima the gradient goes to the last one in window order (a
    ``>=`` comparison), while the backend declares ``tie_policy="first"``.

    Models tie-routing disagreements between implementations
    (https://github.com/tensorflow/tensorflow/issues/4886,
    https://github.com/tinygrad/tinygrad/pull/229 "max to behave on ties like torch")."""

    CLAUSES = ("POOL-GRAD-2", "POOL-MAX-4")
    KIND = "gradient"

    def max_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        tie = kw.pop("tie_policy", "first")
        correct = self.base.max_pool_grad(x, grad_output, tie_policy=tie, **kw)
        if tie != "first":
            return correct

        def route(plane: np.ndarray, gplane: np.ndarray, taps: list[int], g: Any) -> None:
            if taps:
                gplane[_last_max(plane, taps)] += g

        return grad_loop(x, grad_output, kw, route)


class MaxGradToAllTies(Mutant):
    """Every tied maximum gets the full gradient (the tutorial's ``x == max`` mask)
    while the backend declares ``tie_policy="first"``.

    Models the step-by-step tutorial's backward (seed 001) and CS231n-style
    ``mask = (x == max)`` routing."""

    CLAUSES = ("POOL-GRAD-2", "POOL-MAX-4")
    KIND = "gradient"

    def max_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        kw["tie_policy"] = "all"
        return self.base.max_pool_grad(x, grad_output, **kw)


class LpGradSignLost(Mutant):
    """The Lp gradient drops ``sign(x)``: ``|x|**(p-1)`` instead of
    ``sign(x)*|x|**(p-1)``, wrong for every negative input.

    Models NNlib's lpnormpool gradient (https://github.com/FluxML/NNlib.jl/pull/639:
    "This also affects the gradient, which should be ... × sign(xᵢ)")."""

    CLAUSES = ("POOL-GRAD-4",)
    KIND = "gradient"

    def lp_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        gx = self.base.lp_pool_grad(x, grad_output, **kw)
        return np.where(x < 0, -gx, gx).astype(gx.dtype)


class LpGradNanAtZeroNorm(Mutant):
    """The Lp gradient divides by the norm even where it is 0, giving NaN, while
    the backend declares ``lp_zero_grad="zero"``.

    Models PyTorch's lp_pool backward through ``pow(1/p)`` at 0
    (https://github.com/pytorch/pytorch/issues/184037 thread; the Lp kink)."""

    CLAUSES = ("POOL-GRAD-8",)
    KIND = "gradient"

    def lp_pool_grad(self, x: np.ndarray, grad_output: np.ndarray, **kw: Any) -> np.ndarray:
        gx = self.base.lp_pool_grad(x, grad_output, **kw)
        norm = self.base.lp_pool(x, **kw)

        def route(plane: np.ndarray, gplane: np.ndarray, taps: list[int], g: Any) -> None:
            if taps and g != 0:
                gplane[taps] += g

        zero = np.where(norm == 0, np.nan, 0.0).astype(x.dtype)
        poison = grad_loop(x, zero, kw, route)
        return (gx + poison).astype(gx.dtype)


class AvgGradAlwaysCountsPad(ParamMutant):
    """The average gradient divides by the padded window size even when
    ``count_include_pad=False`` (the forward is right).

    Models backward kernels that lost the flag the forward honours (ExecuTorch's
    avg_pool divisor bookkeeping, https://github.com/pytorch/executorch/pull/18616)."""

    CLAUSES = ("POOL-GRAD-1", "POOL-AVG-4")
    KIND = "gradient"
    OPS = ("avg_pool_grad",)

    def params(self, kw: dict[str, Any]) -> dict[str, Any]:
        if kw.get("count_include_pad") is False:
            kw["count_include_pad"] = True
        return kw


class ConvGradWeightTransposed(Mutant):
    """The weight gradient comes back with its first two axes swapped,
    ``(C_in/groups, C_out, *k)`` (``X_col @ dY.T`` instead of ``dY @ X_col.T``).

    Models im2col backward passes that transpose the wrong operand (the
    ML-From-Scratch layer's ``grad_w`` bookkeeping, seed 003)."""

    CLAUSES = ("POOL-GRAD-5",)
    KIND = "gradient"

    def conv_grad(self, *args: Any, **kw: Any) -> Any:
        gx, gw, gb = self.base.conv_grad(*args, **kw)
        return gx, np.ascontiguousarray(np.swapaxes(gw, 0, 1)), gb


class ConvGradInputUnflipped(Mutant):
    """The input gradient correlates ``grad_output`` with the kernel without flipping it
    (a transposed convolution needs the spatially flipped kernel).

    Models hand-written conv backward passes (the flip is the usual mistake of
    from-scratch CNNs; the tutorial's conv_backward, seed 001, gets it right by
    slicing)."""

    CLAUSES = ("POOL-GRAD-5",)
    KIND = "gradient"

    def conv_grad(
        self, x: np.ndarray, weight: np.ndarray, bias: Any, grad_output: np.ndarray, **kw: Any
    ) -> Any:
        _, gw, gb = self.base.conv_grad(x, weight, bias, grad_output, **kw)
        flipped = np.ascontiguousarray(np.flip(weight, axis=tuple(range(2, weight.ndim))))
        gx_bad = self.base.conv_grad(x, flipped, bias, grad_output, **kw)[0]
        return gx_bad, gw, gb


class ConvGradBiasFirstSample(Mutant):
    """The bias gradient sums ``grad_output`` over the spatial dims of the first
    sample only, not over the batch.

    Models from-scratch layers that forget the batch axis in ``db = sum(dout)``
    (compare the tutorial's ``db[:,:,:,c] += dZ[i, h, w, c]`` over every example, seed 001)."""

    CLAUSES = ("POOL-GRAD-5", "POOL-CONV-4")
    KIND = "gradient"

    def conv_grad(
        self, x: np.ndarray, weight: np.ndarray, bias: Any, grad_output: np.ndarray, **kw: Any
    ) -> Any:
        gx, gw, gb = self.base.conv_grad(x, weight, bias, grad_output, **kw)
        if gb is None:
            return gx, gw, gb
        layout = kw.get("layout", "channels_first")
        g = to_first(grad_output, layout)[:1].astype(np.float64)
        return gx, gw, g.sum(axis=tuple(i for i in range(g.ndim) if i != 1)).astype(gb.dtype)


class AdaptiveAvgGradOverwrites(Mutant):
    """The adaptive average gradient assigns instead of adding, so overlapping
    adaptive windows (``L`` not a multiple of ``O``) lose all but one share.

    Models adaptive pool backward kernels written as a gather per input element that
    only looks at one window (https://github.com/tracel-ai/cubek/pull/639 reworked
    such a backward)."""

    CLAUSES = ("POOL-GRAD-6",)
    KIND = "gradient"

    def adaptive_avg_pool_grad(
        self, x: np.ndarray, grad_output: np.ndarray, **kw: Any
    ) -> np.ndarray:
        self.base.adaptive_avg_pool_grad(x, grad_output, **kw)

        def route(plane: np.ndarray, gplane: np.ndarray, taps: list[int], g: Any) -> None:
            gplane[taps] = g / len(taps)  # the bug: = instead of +=

        return grad_loop(x, grad_output, kw, route)


class AdaptiveMaxGradOverwrites(Mutant):
    """The adaptive max gradient assigns ``gx[argmax] = g`` instead of adding, so an
    element that is the maximum of two overlapping adaptive windows gets one share.

    Models https://github.com/pytorch/pytorch/issues/7645 (adaptive max pool backward
    written per window) and the overlap-free assumption of adaptive kernels fixed in
    https://github.com/flagos-ai/FlagGems/pull/4924."""

    CLAUSES = ("POOL-GRAD-6",)
    KIND = "gradient"

    def adaptive_max_pool_grad(
        self, x: np.ndarray, grad_output: np.ndarray, **kw: Any
    ) -> np.ndarray:
        tie = kw.pop("tie_policy", "first")
        correct = self.base.adaptive_max_pool_grad(x, grad_output, tie_policy=tie, **kw)
        if tie != "first":
            return correct

        def route(plane: np.ndarray, gplane: np.ndarray, taps: list[int], g: Any) -> None:
            vals = plane[taps]
            nan = np.flatnonzero(np.isnan(vals))
            j = nan[0] if nan.size else np.flatnonzero(vals == vals.max())[0]
            gplane[taps[int(j)]] = g  # the bug: = instead of +=

        return grad_loop(x, grad_output, kw, route)
