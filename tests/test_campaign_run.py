"""``aar run`` end to end on a small toy task: hub, researchers, operator, verification, report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aar.hub.client import HubClient
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.browserkit import chromium
from tests.campaignkit import SMALL_TOY, campaign_hub, finish, sandbox_flags, start, state, wait_for
from tests.servekit import served_hub


def summary_of(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "report" / "summary.json").read_text())


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.slow  # 90 s; the default suite runs whole campaigns in the Ctrl-C and budget tests
def test_a_baseline_campaign_ends_with_verified_results_and_a_report(
    tmp_path: Path, browser: Any
) -> None:
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
    shows_in_chromium(folder / "report" / "index.html", browser, rows=len(summary["leaderboard"]))
    (folder / "report" / "index.html").unlink()
    again = subprocess.run([sys.executable, "-m", "aar", "report", str(folder)], text=True,
                           capture_output=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert summary_of(folder)["leaderboard"] == summary["leaderboard"]
    assert (folder / "report" / "index.html").exists()


def shows_in_chromium(index: Path, browser: Any, rows: int) -> None:
    page, problems = browser.new_page(), []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(index.as_uri(), wait_until="load")
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 3
    assert all(w > 0 for w in widths)
    assert page.locator("#ranking tbody tr").count() == rows
    assert problems == []
    page.close()


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


def gateway_file(folder: Path, llm: FakeLLMServer, model: str) -> Path:
    """A gateway file for ``aar serve``: one OpenAI-API upstream, its key in $FAKE_KEY."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gateway.toml"
    path.write_text(
        f'[[upstreams]]\nname = "local"\napi = "openai"\nbase_url = "{llm.openai_base_url}"\n'
        f'api_key_env = "FAKE_KEY"\nmodels = ["{model}"]\n'
    )
    return path


@pytest.mark.slow  # about 35 s; CI runs it with -m slow
def test_an_llm_campaign_on_a_hub_it_is_given_calls_through_its_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_vanilla = FakeToolCall("run_method", {"method": "vanilla"})
    predictions = {"path": prediction_file("vanilla", {}, 0), "method": "vanilla"}
    submit = FakeToolCall("submit_predictions", predictions)
    script = [FakeReply(tool_calls=(run_vanilla,)), FakeReply(tool_calls=(submit,))]
    folder = tmp_path / "c"
    monkeypatch.setenv("FAKE_KEY", "sk-only-the-hub-has-it")
    with (
        FakeLLMServer(script) as llm,
        served_hub(
            tmp_path / "hub", "--gateway", str(gateway_file(tmp_path / "hub", llm, "qwen3"))
        ) as hub,
    ):
        monkeypatch.delenv("FAKE_KEY")  # the campaign and its researchers never hold the key
        process = start(
            "--dir", str(folder), *SMALL_TOY, "--researchers", "1", "--model", "qwen3",
            "--base-url", llm.openai_base_url, "--api-key-env", "FAKE_KEY",
            "--researcher-steps", "2", "--budget-minutes", "1", "--heldout-task", "toy",
            "--hub-url", hub.url, *sandbox_flags(),
            env={"AAR_OPERATOR_TOKEN": hub.operator_token},
        )  # fmt: skip
        finish(process)
        assert [r.headers.get("authorization") for r in llm.requests] == [
            "Bearer sk-only-the-hub-has-it"
        ] * 2
        with HubClient(hub.url, hub.operator_token) as operator:
            assert [a.name for a in operator.accounts() if a.role == "researcher"] == ["r01"]
            calls = operator.model_calls()
    assert [(c.researcher, c.upstream, c.status) for c in calls] == [("r01", "local", 200)] * 2
    assert not (folder / "hub" / "hub.db").exists()  # the given hub stored everything
    summary = summary_of(folder)
    [researcher] = summary["researchers"]
    assert (researcher["brain"], researcher["model"], researcher["steps"]) == ("openai", "qwen3", 2)
    assert researcher["metered"]  # its spend is the given hub's meter
    assert researcher["reason"].startswith("step budget reached")
    assert [s["method"] for s in summary["scorings"]] == ["vanilla"]


def test_a_given_hub_that_cannot_carry_the_model_is_named_before_anything_starts(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "c"
    flags = ["--researchers", "1", "--model", "claude-opus-4-6", "--brain", "anthropic",
             "--budget-minutes", "1", *sandbox_flags()]  # fmt: skip
    with (
        FakeLLMServer() as llm,
        served_hub(tmp_path / "bare") as bare,
        served_hub(
            tmp_path / "other", "--gateway", str(gateway_file(tmp_path / "other", llm, "qwen3"))
        ) as other,
    ):
        outputs = [
            start("--dir", str(folder / hub.folder.name), *SMALL_TOY, *flags, "--hub-url",
                  hub.url, env={"AAR_OPERATOR_TOKEN": hub.operator_token}).communicate(120)[0]
            for hub in (bare, other)
        ]  # fmt: skip
        with HubClient(other.url, other.operator_token) as operator:
            offered = operator.model_upstreams()
            assert [a.name for a in operator.accounts() if a.role == "researcher"] == []
            assert operator.tasks() == []  # nothing was published
    said = [" ".join(output.split()) for output in outputs]
    assert "the hub at" in said[0]
    assert "it has no LLM gateway" in said[0]
    assert "aar serve --gateway FILE" in said[0]
    assert (
        "it offers local (openai: qwen3), none of them 'claude-opus-4-6' over the "
        "anthropic API" in said[1]
    )
    assert [(u.name, u.api, u.models, u.holds_key) for u in offered] == [
        ("local", "openai", ["qwen3"], False)
    ]
    assert not llm.requests


@pytest.mark.slow
def test_a_cluster_campaign_ray_postgresql_and_an_artifact_url(
    tmp_path: Path, postgres_url: str
) -> None:
    """The cluster setup on one machine: researchers as Ray actors reaching the hub by URL,
    the hub on PostgreSQL, snapshots behind an fsspec URL."""
    pytest.importorskip("ray")
    folder, artifacts = tmp_path / "c", tmp_path / "shared-artifacts"
    flags = ["--researchers", "2", "--budget-minutes", "0.6", "--executor", "ray",
             "--database-url", postgres_url, "--artifact-url", f"file://{artifacts}",
             "--heldout-task", "toy", "--verify-top-k", "1", *sandbox_flags()]  # fmt: skip
    finish(start("--dir", str(folder), *SMALL_TOY, *flags))
    summary = summary_of(folder)
    assert summary["campaign"]["status"] == "finished"
    assert all(r["submissions"] > 0 for r in summary["researchers"])
    assert not (folder / "hub" / "hub.db").exists()  # the database is PostgreSQL's
    assert any(artifacts.rglob("*")), "no snapshot reached the artifact URL"
    verified = [r["verification"] for r in summary["leaderboard"] if r["verification"]]
    assert any(v["status"] in ("verified", "not reproduced") for v in verified)


def test_the_fleet_dollar_budget_is_summed_over_llm_researchers(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[qwen3]\ninput = 100000.0\noutput = 0.0\n")  # $1 a call of 10 tokens
    look = FakeReply(tool_calls=(FakeToolCall("list_files", {}),))
    folder = tmp_path / "c"
    with FakeLLMServer([look] * 30) as llm:
        flags = ["--researchers", "2", "--model", "qwen3", "--base-url", llm.openai_base_url,
                 "--api-key-env", "FAKE_KEY", "--prices", str(prices), "--fleet-dollars", "2.5",
                 "--budget-minutes", "2", "--verify-top-k", "0", *sandbox_flags()]  # fmt: skip
        finish(start("--dir", str(folder), *SMALL_TOY, *flags, env={"FAKE_KEY": "k"}))
        calls = len(llm.requests)
    summary = summary_of(folder)
    with campaign_hub(folder) as hub:
        metered = hub.model_calls()
    assert any(i["detail"] == "fleet dollar budget" for i in summary["incidents"])
    # the hub's gateway held the key and metered every call, with the campaign's prices
    assert len(llm.requests) == calls
    assert all(r.headers["authorization"] == "Bearer k" for r in llm.requests)
    forwarded = [c for c in metered if c.status == 200]
    assert len(forwarded) == calls
    assert sum(c.cost_usd for c in forwarded) == pytest.approx(calls)
    # each researcher stops itself at its even share of the fleet's $2.5 ($1.25), and the
    # gateway refuses every call once the fleet has spent $2.5: a call's cost is known only
    # after it, so the fleet overshoots by at most one call per researcher
    assert summary["cost"]["dollars"] == pytest.approx(calls)
    assert 3 <= calls <= 4
    # each researcher tries at most two calls (its share is $1.25); the ones past the fleet's
    # $2.5 are refused, unless the supervisor, reading the same meter, stopped it first
    refused = [c for c in metered if c.status == 429]
    assert len(refused) <= 4 - calls
    # who notices first (the researcher at its share, the gateway or the supervisor at the
    # fleet's sum) is a race; the spend above is not
    stops = ("dollar budget reached", "fleet dollar budget", "model budget spent")
    assert all(r["reason"].startswith(stops) for r in summary["researchers"])
    assert summary["cost"]["dollars_per_researcher_hour"] > 0
