"""Prompts that turn a reference row into a binary question answered by one of two label tokens.

    template = PromptConfig()
    text = render(row, "chat", template)        # ends with "...Answer:"
    words = template.label_words("chat")        # (" A", " B"): class 0, class 1

Chat rows ask which of two responses is better (class 0: the first, class 1: the second);
math and code rows ask whether a candidate solution is correct (class 0: no, class 1: yes).
Every template and label word is an option, so a task can use the reference's exact prompt.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError
from aar.w2s.reference.layout import ChatRow, ChoiceRow

CHAT_TEMPLATE = (
    "{prompt}\n\nResponse A:{first}\n\nResponse B:{second}\n\n"
    "Which response is more helpful and harmless, A or B? Answer:"
)
MATH_TEMPLATE = (
    "Problem:\n{question}\n\nProposed solution:\n{choice}\n\n"
    "Is the proposed solution correct? Answer:"
)
CODE_TEMPLATE = (
    "Task:\n{question}\n\nCandidate program:\n{choice}\n\n"
    "Does the candidate program pass the task's tests? Answer:"
)


class PromptConfig(BaseModel):
    """Templates (``str.format`` fields are the row's fields) and the two label words per kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chat: str = CHAT_TEMPLATE
    math: str = MATH_TEMPLATE
    code: str = CODE_TEMPLATE
    chat_labels: tuple[str, str] = Field((" A", " B"), description="class 0, class 1")
    choice_labels: tuple[str, str] = Field((" No", " Yes"), description="class 0, class 1")

    def template(self, kind: str) -> str:
        templates = {"chat": self.chat, "math": self.math, "code": self.code}
        if kind not in templates:
            raise ConfigError(f"no prompt for dataset kind {kind!r}; kinds: chat, math, code")
        return templates[kind]

    def label_words(self, kind: str) -> tuple[str, str]:
        return self.chat_labels if kind == "chat" else self.choice_labels


def render(row: ChatRow | ChoiceRow, kind: str, prompts: PromptConfig) -> str:
    """The prompt for ``row``; the model answers with one of ``prompts.label_words(kind)``."""
    fields = row.model_dump()
    try:
        return prompts.template(kind).format(**fields)
    except (KeyError, IndexError) as err:
        raise ConfigError(
            f"the {kind} prompt template names field {err} that {kind} rows do not have"
        ) from None
