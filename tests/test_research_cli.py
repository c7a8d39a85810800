"""``aar research`` as a user runs it: a baseline researcher in a bwrap sandbox, against a
running hub reached through its Unix socket."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aar.hub.client import HubClient
from aar.researchers.transcripts import read_transcript
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
