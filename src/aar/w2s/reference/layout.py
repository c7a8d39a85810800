"""The reference JSONL layout: a folder with three (or four) files, one JSON object per line.

    train_label.jsonl     the weak teacher's labeled set         (label required)
    train_unlabel.jsonl   the unlabeled pool                     (label optional: the hub
                                                                  keeps it, researchers don't
                                                                  see it)
    test.jsonl            the test set                           (label required)
    sealed.jsonl          optional: the sealed set, never        (label required)
                          published; verification tests on it

Rows by kind:

- ``chat``: ``{"prompt", "first", "second", "label"}``: two candidate continuations of a
  dialogue; ``label`` is 0 when ``first`` is the better one and 1 when ``second`` is.
- ``math`` and ``code``: ``{"question", "choice", "label"}``: a problem and one candidate
  solution; ``label`` is 1 when the candidate is correct and 0 when it is not.

Any row may also carry ``id`` and ``source`` (the original dataset or generator, used for
per-subset accuracy); other keys are kept but not interpreted. Every problem is reported as
``file:line: field: what is wrong``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from aar.core.errors import DataError

SPLIT_FILES = {"labeled": "train_label.jsonl", "pool": "train_unlabel.jsonl", "test": "test.jsonl"}
SEALED_FILE = "sealed.jsonl"
LABELS = (0, 1)
Kind = Literal["chat", "math", "code"]
KINDS: tuple[Kind, ...] = ("chat", "math", "code")


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    label: StrictInt | None = None
    id: StrictStr | StrictInt | None = None
    source: StrictStr | None = None


class ChatRow(_Row):
    prompt: StrictStr
    first: StrictStr
    second: StrictStr


class ChoiceRow(_Row):
    question: StrictStr
    choice: StrictStr


Row = ChatRow | ChoiceRow
ROW_TYPES: dict[str, type[ChatRow] | type[ChoiceRow]] = {
    "chat": ChatRow,
    "math": ChoiceRow,
    "code": ChoiceRow,
}


@dataclass(frozen=True)
class ReferenceData:
    kind: str
    labeled: list[Row]
    pool: list[Row]
    test: list[Row]
    sealed: list[Row] | None = None
    """The rows of the optional ``sealed.jsonl`` (None when the folder has none)."""


def load_reference(folder: Path, kind: str, pool_labels: bool = False) -> ReferenceData:
    """Load and validate the three files of ``folder``; raise ``DataError`` on the first problem.

    ``pool_labels``: the pool's rows must carry labels too (a task computes its ceiling, the
    student trained on the pool's gold labels, from them).
    """
    if kind not in ROW_TYPES:
        raise DataError(f"unknown dataset kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    splits = {
        split: load_rows(folder / name, kind, label_required=split != "pool" or pool_labels)
        for split, name in SPLIT_FILES.items()
    }
    sealed = load_rows(folder / SEALED_FILE, kind) if (folder / SEALED_FILE).is_file() else None
    return ReferenceData(kind, splits["labeled"], splits["pool"], splits["test"], sealed)


def load_rows(path: Path, kind: str, label_required: bool = True) -> list[Row]:
    """Validated rows of one JSONL file."""
    if not path.is_file():
        raise DataError(
            f"{path}: missing (a reference folder holds {', '.join(SPLIT_FILES.values())})"
        )
    rows = [_parse(path, number, line, kind, label_required) for number, line in _lines(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _parse(path: Path, number: int, line: str, kind: str, label_required: bool) -> Row:
    where = f"{path}:{number}"
    try:
        raw: Any = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: not valid JSON ({err.msg})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    try:
        row = ROW_TYPES[kind].model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        problem = "missing" if first["type"] == "missing" else first["msg"]
        raise DataError(f"{where}: field {field!r}: {problem}") from None
    if row.label is None and label_required:
        raise DataError(f"{where}: field 'label': missing")
    if row.label is not None and row.label not in LABELS:
        raise DataError(f"{where}: field 'label': {row.label} is not in the label set {{0, 1}}")
    return row


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL (UTF-8, one object per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
