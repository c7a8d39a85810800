"""Options from the command line land on top of a task's own defaults."""

import pytest

from aar.core.errors import ConfigError
from aar.w2s.config import merge
from aar.w2s.tasks import build_task


def test_nested_option_changes_only_what_it_names() -> None:
    task = build_task("geofacts", {"student.train.lr": 1e-3})
    student = task.config.student
    assert student.kind == "head"
    assert student.train.lr == 1e-3
    assert student.hidden == 128  # the task's default head, not HeadConfig's
    assert student.train.batch_size == 256
    assert student.train.lr_schedule == "constant"


def test_changing_kind_replaces_the_nested_config() -> None:
    task = build_task("geofacts", {"student.kind": "finetune", "student.train.epochs": 1})
    assert task.config.student.kind == "finetune"
    assert task.config.student.train.epochs == 1
    with pytest.raises(ConfigError, match=r"unknown option 'student\.finetune\.hidden'"):
        build_task("geofacts", {"student.kind": "finetune", "student.hidden": 4})


def test_merge_by_hand() -> None:
    defaults = {"a": 1, "b": {"kind": "x", "c": 2, "d": 3}}
    assert merge(defaults, {"b": {"c": 5}}) == {"a": 1, "b": {"kind": "x", "c": 5, "d": 3}}
    assert merge(defaults, {"b": {"kind": "y"}}) == {"a": 1, "b": {"kind": "y"}}
    assert merge(defaults, {"a": 2}) == {"a": 2, "b": defaults["b"]}
