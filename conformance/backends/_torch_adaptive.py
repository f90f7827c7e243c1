"""Adaptive and global pooling for the ``torch`` backend (see ``torch_backend``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from poolconf import Unsupported
from poolconf.conformance.backends._torch_common import (
    _check_dtype,
    _check_grad_dtype,
    _numpy,
    _rank,
    _rank_fn,
    _spatial,
    _tensor,
)
from poolconf.conformance.backends._torch_pool import lp_pool
from poolconf.reference import geometry as geo

# ---------------------------------------------------------------------------
# adaptive and global pooling [POOL-ADAPT-*, POOL-GLOBAL-1]
# ---------------------------------------------------------------------------


def _check_output_size(op: str, output_size: Any) -> None:
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    if any(geo.is_integer(o) and int(o) == 0 for o in sizes):
        raise Unsupported(
            f"output_size={output_size!r}: torch {op} accepts 0 and returns an empty tensor; "
            f"not validated on torch's behalf [POOL-ADAPT-2]"
        )


def _check_nonempty(op: str, x: Any, layout: str) -> None:
    if isinstance(x, np.ndarray) and x.ndim >= 3 and 0 in _spatial(x, layout):
        raise Unsupported(
            f"x.shape={x.shape}: torch {op} of an empty spatial dim returns NaN instead of "
            f"rejecting it; not validated on torch's behalf [POOL-SHAPE-1]"
        )


def adaptive_max_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_max_pool{1,2,3}d``; torch's windows are the spec's [POOL-ADAPT-1]."""
    _check_dtype("adaptive_max_pool", "adaptive_max_pool", x)
    _check_output_size("adaptive_max_pool", output_size)
    _, t = _tensor(x, layout)
    return _numpy(_rank_fn("adaptive_max_pool", _rank(x))(t, output_size), layout)


def adaptive_avg_pool(
    x: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """``F.adaptive_avg_pool{1,2,3}d``."""
    _check_dtype("adaptive_avg_pool", "adaptive_avg_pool", x)
    _check_output_size("adaptive_avg_pool", output_size)
    _check_nonempty("adaptive_avg_pool", x, layout)
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
    _check_output_size("adaptive_max_pool_grad", output_size)
    if tie_policy != "first":
        raise Unsupported(
            f"tie_policy={tie_policy!r}: torch routes a max gradient to one element [POOL-GRAD-2]"
        )
    _check_grad_dtype(x, grad_output)
    leaf, t = _tensor(x, layout, grad=True)
    _, g = _tensor(grad_output, layout)
    _rank_fn("adaptive_max_pool", _rank(x))(t, output_size).backward(g)
    return _numpy(leaf.grad, layout, moved=False)


def adaptive_avg_pool_grad(
    x: np.ndarray, grad_output: np.ndarray, *, output_size: Any, layout: str = "channels_first"
) -> np.ndarray:
    """Autograd through ``F.adaptive_avg_pool*d``."""
    _check_dtype("adaptive_avg_pool_grad", "grad", x)
    _check_output_size("adaptive_avg_pool_grad", output_size)
    _check_nonempty("adaptive_avg_pool_grad", x, layout)
    _check_grad_dtype(x, grad_output)
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
