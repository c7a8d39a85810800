"""What campaigns ask of the hub as operator: exact scores that are not stored (verification,
held-out runs) and a fresh token for a researcher account (resume, adoption)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.hub.client import HubError
from tests.hubkit import Hub, noisy, running_hub, toy_task


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with running_hub(tmp_path / "hub") as hub:
        yield hub


def test_evaluate_gives_the_exact_scores_of_a_submission_and_stores_nothing(hub: Hub) -> None:
    task, labels = toy_task()
    hub.operator.register_task(task)
    alice = hub.researcher("alice")
    predictions = noisy(labels, 0.2, seed=3)
    alice.submit("toy", predictions, method="m")
    [scoring] = hub.operator.scorings()
    exact = hub.operator.evaluate("toy", predictions)
    assert exact.private_pgr == pytest.approx(scoring.private_pgr)
    assert exact.private_accuracy == pytest.approx(scoring.private_accuracy)
    assert exact.public_pgr == pytest.approx(scoring.public_pgr, abs=0.005)  # shown rounded
    assert len(hub.operator.scorings()) == 1
    with pytest.raises(HubError) as refused:
        alice.evaluate("toy", predictions)
    assert refused.value.status == 403
    with pytest.raises(HubError, match="predictions has 3 entries"):
        hub.operator.evaluate("toy", [0, 1, 0])
    with pytest.raises(HubError, match="unknown task 'nope'"):
        hub.operator.evaluate("nope", predictions)


def test_every_scoring_is_listed_past_one_page(hub: Hub) -> None:
    """The end checks compare every scoring of an entry: none may hide past a page."""
    task, labels = toy_task()
    hub.operator.register_task(task)
    alice = hub.researcher("alice")
    ids = [alice.submit("toy", noisy(labels, 0.2, seed), "m", seed=seed).id for seed in range(7)]
    assert [s.id for s in hub.operator.scorings(page=3)] == ids[::-1]
    assert [s.id for s in hub.operator.scorings(task="toy", page=7)] == ids[::-1]
    newest = hub.operator.http.get("/scorings", params={"limit": 2, "before": ids[4]}).json()
    assert [s["id"] for s in newest] == [ids[3], ids[2]]


def test_a_rotated_token_replaces_the_old_one(hub: Hub) -> None:
    old = hub.researcher("bob")
    fresh = hub.operator.rotate_token("bob")
    assert fresh.name == "bob"
    assert hub.as_token(fresh.token).me().name == "bob"
    with pytest.raises(HubError) as gone:
        old.me()
    assert gone.value.status == 401
    with pytest.raises(HubError, match="no account named 'carol'"):
        hub.operator.rotate_token("carol")
    with pytest.raises(HubError) as refused:
        hub.as_token(fresh.token).rotate_token("bob")
    assert refused.value.status == 403
