"""Server-side SVG charts for the dashboard (no JavaScript, no build step).

    svg = pgr_over_time({"alice": [(t0, 0.21), (t1, 0.35)], "bob": [...]})

Each researcher is a coloured series of points (every scoring's public PGR) joined by its
best-so-far line; the x axis is wall time, the y axis PGR.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

WIDTH, HEIGHT, PAD = 760, 320, 48
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

Series = dict[str, list[tuple[datetime, float]]]


def pgr_over_time(series: Series, title: str = "public PGR over time") -> str:
    points = [(t, v) for values in series.values() for t, v in values]
    if not points:
        return _frame(title, '<text x="50%" y="50%" text-anchor="middle">no scorings yet</text>')
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(max(t for t, _ in points).timestamp(), t0 + 1)
    low, high = min(0.0, *(v for _, v in points)), max(1.0, *(v for _, v in points))

    def x(t: datetime) -> float:
        return PAD + (t.timestamp() - t0) / (t1 - t0) * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - low) / (high - low) * (HEIGHT - 2 * PAD)

    body = [_axes(low, high, y)]
    for t, anchor in ((t0, "start"), (t1, "end")):
        label = datetime.fromtimestamp(t, tz=min(p[0] for p in points).tzinfo).strftime("%H:%M:%S")
        body.append(
            f'<text x="{PAD if anchor == "start" else WIDTH - PAD}" y="{HEIGHT - PAD + 16}" '
            f'font-size="10" text-anchor="{anchor}">{label}</text>'
        )
    for index, (name, values) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        body += _series(sorted(values), colour, x, y)
        body.append(
            f'<text x="{WIDTH - PAD + 4}" y="{PAD + 14 * index}" fill="{colour}" '
            f'font-size="11">{escape(name)}</text>'
        )
    return _frame(title, "\n".join(body))


def _series(values: list[tuple[datetime, float]], colour: str, x, y) -> list[str]:  # type: ignore[no-untyped-def]
    best, path = float("-inf"), []
    out = []
    for t, v in values:
        best = max(best, v)
        path.append(f"{x(t):.1f},{y(best):.1f}")
        out.append(
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}" fill-opacity="0.5"/>'
        )
    out.append(
        f'<polyline points="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>'
    )
    return out


def _axes(low: float, high: float, y) -> str:  # type: ignore[no-untyped-def]
    ticks = []
    for i in range(5):
        value = low + (high - low) * i / 4
        ticks.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#ddd"/><text x="{PAD - 6}" y="{y(value) + 4:.1f}" font-size="10" '
            f'text-anchor="end">{value:.2f}</text>'
        )
    return "\n".join(ticks) + (
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" font-size="11" text-anchor="middle">time</text>'
    )


def _frame(title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH + 80}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )
