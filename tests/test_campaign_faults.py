"""Crashes and interruptions: researchers and the campaign itself killed at random points.

Whatever the hub acknowledged to a researcher (a scoring, a post, a snapshot: the transcripts
record every answer) must still be there at the end, every account's budget must hold, and
``aar run --resume`` must bring the campaign to its report. The SIGKILL test is marked slow
(``pytest -m slow``, which CI runs); the Ctrl-C test runs by default.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from aar.campaign.state import CampaignState
from tests.campaignkit import (
    SMALL_TOY,
    acknowledged,
    campaign_hub,
    finish,
    sandbox_flags,
    start,
    state,
    wait_for,
)


def scored(folder: Path, name: str) -> bool:
    transcript = folder / "transcripts" / f"{name}.jsonl"
    return transcript.exists() and "scoring #" in transcript.read_text()


def running_pid(folder: Path, name: str) -> int | None:
    researcher = state(folder).researchers.get(name)
    return researcher.pid if researcher and researcher.status == "running" else None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def check_nothing_acknowledged_was_lost(folder: Path) -> None:
    told = acknowledged(folder)
    assert told["submit_predictions"], "no researcher got a scoring: the test checked nothing"
    with campaign_hub(folder) as operator:
        scorings = {str(s.id) for s in operator.scorings()}
        posts = {p["id"] for p in operator.list_posts(limit=1000)}
        snapshots = {s.id for s in operator.snapshots(limit=1000)}
        accounts = operator.accounts()
        per_researcher = {a.name: a.budget for a in accounts}
    assert told["submit_predictions"] <= scorings
    assert told["forum_post"] <= posts
    assert told["share_snapshot"] <= snapshots
    for budget in per_researcher.values():
        assert budget.used_total <= budget.total


@pytest.mark.slow  # about two minutes; CI runs it with -m slow
def test_killed_researchers_restart_and_a_killed_campaign_resumes(tmp_path: Path) -> None:
    rng = random.Random(5)
    folder = tmp_path / "c"
    flags = ["--researchers", "2", "--budget-minutes", "1.2", "--max-restarts", "3",
             "--researcher-submissions", "6", "--verify-top-k", "1", "--heldout-task", "toy",
             *sandbox_flags()]  # fmt: skip
    campaign = start("--dir", str(folder), *SMALL_TOY, *flags)
    wait_for(lambda: scored(folder, "r01") and running_pid(folder, "r01"), timeout=180)
    time.sleep(rng.uniform(0, 3))
    victim = running_pid(folder, "r01")
    assert victim is not None
    os.killpg(victim, signal.SIGKILL)  # a researcher crashes mid-work
    wait_for(lambda: state(folder).researchers["r01"].restarts >= 1, timeout=60)
    time.sleep(rng.uniform(1, 8))
    leftovers = [r.pid for r in state(folder).researchers.values() if r.pid]
    campaign.kill()  # the campaign itself dies, leaving its hub and researchers behind
    campaign.wait(timeout=30)
    resumed = start("--resume", str(folder))
    output = finish(resumed)
    assert "report: " in output
    assert not any(alive(pid) for pid in leftovers)
    final = CampaignState.load_or_new(folder / "state.json")
    assert final.status == "finished"
    assert any(i.kind == "restart" and i.researcher == "r01" for i in final.incidents)
    assert final.research_seconds < 1.2 * 60 + 30  # the wall budget held across the kill
    check_nothing_acknowledged_was_lost(folder)


@pytest.mark.slow  # about 70-100 s: a campaign started, interrupted and resumed
def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_campaign(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    flags = ["--researchers", "1", "--budget-minutes", "0.6", "--verify-top-k", "1",
             "--heldout-task", "toy", *sandbox_flags()]  # fmt: skip
    campaign = start("--dir", str(folder), *SMALL_TOY, *flags)
    wait_for(lambda: scored(folder, "r01"), timeout=180)
    hub_pid = int((folder / "hub" / "hub.pid").read_text())
    researcher_pid = running_pid(folder, "r01")
    campaign.send_signal(signal.SIGINT)
    output, _ = campaign.communicate(timeout=60)
    assert campaign.returncode == 130, output
    assert f"continue it with aar run --resume {folder}" in output
    stopped = state(folder)
    assert stopped.status == "stopped"
    assert not alive(hub_pid)
    assert researcher_pid is None or not alive(researcher_pid)
    finish(start("--resume", str(folder)))
    assert state(folder).status == "finished"
    check_nothing_acknowledged_was_lost(folder)


@pytest.mark.slow  # about 20 s each; CI runs it with -m slow
def test_a_fleet_submission_budget_ends_the_research_and_closes_the_hub(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    flags = ["--researchers", "2", "--budget-minutes", "2", "--fleet-submissions", "2",
             "--verify-top-k", "0", *sandbox_flags()]  # fmt: skip
    finish(start("--dir", str(folder), *SMALL_TOY, *flags))
    final = state(folder)
    assert any(i.detail == "fleet submission budget" for i in final.incidents)
    assert final.research_seconds < 100
    with campaign_hub(folder) as operator:
        accounts = [a for a in operator.accounts() if a.role == "researcher"]
        scorings = operator.scorings()
    assert 2 <= len(scorings) <= 2 + len(accounts)  # at most one in flight per researcher
    assert all(a.budget.total == max(a.budget.used_total, 1) for a in accounts)


@pytest.mark.slow  # about 20 s each; CI runs it with -m slow
def test_gpu_hours_are_wall_hours_times_gpus_and_stop_researchers(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    flags = ["--researchers", "2", "--budget-minutes", "2", "--gpus-per-researcher", "2",
             "--researcher-gpu-hours", "0.005", "--verify-top-k", "0",
             *sandbox_flags()]  # fmt: skip
    finish(start("--dir", str(folder), *SMALL_TOY, *flags))
    final = state(folder)
    reasons = {r.name: r.reason for r in final.researchers.values()}
    assert reasons == dict.fromkeys(["r01", "r02"], "GPU-hour budget reached")
    for researcher in final.researchers.values():
        assert 0.005 * 3600 / 2 <= researcher.seconds < 0.005 * 3600 / 2 + 15


def test_a_researcher_that_keeps_crashing_is_marked_failed_with_the_reason(
    tmp_path: Path,
) -> None:
    script = tmp_path / "turns.json"
    script.write_text("this is not JSON")  # every start of this researcher fails
    folder = tmp_path / "c"
    flags = ["--researchers", "1", "--brain", "scripted", "--script", str(script),
             "--max-restarts", "2", "--budget-minutes", "1", "--verify-top-k", "0",
             *sandbox_flags()]  # fmt: skip
    finish(start("--dir", str(folder), *SMALL_TOY, *flags))
    final = state(folder)
    r01 = final.researchers["r01"]
    assert (r01.status, r01.restarts) == ("failed", 2)
    assert r01.reason is not None
    assert r01.reason.startswith("exit code 2 after 2 restarts: error: ")
    kinds = [i.kind for i in final.incidents if i.researcher == "r01"]
    assert kinds == ["restart", "restart", "failed"]
    assert any(i.detail == "every researcher is done" for i in final.incidents)
