"""``aar research`` as a user runs it: a baseline researcher in a bwrap sandbox, against a
running hub reached through its Unix socket."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aar.core.transcripts import read_transcript
from aar.hub.client import HubClient
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.researchkit import publish
from tests.sandboxkit import require_bwrap
from tests.servekit import served_hub


@pytest.mark.slow  # about 20 sandboxed method runs: a minute and a half on 2 cores
def test_a_baseline_researcher_runs_sandboxed_against_a_served_hub(tmp_path: Path) -> None:
    require_bwrap()
    with served_hub(tmp_path / "hub") as hub:
        operator = HubClient(hub.url, hub.operator_token)
        bundle, _ = publish(operator, tmp_path)
        token = operator.create_researcher("r1").token
        done = subprocess.run(
            [sys.executable, "-m", "aar", "research", "--task", "toy", "--bundle", str(bundle),
             "--workspace", str(tmp_path / "ws" / "r1"), "--hub-socket", str(hub.socket),
             "--minutes", "5"],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "AAR_HUB_TOKEN": token, "ANTHROPIC_API_KEY": "sk-secret"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "r1 stopped: search finished; best public PGR" in done.stdout
        mine = [s for s in operator.scorings() if s.researcher == "r1"]
        audited = {r.action for r in operator.audit(kind="tool_call", actor="r1")}
    assert len(mine) >= 2
    assert {"run_method", "submit_predictions", "forum_post", "notebook"} <= audited
    steps = read_transcript(tmp_path / "ws" / "r1.jsonl")
    assert steps[-1]["reason"] == "search finished"
    runs = list((tmp_path / "ws" / "r1" / "runs").glob("*.json"))
    assert json.loads(runs[0].read_text())["task"] == "toy"


def aar(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aar", "research", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow  # about 17 s; CI runs it with -m slow
def test_an_llm_researcher_from_the_command_line(tmp_path: Path) -> None:
    script = [
        FakeReply(tool_calls=(FakeToolCall("list_files", {}),)),
        FakeReply(tool_calls=(FakeToolCall("run_method", {"method": "vanilla"}),)),
        FakeReply(tool_calls=(FakeToolCall("submit_predictions", {
            "path": prediction_file("vanilla", {}, 0), "method": "vanilla"}),)),
    ]  # fmt: skip
    with served_hub(tmp_path / "hub") as hub, FakeLLMServer(script) as llm:
        operator = HubClient(hub.url, hub.operator_token)
        bundle, _ = publish(operator, tmp_path)
        env = {**os.environ, "AAR_HUB_TOKEN": operator.create_researcher("r2").token,
               "LOCAL_KEY": "sk-local"}  # fmt: skip
        common = ["--task", "toy", "--bundle", str(bundle), "--workspace",
                  str(tmp_path / "ws" / "r2"), "--hub-url", hub.url, "--sandbox", "process",
                  "--allow-unsafe"]  # fmt: skip
        brain = ["--brain", "openai", "--model", "qwen3", "--base-url", llm.openai_base_url,
                 "--api-key-env", "LOCAL_KEY"]  # fmt: skip
        done = aar(*common, *brain, "--steps", "3", "--direction", "noisy-channel", env=env)
        assert done.returncode == 0, done.stderr
        assert "r2 stopped: step budget reached; 3 steps" in done.stdout
        [scoring] = operator.scorings()
        system = llm.requests[0].body["messages"][0]["content"]
        wrong = aar(*common, *brain, "--direction", "nope", env=env)
        no_model = aar(*common, "--brain", "anthropic", env=env)
    assert (scoring.researcher, scoring.method) == ("r2", "vanilla")
    assert "Model the teacher as a noisy channel" in system
    assert llm.requests[0].headers.get("authorization") == "Bearer sk-local"
    assert wrong.returncode == 2
    assert "unknown direction 'nope'; directions: confidence-reweighting" in wrong.stderr
    assert no_model.stderr.strip() == "error: brain anthropic needs --model"


def test_extra_distributions_reach_the_researchers_sandbox(tmp_path: Path) -> None:
    require_bwrap()
    probe = "import pytest\nprint('found', pytest.__name__)"
    script = [FakeReply(tool_calls=(FakeToolCall("python", {"code": probe}),))]
    with served_hub(tmp_path / "hub") as hub, FakeLLMServer(script) as llm:
        operator = HubClient(hub.url, hub.operator_token)
        bundle, _ = publish(operator, tmp_path)
        env = {**os.environ, "AAR_HUB_TOKEN": operator.create_researcher("r3").token,
               "LOCAL_KEY": "sk-local"}  # fmt: skip
        common = ["--task", "toy", "--bundle", str(bundle), "--hub-url", hub.url,
                  "--brain", "openai", "--model", "qwen3", "--base-url", llm.openai_base_url,
                  "--api-key-env", "LOCAL_KEY", "--steps", "1"]  # fmt: skip
        extended = aar(*common, "--workspace", str(tmp_path / "ws" / "r3"),
                       "--extra-distribution", "pytest", env=env)  # fmt: skip
        unknown = aar(*common, "--workspace", str(tmp_path / "ws" / "r4"),
                      "--extra-distribution", "no-such-dist", env=env)  # fmt: skip
    assert extended.returncode == 0, extended.stderr
    [ran] = [s for s in read_transcript(tmp_path / "ws" / "r3.jsonl") if s.get("name") == "python"]
    assert "stdout:\nfound pytest" in ran["result"]
    assert unknown.returncode == 2
    assert "error: the sandbox's Python cannot include 'no-such-dist'" in unknown.stderr
    assert not (tmp_path / "ws" / "r4").exists()  # refused before anything was made
