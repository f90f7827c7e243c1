"""Adaptive and global pooling for the ``torch`` backend (see ``torch_backend``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from poolconf import Unsupported
from poolconf.conformance.backends._torch_common import (
    _check_dtype,
    _numpy,
    _rank,
    _rank_fn,
    _spatial,
    _tensor,
)
from poolconf.conformance.backends._torch_pool import lp_pool

# ---------------------------------------------------------------------------
# adaptive and global pooling [POOL-ADAPT-*, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def adaptive_max_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_max_pool{1,2,3}d``; torch's windows are the spec's [POOL-ADAPT-1]."""
    _check_dtype("adaptive_max_pool", "adaptive_max_pool", x)
    _, t = _tensor(x, layout)
    return _numpy(_rank_fn("adaptive_max_pool", _rank(x))(t, output_size), layout)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_avg_pool{1,2,3}d``."""
    _check_dtype("adaptive_avg_pool", "adaptive_avg_pool", x)
    _, t = _tensor(x, layout)
    return _numpy(_rank_fn("adaptive_avg_pool", _rank(x))(t, output_size), layout)


def adaptive_max_pool_grad(
    x: np.ndarray,
    grad_output: np.ndarray,
    *,
    output_size: Any,
    layout: str = "channels_first",
    tie_policy: str = "first",
) -> np.ndarray:
    """Autograd through ``F.adaptive_max_pool*d``."""
    _check_dtype("adaptive_max_pool_grad", "grad", x)
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: torch routes a max gradient to one element [POOL-GRAD-2]"
        )
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _rank_fn("adaptive_max_pool", _rank(x))(t, output_size).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """Autograd through ``F.adaptive_avg_pool*d``."""
    _check_dtype("adaptive_avg_pool_grad", "grad", x)
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _rank_fn("adaptive_avg_pool", _rank(x))(t, output_size).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


def global_max_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``adaptive_max_pool`` with output 1 per dim (torch's global-pooling idiom)."""
    _check_dtype("global_max_pool", "adaptive_max_pool", x)
    return adaptive_max_pool(x, output_size=(1,) * _rank(x), layout=layout)


def global_avg_pool(x: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """``adaptive_avg_pool`` with output 1 per dim."""
    _check_dtype("global_avg_pool", "adaptive_avg_pool", x)
    return adaptive_avg_pool(x, output_size=(1,) * _rank(x), layout=layout)


def global_lp_pool(x: np.ndarray, *, p: int = 2, layout: str = "channels_first") -> np.ndarray:
    """``lp_pool`` with the kernel covering the whole spatial extent (torch has no
    adaptive Lp pool)."""
    _check_dtype("global_lp_pool", "lp_pool", x)
    spatial = _spatial(x, layout)
    return lp_pool(
        x, kernel_size=spatial, p=p, stride=spatial, padding=((0, 0),) * len(spatial), layout=layout
    )
