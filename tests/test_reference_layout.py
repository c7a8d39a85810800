"""The reference JSONL layout: loading real converted data and rejecting bad rows clearly."""

import json
from pathlib import Path

import pytest

from aar.core.errors import DataError
from aar.w2s.reference import ChatRow, ChoiceRow, load_reference
from aar.w2s.reference.convert import convert, split_shared_prompt
from aar.w2s.reference.layout import SPLIT_FILES, load_rows, write_rows


def _folder(tmp_path: Path, test_rows: list[object]) -> Path:
    row = {"prompt": "p", "first": "a", "second": "b", "label": 0}
    for name in SPLIT_FILES.values():
        write_rows(tmp_path / name, [row])
    with (tmp_path / "test.jsonl").open("w") as handle:
        for item in test_rows:
            handle.write((item if isinstance(item, str) else json.dumps(item)) + "\n")
    return tmp_path


def test_valid_folder_loads(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [{"prompt": "p", "first": "a", "second": "b", "label": 1, "source": "x", "note": "kept"}],
    )
    data = load_reference(folder, "chat")
    assert isinstance(data.test[0], ChatRow)
    assert data.test[0].label == 1
    assert data.test[0].source == "x"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", r"test.jsonl:2: not valid JSON"),
        ([1, 2], r"test.jsonl:2: expected a JSON object, got list"),
        ({"prompt": "p", "first": "a", "label": 0}, r"test.jsonl:2: field 'second': missing"),
        ({"prompt": "p", "first": "a", "second": 3, "label": 0}, r"test.jsonl:2: field 'second'"),
        (
            {"prompt": "p", "first": "a", "second": "b", "label": 2},
            r"test.jsonl:2: field 'label': 2 is not in the label set \{0, 1\}",
        ),
        (
            {"prompt": "p", "first": "a", "second": "b", "label": "1"},
            r"test.jsonl:2: field 'label'",
        ),
        ({"prompt": "p", "first": "a", "second": "b"}, r"test.jsonl:2: field 'label': missing"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, row: object, message: str) -> None:
    good = {"prompt": "p", "first": "a", "second": "b", "label": 0}
    folder = _folder(tmp_path, [good, row])
    with pytest.raises(DataError, match=message):
        load_reference(folder, "chat")


def test_missing_folder_file_and_kind(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data folder"):
        load_reference(tmp_path / "absent", "chat")
    with pytest.raises(DataError, match=r"train_label.jsonl: missing"):
        load_reference(tmp_path, "math")
    with pytest.raises(DataError, match="unknown dataset kind 'poetry'"):
        load_reference(tmp_path, "poetry")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no rows"):
        load_rows(tmp_path / "empty.jsonl", "math")


def test_pool_rows_may_omit_labels(tmp_path: Path) -> None:
    write_rows(tmp_path / "pool.jsonl", [{"question": "q", "choice": "c"}])
    rows = load_rows(tmp_path / "pool.jsonl", "math", label_required=False)
    assert isinstance(rows[0], ChoiceRow)
    assert rows[0].label is None


def test_shared_prompt_split() -> None:
    chosen = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: joke?\n\nAssistant: sure, one"
    rejected = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: joke?\n\nAssistant: no"
    prompt, good, bad = split_shared_prompt(chosen, rejected)  # type: ignore[misc]
    assert prompt.endswith("joke?\n\nAssistant:")
    assert good == " sure, one"
    assert bad == " no"
    assert split_shared_prompt("same", "same") is None


def test_real_hh_rlhf_converts_and_validates(tmp_path: Path, shared_data: Path) -> None:
    counts = convert(
        "hh-rlhf", shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz", tmp_path, seed=0
    )
    data = load_reference(tmp_path, "chat")
    assert counts == {"labeled": len(data.labeled), "pool": len(data.pool), "test": len(data.test)}
    assert sum(counts.values()) > 2000
    labels = [r.label for r in data.test]
    assert 0.4 < sum(labels) / len(labels) < 0.6  # the seeded order balances the label
    assert all(isinstance(r, ChatRow) and r.prompt.endswith("Assistant:") for r in data.test)


def test_real_gsm8k_solutions_convert_with_problems_kept_together(
    tmp_path: Path, shared_data: Path
) -> None:
    convert("gsm8k", shared_data / "gsm8k" / "example_model_solutions.jsonl", tmp_path, seed=1)
    data = load_reference(tmp_path, "math")
    questions = {
        split: {r.question for r in getattr(data, split)} for split in ("labeled", "pool", "test")
    }
    assert not questions["labeled"] & questions["test"]
    assert not questions["pool"] & questions["test"]
    assert {r.source for r in data.test} == {
        "175b_finetuning",
        "175b_verification",
        "6b_finetuning",
        "6b_verification",
    }
