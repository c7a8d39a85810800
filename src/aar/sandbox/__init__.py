"""Where researcher code runs: isolated workspaces with resource limits.

    from aar.sandbox import Limits, SandboxSpec, make_sandbox

    spec = SandboxSpec(workspace=folder, hub_socket=sock, env={"AAR_TOKEN": token})
    with make_sandbox("bwrap", spec) as box:
        result = box.exec("python experiment.py", timeout=600)

Backends: ``bwrap`` (bubblewrap on this machine, the default) and ``process`` (no isolation,
development only). Each backend's docstring says what it protects against and what not.
``SandboxSpec.python`` says what Python an isolated sandbox sees: by default
``curated_env()``, what a method needs and no oracle (``aar.sandbox.pyenv``).
"""

from aar.sandbox.base import (
    ExecResult,
    FileInfo,
    Limits,
    Mount,
    Sandbox,
    SandboxError,
    SandboxPathError,
    SandboxSpec,
    SandboxUnavailableError,
    UnsafeSandboxError,
)
from aar.sandbox.bwrap import BwrapSandbox
from aar.sandbox.process import ProcessSandbox
from aar.sandbox.pyenv import PythonEnv, curated_env
from aar.sandbox.registry import SANDBOXES, make_sandbox

__all__ = [
    "SANDBOXES",
    "BwrapSandbox",
    "ExecResult",
    "FileInfo",
    "Limits",
    "Mount",
    "ProcessSandbox",
    "PythonEnv",
    "Sandbox",
    "SandboxError",
    "SandboxPathError",
    "SandboxSpec",
    "SandboxUnavailableError",
    "UnsafeSandboxError",
    "curated_env",
    "make_sandbox",
]
