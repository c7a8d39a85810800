"""Helpers for campaign tests: ``aar run`` as a child process on a small toy task, and a look
at a campaign's hub afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aar.campaign.run import Campaign
from aar.campaign.state import CampaignState
from aar.hub.client import HubClient
from tests.sandboxkit import _bwrap_problem

SMALL_TOY = ["--task", "toy", "--task-option", "n_examples=2000", "--task-option", "n_labeled=100",
             "--task-option", "n_test=500"]  # fmt: skip


def sandbox_flags() -> list[str]:
    """bwrap where it works (and always in CI); the unsafe process backend elsewhere."""
    if _bwrap_problem() is None or os.environ.get("AAR_REQUIRE_BWRAP"):
        return ["--sandbox", "bwrap"]
    return ["--sandbox", "process", "--allow-unsafe"]


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "aar", "run", "--no-live", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 600) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def state(folder: Path) -> CampaignState:
    return CampaignState.load_or_new(folder / "state.json")


def wait_for(check: object, timeout: float = 120.0, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {check}")


@contextmanager
def campaign_hub(folder: Path) -> Iterator[HubClient]:
    """The finished campaign's hub, started again to look at what it stored."""
    with Campaign.resume(folder).hub() as hub:
        yield hub.operator


ACKNOWLEDGED = {
    "submit_predictions": re.compile(r"scoring #(\d+)"),
    "forum_post": re.compile(r"posted #(\w+)"),
    "share_snapshot": re.compile(r"snapshot (s_\w+)"),
}


def acknowledged(folder: Path) -> dict[str, set[str]]:
    """Every scoring, post and snapshot the hub acknowledged to a researcher (transcripts)."""
    found: dict[str, set[str]] = {name: set() for name in ACKNOWLEDGED}
    for transcript in (folder / "transcripts").glob("*.jsonl"):
        for line in transcript.read_text().splitlines():
            try:
                step = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            pattern = ACKNOWLEDGED.get(step.get("name", ""))
            if step.get("kind") != "tool" or not pattern or step.get("is_error"):
                continue
            if match := pattern.search(str(step.get("result", ""))):
                found[step["name"]].add(match.group(1))
    return found
