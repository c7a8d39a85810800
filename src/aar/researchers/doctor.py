"""Can this endpoint and model drive a researcher? One tool-call round trip says.

    with make_provider(ProviderConfig(kind="openai", model="qwen3", base_url=URL)) as provider:
        report = check_endpoint(provider)
    report.can_drive, report.verdict, report.rows()

The check sends what a researcher's first turn sends, in small: a system prompt, a request to
call a tool, one tool. Then it sends the tool's result back, as the loop does, and asks for a
second call. It passes when the model called the tool with the right argument both times
(natively, or written as text that the provider parsed), and the server took the history
with the tool's result. It also sizes a researcher's real first prompt (system prompt and the
full tool schemas) against the context window, since a window that cannot hold it, plus room
to answer, cannot hold a researcher either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aar.researchers.directions import library
from aar.researchers.prompts import PromptContext, system_prompt
from aar.researchers.providers.base import (
    Completion,
    Message,
    Provider,
    ProviderError,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
)
from aar.researchers.sizing import guess_request

SYSTEM = "You are checking that tool calls work. Always answer by calling a tool."
ASK = "Call the tool echo with text set to '{word}'. Call the tool; do not answer in prose."
ECHO = ToolSpec(
    "echo",
    "Echo the text back.",
    {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "the text to echo"}},
        "required": ["text"],
        "additionalProperties": False,
    },
)
WORDS = ("ping", "pong")
MIN_ANSWER_ROOM = 1024


@dataclass
class DoctorReport:
    """What the round trip found; ``can_drive`` is the verdict."""

    provider: str
    model: str
    context_window: int
    first_prompt_tokens: int
    turns: list[Completion] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def can_drive(self) -> bool:
        return self.problem is None

    @property
    def verdict(self) -> str:
        if self.problem:
            return f"NO: {self.problem}"
        how = " and ".join(sorted(set(self.calls)))
        return f"yes: the model called the tool ({how}) and took its result back"

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("endpoint", f"{self.provider} provider, model {self.model}"),
            ("context window", f"{self.context_window} tokens"),
            ("a researcher's first prompt", f"about {self.first_prompt_tokens} tokens"),
        ]
        for number, turn in enumerate(self.turns, 1):
            speed = turn.usage.output_tokens / turn.duration_s if turn.duration_s else 0.0
            rows.append((f"turn {number}", _turn_summary(turn, speed)))
        rows.append(("can drive a researcher", self.verdict))
        return rows


def check_endpoint(provider: Provider, tools: list[ToolSpec] | None = None) -> DoctorReport:
    """The round trip (see the module); ``tools`` are a researcher's, for the sizing."""
    report = DoctorReport(
        provider.name, provider.model, provider.context_window, _first_prompt(tools or [])
    )
    if report.first_prompt_tokens + MIN_ANSWER_ROOM > provider.context_window:
        report.problem = (
            f"the context window ({provider.context_window} tokens) cannot hold a researcher's "
            f"first prompt (about {report.first_prompt_tokens}) and an answer; give the server "
            "a larger context and set context_window to it"
        )
        return report
    history: list[Message] = []
    try:
        for word in WORDS:
            history.append(Message("user", (TextBlock(ASK.format(word=word)),)))
            if not _one_call(provider, history, word, report):
                return report
    except ProviderError as err:
        report.problem = f"the request failed: {err}"
    return report


def _one_call(provider: Provider, history: list[Message], word: str, report: DoctorReport) -> bool:
    completion = provider.complete(SYSTEM, history, [ECHO], max_tokens=256)
    report.turns.append(completion)
    history.append(completion.message)
    calls = [c for c in completion.tool_calls if c.name == "echo"]
    if not calls:
        report.problem = _no_call(completion)
        return False
    call = calls[0]
    if call.arguments != {"text": word}:
        report.problem = f"the model called echo with {call.raw_arguments!r}, not text={word!r}"
        return False
    report.calls.append("written as text" if call.from_text else "native")
    results = tuple(ToolResultBlock(c.id, word if c is call else "not run") for c in calls)
    history.append(Message("user", results))
    return True


def _no_call(completion: Completion) -> str:
    said = " ".join(completion.text.split())[:200]
    return (
        f"the model answered without a tool call (stop reason {completion.stop_reason}): "
        f"{said!r}. Use a model with tool calling, serve it with its tool-call parser "
        "(vLLM --enable-auto-tool-choice --tool-call-parser ...; llama.cpp --jinja), or keep "
        "text tool calls on"
    )


def _first_prompt(tools: list[ToolSpec]) -> int:
    context = PromptContext(
        "r01", "geofacts", "the geofacts task: 2000 test items", "/data/geofacts",
        library()[0], "Hard stops: minutes 60.",
    )  # fmt: skip
    return guess_request(system_prompt(context), [], tools)


def _turn_summary(turn: Completion, speed: float) -> str:
    calls = ", ".join(f"{c.name}({c.raw_arguments})" for c in turn.tool_calls) or "no tool call"
    return (
        f"{calls}; {turn.usage.prompt_tokens} prompt + {turn.usage.output_tokens} output "
        f"tokens in {turn.duration_s:.1f} s ({speed:.1f} output tokens/s)"
    )
