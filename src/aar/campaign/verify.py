"""Re-running results from their snapshots in clean sandboxes: verification and held-out tasks.

    runner = Rerunner(operator, sandbox="bwrap", work=layout.verify)
    outcome = runner.run(recipe_source="snap-id", task="geofacts", bundle=fresh, seeds=[1001])

A snapshot is re-runnable when its root holds ``reproduce.json`` (``aar.core.reproduce``).
The campaign extracts it into a fresh folder, mounts the bundle read-only, runs the recipe
once per seed with no hub and no network, and has the hub score the predictions (the
operator's ``evaluate``: exact, not stored). ``judge`` then says whether a result holds up
on seeds no researcher saw.
"""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aar.core.errors import AarError, DataError
from aar.core.pgr import Estimate, estimate
from aar.core.reproduce import RECIPE_FILE, Recipe, read_predictions
from aar.hub.client import HubClient
from aar.hub.schemas import Score
from aar.sandbox import Limits, Mount, SandboxSpec, make_sandbox

RUN_SECONDS = 900.0
"""Wall time one seed's re-run may take."""


@dataclass
class Outcome:
    """The private PGR of each seed a recipe was re-run on, or why it could not be."""

    pgr: dict[int, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def score(self) -> Estimate | None:
        values = [v for v in self.pgr.values() if not math.isnan(v)]
        return estimate(values) if values else None


@dataclass(frozen=True)
class Rerunner:
    operator: HubClient
    sandbox: str
    work: Path
    allow_unsafe: bool = False

    def recipe_of(self, snapshot_id: str, folder: Path) -> Recipe:
        """Download ``snapshot_id`` into ``folder`` (fresh) and read its recipe."""
        shutil.rmtree(folder, ignore_errors=True)
        self.operator.download_snapshot(snapshot_id, folder)
        path = folder / RECIPE_FILE
        if not path.is_file():
            raise DataError(f"snapshot {snapshot_id} has no {RECIPE_FILE} at its root")
        return Recipe.parse(path.read_text())

    def run(
        self, recipe: Recipe, folder: Path, task: str, bundle: Path, seeds: list[int]
    ) -> Outcome:
        """Run ``recipe`` in ``folder`` on each seed and score it on the hub's ``task``."""
        outcome = Outcome()
        mount = Mount(bundle.resolve(), f"/data/{task}")
        spec = SandboxSpec(workspace=folder.resolve(), readonly=(mount,),
                           limits=Limits(wall_seconds=RUN_SECONDS))  # fmt: skip
        try:
            with make_sandbox(self.sandbox, spec, allow_unsafe=self.allow_unsafe) as box:
                for seed in seeds:
                    out = f"rerun/{task}-seed{seed}.json"
                    argv = recipe.argv(
                        sys.executable, bundle=box.path_of(mount), seed=seed, out=out
                    )
                    result = box.exec(argv)
                    if not result.ok:
                        why = result.killed or f"exit code {result.exit_code}"
                        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
                        raise DataError(f"seed {seed}: {why}: {' '.join(tail)[:300]}")
                    labels = read_predictions(box.read_file(out, max_bytes=50_000_000))
                    outcome.pgr[seed] = self.operator.evaluate(task, labels).private_pgr
        except AarError as err:
            outcome.error = str(err)
        return outcome

    def folder(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def judge(original: Score, fresh: Estimate | None, tolerance: float) -> str:
    """``verified`` when the fresh seeds' mean is within noise (or ``tolerance``) of the claim."""
    if fresh is None:
        return "failed"
    noise = 2 * math.sqrt((original.se or 0.0) ** 2 + (fresh.se or 0.0) ** 2)
    return "verified" if fresh.mean >= original.mean - max(tolerance, noise) else "not reproduced"
