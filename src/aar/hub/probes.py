"""Earlier prediction vectors per (researcher, task), kept in memory for probe detection.

    earlier = EarlierPredictions()
    found = earlier.nearest(connection, account_id, task_id, predictions)  # (scoring id, flips)

Reading every earlier vector from the database on each submission costs more with every
submission; this keeps them in memory and fetches only the rows stored since (by id), so it
stays right when another process writes too. Callers serialise the calls for one account
(the hub holds the account's lock), so one entry is never updated by two threads at once.
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import Connection, select

from aar.hub.models import Scoring
from aar.hub.scoring import nearest_row


class _Seen:
    """The vectors of one (account, task), in id order, in a buffer that doubles as it fills."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rows = np.zeros((0, 0), dtype=np.uint8)

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def extend(self, found: list[tuple[int, bytes]]) -> None:
        if not found:
            return
        new = np.frombuffer(b"".join(raw for _, raw in found), dtype=np.uint8)
        new = new.reshape(len(found), -1)
        count = len(self.ids)
        if count + len(new) > len(self.rows):
            capacity = max(2 * len(self.rows), count + len(new), 16)
            grown = np.zeros((capacity, new.shape[1]), dtype=np.uint8)
            if count:
                grown[:count] = self.rows[:count]
            self.rows = grown
        self.rows[count : count + len(new)] = new
        self.ids.extend(i for i, _ in found)


class EarlierPredictions:
    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], _Seen] = {}
        self._guard = threading.Lock()

    def nearest(
        self, connection: Connection, account_id: int, task_id: int, predictions: np.ndarray
    ) -> tuple[int, int] | None:
        """(id, flipped predictions) of the account's closest earlier scoring, or None."""
        with self._guard:
            seen = self._seen.setdefault((account_id, task_id), _Seen())
        query = (
            select(Scoring.id, Scoring.predictions)
            .where(
                Scoring.account_id == account_id,
                Scoring.task_id == task_id,
                Scoring.id > seen.last_id,
            )
            .order_by(Scoring.id)
        )
        seen.extend([(row.id, row.predictions) for row in connection.execute(query)])
        found = nearest_row(predictions.astype(np.uint8), seen.rows[: len(seen.ids)])
        return None if found is None else (seen.ids[found[0]], found[1])
