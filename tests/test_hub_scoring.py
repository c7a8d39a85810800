"""The hub's scoring protocol: accounts, tasks, submissions, budgets, flags, leaderboard."""

from pathlib import Path

import numpy as np
import pytest

from aar.hub.client import BudgetExceededError, HubError
from aar.hub.scoring import half_accuracies, public_split, round_to
from tests.hubkit import noisy, running_hub, toy_task


def test_tokens_roles_and_accounts(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub:
        assert hub.anonymous().get("/me").json() == {
            "detail": "missing bearer token (Authorization: Bearer <token>)"
        }
        assert (
            hub.anonymous().get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        alice = hub.researcher("alice")
        assert alice.me().name == "alice"
        with pytest.raises(HubError, match="operator only") as refused:
            alice.create_researcher("mallory")
        assert refused.value.status == 403
        with pytest.raises(HubError, match="already exists"):
            hub.operator.create_researcher("alice")
        names = [a.name for a in hub.operator.accounts()]
        assert names == ["operator", "alice"]
    stored = (tmp_path / "hub.db").read_bytes()
    assert b"alice" in stored
    assert hub.operator_token.encode() not in stored


def test_public_split_is_stratified_and_seeded() -> None:
    labels = np.array([0] * 60 + [1] * 40)
    mask = public_split(labels, 0.5, seed=3)
    assert mask[labels == 0].sum() == 30
    assert mask[labels == 1].sum() == 20
    assert np.array_equal(mask, public_split(labels, 0.5, seed=3))
    assert not np.array_equal(mask, public_split(labels, 0.5, seed=4))


def test_submission_answers_rounded_public_scores_only(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        public = hub.operator.register_task(task)
        assert public.n_test == 400
        assert public.n_pool == 1200
        alice = hub.researcher("alice")
        predictions = noisy(labels, 0.2, seed=5)
        result = alice.submit("toy", predictions, method="vanilla", seed=1)
        mask = public_split(labels, 0.5, 0)
        pub, priv = half_accuracies(np.array(predictions), labels, mask)
        assert result.public_accuracy == round_to(pub, 0.01)
        # the PGR is computed from what is published: the rounded accuracy, weak and ceiling
        weak, ceiling = public.weak_public, public.ceiling_public
        shown = round_to(pub, 0.01)
        assert result.public_pgr == round_to((shown - weak) / (ceiling - weak), 0.01)
        raw = alice.request(
            "POST", "/tasks/toy/submissions", json={"predictions": predictions, "method": "m"}
        ).json()
        assert set(raw) == {
            "id",
            "task",
            "method",
            "seed",
            "public_accuracy",
            "public_pgr",
            "released",
            "created_at",
            "budget",
        }
        scorings = hub.operator.scorings(task="toy")
        assert scorings[-1].private_accuracy == pytest.approx(priv)
        assert scorings[-1].researcher == "alice"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[:-1], "predictions has 399 entries; task toy has 400 test items"),
        (lambda p: [*p[:-1], 2], "predictions has labels outside 0..1"),
        (lambda p: [*p[:-1], 0.5], "predictions.399: Input should be a valid integer"),
        (lambda p: p * 4, "predictions has 1600 entries"),  # the pool's size: never scored
    ],
)
def test_bad_predictions_are_clear_422s(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        with pytest.raises(
            HubError, match=message.replace("(", r"\(").replace(".", r"\.")
        ) as error:
            alice.submit("toy", mutate([int(v) for v in labels]), method="m")
        assert error.value.status == 422
        assert hub.operator.scorings() == []  # nothing stored


def test_non_json_nan_oversized_and_unknown_task(tmp_path: Path) -> None:
    task, _labels = toy_task()
    with running_hub(tmp_path, max_body_bytes=20_000) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        auth = alice.http.headers
        client = hub.anonymous()
        as_json = {**auth, "content-type": "application/json"}
        bad_json = client.post("/tasks/toy/submissions", content=b"{oops", headers=as_json)
        assert bad_json.status_code == 422
        assert bad_json.json()["detail"] == "request body is not valid JSON"
        not_object = client.post("/tasks/toy/submissions", content=b"[1, 2]", headers=as_json)
        assert "request body must be a JSON object" in not_object.json()["detail"]
        nan = client.post(
            "/tasks/toy/submissions",
            headers={**auth, "content-type": "application/json"},
            content=b'{"method": "m", "predictions": [NaN]}',
        )
        assert nan.status_code == 422
        assert "valid integer" in nan.json()["detail"]
        huge = client.post(
            "/tasks/toy/submissions",
            headers=auth,
            json={"method": "m", "predictions": [0] * 20_000},
        )
        assert huge.status_code == 413
        assert "larger than the limit" in huge.json()["detail"]
        with pytest.raises(HubError, match="unknown task 'nope'; tasks on this hub: toy"):
            alice.submit("nope", [0], method="m")
        assert hub.operator.scorings() == []


def test_budgets_answer_429_with_reset_time(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path, submissions_per_hour=3, submissions_total=5) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        for seed in range(3):
            result = alice.submit("toy", noisy(labels, 0.3, seed), method="m", seed=seed)
        assert result.budget.used_this_hour == 3
        assert result.budget.per_hour == 3
        raw = alice.http.post(
            "/tasks/toy/submissions", json={"predictions": noisy(labels, 0.3, 9), "method": "m"}
        )
        assert raw.status_code == 429
        assert 3500 < int(raw.headers["Retry-After"]) <= 3601
        assert "hourly budget of 3 submissions used; it resets at" in raw.json()["detail"]
        with pytest.raises(BudgetExceededError) as refused:
            alice.submit("toy", noisy(labels, 0.3, 10), method="m")
        assert refused.value.resets_at is not None
        hub.operator.update_account("alice", per_hour=100)
        alice.submit("toy", noisy(labels, 0.3, 11), method="m")
        alice.submit("toy", noisy(labels, 0.3, 12), method="m")
        with pytest.raises(
            BudgetExceededError, match="total budget of 5 submissions used; it does not reset"
        ):
            alice.submit("toy", noisy(labels, 0.3, 13), method="m")
        assert len(hub.operator.scorings()) == 5


def test_near_duplicates_are_flagged_for_the_operator(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path, probe_distance=2) as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        base = noisy(labels, 0.3, 1)
        alice.submit("toy", base, method="m")
        bob.submit("toy", base, method="copy")  # another researcher: not a probe of alice's
        probe = list(base)
        probe[7] = 1 - probe[7]
        alice.submit("toy", probe, method="m")
        flagged = hub.operator.scorings(flagged=True)
        assert [(s.researcher, s.flag_reason) for s in flagged] == [
            ("alice", f"label probing? 1 flipped prediction(s) from scoring #{flagged[0].id - 2}")
        ]
        assert hub.operator.accounts()[1].flagged == 1


def test_a_trivial_answer_prior_is_flagged(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        alice.submit("toy", [0] * len(labels), method="all zeros")
        alice.submit("toy", noisy(labels, 0.3, 1), method="honest")
        flagged = hub.operator.scorings(flagged=True)
    assert [(s.method, s.flag_reason) for s in flagged] == [
        ("all zeros", "trivial prior? 100% of predictions are label 0")
    ]


def test_probes_are_flagged_across_hub_processes_sharing_a_database(tmp_path: Path) -> None:
    """Two hubs on one database (as behind a load balancer): each sees the other's scorings."""
    task, labels = toy_task()
    with running_hub(tmp_path, probe_distance=3) as first, running_hub(tmp_path) as second:
        first.operator.register_task(task)
        token = first.operator.create_researcher("alice").token
        via_first, via_second = first.as_token(token), second.as_token(token)
        base = noisy(labels, 0.3, 1)
        via_first.submit("toy", base, method="m")
        via_second.submit("toy", noisy(labels, 0.3, 2), method="m")  # far from base
        probe = list(base)
        probe[3], probe[9] = 1 - probe[3], 1 - probe[9]
        via_second.submit("toy", probe, method="m")
        via_first.submit("toy", list(base), method="m")  # its cache must see both later rows
        reasons = [s.flag_reason for s in first.operator.scorings(flagged=True)]
        ids = [s.id for s in first.operator.scorings()]  # newest first
        assert reasons == [
            f"label probing? 0 flipped prediction(s) from scoring #{ids[3]}",
            f"label probing? 2 flipped prediction(s) from scoring #{ids[3]}",
        ]


def test_paused_and_stopped_researchers_cannot_submit(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        hub.operator.update_account("alice", status="paused")
        with pytest.raises(HubError, match="paused"):
            alice.submit("toy", noisy(labels, 0.3, 1), method="m")
        hub.operator.update_account("alice", status="stopped")
        with pytest.raises(HubError, match="stopped"):
            alice.me()


def test_leaderboard_groups_and_views(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        for seed in range(3):
            alice.submit("toy", noisy(labels, 0.15, seed), method="good", seed=seed)
        bob.submit("toy", noisy(labels, 0.35, 7), method="weakish")
        public = alice.request("GET", "/tasks/toy/leaderboard").json()
        assert [(r["researcher"], r["method"], r["public_pgr"]["n"]) for r in public] == [
            ("alice", "good", 3),
            ("bob", "weakish", 1),
        ]
        assert "private_pgr" not in public[0]
        assert "flagged" not in public[0]
        with pytest.raises(HubError, match="private view is for the operator only"):
            alice.leaderboard("toy", view="private")
        private = hub.operator.leaderboard("toy", view="private")
        good = [s.private_pgr for s in hub.operator.scorings() if s.method == "good"]
        assert private[0].private_pgr.mean == pytest.approx(np.mean(good))
        assert private[0].private_pgr.n == 3


def test_task_registration_errors(tmp_path: Path) -> None:
    task, _ = toy_task()
    with running_hub(tmp_path) as hub:
        with pytest.raises(HubError, match="operator only"):
            hub.researcher("alice").register_task(task)
        bad = task.model_copy(update={"weak": {0: task.ceiling[0]}, "ceiling": {0: task.weak[0]}})
        with pytest.raises(HubError, match=r"ceiling .* must beat weak"):
            hub.operator.register_task(bad)
        short = task.model_copy(update={"weak": {0: task.weak[0][:-1]}})
        with pytest.raises(HubError, match=r"weak\[0\] has 399 entries; expected 400"):
            hub.operator.register_task(short)
        assert hub.operator.tasks() == []
        hub.operator.register_task(task)
        with pytest.raises(HubError, match="already registered") as again:
            hub.operator.register_task(task)
        assert again.value.status == 409
