"""The sandbox backends by name, and the one way to build a sandbox from a name.

    box = make_sandbox("bwrap", spec)                        # isolated
    box = make_sandbox("process", spec, allow_unsafe=True)   # development only, not isolated
    SANDBOXES.names()                                        # ["bwrap", "process"]

Backends register themselves with ``@SANDBOXES.register(name)`` when ``aar.sandbox`` is
imported.
"""

from __future__ import annotations

from aar.core.registry import Registry
from aar.sandbox.base import Sandbox, SandboxSpec, UnsafeSandboxError

SANDBOXES: Registry[type[Sandbox]] = Registry("sandbox backend")


def make_sandbox(name: str, spec: SandboxSpec, *, allow_unsafe: bool = False) -> Sandbox:
    """A new, not yet started sandbox of backend ``name``.

    Raises ``UnknownNameError`` for an unknown name (it lists the valid ones) and
    ``UnsafeSandboxError`` for a backend without isolation unless ``allow_unsafe``.
    """
    backend = SANDBOXES.get(name)
    if not backend.isolated and not allow_unsafe:
        raise UnsafeSandboxError(
            f"sandbox backend {name!r} does not isolate researcher code; "
            "pass allow_unsafe=True to use it anyway (development only)"
        )
    return backend(spec, allow_unsafe=allow_unsafe)
