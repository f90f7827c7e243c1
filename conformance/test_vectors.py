"""Golden vectors: every case's forward output (and indices) and gradients.

``test_vector[<file stem>#<tcId>]`` checks the forward part of a case,
``test_vector_grad[<file stem>#<tcId>]`` its gradient part; see
``poolconf.conformance.vector_checks`` for how valid, invalid and acceptable cases
are judged. ``poolconf explain <file stem>#<tcId> --backend B`` reruns one.
"""

from __future__ import annotations

from typing import Any

import pytest

from poolconf.conformance.backend import Backend
from poolconf.conformance.plugin import profile_of, vectors_option
from poolconf.conformance.report import UlpRecorder
from poolconf.conformance.vector_checks import LoadFailure, NoCases, check_part, vector_params
from poolconf.conformance.vector_format import VectorCase


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vector_case" not in metafunc.fixturenames:
        return

    part = "grad" if metafunc.function.__name__ == "test_vector_grad" else "forward"
    metafunc.parametrize(
        "vector_case",
        vector_params(vectors_option(metafunc.config), profile_of(metafunc.config), part),
    )


def _check(case: VectorCase, part: str, backend: Backend, ulp_recorder: UlpRecorder) -> None:
    __tracebackhide__ = True
    if isinstance(case, LoadFailure):
        pytest.fail(case.message)
    if isinstance(case, NoCases):
        pytest.skip(case.reason)
    repro = f"poolconf explain {case.test_id} --backend {backend.name}"
    check_part(case, part, backend, record=ulp_recorder.record, repro=repro)


def test_vector(vector_case: Any, backend: Backend, ulp_recorder: UlpRecorder) -> None:
    """The forward part of a golden case."""
    _check(vector_case, "forward", backend, ulp_recorder)


def test_vector_grad(vector_case: Any, backend: Backend, ulp_recorder: UlpRecorder) -> None:
    """The gradient part of a golden case."""
    _check(vector_case, "grad", backend, ulp_recorder)
