"""Drawn calls with their arrays: a ``PoolConfig`` plus ``x`` (and ``indices``,
``weight``, ``bias``) and a seeded ``grad_output``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from poolconf import reference as ref
from poolconf.conformance.strategies._args import Arg, resolve
from poolconf.conformance.strategies.configs import PoolConfig, pool_configs
from poolconf.conformance.strategies.values import arrays, seeded_dense, seeded_values
from poolconf.reference import catalog as cat
from poolconf.reference import dtypes as dt
from poolconf.reference import fast


@dataclass(frozen=True)
class PoolCase:
    """A configuration with its arrays. ``inputs`` are the forward op's positional
    arrays by name (``x``; ``x, indices`` for unpooling; ``x, weight, bias`` for conv);
    ``grad_output`` has the forward output's shape and dtype (None when the op has no
    gradient or the dtype is an integer one)."""

    config: PoolConfig
    inputs: dict[str, np.ndarray | None]
    grad_output: np.ndarray | None = None
    special: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str:
        return self.config.op

    @property
    def params(self) -> dict[str, Any]:
        return self.config.params

    @property
    def x(self) -> np.ndarray:
        x = self.inputs["x"]
        assert x is not None
        return x

    def grad_inputs(self) -> dict[str, np.ndarray | None]:
        """The arrays of the gradient call: the forward's and ``grad_output``."""
        return {**self.inputs, "grad_output": self.grad_output}

    def output_specs(self, op: str) -> dict[str, tuple[tuple[int, ...], np.dtype] | None]:
        """Shape and dtype of every output of ``op`` (the case's op or its gradient), as
        the spec gives them [POOL-DTYPE-2, POOL-IDX-4]; None for an absent bias gradient."""
        x = self.x
        if not cat.op(op).is_grad:
            specs: dict[str, Any] = dict.fromkeys(
                cat.op(op).outputs, (self.config.output_shape(), x.dtype)
            )
            if "indices" in specs:
                specs["indices"] = (self.config.output_shape(), np.dtype(np.int64))
            return specs
        specs = {"grad_input": (x.shape, x.dtype)}
        weight, bias = self.inputs.get("weight"), self.inputs.get("bias")
        if weight is not None:
            specs["grad_weight"] = (weight.shape, x.dtype)
            specs["grad_bias"] = None if bias is None else (bias.shape, x.dtype)
        return specs

    def with_x(self, x: np.ndarray) -> PoolCase:
        return PoolCase(
            self.config, {**self.inputs, "x": x}, self.grad_output, self.special, self.meta
        )


def reference_forward(op: str, inputs: dict[str, np.ndarray | None], params: dict[str, Any]) -> Any:
    """The reference's result of a call of ``op`` (forward or gradient), the expected
    value of every property and gradient test.

    It comes from the vectorised oracle ``poolconf.reference.fast`` for every op it
    provides: the loop reference's results bit for bit (SpecError messages included),
    proven per element, with the loop reference's own code for whatever the proofs do
    not cover (``tests/test_fast_reference.py`` holds the two against each other). An op
    the fast oracle lacks falls back to the loop reference. The golden vectors
    (``tools/generate.py``) are computed by the loop reference itself."""
    fn = getattr(fast, op, None) or getattr(ref, op)
    return fn(*(inputs.get(a) for a in cat.op(op).arrays), **params)


def permuted_memory(x: np.ndarray | None, layout: str) -> np.ndarray | None:
    """``x`` with the same values, stored in the other layout's memory order."""
    if x is None or x.ndim < 3:
        return x
    if layout == "channels_last":  # stored as (N, C, *spatial)
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, -1, 1)), 1, -1)
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)


@st.composite
def pool_cases(
    draw: Callable[..., Any],
    *,
    config: Arg[PoolConfig] | None = None,
    special: Arg[bool] = False,
    distinct: Arg[bool] = False,
    permuted: Arg[bool] = False,
    dense: bool = False,
    min_magnitude: float = 0.0,
    max_magnitude: float = 100.0,
    **config_kwargs: Any,
) -> PoolCase:
    """A ``PoolConfig`` (drawn with ``config_kwargs`` unless ``config`` is given) with
    its arrays and a seeded ``grad_output`` (``arrays`` describes the value options).
    With ``dense`` ``x`` is ``seeded_dense`` (ordinary values only: the scale tier,
    whose inputs are too large to draw element by element). With ``permuted`` ``x`` holds its values in the other layout's memory order (a
    channels_first array stored channels-last and the reverse, as a transposed copy is:
    not contiguous), which the harness's copies keep."""
    cfg = draw(resolve(config, pool_configs(**config_kwargs)), label="config")
    is_special = draw(resolve(special), label="special")
    is_distinct = draw(resolve(distinct), label="distinct")
    seed = draw(st.integers(0, 2**32 - 1), label="seed (weights, grad_output)")
    values = functools.partial(
        arrays,
        dtype=cfg.dtype,
        special=is_special,
        distinct=is_distinct,
        min_magnitude=min_magnitude,
        max_magnitude=max_magnitude,
    )
    if cfg.op == "max_unpool":
        # x and indices: a max pool of a drawn source plane with the unpool's geometry
        p = cfg.params
        src = draw(values(shape=cfg.x_shape), label="source")
        pooled, idx = ref.max_pool_with_indices(
            src,
            kernel_size=p["kernel_size"],
            stride=p["stride"],
            padding=p.get("padding", 0),
            layout=cfg.layout,
        )
        if draw(st.booleans(), label="x: other values than the pooled maxima"):
            # unpooling scatters any values: with overlapping windows an index repeats,
            # now with different values, where the last one written is kept [POOL-UNPOOL-4]
            pooled = draw(values(shape=pooled.shape), label="x")
        inputs: dict[str, np.ndarray | None] = {"x": pooled, "indices": idx}
    else:
        if dense:
            inputs = {"x": seeded_dense(seed + 3, cfg.x_shape, cfg.dtype, scale=max_magnitude)}
        else:
            inputs = {"x": draw(values(shape=cfg.x_shape), label="x")}
        if cfg.op == "conv":
            assert cfg.weight_shape is not None
            inputs["weight"] = seeded_values(seed + 1, cfg.weight_shape, cfg.dtype)
            bias = seeded_values(seed + 2, (cfg.weight_shape[0],), cfg.dtype)
            inputs["bias"] = bias if cfg.has_bias else None
    if cfg.op != "max_unpool" and draw(resolve(permuted), label="x in permuted memory order"):
        inputs["x"] = permuted_memory(inputs["x"], cfg.layout)
    grad_output = None
    if cat.op(cfg.op).grad and dt.is_float(cfg.dtype):
        grad_output = seeded_values(seed, cfg.output_shape(), cfg.dtype)
    return PoolCase(cfg, inputs, grad_output, is_special, {"seed": seed})
