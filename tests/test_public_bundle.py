"""Public task bundles: what researchers get, checked against the multi-seed runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from aar.cli.main import app as cli
from aar.core.errors import ConfigError
from aar.hub.client import HubClient
from aar.w2s.cache import ArtifactCache
from aar.w2s.public import (
    PublicBundle,
    build_bundle,
    build_sealed_bundle,
    draw_secret_options,
    method_context,
    run_on_bundle,
)
from aar.w2s.runner import ExperimentSpec, run_experiment
from aar.w2s.tasks import build_task
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
    # 2000 examples: 250 sealed (toy's default), 100 labeled, 500 test, 1150 in the pool
    assert manifest["sizes"] == {"labeled": 100, "pool": 1150, "test": 500}
    assert not {"sealed_seed", "data_seed"} & set(manifest["task_options"])
    assert len(secrets.test_labels) == 500
    assert len(secrets.pool_labels) == 1150
    assert set(secrets.gold_only) == {0, 1}
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
    gold_only = float(np.mean(secrets.gold_only[0] == secrets.test_labels))
    assert transfer == pytest.approx(record.methods[0].transfer_acc[0])
    assert weak == pytest.approx(record.weak_acc[0])
    assert ceiling == pytest.approx(record.ceiling_acc[0])
    assert record.gold_only is not None
    assert gold_only == pytest.approx(record.gold_only.transfer_acc[0])


def _rows(array: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in array}


def test_sealed_bundle_tests_on_the_sealed_set_with_its_own_baselines(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    public, _ = build_bundle("toy", SMALL, (0,), cache, split_seed=0)
    sealed, secrets = build_sealed_bundle("toy", SMALL, 0, 1001, cache)
    task = build_task("toy", SMALL)
    data = task.load(ArtifactCache(None))
    held = task.sealed_indices(data)
    assert sealed.seeds == (1001,)
    assert sealed.n_test == len(held) == 250
    assert np.array_equal(sealed.test_x, data.student_inputs.take(held).array)  # type: ignore[attr-defined]
    assert np.array_equal(secrets.test_labels, data.labels[held])
    assert not _rows(public.test_x) & _rows(sealed.test_x)  # never published
    candidates = _rows(public.labeled_x) | _rows(public.pool_x)
    assert _rows(sealed.labeled_x) | _rows(sealed.pool_x) == candidates  # redrawn from these
    assert _rows(sealed.labeled_x) != _rows(public.labeled_x)
    assert set(secrets.weak) == set(secrets.ceiling) == set(secrets.gold_only) == {1001}
    assert len(list((tmp_path / "cache" / "ceiling").glob("*.npz"))) == 2  # public + sealed
    predictions = run_on_bundle(sealed, "vanilla", None, seed=1001)
    weak = np.mean(secrets.weak[1001] == secrets.test_labels)
    ceiling = np.mean(secrets.ceiling[1001] == secrets.test_labels)
    assert ceiling - weak > 0.05  # the seed's own baselines leave a gap to recover
    assert np.mean(predictions == secrets.test_labels) > 0.7
    with pytest.raises(ConfigError, match="task toy has no sealed set"):
        build_sealed_bundle("toy", SMALL | {"n_sealed": 0}, 0, 1001, cache)


def test_verification_seeds_retrain_the_teacher_public_seeds_do_not(tmp_path: Path) -> None:
    """A verification seed redraws the teacher's labeled set, so its weak labels on the same
    sealed items differ; a public bundle's seeds share one split, and toy's logistic teacher
    is deterministic, so its weak labels are the same for every seed (as documented)."""
    cache = ArtifactCache(tmp_path / "cache")
    first, _ = build_sealed_bundle("toy", SMALL, 0, 1001, cache)
    second, _ = build_sealed_bundle("toy", SMALL, 0, 1002, cache)
    assert not np.allclose(first.test_weak[1001], second.test_weak[1002])
    assert np.mean(first.test_weak[1001].argmax(1) != second.test_weak[1002].argmax(1)) > 0.01
    public, _ = build_bundle("toy", SMALL, (0, 1), cache)
    assert np.array_equal(public.test_weak[0], public.test_weak[1])
    assert not np.array_equal(
        run_on_bundle(public, "vanilla", None, 0), run_on_bundle(public, "vanilla", None, 1)
    )


def test_bundle_published_with_drawn_secrets_holds_none_of_them(tmp_path: Path) -> None:
    drawn = draw_secret_options("toy")
    assert set(drawn) == {"data_seed", "sealed_seed"}
    assert draw_secret_options("toy") != drawn
    assert set(draw_secret_options("sst2")) == {"sealed_seed"}
    options = SMALL | drawn
    bundle, _ = build_bundle("toy", options, (0,), ArtifactCache(tmp_path / "cache"))
    folder = bundle.save(tmp_path / "bundle")
    stored = b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())
    for value in drawn.values():
        for form in (str(value).encode(), value.to_bytes(8, "little"), value.to_bytes(8, "big")):
            assert form not in stored
    loaded = PublicBundle.load(folder)
    full = build_task("toy", options)
    student = method_context(loaded, 0).student
    assert student.config == full.student(2).config  # type: ignore[attr-defined]
    assert len(run_on_bundle(loaded, "confident", None, seed=0)) == 500


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
            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert published.returncode == 0, published.stderr
        assert "task toy: 500 test items" in published.stdout
        assert "secret options of toy written to toy.secrets.json (mode 0600)" in published.stdout
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
    # the operator keeps the secret options, drawn fresh; the bundle does not record them
    kept = tmp_path / "toy.secrets.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    secrets = json.loads(kept.read_text())
    assert (secrets["task"], secrets["split_seed"], secrets["seeds"]) == ("toy", 0, 2)
    assert set(secrets["secret_options"]) == {"sealed_seed", "data_seed"}
    assert not set(secrets["secret_options"]) & set(
        PublicBundle.load(tmp_path / "bundle").task_options
    )


def test_publish_task_keeps_its_secrets_file_and_reuses_known_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AAR_CACHE_DIR", str(tmp_path / "cache"))
    known = {"sealed_seed": 11, "data_seed": 12}
    with served_hub(tmp_path / "hub") as hub:

        def publish_task(name: str, *args: str) -> Result:
            options = [arg for k, v in SMALL.items() for arg in ("-o", f"{k}={v}")]
            command = ["hub", "publish-task", "toy", "--name", name, "--url", hub.url]
            command += ["--token", hub.operator_token, "--bundle", str(tmp_path / name)]
            return CliRunner().invoke(cli, [*command, "--seeds", "1", *options, *args])

        def refusal(result: Result) -> str:
            assert isinstance(result.exception, ConfigError), result.output
            return str(result.exception)

        secrets = tmp_path / "keep" / "toy.json"
        secrets.parent.mkdir()
        reuse = [f"--secret-option={k}={v}" for k, v in known.items()]
        first = publish_task("a", "--secrets", str(secrets), *reuse)
        again = publish_task("b", "--secrets", str(secrets), *reuse)
        secrets.write_text("{}")
        secrets.chmod(0o644)
        forced = publish_task("c", "--secrets", str(secrets), "--force", *reuse)
        taken = publish_task("a", "--secrets", str(tmp_path / "a.json"))
        public = publish_task("d", "--secrets", str(tmp_path / "d.json"), "-o", "sealed_seed=1")
        unknown = publish_task("e", "--secrets", str(tmp_path / "e.json"), "--secret-option=x=1")
        names = {t.name for t in HubClient(hub.url, hub.operator_token).tasks()}
    assert first.exit_code == 0, first.output
    assert forced.exit_code == 0, forced.output
    assert f"secret options of c written to {secrets} (mode 0600)" in forced.output
    assert json.loads(secrets.read_text())["secret_options"] == known
    assert secrets.stat().st_mode & 0o777 == 0o600  # a replaced file is made private too
    # known values rebuild the same task: the same generated data, so the same features
    a, c = (PublicBundle.load(tmp_path / name) for name in ("a", "c"))
    assert np.array_equal(a.test_x, c.test_x)
    assert f"{secrets} already exists" in refusal(again)
    assert "--force" in refusal(again)
    assert "the hub already has a task named 'a'" in refusal(taken)
    assert "a secret option of toy; give it with --secret-option" in refusal(public)
    assert "x: not a secret option of toy (its secret options: data_seed, sealed_seed)" in (
        refusal(unknown)
    )
    # nothing was built, registered or written for the refused ones
    assert names == {"a", "c"}
    assert not any((tmp_path / name).exists() for name in ("b", "d", "e", "a.json", "d.json"))
