"""The options of a conformance run, declared once for ``poolconf check`` and the plugin.

Each ``Option`` row becomes ``--<name>`` of ``poolconf check`` and ``--poolconf-<name>``
of the pytest plugin (``--xfail-file`` keeps its name in both), with one help text,
one default, one validator and, where it has one, one environment variable. ``poolconf
check`` passes every option it was given on to the pytest run it starts.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from poolconf.conformance.profiles import PROFILE_NAMES

# the check kinds, one per test module (``test_<kind>.py``)
KINDS = ("vectors", "properties", "gradients", "metamorphic", "hygiene")
DEFAULT_PROFILE = "full"
DEFAULT_EXAMPLES = 20
THOROUGH_EXAMPLES = 400


def positive_int(value: str) -> int:
    """An integer >= 1 (argparse type)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be >= 1")
    return n


def positive_float(value: str) -> float:
    """A number > 0 (argparse type)."""
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not n > 0:
        raise argparse.ArgumentTypeError(f"{n:g} must be > 0")
    return n


def default_memory_limit() -> int:
    """Bytes a worker may hold: a quarter of the machine's memory, at most 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return min(8 * 2**30, total // 4)


def kinds(value: str) -> str:
    """A comma list of check kinds (argparse type); returned normalised."""
    chosen = [k.strip() for k in value.split(",") if k.strip()]
    bad = [k for k in chosen if k not in KINDS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"{value!r}: choose from {', '.join(KINDS)}")
    return ",".join(chosen)


@dataclass(frozen=True)
class Option:
    """One option of a conformance run.

    ``name``: ``--<name>`` on ``poolconf check``; ``pytest_flag`` (default
    ``--poolconf-<name>``) on pytest. ``kind``: ``value`` or ``flag`` (a switch)."""

    name: str
    help: str
    kind: str = "value"
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    env: str | None = None
    metavar: str | None = None
    pytest_name: str | None = None

    @property
    def pytest_flag(self) -> str:
        return self.pytest_name or f"--poolconf-{self.name}"

    @property
    def cli_flag(self) -> str:
        return f"--{self.name}"

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def add_to(self, add: Callable[..., Any], flag: str) -> None:
        """Register the option with an argparse-style ``add`` (parser or pytest group)."""
        if self.kind == "flag":
            add(flag, action="store_true", default=False, help=self.help, dest=self.dest)
            return
        kw: dict[str, Any] = {"default": None, "help": self.help, "dest": self.dest}
        if self.type is not None:
            kw["type"] = self.type
        if self.choices is not None:
            kw["choices"] = self.choices
        if self.metavar is not None:
            kw["metavar"] = self.metavar
        add(flag, **kw)

    def value(self, given: Any) -> Any:
        """The option's value: as given, else from its environment variable."""
        if given not in (None, False) or self.env is None:
            return given
        raw = os.environ.get(self.env) or None
        return self.type(raw) if raw is not None and self.type is not None else raw


OPTIONS: tuple[Option, ...] = (
    Option(
        "profile",
        f"spec profile: {' or '.join(PROFILE_NAMES)} (default {DEFAULT_PROFILE})",
        choices=PROFILE_NAMES,
        env="POOLCONF_PROFILE",
    ),
    Option(
        "examples",
        f"Hypothesis examples per property at scale 1 (default {DEFAULT_EXAMPLES}); each "
        "check scales it: forward and gradient properties 1.5, gradient checks 1.25, special "
        "values, ceil overhang, invalid input and metamorphic properties 1, hygiene 0.5",
        type=positive_int,
        metavar="N",
    ),
    Option(
        "thorough",
        f"deeper property runs: {THOROUGH_EXAMPLES} examples at scale 1 unless --examples says",
        kind="flag",
    ),
    Option(
        "no-shrink",
        "report a property's first failing example as drawn, without shrinking it to a "
        "minimal one: the same verdict, sooner (for CI gates that rerun failures locally)",
        kind="flag",
    ),
    Option(
        "xfail-file",
        "known failures: one test id per line, '# reason' after it",
        metavar="FILE",
        pytest_name="--xfail-file",
    ),
    Option("report-json", "write the poolconf summary as JSON to this file", metavar="PATH"),
    Option(
        "vectors",
        "golden vectors folder (default: the installed poolconf.vectors)",
        env="POOLCONF_VECTORS",
        metavar="DIR",
    ),
    Option("only", f"run only these check kinds: comma list of {', '.join(KINDS)}", type=kinds),
    Option(
        "memory-limit",
        "resident memory per worker, in GiB, past which the worker is ended and its test fails "
        "(default: a quarter of the machine's memory, at most 8)",
        type=positive_float,
        metavar="GIB",
    ),
)
BY_NAME = {o.name: o for o in OPTIONS}


def examples_for(base: int | None, thorough: bool, scale: float) -> int:
    """Examples of one property: ``base`` (``--examples``) or the default, times the
    check kind's ``scale``, at least 1."""
    n = base if base is not None else (THOROUGH_EXAMPLES if thorough else DEFAULT_EXAMPLES)
    return max(1, round(n * scale))
