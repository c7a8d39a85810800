"""The hub on a real PostgreSQL server: the same protocol, the same guarantees."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from aar.hub.client import BudgetExceededError
from aar.hub.db import current_revision, make_engine
from tests.hubkit import noisy, running_hub, toy_task


def test_scoring_budgets_flags_and_leaderboard_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    task, labels = toy_task()
    with running_hub(
        tmp_path, database_url=postgres_url, submissions_per_hour=3, probe_distance=1
    ) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        base = noisy(labels, 0.2, 1)
        first = alice.submit("toy", base, method="m")
        probe = list(base)
        probe[0] = 1 - probe[0]
        alice.submit("toy", probe, method="m", seed=1)
        alice.submit("toy", noisy(labels, 0.2, 2), method="m", seed=2)
        with pytest.raises(BudgetExceededError):
            alice.submit("toy", noisy(labels, 0.2, 3), method="m")
        scorings = hub.operator.scorings()
        assert [s.flagged for s in scorings] == [False, True, False]
        assert [s.quarantined for s in scorings] == [False, True, False]
        board = hub.operator.leaderboard("toy", view="private")
        assert board[0].private_pgr.n == 2  # the probe is quarantined
        hub.operator.clear_scoring(scorings[1].id, "a seed that happened to agree")
        board = hub.operator.leaderboard("toy", view="private")
        assert board[0].private_pgr.n == 3
        assert hub.operator.scoring(scorings[1].id).cleared_by == "operator"
        assert first.public_accuracy > 0.5
    engine = make_engine(postgres_url)
    assert current_revision(engine) == "0006"
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit"))
    engine.dispose()


def test_two_hubs_on_one_database_keep_a_researchers_budget(
    tmp_path: Path, postgres_url: str
) -> None:
    """Hub processes behind one database: concurrent submissions never pass the budget."""
    task, labels = toy_task()
    settings = {"database_url": postgres_url, "submissions_total": 3}
    with (
        running_hub(tmp_path, **settings) as first,
        running_hub(tmp_path, **settings) as second,
    ):
        first.operator.register_task(task)
        token = first.operator.create_researcher("alice").token
        clients = [first.as_token(token), second.as_token(token)] * 4

        def submit(index: int) -> str:
            try:
                clients[index].submit("toy", noisy(labels, 0.3, index), method="m", seed=index)
            except BudgetExceededError:
                return "refused"
            return "scored"

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(submit, range(8)))
        assert outcomes.count("scored") == 3
        assert len(first.operator.scorings()) == 3
