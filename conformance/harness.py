"""How every check calls a backend, reports a failure and runs a property.

* ``invoke`` calls one op of the backend on copies of the arrays (the caller's stay
  pristine), names the results after the op's outputs (``reference.catalog``), checks
  the call was pure [POOL-SHAPE-2] and turns any exception other than
  ``poolconf.Unsupported`` into a failure: the input is valid, so raising is wrong.
  ``invoke_invalid`` is its mirror for inputs the spec forbids.
  Failures use ``assertions.fail``, the one format.
* ``run_property`` runs a check on drawn examples until it has checked its budget of
  examples the backend supports, counting the others by reason, and records the
  counts for the summary.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from poolconf import Unsupported
from poolconf.conformance.assertions import CheckFailure, assert_pure, describe_result, fail
from poolconf.conformance.backend import Backend
from poolconf.conformance.options import examples_for
from poolconf.conformance.profiles import Profile
from poolconf.conformance.watchdog import RunDir
from poolconf.reference import catalog
from poolconf.reference import dtypes as dt

T = TypeVar("T")
Arrays = Mapping[str, "np.ndarray | None"]


def copies(arrays: Arrays) -> list[np.ndarray | None]:
    """Copies in the arrays' own memory order (a transposed input stays transposed)."""
    return [None if a is None else a.copy(order="K") for a in arrays.values()]


def name_outputs(op: str, result: Any, *, call: str, clause: str) -> dict[str, Any]:
    """The pieces of a backend's result by output name; a result of the wrong arity fails."""
    __tracebackhide__ = True
    names = catalog.op(op).outputs
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        fail(
            f"result is {describe_result(result)}, but should be a {len(names)}-tuple "
            f"({', '.join(names)})",
            call=call,
            clause=clause,
        )
    return dict(zip(names, result))


RUN: RunDir | None = None  # this process's run folder (set by the plugin)
SIGINT_SEEN = False  # a real SIGINT arrived (the plugin's handler sets it)


def _call(
    backend: Backend,
    op: str,
    args: list[np.ndarray | None],
    params: Mapping[str, Any],
    *,
    call: str,
    clause: str,
) -> Any:
    """One backend call: refused at once when ``op`` hung earlier in this run, recorded
    for the watchdog while it runs, and made under its own NumPy error state (a backend
    that changes it, ``np.seterr(all="raise")`` say, leaves the harness's alone). A
    ``KeyboardInterrupt`` the backend raises itself fails the check; one raised by a real
    SIGINT stops the run."""
    __tracebackhide__ = True
    if RUN is not None:
        earlier = RUN.hung_in(op)
        if earlier:
            fail(
                f"{op} hung earlier in this run ({earlier}), so it is not called again",
                call=call,
                clause=clause,
            )
        RUN.record_call(op, call if call.startswith(f"{op}(") else f"{op}, checking {call}")
    try:
        with np.errstate():
            return backend.call(op, *args, **params)
    except KeyboardInterrupt:
        if SIGINT_SEEN:  # the user's Ctrl-C stops the run
            raise
        fail(
            f"{op} raised KeyboardInterrupt, and no interrupt signal had arrived",
            call=call,
            clause=clause,
        )
    finally:
        if RUN is not None:
            RUN.record_call("", "")


class Refused(Exception):
    """The backend raised on a call past a limit it declares; the message names the
    exception and the declaration."""


def invoke(
    backend: Backend,
    op: str,
    arrays: Arrays,
    params: Mapping[str, Any],
    *,
    call: str,
    clause: str,
    repro: str = "",
    copy: bool = True,
    pure: bool = True,
    context: str = "",
    refusal: str = "",
) -> dict[str, Any]:
    """Call ``op`` on valid input and return its outputs by name.

    ``Unsupported`` propagates (the caller skips or counts it); any other exception
    fails the check, unless ``refusal`` says why the backend may raise here (a limit it
    declares): then the exception is raised as ``Refused``, naming it. With ``copy`` the
    backend gets copies of ``arrays``, and with ``pure`` the call must leave them
    unchanged and return no view of them. ``context`` names an unusual input in the
    message (``" on read-only inputs"``)."""
    __tracebackhide__ = True
    args = copies(arrays) if copy else list(arrays.values())
    try:
        result = _call(backend, op, args, params, call=call, clause=clause)
    except Unsupported:
        raise
    except (Exception, SystemExit) as exc:  # a backend's sys.exit() fails its test
        if refusal and isinstance(exc, Exception) and not isinstance(exc, CheckFailure):
            raise Refused(
                f"{op} raised {type(exc).__name__}: {exc} (declared: {refusal}) [{clause}]"
            ) from None
        fail(
            f"{op} raised {type(exc).__name__}: {exc}{context}, but the input is valid",
            call=call,
            clause=clause,
            repro=repro,
        )
    outputs = name_outputs(op, result, call=call, clause=clause)
    if pure:
        assert_pure(arrays, args, outputs, call, repro)
    return outputs


def assert_output_specs(
    outputs: Mapping[str, Any],
    specs: Mapping[str, tuple[tuple[int, ...], np.dtype] | None],
    *,
    op: str,
    call: str,
    repro: str = "",
) -> None:
    """Every output is an array of the spec's shape and dtype (None where the spec has no
    output, e.g. conv's bias gradient without a bias) [POOL-DTYPE-2, POOL-IDX-4]."""
    __tracebackhide__ = True
    for name, spec in specs.items():
        got = outputs.get(name)
        clause = catalog.op(op).clauses.get(name, catalog.op(op).clause)
        if spec is None:
            if got is not None:
                fail(
                    f"{name} is {describe_result(got)}, but should be None",
                    call=call,
                    clause=clause,
                    repro=repro,
                )
            continue
        shape, dtype = spec
        if not isinstance(got, np.ndarray):
            fail(
                f"{name} is {describe_result(got)}, but should be a numpy.ndarray",
                call=call,
                clause="POOL-SHAPE-2",
                repro=repro,
            )
        if got.shape != tuple(shape):
            fail(
                f"{name}.shape={got.shape}, but should be {tuple(shape)}",
                call=call,
                clause=clause,
                repro=repro,
            )
        if got.dtype != dtype:
            dtype_clause = "POOL-IDX-4" if name == "indices" else "POOL-DTYPE-2"
            fail(
                f"{name}.dtype={got.dtype}, but should be {np.dtype(dtype)}",
                call=call,
                clause=dtype_clause,
                repro=repro,
            )


def invoke_invalid(
    backend: Backend,
    op: str,
    arrays: Arrays,
    params: Mapping[str, Any],
    *,
    why: str,
    call: str,
    clause: str,
    repro: str = "",
) -> str:
    """Call ``op`` on input the spec forbids (``why``): it must raise. Returns a line
    naming the exception; ``Unsupported`` propagates; returning fails the check."""
    __tracebackhide__ = True
    try:
        result = _call(backend, op, copies(arrays), params, call=call, clause=clause)
    except Unsupported:
        raise
    except (Exception, SystemExit) as exc:  # a backend's sys.exit() fails its test
        return f"{op} raised {type(exc).__name__}: {exc} (expected: {why}) [{clause}]"
    fail(
        f"{op} returned {describe_result(result)}, but should raise ({why})",
        call=call,
        clause=clause,
        repro=repro,
    )


def restrictions(
    backend: Backend, profile: Profile, *ops: str, grad_dtypes: bool = False
) -> dict[str, Any]:
    """Skip the test when the backend lacks one of ``ops`` or the profile excludes
    them; else the ``pool_configs`` keywords that keep draws inside the profile. With
    ``grad_dtypes`` the draws use the float dtypes gradients take [POOL-DTYPE-1]."""
    for op in ops:
        if not backend.supports(op):
            pytest.skip(f"unsupported: backend {backend.name!r} has no {op}()")
        if not profile.allows(op, rank=2, dtype="float32", params={}):
            pytest.skip(f"{op} is outside profile {profile.name}")
    kw = profile.strategy_kwargs()
    if grad_dtypes and "dtype" not in kw:
        kw["dtype"] = st.sampled_from(dt.FLOAT_DTYPES)
    return kw


def defined_only(backend: Backend) -> dict[str, Any]:
    """``pool_cases`` keywords for a property that checks something other than the
    implementation-defined choices (hygiene, metamorphic relations, reference-free
    gradients): no window entirely in padding [POOL-EMPTY-1] and no explicit padding past
    the backend's declared ``padding_limit`` [POOL-PARAM-7]."""
    return {
        "allow_empty_windows": False,
        "padding_limit": backend.declarations.get("padding_limit", "any"),
    }


# ---------------------------------------------------------------------------
# running a property
# ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What a property did with its draws: examples checked, and the others by reason
    (the backend raised ``Unsupported``, or declares a choice the check cannot judge)."""

    budget: int
    checked: int = 0
    unsupported: Counter[str] = field(default_factory=Counter)
    not_judged: Counter[str] = field(default_factory=Counter)
    draws: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "budget": self.budget,
            "checked": self.checked,
            "unsupported": dict(self.unsupported),
            "not_judged": dict(self.not_judged),
        }
        if self.draws:
            record["draws"] = list(self.draws)
        return record

    def declined(self) -> int:
        return sum(self.unsupported.values()) + sum(self.not_judged.values())

    def reasons(self, limit: int = 3) -> str:
        both = self.unsupported + self.not_judged
        return "; ".join(f"{r} (x{c})" for r, c in both.most_common(limit))


def _option(config: Any, name: str) -> Any:
    try:
        return config.getoption(name)
    except (ValueError, AttributeError):
        return None


def property_examples(config: Any, scale: float) -> int:
    """The example budget of one property of a check kind with ``scale``."""
    return examples_for(
        _option(config, "--poolconf-examples"), bool(_option(config, "--poolconf-thorough")), scale
    )


def ignore_source_constants() -> bool:
    """Keep Hypothesis from drawing constants it reads from the source of loaded modules.

    Hypothesis (6.131 and later) now and then draws an integer, float or string literal
    found in the source of any loaded module outside site-packages. Which modules those are
    depends on the install, not on the check: poolconf's own modules count in an editable
    install and not in a wheel, a backend module in the current folder always counts, and
    editing any of them changes the draws. A property's examples must depend only on its
    test id (the seed), the profile, the backend's declarations and the Hypothesis version,
    so that a verdict and a known-failure file mean the same on every install. The pool of
    local constants is replaced by an empty one; Hypothesis' own built-in constants stay.
    Returns whether this Hypothesis has such a pool (False: nothing to turn off)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        return False
    current = getattr(providers, "_get_local_constants", None)
    if current is None or not hasattr(providers, "Constants"):
        return False
    if getattr(current, "poolconf_empty", False):
        return True
    empty = providers.Constants()

    def no_local_constants() -> Any:
        return empty

    no_local_constants.poolconf_empty = True  # type: ignore[attr-defined]
    providers._get_local_constants = no_local_constants
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if cache is not None:  # permitted constants computed from the old pool
        cache.cache.clear()
    return True


DECLINED_PER_EXAMPLE = 10  # draws a property may see declined per example of its budget


def run_property(
    request: pytest.FixtureRequest,
    strategy: st.SearchStrategy[T],
    body: Callable[[T], str | None],
    *,
    scale: float = 1.0,
    describe: Callable[[T], str] | None = None,
) -> Tally:
    """Check ``body`` on examples of ``strategy`` until ``budget`` of them were checked, or
    ``DECLINED_PER_EXAMPLE`` times the budget were declined.

    ``body`` returns None when it checked the example, or why it could not (the backend
    declares an implementation-defined choice the check does not judge); ``Unsupported``
    from the backend is counted with its reason. Neither counts toward the budget:
    Hypothesis draws again (up to its limit on rejected examples). A failed check raises,
    so Hypothesis shrinks it and prints the falsifying example. Examples are seeded per
    test id, so a gate never flakes and every property draws its own examples. The
    counts go to the summary; a property that checked fewer than ``minimum_checked`` skips
    as not established, with its reasons. With ``describe`` the record also lists each
    checked example's description (``draws``: the scale tier's shapes), in draw order;
    Hypothesis' shrinking attempts after a failure are not listed. A test expected to fail
    (a known failure: an ``xfail`` marker) does not shrink: its verdict needs one failing
    example, and shrinking one through a slow backend can take minutes."""
    ignore_source_constants()
    tally = Tally(property_examples(request.config, scale))
    phases = settings().phases  # the loaded profile's
    if request.node.get_closest_marker("xfail") is not None:
        phases = tuple(p for p in phases if p not in (Phase.shrink, Phase.explain))

    @settings(
        phases=phases,
        max_examples=tally.budget,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(strategy)
    def prop(example: T) -> None:
        if tally.declined() >= DECLINED_PER_EXAMPLE * tally.budget:
            return  # out of tries: the remaining draws are not checked, so Hypothesis ends
        try:
            reason = body(example)
        except Unsupported as exc:
            tally.unsupported[f"unsupported: {exc.reason}"] += 1
            reject()
        if reason is not None:
            tally.not_judged[reason] += 1
            reject()
        tally.checked += 1
        if describe is not None and tally.checked <= tally.budget:
            tally.draws.append(describe(example))

    try:
        seed(zlib.crc32(request.node.name.encode()))(prop)()
    except Unsatisfiable:
        pass  # every draw was unsupported or not judged: reported below
    finally:
        request.node.user_properties.append(("poolconf_examples", tally.as_record()))
    if tally.checked == 0:
        pytest.skip(tally.reasons() or "no example drawn")
    minimum = minimum_checked(tally.budget)
    if tally.checked < minimum:
        pytest.skip(
            f"not established: {tally.checked} of {tally.budget} examples checked, below the "
            f"minimum of {minimum} ({tally.reasons() or 'the draws ran out'})"
        )
    return tally


def minimum_checked(budget: int) -> int:
    """The fewest checked examples that let a property pass: a quarter of its budget. Below
    it the backend declined (``Unsupported``, or a declared choice) nearly every draw, and
    the few it took are not evidence for the property."""
    return max(1, math.ceil(budget / 4))
