"""The ``aar`` command line, run as a user runs it: output, exit codes, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aar.core.records import ExperimentRecord

SMALL = ["-o", "n_examples=2000", "-o", "n_labeled=100", "-o", "n_test=500"]


def aar(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"AAR_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )


def test_experiment_prints_a_table_and_writes_the_record(tmp_path: Path) -> None:
    out = tmp_path / "record.json"
    result = aar(
        "experiment",
        "-t",
        "toy",
        "-m",
        "vanilla",
        "-m",
        "confident",
        "-s",
        "2",
        *SMALL,
        "--method-option",
        "confident.keep_fraction=0.4",
        "--json",
        str(out),
        "-q",
        "--workers",
        "1",
        cache=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for word in (
        "method",
        "weak",
        "ceiling",
        "transfer",
        "PGR",
        "vanilla",
        "confident",
        "wall time",
    ):
        assert word in result.stdout
    record = ExperimentRecord.load(out)
    assert [m.method.name for m in record.methods] == ["vanilla", "confident"]
    assert record.methods[1].method.config["keep_fraction"] == 0.4
    assert record.task.config["n_labeled"] == 100


def test_method_all_compares_every_method(tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    result = aar(
        "experiment",
        "-t",
        "toy",
        "-m",
        "all",
        "-s",
        "2",
        *SMALL,
        "--json",
        str(out),
        "-q",
        cache=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    names = {m["method"]["name"] for m in json.loads(out.read_text())["methods"]}
    assert {
        "vanilla",
        "soft",
        "confident",
        "aux_conf",
        "bootstrap",
        "probe",
        "early_stop",
        "ensemble",
    } <= names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["experiment", "-t", "nope"], "unknown task 'nope'; valid tasks: chat, code, geofacts, "),
        (["experiment", "-t", "toy", "-m", "nope"], "unknown method 'nope'; valid methods: "),
        (["experiment", "-t", "toy", "-o", "n_labled=5"], "task toy: unknown option 'n_labled'"),
        (
            ["experiment", "-t", "toy", "-o", "n_labeled"],
            "--option 'n_labeled': expected KEY=VALUE",
        ),
        (["experiment", "-t", "toy", "-o", "n_labeled=9000"], "8000 examples but n_labeled=9000"),
        (
            ["experiment", "-t", "toy", "--method-option", "soft.temperature=1"],
            "method 'soft' is not among those run",
        ),
        (["experiment", "-t", "toy", "-o", "n_labeled=many"], "task toy: option 'n_labeled'"),
        (["data", "validate", "/nonexistent/folder"], "no such data folder"),
        (["data", "convert", "gsm8k", "/nonexistent.jsonl", "/tmp/x"], "no such file"),
        (["experiment", "-t", "sst2", "-o", "data_dir=/nonexistent"], "/nonexistent"),
    ],
)
def test_user_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = aar(*args, cache=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    for name in ("train_label.jsonl", "train_unlabel.jsonl", "test.jsonl"):
        (tmp_path / name).write_text('{"question": "q", "choice": "c", "label": 1}\n')
    (tmp_path / "test.jsonl").write_text(
        '{"question": "q", "choice": "c", "label": 1}\n{"question": "q"}\n'
    )
    result = aar("data", "validate", str(tmp_path), "--kind", "math", cache=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'test.jsonl'}:2: field 'choice': missing" in result.stderr


def test_gap_too_small_exits_non_zero_after_the_table(tmp_path: Path) -> None:
    result = aar(
        "experiment",
        "-t",
        "toy",
        "-s",
        "2",
        *SMALL,
        "--min-gap",
        "0.9",
        "-q",
        "--workers",
        "1",
        cache=tmp_path,
    )
    assert result.returncode == 1
    assert "vanilla" in result.stdout
    assert "n/a" in result.stdout
    assert "below min_gap 0.9" in result.stderr


def test_catalog_commands_list_tasks_and_methods(tmp_path: Path) -> None:
    tasks = aar("tasks", cache=tmp_path)
    methods = aar("methods", cache=tmp_path)
    assert tasks.returncode == 0
    assert methods.returncode == 0
    assert all(name in tasks.stdout for name in ("toy", "geofacts", "sst2"))
    assert "keep_fraction" in methods.stdout
    assert "aux_conf" in methods.stdout
