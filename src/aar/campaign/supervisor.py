"""The research phase: start the researchers, watch them, restart the crashed, hold budgets.

    supervisor = Supervisor(config, layout, state, executor, operator_client, access, view)
    why = supervisor.run()        # "fleet wall time", "every researcher is done", ...

Every ``poll_seconds`` it polls the executor, meters the transcripts, asks the hub for budget
use (model spend too, where the hub's gateway carried a researcher's calls) and the
leaderboard, updates the live view and saves the state (so a killed campaign resumes with
what it had done). A researcher that exits with an error is restarted on its
own workspace and transcript until ``max_restarts``, then marked failed with the reason.
Fleet budgets end the phase; per-researcher budgets stop one researcher.
"""

from __future__ import annotations

import math
import os
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from aar.campaign.config import CampaignConfig
from aar.campaign.enroll import directions
from aar.campaign.executors import Executor
from aar.campaign.jobs import MIN_MINUTES, HubAccess, remaining_minutes, researcher_job
from aar.campaign.layout import CampaignLayout
from aar.campaign.live import FleetView, ResearcherRow, View
from aar.campaign.spend import Spend, TranscriptMeter, metered_by_hub
from aar.campaign.state import CampaignState, ResearcherState
from aar.hub.client import HubClient
from aar.hub.schemas import AccountOperator, ModelSpend
from aar.researchers.directions import assign

GRACE_SECONDS = 30.0
"""How long past its own budget a researcher may run before the campaign stops it."""


@dataclass
class Running:
    started: float
    seconds_before: float
    stopping: str | None = None


class Supervisor:
    def __init__(
        self,
        config: CampaignConfig,
        layout: CampaignLayout,
        state: CampaignState,
        executor: Executor,
        operator: HubClient,
        hub: HubAccess,
        view: View,
        poll_seconds: float = 1.0,
    ) -> None:
        self.config, self.layout, self.state = config, layout, state
        self.executor, self.operator, self.hub, self.view = executor, operator, hub, view
        self.poll_seconds = poll_seconds
        self.meters: dict[str, TranscriptMeter] = {}
        self.spent: dict[str, Spend] = {}
        """Each researcher's spend as of the last poll (transcripts are read once a poll)."""
        self.models: dict[str, ModelSpend] = {}
        """Each researcher's model spend as the hub's gateway metered it, as of the last poll."""
        self.running: dict[str, Running] = {}
        self.fleet = FleetView()
        self._began, self._seconds_before = time.monotonic(), state.research_seconds
        self._last_save = 0.0
        self._tick_seconds: list[float] = []
        self._cpu_began = time.process_time()

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> str:
        """Research until a fleet budget is spent or every researcher is done."""
        self.state.status = "running"
        end_leftover_researchers(self.state)
        reason = "the campaign was interrupted"
        try:
            self._accounts()  # a resumed researcher's budget left counts the gateway's meter
            for researcher in self.state.active():
                self._start(researcher)
            while (ended := self._timed_tick()) is None:
                time.sleep(self.poll_seconds)
            reason = ended
        finally:
            self._stop_all(reason)
            self._save()
        self.state.incident("research", None, reason)
        return reason

    def _timed_tick(self) -> str | None:
        started = time.perf_counter()
        try:
            return self._tick()
        finally:
            self._tick_seconds.append(time.perf_counter() - started)

    def overhead(self) -> dict[str, float]:
        """What watching the fleet cost this process: per poll, and CPU in total."""
        ticks = sorted(self._tick_seconds) or [0.0]
        return {
            "polls": len(self._tick_seconds),
            "poll_ms_mean": 1000 * sum(ticks) / len(ticks),
            "poll_ms_p99": 1000 * ticks[min(len(ticks) - 1, int(0.99 * len(ticks)))],
            "cpu_seconds": time.process_time() - self._cpu_began,
        }

    def _tick(self) -> str | None:
        for name, code in self.executor.poll().items():
            if code is not None and name in self.running:
                self._exited(name, code)
        self.refresh()
        if reason := self._fleet_exhausted():
            return reason
        self._enforce_researchers()
        self.view.update(self._rows(), self.fleet)
        if time.monotonic() - self._last_save > 5:
            self._save()
        if not self.running:
            return "every researcher is done"
        return None

    # --- researchers ---------------------------------------------------------------------------

    def meter(self, name: str) -> TranscriptMeter:
        if name not in self.meters:
            self.meters[name] = TranscriptMeter(self.layout.transcript(name))
        return self.meters[name]

    def spend(self, name: str) -> Spend:
        """What ``name`` has spent: its transcript, with the gateway's meter where it went."""
        spent = self.meter(name).read()
        if self.hub.upstreams.get(self.state.researchers[name].group) is None:
            return spent  # it calls its vendor directly: its transcript is all there is
        return metered_by_hub(spent, self.models.get(name))

    def _start(self, researcher: ResearcherState) -> None:
        minutes = min(remaining_minutes(self.config, researcher), self._fleet_minutes_left())
        if minutes < MIN_MINUTES:
            self._end(researcher, "finished", "its wall-time budget is used")
            return
        spent = self.spend(researcher.name)
        job = researcher_job(self.config, self.layout, self.hub, researcher, spent, minutes)
        self.layout.workspace(researcher.name).mkdir(parents=True, exist_ok=True)
        self.executor.start(job)
        researcher.status, researcher.pid = "running", self.executor.pid(researcher.name)
        self.running[researcher.name] = Running(time.monotonic(), researcher.seconds)

    def _exited(self, name: str, code: int) -> None:
        researcher, run = self.state.researchers[name], self.running.pop(name)
        researcher.seconds = run.seconds_before + time.monotonic() - run.started
        researcher.pid = None
        last_stop = self.meter(name).read().last_stop
        if run.stopping is not None:
            self._end(researcher, "stopped", run.stopping)
        elif code == 0:
            self._end(researcher, "finished", last_stop or "done")
        elif researcher.restarts < self.config.researchers.max_restarts:
            researcher.restarts += 1
            self.state.incident(
                "restart", name, f"exit code {code}; {_last_line(self.layout.log(name))}"
            )
            self._start(researcher)
        else:
            detail = f"exit code {code} after {researcher.restarts} restarts: "
            self._end(researcher, "failed", detail + _last_line(self.layout.log(name)))

    def _end(self, researcher: ResearcherState, status: str, reason: str) -> None:
        researcher.status, researcher.reason = status, reason  # type: ignore[assignment]
        if status == "failed":
            self.state.incident("failed", researcher.name, reason)

    def _stop(self, name: str, why: str) -> None:
        if name in self.running and self.running[name].stopping is None:
            self.running[name].stopping = why
            self.state.incident("budget", name, why)
            self.executor.stop(name, grace=10.0)

    def _stop_all(self, why: str) -> None:
        for run in self.running.values():
            run.stopping = run.stopping or why
        self.executor.shutdown(grace=10.0)
        for name, code in self.executor.poll().items():
            if name in self.running:
                self._exited(name, code if code is not None else -9)

    # --- budgets -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Totals for the fleet from the transcripts and the hub."""
        f = self.fleet
        accounts = self._accounts()
        self.spent = {name: self.spend(name) for name in self.state.researchers}
        spends = list(self.spent.values())
        f.dollars = sum(s.dollars for s in spends)
        f.tokens = sum(s.tokens for s in spends)
        f.research_seconds = self._seconds_before + time.monotonic() - self._began
        f.researcher_seconds = sum(self._seconds(r) for r in self.state.researchers.values())
        f.gpu_hours = f.researcher_seconds * self.config.executor.gpus / 3600
        f.minutes_left = self._fleet_minutes_left()
        self._adopt([a for a in accounts.values() if a.role == "researcher"])
        f.submissions = sum(a.budget.used_total for a in accounts.values())
        f.hub_status = {name: a.status for name, a in accounts.items()}
        f.best = {}
        for row in self.operator.private_leaderboard(self.config.task):
            public, private = f.best.get(row.researcher, (-math.inf, -math.inf))
            f.best[row.researcher] = (
                max(public, row.public_pgr.mean),
                max(private, row.private_pgr.mean),
            )

    def _accounts(self) -> dict[str, AccountOperator]:
        accounts = {a.name: a for a in self.operator.accounts()}
        self.models = {name: a.model for name, a in accounts.items() if a.model is not None}
        return accounts

    def _adopt(self, accounts: list[AccountOperator]) -> None:
        """Start researchers the operator added on the hub (dashboard or ``aar hub``)."""
        for account in accounts:
            if account.name in self.state.researchers or account.status != "active":
                continue
            token = self.operator.rotate_token(account.name).token
            dealt = assign(len(self.state.researchers) + 1, directions(self.config),
                           seed=self.config.split_seed)  # fmt: skip
            researcher = ResearcherState(name=account.name, token=token, direction=dealt[-1].name)
            self.state.researchers[account.name] = researcher
            self.state.incident("operator", account.name, "added by the operator")
            self._start(researcher)

    def _seconds(self, researcher: ResearcherState) -> float:
        run = self.running.get(researcher.name)
        if run is None:
            return researcher.seconds
        return run.seconds_before + time.monotonic() - run.started

    def _fleet_minutes_left(self) -> float:
        used = self._seconds_before + time.monotonic() - self._began
        return self.config.fleet.minutes - used / 60

    def _fleet_exhausted(self) -> str | None:
        fleet, limits = self.fleet, self.config.fleet
        checks = [
            (limits.minutes * 60, fleet.research_seconds, "fleet wall time"),
            (limits.dollars, fleet.dollars, "fleet dollar budget"),
            (limits.tokens, fleet.tokens, "fleet token budget"),
            (limits.submissions, fleet.submissions, "fleet submission budget"),
            (limits.gpu_hours, fleet.gpu_hours, "fleet GPU-hour budget"),
        ]
        for limit, used, why in checks:
            if limit is not None and used >= limit:
                if why == "fleet submission budget":
                    self._close_submissions()
                return why
        return None

    def _close_submissions(self) -> None:
        """Cut every account's total to what it used, so the hub refuses any more."""
        for account in self.operator.accounts():
            if account.role == "researcher":
                self.operator.update_account(account.name, total=max(account.budget.used_total, 1))

    def _enforce_researchers(self) -> None:
        b = self.config.budget
        for name in list(self.running):
            researcher = self.state.researchers[name]
            spent = self.spent.get(name) or self.spend(name)  # adopted this poll
            seconds = self._seconds(researcher)
            checks = [
                (self.config.researcher_minutes * 60 + GRACE_SECONDS, seconds, "wall-time budget"),
                (b.dollars, spent.dollars, "dollar budget"),
                (b.tokens, spent.tokens, "token budget"),
                (b.gpu_hours, seconds * self.config.executor.gpus / 3600, "GPU-hour budget"),
            ]
            for limit, used, why in checks:
                if limit is not None and used >= limit:
                    self._stop(name, f"{why} reached")
                    break

    # --- view and state ------------------------------------------------------------------------

    def _rows(self) -> list[ResearcherRow]:
        rows = []
        for name, r in self.state.researchers.items():
            spent = self.spent.get(name) or self.spend(name)
            status = self.fleet.hub_status.get(name, r.status)
            shown = (
                status if status in ("paused", "stopped") and r.status == "running" else r.status
            )
            best = self.fleet.best.get(name)
            rows.append(ResearcherRow(
                name=name, direction=r.direction, status=shown, steps=spent.steps,
                submissions=spent.submissions, dollars=spent.dollars, tokens=spent.tokens,
                best_public=best[0] if best else None, best_private=best[1] if best else None,
                restarts=r.restarts, minutes=self._seconds(r) / 60,
            ))  # fmt: skip
        return rows

    def _save(self) -> None:
        for name in self.running:
            self.state.researchers[name].seconds = self._seconds(self.state.researchers[name])
        self.state.research_seconds = self._seconds_before + time.monotonic() - self._began
        self.state.overhead = self.overhead()
        self.state.save(self.layout.state)
        self._last_save = time.monotonic()


def end_leftover_researchers(state: CampaignState) -> None:
    """Kill researcher processes a killed campaign left behind (their pids are in the state)."""
    for researcher in state.researchers.values():
        pid, researcher.pid = researcher.pid, None
        if pid is not None and _is_researcher(pid):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if researcher.status == "running":
            researcher.status = "pending"


def _is_researcher(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"research" in command and b"aar" in command


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return lines[-1][:300] if lines else "(empty log)"
