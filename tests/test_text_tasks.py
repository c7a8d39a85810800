"""The text testbeds (geofacts, sst2) on real data, and the fine-tuned student path."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from aar.core.errors import DataError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Texts
from aar.w2s.runner import ExperimentSpec, run_experiment
from aar.w2s.tasks import build_task
from aar.w2s.tasks.geofacts import build_statements
from aar.w2s.tasks.sst2 import FILES, read_local


@pytest.fixture(scope="module")
def statements() -> object:
    return build_statements(min_population=50_000, seed=0)


def test_geofacts_statements_are_balanced_pairs(statements) -> None:  # type: ignore[no-untyped-def]
    labels, cities = statements.labels, statements.city_ids
    assert len(labels) > 20_000
    assert labels.mean() == 0.5
    for city in (0, 1, 500):
        assert sorted(labels[cities == city].tolist()) == [0, 1]  # one true, one false
    for text, (city, country) in zip(statements.texts[:50], statements.spans[:50], strict=True):
        assert text == f"{text[slice(*city)]} is a city in {text[slice(*country)]}."


def test_geofacts_countries_do_not_give_the_label_away(statements) -> None:  # type: ignore[no-untyped-def]
    country = [t[slice(*s[1])] for t, s in zip(statements.texts, statements.spans, strict=True)]
    true = Counter(c for c, y in zip(country, statements.labels, strict=True) if y == 1)
    false = Counter(c for c, y in zip(country, statements.labels, strict=True) if y == 0)
    n = sum(true.values())
    total_variation = 0.5 * sum(abs(true[c] - false[c]) / n for c in set(true) | set(false))
    assert total_variation < 0.05
    pairs = {
        (t[slice(*s[0])], t[slice(*s[1])])
        for t, s in zip(statements.texts, statements.spans, strict=True)
    }
    assert len(pairs) > 0.99 * len(statements.texts)


def test_geofacts_groups_are_city_names(statements) -> None:  # type: ignore[no-untyped-def]
    groups = statements.name_groups()
    names = [t[slice(*s[0])] for t, s in zip(statements.texts, statements.spans, strict=True)]
    by_name: dict[str, set[int]] = {}
    for name, group in zip(names, groups, strict=True):
        by_name.setdefault(name, set()).add(int(group))
    assert all(len(ids) == 1 for ids in by_name.values())
    cities = Counter(names)
    assert any(count > 2 for count in cities.values())  # several cities share a name
    assert len(set(groups)) == len(cities) < len(set(statements.city_ids))


def test_geofacts_views_and_groups(tmp_path: Path) -> None:
    options = {"min_population": 2_000_000, "n_labeled": 100, "n_test": 100, "n_sealed": 40}
    task = build_task("geofacts", options)
    data = task.load(ArtifactCache(tmp_path))
    assert isinstance(data.student_inputs, Features)
    assert data.student_inputs.dim == 3 * 384
    assert isinstance(data.teacher_inputs, Features)
    assert data.teacher_inputs.dim == 384
    splits = task.splits(data, seed=0)
    assert data.groups is not None
    assert not set(data.groups[splits.test]) & set(data.groups[splits.pool])
    sealed = task.sealed_indices(data)
    assert len(sealed) == 40
    public = np.concatenate([splits.labeled, splits.pool, splits.test])
    assert not set(data.groups[sealed]) & set(data.groups[public])  # no sealed city name
    assert build_task("geofacts").config.n_sealed == 2000


def test_small_geofacts_experiment_end_to_end(tmp_path: Path) -> None:
    spec = ExperimentSpec(
        task="geofacts",
        task_options={
            "min_population": 1_000_000,
            "n_labeled": 200,
            "n_test": 300,
            "n_sealed": 100,
        },
        methods=("vanilla", "confident"),
        seeds=(0, 1),
        cache_dir=tmp_path,
        workers=1,
        min_gap=0.001,
    )
    record = run_experiment(spec)
    assert 0.4 < record.weak.mean < 0.9
    assert 0.4 < record.ceiling.mean <= 1.0
    assert record.task.config["min_population"] == 1_000_000


def test_sst2_reads_the_real_local_copy(shared_data: Path) -> None:
    texts, labels = read_local(shared_data)  # finds the sentconv/ subfolder
    assert len(texts) == 6920 + 872 + 1821
    assert set(labels) == {0, 1}
    assert read_local(shared_data / "sentconv")[0] == texts


def test_sst2_seals_every_copy_of_a_repeated_sentence(tmp_path: Path) -> None:
    repeated = "a film that repeats itself"
    for number, name in enumerate(FILES):
        lines = [f"{i % 2} sentence {number}-{i}" for i in range(12)] + [f"1 {repeated}"]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    sealed_copies = []
    for sealed_seed in range(12):
        options = {"data_dir": str(tmp_path), "student.kind": "finetune", "n_labeled": 4,
                   "n_test": 8, "n_sealed": 6, "sealed_seed": sealed_seed}  # fmt: skip
        task = build_task("sst2", options)
        data = task.load(ArtifactCache(None))
        assert isinstance(data.student_inputs, Texts)
        sealed = task.sealed_indices(data)
        splits = task.splits(data, 0)
        public = np.concatenate([splits.labeled, splits.pool, splits.test])
        texts = data.student_inputs.texts
        assert not {texts[i] for i in sealed} & {texts[i] for i in public}
        sealed_copies.append(sum(texts[i] == repeated for i in sealed))
    assert set(sealed_copies) == {0, 3}  # all three copies or none
    assert build_task("sst2", {"data_dir": str(tmp_path)}).config.n_sealed == 1000


def test_sst2_takes_its_folder_from_aar_data_dir(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AAR_DATA_DIR", str(shared_data))
    task = build_task("sst2")
    assert task.config.data_dir == shared_data  # part of the config, so of its hash


def test_sst2_bad_local_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data folder"):
        read_local(tmp_path / "absent")
    with pytest.raises(DataError, match=r"stsa.binary.train: missing"):
        read_local(tmp_path)
    for name in FILES:
        (tmp_path / name).write_text("1 a fine film\n0 dull\n")
    (tmp_path / FILES[1]).write_text("1 good\n7 what\n")
    with pytest.raises(DataError, match=r"stsa.binary.dev:2: expected '<0\|1> <sentence>'"):
        read_local(tmp_path)


def test_sst2_without_local_copy_or_network_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AAR_DATA_DIR", raising=False)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # The libraries read these at import; another test may have imported them already.
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setattr(datasets.config, flag, True, raising=False)
    task = build_task("sst2")
    with pytest.raises(DataError, match="cannot load SetFit/sst2 from the Hugging Face hub"):
        task.load(ArtifactCache(None))


def test_finetune_option_switches_the_student_to_raw_text(tmp_path: Path) -> None:
    task = build_task("geofacts", {"min_population": 2_000_000, "student.kind": "finetune"})
    data = task.load(ArtifactCache(tmp_path))
    assert isinstance(data.student_inputs, Texts)
    assert type(task.student(2)).__name__ == "FinetuneStudent"
    defaults = build_task("geofacts", {"student.hidden": 0})
    assert type(defaults.student(2)).__name__ == "HeadStudent"


def test_head_student_rejects_wrong_inputs() -> None:
    student = build_task("toy").student(2)
    with pytest.raises(TypeError, match="reads Features"):
        student.fit(Texts(("a",)), np.eye(2)[[0]], seed=0)
