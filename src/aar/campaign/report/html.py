"""The campaign report as one self-contained HTML page, rendered from a ``CampaignSummary``.

    index = write_report(summary, Path("campaigns/first/report"))    # index.html, PNGs, JSON
    index = render_from_json(Path("old/summary.json"), Path("old/report"))

``index.html`` embeds its charts as base64 data URIs and its CSS inline; it has no JavaScript
and references nothing outside itself, so it can be mailed, archived or opened from disk.
Every value is HTML-escaped by Jinja2's autoescape (forum titles and method names are written
by researchers), and a Content-Security-Policy forbids scripts as a second line of defence.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from aar.campaign.report._io import write_atomic
from aar.campaign.report.plots import render_plots
from aar.campaign.report.schema import CampaignSummary, Score
from aar.core.pgr import format_estimate

TEMPLATES = Path(__file__).parent / "templates"
INDEX = "index.html"
SUMMARY = "summary.json"


def write_report(summary: CampaignSummary, out_dir: Path) -> Path:
    """Write ``index.html``, the PNGs beside it and ``summary.json``; return the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = render_plots(summary)
    for name, data in pngs.items():
        write_atomic(out_dir / name, data)
    summary.save(out_dir / SUMMARY)
    index = out_dir / INDEX
    write_atomic(index, render_html(summary, pngs).encode("utf-8"))
    return index


def render_from_json(summary_json: Path, out_dir: Path) -> Path:
    """Rebuild a report from a saved ``summary.json``."""
    return write_report(CampaignSummary.load(summary_json), out_dir)


def render_html(summary: CampaignSummary, pngs: Mapping[str, bytes] | None = None) -> str:
    """The page as a string; ``pngs`` (by file name) are drawn from the summary when omitted."""
    pngs = render_plots(summary) if pngs is None else pngs
    images = {
        name.removesuffix(".png"): "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in pngs.items()
    }
    template = _environment().get_template("report.html")
    return template.render(s=summary, images=images, **_derived(summary))


def _derived(summary: CampaignSummary) -> dict[str, Any]:
    """What the template shows but the summary does not hold directly."""
    ranking = summary.ranking()
    best = ranking[0] if ranking else None
    vanilla = summary.vanilla
    statuses: dict[str, int] = {}
    for r in summary.researchers:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {
        "ranking": ranking,
        "best": best,
        "gain": best.private.mean - vanilla.private.mean if best and vanilla else None,
        "researcher_statuses": ", ".join(f"{n} {status}" for status, n in statuses.items()),
        "n_flagged": sum(1 for s in summary.scorings if s.flagged),
        "config_json": json.dumps(summary.campaign.config, indent=2, sort_keys=True, default=str),
    }


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(score=_score, num=_num, when=_when, duration=_duration)
    return env


def _score(value: Score | None, digits: int = 3) -> str:
    return "—" if value is None else format_estimate(value.mean, value.se, digits)


def _num(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"
