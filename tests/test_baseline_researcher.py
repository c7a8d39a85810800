"""The baseline researcher (no LLM) on the toy task, through the real tools and hub."""

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aar.core.reproduce import RECIPE_FILE, Recipe, read_predictions
from aar.core.transcripts import Transcript, read_transcript
from aar.hub.flags import Rules
from aar.hub.scoring import shown_public
from aar.researchers.baseline import BaselineBudget, BaselineResearcher, candidate
from aar.researchers.tools import Toolbox, default_tools
from aar.researchers.tools.library import prediction_file
from aar.sandbox.base import SandboxSpec
from aar.sandbox.registry import make_sandbox
from tests.researchkit import lab

GRID = (candidate("soft"), candidate("confident", keep_fraction=0.4), candidate("bootstrap"))


def test_search_submits_vanilla_first_posts_and_finishes(tmp_path: Path) -> None:
    # a hub that calls 6 % of the test set a near-duplicate: 30 flips of toy's 500 items
    rules = Rules(probe_fraction=0.06)
    with lab(tmp_path, probe_fraction=rules.probe_fraction) as world:
        box = world.toolbox("r1")
        with Transcript(tmp_path / "r1.jsonl") as log:
            researcher = BaselineResearcher(box, log, BaselineBudget(minutes=10), GRID, rules=rules)
            assert researcher.run() == "search finished"
        scorings = sorted(world.hub.operator.scorings(), key=lambda s: s.id)
        vectors = [np.array(world.hub.operator.scoring(s.id).predictions) for s in scorings]
        posts = world.hub.operator.request("GET", "/forum/posts", params={"limit": 100}).json()
        task = world.hub.operator.task("toy")
        [entry] = world.hub.operator.ranking("toy")
    steps = read_transcript(tmp_path / "r1.jsonl")
    runs = [step["arguments"] for step in steps if step.get("name") == "run_method"]
    # successive halving: vanilla first; 3 candidates on seed 0, the best 2 on seed 1, then 1
    assert runs[0] == {"method": "vanilla", "options": {}, "seeds": [0]}
    assert sorted(run["seeds"][0] for run in runs[1:]) == [0, 0, 0, 1, 1, 2]
    assert scorings[0].method == "vanilla"
    assert not any(s.flagged for s in scorings)
    # predictions within the hub's near-duplicate distance of a submission are not submitted
    assert 2 <= len(scorings) < len(runs)
    for i, vector in enumerate(vectors):
        assert all(int((vector != other).sum()) > 30 for other in vectors[:i])
    results = [p for p in posts if p["kind"] == "result"]
    assert len(results) == len(scorings)  # one result post per scoring
    assert all(" → public PGR " in p["title"] for p in results)
    assert any(p["kind"] == "insight" for p in posts)
    best = researcher.best()
    assert best is not None
    # it sees the shown score: the PGR of the rounded accuracy and the published baselines
    shown = shown_public(scorings[0].public_accuracy, task.weak_public, task.ceiling_public, 0.01)
    assert best["first"] == shown[1]
    assert steps[0]["event"] == "start"
    assert steps[-1] == steps[-1] | {"event": "stop", "reason": "search finished"}
    # at the end it declares the configuration it judged best final: the ranking takes that
    final = steps[-1]["final"]
    declared = [s for s in steps if s.get("name") == "declare_final"]
    assert [(s["arguments"], s["is_error"]) for s in declared] == [({"scoring_id": final}, False)]
    scored = [s for s in steps if s.get("event") == "scored"]
    keys = {s["key"] for s in scored}
    means = {
        k: np.nanmean([np.nan if s["pgr"] is None else s["pgr"] for s in scored if s["key"] == k])
        for k in keys
    }
    submitted = {s["key"] for s in scored if s["scoring"] is not None}
    declared_key = next(s["key"] for s in scored if s["scoring"] == final)
    # the best mean public PGR over its seeds among the configurations it submitted
    assert means[declared_key] == max(means[k] for k in submitted)
    assert (entry.chosen_by, entry.final_scoring_id) == ("final", final)
    assert entry.snapshot_id == next(s.snapshot_id for s in scorings if s.id == final)


@pytest.mark.slow  # 20-30 s of sandboxed method runs; CI runs it with -m slow
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


@pytest.mark.slow  # 20-30 s of sandboxed method runs; CI runs it with -m slow
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
        ranking = {row.researcher: row for row in world.hub.operator.ranking("toy")}
    # stopped by a budget, it declares its best so far final; with nothing submitted, or
    # stopped by the hub, it declares nothing
    assert (ranking["r1"].method, ranking["r1"].chosen_by) == ("vanilla", "final")
    assert set(ranking) == {"r1"}
    for name in ("r2", "r3"):
        steps = read_transcript(tmp_path / f"{name}.jsonl")
        assert steps[-1]["final"] is None
        assert not [s for s in steps if s.get("name") == "declare_final"]


def _split(steps: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A transcript's steps before and after its second start (a restart)."""
    starts = [i for i, step in enumerate(steps) if step.get("event") == "start"]
    return steps[: starts[1]], steps[starts[1] :]


def _runs(steps: list[dict[str, Any]]) -> list[str]:
    """The prediction files run_method wrote: one per (method, options, seed)."""
    called = [s["arguments"] for s in steps if s.get("name") == "run_method"]
    return [prediction_file(a["method"], a["options"], a["seeds"][0]) for a in called]


def _submitted(steps: list[dict[str, Any]]) -> list[str]:
    return [
        s["arguments"]["path"]
        for s in steps
        if s.get("name") == "submit_predictions" and not s["is_error"]
    ]


@pytest.mark.slow  # 20-30 s of sandboxed method runs; CI runs it with -m slow
def test_a_restarted_search_takes_up_where_it_stopped(tmp_path: Path) -> None:
    grid = GRID[:2]  # on toy, soft is a near-copy of vanilla and confident is not
    with lab(tmp_path) as world:
        box = world.toolbox("r1")
        with Transcript(tmp_path / "r1.jsonl") as log:
            capped = BaselineResearcher(box, log, BaselineBudget(submissions=1), grid)
            assert capped.run() == "submission budget used"
        restarted = Toolbox(replace(box.context, last_snapshot=None), default_tools())
        with Transcript(tmp_path / "r1.jsonl") as log:
            resumed = BaselineResearcher(restarted, log, BaselineBudget(submissions=10), grid)
            assert resumed.run() == "search finished"
        scorings = sorted(world.hub.operator.scorings(), key=lambda s: s.id)
        last = world.hub.operator.snapshot(str(scorings[-1].snapshot_id))
    before, after = _split(read_transcript(tmp_path / "r1.jsonl"))
    scored_after = [step for step in after if step.get("event") == "scored"]
    # no (method, options, seed) runs or is submitted twice, across the restart
    assert not set(_runs(before)) & set(_runs(after))
    assert not set(_submitted(before)) & set(_submitted(after))
    assert len(scorings) == len(_submitted(before + after)) >= 2
    assert not any(s.flagged for s in scorings)
    # the budget stopped it after a run it could not submit: that run is used, not repeated
    unsubmitted = _runs(before)[-1]
    assert unsubmitted not in _submitted(before)
    assert unsubmitted == scored_after[0]["path"]
    # together they did what one uninterrupted search does: 2 candidates, then the best again
    scored = [step for step in before + after if step.get("event") == "scored"]
    assert (scored[0]["method"], scored[0]["seed"]) == ("vanilla", 0)
    assert sorted(s["seed"] for s in scored) == [0, 0, 0, 1]
    assert sorted(_runs(before + after)) == sorted(s["path"] for s in scored)
    resume = next(step for step in after if step.get("event") == "resume")
    assert (resume["submissions"], resume["evaluations"]) == (1, len(_runs(before)) - 1)
    # each submitted configuration has one snapshot; the restarted one continues the lineage
    snapshots = {s["key"]: s["snapshot"] for s in scored if s["snapshot"]}
    assert {s.snapshot_id for s in scorings} == set(snapshots.values())
    assert last.parent_id == scorings[0].snapshot_id  # vanilla's, shared before the restart


@pytest.mark.slow  # 20-30 s of sandboxed method runs; CI runs it with -m slow
def test_every_submission_names_a_snapshot_that_reproduces_it(tmp_path: Path) -> None:
    with lab(tmp_path) as world:
        with Transcript(tmp_path / "r1.jsonl") as log:
            BaselineResearcher(world.toolbox("r1"), log, BaselineBudget(), GRID[1:2]).run()
        scorings = sorted(world.hub.operator.scorings(), key=lambda s: s.id)
        snapshot = world.hub.operator.snapshot(str(scorings[-1].snapshot_id))
        for s in scorings:
            world.hub.operator.download_snapshot(str(s.snapshot_id), tmp_path / "fresh" / str(s.id))
    scored = {
        step["scoring"]: step
        for step in read_transcript(tmp_path / "r1.jsonl")
        if step.get("event") == "scored"
    }
    assert [s.method for s in scorings] == ["vanilla", "confident"]
    assert len({s.snapshot_id for s in scorings}) == 2  # one per configuration
    assert snapshot.size < 100_000  # the workspace: recipe, notebook, small prediction files
    for s in scorings:
        recipe = Recipe.parse((tmp_path / "fresh" / str(s.id) / RECIPE_FILE).read_text())
        assert (recipe.method, recipe.options) == (s.method, scored[s.id]["options"])
    # rerun in a clean sandbox on the same seed: the library methods are seeded, so the
    # predictions come out identical
    last = scorings[-1]
    folder = tmp_path / "fresh" / str(last.id)
    recipe = Recipe.parse((folder / RECIPE_FILE).read_text())
    spec = SandboxSpec(workspace=folder)
    with make_sandbox("process", spec, allow_unsafe=True) as box:
        argv = recipe.argv(sys.executable, bundle=str(world.bundle), seed=last.seed, out="v.json")
        assert box.exec(argv).exit_code == 0
    again = read_predictions((folder / "v.json").read_text())
    submitted = json.loads((folder / scored[last.id]["path"]).read_text())["predictions"]
    assert again == submitted


def test_each_shipped_direction_starts_the_baseline_on_its_own_methods() -> None:
    from aar.researchers.baseline import DEFAULT_GRID, DIRECTION_METHODS, grid_for
    from aar.researchers.directions import library

    assert set(DIRECTION_METHODS) == {d.name for d in library()}
    for direction, methods in DIRECTION_METHODS.items():
        ordered = grid_for(direction)
        assert sorted(ordered, key=lambda c: c.key) == sorted(DEFAULT_GRID, key=lambda c: c.key)
        assert ordered[0].method == methods[0]
    assert grid_for(None) == list(DEFAULT_GRID)
    assert len({grid_for(d)[0].method for d in DIRECTION_METHODS}) >= 5
