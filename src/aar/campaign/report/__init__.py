"""The campaign's final report: a typed JSON summary and the HTML page rendered from it.

The campaign collects a ``CampaignSummary`` (``schema``: researchers, every scoring, the final
ranking with its verifications, held-out results, cost, flags, incidents, a forum digest and
per-direction diversity) and hands it to ``write_report``:

    from aar.campaign.report import CampaignSummary, write_report
    index = write_report(summary, Path("campaigns/first/report"))
    # report/index.html (self-contained), pgr_over_time.png, leaderboard.png, cost.png,
    # summary.json; later: render_from_json(Path(".../summary.json"), out_dir)

``plots`` draws the PNG charts with matplotlib's Agg canvas (no pyplot, thread-safe) and
``html`` fills the Jinja2 template ``templates/report.html``. Importing this package loads
only pydantic; matplotlib and Jinja2 load on first use of a rendering function, so code that
only builds or reads summaries does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from aar.campaign.report.schema import (
    SCHEMA_VERSION,
    CampaignInfo,
    CampaignSummary,
    Cost,
    Diversity,
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
)

if TYPE_CHECKING:
    from aar.campaign.report.html import render_from_json, render_html, write_report
    from aar.campaign.report.plots import (
        cost_png,
        leaderboard_png,
        pgr_over_time_png,
        render_plots,
    )

_LAZY = {
    "write_report": "aar.campaign.report.html",
    "render_from_json": "aar.campaign.report.html",
    "render_html": "aar.campaign.report.html",
    "render_plots": "aar.campaign.report.plots",
    "pgr_over_time_png": "aar.campaign.report.plots",
    "leaderboard_png": "aar.campaign.report.plots",
    "cost_png": "aar.campaign.report.plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCHEMA_VERSION",
    "CampaignInfo",
    "CampaignSummary",
    "Cost",
    "Diversity",
    "Flag",
    "ForumPost",
    "HeldoutRow",
    "Incident",
    "LeaderboardRow",
    "Researcher",
    "Score",
    "Scoring",
    "Vanilla",
    "Verification",
    "cost_png",
    "diversity_of",
    "leaderboard_png",
    "pgr_over_time_png",
    "render_from_json",
    "render_html",
    "render_plots",
    "write_report",
]
