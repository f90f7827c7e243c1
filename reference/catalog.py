"""The op catalogue: what every op of the spec is, in one place.

Every other module (the reference's tolerance rules, the vector generator and
verifier, the harness's strategies and checks, the backends) reads op facts from
here: an op's positional arrays, its outputs, its keyword arguments, its dtypes
[POOL-DTYPE-1], whether its results are exact [POOL-TOL-2], whether it selects a
maximum (ties and NaN selection [POOL-MAX-4, POOL-MAX-7]), its gradient, the
clause a mismatch of each output cites, and the vector test type its golden
cases are stored under (``spec/vector-format.md``).

To add an op: write it in ``poolconf.reference.ops``, add its row below, and add
its family's test type to ``TEST_TYPES`` if the family is new (with its schema in
``spec/schema/``). ``tests/test_catalog.py`` checks every row against the
reference's signatures and against the JSON schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from poolconf.reference.dtypes import ALL_DTYPES, FLOAT_DTYPES

LAYOUTS = ("channels_first", "channels_last")  # [POOL-LAYOUT-1]
TIE_POLICIES = ("first", "all")  # [POOL-GRAD-2]
FAMILIES = ("window", "adaptive", "global", "unpool", "pad", "conv")


@dataclass(frozen=True)
class Op:
    """One op of the spec, forward or gradient.

    ``arrays`` are the positional array arguments in call order (``bias`` may be
    None); ``outputs`` name the results in return order (a single output is returned
    bare, several as a tuple); ``params`` are the keyword arguments in signature
    order; ``clauses`` map each output to the clause an ordinary mismatch of it
    cites, ``nan_clause`` the clause a wrong result on special values cites.
    ``reduction`` says what a window does: ``max`` (selects an element), ``mean``, ``lp``
    (sums), ``dot`` (convolution), ``scatter`` (unpooling) or ``copy`` (padding).
    ``forward`` is set on gradient ops, ``grad`` on forward ops that have one."""

    name: str
    family: str
    arrays: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    dtypes: tuple[str, ...]
    clauses: Mapping[str, str]
    nan_clause: str
    reduction: str
    forward: str | None = None
    grad: str | None = None

    @property
    def is_grad(self) -> bool:
        return self.forward is not None

    @property
    def exact(self) -> bool:
        """Whether every result must match bit for bit: selection, scatter and copy
        forward ops [POOL-TOL-2]; gradients are sums."""
        return not self.is_grad and self.reduction in ("max", "scatter", "copy")

    @property
    def selects_max(self) -> bool:
        """Whether the op selects a window maximum (ties, NaN selection) [POOL-MAX-4, POOL-MAX-7]."""
        return self.reduction == "max"

    @property
    def clause(self) -> str:
        """The clause a mismatch of the op's first output cites."""
        return self.clauses[self.outputs[0]]

    @property
    def windowed(self) -> bool:
        """Whether the op slides a kernel with stride, padding and dilation [POOL-GEOM-*]."""
        return self.family in ("window", "conv")

    @property
    def takes_ints(self) -> bool:
        """Whether integer dtypes are in the op's domain [POOL-DTYPE-1]."""
        return self.dtypes == ALL_DTYPES


_WINDOW = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
_MAX_CLAUSE = "POOL-MAX-2"
_SUM_CLAUSE = "POOL-AVG-6"


# fmt: off
def _forward_rows() -> tuple[Op, ...]:
    window: dict[str, Any] = {"family": "window", "arrays": ("x",), "outputs": ("output",)}
    pooled: dict[str, Any] = {"arrays": ("x",), "outputs": ("output",)}
    return (
        Op(
            "max_pool", **window, params=(*_WINDOW, "layout"), dtypes=ALL_DTYPES,
            clauses={"output": "POOL-MAX-1"}, nan_clause=_MAX_CLAUSE, reduction="max",
            grad="max_pool_grad",
        ),
        Op(
            "max_pool_with_indices", family="window", arrays=("x",),
            outputs=("output", "indices"), params=(*_WINDOW, "layout"), dtypes=ALL_DTYPES,
            clauses={"output": "POOL-MAX-1", "indices": "POOL-IDX-1"},
            nan_clause=_MAX_CLAUSE, reduction="max",
        ),
        Op(
            "avg_pool", **window,
            params=(*_WINDOW, "count_include_pad", "divisor_override", "layout"),
            dtypes=FLOAT_DTYPES, clauses={"output": "POOL-AVG-1"}, nan_clause=_SUM_CLAUSE,
            reduction="mean", grad="avg_pool_grad",
        ),
        Op(
            "lp_pool", **window,
            params=("kernel_size", "p", "stride", "padding", "dilation", "ceil_mode", "layout"),
            dtypes=FLOAT_DTYPES, clauses={"output": "POOL-LP-1"}, nan_clause="POOL-LP-1",
            reduction="lp", grad="lp_pool_grad",
        ),
        Op(
            "adaptive_max_pool", family="adaptive", **pooled, params=("output_size", "layout"),
            dtypes=ALL_DTYPES, clauses={"output": "POOL-ADAPT-1"}, nan_clause=_MAX_CLAUSE,
            reduction="max", grad="adaptive_max_pool_grad",
        ),
        Op(
            "adaptive_avg_pool", family="adaptive", **pooled, params=("output_size", "layout"),
            dtypes=FLOAT_DTYPES, clauses={"output": "POOL-ADAPT-1"}, nan_clause=_SUM_CLAUSE,
            reduction="mean", grad="adaptive_avg_pool_grad",
        ),
        Op(
            "global_max_pool", family="global", **pooled, params=("layout",),
            dtypes=ALL_DTYPES, clauses={"output": "POOL-GLOBAL-1"}, nan_clause=_MAX_CLAUSE,
            reduction="max",
        ),
        Op(
            "global_avg_pool", family="global", **pooled, params=("layout",),
            dtypes=FLOAT_DTYPES, clauses={"output": "POOL-GLOBAL-1"}, nan_clause=_SUM_CLAUSE,
            reduction="mean",
        ),
        Op(
            "global_lp_pool", family="global", **pooled, params=("p", "layout"),
            dtypes=FLOAT_DTYPES, clauses={"output": "POOL-GLOBAL-1"}, nan_clause="POOL-LP-1",
            reduction="lp",
        ),
        Op(
            "max_unpool", family="unpool", arrays=("x", "indices"), outputs=("output",),
            params=("kernel_size", "stride", "padding", "output_size", "layout"),
            dtypes=ALL_DTYPES, clauses={"output": "POOL-UNPOOL-2"}, nan_clause="POOL-UNPOOL-2",
            reduction="scatter",
        ),
        Op(
            "zero_pad", family="pad", **pooled, params=("padding", "layout"), dtypes=ALL_DTYPES,
            clauses={"output": "POOL-PAD-1"}, nan_clause="POOL-PAD-1", reduction="copy",
        ),
        Op(
            "conv", family="conv", arrays=("x", "weight", "bias"), outputs=("output",),
            params=("stride", "padding", "dilation", "groups", "layout"), dtypes=FLOAT_DTYPES,
            clauses={"output": "POOL-CONV-1"}, nan_clause=_SUM_CLAUSE, reduction="dot",
            grad="conv_grad",
        ),
    )
# fmt: on


def _grad_row(fwd: Op, clause: str) -> Op:
    """The gradient of ``fwd``: ``grad_output`` after the forward arrays, the forward's
    keyword arguments (plus ``tie_policy`` for max gradients), floats only."""
    assert fwd.grad is not None
    outputs = (
        ("grad_input", "grad_weight", "grad_bias") if fwd.family == "conv" else ("grad_input",)
    )
    params = (*fwd.params, "tie_policy") if fwd.selects_max else fwd.params
    return Op(
        fwd.grad,
        family=fwd.family,
        arrays=(*fwd.arrays, "grad_output"),
        outputs=outputs,
        params=params,
        dtypes=FLOAT_DTYPES,
        clauses=dict.fromkeys(outputs, clause),
        nan_clause=fwd.nan_clause,
        reduction=fwd.reduction,
        forward=fwd.name,
    )


_GRAD_CLAUSES = {
    "max_pool": "POOL-GRAD-2",
    "avg_pool": "POOL-GRAD-1",
    "lp_pool": "POOL-GRAD-4",
    "adaptive_max_pool": "POOL-GRAD-6",
    "adaptive_avg_pool": "POOL-GRAD-6",
    "conv": "POOL-GRAD-5",
}


def _catalog() -> dict[str, Op]:
    forward = _forward_rows()
    grads = [_grad_row(op, _GRAD_CLAUSES[op.name]) for op in forward if op.grad]
    return {op.name: op for op in (*forward, *grads)}


OPS: Mapping[str, Op] = MappingProxyType(_catalog())
FORWARD_OPS: tuple[str, ...] = tuple(n for n, op in OPS.items() if not op.is_grad)
GRAD_OPS: tuple[str, ...] = tuple(n for n, op in OPS.items() if op.is_grad)
ALL_OPS: tuple[str, ...] = FORWARD_OPS + GRAD_OPS


def op(name: str) -> Op:
    """The catalogue row of ``name``; KeyError naming the known ops otherwise."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known: {list(OPS)}") from None


def forward_ops(*families: str) -> tuple[str, ...]:
    """Forward ops of the given families (all forward ops when none is given), in
    catalogue order."""
    return tuple(n for n in FORWARD_OPS if not families or OPS[n].family in families)


WITH_GRAD: tuple[str, ...] = tuple(n for n in FORWARD_OPS if OPS[n].grad)


def grad_of(name: str) -> str:
    """The gradient op of a forward op; KeyError when it has none."""
    grad = op(name).grad
    if grad is None:
        raise KeyError(f"{name} has no gradient; these do: {list(WITH_GRAD)}")
    return grad


# ---------------------------------------------------------------------------
# vector test types: one per family [spec/vector-format.md]
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestType:
    """A kind of vector file: its group ``type``, schema, and the names its tests
    may use (the union over its ops, gradients included)."""

    __test__ = False  # not a pytest test class

    name: str
    schema: str
    ops: tuple[str, ...]
    params: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


_TYPE_NAMES = {
    "window": "WindowPoolTest",
    "adaptive": "AdaptivePoolTest",
    "global": "GlobalPoolTest",
    "unpool": "UnpoolTest",
    "pad": "ZeroPadTest",
    "conv": "ConvTest",
}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _union(groups: list[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _test_type(family: str) -> TestType:
    fwd = [OPS[n] for n in forward_ops(family)]
    grads = [OPS[op.grad] for op in fwd if op.grad]
    outputs = [op.outputs for op in fwd]
    for g in grads:
        # a max gradient also stores the "all" tie policy's result [POOL-GRAD-2]
        outputs.append((*g.outputs, "grad_input_all") if "tie_policy" in g.params else g.outputs)
    name = _TYPE_NAMES[family]
    return TestType(
        name,
        f"{_snake(name)}.schema.json",
        tuple(op.name for op in fwd),
        _union([op.params for op in fwd]),
        _union([op.arrays for op in fwd] + [g.arrays for g in grads]),
        _union(outputs),
    )


TEST_TYPES: Mapping[str, TestType] = MappingProxyType({f: _test_type(f) for f in FAMILIES})


def vector_test_type(name: str) -> TestType:
    """The vector test type of a forward op."""
    return TEST_TYPES[op(name).family]
