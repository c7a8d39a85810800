"""Research directions, the system prompt and transcripts."""

import json
from pathlib import Path

import pytest

from aar.core.errors import ConfigError
from aar.core.transcripts import Transcript, read_transcript
from aar.researchers.directions import Direction, assign, library, load_directions
from aar.researchers.prompts import PromptContext, system_prompt


def test_the_library_has_at_least_nine_distinct_directions() -> None:
    shipped = library()
    assert len(shipped) >= 9
    assert len({d.name for d in shipped}) == len(shipped)
    assert len({d.text for d in shipped}) == len(shipped)
    assert all(d.title and len(d.text.split()) >= 30 for d in shipped)


def test_assign_deals_without_repeats_until_exhausted() -> None:
    shipped = library()
    dealt = assign(len(shipped) + 3, shipped, seed=1)
    first_round = dealt[: len(shipped)]
    assert {d.name for d in first_round} == {d.name for d in shipped}
    assert len({d.name for d in dealt[len(shipped) :]}) == 3
    assert assign(4, shipped, seed=1) == dealt[:4]
    with pytest.raises(ConfigError, match="no research directions"):
        assign(2, [])


def test_custom_directions_from_toml_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text(
        '[[direction]]\nname = "a"\ntext = "Try A."\n[[direction]]\nname = "b"\n'
        'title = "B!"\ntext = "Try B."\n'
    )
    assert load_directions(tmp_path / "d.toml") == [
        Direction("a", "a", "Try A."),
        Direction("b", "B!", "Try B."),
    ]
    (tmp_path / "md").mkdir()
    (tmp_path / "md" / "c.md").write_text("# See C\n\nLook at C.\n")
    assert load_directions(tmp_path / "md") == [Direction("c", "See C", "Look at C.")]
    (tmp_path / "bad.toml").write_text('[[direction]]\nname = "x"\n')
    with pytest.raises(ConfigError, match="direction #1 has no text"):
        load_directions(tmp_path / "bad.toml")
    (tmp_path / "dup.toml").write_text('[[direction]]\nname="x"\ntext="1"\n' * 2)
    with pytest.raises(ConfigError, match="names repeat: x"):
        load_directions(tmp_path / "dup.toml")
    with pytest.raises(ConfigError, match="no directions file"):
        load_directions(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("[[direction]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_directions(tmp_path / "broken.toml")


def test_system_prompt_has_rules_environment_and_direction() -> None:
    direction = library()[0]
    text = system_prompt(
        PromptContext(
            "r7",
            "geofacts",
            "Is the city in the country?",
            "/data/geofacts",
            direction,
            "20 submissions an hour",
        )
    )
    assert text.startswith("You are r7")
    assert direction.text in text
    assert "/data/geofacts" in text
    assert "private half" in text
    assert "label oracle" in text
    assert "reproduce.json" in text  # the verification contract
    assert "snapshot_id" in text
    # the evaluation as it is: agreement, the sealed set with fresh teachers, refusals,
    # quarantine, the curated Python and the final declaration (line breaks aside)
    flat = " ".join(text.split())
    assert "regenerate the predictions you submitted" in flat
    assert "sealed test set" in flat
    assert "teacher and a ceiling retrained on that seed" in flat
    assert "another researcher's snapshot or one that does not exist is refused" in flat
    assert "hill-climbing" in flat
    assert "quarantined" in flat
    assert "curated environment" in flat
    assert "none of the raw-data" in flat
    assert "declare_final" in flat
    assert "20 submissions an hour" in text
    assert "$" not in text.replace("$VAR", "")


def test_transcripts_append_resume_and_survive_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with Transcript(path) as log:
        log.append("event", event="start")
        log.append("tool", name="shell", result="ok")
    with Transcript(path) as log:  # a restarted researcher continues the numbering
        log.append("event", event="stop", reason="done")
    with path.open("a") as handle:
        handle.write('{"step": 4, "kind": "mod')  # a crash mid-line
    steps = read_transcript(path)
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert steps[2]["reason"] == "done"
    assert json.loads(path.read_text().splitlines()[0])["kind"] == "event"


def test_reopening_a_transcript_cuts_a_torn_line_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with Transcript(path) as log:
        log.append("event", event="start")
    with path.open("a") as handle:
        handle.write('{"step": 2, "kind": "tool", "name": "she')  # killed mid-line
    with Transcript(path) as log:  # the restarted researcher
        assert log.steps == 1
        log.append("event", event="start")
    steps = read_transcript(path)
    assert [(s["step"], s["event"]) for s in steps] == [(1, "start"), (2, "start")]
    assert path.read_text().count("\n") == 2  # nothing else was written
    with path.open("a") as handle:
        handle.write('{"step": 3, "kind": "event", "event": "stop"}')  # whole but for its newline
    with Transcript(path) as log:
        log.append("event", event="start")
    assert [s["step"] for s in read_transcript(path)] == [1, 2, 3, 4]
