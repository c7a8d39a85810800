"""Test helpers for the hub: a running app on a temporary folder, identities, a toy task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from aar.hub.app import create_app
from aar.hub.client import HubClient
from aar.hub.schemas import TaskCreate
from aar.hub.scoring import public_split
from aar.hub.settings import HubSettings


@dataclass
class Hub:
    app: Any
    settings: HubSettings
    operator_token: str

    def anonymous(self) -> TestClient:
        return TestClient(self.app)

    def as_token(self, token: str) -> HubClient:
        return HubClient("http://testserver", token, http=TestClient(self.app), retries=0)

    @property
    def operator(self) -> HubClient:
        return self.as_token(self.operator_token)

    def researcher(self, name: str, **budget: int) -> HubClient:
        return self.as_token(self.operator.create_researcher(name, **budget).token)


@contextmanager
def running_hub(folder: Path, **settings: Any) -> Iterator[Hub]:
    hub_settings = HubSettings(dir=folder, **settings)
    app = create_app(hub_settings)
    with TestClient(app):
        token = (folder / "operator.token").read_text().strip()
        yield Hub(app, hub_settings, token)


def noisy(labels: np.ndarray, error_rate: float, seed: int) -> list[int]:
    """``labels`` with a seeded ``error_rate`` of them flipped (binary)."""
    flip = np.random.default_rng(seed).random(len(labels)) < error_rate
    return [int(v) for v in np.where(flip, 1 - labels, labels)]


def toy_task(name: str = "toy", n_test: int = 400, seed: int = 0) -> tuple[TaskCreate, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_test)
    task = TaskCreate(
        name=name,
        description="a synthetic task for tests",
        test_labels=[int(v) for v in labels],
        pool_labels=[int(v) for v in rng.integers(0, 2, 3 * n_test)],
        split_seed=seed,
        weak={s: noisy(labels, 0.30, 100 + s) for s in range(3)},
        ceiling={s: noisy(labels, 0.10, 200 + s) for s in range(3)},
    )
    return task, labels


def with_errors(
    labels: np.ndarray, public_errors: int, private_errors: int, seed: int, split_seed: int = 0
) -> list[int]:
    """``labels`` with exactly this many wrong predictions on each half of the hub's split."""
    public = public_split(labels, 0.5, split_seed)
    rng = np.random.default_rng(seed)
    wrong = np.zeros(len(labels), dtype=bool)
    for half, count in ((public, public_errors), (~public, private_errors)):
        wrong[rng.choice(np.flatnonzero(half), count, replace=False)] = True
    return [int(v) for v in np.where(wrong, 1 - labels, labels)]
