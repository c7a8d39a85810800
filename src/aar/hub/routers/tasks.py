"""Tasks: the operator registers ground truth and baselines; researchers see the public view.

A sealed task (``TaskCreate.sealed``) holds the sealed test items of a verification seed: no
researcher ever sees it. Listing omits it, and every researcher request that names it (get,
leaderboard, submit, final) is answered 404 exactly as for a task that does not exist. Only
the operator's ``POST /tasks/{name}/evaluate`` scores it, per seed with ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.deps import AccountDep, OperatorDep, SessionDep, StateDep
from aar.hub.models import Account, Baseline, Task, TaskSecret
from aar.hub.schemas import EvaluationCreate, EvaluationOperator, TaskCreate, TaskPublic
from aar.hub.scoring import (
    from_bytes,
    half_accuracies,
    pgr_value,
    public_split,
    round_to,
    to_bytes,
    whole_accuracy,
)
from aar.hub.state import OPERATOR

router = APIRouter(tags=["tasks"])
KINDS = ("weak", "ceiling", "gold_only")
Halves = tuple[float, float]
"""Accuracy on the public and on the private half."""


def find_task(session: Session, name: str, *, operator: bool) -> Task:
    """The task named ``name``; 404 if there is none, or if it is sealed and the caller is
    not the operator (with the same answer, so a sealed task's name gives nothing away)."""
    task = session.scalar(select(Task).where(Task.name == name))
    if task is None or (task.sealed and not operator):
        raise unknown_task(session, name, operator=operator)
    return task


def unknown_task(session: Session, name: str, *, operator: bool) -> HTTPException:
    query = select(Task.name).order_by(Task.name)
    if not operator:
        query = query.where(Task.sealed.is_(False))
    known = ", ".join(session.scalars(query)) or "(none yet)"
    return HTTPException(404, f"unknown task {name!r}; tasks on this hub: {known}")


def is_operator(account: Account) -> bool:
    return account.role == OPERATOR


@dataclass(frozen=True, eq=False)
class TaskInfo:
    """What scoring needs of a task. Tasks never change once registered, so this is cached."""

    id: int
    name: str
    n_test: int
    n_classes: int
    sealed: bool
    labels: np.ndarray
    public: np.ndarray
    baselines: dict[str, dict[int, Halves]]
    """kind (weak, ceiling, gold_only) → seed → accuracy on each half."""

    @cached_property
    def n_public(self) -> int:
        return int(self.public.sum())

    def mean(self, kind: str) -> Halves | None:
        """The mean accuracy of ``kind`` over its seeds on each half (None: not registered)."""
        runs = list(self.baselines.get(kind, {}).values())
        if not runs:
            return None
        return float(np.mean([r[0] for r in runs])), float(np.mean([r[1] for r in runs]))

    @cached_property
    def weak(self) -> Halves:
        found = self.mean("weak")
        assert found is not None  # registration refuses a task without one
        return found

    @cached_property
    def ceiling(self) -> Halves:
        found = self.mean("ceiling")
        assert found is not None
        return found

    @cached_property
    def gold_only(self) -> float | None:
        """The gold-only student's mean whole-set accuracy (None: not registered)."""
        found = self.mean("gold_only")
        return None if found is None else self.whole(found)

    def whole(self, halves: Halves) -> float:
        return whole_accuracy(*halves, self.n_public, self.n_test - self.n_public)


def task_info(session: Session, cache: dict[str, Any], name: str, *, operator: bool) -> TaskInfo:
    """The task's secrets and baselines, from ``cache`` or the database (404 as ``find_task``)."""
    info = cache.get(name)
    if info is None:
        task = session.scalar(select(Task).where(Task.name == name))
        if task is None:
            raise unknown_task(session, name, operator=operator)
        secret = session.get(TaskSecret, task.id)
        assert secret is not None
        info = TaskInfo(
            id=task.id,
            name=task.name,
            n_test=task.n_test,
            n_classes=task.n_classes,
            sealed=task.sealed,
            labels=from_bytes(secret.test_labels),
            public=np.frombuffer(secret.public_mask, dtype=np.uint8).astype(bool),
            baselines=_baselines(session, task),
        )
        cache[name] = info
    if info.sealed and not operator:
        raise unknown_task(session, name, operator=False)
    assert isinstance(info, TaskInfo)
    return info


def _baselines(session: Session, task: Task) -> dict[str, dict[int, Halves]]:
    rows = session.scalars(select(Baseline).where(Baseline.task_id == task.id)).all()
    found: dict[str, dict[int, Halves]] = {}
    for row in rows:
        found.setdefault(row.kind, {})[row.seed] = (row.public_acc, row.private_acc)
    return found


def baseline_means(session: Session, task: Task) -> dict[str, Halves]:
    """kind → (mean public accuracy, mean private accuracy) over seeds, for kinds it has."""
    means = {}
    for kind, runs in _baselines(session, task).items():
        values = list(runs.values())
        means[kind] = float(np.mean([r[0] for r in values])), float(np.mean([r[1] for r in values]))
    return means


def task_public(session: Session, task: Task, resolution: float) -> TaskPublic:
    means = baseline_means(session, task)
    gold_only = means.get("gold_only")
    return TaskPublic(
        name=task.name,
        description=task.description,
        n_classes=task.n_classes,
        n_test=task.n_test,
        n_pool=task.n_pool,
        weak_public=round_to(means["weak"][0], resolution),
        ceiling_public=round_to(means["ceiling"][0], resolution),
        gold_only_public=None if gold_only is None else round_to(gold_only[0], resolution),
        sealed=task.sealed,
    )


@router.post("/tasks", response_model=TaskPublic, status_code=201)
def register_task(
    body: TaskCreate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> TaskPublic:
    """Store a task's labels (secret), split its test set once, and store its baselines."""
    if session.scalar(select(Task).where(Task.name == body.name)) is not None:
        raise HTTPException(409, f"task {body.name!r} is already registered")
    labels = _checked_labels(body.test_labels, body.n_classes, "test_labels", len(body.test_labels))
    pool = _checked_labels(body.pool_labels, body.n_classes, "pool_labels", len(body.pool_labels))
    public = public_split(labels, body.public_fraction, body.split_seed)
    if public.all() or not public.any():
        raise HTTPException(422, "public_fraction leaves one half of the test set empty")
    task = Task(
        name=body.name,
        description=body.description,
        n_classes=body.n_classes,
        n_test=len(labels),
        n_pool=len(pool),
        n_public=int(public.sum()),
        sealed=body.sealed,
    )
    session.add(task)
    session.flush()
    session.add(
        TaskSecret(
            task_id=task.id,
            test_labels=to_bytes(labels),
            pool_labels=to_bytes(pool),
            public_mask=public.astype(np.uint8).tobytes(),
            split_seed=body.split_seed,
        )
    )
    _store_baselines(session, task, body, labels, public)
    session.flush()
    return task_public(session, task, state.settings.score_resolution)


def _store_baselines(
    session: Session, task: Task, body: TaskCreate, labels: np.ndarray, public: np.ndarray
) -> None:
    accuracies: dict[str, list[Halves]] = {}
    runs_of = {"weak": body.weak, "ceiling": body.ceiling, "gold_only": body.gold_only}
    for kind in KINDS:
        runs = runs_of[kind]
        if not runs and kind != "gold_only":
            raise HTTPException(422, f"{kind}: at least one seed's predictions are needed")
        for seed, predictions in runs.items():
            array = _checked_labels(predictions, body.n_classes, f"{kind}[{seed}]", len(labels))
            pub, priv = half_accuracies(array, labels, public)
            accuracies.setdefault(kind, []).append((pub, priv))
            session.add(
                Baseline(task_id=task.id, kind=kind, seed=seed, public_acc=pub, private_acc=priv)
            )
    for half, name in ((0, "public"), (1, "private")):
        weak = np.mean([a[half] for a in accuracies["weak"]])
        ceiling = np.mean([a[half] for a in accuracies["ceiling"]])
        if ceiling <= weak:
            raise HTTPException(
                422, f"ceiling ({ceiling:.3f}) must beat weak ({weak:.3f}) on the {name} half"
            )


def _checked_labels(values: list[int], n_classes: int, field: str, expected: int) -> np.ndarray:
    if len(values) != expected:
        raise HTTPException(422, f"{field} has {len(values)} entries; expected {expected}")
    array = np.asarray(values, dtype=np.int64)
    if len(array) and (array.min() < 0 or array.max() >= n_classes):
        raise HTTPException(422, f"{field} has labels outside 0..{n_classes - 1}")
    return array


@router.get("/tasks", response_model=list[TaskPublic])
def list_tasks(account: AccountDep, session: SessionDep, state: StateDep) -> list[TaskPublic]:
    """Every task the caller may see (researchers: none of the sealed ones)."""
    query = select(Task).order_by(Task.name)
    if not is_operator(account):
        query = query.where(Task.sealed.is_(False))
    return [
        task_public(session, t, state.settings.score_resolution) for t in session.scalars(query)
    ]


@router.get("/tasks/{name}", response_model=TaskPublic)
def get_task(name: str, account: AccountDep, session: SessionDep, state: StateDep) -> TaskPublic:
    task = find_task(session, name, operator=is_operator(account))
    return task_public(session, task, state.settings.score_resolution)


@router.post("/tasks/{name}/evaluate", response_model=EvaluationOperator)
def evaluate(
    name: str, body: EvaluationCreate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> EvaluationOperator:
    """Score predictions for the operator (verification, held-out runs): exact, not stored.

    Researchers cannot call it. It uses the task's split, and the means of the weak and
    ceiling accuracies over their seeds, or with ``seed`` that seed's own (422 if the task
    has no weak and ceiling for it): a fresh verification split has its own baselines.
    """
    info = task_info(session, state.task_cache, name, operator=True)
    predictions = _checked_labels(body.predictions, info.n_classes, "predictions", info.n_test)
    weak, ceiling = _evaluation_baselines(info, body.seed)
    public, private = half_accuracies(predictions, info.labels, info.public)
    return EvaluationOperator(
        public_accuracy=public,
        private_accuracy=private,
        public_pgr=pgr_value(public, weak[0], ceiling[0]),
        private_pgr=pgr_value(private, weak[1], ceiling[1]),
        accuracy=info.whole((public, private)),
        pgr=pgr_value(info.whole((public, private)), info.whole(weak), info.whole(ceiling)),
    )


def _evaluation_baselines(info: TaskInfo, seed: int | None) -> tuple[Halves, Halves]:
    """The weak and ceiling accuracies an evaluation divides by, with a gap on every part."""
    if seed is None:
        weak, ceiling = info.weak, info.ceiling
    else:
        weak_runs, ceiling_runs = info.baselines["weak"], info.baselines["ceiling"]
        if seed not in weak_runs or seed not in ceiling_runs:
            both = sorted(set(weak_runs) & set(ceiling_runs))
            raise HTTPException(
                422,
                f"task {info.name} has no weak and ceiling baselines for seed {seed} "
                f"(seeds with both: {', '.join(map(str, both))})",
            )
        weak, ceiling = weak_runs[seed], ceiling_runs[seed]
    parts = {"public half": 0, "private half": 1}
    gaps = {part: ceiling[i] - weak[i] for part, i in parts.items()}
    gaps["whole test set"] = info.whole(ceiling) - info.whole(weak)
    for part, gap in gaps.items():
        if gap <= 0:
            which = "their means" if seed is None else f"seed {seed}"
            raise HTTPException(
                422, f"task {info.name}, {which}: the ceiling does not beat weak on the {part}"
            )
    return weak, ceiling
