"""Every declared golden-vector case, in one place.

``all_cases()`` returns them in a fixed order; the generator writes each to its vector
file (``<op>_<family>_test.json``) and keeps the tcId the registry ``tcids.json`` gives
its name (``poolconf.tools.cases.tcids``). ``params`` are exactly the reference op's
keyword arguments, JSON-serialisable (lists, never tuples); inputs are written out
literally or drawn from generators seeded by names, never by hand-numbered integers
(``poolconf.tools.cases.inputs``).

The modules, one table each:

* ``matrix``: the coverage matrices (full product over a few axes, the others rotating);
* ``edge``, ``unpool``: one case per geometry behaviour where libraries disagree;
* ``special``: special values, ties, overflow and accumulation precision;
* ``invalid``: arguments the spec forbids, one row per line;
* ``seeds``: what the tutorial seeds compute;
* ``case``: the ``Case`` value and its one constructor; ``clauses``: the clauses a case's
  op, params and dtype imply; ``inputs``: array helpers and name-derived seeds;
* ``tcids``: the append-only tcId registry ``tcids.json``.

To add a case: add a row (with a ``name``) to the module of its family, then run
``poolconf vectors generate --assign-ids``, which gives the new name the next tcId of its
file, records it in ``tcids.json`` and regenerates the vectors.
"""

from __future__ import annotations

from poolconf.tools.cases.case import Case, case
from poolconf.tools.cases.edge import edge_cases
from poolconf.tools.cases.inputs import fmax, literal, min_subnormal, random_values, to_layout
from poolconf.tools.cases.invalid import invalid_cases
from poolconf.tools.cases.matrix import (
    FLOATS,
    LAYOUTS,
    MAX_OPS,
    OP_DTYPES,
    PADDING_KINDS,
    RANKS,
    WINDOWED_OPS,
    has_empty_window,
    matrix_cases,
    padding_form,
    padding_kind,
    pads_of,
    spatial_of,
)
from poolconf.tools.cases.seeds import seed_cases
from poolconf.tools.cases.special import special_cases
from poolconf.tools.cases.unpool import unpool_edges

__all__ = [
    "FLOATS",
    "LAYOUTS",
    "MAX_OPS",
    "OP_DTYPES",
    "PADDING_KINDS",
    "RANKS",
    "WINDOWED_OPS",
    "Case",
    "all_cases",
    "case",
    "declared_cases",
    "fmax",
    "has_empty_window",
    "literal",
    "min_subnormal",
    "padding_form",
    "padding_kind",
    "pads_of",
    "random_values",
    "spatial_of",
    "to_layout",
]


def declared_cases() -> list[Case]:
    """The poolconf cases (matrix, edge, special, invalid), without the tutorial seeds."""
    return [
        *matrix_cases(),
        *edge_cases(),
        *unpool_edges(),
        *special_cases(),
        *invalid_cases(),
    ]


def all_cases() -> list[Case]:
    """All declared cases, the seeded tutorial cases last."""
    return declared_cases() + seed_cases()
