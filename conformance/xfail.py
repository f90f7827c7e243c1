"""Known-failure files (``--xfail-file``): plain text, one test id per line.

::

    # torch: Lp pooling without the absolute value, POOL-LP-1, https://github.com/...
    test_vector[lp_pool_special_test#4]   # negative inputs; POOL-LP-1
    test_lp_pool_matches_reference        # the same, property test

A line holds a test id, optionally followed by ``# comment``; lines that are
blank or start with ``#`` are ignored. An id is a test's name as pytest prints
it (``test_vector[max_pool_geometry_test#3]``), or its full node id, or a node
id suffix (``test_vectors.py::test_vector[...]``). Listed tests run as strict
xfail: a listed test that passes fails the run (XPASS(strict)). Ids that match
no test of the suite are *stale*; they are reported and make the run fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


class XfailFileError(ValueError):
    """The known-failure file cannot be read or has a malformed line."""


@dataclass(frozen=True)
class KnownFailure:
    test_id: str
    reason: str
    line: int


def parse_xfail_text(text: str, source: str = "<xfail>") -> dict[str, KnownFailure]:
    """Known failures of a file's text, keyed by id; duplicate ids are an error."""
    known: dict[str, KnownFailure] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        body, _, comment = _split(raw)
        body = body.strip()
        if not body:
            continue
        if any(c.isspace() for c in body):
            raise XfailFileError(
                f"{source}:{lineno}: {body!r} is not one test id (write the comment after '# ')"
            )
        if body in known:
            raise XfailFileError(
                f"{source}:{lineno}: {body!r} is listed twice (first on line {known[body].line})"
            )
        reason = comment.strip() or "listed in the known-failure file"
        known[body] = KnownFailure(body, reason, lineno)
    return known


def _split(raw: str) -> tuple[str, str, str]:
    """Split ``id  # comment`` at the first ``#`` preceded by whitespace, so ids that
    contain ``#`` (``test_vector[max_pool_geometry_test#3]``) stay whole."""
    for i, ch in enumerate(raw):
        if ch == "#" and (i == 0 or raw[i - 1].isspace()):
            return raw[:i], "#", raw[i + 1 :]
    return raw, "", ""


def load_xfail_file(path: str | os.PathLike) -> dict[str, KnownFailure]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise XfailFileError(f"cannot read known-failure file {os.fspath(path)!r}: {exc}") from exc
    return parse_xfail_text(text, os.fspath(path))


def matches(key: str, name: str, nodeid: str) -> bool:
    """Whether the id ``key`` names the test with pytest name ``name`` and node id ``nodeid``."""
    return key in (name, nodeid) or nodeid.endswith(("/" + key, "::" + key))


def match(known: dict[str, KnownFailure], name: str, nodeid: str) -> KnownFailure | None:
    """The entry naming a test with pytest name ``name`` and node id ``nodeid``."""
    if name in known:
        return known[name]
    for key, entry in known.items():
        if matches(key, name, nodeid):
            return entry
    return None


def stale_ids(
    known: dict[str, KnownFailure], names: Iterable[str], nodeids: Iterable[str]
) -> list[str]:
    """Ids of ``known`` that match none of the tests given by ``names``/``nodeids``."""
    names_set, nodeid_list = set(names), list(nodeids)
    return [
        key
        for key in known
        if key not in names_set and not any(matches(key, "", nid) for nid in nodeid_list)
    ]
