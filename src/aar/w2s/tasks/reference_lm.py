"""``chat``, ``math``, ``code`` and ``reference``: the reference study's tasks on language models.

The weak teacher is Qwen/Qwen1.5-0.5B-Chat and the strong student Qwen/Qwen3-4B-Base, both
fine-tuned with LoRA (``aar.w2s.lm``); each row becomes a prompt answered by one of two label
tokens. The data are a folder in the reference layout (``train_label.jsonl``,
``train_unlabel.jsonl``, ``test.jsonl``; see ``aar.w2s.reference``), found in this order:

1. ``-o data_dir=PATH``;
2. ``$AAR_DATA_DIR/<task>/`` when it holds the three files;
3. ``-o hub_dataset=OWNER/NAME``: the files under ``<hub_subdir>/`` (default: the task's
   kind) of a Hugging Face dataset repository, downloaded with ``huggingface_hub``.

The files fix the split, so every seed shares it and seeds vary only training. ``n_labeled``,
``n_pool`` and ``n_test`` keep the first rows of each file (all by default). Rows carrying a
``source`` are reported per source. ``reference`` reads any folder in the layout: set
``kind`` to chat, math or code.

The sealed set is ``sealed.jsonl`` when the folder has one. Otherwise it is held back from
``test.jsonl``: ``n_sealed`` rows (default a quarter of them), drawn with the secret
``sealed_seed`` in whole groups of one prompt (chat) or question (math, code), never one the
labeled or pool file shares; ``n_test`` then counts the rows left. ``n_sealed=0`` turns the
sealed set off.

    aar experiment -t math -o data_dir=data/math -m vanilla -m confident -s 3
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from aar.core.errors import DataError, MissingDependencyError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Splits, TaskData, Texts, draw_sealed
from aar.w2s.encoders import texts_digest
from aar.w2s.lm.models import ModelConfig
from aar.w2s.lm.prompts import PromptConfig, render
from aar.w2s.lm.student import LMConfig, LMStudent
from aar.w2s.lm.teacher import LMTeacher
from aar.w2s.reference.layout import (
    SEALED_FILE,
    SPLIT_FILES,
    ChatRow,
    ReferenceData,
    Row,
    load_reference,
)
from aar.w2s.students import Student
from aar.w2s.tasks.base import TASKS, Task, TaskConfig
from aar.w2s.teachers import Teacher

WEAK_MODEL = "Qwen/Qwen1.5-0.5B-Chat"
STRONG_MODEL = "Qwen/Qwen3-4B-Base"
Kind = Literal["chat", "math", "code"]


class ReferenceConfig(TaskConfig):
    n_labeled: int | None = Field(None, ge=2, description="first rows of train_label")  # type: ignore[assignment]
    n_test: int | None = Field(None, ge=2, description="first rows of test")  # type: ignore[assignment]
    n_pool: int | None = Field(None, ge=2, description="first rows of train_unlabel (None: all)")
    n_sealed: int | None = Field(  # type: ignore[assignment]
        None,
        ge=0,
        description="test rows held back as the sealed set without sealed.jsonl "
        "(None: a quarter; 0: no sealed set)",
    )
    kind: Kind = "chat"
    data_dir: Path | None = Field(None, description="reference-layout folder")
    hub_dataset: str | None = Field(None, description="HF dataset repo holding the folder")
    hub_subdir: str | None = Field(None, description="folder inside hub_dataset (default: kind)")
    prompts: PromptConfig = PromptConfig()
    teacher: LMConfig = LMConfig(model=ModelConfig(path=WEAK_MODEL))
    student: LMConfig = LMConfig(model=ModelConfig(path=STRONG_MODEL))


class ChatConfig(ReferenceConfig):
    kind: Literal["chat"] = "chat"


class MathConfig(ReferenceConfig):
    kind: Literal["math"] = "math"


class CodeConfig(ReferenceConfig):
    kind: Literal["code"] = "code"


@TASKS.register("reference")
class ReferenceTask(Task):
    name = "reference"
    Config = ReferenceConfig
    config: ReferenceConfig

    def load(self, cache: ArtifactCache) -> TaskData:
        del cache  # rendering prompts is cheap; the models' work is cached by the runner
        c = self.config
        data = load_reference(self._folder(), c.kind, pool_labels=True)
        rows = _capped(data, c)
        every = [row for part in rows for row in part]
        texts = [render(row, c.kind, c.prompts) for row in every]
        labels = np.asarray([row.label for row in every], dtype=np.int64)
        sizes = np.cumsum([0] + [len(part) for part in rows])
        labeled, pool, test, sealed = (np.arange(sizes[i], sizes[i + 1]) for i in range(4))
        return TaskData(
            labels=labels,
            student_inputs=Texts(tuple(texts)),
            teacher_inputs=Texts(tuple(texts)),
            n_classes=2,
            groups=np.unique([_group_key(row) for row in every], return_inverse=True)[1],
            fingerprint=texts_digest(texts) + texts_digest([str(v) for v in labels]),
            subsets=np.asarray([row.source or "all" for row in every]),
            fixed_splits=Splits(labeled, pool, test),
            sealed=sealed,
        )

    def teacher(self) -> Teacher:
        return LMTeacher(self.config.teacher, self.config.prompts.label_words(self.config.kind))

    def student(self, n_classes: int) -> Student:
        words = self.config.prompts.label_words(self.config.kind)
        return LMStudent(self.config.student, n_classes, words)

    def _folder(self) -> Path:
        c = self.config
        if c.data_dir is not None:
            return c.data_dir
        env = os.environ.get("AAR_DATA_DIR")
        if env and (Path(env) / self.name / SPLIT_FILES["test"]).is_file():
            return Path(env) / self.name
        if c.hub_dataset:
            return download(c.hub_dataset, c.hub_subdir or c.kind)
        raise DataError(
            f"task {self.name} needs data: -o data_dir=FOLDER (the reference layout; "
            "'aar data convert' builds one from hh-rlhf or GSM8K), $AAR_DATA_DIR/"
            f"{self.name}/, or -o hub_dataset=OWNER/NAME"
        )


@TASKS.register("chat")
class ChatTask(ReferenceTask):
    name = "chat"
    Config = ChatConfig


@TASKS.register("math")
class MathTask(ReferenceTask):
    name = "math"
    Config = MathConfig


@TASKS.register("code")
class CodeTask(ReferenceTask):
    name = "code"
    Config = CodeConfig


def _capped(
    data: ReferenceData, c: ReferenceConfig
) -> tuple[list[Row], list[Row], list[Row], list[Row]]:
    """Labeled, pool, public test and sealed rows."""
    sealed, test = _sealed_and_test(data, c)
    return data.labeled[: c.n_labeled], data.pool[: c.n_pool], test[: c.n_test], sealed


def _sealed_and_test(data: ReferenceData, c: ReferenceConfig) -> tuple[list[Row], list[Row]]:
    """The sealed rows and the public test rows (see the module docstring)."""
    if c.n_sealed == 0:
        return [], data.test
    if data.sealed is not None:
        return data.sealed, data.test
    count = len(data.test) // 4 if c.n_sealed is None else c.n_sealed
    if count == 0:
        return [], data.test
    shared = {_group_key(row) for row in data.labeled + data.pool}
    eligible = np.asarray([i for i, row in enumerate(data.test) if _group_key(row) not in shared])
    groups = np.unique([_group_key(data.test[i]) for i in eligible], return_inverse=True)[1]
    chosen = set(eligible[draw_sealed(len(eligible), count, c.sealed_seed, groups)].tolist())
    sealed = [row for i, row in enumerate(data.test) if i in chosen]
    return sealed, [row for i, row in enumerate(data.test) if i not in chosen]


def _group_key(row: Row) -> str:
    """Rows about one dialogue or one problem belong together."""
    return row.prompt if isinstance(row, ChatRow) else row.question


def download(repo: str, subdir: str) -> Path:
    """The reference files of ``repo``'s ``subdir`` from the Hugging Face hub (cached locally)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingDependencyError("huggingface_hub", "hf", "loading data from the hub") from None
    try:
        root = snapshot_download(
            repo,
            repo_type="dataset",
            allow_patterns=[f"{subdir}/{f}" for f in (*SPLIT_FILES.values(), SEALED_FILE)],
        )
    except Exception as err:  # the hub client raises many types for "offline"
        raise DataError(
            f"cannot download {repo} from the Hugging Face hub ({type(err).__name__}); give a "
            "local copy with -o data_dir=..."
        ) from None
    return Path(root) / subdir
