"""Weak-to-strong tasks: the registry and the shipped testbeds.

    task = build_task("geofacts", {"n_labeled": 500})
    data = task.load(cache)            # every example, both views, gold labels
    splits = task.splits(data, seed)   # labeled / pool / test for that seed

Importing this package registers ``toy``, ``geofacts``, ``sst2`` and the language-model tasks
``chat``, ``math``, ``code`` and ``reference`` (their models load only when used).
"""

from aar.w2s.tasks import geofacts, reference_lm, sst2, toy
from aar.w2s.tasks.base import TASKS, Task, TaskConfig, build_task

__all__ = ["TASKS", "Task", "TaskConfig", "build_task", "geofacts", "reference_lm", "sst2", "toy"]
