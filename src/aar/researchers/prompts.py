"""The researcher's system prompt, assembled from the template files in ``prompts/``.

    text = system_prompt(PromptContext(name="r1", task="geofacts", task_brief="...",
                                       bundle="/data/geofacts", direction=direction,
                                       budgets="20 submissions per hour ..."))

The templates use ``$name`` placeholders (``string.Template``); a missing value is an error,
never a silently empty prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from aar.hub.schemas import TaskPublic
from aar.researchers.directions import Direction

PROMPTS = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class PromptContext:
    name: str
    task: str
    task_brief: str
    bundle: str
    direction: Direction
    budgets: str


def template(name: str) -> Template:
    return Template((PROMPTS / f"{name}.md").read_text().strip())


def system_prompt(context: PromptContext) -> str:
    environment = template("environment").substitute(bundle=context.bundle)
    return template("system").substitute(
        name=context.name,
        background=template("background").template,
        task=context.task,
        task_brief=context.task_brief,
        environment=environment,
        rules=template("rules").template,
        direction_title=context.direction.title,
        direction_text=context.direction.text,
        budgets=context.budgets,
    )


def research_prompt(
    name: str, task: TaskPublic, bundle: str, direction: Direction, budget: dict[str, Any]
) -> str:
    """The system prompt of researcher ``name`` on ``task``, its hard stops from ``budget``."""
    brief = task.description or f"the {task.name} task: {task.n_test} test items"
    shown = ", ".join(f"{k} {v}" for k, v in budget.items() if v is not None)
    hard = f"Hard stops: {shown}. The hub also limits submissions per hour."
    return system_prompt(PromptContext(name, task.name, brief, bundle, direction, hard))
