"""What a run keeps on disk so that a crash, a hang or a runaway backend ends only its own
test, and the report still says which call did it.

A run has a folder (``POOLCONF_RUN_DIR``, made by ``poolconf check`` or by the plugin):

* ``calls/<worker>``: the call a worker is about to make (``harness.invoke`` writes it
  before every backend call), so a worker that dies names the call that killed it;
* ``events/<worker>.json``: why the watchdog ended a worker: a test past its timeout,
  or the worker past its memory limit;
* ``hung/<op>``: the test in which ``op`` hung; later calls of ``op`` fail at once
  ("hung earlier") instead of costing the timeout again.

The ``Watchdog`` is one thread per worker. A test past its timeout, or a worker whose
resident memory passes the limit, is ended the only way that works whatever the backend
does (a loop in C holds the interpreter, a signal handler never runs): the watchdog
writes its event and ends the process with ``os._exit``. pytest-xdist then replaces the
worker and reports the test as crashed; the controller reads the event and reports
"timed out" or "memory limit" instead.

Native code that never gives the interpreter lock back stops the watchdog thread too.
For that case each test also arms a backstop: ``SIGALRM`` with its default action
(the kernel ends the process; no Python code has to run) ``BACKSTOP_SECONDS`` after the
timeout. ``tests/<worker>.json`` records when the running test started, so the
controller can tell a worker that the backstop ended from one that crashed.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

ENV = "POOLCONF_RUN_DIR"
EXIT_STATUS = 70  # how the watchdog ends a worker (an otherwise unused status)
POLL_SECONDS = 0.05
BACKSTOP_SECONDS = 5.0  # after the timeout, when the watchdog thread could not act
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@dataclass(frozen=True)
class RunDir:
    """The run's folder and the files of one worker in it."""

    root: pathlib.Path
    worker: str = "main"

    @classmethod
    def from_env(cls, worker: str = "main") -> RunDir | None:
        root = os.environ.get(ENV)
        return cls(pathlib.Path(root), worker) if root else None

    def _write(self, path: pathlib.Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def record_call(self, op: str, call: str) -> None:
        """The backend call this worker is about to make: the op and the call's text
        ("" and "" once it has returned)."""
        self._write(self.root / "calls" / _safe(self.worker), f"{op}\t{call}" if op else "")

    def _last(self, worker: str) -> tuple[str, str] | None:
        path = self.root / "calls" / _safe(worker)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        op, _, call = text.partition("\t")
        return (op, call) if op else None

    def last_call(self, worker: str) -> str | None:
        """The backend call ``worker`` was making, None when it was in none."""
        last = self._last(worker)
        return last[1] if last else None

    def last_op(self, worker: str) -> str | None:
        """The op ``worker`` was calling, None when it was in no backend call."""
        last = self._last(worker)
        return last[0] if last else None

    def record_event(self, event: dict[str, Any]) -> None:
        self._write(self.root / "events" / f"{_safe(self.worker)}.json", json.dumps(event))

    def event(self, worker: str) -> dict[str, Any] | None:
        path = self.root / "events" / f"{_safe(worker)}.json"
        if not path.exists():
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def record_test(self, test: str | None, timeout: float) -> None:
        """The test this worker is starting (None once it has ended), with its timeout."""
        path = self.root / "tests" / f"{_safe(self.worker)}.json"
        if test is None:
            path.unlink(missing_ok=True)
        else:
            self._write(path, json.dumps({"test": test, "timeout": timeout, "start": time.time()}))

    def running_test(self, worker: str) -> dict[str, Any] | None:
        """``{"test", "timeout", "start"}`` of the test ``worker`` was running, if any."""
        path = self.root / "tests" / f"{_safe(worker)}.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def mark_hung(self, op: str, test: str) -> None:
        path = self.root / "hung" / _safe(op)
        if not path.exists():
            self._write(path, test)

    def hung_in(self, op: str) -> str | None:
        """The test in which ``op`` hung earlier in this run, if it did."""
        path = self.root / "hung" / _safe(op)
        return path.read_text(encoding="utf-8") if path.exists() else None


def resident_bytes() -> int:
    """This process's resident memory (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Watchdog:
    """Ends this worker when its current test runs past ``timeout`` seconds or its
    resident memory passes ``memory_limit`` bytes (0: no limit), after writing why."""

    def __init__(self, run: RunDir, memory_limit: int) -> None:
        self.run, self.memory_limit = run, memory_limit
        self._lock = threading.Lock()
        self._test: str | None = None
        self._deadline = 0.0
        self._timeout = 0.0
        self._backstop = threading.current_thread() is threading.main_thread()
        if self._backstop:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        self._thread = threading.Thread(target=self._watch, name="poolconf-watchdog", daemon=True)
        self._thread.start()

    def start_test(self, nodeid: str, timeout: float) -> None:
        self.run.record_test(nodeid, timeout)
        with self._lock:
            self._test, self._timeout = nodeid, timeout
            self._deadline = time.monotonic() + timeout if timeout > 0 else float("inf")
        if self._backstop and timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, timeout + BACKSTOP_SECONDS)

    def end_test(self) -> None:
        if self._backstop:
            signal.setitimer(signal.ITIMER_REAL, 0)
        with self._lock:
            self._test = None
        self.run.record_test(None, 0)

    def _watch(self) -> None:
        while True:
            time.sleep(POLL_SECONDS)
            with self._lock:
                test, deadline, timeout = self._test, self._deadline, self._timeout
            if test is None:
                continue
            if time.monotonic() > deadline:
                self._end({"kind": "timeout", "test": test, "seconds": timeout})
            rss = resident_bytes() if self.memory_limit else 0
            if rss > self.memory_limit > 0:
                self._end({"kind": "memory", "test": test, "rss": rss, "limit": self.memory_limit})

    def _end(self, event: dict[str, Any]) -> None:
        event["call"] = self.run.last_call(self.run.worker)
        op = self.run.last_op(self.run.worker)
        try:
            self.run.record_event(event)
            if event["kind"] == "timeout" and op:
                self.run.mark_hung(op, event["test"])
        finally:
            os._exit(EXIT_STATUS)


def backstop_event(running: dict[str, Any] | None, call: str | None) -> dict[str, Any] | None:
    """The timeout event of a worker the backstop alarm ended (its test ran past its
    timeout and the watchdog thread never got to write the event), else None."""
    if not running or not running.get("timeout"):
        return None
    elapsed = time.time() - float(running.get("start", 0))
    if elapsed < float(running["timeout"]):
        return None
    return {"kind": "timeout", "test": running.get("test"), "seconds": running["timeout"],
            "call": call, "native": True}  # fmt: skip


def describe_event(event: dict[str, Any] | None, last_call: str | None) -> str:
    """One line on why a worker ended, for the failure of the test it was running."""
    call = (event or {}).get("call") or last_call
    where = f" in {call}" if call else ""
    if event and event.get("kind") == "timeout" and event.get("native"):
        return (
            f"timed out after {event.get('seconds', 0):g} s{where}, in code that never let "
            "go of the interpreter (ended by the backstop alarm); the worker was replaced"
        )
    if event and event.get("kind") == "timeout":
        where = where or " outside any backend call (in the harness)"
        return f"timed out after {event.get('seconds', 0):g} s{where}; the worker was replaced"
    if event and event.get("kind") == "memory":
        gib = event.get("rss", 0) / 2**30
        limit = event.get("limit", 0) / 2**30
        return (
            f"exceeded the memory limit ({gib:.1f} GiB > {limit:.1f} GiB){where}; "
            "the worker was replaced"
        )
    return f"crashed (the worker process died){where}; the worker was replaced"
