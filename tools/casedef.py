"""How a golden-vector case is declared (the generator owns tcIds and files).

A case is a plain ``Case`` value built in one place (``poolconf.tools.cases``,
``poolconf.tools.seed_cases``). The same declaration produces the vector, its
test id and its documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RESULTS = ("valid", "invalid", "acceptable")


@dataclass(frozen=True)
class Case:
    """One golden case.

    op: the reference forward op (``max_pool``, ``avg_pool``, ``lp_pool``,
        ``max_pool_with_indices``, ``max_unpool``, ``adaptive_max_pool``,
        ``adaptive_avg_pool``, ``global_max_pool``, ``global_avg_pool``,
        ``global_lp_pool``, ``zero_pad``, ``conv``).
    family: groups cases into ``vectors/<op>_<family>_test.json``.
    inputs: ``x``; ``indices`` for ``max_unpool``; ``weight`` and optional ``bias``
        for ``conv``; optional explicit ``grad_output`` (else it is drawn from
        ``seed`` when the op has a gradient and the dtype is a float).
    params: keyword arguments for the reference op, JSON-serialisable.
    grad_params: extra keyword arguments for the gradient only (``tie_policy``).
    result: ``valid``, ``invalid`` (the reference must raise SpecError with
        ``error_clause``) or ``acceptable`` (the spec leaves it open; ``flags``
        say why).
    source: provenance, e.g. ``{"name": "poolconf-cases"}`` or
        ``{"name": "seed", "file": "001_7c2e83e318201444.txt", "function": "pool_forward"}``.
    """

    op: str
    family: str
    comment: str
    clauses: tuple[str, ...]
    inputs: Mapping[str, np.ndarray]
    params: Mapping[str, Any]
    seed: int
    source: Mapping[str, str] = field(default_factory=lambda: {"name": "poolconf-cases"})
    flags: tuple[str, ...] = ()
    result: str = "valid"
    error_clause: str | None = None
    grad: bool = True
    grad_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"result={self.result!r} is not one of {RESULTS}")
        if (self.result == "invalid") != (self.error_clause is not None):
            raise ValueError("error_clause is required for, and only for, invalid cases")
        if not self.clauses:
            raise ValueError("a case must name at least one spec clause")
