"""poolconf: the conformance suite and golden vectors for pooling layers.

``poolconf.reference`` is the oracle, ``poolconf.vectors`` the golden data,
``poolconf.conformance`` the harness and ``poolconf.tools`` the command line.
The normative text is ``spec/pooling.md`` (shipped as ``poolconf.spec``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["SpecError", "Unsupported", "__version__"]


class SpecError(ValueError):
    """An argument violates the spec.

    The message names the argument, its value and the clause id, e.g.
    ``stride[1]=0 must be >= 1 [POOL-PARAM-2]``. ``clause`` holds the id.
    """

    def __init__(self, message: str, clause: str) -> None:
        super().__init__(f"{message} [{clause}]")
        self.clause = clause


class Unsupported(Exception):
    """A backend does not implement this operation or parameter combination.

    The harness turns it into a skip that carries ``reason``; it is never a pass.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
