"""One golden case, and the one way to declare it.

A ``Case`` is a plain value. Its ``name`` is its identity: unique within its vector
file (``<op>_<family>_test.json``), written into the vector test, and part of the
test id the harness reports, ``<file stem>#<name>``
(``max_pool_edge_test#ceil_last_window_dropped``). The generator owns tcIds and
formatting (``poolconf.tools.generate``); tcIds follow the names through the
registry ``tcids.json`` (``poolconf.tools.cases.tcids``).

The name also seeds the case: its ``seed`` (of the drawn ``grad_output``) is
``seed_of("<file stem>#<name>")`` unless the case gives one, and each ``draw(...)`` input
is drawn from ``"<file stem>#<name>/<input>"``. Its clauses are the ones it names as its
focus plus those its op, params and dtype imply (``poolconf.tools.cases.clauses``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poolconf.reference import catalog as cat
from poolconf.tools.cases.clauses import derive_clauses
from poolconf.tools.cases.inputs import Draw, seed_of

RESULTS = ("valid", "invalid", "acceptable")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 48
TWIN = "_as_float32"  # the name suffix of a setup's float32 twin (matrix.py, edge.py)
GRAD_OPS = frozenset(cat.WITH_GRAD)
DEFAULT_SOURCE: Mapping[str, str] = {"name": "poolconf-cases"}


def _default_source() -> Mapping[str, str]:
    return dict(DEFAULT_SOURCE)


@dataclass(frozen=True, kw_only=True)
class Case:
    """One golden case.

    name: lowercase ``[a-z0-9_]``, starting with a letter, at most 48 characters,
        unique within the case's vector file; what the case is.
    op: the reference forward op (a ``poolconf.reference.catalog.FORWARD_OPS`` name).
    family: groups cases into ``vectors/<op>_<family>_test.json``.
    clauses: the spec clauses the case exercises, sorted.
    inputs: ``x``; ``indices`` for ``max_unpool``; ``weight`` and optional ``bias``
        for ``conv``; optional explicit ``grad_output`` (else it is drawn from
        ``seed`` when the op has a gradient and the dtype is a float).
    params: keyword arguments for the reference op, JSON-serialisable.
    seed: the seed of the drawn ``grad_output``, ``seed_of(test_id)`` unless declared.
    grad_params: extra keyword arguments for the gradient only (``tie_policy``).
    result: ``valid``, ``invalid`` (the reference must raise SpecError with
        ``error_clause``) or ``acceptable`` (the spec leaves it open; ``flags``
        say why).
    source: provenance, e.g. ``{"name": "poolconf-cases"}`` or
        ``{"name": "seed", "file": "001_7c2e83e318201444.txt", "function": "pool_forward"}``.
    """

    name: str
    op: str
    family: str
    comment: str
    clauses: tuple[str, ...]
    inputs: Mapping[str, np.ndarray]
    params: Mapping[str, Any]
    seed: int
    source: Mapping[str, str] = field(default_factory=_default_source)
    flags: tuple[str, ...] = ()
    result: str = "valid"
    error_clause: str | None = None
    grad: bool = True
    grad_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME.match(self.name) or len(self.name) > MAX_NAME:
            raise ValueError(
                f"name={self.name!r} must be lowercase [a-z0-9_], start with a letter and "
                f"have at most {MAX_NAME} characters"
            )
        if self.result not in RESULTS:
            raise ValueError(f"{self.name}: result={self.result!r} is not one of {RESULTS}")
        if (self.result == "invalid") != (self.error_clause is not None):
            raise ValueError(
                f"{self.name}: error_clause is required for, and only for, invalid cases"
            )
        if not self.clauses:
            raise ValueError(f"{self.name}: a case must name at least one spec clause")

    @property
    def file(self) -> str:
        """The vector file the case goes to: ``<op>_<family>_test.json``."""
        return f"{self.op}_{self.family}_test.json"

    @property
    def test_id(self) -> str:
        """``<file stem>#<name>``, the id the harness reports for the case."""
        return vector_id(self.op, self.family, self.name)


def vector_id(op: str, family: str, name: str) -> str:
    """``<file stem>#<name>`` of a case of ``op`` in ``family``: its identity, and the
    label its seed and its drawn inputs derive from."""
    return f"{op}_{family}_test#{name}"


def _json_ok(what: str, params: Mapping[str, Any]) -> None:
    text = json.dumps(params, allow_nan=False)
    if json.loads(text) != params:
        raise TypeError(f"{what} {params!r} do not survive a JSON round trip (tuples?)")


def case(
    *,
    name: str,
    op: str,
    family: str,
    comment: str,
    focus: Sequence[str] = (),
    x: np.ndarray | Draw,
    params: Mapping[str, Any] | None = None,
    indices: np.ndarray | Draw | None = None,
    weight: np.ndarray | Draw | None = None,
    bias: np.ndarray | Draw | None = None,
    grad_output: np.ndarray | None = None,
    seed: int | None = None,
    flags: Sequence[str] = (),
    result: str = "valid",
    error_clause: str | None = None,
    grad: bool | None = None,
    grad_params: Mapping[str, Any] | None = None,
    source: Mapping[str, str] | None = None,
) -> Case:
    """A ``Case`` with its inputs drawn, its clauses derived and its params JSON-checked.

    ``focus``: the clauses the case is about; the clauses its op, params and dtype imply
    are added (``derive_clauses``), except for invalid cases, whose clauses are their
    focus. ``seed`` defaults to ``seed_of(test_id)``; a ``Draw`` input is drawn from
    ``f"{test_id}/{input}"``. ``grad`` defaults to whether the op has a gradient in the
    reference; invalid cases never carry one."""
    tid = vector_id(op, family, name)
    params = dict(params or {})
    grad_params = dict(grad_params or {})
    _json_ok(f"{tid}: params", params)
    _json_ok(f"{tid}: grad_params", grad_params)
    given = {"x": x, "indices": indices, "weight": weight, "bias": bias}
    given["grad_output"] = grad_output
    inputs = {
        k: v.array(f"{tid}/{k}") if isinstance(v, Draw) else v
        for k, v in given.items()
        if v is not None
    }
    if grad is None:
        grad = op in GRAD_OPS and result != "invalid"
    clauses = set(focus)
    if result != "invalid":
        clauses |= derive_clauses(op, params, inputs, grad=grad)
    return Case(
        name=name,
        op=op,
        family=family,
        comment=comment,
        clauses=tuple(sorted(clauses)),
        inputs=inputs,
        params=params,
        seed=seed_of(tid) if seed is None else seed,
        source=dict(source or DEFAULT_SOURCE),
        flags=tuple(flags),
        result=result,
        error_clause=error_clause,
        grad=grad,
        grad_params=grad_params,
    )
