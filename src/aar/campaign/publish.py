"""Publishing a task: its public bundle on disk for the sandboxes, its secrets on the hub.

    publish(client, "geofacts", {}, seeds=3, split_seed=0, bundle_dir=layout.bundle("geofacts"))

``aar hub publish-task`` and ``aar run`` both use this. The public bundle holds the task's
features, the labeled teacher set and the weak labels per seed; the test and pool labels and
the baselines go to the hub only. A campaign also publishes, at its end, the held-out tasks
(under another name, when no researcher is running any more) and bundles of fresh seeds for
verification, which are never registered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aar.hub.client import HubClient
from aar.hub.schemas import TaskCreate, TaskPublic


def build(
    task: str, options: Mapping[str, Any], seeds: Sequence[int], split_seed: int
) -> tuple[Any, Any]:
    """The public bundle and the secrets of ``task`` (the w2s stack is imported only here)."""
    from aar.w2s.cache import ArtifactCache, default_cache_dir
    from aar.w2s.public import build_bundle

    return build_bundle(task, options, seeds, ArtifactCache(default_cache_dir()), split_seed)


def publish(
    client: HubClient,
    task: str,
    options: Mapping[str, Any],
    *,
    seeds: Sequence[int],
    split_seed: int,
    bundle_dir: Path,
    name: str | None = None,
) -> TaskPublic:
    """Build ``task``, save its public bundle to ``bundle_dir`` and register it as ``name``."""
    public, secrets = build(task, options, seeds, split_seed)
    public.save(bundle_dir)
    return client.register_task(
        TaskCreate(
            name=name or task,
            description=f"{task} (split seed {split_seed}, {len(seeds)} seeds)",
            n_classes=public.n_classes,
            test_labels=secrets.test_labels.tolist(),
            pool_labels=secrets.pool_labels.tolist(),
            split_seed=split_seed,
            weak={s: p.tolist() for s, p in secrets.weak.items()},
            ceiling={s: p.tolist() for s, p in secrets.ceiling.items()},
        )
    )


def fresh_bundle(
    task: str, options: Mapping[str, Any], seeds: Sequence[int], split_seed: int, folder: Path
) -> Path:
    """A bundle of the same split with weak labels for ``seeds`` no researcher saw."""
    public, _ = build(task, options, seeds, split_seed)
    public.save(folder)
    return folder
