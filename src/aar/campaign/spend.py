"""What each researcher has spent and done, read from its transcript as it grows.

    meter = TranscriptMeter(layout.transcript("r01"))
    spent = meter.read()          # Spend(steps=12, dollars=0.41, tokens=51_200, submissions=3)

    spent = metered_by_hub(spent, account.model)   # the gateway's dollars and tokens

Transcripts record what a researcher did (steps, tool calls, submissions). Its model spend is
the hub's wherever the hub's LLM gateway carried its calls: a transcript's dollars come from
the researcher process, and an external agent's from the agent's own account of its cost,
which the agent can forge (it drives the program that prints it). Only researchers that call
a vendor directly are budgeted from their transcripts. Each read parses only the lines
appended since the last one; a torn last line is left for the next read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aar.hub.schemas import ModelSpend


@dataclass
class Spend:
    steps: int = 0
    """Model turns (LLM researchers) or tool calls (the baseline)."""
    dollars: float = 0.0
    tokens: int = 0
    submissions: int = 0
    tool_calls: dict[str, int] = field(default_factory=dict)
    """Calls per tool name."""
    tool_errors: int = 0
    compactions: int = 0
    last_stop: str | None = None
    """The reason in the newest ``stop`` event (None while it runs or after a crash)."""
    last_at: str | None = None


@dataclass
class TranscriptMeter:
    path: Path
    spend: Spend = field(default_factory=Spend)
    _offset: int = 0
    _brain: str | None = None

    def read(self) -> Spend:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return self.spend
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                self._count(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash and written over on restart
        return self.spend

    def _count(self, line: dict[str, Any]) -> None:
        s, kind = self.spend, line.get("kind")
        s.last_at = line.get("at", s.last_at)
        if kind == "model":
            s.steps += 1
            s.dollars += float(line.get("cost_usd") or 0.0)
            s.tokens += sum(int(v) for v in (line.get("usage") or {}).values())
        elif kind == "tool":
            name = str(line.get("name"))
            s.tool_calls[name] = s.tool_calls.get(name, 0) + 1
            s.tool_errors += bool(line.get("is_error"))
            if self._brain == "baseline":
                s.steps += 1  # the baseline has no model turns: its steps are its tool calls
            if line.get("name") == "submit_predictions" and not line.get("is_error"):
                s.submissions += 1
        elif kind == "event" and line.get("event") == "start":
            s.last_stop, self._brain = None, line.get("brain")
        elif kind == "event" and line.get("event") == "session_end":
            # an external agent's session: its own total of the session's calls
            s.dollars += float(line.get("cost_usd") or 0.0)
            s.tokens += sum(int(v) for v in (line.get("usage") or {}).values())
        elif kind == "event" and line.get("event") == "compaction":
            s.compactions += 1
        elif kind == "event" and line.get("event") == "stop":
            s.last_stop = str(line.get("reason"))


def metered_by_hub(spend: Spend, model: ModelSpend | None) -> Spend:
    """``spend`` with the dollars and tokens the hub's gateway metered (None: not yet seen)."""
    if model is None:
        return spend
    return replace(spend, dollars=model.dollars, tokens=model.tokens)
