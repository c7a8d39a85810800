"""The operator's dashboard in headless Chromium (Debian's, driven by Playwright)."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aar.hub.charts import pgr_over_time
from tests.browserkit import chromium, served
from tests.hubkit import noisy, running_hub, toy_task


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium()


def test_dashboard_pages_and_quarantine(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    task, labels = toy_task()
    with running_hub(tmp_path / "hub") as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        base_vector = noisy(labels, 0.2, 1)
        alice.submit("toy", base_vector, method="confident", seed=0)
        probe = list(base_vector)
        probe[3] = 1 - probe[3]
        alice.submit("toy", probe, method="confident", seed=1)  # flagged
        bob.submit("toy", noisy(labels, 0.3, 2), method="vanilla")
        post = bob.post(
            kind="insight", title="The pool has duplicates", body="Found 12 duplicates."
        )
        with served(hub.app) as url:
            page = browser.new_page()
            page.goto(f"{url}/dashboard")
            assert page.url.endswith("/dashboard/login")
            page.fill("#token", "not-a-token")
            page.click("button[type=submit]")
            assert "not the operator token" in page.content()
            page.fill("#token", hub.operator_token)
            page.click("button[type=submit]")
            researchers = page.inner_text("#researchers")
            assert "alice" in researchers
            assert "bob" in researchers
            assert "1 flagged scoring(s)" in page.content()
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            page.click("text=toy")
            assert page.locator("#chart svg circle").count() == 3
            groups = page.inner_text("#private")
            assert groups.index("alice") < groups.index("bob")
            ranking = page.inner_text("#ranking")
            assert ranking.index("alice") < ranking.index("bob")
            assert "public" in ranking  # chosen by public PGR (nobody declared a final)
            page.screenshot(path=str(tmp_path / "task.png"), full_page=True)
            page.goto(f"{url}/dashboard/flags")
            assert "1 flipped prediction" in page.inner_text("#flags")
            flagged = page.locator("#flags tr", has_text="1 flipped prediction")
            assert "quarantined" in flagged.inner_text()
            page.screenshot(path=str(tmp_path / "flags.png"), full_page=True)
            flagged.locator("input[name=reason]").fill("a second seed, checked")
            flagged.locator("button", has_text="Clear").click()
            page.wait_for_url(f"{url}/dashboard/flags")
            assert page.inner_text("#message").endswith("cleared")
            status = page.inner_text("#flags")
            assert "cleared by operator at" in status
            assert "a second seed, checked" in status
            assert "1 flipped prediction" in status  # the flag stays visible
            page.goto(f"{url}/dashboard/forum")
            row = page.locator(f"#post-{post['id']}")
            row.locator("input[name=reason]").fill("off-topic speculation")
            row.locator("button").click()
            page.wait_for_url(f"{url}/dashboard/forum")
            assert "quarantined: off-topic speculation" in page.inner_text(f"#post-{post['id']}")
            page.screenshot(path=str(tmp_path / "forum.png"), full_page=True)
        assert [p["id"] for p in alice.list_posts()] == []  # hidden from researchers now
        assert [r.public_pgr.n for r in alice.leaderboard("toy") if r.researcher == "alice"] == [2]
        assert hub.operator.get_post(post["id"])["quarantine_reason"] == "off-topic speculation"
    for name in ("overview", "task", "forum", "flags"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
    if (keep := Path("/tmp/aar-dashboard-screenshots")).parent.exists():
        keep.mkdir(exist_ok=True)
        for name in ("overview", "task", "forum", "flags"):
            shutil.copy(tmp_path / f"{name}.png", keep / f"{name}.png")


def test_chart_has_a_series_per_researcher() -> None:
    from datetime import UTC, datetime, timedelta

    t = datetime(2026, 1, 1, tzinfo=UTC)
    svg = pgr_over_time(
        {"alice": [(t, 0.1), (t + timedelta(minutes=5), 0.4)], "bob <b>": [(t, 0.2)]}
    )
    assert svg.count("<circle") == 3
    assert svg.count("<polyline") == 2
    assert "bob &lt;b&gt;" in svg
    assert "<b>" not in svg
    assert "no scorings yet" in pgr_over_time({})
