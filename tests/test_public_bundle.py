"""Public task bundles: what researchers get, checked against the multi-seed runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aar.core.errors import ConfigError
from aar.hub.client import HubClient
from aar.w2s.cache import ArtifactCache
from aar.w2s.public import PublicBundle, build_bundle, run_on_bundle
from aar.w2s.runner import ExperimentSpec, run_experiment
from tests.servekit import served_hub

SMALL = {"n_examples": 2000, "n_labeled": 100, "n_test": 500}


def test_bundle_holds_public_data_only(tmp_path: Path) -> None:
    bundle, secrets = build_bundle("toy", SMALL, (0, 1), ArtifactCache(tmp_path / "cache"))
    folder = bundle.save(tmp_path / "bundle")
    with np.load(folder / "arrays.npz") as arrays:
        names = set(arrays.files)
    assert names == {
        "labeled_x",
        "labeled_y",
        "pool_x",
        "test_x",
        "pool_weak_0",
        "pool_weak_1",
        "test_weak_0",
        "test_weak_1",
    }
    manifest = json.loads((folder / "bundle.json").read_text())
    assert manifest["sizes"] == {"labeled": 100, "pool": 1400, "test": 500}
    assert len(secrets.test_labels) == 500
    assert len(secrets.pool_labels) == 1400
    loaded = PublicBundle.load(folder)
    assert np.array_equal(loaded.test_x, bundle.test_x)
    assert np.array_equal(loaded.pool_weak[1], bundle.pool_weak[1])


def test_bundle_runs_match_the_runner_on_the_same_split(tmp_path: Path) -> None:
    """With split_seed == seed, a method on the bundle is the runner's method on that seed."""
    cache = ArtifactCache(tmp_path / "cache")
    bundle, secrets = build_bundle("toy", SMALL, (0,), cache, split_seed=0)
    predictions = run_on_bundle(bundle, "vanilla", None, seed=0)
    spec = ExperimentSpec(task="toy", task_options=SMALL, seeds=(0,), cache_dir=tmp_path / "c2")
    record = run_experiment(spec)
    transfer = float(np.mean(predictions == secrets.test_labels))
    weak = float(np.mean(secrets.weak[0] == secrets.test_labels))
    ceiling = float(np.mean(secrets.ceiling[0] == secrets.test_labels))
    assert transfer == pytest.approx(record.methods[0].transfer_acc[0])
    assert weak == pytest.approx(record.weak_acc[0])
    assert ceiling == pytest.approx(record.ceiling_acc[0])


def test_unknown_seed_and_missing_bundle_are_clear_errors(tmp_path: Path) -> None:
    bundle, _ = build_bundle("toy", SMALL, (0,), ArtifactCache(None))
    with pytest.raises(ConfigError, match="seeds 0, not 3"):
        run_on_bundle(bundle, "vanilla", None, seed=3)
    with pytest.raises(ConfigError, match="is not a task bundle"):
        PublicBundle.load(tmp_path)


def test_publish_task_and_predict_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "AAR_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    with served_hub(tmp_path / "hub") as hub:
        env |= {"AAR_HUB_URL": hub.url, "AAR_HUB_TOKEN": hub.operator_token}
        options = [arg for k, v in SMALL.items() for arg in ("-o", f"{k}={v}")]
        published = subprocess.run(
            [sys.executable, "-m", "aar", "hub", "publish-task", "toy", "--bundle",
             str(tmp_path / "bundle"), "--seeds", "2", *options],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert published.returncode == 0, published.stderr
        assert "task toy: 500 test items" in published.stdout
        predicted = subprocess.run(
            [sys.executable, "-m", "aar", "predict", "--bundle", str(tmp_path / "bundle"),
             "-m", "confident", "--seed", "1", "--out", str(tmp_path / "p.json")],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert predicted.returncode == 0, predicted.stderr
        record = json.loads((tmp_path / "p.json").read_text())
        operator = HubClient(hub.url, hub.operator_token)
        alice = HubClient(hub.url, operator.create_researcher("alice").token)
        answer = alice.submit("toy", record["predictions"], method="confident", seed=1)
    assert 0.0 < answer.public_accuracy <= 1.0
    assert record["method"] == "confident"
    assert len(record["predictions"]) == 500
