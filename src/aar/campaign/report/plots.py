"""The report's charts as PNG bytes, drawn with matplotlib's Agg canvas.

    png = pgr_over_time_png(summary.scorings, summary.campaign.started_at, summary.vanilla)
    pngs = render_plots(summary)   # {"pgr_over_time.png": b"...", "leaderboard.png": ..., ...}

Each chart is its own ``matplotlib.figure.Figure`` on a ``FigureCanvasAgg``: nothing touches
pyplot's global state, so this needs no display and is safe to call from several threads.
With no data a chart is still drawn, empty and labeled, so a report of a campaign that has
not scored anything yet still has its pictures.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from aar.campaign.report.schema import (
    CampaignSummary,
    LeaderboardRow,
    Researcher,
    Score,
    Scoring,
    Vanilla,
)

DPI = 100
TOP_ROWS = 15
COLOURS = tuple(colormaps["tab10"](i) for i in range(10))  # the usual categorical palette
STATUS_COLOURS = {
    "verified": "#2ca02c",
    "not reproduced": "#ff7f0e",
    "failed": "#d62728",
    "no snapshot": "#7f7f7f",
    "not checked": "#9ecae1",
}
PNG_NAMES = ("pgr_over_time.png", "leaderboard.png", "cost.png")


def render_plots(summary: CampaignSummary) -> dict[str, bytes]:
    """Every chart of the report, by file name (``PNG_NAMES``)."""
    return {
        "pgr_over_time.png": pgr_over_time_png(
            summary.scorings, summary.campaign.started_at, summary.vanilla
        ),
        "leaderboard.png": leaderboard_png(summary.ranking(), summary.vanilla),
        "cost.png": cost_png(summary.researchers),
    }


def pgr_over_time_png(
    scorings: Sequence[Scoring], start: datetime | None = None, vanilla: Vanilla | None = None
) -> bytes:
    """Public and private PGR against hours since ``start`` (default: the first scoring).

    Per researcher: its scorings as points and its best so far as a step line; the fleet's
    best so far is the thick black line. Flagged scorings are black crosses and count toward
    no best, since a flag means the score may come from probing the labels.
    """
    fig = Figure(figsize=(11, 4.5), dpi=DPI, layout="constrained")
    public, private = fig.subplots(1, 2, sharey=True)
    origin = start or min((s.at for s in scorings), default=None)
    for ax, half in ((public, "public"), (private, "private")):
        ax.set_title(f"{half} PGR over time")
        ax.set_xlabel("hours since start")
        ax.grid(alpha=0.3)
        if not scorings or origin is None:
            _empty(ax, "no scorings yet")
            continue
        _draw_pgr_panel(ax, scorings, origin, half)
        if vanilla is not None:
            ref = vanilla.public if half == "public" else vanilla.private
            ax.axhline(ref.mean, color="black", linestyle="--", linewidth=1, label="vanilla")
    public.set_ylabel("PGR")
    if scorings:
        public.legend(fontsize=8, loc="best", ncol=2 if len(_names(scorings)) > 6 else 1)
    return _png(fig)


def _draw_pgr_panel(ax: Axes, scorings: Sequence[Scoring], origin: datetime, half: str) -> None:
    def hours(s: Scoring) -> float:
        return (s.at - origin).total_seconds() / 3600

    def value(s: Scoring) -> float:
        return s.public_pgr if half == "public" else s.private_pgr

    by_researcher: dict[str, list[Scoring]] = defaultdict(list)
    for s in sorted(scorings, key=lambda s: s.at):
        by_researcher[s.researcher].append(s)
    for i, name in enumerate(sorted(by_researcher)):
        own = by_researcher[name]
        colour = COLOURS[i % len(COLOURS)]
        clean = [s for s in own if not s.flagged]
        ax.scatter([hours(s) for s in clean], [value(s) for s in clean], s=14, color=colour)
        xs, ys = _best_so_far([(hours(s), value(s)) for s in clean])
        ax.step(xs, ys, where="post", color=colour, linewidth=1.2, label=_plain(name))
    flagged = [s for s in scorings if s.flagged]
    if flagged:
        xs = [hours(s) for s in flagged]
        ax.scatter(xs, [value(s) for s in flagged], marker="x", color="black", label="flagged")
    xs, ys = _best_so_far(sorted((hours(s), value(s)) for s in scorings if not s.flagged))
    ax.step(xs, ys, where="post", color="black", linewidth=3, alpha=0.7, label="fleet best")


def _best_so_far(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for x, y in points:
        xs.append(x)
        ys.append(max(y, ys[-1]) if ys else y)
    return xs, ys


def leaderboard_png(
    rows: Sequence[LeaderboardRow], vanilla: Vanilla | None = None, top: int = TOP_ROWS
) -> bytes:
    """The first ``top`` rows' private PGR mean ± SE, coloured by verification status.

    A diamond marks the PGR the verification measured on the sealed set.
    """
    shown = list(rows[:top])
    fig = Figure(figsize=(9, 1.2 + 0.35 * max(len(shown), 4)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    more = f" (top {top} of {len(rows)})" if len(rows) > top else ""
    ax.set_title(f"final ranking: private PGR{more}")
    ax.set_xlabel("private PGR (mean ± SE)")
    ax.grid(axis="x", alpha=0.3)
    if not shown:
        _empty(ax, "no leaderboard yet")
        return _png(fig)
    ys = list(range(len(shown)))
    statuses = [_status(row) for row in shown]
    ax.barh(
        ys,
        [row.private.mean for row in shown],
        xerr=[row.private.se or 0.0 for row in shown],
        color=[STATUS_COLOURS[s] for s in statuses],
        capsize=3,
    )
    sealed = [(y, f.mean) for y, r in zip(ys, shown, strict=True) if (f := _sealed(r))]
    if sealed:
        ax.scatter([f for _, f in sealed], [y for y, _ in sealed], marker="D", color="black", s=18)
    labels = [f"{i + 1}. {r.researcher} · {r.method}" for i, r in enumerate(shown)]
    ax.set_yticks(ys, [_plain(_short(label)) for label in labels])
    ax.invert_yaxis()
    handles: list[Artist] = [
        Patch(color=STATUS_COLOURS[s], label=s) for s in STATUS_COLOURS if s in statuses
    ]
    if sealed:
        handles.append(Line2D([], [], marker="D", color="black", ls="", label="sealed set"))
    if vanilla is not None:
        ax.axvline(vanilla.private.mean, color="black", linestyle="--", linewidth=1)
        handles.append(Line2D([], [], color="black", linestyle="--", label="vanilla"))
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    return _png(fig)


def _status(row: LeaderboardRow) -> str:
    return row.verification.status if row.verification else "not checked"


def _sealed(row: LeaderboardRow) -> Score | None:
    return row.verification.sealed if row.verification else None


def cost_png(researchers: Sequence[Researcher]) -> bytes:
    """Dollars and wall hours per researcher, side by side."""
    fig = Figure(figsize=(10, 1.4 + 0.3 * max(len(researchers), 4)), dpi=DPI, layout="constrained")
    dollars, hours = fig.subplots(1, 2, sharey=True)
    dollars.set_title("dollars per researcher")
    hours.set_title("wall hours per researcher")
    dollars.set_xlabel("US$")
    hours.set_xlabel("hours")
    for ax in (dollars, hours):
        ax.grid(axis="x", alpha=0.3)
    if not researchers:
        _empty(dollars, "no researchers yet")
        _empty(hours, "no researchers yet")
        return _png(fig)
    ys = list(range(len(researchers)))
    dollars.barh(ys, [r.dollars for r in researchers], color=COLOURS[0])
    hours.barh(ys, [r.hours for r in researchers], color=COLOURS[1])
    dollars.set_yticks(ys, [_plain(_short(r.name)) for r in researchers])
    dollars.invert_yaxis()
    return _png(fig)


def _names(scorings: Sequence[Scoring]) -> set[str]:
    return {s.researcher for s in scorings}


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="grey")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def _plain(text: str) -> str:
    # Names and methods are researcher-written: a pair of "$" would be parsed as mathtext
    # and a malformed formula would fail the whole drawing.
    return text.replace("$", r"\$")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)  # the Agg canvas, never pyplot's current backend
    buffer = io.BytesIO()
    # No "Software" entry: the bytes then depend only on the data, not the matplotlib version.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
