"""The campaign's small parts: metering transcripts, judging re-runs, the live view, enrolling."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from aar.campaign.config import EndConfig, load_config
from aar.campaign.enroll import directions
from aar.campaign.finish import EndResults
from aar.campaign.layout import CampaignLayout
from aar.campaign.live import FleetView, LogLines, ResearcherRow, make_view, table
from aar.campaign.publish import load_secrets
from aar.campaign.spend import TranscriptMeter
from aar.campaign.verify import Rerunner, agreement, judge
from aar.cli.secrets import write_secrets
from aar.core.errors import AarError, ConfigError, DataError
from aar.core.pgr import Estimate
from aar.core.reproduce import Recipe
from aar.hub.client import HubClient
from aar.hub.schemas import Score
from tests.sandboxkit import require_bwrap


def line(**fields: object) -> str:
    return json.dumps({"step": 1, "at": "2026-11-27T00:00:00+00:00", **fields}) + "\n"


def test_the_meter_counts_model_spend_and_submissions_as_the_transcript_grows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r01.jsonl"
    meter = TranscriptMeter(path)
    assert meter.read().steps == 0  # no transcript yet
    usage = {"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 5,
             "cache_write_tokens": 0}  # fmt: skip
    path.write_text(
        line(kind="event", event="start", brain="anthropic")
        + line(kind="model", cost_usd=0.25, usage=usage)
        + line(kind="tool", name="submit_predictions", is_error=False)
        + line(kind="tool", name="submit_predictions", is_error=True)
        + '{"kind": "model", "cost_usd": 9'  # torn: still being written
    )
    spent = meter.read()
    assert (spent.steps, spent.dollars, spent.tokens, spent.submissions) == (1, 0.25, 125, 1)
    with path.open("a") as handle:
        handle.write('9, "usage": {}}\n' + line(kind="event", event="stop", reason="budget"))
    spent = meter.read()
    assert (spent.steps, spent.dollars, spent.last_stop) == (2, 99.25, "budget")
    assert (spent.tool_calls, spent.tool_errors) == ({"submit_predictions": 2}, 1)


def test_the_meter_counts_tool_calls_by_name_and_compactions(tmp_path: Path) -> None:
    path = tmp_path / "r03.jsonl"
    path.write_text(
        line(kind="event", event="start", brain="openai")
        + line(kind="tool", name="shell", is_error=False)
        + line(kind="tool", name="shell", is_error=True)
        + line(kind="tool", name="python", is_error=False)
        + line(kind="event", event="compaction", number=1)
    )
    spent = TranscriptMeter(path).read()
    assert spent.tool_calls == {"shell": 2, "python": 1}
    assert (spent.tool_errors, spent.compactions) == (1, 1)


def test_the_baseline_counts_its_tool_calls_as_steps(tmp_path: Path) -> None:
    path = tmp_path / "r02.jsonl"
    path.write_text(
        line(kind="event", event="start", brain="baseline")
        + line(kind="tool", name="run_method", is_error=False)
        + line(kind="tool", name="submit_predictions", is_error=False)
    )
    spent = TranscriptMeter(path).read()
    assert (spent.steps, spent.submissions, spent.dollars) == (2, 1, 0.0)


END = EndConfig(agreement=0.95, tolerance=0.02)


@pytest.mark.parametrize(
    ("claimed", "sealed", "agreed", "verdict"),
    [
        (Score(mean=0.40, se=0.01, n=3), Estimate(0.39, 0.01, 3), 1.0, "verified"),
        (Score(mean=0.40, se=None, n=1), Estimate(0.385, None, 1), 1.0, "verified"),  # < 0.02
        (Score(mean=0.40, se=None, n=1), Estimate(0.36, None, 1), 1.0, "not reproduced"),
        (Score(mean=0.40, se=0.01, n=3), Estimate(0.20, 0.01, 3), 1.0, "not reproduced"),
        (Score(mean=0.40, se=0.10, n=3), Estimate(0.25, 0.05, 3), 1.0, "verified"),  # noisy
        (Score(mean=0.40, se=0.01, n=3), Estimate(0.60, 0.01, 3), 0.90, "not reproduced"),
        (Score(mean=0.40, se=0.01, n=3), None, None, "failed"),
    ],
)
def test_a_rerun_is_judged_on_agreement_and_the_sealed_set(
    claimed: Score, sealed: Estimate | None, agreed: float | None, verdict: str
) -> None:
    status, why = judge(claimed, sealed, agreed, END)
    assert status == verdict
    assert bool(why) == (verdict != "verified")


def test_a_claim_of_one_scoring_carries_its_binomial_noise() -> None:
    claim, sealed = Score(mean=0.48, se=None, n=1), Estimate(0.34, 0.04, 3)
    assert judge(claim, sealed, 1.0, END)[0] == "not reproduced"
    assert judge(claim, sealed, 1.0, END, claim_noise=0.14)[0] == "verified"


def test_end_results_of_older_checks_are_redone_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    EndResults(sealed_bundles_seconds=12.5).save(path)
    loaded = EndResults.load(path)
    assert loaded is not None
    assert loaded.sealed_bundles_seconds == 12.5
    older = {k: v for k, v in json.loads(path.read_text()).items() if k != "version"}
    path.write_text(json.dumps(older))  # written before results carried a version
    assert EndResults.load(path) is None
    path.write_text(json.dumps({**older, "version": 1}))
    assert EndResults.load(path) is None


def test_the_secrets_file_of_publish_task_is_read_back_and_a_wrong_one_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "toy.secrets.json"
    secret = {"data_seed": 11, "sealed_seed": 12}
    write_secrets(path, {"task": "toy", "secret_options": secret}, force=False)
    assert load_secrets(path, "toy") == secret
    with pytest.raises(ConfigError, match="is for task 'toy', not 'geofacts'"):
        load_secrets(path, "geofacts")
    path.write_text(json.dumps({"task": "toy", "secret_options": {"sealed_seed": 12}}))
    with pytest.raises(ConfigError, match=r"\['data_seed', 'sealed_seed'\]"):
        load_secrets(path, "toy")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        load_secrets(path, "toy")
    with pytest.raises(ConfigError, match="cannot read the secrets file"):
        load_secrets(tmp_path / "missing.json", "toy")


def test_a_recipe_that_cannot_be_read_is_a_data_error_naming_why() -> None:
    """A snapshot's reproduce.json is the researcher's: whatever it holds, the end checks
    get a DataError (the entry failed), never another exception that stops them."""
    with pytest.raises(DataError, match=r"reproduce\.json is not JSON"):
        Recipe.parse("{nope")
    with pytest.raises(DataError, match=r"reproduce\.json nests too deeply to read"):
        Recipe.parse("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="exactly one of 'method' or 'command'"):
        Recipe.parse("[]")


def test_agreement_counts_equal_labels_and_refuses_other_items() -> None:
    assert agreement([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert agreement([0, 1], [0, 1, 1]) == 0.0  # another length: not the same test items


def test_reruns_see_the_campaigns_extra_distributions(tmp_path: Path) -> None:
    require_bwrap()
    config = load_config(None, {"researchers.extra_distributions": ["pytest"]})
    (tmp_path / "snapshot").mkdir()
    (tmp_path / "bundle").mkdir()
    (tmp_path / "snapshot" / "mine.py").write_text(
        "import pathlib, sys\nimport pytest\nout = pathlib.Path(sys.argv[1])\n"
        "out.parent.mkdir(parents=True)\nout.write_text('[0, 1]')\n"
    )
    recipe = Recipe.parse(json.dumps({"command": [sys.executable, "mine.py", "{out}"]}))
    with HubClient("http://127.0.0.1:9", "unused") as unused:  # re-runs never call the hub
        default = Rerunner(unused, "bwrap", tmp_path / "verify")
        extended = Rerunner(
            unused, "bwrap", tmp_path / "verify", python=config.researchers.sandbox_python()
        )
        labels = extended.predict(recipe, tmp_path / "snapshot", tmp_path / "bundle", "toy", seed=3)
        with pytest.raises(DataError, match="toy seed 3: exit code 1: ModuleNotFoundError"):
            default.predict(recipe, tmp_path / "snapshot", tmp_path / "bundle", "toy", seed=3)
    assert labels == [0, 1]


CARRY = """import json, pathlib, sys
carried = pathlib.Path("carried.txt")  # what an earlier seed's run would have left
found = carried.exists()
carried.write_text("labels of another seed")
out = pathlib.Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps([int(found)]))
"""


def test_each_rerun_starts_from_the_snapshot_alone(tmp_path: Path) -> None:
    """Nothing one seed's re-run writes reaches the next (a recipe could keep one sealed
    seed's labeled set for the others), and an answer file shipped where the run's output
    goes is never read as the run's."""
    require_bwrap()
    snapshot, bundle = tmp_path / "snapshot-s_1", tmp_path / "bundle"
    bundle.mkdir()
    (snapshot / "rerun").mkdir(parents=True)
    (snapshot / "carry.py").write_text(CARRY)
    (snapshot / "rerun" / "toy-seed5.json").write_text("[1, 1]")  # a shipped "answer"
    carry = Recipe.parse(json.dumps({"command": [sys.executable, "carry.py", "{out}"]}))
    idle = Recipe.parse(json.dumps({"command": [sys.executable, "-c", "pass", "{out}"]}))
    with HubClient("http://127.0.0.1:9", "unused") as unused:  # re-runs never call the hub
        runner = Rerunner(unused, "bwrap", tmp_path / "verify")
        found = [runner.predict(carry, snapshot, bundle, "toy", seed) for seed in (1, 2, 1)]
        with pytest.raises(AarError, match=r"rerun/toy-seed5\.json"):
            runner.predict(idle, snapshot, bundle, "toy", seed=5)
    assert found == [[0], [0], [0]]
    assert not (snapshot / "carried.txt").exists()  # the snapshot's own files stay as shipped


SHADOW = """import json, sys
out = sys.argv[sys.argv.index("--out") + 1]
open(out, "w").write(json.dumps([1, 1, 1]))  # answers looked up somewhere
"""


def test_a_library_recipe_runs_the_library_not_a_package_the_snapshot_ships(
    tmp_path: Path,
) -> None:
    """{"method": "vanilla"} runs ``python -m aar predict`` in the snapshot's folder; a
    snapshot holding its own ``aar/__main__.py`` must not stand in for the library (library
    recipes shared by several entries are re-run once, which needs them to be the library's)."""
    require_bwrap()
    from aar.w2s.cache import ArtifactCache
    from aar.w2s.public import build_bundle

    bundle, _ = build_bundle("toy", {"n_examples": 1500, "n_labeled": 100, "n_test": 400}, [0],
                             ArtifactCache(None))  # fmt: skip
    bundle.save(tmp_path / "bundle")
    snapshot = tmp_path / "snapshot"
    (snapshot / "aar").mkdir(parents=True)
    (snapshot / "aar" / "__init__.py").write_text("")
    (snapshot / "aar" / "__main__.py").write_text(SHADOW)
    with HubClient("http://127.0.0.1:9", "unused") as unused:  # re-runs never call the hub
        runner = Rerunner(unused, "bwrap", tmp_path / "verify")
        labels = runner.predict(Recipe.library("vanilla"), snapshot, tmp_path / "bundle", "toy", 0)
    assert len(labels) == 400  # the library's prediction of every test item


def test_the_live_table_shows_each_researcher_and_the_fleet() -> None:
    rows = [
        ResearcherRow("r01", "noisy-channel", "running", 12, 3, 0.41, 51_200, 0.33, 0.31, 1, 2.5)
    ]
    fleet = FleetView(dollars=0.41, submissions=3, minutes_left=1.5, best={"r01": (0.33, 0.31)})
    console = Console(record=True, width=200)
    console.print(table(rows, fleet))
    text = console.export_text()
    for shown in ("r01", "noisy-channel", "running", "0.33", "0.31", "51,200", "0.41"):
        assert shown in text
    assert isinstance(make_view(console, live=False), LogLines)


def test_log_lines_print_only_changes(tmp_path: Path) -> None:
    console = Console(record=True, width=300)
    view = LogLines(console, every=0)
    row = ResearcherRow("r01", None, "running", 1, 0, 0.0, 0, None, None, 0, 0.1)
    view.update([row], FleetView())
    view.update([row], FleetView())
    assert console.export_text().count("r01 running") == 1


def test_unknown_directions_are_named(tmp_path: Path) -> None:
    config = load_config(None, {"researchers.directions": ["noisy-channel", "telepathy"]})
    with pytest.raises(ConfigError, match="unknown directions telepathy; directions: "):
        directions(config)
    chosen = directions(load_config(None, {"researchers.directions": ["noisy-channel"]}))
    assert [d.name for d in chosen] == ["noisy-channel"]


def test_a_campaign_folder_too_deep_for_the_socket_is_caught(tmp_path: Path) -> None:
    assert CampaignLayout(tmp_path / "c").socket_fits()
    assert not CampaignLayout(tmp_path / ("x" * 120)).socket_fits()
