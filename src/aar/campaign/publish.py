"""Publishing a task: its public bundle on disk for the sandboxes, its secrets on the hub.

    secret = secret_options("toy")        # fresh values of the options that rebuild the labels
    publish(client, "toy", {}, seeds=3, split_seed=0, bundle_dir=..., secret=secret)
    publish_sealed(client, "toy", {}, split_seed=0, seeds=[1001, 1002], secret=secret,
                   folder=layout.verify / "sealed", name="sealed-toy")

``aar hub publish-task`` and ``aar run`` both use this. The public bundle holds the task's
features, the labeled teacher set and the weak labels per seed; the test and pool labels and
the baselines (weak, ceiling, gold-only) go to the hub only. ``secret`` holds the values of
the task's secret options (``Task.secret_options``: the sealed set's seed, a generator's data
seed): the bundle never records them, and the caller keeps them to build the sealed bundles.

At its end a campaign publishes the **sealed task**: one bundle per verification seed (its
own labeled set, pool, teacher and ceiling; the test set is the sealed set no researcher saw),
registered on the hub as a sealed task (invisible to researchers) with each seed's baselines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aar.core.errors import ConfigError, DataError
from aar.hub.client import HubClient
from aar.hub.schemas import TaskCreate, TaskPublic


def load_secrets(path: Path, task: str) -> dict[str, int]:
    """The secret options in ``path``, a file ``aar hub publish-task`` wrote for ``task``;
    ``ConfigError`` naming what is wrong with it."""
    try:
        record = json.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read the secrets file {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"the secrets file {path} is not JSON: {err}") from None
    if not isinstance(record, dict) or record.get("task") != task:
        found = record.get("task") if isinstance(record, dict) else None
        raise ConfigError(f"the secrets file {path} is for task {found!r}, not {task!r}")
    secret = record.get("secret_options")
    expected = set(secret_options(task))
    if not isinstance(secret, dict) or set(secret) != expected:
        raise ConfigError(
            f"the secrets file {path} must hold {task}'s secret options "
            f"{sorted(expected)} under 'secret_options'"
        )
    return dict(secret)


def secret_options(task: str) -> dict[str, int]:
    """Fresh random values for ``task``'s secret options (the w2s stack is imported here)."""
    from aar.w2s.public import draw_secret_options

    return draw_secret_options(task)


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
    secret: Mapping[str, Any] | None = None,
) -> TaskPublic:
    """Build ``task``, save its public bundle to ``bundle_dir`` and register it as ``name``."""
    public, secrets = build(task, {**options, **(secret or {})}, seeds, split_seed)
    public.save(bundle_dir)
    return client.register_task(
        TaskCreate(
            name=name or task,
            description=f"{task} (split seed {split_seed}, {len(seeds)} seeds)",
            n_classes=public.n_classes,
            test_labels=secrets.test_labels.tolist(),
            pool_labels=secrets.pool_labels.tolist(),
            split_seed=split_seed,
            **_baselines(secrets),
        )
    )


def publish_sealed(
    client: HubClient,
    task: str,
    options: Mapping[str, Any],
    *,
    split_seed: int,
    seeds: Sequence[int],
    secret: Mapping[str, Any],
    folder: Path,
    name: str,
) -> dict[int, Path]:
    """Sealed bundles of ``seeds`` in ``folder/<seed>``, registered as the sealed task ``name``
    (once); returns each seed's bundle folder. Raises ``ConfigError`` when the task has no
    sealed set."""
    from aar.w2s.cache import ArtifactCache, default_cache_dir
    from aar.w2s.public import build_sealed_bundle

    cache = ArtifactCache(default_cache_dir())
    built = {
        seed: build_sealed_bundle(task, {**options, **secret}, split_seed, seed, cache)
        for seed in seeds
    }
    bundles = {seed: public.save(folder / str(seed)) for seed, (public, _) in built.items()}
    if name not in {t.name for t in client.tasks()}:
        n_classes = next(iter(built.values()))[0].n_classes
        client.register_task(_sealed_task(name, task, n_classes, [s for _, s in built.values()]))
    return bundles


def _sealed_task(name: str, task: str, n_classes: int, per_seed: list[Any]) -> TaskCreate:
    """One sealed task for every seed: the sealed labels are the same, the baselines not."""
    labels = per_seed[0].test_labels
    if any(not np.array_equal(s.test_labels, labels) for s in per_seed):
        raise DataError(f"{task}: the sealed set differs between verification seeds")
    merged: dict[str, dict[int, list[int]]] = {"weak": {}, "ceiling": {}, "gold_only": {}}
    for secrets in per_seed:
        for kind, runs in _baselines(secrets).items():
            merged[kind].update(runs)
    return TaskCreate(
        name=name,
        description=f"{task}: the sealed set, with baselines per verification seed",
        n_classes=n_classes,
        test_labels=labels.tolist(),
        sealed=True,
        **merged,
    )


def _baselines(secrets: Any) -> dict[str, dict[int, list[int]]]:
    return {
        "weak": {s: p.tolist() for s, p in secrets.weak.items()},
        "ceiling": {s: p.tolist() for s, p in secrets.ceiling.items()},
        "gold_only": {s: p.tolist() for s, p in secrets.gold_only.items()},
    }
