"""``toy``: a synthetic latent-concept task that runs in seconds; for tests and a first look.

Each example has a true binary concept y and some binary distractor concepts. The strong
student's representation encodes all of them linearly (a random rotation of well-separated
directions plus noise), so y is there to be found among distractors. The weak teacher sees
a *noisy* view of y and a *spurious* concept that agrees with y only ``spurious_agreement``
of the time; it leans on the spurious one, and a student that imitates it inherits that.

Everything is generated from ``data_seed``, so it is a secret option (as is ``sealed_seed``):
whoever knows it regenerates every label. An eighth of the examples are sealed by default
(1,000 of 8,000), so a smaller ``n_examples`` keeps a useful pool.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, TaskData
from aar.w2s.students import HeadConfig, HeadStudent, Student
from aar.w2s.tasks.base import TASKS, Task, TaskConfig
from aar.w2s.teachers import LogisticConfig, LogisticTeacher, Teacher
from aar.w2s.training import TrainConfig


class ToyConfig(TaskConfig):
    n_examples: int = Field(8000, ge=100)
    n_labeled: int = Field(200, ge=2)
    n_test: int = Field(2000, ge=2)
    n_sealed: int | None = Field(  # type: ignore[assignment]
        None, ge=0, description="examples sealed for verification (None: n_examples // 8; 0: none)"
    )
    data_seed: int = Field(0, description="seed that generates the data (secret)")
    dim: int = Field(32, ge=4, description="student representation size")
    n_distractors: int = Field(6, ge=1, description="distractor concepts in the student view")
    student_margin: float = Field(1.5, gt=0, description="signal/noise of each student concept")
    teacher_margin: float = Field(0.5, gt=0, description="signal/noise of y in the teacher view")
    spurious_margin: float = Field(2.0, gt=0, description="signal/noise of the spurious concept")
    spurious_agreement: float = Field(0.8, ge=0.5, le=1.0)
    student: HeadConfig = HeadConfig(train=TrainConfig(epochs=10, lr=1e-2))
    teacher: LogisticConfig = LogisticConfig(c=1.0)


@TASKS.register("toy")
class ToyTask(Task):
    name = "toy"
    Config = ToyConfig
    config: ToyConfig
    secret_options: ClassVar[frozenset[str]] = frozenset({"sealed_seed", "data_seed"})

    def _sealed_count(self) -> int:
        c = self.config
        return c.n_examples // 8 if c.n_sealed is None else c.n_sealed

    def load(self, cache: ArtifactCache) -> TaskData:
        c = self.config
        if c.n_distractors + 1 > c.dim:
            raise ValueError("dim must exceed n_distractors")
        rng = np.random.default_rng(c.data_seed)
        y = rng.integers(0, 2, c.n_examples)
        sign = 2.0 * y - 1
        agrees = rng.random(c.n_examples) < c.spurious_agreement
        spurious = np.where(agrees, sign, -sign)
        others = rng.choice([-1.0, 1.0], size=(c.n_examples, c.n_distractors - 1))
        concepts = np.column_stack([sign, spurious, others])
        rotation, _ = np.linalg.qr(rng.normal(size=(c.dim, c.dim)))
        latent = np.zeros((c.n_examples, c.dim))
        latent[:, : concepts.shape[1]] = c.student_margin * concepts
        student_x = (latent + rng.normal(size=latent.shape)) @ rotation
        teacher_x = np.column_stack(
            [c.teacher_margin * sign, c.spurious_margin * spurious]
        ) + rng.normal(size=(c.n_examples, 2))
        return TaskData(
            labels=y,
            student_inputs=Features(student_x.astype(np.float32)),
            teacher_inputs=Features(teacher_x.astype(np.float32)),
            n_classes=2,
        )

    def teacher(self) -> Teacher:
        return LogisticTeacher(self.config.teacher)

    def student(self, n_classes: int) -> Student:
        return HeadStudent(self.config.student, n_classes)
