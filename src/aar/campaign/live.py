"""The live view of a running campaign: one row per researcher and the fleet's totals.

    with make_view(console) as view:       # a live table on a terminal, lines in a log
        view.update(rows, fleet)

On a terminal the table redraws in place (rich's Live). Anywhere else (a log file, CI) the
view prints one summary line when something changes, at most every ``every`` seconds, so
logs stay short.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class ResearcherRow:
    name: str
    direction: str | None
    status: str
    steps: int
    submissions: int
    dollars: float
    tokens: int
    best_public: float | None
    best_private: float | None
    restarts: int
    minutes: float


@dataclass
class FleetView:
    """The fleet's totals, refreshed by the supervisor on every poll."""

    dollars: float = 0.0
    tokens: int = 0
    submissions: int = 0
    gpu_hours: float = 0.0
    research_seconds: float = 0.0
    researcher_seconds: float = 0.0
    minutes_left: float = 0.0
    hub_status: dict[str, str] = field(default_factory=dict)
    best: dict[str, tuple[float, float]] = field(default_factory=dict)
    """researcher → (best public PGR, best private PGR) over its leaderboard rows."""

    def best_of_fleet(self) -> tuple[float | None, float | None]:
        if not self.best:
            return None, None
        return max(b[0] for b in self.best.values()), max(b[1] for b in self.best.values())


def _pgr(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


def table(rows: list[ResearcherRow], fleet: FleetView) -> Table:
    grid = Table("researcher", "direction", "state", "steps", "subm.", "best public",
                 "best private", "$", "tokens", "min", "restarts", title="researchers")  # fmt: skip
    for r in rows:
        grid.add_row(
            r.name, r.direction or "-", r.status, str(r.steps), str(r.submissions),
            _pgr(r.best_public), _pgr(r.best_private), f"{r.dollars:.2f}", f"{r.tokens:,}",
            f"{r.minutes:.1f}", str(r.restarts),
        )  # fmt: skip
    return grid


def fleet_line(fleet: FleetView) -> str:
    public, private = fleet.best_of_fleet()
    return (
        f"fleet: best public PGR {_pgr(public)}, private {_pgr(private)} · "
        f"{fleet.submissions} submissions · ${fleet.dollars:.2f}, {fleet.tokens:,} tokens · "
        f"{max(fleet.minutes_left, 0):.1f} min left"
    )


class View:
    """Shows the campaign as it runs; the base class shows nothing."""

    def update(self, rows: list[ResearcherRow], fleet: FleetView) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> View:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class LiveTable(View):
    """A table redrawn in place, for a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(Text("starting researchers ..."), console=console, refresh_per_second=2)
        self.live.start()

    def update(self, rows: list[ResearcherRow], fleet: FleetView) -> None:
        self.live.update(Group(table(rows, fleet), Text(fleet_line(fleet))))

    def message(self, text: str) -> None:
        self.console.print(text)

    def close(self) -> None:
        self.live.stop()


class LogLines(View):
    """A line per change of state (at most every ``every`` seconds), for logs."""

    def __init__(self, console: Console, every: float = 15.0) -> None:
        self.console, self.every = console, every
        self._last: tuple[object, ...] = ()
        self._printed = 0.0

    def update(self, rows: list[ResearcherRow], fleet: FleetView) -> None:
        key = tuple((r.status, r.submissions, r.best_public) for r in rows)
        if key == self._last or time.monotonic() - self._printed < self.every:
            return
        self._last, self._printed = key, time.monotonic()
        states = ", ".join(f"{r.name} {r.status} {_pgr(r.best_public)}" for r in rows)
        self.console.print(f"{states} | {fleet_line(fleet)}", highlight=False)

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)


def make_view(console: Console, live: bool | None = None) -> View:
    """A live table on a terminal, log lines elsewhere (``live`` forces one or the other)."""
    return (
        LiveTable(console) if (console.is_terminal if live is None else live) else LogLines(console)
    )
