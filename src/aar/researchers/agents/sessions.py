"""Run an external agent in the sandbox session after session until a budget ends it.

    sessions = AgentSessions(box, transcript, hub, command_for, AgentBudget(minutes=60))
    reason = sessions.run()       # "wall time", "model budget spent: ...", ...

Each session is one run of the agent's command in the researcher's sandbox, its output
streamed into the transcript. When a session ends the next one starts from the notebook, as
the reference system restarted its researchers; the wall-time budget stops the session that
is running. A session that fails (no result, an error result, a non-zero exit) counts toward
``max_failures`` in a row; a refusal for money from the hub's gateway ends the run at once.
While the operator has the researcher paused, no session starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aar.core.transcripts import Transcript
from aar.hub.client import HubClient, HubError
from aar.researchers.agents.stream import StreamReader
from aar.sandbox.base import ExecResult, Sandbox

KICKOFF = (
    "Begin: look at the forum, the leaderboard and your notebook (NOTEBOOK.md), then start on "
    "your direction."
)
RESUME = (
    "Your previous session ended ({why}). Your notebook (NOTEBOOK.md) holds your state: read "
    "it, then continue your research."
)
MIN_SESSION_S = 20.0
"""A session needs at least this much wall time left to be worth starting."""
PAUSE_POLL_S = 5.0
MONEY_WORDS = ("billing_error", "insufficient_quota", "model budget of", "Quota exceeded")
"""How a refusal for money shows in an agent's output (the last is Codex's own wording)."""
GATEWAY_SAYS = "aar gateway: "


@dataclass(frozen=True)
class AgentBudget:
    minutes: float
    dollars: float | None = None
    steps: int | None = None
    max_failures: int = 3


@dataclass(frozen=True)
class Session:
    """What one session did, as its transcript records and exit say."""

    result: dict[str, Any] | None
    exec: ExecResult
    turns: int

    @property
    def failed(self) -> str | None:
        """Why the session counts as failed (None: it ended normally)."""
        if self.exec.killed is not None:
            return f"killed: {self.exec.killed}"
        if self.result is None:
            tail = (self.exec.stderr or self.exec.stdout)[-500:].strip()
            return f"exit {self.exec.exit_code} with no result line" + (f": {tail}" if tail else "")
        if self.result.get("is_error"):
            return f"{self.result.get('subtype')}: {str(self.result.get('result'))[:500]}"
        if self.exec.exit_code != 0:
            return f"exit {self.exec.exit_code}: {str(self.result.get('result'))[-500:]}"
        return None

    @property
    def cost(self) -> float:
        return float((self.result or {}).get("total_cost_usd") or 0.0)


class Reader(Protocol):
    """Turns an agent's output into transcript records (``aar.researchers.agents.stream``)."""

    result: dict[str, Any] | None
    assistant_turns: int

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


CommandFor = Callable[[str, float | None, int | None], list[str]]
"""(prompt, dollars left, turns left) → the session's argv inside the sandbox."""


class AgentSessions:
    def __init__(
        self, box: Sandbox, transcript: Transcript, hub: HubClient, command_for: CommandFor,
        budget: AgentBudget, reader: Callable[[Transcript], Reader] = StreamReader,
    ) -> None:  # fmt: skip
        self.box, self.transcript, self.hub = box, transcript, hub
        self.command_for, self.budget, self.reader = command_for, budget, reader
        self.deadline = time.monotonic() + budget.minutes * 60
        self.dollars = 0.0
        self.turns = 0
        self.sessions = 0

    def run(self) -> str:
        """Sessions until a stop; returns (and records) the reason."""
        self.transcript.append("event", event="start", brain="agent")
        reason = self._loop()
        self.transcript.append("event", event="stop", reason=reason, sessions=self.sessions,
                               steps=self.turns, dollars=self.dollars)  # fmt: skip
        return reason

    def _loop(self) -> str:
        failures, why = 0, None
        while True:
            stop = self._stop_before_session()
            if stop is not None:
                return stop
            session = self._session(KICKOFF if why is None else RESUME.format(why=why))
            self.dollars += session.cost
            self.turns += session.turns
            money = (
                _money_refusal(session, gateway_only=True)
                or (self._spent_on_hub() if session.failed else None)
                or _money_refusal(session, gateway_only=False)
            )
            if money is not None:
                return f"model budget spent: {money}"
            if session.exec.killed == "timeout":
                return "wall time"
            problem = session.failed
            failures = failures + 1 if problem else 0
            if failures >= self.budget.max_failures:
                return f"the agent failed {failures} sessions in a row; last: {problem}"
            why = problem or "it finished its turn"

    def _stop_before_session(self) -> str | None:
        while True:
            if self._seconds_left() < MIN_SESSION_S:
                return "wall time"
            b = self.budget
            if b.steps is not None and self.turns >= b.steps:
                return "step budget reached"
            if b.dollars is not None and self.dollars >= b.dollars:
                return "dollar budget reached"
            try:
                status = self.hub.me().status
            except HubError as err:
                return f"stopped by the hub: {err.detail}"
            if status != "paused":
                return None
            time.sleep(min(PAUSE_POLL_S, self._seconds_left()))

    def _spent_on_hub(self) -> str | None:
        """The researcher's own model budget, when the hub's gateway says it is spent (an
        agent may show a refusal for money in words of its own, without the reason)."""
        try:
            spent = self.hub.model_usage()
        except HubError:
            return None  # a hub without a gateway: nothing was spent through it
        if spent.dollar_limit is not None and spent.dollars >= spent.dollar_limit:
            return f"${spent.dollars:.2f} used of the ${spent.dollar_limit:.2f} allowed"
        if spent.token_limit is not None and spent.tokens >= spent.token_limit:
            return f"{spent.tokens} tokens used of the {spent.token_limit} allowed"
        return None

    def _session(self, prompt: str) -> Session:
        self.sessions += 1
        b = self.budget
        dollars = None if b.dollars is None else b.dollars - self.dollars
        turns = None if b.steps is None else b.steps - self.turns
        argv = self.command_for(prompt, dollars, turns)
        self.transcript.append("event", event="session_start", session=self.sessions)
        reader = self.reader(self.transcript)
        result = self.box.exec(argv, timeout=self._seconds_left(), on_stdout=reader.feed)
        reader.close()
        return Session(reader.result, result, reader.assistant_turns)

    def _seconds_left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)


def _money_refusal(session: Session, gateway_only: bool) -> str | None:
    """The refusal for money that ended the session, if one did: the gateway's own words
    (``gateway_only``), else the line where the agent or vendor said so."""
    said = str((session.result or {}).get("result") or "")
    for text in (said, session.exec.stdout[-4000:]):
        if any(word in text for word in MONEY_WORDS):
            start = text.find(GATEWAY_SAYS)
            if start >= 0:
                return text[start + len(GATEWAY_SAYS) :].splitlines()[0][:300]
            if not gateway_only:
                lines = [line for line in text.splitlines() if any(w in line for w in MONEY_WORDS)]
                return lines[-1][:300]
    return None
