"""Test helpers for researchers: a hub with a published toy task, a researcher's tool context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aar.hub.client import HubClient
from aar.hub.schemas import TaskCreate
from aar.researchers.tools import Toolbox, ToolContext, default_tools
from aar.sandbox.base import Mount, SandboxSpec
from aar.sandbox.registry import make_sandbox
from aar.w2s.cache import ArtifactCache
from aar.w2s.public import TaskSecrets, build_bundle
from tests.hubkit import Hub, running_hub

SMALL_TOY = {"n_examples": 2000, "n_labeled": 100, "n_test": 500}


def publish(hub: HubClient, folder: Path, name: str = "toy") -> tuple[Path, TaskSecrets]:
    """Build the small toy task's bundle in ``folder`` and register it on the hub."""
    bundle, secrets = build_bundle("toy", SMALL_TOY, (0, 1, 2), ArtifactCache(folder / "cache"))
    bundle.save(folder / "bundle")
    hub.register_task(
        TaskCreate(
            name=name,
            test_labels=secrets.test_labels.tolist(),
            pool_labels=secrets.pool_labels.tolist(),
            weak={s: p.tolist() for s, p in secrets.weak.items()},
            ceiling={s: p.tolist() for s, p in secrets.ceiling.items()},
        )
    )
    return folder / "bundle", secrets


@dataclass
class Lab:
    hub: Hub
    bundle: Path
    secrets: TaskSecrets
    folder: Path

    def toolbox(self, name: str, backend: str = "process") -> Toolbox:
        """A researcher ``name`` with tools over a sandbox: ``process`` (development, fast) or
        ``bwrap`` (the bundle read-only at /data/toy)."""
        client = self.hub.researcher(name)
        workspace = self.folder / "workspaces" / name
        workspace.mkdir(parents=True)
        if backend == "bwrap":
            spec = SandboxSpec(workspace=workspace, readonly=(Mount(self.bundle, "/data/toy"),))
            bundle = "/data/toy"
        else:
            spec, bundle = SandboxSpec(workspace=workspace), str(self.bundle)
        sandbox = make_sandbox(backend, spec, allow_unsafe=backend == "process")
        context = ToolContext(
            sandbox=sandbox, hub=client, task="toy", bundle=bundle, researcher=name
        )
        return Toolbox(context, default_tools())


@contextmanager
def lab(folder: Path, **settings: object) -> Iterator[Lab]:
    with running_hub(folder / "hub", **settings) as hub:
        bundle, secrets = publish(hub.operator, folder)
        yield Lab(hub, bundle, secrets, folder)
