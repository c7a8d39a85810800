"""The operator's controls: pause, resume, stop, budgets, guidance and quarantine, from the
dashboard's forms (CSRF-protected) and from ``aar hub ...``; each effect seen through the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from aar.cli.main import app as cli
from aar.hub.client import BudgetExceededError, HubClient, HubError
from tests.browserkit import chromium, served
from tests.hubkit import Hub, noisy, running_hub, toy_task
from tests.servekit import served_hub

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with running_hub(tmp_path / "hub", submissions_per_hour=100, submissions_total=2) as hub:
        hub.operator.register_task(toy_task()[0])
        yield hub


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium()


def logged_in(hub: Hub) -> TestClient:
    client = hub.anonymous()
    client.post("/dashboard/login", data={"token": hub.operator_token})
    return client


def csrf_of(client: TestClient, page: str = "/dashboard") -> str:
    match = CSRF.search(client.get(page).text)
    assert match is not None, "the page has no form with a CSRF token"
    return match.group(1)


def act(client: TestClient, path: str, back: str = "/dashboard", **form: str) -> str:
    """Post a dashboard form with this session's token; returns the message shown after."""
    data = {"csrf": csrf_of(client, back), **form}
    answer = client.post(path, data=data, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == back
    match = re.search(r'<p id="message"[^>]*>([^<]*)</p>', client.get(back).text)
    assert match is not None, "no message after the action"
    return match.group(1).replace("&#39;", "'")


def submit(researcher: HubClient, seed: int) -> None:
    researcher.submit("toy", noisy(toy_task()[1], 0.2, seed), method="m", seed=seed)


def status_of(hub: Hub, name: str) -> str:
    return {a.name: a.status for a in hub.operator.accounts()}[name]


# --- dashboard -----------------------------------------------------------------------------


def test_pause_resume_and_stop_from_the_dashboard(hub: Hub) -> None:
    alice, client = hub.researcher("alice"), logged_in(hub)
    status = "/dashboard/researchers/alice/status"
    assert act(client, status, status="paused") == "alice paused"
    assert status_of(hub, "alice") == "paused"
    with pytest.raises(HubError, match="paused by the operator"):
        submit(alice, 0)
    assert act(client, status, status="active") == "alice resumed"
    submit(alice, 0)
    assert act(client, status, status="stopped") == "alice stopped"
    with pytest.raises(HubError, match="alice is stopped"):
        alice.me()
    assert "alice resumed" in act(client, status, status="active")
    assert alice.me().status == "active"


def test_add_a_researcher_from_the_dashboard(hub: Hub) -> None:
    client = logged_in(hub)
    message = act(client, "/dashboard/researchers", name="carol")
    assert message == "researcher carol added (a running campaign starts it)"
    assert status_of(hub, "carol") == "active"
    assert "already exists" in act(client, "/dashboard/researchers", name="carol")
    assert "name" in act(client, "/dashboard/researchers", name="bad name!")
    assert [a.name for a in hub.operator.accounts()].count("carol") == 1


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(hub: Hub) -> None:
    hub.researcher("alice")
    client = logged_in(hub)
    status = "/dashboard/researchers/alice/status"
    for form in ({"status": "paused"}, {"status": "paused", "csrf": "0" * 64}):
        answer = client.post(status, data=form, follow_redirects=False)
        assert answer.status_code == 403
        assert "did not come from the dashboard" in answer.text
    old_token = csrf_of(client)
    logged_in(hub)  # another login is another session; it does not make old tokens work
    fresh = logged_in(hub)
    assert csrf_of(fresh) != old_token
    answer = fresh.post(status, data={"status": "paused", "csrf": old_token})
    assert answer.status_code == 403
    anonymous = hub.anonymous().post(status, data={"status": "paused"}, follow_redirects=False)
    assert anonymous.headers["location"] == "/dashboard/login"
    assert status_of(hub, "alice") == "active"
    login = hub.anonymous().post(
        "/dashboard/login", data={"token": hub.operator_token}, follow_redirects=False
    )
    for cookie in login.headers.get_list("set-cookie"):
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie


def test_budget_forms_extend_and_cut(hub: Hub) -> None:
    alice, client = hub.researcher("alice"), logged_in(hub)
    budget = "/dashboard/researchers/alice/budget"
    submit(alice, 0)
    submit(alice, 1)
    with pytest.raises(BudgetExceededError):
        submit(alice, 2)  # the hub's total of 2
    assert act(client, budget, add_total="1") == "alice: 100 per hour, 3 in total (2 used)"
    submit(alice, 2)  # the extension lets exactly one more through
    with pytest.raises(BudgetExceededError):
        submit(alice, 3)
    assert "5 in total" in act(client, budget, total="5")
    assert "4 in total" in act(client, budget, add_total="-1")
    assert "3 in total" in act(client, budget, total="3")  # = used: no more submissions
    with pytest.raises(BudgetExceededError):
        submit(alice, 3)
    message = act(client, budget, per_hour="1", total="4")
    assert message == "alice: 1 per hour, 4 in total (3 used)"
    with pytest.raises(BudgetExceededError, match="hourly"):
        submit(alice, 3)  # the hour's one submission is long spent
    refusals = {
        "per_hour: Input should be greater than or equal to 1": {"per_hour": "-3"},
        "below the 3 submissions alice has made": {"total": "2"},
        "a total of 1 is below the 3": {"add_total": "-3"},
        "give total or add_total, not both": {"total": "9", "add_total": "1"},
        "nothing to change": {"per_hour": " ", "total": ""},
        "per_hour: Input should be a valid integer": {"per_hour": "lots"},
    }
    for expected, form in refusals.items():
        assert expected in act(client, budget, **form)
    assert "no account named 'nobody'" in act(
        client, "/dashboard/researchers/nobody/budget", total="5"
    )
    budget_now = next(a for a in hub.operator.accounts() if a.name == "alice").budget
    assert (budget_now.per_hour, budget_now.total) == (1, 4)  # no refusal changed anything


def test_guidance_and_quarantine_from_the_dashboard(hub: Hub) -> None:
    alice, bob, client = hub.researcher("alice"), hub.researcher("bob"), logged_in(hub)
    forum = "/dashboard/forum"
    message = act(
        client,
        "/dashboard/forum/guidance",
        forum,
        title="Check the pool for duplicates",
        body="Dedupe before training.",
        tags="data, pool",
    )
    assert message == "guidance posted: Check the pool for duplicates"
    [seen] = alice.list_posts(kind="guidance")
    assert (seen["author"], seen["kind"], seen["tags"]) == (
        "operator",
        "guidance",
        ["data", "pool"],
    )
    assert "body: must not be blank" in act(
        client, "/dashboard/forum/guidance", forum, title="Empty", body="   "
    )
    assert "title: String should have at least 1 character" in act(
        client, "/dashboard/forum/guidance", forum, title="", body="text"
    )
    assert len(alice.list_posts()) == 1

    post = bob.post("insight", "Try the test labels", "They leak through the cache.")
    quarantine = f"/dashboard/forum/{post['id']}/quarantine"
    assert "reason: String should have at least 1 character" in act(
        client, quarantine, forum, reason=" "
    )
    assert act(client, quarantine, forum, reason="cheating") == f"post {post['id']} quarantined"
    assert [p["id"] for p in alice.list_posts()] == [seen["id"]]  # hidden from researchers
    with pytest.raises(HubError, match="no post"):
        alice.get_post(post["id"])
    assert hub.operator.get_post(post["id"])["quarantine_reason"] == "cheating"
    cursor = alice.sync()["cursor"]
    assert "no post with id 'missing'" in act(
        client, "/dashboard/forum/missing/quarantine", forum, reason="x"
    )
    assert alice.sync(since=cursor)["items"] == []  # the refusal left no change behind
    assert act(client, f"/dashboard/forum/{post['id']}/release", forum) == (
        f"post {post['id']} released"
    )
    assert alice.get_post(post["id"])["title"] == "Try the test labels"
    assert "is not quarantined" in act(client, f"/dashboard/forum/{post['id']}/release", forum)


def test_clear_a_quarantined_scoring_from_the_flags_page(hub: Hub) -> None:
    alice, client = hub.researcher("alice"), logged_in(hub)
    held = alice.submit("toy", [0] * 400, method="all zeros").id
    flags = "/dashboard/flags"
    page = client.get(flags).text
    assert f'action="/dashboard/scorings/{held}/clear"' in page
    assert "quarantined" in page
    clear = f"/dashboard/scorings/{held}/clear"
    assert (
        act(client, clear, flags, reason=" ") == "reason: String should have at least 1 character"
    )
    assert hub.operator.scoring(held).quarantined  # the refusal changed nothing
    assert act(client, clear, flags, reason="a deliberate baseline") == f"scoring #{held} cleared"
    cleared = hub.operator.scoring(held)
    assert (cleared.quarantined, cleared.cleared_by) == (False, "operator")
    assert cleared.flag_reason == "trivial prior? 100% of predictions are label 0"
    page = client.get(flags).text
    assert "cleared by operator at" in page
    assert "a deliberate baseline" in page
    assert f'action="/dashboard/scorings/{held}/clear"' not in page
    for path, expected in ((clear, f"scoring #{held} is not quarantined"),
                           ("/dashboard/scorings/999/clear", "no scoring #999")):  # fmt: skip
        client.post(path, data={"csrf": csrf_of(client), "reason": "x"}, follow_redirects=False)
        assert expected in client.get(flags).text
    answer = client.post(clear, data={"reason": "no token"}, follow_redirects=False)
    assert answer.status_code == 403  # the CSRF token is required here too
    [audited] = [e for e in hub.operator.audit(actor="operator") if e.action == f"POST {clear}"][:1]
    assert audited.detail == {
        "dashboard": {"clear": held, "reason": " "},
        "refused": ("reason: String should have at least 1 character"),
    }


def test_dashboard_actions_are_in_the_audit_log(hub: Hub) -> None:
    hub.researcher("alice")
    client = logged_in(hub)
    act(client, "/dashboard/researchers/alice/status", status="paused")
    act(client, "/dashboard/researchers/alice/budget", total="0")
    entries = {
        e.action: e for e in hub.operator.audit(actor="operator") if "/researchers/" in e.action
    }
    paused = entries["POST /dashboard/researchers/alice/status"]
    assert paused.detail == {"dashboard": {"researcher": "alice", "status": "paused"}}
    refused = entries["POST /dashboard/researchers/alice/budget"]
    assert refused.detail["refused"] == "total: Input should be greater than or equal to 1"


# --- the API keeps the same rules ----------------------------------------------------------


def test_the_api_extends_and_cuts_the_total_with_the_same_rules(hub: Hub) -> None:
    alice = hub.researcher("alice")
    submit(alice, 0)
    assert hub.operator.update_account("alice", add_total=3).budget.total == 5
    assert hub.operator.update_account("alice", add_total=-4).budget.total == 1
    with pytest.raises(HubError, match="below the 1 submissions") as refused:
        hub.operator.update_account("alice", add_total=-1)
    assert refused.value.status == 422


# --- the command line ----------------------------------------------------------------------


def aar_hub(served: Any, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["hub", *args, "--url", served.url, "--token", served.operator_token]
    )


def test_operator_commands_against_a_served_hub(tmp_path: Path) -> None:
    with served_hub(tmp_path / "hub", "--total", "1") as served:
        operator = HubClient(served.url, served.operator_token, retries=0)
        operator.register_task(toy_task()[0])
        alice = HubClient(served.url, operator.create_researcher("alice").token, retries=0)

        assert aar_hub(served, "pause", "alice").stdout.strip() == "alice: paused"
        with pytest.raises(HubError, match="paused"):
            submit(alice, 0)
        assert aar_hub(served, "resume", "alice").stdout.strip() == "alice: active"
        submit(alice, 0)
        assert aar_hub(served, "stop", "alice").stdout.strip() == "alice: stopped"
        with pytest.raises(HubError, match="stopped"):
            alice.me()
        aar_hub(served, "resume", "alice")

        with pytest.raises(BudgetExceededError):
            submit(alice, 1)
        added = aar_hub(served, "budget", "alice", "--add", "1", "--per-hour", "7")
        assert added.stdout.strip() == ("alice: 7 per hour (1 used this hour), 2 in total (1 used)")
        submit(alice, 1)
        assert "3 in total" in aar_hub(served, "budget", "alice", "--total", "3").stdout
        assert "2 in total" in aar_hub(served, "budget", "alice", "--add", "-1").stdout
        with pytest.raises(BudgetExceededError):
            submit(alice, 2)
        too_low = aar_hub(served, "budget", "alice", "--add", "-1")
        assert too_low.exit_code != 0
        assert "below the 2 submissions" in str(too_low.exception)
        assert aar_hub(served, "budget", "alice").exit_code == 2  # nothing to change
        unknown = aar_hub(served, "pause", "nobody")
        assert isinstance(unknown.exception, HubError)
        assert "no account named 'nobody'" in unknown.exception.detail

        said = aar_hub(served, "guidance", "Dedupe the pool", "--body", "Before training.")
        assert said.stdout.startswith("guidance ")
        [guidance] = alice.list_posts(kind="guidance")
        assert (guidance["author"], guidance["body"]) == ("operator", "Before training.")

        post = alice.post("insight", "Read the cache", "It holds the labels.")
        hidden = aar_hub(served, "quarantine", post["id"], "--reason", "cheating")
        assert hidden.stdout.strip() == f"post {post['id']} quarantined: cheating"
        with pytest.raises(HubError, match="no post"):
            alice.get_post(post["id"])
        assert aar_hub(served, "release", post["id"]).stdout.strip() == (
            f"post {post['id']} released"
        )
        assert alice.get_post(post["id"])["id"] == post["id"]
        assert httpx.get(f"{served.url}/healthz").status_code == 200


# --- in a browser --------------------------------------------------------------------------


def test_pause_in_chromium(hub: Hub, browser: Any) -> None:
    hub.researcher("alice")
    with served(hub.app) as url:
        page = browser.new_page()
        page.goto(f"{url}/dashboard/login")
        page.fill("#token", hub.operator_token)
        page.click("button[type=submit]")
        row = page.locator("#researcher-alice")
        assert row.locator("td.status").inner_text() == "active"
        row.locator("button", has_text="Pause").click()
        page.wait_for_url(f"{url}/dashboard")
        assert page.inner_text("#message") == "alice paused"
        assert page.locator("#researcher-alice td.status").inner_text() == "paused"
        page.locator("#researcher-alice button", has_text="Resume").click()
        page.wait_for_url(f"{url}/dashboard")
        assert page.locator("#researcher-alice td.status").inner_text() == "active"
    assert status_of(hub, "alice") == "active"
