"""``sst2``: SST-2 sentence sentiment; TF-IDF teacher, MiniLM student.

The data come from a local copy when one is given (``-o data_dir=...`` or the environment
variable ``AAR_DATA_DIR``) and from the Hugging Face hub otherwise (``SetFit/sst2``, the
6,920 / 872 / 1,821 sentence split; needs ``pip install 'aar[hf]'`` and a network). A local
copy is the harvardnlp ``stsa.binary.{train,dev,test}`` files (one sentence a line, first
token the 0/1 label), either directly in the folder or in its ``sentconv/`` subfolder. All
three files are pooled; 1,000 sentences are sealed (``n_sealed``, drawn with the secret
``sealed_seed``) and the rest re-split per seed. A sentence that occurs more than once (a
few do) stays in one part, so no sealed sentence is ever published.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import Field

from aar.core.errors import DataError, MissingDependencyError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import TaskData, Texts
from aar.w2s.encoders import EncoderConfig, texts_digest
from aar.w2s.students import HeadConfig, Student
from aar.w2s.tasks.base import TASKS, Task, TaskConfig
from aar.w2s.tasks.text import (
    StudentConfig,
    as_labels,
    build_student,
    student_field,
    student_inputs,
)
from aar.w2s.teachers import Teacher, TfidfConfig, TfidfTeacher
from aar.w2s.training import TrainConfig

FILES = ("stsa.binary.train", "stsa.binary.dev", "stsa.binary.test")


class Sst2Config(TaskConfig):
    data_dir: Path | None = Field(None, description="local copy (default $AAR_DATA_DIR, else hub)")
    hub_dataset: str = "SetFit/sst2"
    encoder: EncoderConfig = EncoderConfig()
    layer: int = Field(6, ge=0, description="encoder layer the frozen student reads")
    student: StudentConfig = student_field(
        HeadConfig(train=TrainConfig(epochs=10, lr=1e-3, weight_decay=0.01))
    )
    teacher: TfidfConfig = TfidfConfig(c=30.0, max_ngram=1)


@TASKS.register("sst2")
class Sst2Task(Task):
    name = "sst2"
    Config = Sst2Config
    config: Sst2Config

    def __init__(self, config: Sst2Config) -> None:
        if config.data_dir is None and os.environ.get("AAR_DATA_DIR"):
            config = config.model_copy(update={"data_dir": Path(os.environ["AAR_DATA_DIR"])})
        super().__init__(config)

    def load(self, cache: ArtifactCache) -> TaskData:
        c = self.config
        texts, labels = read_local(c.data_dir) if c.data_dir else read_hub(c.hub_dataset)
        return TaskData(
            labels=as_labels(labels),
            student_inputs=student_inputs(texts, c.student, c.encoder, cache, c.layer),
            teacher_inputs=Texts(tuple(texts)),
            n_classes=2,
            groups=np.unique(texts, return_inverse=True)[1],
            fingerprint=texts_digest(texts) + texts_digest([str(v) for v in labels]),
        )

    def teacher(self) -> Teacher:
        return TfidfTeacher(self.config.teacher)

    def student(self, n_classes: int) -> Student:
        return build_student(self.config.student, n_classes)


def read_local(folder: Path) -> tuple[list[str], list[int]]:
    """Sentences and labels of the three stsa.binary files in ``folder`` (or its sentconv/)."""
    if (folder / "sentconv" / FILES[0]).is_file():
        folder = folder / "sentconv"
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder for sst2")
    texts, labels = [], []
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: missing (sst2 reads {', '.join(FILES)})")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            label, _, sentence = line.partition(" ")
            if label not in ("0", "1") or not sentence.strip():
                raise DataError(f"{path}:{number}: expected '<0|1> <sentence>', got {line[:40]!r}")
            texts.append(sentence.strip())
            labels.append(int(label))
    return texts, labels


def read_hub(name: str) -> tuple[list[str], list[int]]:
    try:
        from datasets import load_dataset
    except ImportError:
        raise MissingDependencyError("datasets", "hf", "loading sst2 from the hub") from None
    try:
        splits = load_dataset(name)
    except Exception as err:  # the hub client raises many types for "offline"
        raise DataError(
            f"cannot load {name} from the Hugging Face hub ({type(err).__name__}); give a "
            "local copy with -o data_dir=... or AAR_DATA_DIR"
        ) from None
    texts, labels = [], []
    for split in ("train", "validation", "test"):
        if split in splits:
            texts += list(splits[split]["text"])
            labels += [int(v) for v in splits[split]["label"]]
    return texts, labels
