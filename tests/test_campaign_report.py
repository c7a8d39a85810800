"""The campaign report: its JSON summary, its charts and its self-contained HTML page."""

from __future__ import annotations

import ast
import json
import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import aar.campaign.report as report_package
from aar.campaign.report import (
    CampaignInfo,
    CampaignSummary,
    Cost,
    Flag,
    ForumPost,
    HeldoutRow,
    Incident,
    LeaderboardRow,
    Researcher,
    Score,
    Scoring,
    Vanilla,
    Verification,
    diversity_of,
    render_from_json,
    write_report,
)
from aar.core.errors import DataError
from tests.browserkit import chromium

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
SCRIPT_TITLE = "<script>alert(1)</script>"
ODD_METHOD = r"mix$\bad{$"  # a "$...$" pair that is not valid mathtext
# verified by sealed PGR; not checked; no snapshot; failed or not reproduced, by private PGR
RANKED_METHODS = ["confident-distill", "bootstrap", ODD_METHOD, "co-training", "vanilla+aux"]
PNGS = ("pgr_over_time.png", "leaderboard.png", "cost.png")


def _scorings() -> list[Scoring]:
    names = ("alice", "bob", "carol")
    methods = ("vanilla", "co-training", "confident-distill", "bootstrap")
    scorings = []
    for i in range(20):
        public = round(0.2 + 0.025 * i + 0.05 * math.sin(i), 4)
        scorings.append(
            Scoring(
                id=i + 1,
                researcher=names[i % 3],
                method=methods[i % 4],
                seed=i % 5,
                at=START + timedelta(minutes=17 * i),
                public_pgr=public,
                private_pgr=round(public - 0.02, 4),
                flagged=i == 7,
                flag_reason="2 flipped predictions from scoring 5" if i == 7 else None,
                snapshot_id=f"snap-{i % 6}" if i % 2 else None,
                description=f"attempt {i // 3}",
            )
        )
    return scorings


def _row(who: str, method: str, private: tuple[float, float | None, int], **kw: Any) -> Any:
    mean, se, n = private
    return LeaderboardRow(
        researcher=who,
        method=method,
        snapshot_id=kw.pop("snapshot_id", f"snap-{method[:4]}"),
        public=Score(mean=mean + 0.03, se=se, n=n),
        private=Score(mean=mean, se=se, n=n),
        **kw,
    )


def _leaderboard() -> list[LeaderboardRow]:
    fresh = [101, 102, 103]
    verified = Verification(status="verified", sealed=Score(mean=0.69, se=0.02, n=3), seeds=fresh)
    lost = Verification(
        status="not reproduced",
        sealed=Score(mean=0.31, se=0.05, n=3),
        seeds=fresh,
        detail="0.33 off",
    )
    failed = Verification(status="failed", detail="sandbox ran out of memory")
    no_code = Verification(status="no snapshot", detail="submitted without code")
    # Deliberately out of order: the report ranks by private mean whatever order it gets.
    return [
        _row("alice", "vanilla+aux", (0.45, 0.02, 3), verification=failed),
        _row("bob", "confident-distill", (0.71, 0.03, 5), verification=verified),
        _row("carol", "bootstrap", (0.38, 0.01, 2)),
        _row(
            "carol", ODD_METHOD, (0.52, None, 1), snapshot_id=None, flagged=1, verification=no_code
        ),
        _row("alice", "co-training", (0.64, 0.04, 4), verification=lost),
    ]


def _researchers() -> list[Researcher]:
    llm = {"brain": "llm", "model": "claude-opus-4-6"}
    return [
        Researcher(
            name="alice",
            direction="calibration",
            status="finished",
            **llm,
            steps=212,
            tool_calls={"shell": 120, "submit_predictions": 40},
            tool_errors=7,
            compactions=3,
        ),
        Researcher(name="bob", direction="data", status="stopped", reason="budget spent", **llm),
        Researcher(name="carol", brain="baseline", status="failed", reason="crashed", restarts=2),
    ]


def _with_usage(r: Researcher, dollars: float, hours: float, best: float) -> Researcher:
    usage = {"dollars": dollars, "tokens": int(dollars * 75_000), "hours": hours, "submissions": 7}
    return r.model_copy(update={**usage, "best_public_pgr": best + 0.03, "entry_private_pgr": best})


def _summary() -> CampaignSummary:
    scorings = _scorings()
    alice, bob, carol = _researchers()
    researchers = [
        _with_usage(alice, 41.5, 4.9, 0.64),
        _with_usage(bob, 50.0, 4.2, 0.71),
        _with_usage(carol, 0.0, 1.5, 0.52),
    ]
    return CampaignSummary(
        campaign=CampaignInfo(
            name="first",
            dir="/runs/first",
            task="chat-prefs",
            status="finished",
            started_at=START,
            ended_at=START + timedelta(hours=5, minutes=30),
            wall_seconds=5.5 * 3600,
            config={"researchers": 3, "budget": {"dollars": 100}},
        ),
        researchers=researchers,
        scorings=scorings,
        leaderboard=_leaderboard(),
        vanilla=Vanilla(public=Score(mean=0.25, se=0.02, n=5), private=Score(mean=0.23, n=1)),
        heldout=_heldout(),
        cost=Cost(dollars=91.5, tokens=6_862_500, researcher_hours=10.6, gpu_hours=3.2),
        flags=[
            Flag(scoring_id=s.id, researcher=s.researcher, reason=s.flag_reason or "", at=s.at)
            for s in scorings
            if s.flagged
        ],
        incidents=[
            Incident(at=START + timedelta(hours=1), researcher="carol", kind="restart"),
            Incident(
                at=START + timedelta(hours=4), researcher="bob", kind="budget", detail="spent"
            ),
        ],
        forum=[
            ForumPost(id="p1", kind="insight", title="Weights help", author="bob", at=START),
            ForumPost(id="p2", kind="question", title=SCRIPT_TITLE, author="carol", at=START),
        ],
        diversity=diversity_of(scorings, {r.name: r.direction for r in researchers}),
    )


def _heldout() -> list[HeldoutRow]:
    return [
        HeldoutRow(
            task="sst2",
            researcher="bob",
            method="confident-distill",
            snapshot_id="snap-conf",
            pgr=Score(mean=0.58, se=0.04, n=3),
            vanilla=Score(mean=0.2, se=0.03, n=3),
        ),
        HeldoutRow(
            task="anli",
            researcher="alice",
            method="co-training",
            pgr=Score(mean=0.12, se=0.06, n=3),
            detail="gap too small on 1 seed",
        ),
    ]


def _empty_summary() -> CampaignSummary:
    return CampaignSummary(
        campaign=CampaignInfo(
            name="fresh",
            dir="/runs/fresh",
            task="toy",
            status="running",
            started_at=START,
            wall_seconds=12,
        )
    )


class _Tables(HTMLParser):
    """The text of each cell of each ``<table id=...>``'s body rows, by table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body and self._table is not None:
            self.tables[self._table][-1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._in_cell = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_cell and self._table is not None:
            self.tables[self._table][-1][-1] += data


def _tables(page: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(_summary(), tmp_path_factory.mktemp("report"))


def test_summary_json_round_trips(report: Path) -> None:
    loaded = CampaignSummary.load(report.parent / "summary.json")
    assert loaded == _summary()
    assert [row.method for row in loaded.ranking()] == RANKED_METHODS


def test_pngs_are_real_images(report: Path) -> None:
    for name in PNGS:
        with Image.open(report.parent / name) as image:
            assert image.format == "PNG"
            width, height = image.size
            image.load()
        assert width >= 600
        assert 200 <= height <= 2000


def test_html_ranks_verified_entries_first_and_escapes(report: Path) -> None:
    page = report.read_text()
    tables = _tables(page)
    assert [row[2] for row in tables["ranking"]] == RANKED_METHODS
    assert [row[3] for row in tables["ranking"]][:4:3] == ["0.690 ± 0.020", "0.310 ± 0.050"]
    assert [row[4] for row in tables["ranking"]][:4:3] == ["0.710 ± 0.030", "0.640 ± 0.040"]
    assert SCRIPT_TITLE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT_TITLE in [row[2].split(" quarantined")[0] for row in tables["forum"]]
    assert "<script" not in page.lower()
    assert "http://" not in page
    assert "https://" not in page
    assert page.count('src="data:image/png;base64,') == 3
    assert len(tables["heldout"]) == 2
    assert {row[1] for row in tables["incidents"]} == {"carol", "bob"}
    assert tables["flags"][0][2] == "8"
    tools = {row[0]: row[7] for row in tables["researchers"]}
    assert " ".join(tools["alice"].split()) == (
        "shell 120, submit_predictions 40 (7 failed; 3 compactions)"
    )
    assert tools["carol"] == "—"


def test_empty_summary_renders(tmp_path: Path) -> None:
    index = write_report(_empty_summary(), tmp_path)
    page = index.read_text()
    assert "No leaderboard yet." in page
    assert "ranking" not in _tables(page)
    for name in PNGS:
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG"
            assert image.size[0] >= 600


def test_render_from_json_rebuilds_the_same_page(report: Path, tmp_path: Path) -> None:
    again = render_from_json(report.parent / "summary.json", tmp_path)
    assert again.read_text() == report.read_text()


def test_load_refuses_bad_documents(tmp_path: Path) -> None:
    data = json.loads(_empty_summary().model_dump_json())
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(DataError, match="schema_version 99"):
        CampaignSummary.load(path)
    path.write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(DataError, match="surprise"):
        CampaignSummary.load(path)
    with pytest.raises(DataError, match="cannot read"):
        CampaignSummary.load(tmp_path / "missing.json")


def test_cost_per_hour_is_derived_unless_given() -> None:
    assert Cost(dollars=30.0, researcher_hours=12.0).dollars_per_researcher_hour == 2.5
    assert Cost().dollars_per_researcher_hour == 0.0
    assert Cost(dollars=1.0, dollars_per_researcher_hour=9.0).dollars_per_researcher_hour == 9.0


def test_naive_times_are_utc() -> None:
    info = CampaignInfo(
        name="n",
        dir=".",
        task="t",
        status="running",
        started_at=datetime(2026, 4, 1, 9, 0),
        wall_seconds=0,
    )
    assert info.started_at == START


def test_diversity_by_hand() -> None:
    def scoring(i: int, who: str, method: str, snapshot: str | None, note: str = "") -> Scoring:
        return Scoring(
            id=i,
            researcher=who,
            method=method,
            seed=0,
            at=START,
            public_pgr=0.5,
            private_pgr=0.5,
            snapshot_id=snapshot,
            description=note,
        )

    scorings = [
        scoring(1, "alice", "a", "s1"),
        scoring(2, "alice", "a", "s1", "same snapshot, other words"),
        scoring(3, "dave", "b", None, "first try"),
        scoring(4, "alice", "c", None, "first try"),
        scoring(5, "bob", "d", None),
        scoring(6, "erin", "e", None),  # erin is in no direction
    ]
    rows = diversity_of(scorings, {"alice": "calib", "dave": "calib", "bob": "data", "fay": None})
    by = {row.direction: row for row in rows}
    assert [row.direction for row in rows] == ["(none)", "calib", "data"]
    # calib: methods a, a, b, c -> p = 1/2, 1/4, 1/4 -> H = 1/2·1 + 2·1/4·2 = 1.5 bits.
    assert by["calib"].entropy == pytest.approx(1.5)
    assert by["calib"].researchers == ["alice", "dave"]
    assert (by["calib"].methods, by["calib"].configs) == (3, 3)
    assert (by["data"].methods, by["data"].configs, by["data"].entropy) == (1, 1, 0.0)
    assert by["(none)"].researchers == ["erin", "fay"]
    assert diversity_of([], {"alice": "calib"})[0].entropy == 0.0


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium()


def test_report_in_chromium(report: Path, tmp_path: Path, browser: Any) -> None:
    _check_in_browser(browser, report, len(RANKED_METHODS))
    _check_in_browser(browser, write_report(_empty_summary(), tmp_path), 0)


def _check_in_browser(browser: Any, index: Path, rows: int) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}") or d.dismiss())
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith(("file:", "data:")) else problems.append(f"request: {r.url}")
        ),
    )
    page.goto(index.as_uri(), wait_until="load")
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 3
    assert all(w > 0 for w in widths)
    assert page.locator("#ranking tbody tr").count() == rows
    assert page.locator("script").count() == 0
    if rows:
        assert SCRIPT_TITLE in page.inner_text("#forum")
        first = page.inner_text("#ranking tbody tr:first-child").split("\t")
        assert first[2] == "confident-distill"
    page.close()
    assert problems == []


def test_report_imports_only_core_and_its_libraries() -> None:
    allowed = {"aar", "pydantic", "jinja2", "matplotlib", *sys.stdlib_module_names}
    folder = Path(report_package.__file__).parent
    for source in folder.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{source.name} imports {name}"
                if name.startswith("aar."):
                    assert name.startswith(("aar.core", "aar.campaign.report")), name
