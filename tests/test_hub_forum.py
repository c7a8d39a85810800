"""The hub's forum through its HTTP interface and the typed client: posts, replies, votes,
tags, links, search, incremental sync, quarantine, and refusals of bad input."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from aar.hub.client import HubClient, HubError
from tests.hubkit import Hub, running_hub, toy_task

KINDS = ["result", "hypothesis", "insight", "error", "question"]


@pytest.fixture
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    """A running hub on SQLite, or on PostgreSQL for tests marked ``ON_BOTH``."""
    settings = {}
    if getattr(request, "param", "sqlite") == "postgres":
        settings["database_url"] = request.getfixturevalue("postgres_url")
    with running_hub(tmp_path, **settings) as running:
        yield running


# The tests whose SQL differs by dialect (LIKE escapes, JSON as text, the writers' lock).
ON_BOTH = pytest.mark.parametrize("hub", ["sqlite", "postgres"], indirect=True)


def post(client: HubClient, **fields: Any) -> httpx.Response:
    """A raw POST /forum/posts with sensible defaults for the fields not given."""
    body = {"kind": "result", "title": "a title", "body": "a body"} | fields
    return client.http.post("/forum/posts", json=body)


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    detail: str = response.json()["detail"]
    return detail


def ids(posts: list[dict[str, Any]]) -> list[str]:
    return [p["id"] for p in posts]


def everything(client: HubClient) -> list[dict[str, Any]]:
    return client.sync(0, limit=5000)["items"]


def test_each_kind_is_posted_and_read_back(hub: Hub) -> None:
    alice = hub.researcher("alice")
    seqs = []
    for kind in KINDS:
        made = alice.post(kind, f"A {kind}", f"The {kind} in detail.", tags=["toy", kind])
        assert made["kind"] == kind
        assert made["author"] == "alice"
        assert (made["score"], made["replies"], made["parent_id"]) == (0, 0, None)
        assert "quarantined" not in made  # the researcher's view has no operator fields
        again = alice.get_post(made["id"])
        assert again == made
        assert again["title"] == f"A {kind}"
        assert again["body"] == f"The {kind} in detail."
        assert again["tags"] == ["toy", kind]
        assert len(made["id"]) == 32  # a uuid4 in hex when the client chose none
        seqs.append(made["seq"])
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(KINDS)
    assert [p["kind"] for p in alice.list_posts()] == KINDS[::-1]  # newest first


def test_guidance_is_for_the_operator_only(hub: Hub) -> None:
    alice = hub.researcher("alice")
    detail = refused(post(alice, kind="guidance", title="Do this"), 403)
    assert detail == "kind 'guidance' is for the operator only"
    assert alice.list_posts() == []
    guidance = hub.operator.post("guidance", "Read the rules", "No probing.", post_id="rules")
    assert guidance["kind"] == "guidance"
    assert guidance["author"] == "operator"
    assert guidance["quarantined"] is False
    assert guidance["quarantine_reason"] is None
    seen = alice.get_post("rules")
    assert (seen["kind"], seen["author"], seen["body"]) == ("guidance", "operator", "No probing.")
    assert ids(alice.list_posts(kind="guidance")) == ["rules"]


def test_replies_and_reply_counts(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    root = alice.post("question", "Why does PGR drop?", "On sst2 with 3 seeds.", post_id="root")
    first = bob.post("hypothesis", "Overfitting", "The student memorises.", parent_id="root")
    second = alice.post("insight", "Seed 2 is odd", "It diverges.", parent_id="root")
    nested = bob.post("result", "Confirmed", "Dropout fixes it.", parent_id=first["id"])
    assert first["parent_id"] == "root"
    assert nested["parent_id"] == first["id"]
    assert alice.get_post("root")["replies"] == 2  # direct replies only
    assert bob.get_post(first["id"])["replies"] == 1
    assert ids(alice.list_posts(parent="root")) == [second["id"], first["id"]]
    assert alice.get_post("root")["seq"] > root["seq"]  # a reply is a change to its parent
    detail = refused(post(alice, parent_id="nowhere"), 404)
    assert detail == "parent_id: no post with id 'nowhere'"
    assert len(everything(alice)) == 4


@ON_BOTH
def test_votes_are_one_per_account_and_can_be_taken_back(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    made = alice.post("result", "PGR 0.6", "confident loss", post_id="p")
    assert alice.vote("p", 1)["score"] == 1
    assert alice.vote("p", 1)["score"] == 1  # the same vote again is not counted twice
    assert bob.vote("p", 1)["score"] == 2
    assert bob.vote("p", -1)["score"] == 0  # changed, not added
    assert alice.vote("p", 0)["score"] == -1  # taken back
    assert alice.vote("p", 0)["score"] == -1  # taking back nothing changes nothing
    assert hub.operator.get_post("p")["score"] == -1
    assert alice.get_post("p")["seq"] > made["seq"]
    for bad in (2, -2, True, 1.5, "1"):
        response = alice.http.post("/forum/posts/p/votes", json={"value": bad})
        assert refused(response, 422).startswith("value:")
    assert bob.get_post("p")["score"] == -1
    assert refused(alice.http.post("/forum/posts/nope/votes", json={"value": 1}), 404) == (
        "no post with id 'nope'"
    )


@ON_BOTH
def test_tags_kind_and_author_filters(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    a = alice.post("result", "one", "x", tags=["sst2", "a_b", "sst2"])
    b = bob.post("insight", "two", "x", tags=["geofacts", "axb"])
    c = bob.post("result", "three", "x", tags=["sst2-large"])
    assert a["tags"] == ["sst2", "a_b"]  # duplicates collapse, order kept
    assert ids(alice.list_posts(tag="sst2")) == [a["id"]]  # whole tags, not prefixes
    assert ids(alice.list_posts(tag="a_b")) == [a["id"]]  # '_' is not a wildcard
    assert ids(alice.list_posts(tag="sst2-large")) == [c["id"]]
    assert alice.list_posts(tag="nothing") == []
    assert ids(alice.list_posts(kind="result")) == [c["id"], a["id"]]
    assert ids(alice.list_posts(author="bob")) == [c["id"], b["id"]]
    assert ids(alice.list_posts(author="bob", kind="insight")) == [b["id"]]
    assert ids(alice.list_posts(limit=1)) == [c["id"]]
    assert alice.list_posts(author="nobody") == []
    assert refused(alice.http.get("/forum/posts", params={"kind": "rant"}), 422).startswith(
        "query.kind:"
    )


def test_links_to_scorings_and_snapshots(hub: Hub) -> None:
    task, labels = toy_task()
    hub.operator.register_task(task)
    alice = hub.researcher("alice")
    scoring = alice.submit("toy", [int(v) for v in labels], method="oracle")
    made = alice.post(
        "result",
        "Oracle run",
        "all labels right",
        scorings=[scoring.id, scoring.id],
        snapshots=["snap-1", "snap.2"],
    )
    assert made["links"] == {"scorings": [scoring.id], "snapshots": ["snap-1", "snap.2"]}
    assert alice.get_post(made["id"])["links"] == made["links"]
    cursor = alice.sync()["cursor"]
    missing = post(alice, id="bad-link", links={"scorings": [scoring.id, 999, 1000]})
    assert refused(missing, 422) == "links.scorings: no scoring with id 999, 1000"
    assert refused(post(alice, links={"scorings": ["x"]}), 422).startswith("links.scorings.0:")
    assert refused(post(alice, links={"snapshots": ["a b"]}), 422).startswith("links.snapshots.0:")
    assert refused(post(alice, links={"runs": [1]}), 422).startswith("links.runs:")
    assert refused(alice.http.get("/forum/posts/bad-link"), 404) == "no post with id 'bad-link'"
    assert alice.sync(cursor)["items"] == []  # nothing half-written


@ON_BOTH
def test_search_finds_words_and_ranks_title_hits_first(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    body_only = alice.post(
        "insight", "Notes from Tuesday", "Confidence thresholding helped a little on geofacts."
    )
    title_hit = bob.post(
        "result", "Confidence thresholding beats vanilla", "PGR 0.41 against 0.30 on geofacts."
    )
    tagged = alice.post("hypothesis", "Maybe", "the weak labels are noisy", tags=["thresholding"])
    other = bob.post("question", "Learning rate?", "Which rate for the student (a_c)?")
    assert ids(alice.search("thresholding confidence")) == [title_hit["id"], body_only["id"]]
    assert ids(alice.search("CONFIDENCE Thresholding")) == [title_hit["id"], body_only["id"]]
    assert ids(alice.search("thresholding")) == [title_hit["id"], tagged["id"], body_only["id"]]
    assert ids(alice.search("geofacts")) == [title_hit["id"], body_only["id"]]  # then newest
    assert alice.search("confidence banana") == []  # every word must occur
    assert ids(alice.search("a_c")) == [other["id"]]
    assert alice.search("abc") == []  # '_' in a query is a character, not a wildcard
    assert ids(alice.search("thresholding", limit=1)) == [title_hit["id"]]
    hit = alice.search("vanilla")[0]
    assert (hit["author"], hit["body"]) == ("bob", "PGR 0.41 against 0.30 on geofacts.")
    assert refused(alice.http.get("/forum/search", params={"q": "%% !"}), 422) == (
        "q: the query has no words to search for"
    )
    assert refused(alice.http.get("/forum/search", params={"q": ""}), 422).startswith("query.q:")


@ON_BOTH
def test_sync_returns_changes_since_a_cursor(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    start = alice.sync()
    assert start == {"items": [], "cursor": 0, "more": False}
    made = [alice.post("result", f"post {i}", "x", post_id=f"p{i}") for i in range(3)]
    first = alice.sync()
    assert ids(first["items"]) == ["p0", "p1", "p2"]
    assert first["items"] == made
    assert first["cursor"] == made[-1]["seq"]
    assert first["more"] is False
    assert alice.sync(first["cursor"]) == {"items": [], "cursor": first["cursor"], "more": False}

    bob.vote("p0", 1)
    reply = bob.post("insight", "re", "y", parent_id="p1")
    second = alice.sync(first["cursor"])
    assert ids(second["items"]) == ["p0", reply["id"], "p1"]  # in change order
    assert second["items"][0]["score"] == 1
    assert second["items"][2]["replies"] == 1
    seqs = [item["seq"] for item in second["items"]]
    assert seqs == sorted(seqs)
    assert second["cursor"] == seqs[-1]
    assert alice.sync(second["cursor"])["items"] == []

    page = alice.sync(0, limit=2)
    assert ids(page["items"]) == ["p2", "p0"]
    assert page["more"] is True
    rest = alice.sync(page["cursor"], limit=2)
    assert ids(rest["items"]) == [reply["id"], "p1"]
    assert rest["more"] is False


def test_sync_shows_quarantine_as_a_tombstone_to_researchers(hub: Hub) -> None:
    alice = hub.researcher("alice")
    alice.post("result", "fine", "x", post_id="ok")
    alice.post("result", "leaks labels", "here are the test labels", post_id="bad")
    cursor = alice.sync()["cursor"]
    hub.operator.quarantine("bad", "shares test labels")
    change = alice.sync(cursor)
    [tombstone] = change["items"]
    assert tombstone == {"id": "bad", "seq": change["cursor"], "hidden": True}
    assert "leaks" not in str(alice.sync(0))
    [full] = hub.operator.sync(cursor)["items"]
    assert full["quarantined"] is True
    assert full["quarantine_reason"] == "shares test labels"
    assert full["body"] == "here are the test labels"
    hub.operator.release("bad")
    [back] = alice.sync(change["cursor"])["items"]
    assert (back["id"], back["title"]) == ("bad", "leaks labels")
    assert "hidden" not in back


@ON_BOTH
def test_quarantine_hides_a_post_from_researchers_and_keeps_it(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    alice.post("question", "Parent", "x", post_id="parent")
    alice.post("result", "Labels inside", "probe results", post_id="bad", parent_id="parent")
    bob.vote("bad", 1)
    assert bob.get_post("parent")["replies"] == 1
    held = hub.operator.quarantine("bad", "  label probing  ")
    assert held["quarantined"] is True
    assert held["quarantine_reason"] == "label probing"

    assert refused(bob.http.get("/forum/posts/bad"), 404) == "no post with id 'bad'"
    assert ids(bob.list_posts()) == ["parent"]
    assert bob.list_posts(parent="parent") == []
    assert bob.search("probe") == []
    assert bob.get_post("parent")["replies"] == 0
    assert refused(bob.http.post("/forum/posts/bad/votes", json={"value": -1}), 404)
    assert refused(post(bob, parent_id="bad"), 404) == "parent_id: no post with id 'bad'"

    kept = hub.operator.get_post("bad")
    assert kept["quarantined"] is True
    assert kept["quarantine_reason"] == "label probing"
    assert (kept["body"], kept["score"], kept["author"]) == ("probe results", 1, "alice")
    assert ids(hub.operator.list_posts()) == ["bad", "parent"]
    assert ids(hub.operator.search("probe")) == ["bad"]
    assert hub.operator.get_post("parent")["replies"] == 1
    op_reply = post(hub.operator, parent_id="bad")
    assert refused(op_reply, 422) == "parent_id: post 'bad' is quarantined; it takes no replies"

    released = hub.operator.release("bad")
    assert released["quarantined"] is False
    assert released["quarantine_reason"] is None
    assert bob.get_post("bad")["body"] == "probe results"
    assert ids(bob.search("probe")) == ["bad"]
    assert bob.get_post("parent")["replies"] == 1
    again = hub.operator.http.post("/forum/posts/bad/release")
    assert refused(again, 409) == "post 'bad' is not quarantined"


def test_only_the_operator_quarantines(hub: Hub) -> None:
    alice = hub.researcher("alice")
    alice.post("result", "mine", "x", post_id="p")
    with pytest.raises(HubError, match="operator only") as error:
        alice.quarantine("p", "I do not like it")
    assert error.value.status == 403
    assert refused(alice.http.post("/forum/posts/p/release"), 403).endswith("operator only")
    assert alice.get_post("p")["title"] == "mine"
    assert hub.operator.get_post("p")["quarantined"] is False
    blank = hub.operator.http.post("/forum/posts/p/quarantine", json={"reason": "   "})
    assert refused(blank, 422).startswith("reason:")
    long = hub.operator.http.post("/forum/posts/p/quarantine", json={"reason": "x" * 2001})
    assert refused(long, 422).startswith("reason:")
    unknown = hub.operator.http.post("/forum/posts/nope/quarantine", json={"reason": "r"})
    assert refused(unknown, 404) == "no post with id 'nope'"
    assert hub.operator.get_post("p")["quarantined"] is False


@ON_BOTH
def test_duplicate_post_id_is_refused_and_the_original_kept(hub: Hub) -> None:
    alice, bob = hub.researcher("alice"), hub.researcher("bob")
    original = alice.post("result", "Original", "first words", tags=["keep"], post_id="alice-1")
    cursor = alice.sync()["cursor"]
    for client, title in ((alice, "Original"), (bob, "Overwrite")):
        retry = post(client, id="alice-1", title=title, body="other words", tags=["new"])
        assert refused(retry, 409) == "a post with id 'alice-1' already exists"
    with pytest.raises(HubError, match="already exists") as error:
        bob.post("result", "Again", "x", post_id="alice-1")
    assert error.value.status == 409
    assert alice.get_post("alice-1") == original
    assert alice.sync(cursor)["items"] == []  # no change recorded
    assert ids(everything(alice)) == ["alice-1"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "rant"}, "kind"),
        ({"kind": None}, "kind"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"body": ""}, "body"),
        ({"body": " \n "}, "body"),
        ({"body": "b" * 50_001}, "body"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["Bad Tag"]}, "tags.0"),
        ({"tags": ["x" * 41]}, "tags.0"),
        ({"id": "has space"}, "id"),
        ({"id": ".."}, "id"),
        ({"id": "i" * 65}, "id"),
        ({"parent_id": "a/b"}, "parent_id"),
        ({"score": 99}, "score"),
    ],
)
def test_bad_post_fields_are_refused_by_name(hub: Hub, fields: dict[str, Any], field: str) -> None:
    alice = hub.researcher("alice")
    detail = refused(post(alice, **fields), 422)
    assert detail.split(":")[0] == field, detail
    assert everything(hub.operator) == []


def test_limits_are_exact(hub: Hub) -> None:
    alice = hub.researcher("alice")
    made = alice.post("result", "t" * 200, "b" * 50_000, tags=[f"t{i}" for i in range(20)])
    assert len(made["title"]) == 200
    assert len(made["body"]) == 50_000
    assert len(made["tags"]) == 20
    assert alice.post("error", "  padded  ", "x")["title"] == "padded"


def test_tokens_are_required(hub: Hub) -> None:
    anonymous = hub.anonymous()
    hub.researcher("alice").post("result", "t", "b", post_id="p")
    calls = [
        anonymous.post("/forum/posts", json={"kind": "result", "title": "t", "body": "b"}),
        anonymous.get("/forum/posts/p"),
        anonymous.get("/forum/posts"),
        anonymous.post("/forum/posts/p/votes", json={"value": 1}),
        anonymous.get("/forum/search", params={"q": "t"}),
        anonymous.get("/forum/sync"),
        anonymous.post("/forum/posts/p/quarantine", json={"reason": "r"}),
        anonymous.post("/forum/posts/p/release"),
    ]
    for response in calls:
        assert refused(response, 401) == "missing bearer token (Authorization: Bearer <token>)"
    wrong = anonymous.get("/forum/sync", headers={"Authorization": "Bearer nope"})
    assert refused(wrong, 401) == "invalid token"
    assert [p["id"] for p in everything(hub.operator)] == ["p"]


def test_unknown_posts_are_404(hub: Hub) -> None:
    alice = hub.researcher("alice")
    with pytest.raises(HubError, match="no post with id 'ghost'") as error:
        alice.get_post("ghost")
    assert error.value.status == 404
    with pytest.raises(HubError, match="no post with id 'ghost'"):
        alice.vote("ghost", 1)
    with pytest.raises(HubError, match="no post with id 'ghost'"):
        hub.operator.release("ghost")
    assert alice.sync()["cursor"] == 0  # refused writes leave no change behind


@ON_BOTH
def test_concurrent_posts_with_one_id_store_exactly_one(hub: Hub) -> None:
    writers = [hub.researcher(f"r{i}") for i in range(6)]

    def attempt(index: int) -> int:
        client = writers[index]
        return post(client, id="race", title=f"by r{index}").status_code

    with ThreadPoolExecutor(len(writers)) as pool:
        statuses = sorted(pool.map(attempt, range(len(writers))))
    assert statuses == [201] + [409] * (len(writers) - 1)
    [stored] = everything(hub.operator)
    assert stored["title"] == f"by {stored['author']}"

    with ThreadPoolExecutor(len(writers)) as pool:
        scores = list(pool.map(lambda c: c.vote("race", 1)["score"], writers))
    assert sorted(scores)[-1] == len(writers) == hub.operator.get_post("race")["score"]
    seqs = [item["seq"] for item in everything(hub.operator)]
    assert len(seqs) == 1
    assert seqs[0] == hub.operator.sync()["cursor"]
