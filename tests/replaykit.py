"""The hack-replay suite's kit: a toy task published the way a campaign publishes it, scripted
researchers with their real tools over bwrap sandboxes, an honest method, and the answers a
simulated cheat is handed.

    secrets = publish_toy(hub.operator, layout.bundle("toy"), SECRET)   # labels for the cheats
    with sandboxed(hub, "mallory", workspace, {"/data/toy": bundle}) as mallory:
        mallory.call("write_file", path="honest.py", content=HONEST_METHOD)
        mallory.call("submit_predictions", path="runs/x.json", method="m")

A test that needs the answers (what a cheat would have got by some means the platform must
defeat anyway) takes them from ``secrets``, never from the hub.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aar.campaign.publish import build, publish
from aar.hub.client import HubClient
from aar.hub.scoring import public_split
from aar.researchers.providers.base import ToolCall
from aar.researchers.tools import Toolbox, ToolContext, default_tools
from aar.researchers.tools.base import ToolOutcome
from aar.sandbox import Mount, SandboxSpec, make_sandbox
from aar.w2s.public import TaskSecrets
from tests.hubkit import Hub
from tests.researchkit import SMALL_TOY

SECRET = {"data_seed": 3_141_592_653, "sealed_seed": 2_718_281_828}
"""Secret option values pinned for tests whose verdicts must not depend on a random draw (a
campaign draws them with ``secret_options``); no researcher's code is ever given them."""

HONEST_METHOD = '''"""An honest method: a linear student on the teacher's soft labels (numpy)."""
import json
import os
import sys

import numpy as np


def predict(bundle, seed):
    arrays = np.load(os.path.join(bundle, "arrays.npz"))
    with open(os.path.join(bundle, "bundle.json")) as file:
        seeds = json.load(file)["seeds"]
    weak = arrays[f"pool_weak_{seed if seed in seeds else seeds[0]}"][:, 1]
    pool, test = arrays["pool_x"], arrays["test_x"]
    mean, std = pool.mean(0), pool.std(0) + 1e-6
    pool, test = (pool - mean) / std, (test - mean) / std
    w, b = np.zeros(pool.shape[1]), 0.0
    for _ in range(300):
        gradient = 1 / (1 + np.exp(-(pool @ w + b))) - weak
        w -= 0.5 * (pool.T @ gradient / len(pool) + 1e-3 * w)
        b -= 0.5 * gradient.mean()
    return [int(v) for v in test @ w + b > 0]


def write(labels, out):
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as file:
        json.dump(labels, file)


if __name__ == "__main__":
    write(predict(sys.argv[1], int(sys.argv[2])), sys.argv[3])
'''
HONEST_RECIPE = {"command": ["python", "honest.py", "{bundle}", "{seed}", "{out}"]}


def publish_toy(
    operator: HubClient,
    bundle_dir: Path,
    secret: Mapping[str, int],
    name: str = "toy",
    seeds: tuple[int, ...] = (0,),
) -> TaskSecrets:
    """Publish the small toy task as a campaign does (its secret options kept out of the
    bundle) and return what only the hub holds: the labels the tests' cheats are handed."""
    publish(operator, "toy", SMALL_TOY, seeds=seeds, split_seed=0, bundle_dir=bundle_dir,
            name=name, secret=secret)  # fmt: skip
    _, secrets = build("toy", {**SMALL_TOY, **secret}, seeds, 0)
    return secrets


@dataclass
class Researcher:
    """A scripted researcher: its token's hub client and its real tools over a sandbox."""

    name: str
    hub: HubClient
    tools: Toolbox
    workspace: Path

    def attempt(self, tool: str, **arguments: Any) -> ToolOutcome:
        """One tool call, as a model would make it; errors come back as outcomes."""
        return self.tools.call(ToolCall(uuid.uuid4().hex, tool, arguments, json.dumps(arguments)))

    def call(self, tool: str, **arguments: Any) -> str:
        """One tool call that must succeed; its result."""
        outcome = self.attempt(tool, **arguments)
        assert not outcome.is_error, f"{self.name}: {tool} failed: {outcome.content}"
        return outcome.content

    def python(self, code: str) -> str:
        """Run ``code`` with the python tool; its stdout (the run must succeed)."""
        content = self.call("python", code=code)
        assert content.startswith("exit code 0 "), content
        _, _, stdout = content.partition("stdout:\n")
        return stdout.split("\nstderr:\n")[0]

    def write(self, files: Mapping[str, str | dict[str, Any] | list[int]]) -> None:
        """Write each file with the write_file tool (JSON for what is not text)."""
        for path, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content)
            self.call("write_file", path=path, content=text)

    def share(self, note: str = "") -> str:
        """Share the workspace as a snapshot; its id."""
        return self.call("share_snapshot", note=note).split()[1]

    def submit(self, vector: list[int], method: str, **fields: Any) -> int:
        """Write ``vector`` to a file and submit it with the tool; the scoring's id."""
        path = f"submitted/{method}-{uuid.uuid4().hex[:8]}.json"
        self.write({path: vector})
        answer = self.call("submit_predictions", path=path, method=method, **fields)
        return int(answer.split()[1].strip("#:"))


@contextmanager
def sandboxed(
    hub: Hub,
    name: str,
    workspace: Path,
    bundles: Mapping[str, Path],
    task: str = "toy",
    **spec: Any,
) -> Iterator[Researcher]:
    """Researcher ``name`` (a new account) with tools over a bwrap sandbox that sees each
    bundle read-only at its path (``{"/data/toy": folder}``); the first is the task's."""
    client = hub.researcher(name)
    workspace.mkdir(parents=True, exist_ok=True)
    mounts = tuple(Mount(folder.resolve(), inside) for inside, folder in bundles.items())
    sandbox_spec = SandboxSpec(workspace=workspace.resolve(), readonly=mounts, **spec)
    with make_sandbox("bwrap", sandbox_spec) as box:
        context = ToolContext(sandbox=box, hub=client, task=task, bundle=mounts[0].target,
                              researcher=name)  # fmt: skip
        yield Researcher(name, client, Toolbox(context, default_tools()), workspace)


def as_ceiling(secrets: TaskSecrets) -> list[int]:
    """A looked-up answer vector made to look like a strong honest result: the true labels,
    wrong wherever the ceiling (seed 0) is wrong. Its PGR is exactly 1 on both halves, so no
    flag fires on the score alone."""
    return [int(v) for v in secrets.ceiling[0]]


def corrected(vector: list[int], labels: np.ndarray, count: int, seed: int = 0) -> list[int]:
    """``vector`` with ``count`` of its wrong predictions made right, half on each of the
    hub's halves (so its public and private PGR rise together and no gap flag fires)."""
    found = np.array(vector)
    public = public_split(labels, 0.5, 0)
    rng = np.random.default_rng(seed)
    for half, share in ((public, count // 2), (~public, count - count // 2)):
        wrong = np.flatnonzero((found != labels) & half)
        chosen = rng.choice(wrong, share, replace=False)
        found[chosen] = labels[chosen]
    return [int(v) for v in found]
