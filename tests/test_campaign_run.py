"""``aar run`` end to end on a small toy task: hub, researchers, operator, verification, report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aar.hub.client import HubClient
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.campaignkit import SMALL_TOY, campaign_hub, finish, sandbox_flags, start, state, wait_for


def summary_of(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "report" / "summary.json").read_text())


def test_a_baseline_campaign_ends_with_verified_results_and_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    flags = ["--researchers", "2", "--budget-minutes", "0.8", "--heldout-task", "toy",
             "--verify-top-k", "2", *sandbox_flags()]  # fmt: skip
    process = start("--dir", str(folder), *SMALL_TOY, *flags)
    wait_for(lambda: state(folder).status == "running" and state(folder).hub_url)
    operator_token = (folder / "hub" / "operator.token").read_text().strip()
    with HubClient(str(state(folder).hub_url), operator_token) as operator:
        operator.create_researcher("extra")  # the operator adds one while it runs
    output = finish(process)
    summary = summary_of(folder)
    assert "report: " in output
    assert (folder / "report" / "index.html").stat().st_size > 1000
    assert summary["campaign"]["status"] == "finished"
    assert {r["name"] for r in summary["researchers"]} == {"r01", "r02", "extra"}
    assert all(r["steps"] > 0 for r in summary["researchers"])
    checked = [row["verification"] for row in summary["leaderboard"] if row["snapshot_id"]]
    statuses = [v["status"] for v in checked if v is not None]
    assert statuses
    assert set(statuses) <= {"verified", "not reproduced"}
    assert any(r["method"] == "vanilla" for r in summary["heldout"])
    assert all(r["pgr"]["n"] == 2 for r in summary["heldout"])
    assert summary["vanilla"] is not None
    with campaign_hub(folder) as operator:
        scorings = operator.scorings()
    assert {s.researcher for s in scorings} <= {"r01", "r02", "extra"}
    assert len(summary["scorings"]) == len([s for s in scorings if s.task == "toy"])


def test_a_folder_holding_a_campaign_is_not_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "state.json").write_text("{}")
    done = start("--dir", str(folder), *SMALL_TOY)
    output = done.communicate(timeout=120)[0]
    assert done.returncode == 2
    assert f"{folder} already holds a campaign; continue it with aar run --resume" in output
    missing = start("--resume", str(tmp_path / "nothing"))
    assert "has no state.json" in missing.communicate(timeout=120)[0]


def test_an_llm_campaign_talks_to_the_configured_model(tmp_path: Path) -> None:
    run_vanilla = FakeToolCall("run_method", {"method": "vanilla"})
    predictions = {"path": prediction_file("vanilla", {}, 0), "method": "vanilla"}
    submit = FakeToolCall("submit_predictions", predictions)
    script = [FakeReply(tool_calls=(run_vanilla,)), FakeReply(tool_calls=(submit,))]
    folder = tmp_path / "c"
    with FakeLLMServer(script) as llm:
        process = start(
            "--dir", str(folder), *SMALL_TOY, "--researchers", "1", "--model", "qwen3",
            "--base-url", llm.openai_base_url, "--api-key-env", "FAKE_KEY",
            "--researcher-steps", "2", "--budget-minutes", "1", "--heldout-task", "toy",
            *sandbox_flags(), env={"FAKE_KEY": "sk-fake"},
        )  # fmt: skip
        finish(process)
        assert llm.requests[0].headers.get("authorization") == "Bearer sk-fake"
    summary = summary_of(folder)
    [researcher] = summary["researchers"]
    assert (researcher["brain"], researcher["model"], researcher["steps"]) == ("openai", "qwen3", 2)
    assert researcher["reason"].startswith("step budget reached")
    assert [s["method"] for s in summary["scorings"]] == ["vanilla"]
    assert os.environ.get("FAKE_KEY") is None  # the key went to the campaign only


@pytest.mark.slow
def test_a_campaign_on_a_local_ray_cluster(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    folder = tmp_path / "c"
    flags = ["--researchers", "2", "--budget-minutes", "0.6", "--executor", "ray",
             "--heldout-task", "toy", *sandbox_flags()]  # fmt: skip
    process = start("--dir", str(folder), *SMALL_TOY, *flags)
    finish(process)
    summary = summary_of(folder)
    assert summary["campaign"]["status"] == "finished"
    assert all(r["submissions"] > 0 for r in summary["researchers"])
