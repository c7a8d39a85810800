"""Tasks: the operator registers ground truth and baselines; researchers see the public view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.deps import AccountDep, OperatorDep, SessionDep, StateDep
from aar.hub.models import Baseline, Task, TaskSecret
from aar.hub.schemas import EvaluationCreate, EvaluationOperator, TaskCreate, TaskPublic
from aar.hub.scoring import (
    from_bytes,
    half_accuracies,
    pgr_value,
    public_split,
    round_to,
    to_bytes,
)

router = APIRouter(tags=["tasks"])


def find_task(session: Session, name: str) -> Task:
    task = session.scalar(select(Task).where(Task.name == name))
    if task is None:
        known = ", ".join(session.scalars(select(Task.name).order_by(Task.name))) or "(none yet)"
        raise HTTPException(404, f"unknown task {name!r}; tasks on this hub: {known}")
    return task


@dataclass(frozen=True, eq=False)
class TaskInfo:
    """What scoring needs of a task. Tasks never change once registered, so this is cached."""

    id: int
    name: str
    n_test: int
    n_classes: int
    labels: np.ndarray
    public: np.ndarray
    weak: tuple[float, float]
    """Mean weak accuracy on the public and the private half."""
    ceiling: tuple[float, float]


def task_info(session: Session, cache: dict[str, Any], name: str) -> TaskInfo:
    """The task's secrets and baselines, from ``cache`` or the database (404 if unknown)."""
    info = cache.get(name)
    if info is None:
        task = find_task(session, name)
        secret = session.get(TaskSecret, task.id)
        assert secret is not None
        means = baseline_means(session, task)
        info = TaskInfo(
            id=task.id,
            name=task.name,
            n_test=task.n_test,
            n_classes=task.n_classes,
            labels=from_bytes(secret.test_labels),
            public=np.frombuffer(secret.public_mask, dtype=np.uint8).astype(bool),
            weak=means["weak"],
            ceiling=means["ceiling"],
        )
        cache[name] = info
    return info


def baseline_means(session: Session, task: Task) -> dict[str, tuple[float, float]]:
    """kind → (mean public accuracy, mean private accuracy) over seeds."""
    rows = session.scalars(select(Baseline).where(Baseline.task_id == task.id)).all()
    means = {}
    for kind in ("weak", "ceiling"):
        mine = [r for r in rows if r.kind == kind]
        means[kind] = (
            float(np.mean([r.public_acc for r in mine])),
            float(np.mean([r.private_acc for r in mine])),
        )
    return means


def task_public(session: Session, task: Task, resolution: float) -> TaskPublic:
    means = baseline_means(session, task)
    return TaskPublic(
        name=task.name,
        description=task.description,
        n_classes=task.n_classes,
        n_test=task.n_test,
        n_pool=task.n_pool,
        weak_public=round_to(means["weak"][0], resolution),
        ceiling_public=round_to(means["ceiling"][0], resolution),
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
    accuracies: dict[str, list[tuple[float, float]]] = {}
    for kind, runs in (("weak", body.weak), ("ceiling", body.ceiling)):
        if not runs:
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
def list_tasks(_who: AccountDep, session: SessionDep, state: StateDep) -> list[TaskPublic]:
    tasks = session.scalars(select(Task).order_by(Task.name))
    return [task_public(session, t, state.settings.score_resolution) for t in tasks]


@router.get("/tasks/{name}", response_model=TaskPublic)
def get_task(name: str, _who: AccountDep, session: SessionDep, state: StateDep) -> TaskPublic:
    return task_public(session, find_task(session, name), state.settings.score_resolution)


@router.post("/tasks/{name}/evaluate", response_model=EvaluationOperator)
def evaluate(
    name: str, body: EvaluationCreate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> EvaluationOperator:
    """Score predictions for the operator (verification, held-out runs): exact, not stored.

    Researchers cannot call it; it uses the same split and baselines as submissions.
    """
    info = task_info(session, state.task_cache, name)
    predictions = _checked_labels(body.predictions, info.n_classes, "predictions", info.n_test)
    public, private = half_accuracies(predictions, info.labels, info.public)
    return EvaluationOperator(
        public_accuracy=public,
        private_accuracy=private,
        public_pgr=pgr_value(public, *_half(info, 0)),
        private_pgr=pgr_value(private, *_half(info, 1)),
    )


def _half(info: TaskInfo, half: int) -> tuple[float, float]:
    return info.weak[half], info.ceiling[half]
