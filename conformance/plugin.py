"""pytest plugin (entry point ``pytest11``): selects the backend under test.

MINIMAL BOOTSTRAP VERSION: options and the ``backend`` fixture only; the full
harness (summary, reports, xfail file, profiles) replaces it.
"""

from __future__ import annotations

import os

import pytest

from poolconf.conformance.backend import Backend, BackendLoadError, load_backend


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("poolconf", "poolconf conformance")
    group.addoption("--poolconf-backend", default=None, help="backend to check (name, module or module:attr)")
    group.addoption("--poolconf-profile", default="core", choices=("core", "full"), help="spec profile")
    group.addoption("--poolconf-examples", type=int, default=None, help="Hypothesis examples per property")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "poolconf(op, clauses): the op and spec clauses a test checks")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    spec = request.config.getoption("--poolconf-backend") or os.environ.get("POOLCONF_BACKEND")
    if not spec:
        pytest.skip("no backend selected: pass --poolconf-backend=NAME or set POOLCONF_BACKEND")
    try:
        return load_backend(spec)
    except BackendLoadError as exc:
        raise pytest.UsageError(str(exc)) from exc
