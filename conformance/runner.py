"""Calling a backend from a test: ``Unsupported`` and missing ops become skips with reasons."""

from __future__ import annotations

from typing import Any

import pytest
from poolconf.conformance.backend import Backend

from poolconf import Unsupported


def invoke(backend: Backend, op: str, *args: Any, **params: Any) -> Any:
    """Call ``op`` on the backend; skip the test (with the backend's reason) when the
    op is missing or the backend raises ``poolconf.Unsupported``."""
    if not backend.supports(op):
        pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
    try:
        return backend.call(op, *args, **params)
    except Unsupported as exc:
        pytest.skip(f"unsupported: {exc.reason}")
