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
given.

What keeps a verdict trustworthy (``conformance/verdict.py`` decides it):

* the vectors are checked against their SHA-256 manifest before any test;
* under pytest-xdist the controller never imports the backend: only workers do, so a
  backend that crashes or exits can end a worker, never the process that reports;
* every worker has a watchdog (``conformance/watchdog.py``): a test past its timeout,
  or a worker past its memory limit, ends the worker, and the controller reports the
  test as timed out or over the limit, naming the backend call it was making; an op that
  hung is not called again;
* the controller records every collected test and its outcome, and the run's record
  (``--poolconf-report-json``) says which tests never ran;
* captured output is cut to ``OUTPUT_LIMIT`` characters per test, a failed test's
  frames are cleared (so a huge output is not kept alive), and NumPy's error state is
  restored before every test.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from poolconf.conformance import harness
from poolconf.conformance import vector_format as vf
from poolconf.conformance.assertions import CheckFailure
from poolconf.conformance.backend import Backend, BackendLoadError, load_backend
from poolconf.conformance.options import (
    BY_NAME,
    DEFAULT_PROFILE,
    OPTIONS,
    default_memory_limit,
    examples_for,
)
from poolconf.conformance.profiles import Profile, get_profile
from poolconf.conformance.report import NO_OP, Collector, UlpRecorder, merge_stale
from poolconf.conformance.vector_checks import (
    all_vector_test_names,
    load_vector_cases,
    lookup_for_report,
    vectors_directory,
)
from poolconf.conformance.verdict import decide
from poolconf.conformance.watchdog import RunDir, Watchdog, backstop_event, describe_event
from poolconf.conformance.xfail import (
    KNOWN_FAILURE_PREFIX,
    KnownFailure,
    XfailFileError,
    load_xfail_file,
    match,
    stale_ids,
)

HYPOTHESIS_PROFILE = "poolconf"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
OUTPUT_LIMIT = 4000  # characters of captured output kept per test and stream
NUMPY_ERRSTATE = np.geterr()


@dataclass
class State:
    backend_spec: str | None
    profile: Profile
    known: dict[str, KnownFailure]
    examples: int
    only: tuple[str, ...] | None
    role: str  # "single" (no xdist), "controller" or "worker"
    run: RunDir | None = None
    own_run_dir: bool = False
    backend: Backend | None = None
    watchdog: Watchdog | None = None
    recorder: UlpRecorder = field(default_factory=UlpRecorder)
    collector: Collector = field(default_factory=Collector)
    stale_local: list[str] | None = None
    deselected: int = 0  # tests deselected in this process (single role)
    collected_by: set[str] = field(default_factory=set)  # workers that finished collecting
    stale_from_workers: list[list[str]] = field(default_factory=list)
    known_from_workers: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.backend_spec is not None

    def known_failure(self, name: str, nodeid: str) -> KnownFailure | None:
        """The entry that makes a test a known failure in this run's profile, if any (every
        entry counts for stale ids, whatever its profiles)."""
        entry = match(self.known, name, nodeid) if self.known else None
        return entry if entry is not None and entry.applies(self.profile.name) else None

    @property
    def is_worker(self) -> bool:
        return self.role == "worker"


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
    return vectors_directory(_value(config, "vectors"))


def _profile_from(config: pytest.Config) -> Profile:
    name = _value(config, "profile") or DEFAULT_PROFILE
    try:
        return get_profile(name)
    except ValueError as exc:
        raise pytest.UsageError(f"POOLCONF_PROFILE: {exc}") from exc


def _only(config: pytest.Config) -> tuple[str, ...] | None:
    raw = _value(config, "only")
    return tuple(raw.split(",")) if raw else None


def _role(config: pytest.Config) -> str:
    if hasattr(config, "workerinput"):
        return "worker"
    distributed = (
        getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no"
    )
    return "controller" if distributed else "single"


def _own_xfail_file(backend: Backend) -> pathlib.Path | None:
    own = getattr(backend.impl, "XFAIL_FILE", None)
    if not own:
        return None
    path = pathlib.Path(own)
    if not path.is_absolute():
        module = inspect.getmodule(backend.impl) or inspect.getmodule(type(backend.impl))
        module_file = getattr(module, "__file__", None) or "."
        path = pathlib.Path(module_file).resolve().parent / path
    return path


def _known_failures(config: pytest.Config, backend: Backend | None) -> dict[str, KnownFailure]:
    """The user's ``--xfail-file`` plus the backend's own ``XFAIL_FILE`` (if it ships one)."""
    paths = [p for p in (backend and _own_xfail_file(backend),) if p]
    user = _value(config, "xfail-file")
    if user:
        paths.append(pathlib.Path(user))
    known: dict[str, KnownFailure] = {}
    for path in paths:
        try:
            for key, entry in load_xfail_file(path).items():
                known.setdefault(key, entry)
        except XfailFileError as exc:
            raise pytest.UsageError(str(exc)) from exc
    return known


def _load_hypothesis_profile(config: pytest.Config, examples: int) -> None:
    from hypothesis import HealthCheck, Phase, settings

    phases = tuple(Phase)
    if _value(config, "no-shrink"):
        phases = tuple(p for p in phases if p not in (Phase.shrink, Phase.explain))
    settings.register_profile(
        HYPOTHESIS_PROFILE,
        derandomize=True,
        deadline=None,
        database=None,
        max_examples=examples,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=False,
        phases=phases,
    )
    if not getattr(config.option, "hypothesis_profile", None):
        settings.load_profile(HYPOTHESIS_PROFILE)


def _check_vectors(config: pytest.Config) -> None:
    """The vectors this run reads match their manifest, before any test [vector format]."""
    directory = vectors_option(config)
    root = pathlib.Path(directory) if directory else vf.vectors_dir()
    errors = vf.manifest_errors(root)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise pytest.UsageError(f"vectors in {root} do not match their manifest: {errors[0]}{more}")


def _load(spec: str) -> Backend:
    """The backend, loaded here; anything it raises while loading is a usage error."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(
            0, cwd
        )  # a backend module in the current folder, as poolconf check finds it
    try:
        backend = load_backend(spec)
    except BackendLoadError as exc:
        raise pytest.UsageError(str(exc)) from exc
    except (Exception, SystemExit) as exc:
        raise pytest.UsageError(
            f"backend {spec!r} raised {type(exc).__name__} while loading: {exc}"
        ) from exc
    np.seterr(**NUMPY_ERRSTATE)  # whatever the backend set at import
    return backend


def _run_dir(config: pytest.Config, role: str) -> tuple[RunDir, bool]:
    worker = config.workerinput.get("workerid", "main") if role == "worker" else "main"  # type: ignore[attr-defined]
    root = os.environ.get("POOLCONF_RUN_DIR") or (
        config.workerinput.get("poolconf_run_dir") if role == "worker" else None  # type: ignore[attr-defined]
    )
    if root:
        return RunDir(pathlib.Path(root), worker), False
    return RunDir(pathlib.Path(tempfile.mkdtemp(prefix="poolconf-run-")), worker), True


def _on_sigint(signum: int, frame: Any) -> None:
    harness.SIGINT_SEEN = True
    signal.default_int_handler(signum, frame)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "poolconf(op, clauses): the op and spec clauses a test checks (summary grouping)"
    )
    spec = config.getoption("--poolconf-backend") or os.environ.get("POOLCONF_BACKEND") or None
    role = _role(config)
    examples = examples_for(_value(config, "examples"), bool(_value(config, "thorough")), 1.0)
    state = State(spec, _profile_from(config), {}, examples, _only(config), role)
    if spec:
        if role != "worker":
            _check_vectors(config)
        state.run, state.own_run_dir = _run_dir(config, role)
        harness.RUN = state.run
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
        if role != "controller":  # the controller never imports the backend
            state.backend = _load(spec)
            limit = _value(config, "memory-limit")
            state.watchdog = Watchdog(
                state.run, int(limit * 2**30) if limit else default_memory_limit()
            )
        state.known = _known_failures(config, state.backend)
        _load_hypothesis_profile(config, examples)
    state.collector.case_lookup = lookup_for_report(vectors_option(config))
    config.stash[STATE] = state
    config.pluginmanager.register(_Reporter(config), f"poolconf-reporter-{id(config)}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.own_run_dir and state.run is not None:
        shutil.rmtree(state.run.root, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: the workers share the controller's run folder."""
    state = node.config.stash.get(STATE, None)
    if state is not None and state.run is not None:
        node.workerinput["poolconf_run_dir"] = str(state.run.root)


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
# per test: the watchdog's timer, NumPy's error state
# ---------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's per-test timeout, kept by the watchdog (which also stops a hang in
    native code, where a signal never arrives)."""
    state = item.config.stash.get(STATE, None)
    if state is None or state.watchdog is None:
        return None
    state.watchdog.start_test(item.nodeid, float(settings.timeout or 0))
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    state = item.config.stash.get(STATE, None)
    if state is None or state.watchdog is None:
        return None
    state.watchdog.end_test()
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    np.seterr(**NUMPY_ERRSTATE)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    # pytest keeps the last failure for post-mortem debugging; its frames hold the arrays
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)


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
            # -k by vector flag or by clause id (-k "POOL-MAX-2 or CeilModeLastWindow")
            item.extra_keyword_matches.update(marker.kwargs.get("flags", ()))
            item.extra_keyword_matches.update(str(c) for c in clauses)
        entry = state.known_failure(item.name, item.nodeid)
        if entry is not None:
            reason = KNOWN_FAILURE_PREFIX + entry.reason
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    if state.known:
        state.stale_local = _stale_in_collection(config, state.known, items)
    if state.only is not None:
        # modules of other kinds are not collected (pytest_ignore_collect); what is left
        # of them here was collected by a path given on the command line
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            kind = _kind(item)
            (drop if kind is not None and kind not in state.only else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    """Leave the suite's modules of kinds outside ``--poolconf-only`` uncollected: a
    narrowed run does not import them (most of a narrowed run's start-up)."""
    state = config.stash.get(STATE, None)
    if state is None or state.only is None:
        return None
    path = pathlib.Path(collection_path)
    if path.suffix != ".py" or not path.name.startswith("test_"):
        return None
    if path.parent.resolve() != PACKAGE_DIR:
        return None
    return path.stem[len("test_") :] not in state.only or None


def _suite_functions() -> dict[str, set[str]]:
    """The test functions each module of the suite defines, by file name, read from the
    source without importing it."""
    functions = {}
    for path in sorted(PACKAGE_DIR.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        functions[path.name] = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return functions


def _module_of(key: str, functions: dict[str, set[str]]) -> str | None:
    """The suite module a known-failure id names (by its path or its test function)."""
    path, sep, _ = key.partition("::")
    if sep:
        module = pathlib.PurePath(path).name
        return module if module in functions else None
    function = key.split("[", 1)[0]
    return next((module for module, names in functions.items() if function in names), None)


def _stale_in_collection(
    config: pytest.Config, known: dict[str, KnownFailure], items: list[pytest.Item]
) -> list[str]:
    """Known-failure ids that name no test of this collection. An id naming a module of
    the suite that was not collected (``--poolconf-only``, or paths given) cannot be
    judged by this run and is not reported; a whole run judges every id."""
    functions = _suite_functions()
    collected = {pathlib.Path(str(item.path)).name for item in items if _kind(item) is not None}
    judged = {}
    for key, entry in known.items():
        module = _module_of(key, functions)
        if module is None or module in collected:
            judged[key] = entry
    universe = {item.name for item in items}
    if "test_vectors.py" in collected:
        with contextlib.suppress(Exception):  # a loading failure fails test_vector[load-error]
            universe |= all_vector_test_names(load_vector_cases(vectors_option(config)))
    return stale_ids(judged, universe, [item.nodeid for item in items])


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        state = items[0].config.stash.get(STATE, None)
        if state is not None:
            state.deselected += len(items)


def _restriction(config: pytest.Config, state: State, collected: set[str]) -> str:
    """How the run was narrowed, in words ("" for a whole run): options that select
    tests, deselected tests, or test modules of the suite that were not collected."""
    ways = []
    if state.only is not None:
        ways.append(f"--poolconf-only {','.join(state.only)}")
    for flag, dest in (("-k", "keyword"), ("-m", "markexpr")):
        if getattr(config.option, dest, ""):
            ways.append(f"{flag} {getattr(config.option, dest)!r}")
    if getattr(config.option, "deselect", None):
        ways.append("--deselect")
    if getattr(config.option, "lf", False) or getattr(config.option, "failedfirst", False):
        ways.append("--last-failed")
    if any("::" in str(arg) for arg in config.args):
        ways.append("test ids given")
    if state.deselected and not ways:
        ways.append(f"{state.deselected} tests deselected")
    modules = {pathlib.PurePath(nodeid.split("::", 1)[0]).name for nodeid in collected}
    suite = {path.name for path in PACKAGE_DIR.glob("test_*.py")}
    if modules & suite and not ways and suite - modules:
        ways.append(f"modules {', '.join(sorted(m[:-3] for m in modules & suite))} only")
    return "; ".join(ways)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if state.role == "single":
        state.collector.collected = {item.nodeid for item in session.items}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    state = node.config.stash[STATE]
    state.collector.collected |= set(ids)
    state.collected_by.add(node.gateway.id)


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------


def _cited_clause(exc: BaseException) -> str:
    """The clause a failure cites: that of the first ``CheckFailure`` in ``exc`` (Hypothesis
    raises a group when it found several distinct failures)."""
    if isinstance(exc, CheckFailure):
        return exc.clause
    for inner in getattr(exc, "exceptions", ()) or ():
        found = _cited_clause(inner)
        if found:
            return found
    return ""


def _cut(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    head, tail = text[: OUTPUT_LIMIT // 2], text[-OUTPUT_LIMIT // 4 :]
    return f"{head}\n... [{len(text)} characters in all; the middle is left out] ...\n{tail}"


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
        report.sections = [(title, _cut(text)) for title, text in report.sections]
        if call.excinfo is not None:
            cited = _cited_clause(call.excinfo.value)
            if cited:
                report.user_properties.append(("poolconf_cited", cited))
            # the report holds text; let the frames (and arrays) go
            traceback.clear_frames(call.excinfo.tb)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        if state.is_worker:
            return
        if report.when not in ("setup", "call", "teardown") and report.failed:
            self._explain_crash(report)
        state.collector.add(report)

    def _explain_crash(self, report: pytest.TestReport) -> None:
        """xdist's report of a test that ended its worker: say why, from the run folder."""
        run = self.state.run
        node = getattr(report, "node", None)
        worker = getattr(getattr(node, "gateway", None), "id", None)
        if run is None or worker is None:
            return
        event = run.event(worker)
        if event is not None and event.get("test") != report.nodeid:
            event = None
        call = run.last_call(worker)
        if event is None:
            running = run.running_test(worker)
            if running is not None and running.get("test") == report.nodeid:
                event = backstop_event(running, call)
                op = run.last_op(worker)
                if event is not None and op:
                    run.mark_hung(op, report.nodeid)
        report.longrepr = f"{report.nodeid} {describe_event(event, call)}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        if error is not None and worker not in self.state.collected_by:
            # it died before collecting a test: a replacement would load the backend and
            # die the same way, so the run stops here instead of restarting workers
            why = f"worker {worker} ended before collecting any test (while loading the backend?)"
            dsession = self.config.pluginmanager.getplugin("dsession")
            if dsession is not None and not self.state.collector.stopped:
                dsession.shouldstop = why
                # xdist restarts a crashed worker until its restart budget is spent
                dsession._max_worker_restart = dsession._failed_nodes_count
                self.state.collector.stopped = why
        out = getattr(node, "workeroutput", None) or {}
        stale = out.get("poolconf_stale")
        if stale is not None:
            self.state.stale_from_workers.append(list(stale))
        self.state.known_from_workers.update(out.get("poolconf_known") or {})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if state.is_worker:
            out = self.config.workeroutput  # type: ignore[attr-defined]
            out["poolconf_stale"] = state.stale_local
            out["poolconf_known"] = {
                item.nodeid: entry.reason
                for item in session.items
                if (entry := state.known_failure(item.name, item.nodeid)) is not None
            }
            return
        self._finish(session)

    def _finish(self, session: pytest.Session) -> None:
        state, collector = self.state, self.state.collector
        if not state.known:
            collector.stale_ids = []
        elif state.stale_from_workers:
            collector.stale_ids = merge_stale(state.stale_from_workers)
        elif state.stale_local is not None:
            collector.stale_ids = state.stale_local
        else:
            collector.notes.append(
                "note: no worker finished normally, so stale known-failure ids were not checked"
            )
        known = {
            **{k: e.reason for k, e in state.known.items() if e.applies(state.profile.name)},
            **state.known_from_workers,
        }
        collector.resolve_known(known)
        dsession = self.config.pluginmanager.getplugin("dsession")
        collector.stopped = collector.stopped or str(getattr(dsession, "_summary_report", "") or "")
        collector.complete = not (
            session.shouldstop
            or collector.stopped
            or session.exitstatus == pytest.ExitCode.INTERRUPTED
        )
        collector.restricted = _restriction(self.config, state, collector.collected)
        if not state.active:
            return
        record = collector.as_json(
            backend=state.backend_spec,
            profile=state.profile.name,
            exitstatus=int(session.exitstatus),
        )
        verdict = decide(record, backend=state.backend_spec or "", profile=state.profile.name)
        collector.verdict = verdict
        if verdict.status != 0 and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        path = _value(self.config, "report-json")
        if path:
            collector.write_json(
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
        if (
            state.collector.verdict is not None
            and os.environ.get("POOLCONF_VERDICT_LINE") != "last"
        ):
            terminalreporter.write_line(state.collector.verdict.line)
