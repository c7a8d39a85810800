"""Earlier prediction vectors per (researcher, task), kept in memory for the flags.

    earlier = EarlierPredictions()
    history = earlier.history(connection, account_id, task_id)    # an aar.hub.flags.History

Reading every earlier vector from the database on each submission costs more with every
submission; this keeps them in memory and fetches only the rows stored since (by id), so it
stays right when another process writes too. Each row's nearest earlier vector is found once,
when the row arrives (the hill-climbing rule looks back at them). Callers serialise the calls
for one account (the hub holds the account's lock), so one entry is never updated by two
threads at once.
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import Connection, select

from aar.hub.flags import History
from aar.hub.models import Scoring
from aar.hub.scoring import nearest_row


class _Seen:
    """The rows of one (account, task), in id order, in buffers that double as they fill."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rows = np.zeros((0, 0), dtype=np.uint8)
        self.public_acc: list[float] = []
        self.parent: list[int] = []
        self.distance: list[int] = []

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def extend(self, found: list[tuple[int, bytes, float]]) -> None:
        if not found:
            return
        new = np.frombuffer(b"".join(raw for _, raw, _ in found), dtype=np.uint8)
        new = new.reshape(len(found), -1)
        count = len(self.ids)
        if count + len(new) > len(self.rows):
            capacity = max(2 * len(self.rows), count + len(new), 16)
            grown = np.zeros((capacity, new.shape[1]), dtype=np.uint8)
            if count:
                grown[:count] = self.rows[:count]
            self.rows = grown
        for offset, vector in enumerate(new):
            nearest = nearest_row(vector, self.rows[: count + offset])
            self.parent.append(-1 if nearest is None else nearest[0])
            self.distance.append(len(vector) + 1 if nearest is None else nearest[1])
            self.rows[count + offset] = vector
        self.ids.extend(i for i, _, _ in found)
        self.public_acc.extend(acc for _, _, acc in found)

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
        """The account's scorings on the task so far, with each one's nearest earlier vector."""
        with self._guard:
            seen = self._seen.setdefault((account_id, task_id), _Seen())
        query = (
            select(Scoring.id, Scoring.predictions, Scoring.public_acc)
            .where(
                Scoring.account_id == account_id,
                Scoring.task_id == task_id,
                Scoring.id > seen.last_id,
            )
            .order_by(Scoring.id)
        )
        seen.extend(
            [(row.id, row.predictions, row.public_acc) for row in connection.execute(query)]
        )
        return seen.history()
