"""The vector flag registry: every flag a vector file may carry, in one place.

A flag names why a test is special. Implementation-defined flags (those with a
``declaration``) mark behaviour the spec leaves open; the generator detects
them and turns a ``valid`` case into ``acceptable``. The harness judges such a
case by the backend's declaration of that key (``conformance/backend.py``).
Descriptive flags only label a case; a case declares them itself.
Every flag used in a file is described in that file's ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    """A vector flag: what it means, the spec clause behind it, and the backend
    declaration key that decides it (None for a descriptive flag)."""

    name: str
    description: str
    clause: str
    declaration: str | None = None


_FLAGS = (
    # implementation-defined: detected by the generator, make a case "acceptable"
    Flag(
        "Tie",
        "A max window's maximum occurs more than once (-0.0 and +0.0 included) and the result "
        "depends on which is chosen: the index, the gradient routing or the sign of a zero. The "
        "reference chooses the first in row-major window order; expected.grad_input_all holds "
        "the 'all' policy.",
        "POOL-MAX-4",
        "tie_policy",
    ),
    Flag(
        "EmptyWindow",
        "A window lies entirely in the padding (no in-bounds tap). The reference returns -inf "
        "(integer: the dtype minimum) with index -1 for max, NaN for an average without "
        "count_include_pad, 0 for Lp; many libraries reject such padding instead.",
        "POOL-EMPTY-1",
        "empty_window",
    ),
    Flag(
        "NanIndex",
        "A max window holds two or more NaNs and the case reports indices or a gradient: the "
        "reference selects the first NaN in window order; which one is selected is left open.",
        "POOL-MAX-7",
        "nan_index",
    ),
    Flag(
        "LpZeroNorm",
        "An Lp gradient over a window whose norm is zero or whose values are not all finite: the "
        "derivative is undefined there; the reference's value is one choice.",
        "POOL-GRAD-8",
        "lp_zero_grad",
    ),
    # descriptive: declared by cases
    Flag("NegativeZero", "The input mixes -0.0 and +0.0.", "POOL-MAX-5"),
    Flag("SpecialValues", "The input holds NaN or infinities.", "POOL-AVG-6"),
    Flag("Subnormal", "The input or the result holds subnormal numbers.", "POOL-DTYPE-3"),
    Flag(
        "Float16Accumulation",
        "A float16 sum whose naive float16 accumulation stalls (e.g. at 2048); the spec requires "
        "accumulation in at least float32.",
        "POOL-DTYPE-4",
    ),
    Flag(
        "CeilModeLastWindow",
        "Ceil mode where the last window would start in the end padding and is dropped.",
        "POOL-GEOM-4",
    ),
    Flag(
        "CeilModeOverhang",
        "A ceil-mode window overhangs the explicit end padding; the overhang never counts in an "
        "average's divisor.",
        "POOL-AVG-3",
    ),
    Flag("KernelEqualsInput", "The window covers the whole input.", "POOL-GEOM-2"),
    Flag("UnevenAdaptive", "Adaptive windows of unequal size that overlap.", "POOL-ADAPT-1"),
    Flag(
        "LargeValues", "Values near the dtype's maximum; the exact result is finite.", "POOL-AVG-1"
    ),
)

FLAGS: dict[str, Flag] = {f.name: f for f in _FLAGS}
# the flags whose presence makes a valid case "acceptable", in registry order
IMPLEMENTATION_DEFINED: tuple[str, ...] = tuple(f.name for f in _FLAGS if f.declaration)


def note(name: str) -> dict[str, str]:
    """The ``notes`` entry of a flag in a vector file."""
    f = FLAGS[name]
    return {"description": f.description, "clause": f.clause}
