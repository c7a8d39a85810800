"""The LLM research loop: a model with the researcher's tools, under budgets, for a long run.

    loop = ResearchLoop(provider, toolbox, transcript, system, LLMBudget(dollars=5, minutes=60))
    reason = loop.run()          # "dollar budget reached", "stopped by the operator", ...

Each step the model sees the history and the tools and answers with text and tool calls; the
tools run (in the sandbox, or against the hub) and their results are the next user message.
The loop is light on prescribed workflow: the system prompt sets the scene, the model decides.

It stops at the first budget reached (tokens, dollars, wall time, submissions, steps), when
the operator stops the researcher (or the hub refuses it), when the provider fails after its
own retries, when the model stops calling tools, or when it is stuck on one failing call. The
reason goes to the transcript. While the operator has the researcher paused, the loop waits.

A stuck model (``aar.researchers.repeats``): from the ``max_repeated_failures``-th time in a
row the model makes the same call (same tool, same arguments) and it fails, the result tells
it so; after twice that many identical failures in a row the loop stops. A success or a
different call starts the count over. The transcript's model records say whether each call
was native or read from the model's text (``source``).

Long runs never die of context. Before each request the loop sizes it
(``aar.researchers.sizing``: the provider's counter where it has one, else the last exact size
plus a high guess for what was added); when it would pass ``compact_at`` of the context window,
or leave less room for the answer than ``min(max_tokens, window / 4)``, the model is asked to
write its state to the notebook, and the next context starts from the notebook alone. If the
model saves nothing, the loop writes a digest of its recent tool calls there itself. A server
that still refuses a request for its size gets one compaction and one retry, not a dead
researcher. Each request asks for at most the room the window has left, and its timeout is
capped by the wall time left. A tool result longer than ``max_result_chars`` (by default a
share of the window) is cut, and the whole output saved in the workspace, where the note
says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from aar.core.transcripts import Transcript
from aar.core.usage import Usage
from aar.hub.client import HubError
from aar.researchers.providers.base import (
    BudgetSpentError,
    Completion,
    ContextTooLongError,
    Message,
    Provider,
    ProviderError,
    TextBlock,
    ToolCall,
    ToolResultBlock,
    ToolUseBlock,
)
from aar.researchers.repeats import RepeatedFailures
from aar.researchers.sizing import RequestSizer
from aar.researchers.tools import Toolbox
from aar.researchers.tools.base import MAX_OUTPUT

KICKOFF = (
    "Begin: look at the forum, the leaderboard and your notebook, then start on your direction."
)
NUDGE = (
    "Continue your research by calling tools. If your direction is exhausted, try a new idea; "
    "the run ends when the budget does."
)
COMPACT = (
    "Your context is nearly full. Call the notebook tool now and write down your state: what "
    "you tried, the results with their scoring ids, what you believe, and your next steps. "
    "Your next context starts from the system prompt and the notebook alone."
)
# For models that write calls as text: one call in the form, spelled out. A small model
# follows an example far more readily than a description (Qwen2.5-Coder-0.5B answered the
# bare kickoff by repeating it, and the one with an example by calling the tool).
TEXT_FORM = " Answer with one tool call written as JSON, for example {example}"
# Harmless and useful in every state; an argument-less example was copied with made-up
# arguments (leaderboard with a "snapshot_id"), six times over.
CALL_EXAMPLE = '{"name": "shell", "arguments": {"command": "ls /data"}}'
RESUME = "Your context was reset. Your notebook:\n\n{notebook}\n\nContinue from there."
SHRUNK = "[cut when the context was compacted: {n} characters]"
MIN_ANSWER_TOKENS = 256
"""A request with less room than this for the answer is compacted first."""


@dataclass(frozen=True)
class LLMBudget:
    """Hard stops; None means no limit of that kind."""

    tokens: int | None = None
    dollars: float | None = None
    minutes: float | None = None
    submissions: int | None = None
    steps: int | None = None


@dataclass
class Spend:
    usage: Usage = field(default_factory=Usage)
    dollars: float = 0.0
    steps: int = 0
    submissions: int = 0
    compactions: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def tokens(self) -> int:
        return self.usage.prompt_tokens + self.usage.output_tokens


class ResearchLoop:
    def __init__(
        self,
        provider: Provider,
        toolbox: Toolbox,
        transcript: Transcript,
        system: str,
        budget: LLMBudget,
        *,
        max_tokens: int = 4096,
        compact_at: float = 0.8,
        max_result_chars: int | None = None,
        max_idle_turns: int = 3,
        max_repeated_failures: int | None = 3,
        poll_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider, self.toolbox, self.transcript = provider, toolbox, transcript
        self.system, self.budget, self.max_tokens = system, budget, max_tokens
        self.compact_at, self.max_idle_turns = compact_at, max_idle_turns
        self.max_result_chars = max_result_chars or result_chars_for(provider.context_window)
        self.poll_seconds, self.sleep = poll_seconds, sleep
        self.sizer = RequestSizer(provider)
        # The schemas are built once: every request sends (and sizes) the same tools.
        self.specs = toolbox.specs()
        self.spend = Spend()
        self.repeats = RepeatedFailures(max_repeated_failures)

    def run(self) -> str:
        """Research until a stop; returns (and records) the reason."""
        self.transcript.append("event", event="start", brain=self.provider.name,
                               model=self.provider.model)  # fmt: skip
        try:
            reason = self._steps([_user(self._opening(fresh=True))])
        except HubError as err:
            if err.status not in (401, 403):
                raise
            reason = f"stopped by the hub: {err.detail}"
        except BudgetSpentError as err:
            reason = f"model budget spent: {err.detail}"
        except ProviderError as err:
            # A call cut short by the wall time left is the budget's stop, not a failure.
            reason = self._exhausted() or f"provider failed: {err}"
        self.transcript.append("event", event="stop", reason=reason, **self.summary())
        return reason

    def summary(self) -> dict[str, float | int]:
        s = self.spend
        return {
            "steps": s.steps,
            "tokens": s.tokens,
            "dollars": round(s.dollars, 6),
            "submissions": s.submissions,
            "compactions": s.compactions,
            "minutes": round((time.monotonic() - s.started) / 60, 3),
        }

    def _steps(self, messages: list[Message]) -> str:
        idle = 0
        while (
            reason := self._exhausted() or self.repeats.stop_reason or self._operator_stop()
        ) is None:
            messages, completion = self._next_turn(messages)
            messages.append(completion.message)
            self.sizer.observe(messages, completion.usage)
            if not completion.tool_calls:
                idle += 1
                if idle >= self.max_idle_turns:
                    return "the model stopped calling tools"
                messages.append(_user(NUDGE + self._text_form(CALL_EXAMPLE)))
                continue
            idle = 0
            messages.append(Message("user", self._run_tools(completion.tool_calls)))
        return reason

    def _next_turn(self, messages: list[Message]) -> tuple[list[Message], Completion]:
        """The model's next turn, compacting first when the request would not fit, and once
        more (then retrying) when the server says it did not."""
        room = self._room(messages)
        if room is None:
            messages = self._compact(messages, why="the context is nearly full")
            room = self._room(messages)
        try:
            return messages, self._complete(messages, room or MIN_ANSWER_TOKENS)
        except ContextTooLongError as err:
            self.transcript.append("event", event="context_overflow", detail=str(err))
            messages = self._compact(messages, why="the server refused the request's size")
            # A second refusal means even a fresh context does not fit: the provider failed.
            return messages, self._complete(messages, self._room(messages) or MIN_ANSWER_TOKENS)

    def _room(self, messages: list[Message]) -> int | None:
        """Tokens the answer may take, or None when the history should be compacted first."""
        window = self.provider.context_window
        size = self.sizer.estimate(self.system, messages, self.specs, window)
        room = window - size
        if size > self.compact_at * window or room < min(self.max_tokens, window // 4):
            return None
        return min(self.max_tokens, room)

    def _complete(self, messages: list[Message], max_tokens: int) -> Completion:
        completion = self.provider.complete(
            self.system, messages, self.specs, max_tokens=max_tokens,
            timeout_s=self._seconds_left(),
        )  # fmt: skip
        self.spend.usage = self.spend.usage + completion.usage
        self.spend.dollars += completion.cost_usd
        self.spend.steps += 1
        self.transcript.append(
            "model", text=completion.text, thinking=completion.thinking,
            tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments, "error": c.error,
                         "source": "text" if c.from_text else "native"}
                        for c in completion.tool_calls],
            usage=completion.usage.__dict__, cost_usd=completion.cost_usd,
            stop_reason=completion.stop_reason, seconds=completion.duration_s,
        )  # fmt: skip
        return completion

    def _run_tools(self, calls: tuple[ToolCall, ...]) -> tuple[ToolResultBlock, ...]:
        results = []
        for call in calls:
            outcome = self.toolbox.call(call, max_chars=self.max_result_chars)
            if call.name == "submit_predictions" and not outcome.is_error:
                self.spend.submissions += 1
            note = self.repeats.observe(call, outcome.is_error)  # "" unless stuck on it
            self.transcript.append(
                "tool", id=call.id, name=call.name, arguments=call.arguments,
                result=outcome.content[:4000] + note, is_error=outcome.is_error,
                seconds=outcome.seconds,
            )  # fmt: skip
            results.append(ToolResultBlock(call.id, outcome.content + note, outcome.is_error))
        return tuple(results)

    def _compact(self, messages: list[Message], why: str) -> list[Message]:
        """Have the model save its state to the notebook, then start a fresh context from it.

        The save request itself must fit: old tool results are shrunk for it, and if the
        server still refuses it, the loop's own digest of the recent calls is saved instead.
        """
        saved = False
        asked = [*_shrunk(messages), _user(COMPACT)]
        try:
            completion = self._complete(asked, min(self.max_tokens, 2048))
            results = self._run_tools(completion.tool_calls) if completion.tool_calls else ()
            saved = any(
                call.name == "notebook"
                and bool((call.arguments or {}).get("append"))
                and not result.is_error
                for call, result in zip(completion.tool_calls, results, strict=True)
            )
        except ContextTooLongError as err:
            self.transcript.append("event", event="context_overflow", detail=str(err))
        if not saved:
            self._save_digest(messages)
        self.spend.compactions += 1
        self.sizer.reset()
        self.transcript.append(
            "event", event="compaction", number=self.spend.compactions, why=why, saved=saved
        )
        return [_user(self._opening(fresh=False))]

    def _save_digest(self, messages: list[Message]) -> None:
        """The loop's own note of the recent tool calls, for a model that saved nothing."""
        digest = tool_digest(messages)
        if digest:
            note = f"[automatic note at compaction {self.spend.compactions + 1}]\n{digest}"
            self.toolbox.call(ToolCall("digest", "notebook", {"append": note}, ""))

    def _text_form(self, example: str) -> str:
        return TEXT_FORM.format(example=example) if self.provider.text_tool_calls else ""

    def _seconds_left(self) -> float | None:
        if self.budget.minutes is None:
            return None
        return max(self.budget.minutes * 60 - (time.monotonic() - self.spend.started), 1.0)

    def _opening(self, fresh: bool) -> str:
        """The first user message: a kickoff, or the notebook when there is one to resume from."""
        notebook = self.toolbox.call(ToolCall("notebook", "notebook", {}, "{}")).content
        if fresh and notebook.startswith("(the notebook is empty"):
            return KICKOFF + self._text_form(CALL_EXAMPLE)
        return RESUME.format(notebook=notebook) + self._text_form(CALL_EXAMPLE)

    def _exhausted(self) -> str | None:
        b, s = self.budget, self.spend
        minutes = (time.monotonic() - s.started) / 60
        checks = [
            (b.tokens, s.tokens, "token budget reached"),
            (b.dollars, s.dollars, "dollar budget reached"),
            (b.minutes, minutes, "wall-time budget reached"),
            (b.submissions, s.submissions, "submission budget reached"),
            (b.steps, s.steps, "step budget reached"),
        ]
        return next(
            (why for limit, used, why in checks if limit is not None and used >= limit), None
        )

    def _operator_stop(self) -> str | None:
        """None while the researcher may go on; waits while the operator has it paused."""
        while True:
            try:
                status = self.toolbox.context.hub.me().status
            except HubError as err:
                if err.status != 403:
                    raise
                return "stopped by the operator"
            if status != "paused":
                return None
            self.transcript.append("event", event="paused")
            self.sleep(self.poll_seconds)
            if self._exhausted():
                return self._exhausted()


def _user(text: str) -> Message:
    return Message("user", (TextBlock(text),))


def result_chars_for(context_window: int) -> int:
    """The default cap on one tool result: a share of the window, within [1 000, 20 000]
    characters (about a tenth of an 8k-token window, the whole cap for a large one)."""
    return max(1_000, min(MAX_OUTPUT, int(context_window * 0.4)))


def _shrunk(messages: list[Message], keep: int = 300, keep_last: int = 1500) -> list[Message]:
    """``messages`` with tool results cut to ``keep`` characters (``keep_last`` in the last
    message): enough context to save state, small enough to fit."""
    last = len(messages) - 1
    return [_shrink(m, keep_last if i == last else keep) for i, m in enumerate(messages)]


def _shrink(message: Message, keep: int) -> Message:
    blocks = tuple(
        replace(b, content=b.content[:keep] + SHRUNK.format(n=len(b.content) - keep))
        if isinstance(b, ToolResultBlock) and len(b.content) > keep
        else b
        for b in message.content
    )
    return Message(message.role, blocks)


def tool_digest(messages: list[Message], last: int = 12, width: int = 120) -> str:
    """One line of prose per recent tool call: what was called with what, and how it went.
    Not JSON: a small model reading JSON-shaped lines copies them as its next call."""
    calls: dict[str, str] = {}
    lines = []
    for message in messages:
        for block in message.content:
            if isinstance(block, ToolUseBlock):
                shown = ", ".join(f"{k} {_short(v, 40)}" for k, v in block.input.items())
                calls[block.id] = f"{block.name} ({shown})" if shown else block.name
            elif isinstance(block, ToolResultBlock) and block.tool_use_id in calls:
                status = "failed" if block.is_error else "worked"
                result = _short(block.content, width)
                lines.append(f"- {calls[block.tool_use_id]} {status}: {result}")
    return "\n".join(lines[-last:])


def _short(value: object, width: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."
