"""The poolconf pytest plugin (entry point ``pytest11``): the harness around the checks.

Run the suite with ``pytest --pyargs poolconf.conformance --poolconf-backend=B`` (or
``POOLCONF_BACKEND=B``), or through ``poolconf check B``. Options (group "poolconf"):

``--poolconf-backend B`` (env ``POOLCONF_BACKEND``) selects the backend: a registered
name, a module, or ``module:attribute``. The other options are the rows of
``poolconf.conformance.options`` (``--poolconf-profile``, ``--poolconf-examples``,
``--poolconf-thorough``, ``--xfail-file``, ``--poolconf-report-json``,
``--poolconf-vectors``, ``--poolconf-only``), the same as ``poolconf check``'s.

Fixtures for test modules:

``backend``          the ``Backend`` under test (session); skips when none is selected.
``poolconf_profile`` the ``Profile`` (session): ``.allows(op, rank=, dtype=, params=)``.
``ulp_recorder``     a ``UlpRecorder`` (session): ``.record(op, dtype, output_name, ulp_error)``
                     after each successful comparison; the summary shows the maxima.

Every test should carry ``@pytest.mark.poolconf(op="max_pool", clauses=("POOL-MAX-1", ...))``:
the summary groups outcomes by op and clause with it.

While a backend is selected the plugin loads the Hypothesis settings profile
``poolconf`` (derandomised, no deadline, no example database, ``too_slow``
suppressed, ``max_examples`` from the options) unless ``--hypothesis-profile`` is
given. Stale known-failure ids make the run exit 1 even when every test passed.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from poolconf.conformance.backend import Backend, BackendLoadError, load_backend
from poolconf.conformance.options import BY_NAME, DEFAULT_PROFILE, OPTIONS, examples_for
from poolconf.conformance.profiles import Profile, get_profile
from poolconf.conformance.report import NO_OP, Collector, UlpRecorder, merge_stale
from poolconf.conformance.vector_checks import (
    all_vector_test_names,
    load_vector_cases,
    lookup_for_report,
    vectors_directory,
)
from poolconf.conformance.xfail import (
    KnownFailure,
    XfailFileError,
    load_xfail_file,
    match,
    stale_ids,
)

HYPOTHESIS_PROFILE = "poolconf"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent


@dataclass
class State:
    backend_spec: str | None
    profile: Profile
    known: dict[str, KnownFailure]
    examples: int
    only: tuple[str, ...] | None
    is_worker: bool
    backend: Backend | None = None
    recorder: UlpRecorder = field(default_factory=UlpRecorder)
    collector: Collector = field(default_factory=Collector)
    stale_local: list[str] | None = None
    stale_from_workers: list[list[str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.backend_spec is not None


STATE = pytest.StashKey[State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("poolconf", "poolconf conformance")
    group.addoption(
        "--poolconf-backend",
        default=None,
        help="backend to check: registered name, module or module:attribute (env POOLCONF_BACKEND)",
    )
    for option in OPTIONS:
        option.add_to(group.addoption, option.pytest_flag)


def _value(config: pytest.Config, name: str) -> Any:
    """An option's value: given, else from its environment variable."""
    option = BY_NAME[name]
    return option.value(config.getoption(option.dest))


def profile_of(config: pytest.Config) -> Profile:
    return config.stash[STATE].profile if STATE in config.stash else _profile_from(config)


def vectors_option(config: pytest.Config) -> str | None:

    return vectors_directory(config.getoption("--poolconf-vectors"))


def _profile_from(config: pytest.Config) -> Profile:
    name = _value(config, "profile") or DEFAULT_PROFILE
    try:
        return get_profile(name)
    except ValueError as exc:
        raise pytest.UsageError(f"POOLCONF_PROFILE: {exc}") from exc


def _only(config: pytest.Config) -> tuple[str, ...] | None:
    raw = _value(config, "only")
    return tuple(raw.split(",")) if raw else None


def _known_failures(config: pytest.Config, backend: Backend | None) -> dict[str, KnownFailure]:
    """The user's ``--xfail-file`` plus the backend's own ``XFAIL_FILE`` (if it ships one)."""
    known: dict[str, KnownFailure] = {}
    paths = []
    if backend is not None:
        own = getattr(backend.impl, "XFAIL_FILE", None)
        if own:
            own_path = pathlib.Path(own)
            if not own_path.is_absolute():
                module = inspect.getmodule(backend.impl) or inspect.getmodule(type(backend.impl))
                module_file = getattr(module, "__file__", None) or "."
                own_path = pathlib.Path(module_file).resolve().parent / own_path
            paths.append(own_path)
    user = _value(config, "xfail-file")
    if user:
        paths.append(pathlib.Path(user))
    for path in paths:
        try:
            for key, entry in load_xfail_file(path).items():
                known.setdefault(key, entry)
        except XfailFileError as exc:
            raise pytest.UsageError(str(exc)) from exc
    return known


def _load_hypothesis_profile(config: pytest.Config, examples: int) -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return
    settings.register_profile(
        HYPOTHESIS_PROFILE,
        derandomize=True,
        deadline=None,
        database=None,
        max_examples=examples,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=False,
    )
    explicit = getattr(config.option, "hypothesis_profile", None)
    if not explicit:
        settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "poolconf(op, clauses): the op and spec clauses a test checks (summary grouping)"
    )
    spec = config.getoption("--poolconf-backend") or os.environ.get("POOLCONF_BACKEND") or None
    examples = examples_for(_value(config, "examples"), bool(_value(config, "thorough")), 1.0)
    backend = None
    if spec:
        try:
            backend = load_backend(spec)
        except BackendLoadError as exc:
            raise pytest.UsageError(str(exc)) from exc
    state = State(
        backend_spec=spec,
        profile=_profile_from(config),
        known=_known_failures(config, backend),
        examples=examples,
        only=_only(config),
        is_worker=hasattr(config, "workerinput"),
        backend=backend,
    )
    state.collector.case_lookup = _case_lookup(config)
    config.stash[STATE] = state
    config.pluginmanager.register(_Reporter(config), f"poolconf-reporter-{id(config)}")
    if spec:
        _load_hypothesis_profile(config, examples)


def _case_lookup(config: pytest.Config) -> Any:

    return lookup_for_report(vectors_option(config))


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(STATE, None)
    if state is None or not state.active:
        return None
    vectors = vectors_option(config) or "installed poolconf.vectors"
    lines = [
        (
            f"poolconf: backend {state.backend_spec!r}, profile {state.profile.name}, "
            f"{state.examples} Hypothesis examples per property at scale 1, vectors {vectors}"
        )
    ]
    if state.known:
        lines.append(f"poolconf: {len(state.known)} known-failure ids")
    return lines


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend under test; skips the test when none is selected."""
    state = request.config.stash[STATE]
    if state.backend is None:
        pytest.skip("no backend selected: pass --poolconf-backend=NAME or set POOLCONF_BACKEND")
    return state.backend


@pytest.fixture(scope="session")
def poolconf_profile(request: pytest.FixtureRequest) -> Profile:
    """The spec profile of this run (``core`` or ``full``)."""
    return request.config.stash[STATE].profile


@pytest.fixture(scope="session")
def ulp_recorder(request: pytest.FixtureRequest) -> UlpRecorder:
    """``ulp_recorder.record(op, dtype, output_name, ulp_error)`` after each comparison."""
    return request.config.stash[STATE].recorder


# ---------------------------------------------------------------------------
# collection: marker data, known failures, stale ids, --poolconf-only
# ---------------------------------------------------------------------------


def _kind(item: pytest.Item) -> str | None:
    path = pathlib.Path(str(getattr(item, "path", "") or ""))
    if path.parent.resolve() != PACKAGE_DIR or not path.name.startswith("test_"):
        return None
    return path.stem[len("test_") :]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash[STATE]
    for item in items:
        marker = item.get_closest_marker("poolconf")
        if marker is not None:
            clauses = marker.kwargs.get("clauses", ())
            if isinstance(clauses, str):
                clauses = (clauses,)
            info = {"op": marker.kwargs.get("op"), "clauses": [str(c) for c in clauses]}
            item.user_properties.append(("poolconf", info))
        entry = match(state.known, item.name, item.nodeid) if state.known else None
        if entry is not None:
            item.add_marker(pytest.mark.xfail(reason=f"known failure: {entry.reason}", strict=True))
    if state.known:
        universe = {item.name for item in items}

        with contextlib.suppress(Exception):  # a loading failure fails test_vector[load-error]
            universe |= all_vector_test_names(load_vector_cases(vectors_option(config)))
        state.stale_local = stale_ids(state.known, universe, [item.nodeid for item in items])
    if state.only is not None:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            kind = _kind(item)
            (drop if kind is not None and kind not in state.only else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------


class _Reporter:
    """Report-side hooks, registered per config (so nested pytest runs stay apart)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = config.stash[STATE]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        report = yield
        rows = self.state.recorder.drain()
        if rows:
            report.user_properties.append(("poolconf_ulp", rows))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        if state.is_worker:
            return
        if report.when not in ("setup", "call", "teardown") and report.failed and state.known:
            # xdist's report for a test that killed its worker: a listed crash is a known failure
            name = report.nodeid.rsplit("::", 1)[-1]
            entry = match(state.known, name, report.nodeid)
            if entry is not None:
                report.outcome = "skipped"
                report.wasxfail = f"known failure: {entry.reason} (crashed its worker)"
        state.collector.add(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", None) or {}
        stale = out.get("poolconf_stale")
        if stale is not None:
            self.state.stale_from_workers.append(list(stale))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if state.is_worker:
            self.config.workeroutput["poolconf_stale"] = state.stale_local  # type: ignore[attr-defined]
            return
        stale: list[str] | None
        if not state.known:
            stale = []
        elif state.stale_from_workers:
            stale = merge_stale(state.stale_from_workers)
        elif state.stale_local is not None:
            stale = state.stale_local
        else:
            stale = None
            state.collector.notes.append(
                "note: no worker finished normally, so stale known-failure ids were not checked"
            )
        state.collector.stale_ids = stale
        if stale and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        path = _value(self.config, "report-json")
        if path:
            state.collector.write_json(
                path,
                backend=state.backend_spec,
                profile=state.profile.name,
                exitstatus=int(session.exitstatus),
            )

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        state = self.state
        if state.is_worker:
            return
        marked = any(r.op != NO_OP for r in state.collector.tests.values())
        if not (state.active or marked):
            return
        terminalreporter.section("poolconf summary")
        for line in state.collector.summary_lines(
            backend=state.backend_spec, profile=state.profile.name
        ):
            terminalreporter.write_line(line)
