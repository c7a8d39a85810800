"""Earlier prediction vectors per (researcher, task), kept in memory for the flags.

    earlier = EarlierPredictions()
    history = earlier.history(connection, account_id, task_id)    # an aar.hub.flags.History

Reading every earlier vector from the database on each submission costs more with every
submission; this keeps them in memory and fetches only the rows stored since (by id), so it
stays right when another process writes too. Each row's nearest earlier scoring comes from
the database as well (``Scoring.nearest_id``, stored when it was scored), so nothing is
compared twice. Callers serialise the calls for one account (the hub holds the account's
lock), so one entry is never updated by two threads at once.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, select

from aar.hub.flags import History
from aar.hub.models import Scoring


class _Row(NamedTuple):
    id: int
    predictions: bytes
    public_acc: float
    nearest_id: int | None
    nearest_flips: int | None


class _Seen:
    """The rows of one (account, task), in id order, in buffers that double as they fill."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.index: dict[int, int] = {}
        self.rows = np.zeros((0, 0), dtype=np.uint8)
        self.public_acc: list[float] = []
        self.parent: list[int] = []
        self.distance: list[int] = []

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def extend(self, found: list[_Row]) -> None:
        if not found:
            return
        new = np.frombuffer(b"".join(row.predictions for row in found), dtype=np.uint8)
        new = new.reshape(len(found), -1)
        count = len(self.ids)
        if count + len(new) > len(self.rows):
            capacity = max(2 * len(self.rows), count + len(new), 16)
            grown = np.zeros((capacity, new.shape[1]), dtype=np.uint8)
            if count:
                grown[:count] = self.rows[:count]
            self.rows = grown
        self.rows[count : count + len(new)] = new
        for row in found:
            parent = -1 if row.nearest_id is None else self.index.get(row.nearest_id, -1)
            self.parent.append(parent)
            self.distance.append(new.shape[1] + 1 if parent < 0 else int(row.nearest_flips or 0))
            self.index[row.id] = len(self.ids)
            self.ids.append(row.id)
            self.public_acc.append(row.public_acc)

    def history(self) -> History:
        count = len(self.ids)
        return History(
            ids=np.asarray(self.ids, dtype=np.int64),
            vectors=self.rows[:count],
            public_acc=np.asarray(self.public_acc, dtype=np.float64),
            parent=np.asarray(self.parent, dtype=np.int64),
            distance=np.asarray(self.distance, dtype=np.int64),
        )


class EarlierPredictions:
    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], _Seen] = {}
        self._guard = threading.Lock()

    def history(self, connection: Connection, account_id: int, task_id: int) -> History:
        """The account's scorings on the task so far, with each one's nearest earlier one."""
        with self._guard:
            seen = self._seen.setdefault((account_id, task_id), _Seen())
        query = (
            select(
                Scoring.id,
                Scoring.predictions,
                Scoring.public_acc,
                Scoring.nearest_id,
                Scoring.nearest_flips,
            )
            .where(
                Scoring.account_id == account_id,
                Scoring.task_id == task_id,
                Scoring.id > seen.last_id,
            )
            .order_by(Scoring.id)
        )
        seen.extend([_Row(*row) for row in connection.execute(query)])
        return seen.history()
