"""Argument adaptors shared by the seed backends: what each seed's API can express.

A seed takes a few plain ints (one kernel size, one stride, one padding); anything
else it cannot express is ``poolconf.Unsupported`` with the reason, never a guess."""

from __future__ import annotations

from typing import Any

from poolconf import Unsupported


def square(value: Any, name: str, seed: str) -> int:
    """One int for both spatial dims (the seed's single ``f`` / ``stride``)."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2:
        raise Unsupported(f"{seed}: 2-D only ({name}={value!r})")
    if vals[0] != vals[1]:
        raise Unsupported(f"{seed}: one {name} for both dims, got {value!r}")
    return vals[0]


def pair(value: Any, name: str, seed: str) -> tuple[int, int]:
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2:
        raise Unsupported(f"{seed}: 2-D only ({name}={value!r})")
    return vals[0], vals[1]


def symmetric_padding(padding: Any, seed: str) -> int:
    """One padding for every side: ``"valid"``, an int, or equal (begin, end) pairs."""
    if padding == "valid" or padding == 0:
        return 0
    if isinstance(padding, int):
        return padding
    if isinstance(padding, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in padding):
        flat = {v for p in padding for v in p}
        if len(flat) == 1:
            return flat.pop()
    raise Unsupported(f"{seed}: padding={padding!r} (only one padding for every side)")


def require(cond: bool, reason: str) -> None:
    if not cond:
        raise Unsupported(reason)


def common(x: Any, layout: str, seed: str, want_layout: str, kw: dict[str, Any]) -> None:
    """The restrictions every seed pool shares: 2-D, one layout, no dilation, floor mode."""
    require(getattr(x, "ndim", 0) == 4, f"{seed}: 2-D pooling only")
    require(layout == want_layout, f"{seed}: layout {want_layout} only")
    require(kw.get("dilation", 1) in (1, (1, 1)), f"{seed}: no dilation")
    require(kw.get("ceil_mode", False) is False, f"{seed}: floor mode only")
    require(kw.get("divisor_override") is None, f"{seed}: no divisor_override")
