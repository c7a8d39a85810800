"""What the text testbeds (``geofacts``, ``sst2``) share: a MiniLM student, frozen or fine-tuned.

By default the student is a head on the frozen encoder's cached sentence embeddings, which
makes a seed take seconds on a CPU. ``-o student.kind=finetune`` fine-tunes the whole
encoder instead (the student then reads raw text; slow on a CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import Discriminator, Field, Tag

from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Inputs, Texts
from aar.w2s.encoders import EncoderConfig, embed
from aar.w2s.finetune import FinetuneConfig, FinetuneStudent
from aar.w2s.students import HeadConfig, HeadStudent, Student


def _student_kind(value: Any) -> str:
    kind = value.get("kind", "head") if isinstance(value, dict) else getattr(value, "kind", "head")
    return str(kind)


StudentConfig = Annotated[
    Annotated[HeadConfig, Tag("head")] | Annotated[FinetuneConfig, Tag("finetune")],
    Discriminator(_student_kind),
]


def student_field(head: HeadConfig) -> Any:
    return Field(head, description="head on frozen embeddings (kind=head) or kind=finetune")


def build_student(config: HeadConfig | FinetuneConfig, n_classes: int) -> Student:
    if isinstance(config, FinetuneConfig):
        return FinetuneStudent(config, n_classes)
    return HeadStudent(config, n_classes)


def student_inputs(
    texts: Sequence[str],
    config: HeadConfig | FinetuneConfig,
    encoder: EncoderConfig,
    cache: ArtifactCache,
    layer: int,
) -> Inputs:
    """Cached frozen embeddings for a head student; the raw texts for fine-tuning."""
    if isinstance(config, FinetuneConfig):
        return Texts(tuple(texts))
    return Features(embed(texts, encoder, [layer], cache)[layer])


def as_labels(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)
