"""What a campaign is: a validated TOML file whose every field is also an ``aar run`` flag.

    config = load_config(Path("campaign.toml"), overrides={"researchers.count": 8})
    config.researchers.resolved_brain        # "baseline" unless a model is configured
    save_config(config, Path("campaign/campaign.toml"))

A file looks like this (every table and field is optional; these are the defaults)::

    task = "geofacts"
    seeds = 3                      # seeds with weak labels and baselines in the bundle

    [researchers]
    count = 4
    brain = "baseline"             # or anthropic / openai (any compatible server) / scripted
    # model = "claude-opus-4-6"    # a model alone picks its brain: claude-* anthropic, else openai
    # base_url = "http://127.0.0.1:8080/v1"   # an OpenAI-compatible server (vLLM, Ollama, ...)
    # context_window = 32768       # tokens; the loop compacts before a request would not fit
    max_tokens = 4096              # per model answer (less when the window has less room)
    # request_timeout = 300        # seconds per attempt, never past the wall time left
    # max_retries = 3              # on 429/5xx/timeouts
    # temperature = 0.7            # default: the server's
    sandbox = "bwrap"
    extra_distributions = []       # more packages in the sandboxes' curated Python

    # [[researchers.groups]]       # a mixed fleet: each group sets what differs and
    # count = 2                    # takes the rest from [researchers]; count is their sum
    # model = "qwen2.5-coder"
    # base_url = "http://127.0.0.1:8080/v1"
    # context_window = 8192

    [budget]                       # per researcher, hard stops
    minutes = 3.0
    submissions = 60

    [fleet]                        # for all researchers together, hard stops
    minutes = 3.0

    [executor]
    kind = "local"                 # or "ray" (ray_address = "auto" for a running cluster)

    [end]
    verify_top_k = 3
    heldout_tasks = ["toy"]

Errors name the file, the field and what is wrong (``ConfigError``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aar.core.errors import ConfigError

if TYPE_CHECKING:
    from aar.sandbox.pyenv import PythonEnv

AGENTS = ("claude-code", "codex")
"""Brains that are agent programs brought from outside, run inside the sandbox."""
Brain = Literal["baseline", "anthropic", "openai", "scripted", "claude-code", "codex"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


MODEL_FIELDS = (
    "brain", "model", "base_url", "api_key_env", "script", "prices", "context_window",
    "max_tokens", "request_timeout", "max_retries", "temperature", "text_tool_calls",
)  # fmt: skip
"""The fields a researcher group may set for itself."""


class ResearcherGroup(_Section):
    """Researchers that share model settings; an unset field takes ``[researchers]``'s."""

    name: str | None = Field(None, description="a label for the report")
    count: int = Field(ge=1, le=256, description="researchers in this group")
    brain: Brain | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    script: Path | None = None
    prices: Path | None = None
    context_window: int | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, ge=64)
    request_timeout: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    text_tool_calls: bool | None = None


class ResearchersConfig(_Section):
    count: int = Field(4, ge=1, le=256, description="researchers started at the beginning")
    brain: Brain | None = Field(None, description="who decides (default: baseline, or by model)")
    model: str | None = Field(None, description="model name for LLM brains")
    base_url: str | None = Field(None, description="API root of an OpenAI-compatible server")
    api_key_env: str | None = Field(None, description="env var with the API key")
    script: Path | None = Field(None, description="JSON turns for the scripted brain")
    prices: Path | None = Field(None, description="TOML price table over the defaults")
    context_window: int | None = Field(
        None, gt=0, description="the model's context in tokens (None: known, else 32768)"
    )
    max_tokens: int = Field(4096, ge=64, description="most tokens per model answer")
    request_timeout: float | None = Field(
        None, gt=0, description="seconds per request attempt (None: 300)"
    )
    max_retries: int | None = Field(None, ge=0, description="retries on 429/5xx/timeouts (None: 3)")
    temperature: float | None = Field(
        None, ge=0, le=2, description="sampling temperature (None: the server's)"
    )
    text_tool_calls: bool | None = Field(
        None, description="parse tool calls written as text (None: on for openai endpoints)"
    )
    groups: list[ResearcherGroup] = Field(
        default_factory=list,
        description="groups with their own model settings; each inherits what it leaves unset",
    )
    directions: list[str] = Field(default_factory=list, description="direction names to deal")
    directions_file: Path | None = Field(None, description="custom directions (TOML or folder)")
    sandbox: Literal["bwrap", "process"] = Field("bwrap", description="sandbox backend")
    allow_unsafe: bool = Field(False, description="allow the process sandbox (no isolation)")
    max_restarts: int = Field(3, ge=0, description="restarts of a crashed researcher")
    extra_distributions: list[str] = Field(
        default_factory=list,
        description="installed distributions added to the sandboxes' curated Python "
        "(researchers and verification alike)",
    )

    @property
    def resolved_brain(self) -> Brain:
        if self.brain is not None:
            return self.brain
        if self.model is None:
            return "baseline"
        return "anthropic" if self.model.startswith("claude") else "openai"

    def sandbox_python(self) -> PythonEnv:
        """The Python the researchers' sandboxes and the verification re-runs see: the curated
        environment with ``extra_distributions``; ``ConfigError`` naming the field when one
        is not a distribution installed here."""
        from aar.sandbox.pyenv import curated_env

        try:
            return curated_env(self.extra_distributions)
        except ConfigError as err:
            raise ConfigError(f"researchers.extra_distributions: {err}") from None

    def group_of(self, index: int) -> int | None:
        """The group of the ``index``-th researcher enrolled (None: no groups)."""
        end = 0
        for number, group in enumerate(self.groups):
            end += group.count
            if index < end:
                return number
        return None

    def settings(self, group: int | None) -> ResearchersConfig:
        """The settings a researcher of ``group`` runs with (None: these)."""
        if group is None or group >= len(self.groups):
            return self
        own = self.groups[group].model_dump(include=set(MODEL_FIELDS), exclude_none=True)
        return self.model_copy(update={**own, "groups": []})

    @model_validator(mode="before")
    @classmethod
    def _count_groups(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not isinstance(raw.get("groups"), list):
            return raw
        total = sum(g.get("count", 0) for g in raw["groups"] if isinstance(g, dict))
        if raw["groups"] and "count" in raw and raw["count"] != total:
            raise ValueError(
                f"count is {raw['count']} but the groups hold {total} researchers: "
                "leave count out, or make them agree"
            )
        return {**raw, "count": total} if raw["groups"] else raw

    @model_validator(mode="after")
    def _check_groups(self) -> ResearchersConfig:
        for number, _ in enumerate(self.groups):
            problem = self.settings(number)._brain_problem()
            if problem:
                raise ValueError(f"groups.{number}: {problem}")
        return self

    @model_validator(mode="after")
    def _check_brain(self) -> ResearchersConfig:
        problem = self._brain_problem()
        if problem:
            raise ValueError(problem)
        if self.sandbox == "process" and not self.allow_unsafe:
            raise ValueError("sandbox process does not isolate researchers: set allow_unsafe")
        return self

    def _brain_problem(self) -> str | None:
        brain = self.resolved_brain
        if brain in ("anthropic", "openai", *AGENTS) and not self.model:
            return f"brain {brain} needs a model (researchers.model / --model)"
        if brain in AGENTS and self.sandbox != "bwrap":
            return f"brain {brain} runs only in the bwrap sandbox (researchers.sandbox)"
        if brain == "scripted" and self.script is None:
            return "brain scripted needs a script (researchers.script / --script)"
        return None


class BudgetConfig(_Section):
    """Per researcher; every limit is a hard stop (None: no limit of that kind)."""

    minutes: float | None = Field(None, gt=0, description="wall time (default: the fleet's)")
    dollars: float | None = Field(None, gt=0, description="model spend")
    tokens: int | None = Field(None, gt=0, description="model tokens")
    submissions: int = Field(60, ge=1, description="scorings in total (the hub enforces it)")
    submissions_per_hour: int = Field(60, ge=1, description="scorings per hour (the hub)")
    steps: int | None = Field(None, gt=0, description="model turns")
    gpu_hours: float | None = Field(None, gt=0, description="wall hours × GPUs held")


class FleetConfig(_Section):
    """For all researchers together; reaching one stops the research phase."""

    minutes: float = Field(3.0, gt=0, description="wall time of the research phase")
    dollars: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, gt=0)
    submissions: int | None = Field(None, gt=0)
    gpu_hours: float | None = Field(None, gt=0)


class ExecutorConfig(_Section):
    kind: Literal["local", "ray"] = Field("local", description="where researchers run")
    ray_address: str | None = Field(None, description="auto, ray://host:port (None: local)")
    cpus: float = Field(1.0, gt=0, description="CPUs per researcher (Ray)")
    gpus: float = Field(0.0, ge=0, description="GPUs per researcher (Ray; GPU-hours)")


class HubConfig(_Section):
    url: str | None = Field(None, description="use this running hub instead of starting one")
    operator_token_env: str = Field("AAR_OPERATOR_TOKEN", description="its operator token")
    port: int = Field(0, ge=0, le=65535, description="TCP port of a started hub (0: free)")
    database_url: str | None = Field(None, description="SQLAlchemy URL (default: SQLite)")
    artifact_url: str | None = Field(None, description="fsspec URL for snapshots")


class EndConfig(_Section):
    verify_top_k: int = Field(
        3,
        ge=0,
        description="entries to verify: re-run from snapshots in private-PGR order until this "
        "many are verified or twice this many were re-run",
    )
    verify_seeds: list[int] = Field(
        [1001, 1002, 1003], min_length=1, description="fresh seeds of the sealed re-runs"
    )
    heldout_tasks: list[str] | None = Field(None, description="default: another testbed")
    heldout_seeds: int = Field(2, ge=1, description="seeds per held-out run")
    agreement: float = Field(
        0.95, gt=0, le=1, description="share of the submitted vector a re-run must reproduce"
    )
    agreement_reruns: int = Field(
        3,
        ge=1,
        description="seeds re-run for agreement per entry: those of its scorings with the best "
        "private PGR",
    )
    tolerance: float = Field(
        0.02, ge=0, description="least PGR slack of the sealed check (else 2 combined SEs)"
    )


class CampaignConfig(_Section):
    name: str | None = Field(None, description="shown in the report (default: the folder)")
    task: str = Field("geofacts", description="the task researchers work on")
    task_options: dict[str, Any] = Field(default_factory=dict, description="task options")
    seeds: int = Field(3, ge=1, le=20, description="seeds in the public bundle")
    split_seed: int = Field(0, description="seed of the one fixed split")
    task_secrets: Path | None = Field(
        None,
        description="for a task the hub already has: the secrets file aar hub publish-task "
        "wrote (its secret options build the sealed set)",
    )
    researchers: ResearchersConfig = ResearchersConfig()
    budget: BudgetConfig = BudgetConfig()
    fleet: FleetConfig = FleetConfig()
    executor: ExecutorConfig = ExecutorConfig()
    hub: HubConfig = HubConfig()
    end: EndConfig = EndConfig()

    @property
    def researcher_minutes(self) -> float:
        return self.budget.minutes or self.fleet.minutes

    @property
    def heldout(self) -> list[str]:
        if self.end.heldout_tasks is not None:
            return self.end.heldout_tasks
        return ["toy"] if self.task != "toy" else []


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> CampaignConfig:
    """The config in ``path`` (None: defaults) with dotted ``overrides`` laid over it."""
    raw: dict[str, Any] = {}
    where = str(path) if path else "the command line"
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no campaign config at {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML ({err})") from None
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set(raw, dotted.split("."), value)
    return validate_config(raw, where)


def validate_config(raw: dict[str, Any], where: str) -> CampaignConfig:
    try:
        return CampaignConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(_problem(e) for e in err.errors())
        raise ConfigError(f"{where}: {problems}") from None


def _problem(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{field}: {message}"


def _set(raw: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        raw = raw.setdefault(key, {})
    raw[path[-1]] = value


def save_config(config: CampaignConfig, path: Path) -> None:
    """Write ``config`` as TOML (the campaign folder keeps the config it was started with)."""
    path.write_text(to_toml(config.model_dump(mode="json", exclude_none=True)))


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for the config's shape: scalars, lists, one level of tables."""
    lines = [f"{key} = {_toml_value(v)}" for key, v in data.items() if not _is_table(v)]
    for key, table in data.items():
        if _is_table(table) and key != "task_options":
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    if data.get("task_options"):
        lines += ["", "[task_options]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in data["task_options"].items()]
    return "\n".join(lines) + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} to TOML")
