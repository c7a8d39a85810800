"""Re-running a snapshot's recipe in a clean sandbox, and judging what the re-runs show.

    runner = Rerunner(operator, sandbox="bwrap", work=layout.verify, python=env)
    recipe = runner.recipe_of("s_1234", folder)            # download, clean, read reproduce.json
    labels = runner.predict(recipe, folder, bundle, "geofacts", seed=1001)
    status, why = judge(claim, sealed, agreement, config.end)

A snapshot is re-runnable when its root holds ``reproduce.json`` (``aar.core.reproduce``).
Each re-run gets a fresh copy of the snapshot's files (without compiled Python, which
``archives.safe_extract`` never extracts: a shipped ``.pyc`` could run other code than the
source beside it; and without the output file, so a
shipped answer is never read as the run's), in a folder of its own beside the snapshot's
(``<folder>-runs/<name>-seed<seed>``): nothing one seed's run leaves, such as the labeled set
of another verification seed, reaches the next. Each re-run sees one bundle
mounted read-only, the same curated Python as the researchers' sandboxes (``python``: the
campaign's ``ResearchersConfig.sandbox_python()``, extra distributions included), no hub and
no network. The campaign scores what it writes (``aar.campaign.finish``).

A claim is **verified** when two checks hold: the recipe re-run on the original bundle
reproduces each submitted prediction vector the claim is made of, with its seed
(``agreement`` at least ``end.agreement``), and its PGR on the sealed set, with fresh
teachers and ceilings per verification seed, is within noise of the claim (no lower than the
claimed private PGR less twice their combined standard error, or ``end.tolerance`` where that
is larger).
"""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from aar.campaign.config import EndConfig
from aar.core.errors import DataError
from aar.core.pgr import Estimate
from aar.core.reproduce import RECIPE_FILE, Recipe, read_predictions
from aar.hub.client import HubClient
from aar.hub.schemas import Score
from aar.sandbox import Limits, Mount, PythonEnv, SandboxSpec, make_sandbox

RUN_SECONDS = 900.0
"""Wall time one seed's re-run may take."""


@dataclass(frozen=True)
class Rerunner:
    operator: HubClient
    sandbox: str
    work: Path
    allow_unsafe: bool = False
    python: PythonEnv | None = None
    """What Python the re-runs see (None: ``curated_env()``, without extra distributions)."""

    def recipe_of(self, snapshot_id: str, folder: Path) -> Recipe:
        """Download ``snapshot_id`` into ``folder`` (fresh) and read its recipe."""
        shutil.rmtree(folder, ignore_errors=True)
        self.operator.download_snapshot(snapshot_id, folder)  # source only: no bytecode
        path = folder / RECIPE_FILE
        if not path.is_file():
            raise DataError(f"snapshot {snapshot_id} has no {RECIPE_FILE} at its root")
        return Recipe.parse(path.read_text())

    def predict(
        self, recipe: Recipe, folder: Path, bundle: Path, name: str, seed: int
    ) -> list[int]:
        """Labels ``recipe`` writes for ``seed`` of the bundle (mounted at /data/``name``), run
        on a fresh copy of ``folder``; ``DataError`` saying why when the run fails or writes no
        valid labels."""
        out = f"rerun/{name}-seed{seed}.json"
        workspace = run_folder(folder, name, seed)
        shutil.rmtree(workspace, ignore_errors=True)
        shutil.copytree(folder, workspace, symlinks=True)
        (workspace / out).unlink(missing_ok=True)
        mount = Mount(bundle.resolve(), f"/data/{name}")
        spec = SandboxSpec(workspace=workspace.resolve(), readonly=(mount,), python=self.python,
                           limits=Limits(wall_seconds=RUN_SECONDS))  # fmt: skip
        with make_sandbox(self.sandbox, spec, allow_unsafe=self.allow_unsafe) as box:
            argv = recipe.argv(sys.executable, bundle=box.path_of(mount), seed=seed, out=out)
            result = box.exec(argv)
            if not result.ok:
                why = result.killed or f"exit code {result.exit_code}"
                tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
                raise DataError(f"{name} seed {seed}: {why}: {' '.join(tail)[:300]}")
            return read_predictions(box.read_file(out, max_bytes=50_000_000))

    def folder(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def run_folder(folder: Path, name: str, seed: int) -> Path:
    """Where the re-run of ``folder`` on bundle ``name`` with ``seed`` runs."""
    return folder.with_name(f"{folder.name}-runs") / f"{name}-seed{seed}"


def agreement(reproduced: list[int], submitted: list[int]) -> float:
    """The share of items on which a re-run agrees with the submitted vector (0 if the
    lengths differ: it did not answer the same items)."""
    if len(reproduced) != len(submitted) or not submitted:
        return 0.0
    return sum(a == b for a, b in zip(reproduced, submitted, strict=True)) / len(submitted)


def judge(
    claim: Score,
    sealed: Estimate | None,
    agreed: float | None,
    end: EndConfig,
    claim_noise: float = 0.0,
) -> tuple[str, str]:
    """(status, why): ``verified`` or ``not reproduced``; ``failed`` when nothing came back.

    The claim's standard error is its SE over seeds, but at least ``claim_noise`` / √n: the
    binomial noise of one scoring's private half (the hub's ``private_noise``), which a claim
    of one or two scorings would otherwise hide."""
    if sealed is None or agreed is None:
        return "failed", "the re-runs gave no result"
    if agreed < end.agreement:
        return "not reproduced", (
            f"the snapshot reproduces {agreed:.1%} of the submitted predictions "
            f"(at least {end.agreement:.0%} needed)"
        )
    claim_se = max(claim.se or 0.0, claim_noise / math.sqrt(max(claim.n, 1)))
    noise = 2 * math.sqrt(claim_se**2 + (sealed.se or 0.0) ** 2)
    slack = max(end.tolerance, noise)
    if sealed.mean < claim.mean - slack:
        return "not reproduced", (
            f"sealed PGR {sealed.mean:.3f} is below the claimed {claim.mean:.3f} by more "
            f"than {slack:.3f}"
        )
    return "verified", ""
