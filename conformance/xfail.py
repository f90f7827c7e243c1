"""Known-failure files (``--xfail-file``): plain text, one test id per line.

::

    # torch: Lp pooling without the absolute value, POOL-LP-1, https://github.com/...
    test_vector[lp_pool_edge_test#p1_sums_absolute_values]   # negative inputs; POOL-LP-1
    test_lp_pool_matches_reference        # the same, property test

A line holds a test id, optionally followed by a profile qualifier and by
``# comment``; lines that are blank or start with ``#`` are ignored. An id is a test's
name as pytest prints it
(``test_vector[max_pool_edge_test#ceil_last_window_dropped]``: a vector case's id is
its file stem and its stable name), or its full node id, or a node
id suffix (``test_vectors.py::test_vector[...]``). Listed tests run as strict
xfail: a listed test that passes fails the run (XPASS(strict)). Ids that match
no test of the suite are *stale*; they are reported and make the run fail.

A property test draws its examples from the profile it runs under, so whether it reaches
a divergence depends on the profile. A qualifier ``@core``, ``@full`` or ``@core,full``
after the id says under which profiles the failure was observed: the entry is a strict
known failure there, and under any other profile the test runs as any unlisted test (a
pass is fine, a failure fails the run). Without a qualifier the entry holds in every
profile::

    test_properties.py::test_forward_matches_reference[avg_pool]  @full   # SAME with dilation
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from poolconf.conformance.profiles import PROFILE_NAMES

# how a listed test's xfail reason begins (the entry's reason follows); reports keep it
KNOWN_FAILURE_PREFIX = "known failure: "


class XfailFileError(ValueError):
    """The known-failure file cannot be read or has a malformed line."""


@dataclass(frozen=True)
class KnownFailure:
    test_id: str
    reason: str
    line: int
    profiles: frozenset[str] | None = None  # None: every profile

    def applies(self, profile: str) -> bool:
        """Whether the entry is a known failure in a run of ``profile``."""
        return self.profiles is None or profile in self.profiles


def parse_xfail_text(text: str, source: str = "<xfail>") -> dict[str, KnownFailure]:
    """Known failures of a file's text, keyed by id; duplicate ids are an error."""
    known: dict[str, KnownFailure] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        body, _, comment = _split(raw)
        words = body.split()
        if not words:
            continue
        test_id, qualifier = words[0], words[1:]
        if len(qualifier) > 1 or (qualifier and not qualifier[0].startswith("@")):
            raise XfailFileError(
                f"{source}:{lineno}: {body.strip()!r} is not one test id and an optional "
                f"'@profile' qualifier (write the comment after '# ')"
            )
        if test_id in known:
            raise XfailFileError(
                f"{source}:{lineno}: {test_id!r} is listed twice "
                f"(first on line {known[test_id].line})"
            )
        profiles = _profiles(qualifier[0], f"{source}:{lineno}") if qualifier else None
        reason = comment.strip() or "listed in the known-failure file"
        known[test_id] = KnownFailure(test_id, reason, lineno, profiles)
    return known


def _profiles(qualifier: str, where: str) -> frozenset[str]:
    """The profiles named by ``@name[,name...]``."""
    names = qualifier[1:].split(",")
    unknown = [n for n in names if n not in PROFILE_NAMES]
    if unknown:
        raise XfailFileError(
            f"{where}: profile qualifier {qualifier!r} names {', '.join(map(repr, unknown))}, "
            f"not a profile (one or more of {', '.join(PROFILE_NAMES)}, comma-separated)"
        )
    return frozenset(names)


def _split(raw: str) -> tuple[str, str, str]:
    """Split ``id  # comment`` at the first ``#`` preceded by whitespace, so ids that
    contain ``#`` (``test_vector[max_pool_edge_test#padding_end_only]``) stay whole."""
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
    except UnicodeDecodeError as exc:
        raise XfailFileError(
            f"known-failure file {os.fspath(path)!r} is not UTF-8 text "
            f"(byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r})"
        ) from exc
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
