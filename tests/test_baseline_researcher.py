"""The baseline researcher (no LLM) on the toy task, through the real tools and hub."""

from pathlib import Path

from aar.core.transcripts import Transcript, read_transcript
from aar.researchers.baseline import BaselineBudget, BaselineResearcher, candidate
from tests.researchkit import lab

GRID = (candidate("soft"), candidate("confident", keep_fraction=0.4), candidate("bootstrap"))


def test_search_submits_vanilla_first_posts_and_finishes(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        box = world.toolbox("r1")
        with Transcript(tmp_path / "r1.jsonl") as log:
            researcher = BaselineResearcher(box, log, BaselineBudget(minutes=10), GRID)
            assert researcher.run() == "search finished"
        scorings = sorted(world.hub.operator.scorings(), key=lambda s: s.id)
        posts = world.hub.operator.request("GET", "/forum/posts", params={"limit": 100}).json()
    steps = read_transcript(tmp_path / "r1.jsonl")
    runs = [step["arguments"] for step in steps if step.get("name") == "run_method"]
    # successive halving: vanilla first; 3 candidates on seed 0, the best 2 on seed 1, then 1
    assert runs[0] == {"method": "vanilla", "options": {}, "seeds": [0]}
    assert sorted(run["seeds"][0] for run in runs[1:]) == [0, 0, 0, 1, 1, 2]
    assert scorings[0].method == "vanilla"
    assert not any(s.flagged for s in scorings)
    # predictions within a few flips of an earlier submission are not resubmitted
    assert 2 <= len(scorings) <= len(runs)
    results = [p for p in posts if p["kind"] == "result"]
    assert len(results) == len(scorings)  # one result post per scoring
    assert all(" → public PGR " in p["title"] for p in results)
    assert any(p["kind"] == "insight" for p in posts)
    best = researcher.best()
    assert best is not None
    assert best["first"] == round(scorings[0].public_pgr, 2)  # it sees the rounded score
    assert steps[0]["event"] == "start"
    assert steps[-1] == steps[-1] | {"event": "stop", "reason": "search finished"}


def test_a_second_researcher_adopts_what_the_first_reported(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        with Transcript(tmp_path / "r1.jsonl") as log:
            BaselineResearcher(world.toolbox("r1"), log, BaselineBudget(), GRID[1:2]).run()
        with Transcript(tmp_path / "r2.jsonl") as log:
            second = BaselineResearcher(world.toolbox("r2"), log, BaselineBudget(), grid=())
            second.run()
        reported = {s.method for s in world.hub.operator.scorings() if s.researcher == "r1"}
    steps = read_transcript(tmp_path / "r2.jsonl")
    tried = {step["arguments"]["method"] for step in steps if step.get("name") == "run_method"}
    assert reported - {"vanilla"}  # r1 reported something beyond its reference run
    assert tried == reported | {"vanilla"}
    posted = [step["arguments"]["body"] for step in steps if step.get("name") == "forum_post"]
    assert any("from forum: r1" in body for body in posted)


def test_budgets_and_an_operator_stop_end_the_search(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        with Transcript(tmp_path / "r1.jsonl") as log:
            capped = BaselineResearcher(
                world.toolbox("r1"), log, BaselineBudget(submissions=1), GRID
            )
            assert capped.run() == "submission budget used"
        with Transcript(tmp_path / "r2.jsonl") as log:
            timed = BaselineResearcher(world.toolbox("r2"), log, BaselineBudget(minutes=0), GRID)
            assert timed.run() == "wall time"
        box = world.toolbox("r3")
        world.hub.operator.update_account("r3", status="stopped")
        with Transcript(tmp_path / "r3.jsonl") as log:
            stopped = BaselineResearcher(box, log, BaselineBudget(), GRID).run()
        assert stopped == "stopped by the hub: account r3 is stopped"
        assert len([s for s in world.hub.operator.scorings() if s.researcher == "r1"]) == 1
