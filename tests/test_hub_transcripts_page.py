"""The dashboard's researcher page shows the researcher's transcript."""

from pathlib import Path

from aar.core.transcripts import Transcript
from tests.hubkit import running_hub


def test_a_researchers_transcript_on_the_dashboard(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub:
        hub.researcher("alice")
        hub.researcher("bob")
        with Transcript(tmp_path / "transcripts" / "alice.jsonl") as log:
            log.append("event", event="start", brain="anthropic")
            log.append("model", text="I will list the files.", cost_usd=0.0125,
                       tool_calls=[{"name": "list_files"}])  # fmt: skip
            log.append("tool", name="list_files", arguments={}, result="plan.md  (13 bytes)")
            log.append("tool", name="shell", arguments={"command": "x"}, result="boom",
                       is_error=True)  # fmt: skip
            log.append("event", event="stop", reason="dollar budget reached")
        browser = hub.anonymous()
        assert browser.get("/dashboard/researchers/alice").url.path == "/dashboard/login"
        browser.post("/dashboard/login", data={"token": hub.operator_token})
        overview = browser.get("/dashboard").text
        page = browser.get("/dashboard/researchers/alice").text
        empty = browser.get("/dashboard/researchers/bob").text
        missing = browser.get("/dashboard/researchers/nobody")
    assert 'href="/dashboard/researchers/alice"' in overview
    assert "5 transcript steps, 1 model turns, $0.0125" in page
    assert page.index("dollar budget reached") < page.index("plan.md  (13 bytes)")  # newest first
    assert "model → list_files" in page
    assert "error: boom" in page
    assert 'id="no-transcript"' in empty
    assert missing.status_code == 404
