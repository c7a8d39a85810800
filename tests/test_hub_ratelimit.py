"""Rate limits through the HTTP interface: 429 with Retry-After before any database work, per
account (anonymous callers per peer), a forum posting limit, one audit row per caller for a
flood of refusals, and audit rows a researcher writes marked as its claims."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from aar.hub.client import BudgetExceededError
from aar.hub.ratelimit import Caller, Limit, Refusal, RefusalTally
from tests.hubkit import running_hub, toy_task

NO_REFILL = 1e-6  # tokens per second: a bucket that does not refill during a test


def test_a_flood_is_refused_with_429_and_others_are_unaffected(tmp_path: Path) -> None:
    limits = {"rate_limit_per_second": NO_REFILL, "rate_limit_burst": 5}
    with running_hub(tmp_path, **limits) as hub:
        hub.operator.register_task(toy_task()[0])
        alice, mallory = hub.researcher("alice"), hub.researcher("mallory")
        statuses = [mallory.http.get("/tasks").status_code for _ in range(20)]
        assert statuses[:5] == [200] * 5
        assert set(statuses[5:]) == {429}
        refused = mallory.http.get("/tasks")
        assert int(refused.headers["Retry-After"]) >= 1
        body = refused.json()
        assert body["detail"].startswith("too many requests: the hub allows 1e-06 requests")
        assert body["retry_after"] == int(refused.headers["Retry-After"])
        assert body["resets_at"]
        with pytest.raises(BudgetExceededError, match="too many requests") as raised:
            mallory.tasks()
        assert raised.value.resets_at is not None
        assert [t.name for t in alice.tasks()] == ["toy"]  # another researcher: its own bucket
        for _ in range(30):  # the operator (the campaign supervisor polls) is never limited
            assert hub.operator.http.get("/accounts").status_code == 200


def test_invented_tokens_share_their_peer_bucket(tmp_path: Path) -> None:
    limits = {"rate_limit_per_second": NO_REFILL, "rate_limit_burst": 20}
    with running_hub(tmp_path, **limits) as hub:
        alice = hub.researcher("alice")
        alice.me()  # alice's token is now known to be valid: it has a bucket of its own
        client = hub.anonymous()
        statuses = [
            client.get("/me", headers={"Authorization": f"Bearer {secrets.token_hex(8)}"})
            for _ in range(40)
        ]
        # the peer's whole burst of 20 (the operator's and alice's tokens were known from
        # the start, so they never paid from it), then refusals
        assert [s.status_code for s in statuses] == [401] * 20 + [429] * 20
        assert client.get("/healthz").status_code == 429  # anonymous: the same peer
        assert alice.me().name == "alice"


def test_variants_of_one_token_share_its_bucket(tmp_path: Path) -> None:
    """Characters that authentication strips from the token (Python's str.strip: the
    separators \\x1c-\\x1f, which bytes.strip keeps) must not make it a new caller with a
    fresh bucket."""
    limits = {"rate_limit_per_second": NO_REFILL, "rate_limit_burst": 5}
    with running_hub(tmp_path, **limits) as hub:
        token = hub.operator.create_researcher("mallory").token
        client = hub.anonymous()
        tails = [b"", b"\x1f", b"\x1e", b"\x1d", b"\x1c", b"\x1f\x1f", b"\x1c\t", b"  "]
        statuses = [
            client.get("/me", headers={"Authorization": b"Bearer " + token.encode() + tail})
            for tail in tails
        ]
        assert [s.status_code for s in statuses] == [200] * 5 + [429] * 3
        assert all(s.json()["name"] == "mallory" for s in statuses[:5])


def test_draining_the_peer_bucket_locks_no_researcher_out(tmp_path: Path) -> None:
    """All sandboxes reach the hub from one peer (its Unix socket). Requests without a token
    drain that peer's bucket; a researcher created afterwards, and every researcher after a
    restart of the hub, still gets through: their tokens are known before they are used."""
    limits = {"rate_limit_per_second": NO_REFILL, "rate_limit_burst": 5}
    with running_hub(tmp_path, **limits) as hub:
        alice = hub.researcher("alice")
        client = hub.anonymous()
        assert [client.get("/healthz").status_code for _ in range(7)] == [200] * 5 + [429] * 2
        bob_token = hub.operator.create_researcher("bob").token  # the peer's bucket is empty
        bob = hub.as_token(bob_token)
        assert bob.me().name == "bob"
        assert alice.me().name == "alice"
        rotated = hub.as_token(hub.operator.rotate_token("alice").token)
        assert rotated.me().name == "alice"
        # the old token is void: unknown again, it pays from the drained peer bucket
        assert alice.http.get("/me").status_code == 429
    with running_hub(tmp_path, **limits) as restarted:  # a fresh process: fresh buckets
        client = restarted.anonymous()
        assert [client.get("/healthz").status_code for _ in range(7)] == [200] * 5 + [429] * 2
        assert restarted.as_token(bob_token).me().name == "bob"


def test_refusals_are_audited_as_one_row_per_caller(tmp_path: Path) -> None:
    limits = {"rate_limit_per_second": NO_REFILL, "rate_limit_burst": 3}
    with running_hub(tmp_path, **limits) as hub:
        mallory = hub.researcher("mallory")
        statuses = [mallory.http.get(f"/forum/posts/p{i}").status_code for i in range(60)]
        assert statuses == [404] * 3 + [429] * 57
        refused = 57
        log = hub.operator.audit(actor="mallory")
        rows = [e for e in log if e.kind == "rate_limited"]
        assert len(rows) == 1
        [row] = rows
        assert row.status == 429
        assert row.detail["refused"] == refused
        assert row.detail["limits"] == {"requests": refused}
        assert row.detail["last"] == "GET /forum/posts/p59"
        assert row.action.startswith(f"{refused} request(s) refused, first GET /forum/posts/p")
        requests = [e for e in log if e.kind == "request"]
        assert len(requests) == 60 - refused  # the refused ones have no row each
        assert all(e.status != 429 for e in requests)
        stats = hub.operator.http.get("/stats").json()
        assert stats["rate_limited"] == refused
        dashboard = hub.anonymous()
        dashboard.post("/dashboard/login", data={"token": hub.operator_token})
        page = dashboard.get("/dashboard/audit", params={"kind": "rate_limited"}).text
        assert f"{refused} request(s) refused" in page


def test_the_forum_posting_limit(tmp_path: Path) -> None:
    limits = {"forum_posts_per_minute": 3, "forum_votes_per_minute": 2}
    with running_hub(tmp_path, **limits) as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        first = alice.post("result", "one", "body")
        alice.post("result", "two", "body")
        alice.post("result", "a reply", "body", parent_id=first["id"])  # replies count too
        spam = alice.http.post("/forum/posts", json={"kind": "result", "title": "4", "body": "x"})
        assert spam.status_code == 429
        assert "3 forum posts and replies a minute" in spam.json()["detail"]
        assert int(spam.headers["Retry-After"]) >= 1
        assert len(alice.list_posts(author="alice")) == 3  # nothing stored on refusal
        for value in (1, -1):
            bob.vote(first["id"], value)
        assert bob.http.post(
            f"/forum/posts/{first['id']}/votes", json={"value": 1}
        ).status_code == (429)
        assert bob.post("question", "bob may still post", "yes")["author"] == "bob"
        assert alice.list_posts(limit=10)  # reading is not a post
        for index in range(5):  # the operator's guidance is never limited
            hub.operator.post("guidance", f"rule {index}", "read the rules")


def test_tool_call_rows_are_marked_as_the_researchers_claims(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub:
        alice = hub.researcher("alice")
        alice.me()
        forged = {"claimed": False, "kind": "request", "status": 200}
        alice.record_tool_call("POST /tasks/toy/submissions", forged, result_summary="201")
        log = hub.operator.audit(actor="alice")
        [claim] = [e for e in log if e.kind == "tool_call"]
        assert claim.claimed_by == "alice"
        assert claim.detail["claimed"] is True
        assert claim.detail["arguments"] == forged  # kept, but only as what alice said
        assert claim.status == 0
        requests = [e for e in log if e.kind == "request"]
        assert requests
        assert all(e.claimed_by is None for e in requests)
        exported = [line for line in hub.operator.export_audit() if '"tool_call"' in line]
        assert '"claimed_by": "alice"' in exported[0]
        dashboard = hub.anonymous()
        dashboard.post("/dashboard/login", data={"token": hub.operator_token})
        page = dashboard.get("/dashboard/audit", params={"kind": "tool_call"}).text
        assert "claimed by alice" in page
        assert "POST /tasks/toy/submissions" in page


def test_the_tally_writes_one_row_per_caller_per_interval() -> None:
    now = [0.0]
    tally = RefusalTally(10.0, clock=lambda: now[0])
    limit = Limit("requests", 1.0, 1, "1 requests per second (bursts of 1)")
    mallory = Caller("account:abc", "mallory", "abc", "127.0.0.1")
    stranger = Caller("account:def", "anonymous", "def", "10.0.0.7", gate="peer:10.0.0.7")
    written = []
    for step in range(100):  # 25 s of refusals, 4 a second, from each
        now[0] = step / 4
        written += tally.add(mallory, f"GET /tasks?step={step}", Refusal(limit, 1.0, mallory.key))
        written += tally.add(stranger, "GET /me", Refusal(limit, 1.0, "peer:10.0.0.7"))
    assert sorted(row["actor"] for row in written) == ["anonymous"] * 2 + ["mallory"] * 2
    # one row each when 10 s had passed, and again when 10 more had; the rest on a flush
    written += tally.rows(everything=True)
    assert len(written) == 6
    assert tally.total == 200
    for actor in ("mallory", "anonymous"):
        rows = [row for row in written if row["actor"] == actor]
        assert sum(row["detail"]["refused"] for row in rows) == 100
    first = written[0]
    assert first["kind"] == "rate_limited"
    assert first["status"] == 429
    assert first["detail"]["first"] == "GET /tasks?step=0"
    assert first["detail"]["limits"] == {"requests": first["detail"]["refused"]}
    assert written[1]["detail"]["peer"] == "10.0.0.7"
