"""Loading a backend and calling it the way spec/backend-api.md describes.

A backend is a module or object exposing any subset of the reference's function
names with the same keyword arguments, taking and returning NumPy arrays. A
missing function means the op is unsupported; ``poolconf.Unsupported`` raised by
a call means that parameter combination is unsupported. Both become skips with
a reason, never passes.

``DECLARATIONS`` (optional, a dict attribute of the backend) states what the
backend does where the spec leaves a behaviour open; see ``DEFAULT_DECLARATIONS``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from poolconf import Unsupported
from poolconf.reference.catalog import ALL_OPS
from poolconf.reference.flags import ALLOWED_DECLARATIONS, DEFAULT_DECLARATIONS

ENTRY_POINT_GROUP = "poolconf.backends"


class BackendLoadError(Exception):
    """The backend named on the command line cannot be found or is malformed."""


@dataclass
class Backend:
    """A loaded backend: its name, the object holding its functions, and its declarations."""

    name: str
    impl: Any
    declarations: dict[str, str] = field(default_factory=dict)
    device: str | None = None

    def supports(self, op: str) -> bool:
        return callable(getattr(self.impl, op, None))

    def function(self, op: str) -> Any:
        fn = getattr(self.impl, op, None)
        if not callable(fn):
            raise Unsupported(f"backend {self.name!r} has no {op}()")
        return fn

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``op``; raises ``Unsupported`` when the backend lacks it."""
        return self.function(op)(*args, **kwargs)

    @property
    def ops(self) -> list[str]:
        return [op for op in ALL_OPS if self.supports(op)]


def _declarations(impl: Any, name: str) -> dict[str, str]:
    declared = getattr(impl, "DECLARATIONS", None) or {}
    if not isinstance(declared, Mapping):
        raise BackendLoadError(
            f"backend {name!r}: DECLARATIONS must be a dict, got {type(declared).__name__}"
        )
    result = dict(DEFAULT_DECLARATIONS)
    for key, value in declared.items():
        if key not in ALLOWED_DECLARATIONS:
            raise BackendLoadError(
                f"backend {name!r}: unknown declaration {key!r}; known: {sorted(ALLOWED_DECLARATIONS)}"
            )
        if value not in ALLOWED_DECLARATIONS[key]:
            raise BackendLoadError(
                f"backend {name!r}: DECLARATIONS[{key!r}]={value!r} is not one of "
                f"{list(ALLOWED_DECLARATIONS[key])}"
            )
        result[key] = value
    return result


def registered_backends() -> dict[str, str]:
    """Registered backend names -> ``module[:attribute]`` (entry point group ``poolconf.backends``)."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_backend(spec: str) -> Backend:
    """Load ``spec``: a registered name, a module path, or ``module:attribute``.

    A registered name may carry a device suffix, ``torch:cuda``, passed to the
    backend's ``configure(device=...)`` if it has one."""
    name, device = spec, None
    registered = registered_backends()
    if ":" in spec and spec.split(":", 1)[0] in registered:
        name, device = spec.split(":", 1)
    target = registered.get(name, name)
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        known = ", ".join(sorted(registered)) or "none"
        raise BackendLoadError(
            f"cannot import backend {spec!r} ({module_name}): {exc}. Registered backends: {known}"
        ) from exc
    impl: Any = module
    if attr:
        try:
            impl = getattr(module, attr)
        except AttributeError as exc:
            raise BackendLoadError(
                f"backend {spec!r}: module {module_name} has no attribute {attr!r}"
            ) from exc
        if inspect.isclass(impl):
            impl = impl()
    if device is not None:
        configure = getattr(impl, "configure", None)
        if not callable(configure):
            raise BackendLoadError(f"backend {name!r} takes no device, got {device!r}")
        configure(device=device)
    if not any(callable(getattr(impl, op, None)) for op in ALL_OPS):
        raise BackendLoadError(f"backend {spec!r} exposes none of the ops {list(ALL_OPS)}")
    return Backend(spec, impl, _declarations(impl, spec), device)
