"""The spec profiles a check can run under [POOL-PROFILE-1, POOL-PROFILE-2].

``core`` is what nearly every library implements: 2D max and average pooling
(forward and input gradient) on float32, channels_first, with symmetric explicit
padding (or ``"valid"``), no dilation, no ``divisor_override``, in floor and
ceil mode, with and without ``count_include_pad``. ``full`` is everything the
spec defines.

Golden vectors outside the profile are not collected. Property tests ask the
``poolconf_profile`` fixture (a ``Profile``) what they may draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from poolconf.conformance.vector_format import VectorCase
from poolconf.reference import dtypes as dt

PROFILE_NAMES = ("core", "full")
CORE_OPS = frozenset({"max_pool", "avg_pool", "max_pool_grad", "avg_pool_grad"})


def _int_like(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def symmetric_padding(padding: object) -> bool:
    """True for explicit padding equal on both sides of every dim (an int, ints per
    dim, or ``(p, p)`` pairs) and for ``"valid"``; False for ``same_*`` and
    asymmetric or malformed padding."""
    if padding is None or padding == "valid":
        return True
    if _int_like(padding):
        return True
    if isinstance(padding, (list, tuple)):
        for p in padding:
            if _int_like(p):
                continue
            if isinstance(p, (list, tuple)) and len(p) == 2 and p[0] == p[1]:
                continue
            return False
        return True
    return False


def _all_ones(value: object) -> bool:
    if value is None or value == 1:
        return True
    return isinstance(value, (list, tuple)) and all(v == 1 for v in value)


@dataclass(frozen=True)
class Profile:
    """A named subset of the spec [POOL-PROFILE-1, POOL-PROFILE-2]."""

    name: str

    @property
    def is_full(self) -> bool:
        return self.name == "full"

    def allows(
        self,
        op: str,
        *,
        rank: int,
        dtype: str,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether a call of ``op`` (forward or ``*_grad`` name) on ``rank`` spatial dims
        and ``dtype`` with ``params`` (as stored or normalised) belongs to the profile."""
        if self.is_full:
            return True
        params = params or {}
        return (
            op in CORE_OPS
            and rank == 2
            and dtype == "float32"
            and params.get("layout", "channels_first") == "channels_first"
            and symmetric_padding(params.get("padding", 0))
            and _all_ones(params.get("dilation", 1))
            and params.get("divisor_override") is None
        )

    def strategy_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``strategies.pool_configs`` that keep draws inside the
        profile (the same rule as ``allows``, for drawing)."""
        if self.is_full:
            return {}
        return {
            "rank": 2,
            "layout": "channels_first",
            "dtype": "float32",
            "padding_kind": st.sampled_from(("symmetric", "valid")),
            "max_dilation": 1,
            "divisor_override": False,
        }


def get_profile(name: str) -> Profile:
    if name not in PROFILE_NAMES:
        raise ValueError(f"profile={name!r} is not one of {list(PROFILE_NAMES)}")
    return Profile(name)


def case_in_profile(case: VectorCase, profile: Profile) -> bool:
    """Whether a golden-vector case (``poolconf.conformance.vector_format.VectorCase``) is in ``profile``."""
    if profile.is_full:
        return True
    x = case.inputs.get("x")
    if x is None:
        return False
    try:
        dtype = dt.dtype_name(x.dtype)
    except (KeyError, ValueError, TypeError):
        return False
    return profile.allows(case.op, rank=x.ndim - 2, dtype=dtype, params=case.params)
