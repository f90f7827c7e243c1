"""Argument handling shared by the strategies, in Hypothesis' own style: every argument
is a value or a strategy, and bounds are checked when a strategy is built."""

from __future__ import annotations

from typing import Any, TypeVar, Union

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

T = TypeVar("T")
Arg = Union[T, st.SearchStrategy[T]]  # noqa: UP007 - a runtime alias


def resolve(value: Any, default: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """A strategy for an argument: the strategy given, ``just`` a value, or ``default``
    when the argument is None."""
    if value is None and default is not None:
        return default
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def check_bounds(name: str, low: int, high: int, *, minimum: int = 0) -> None:
    """``minimum <= min_<name> <= max_<name>``, else ``InvalidArgument`` naming both."""
    for which, v in (("min", low), ("max", high)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidArgument(f"{which}_{name}={v!r} must be an integer")
    if low < minimum:
        raise InvalidArgument(f"min_{name}={low} must be >= {minimum}")
    if high < low:
        raise InvalidArgument(f"max_{name}={high} must be >= min_{name}={low}")
