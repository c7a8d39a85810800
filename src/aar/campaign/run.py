"""A whole campaign, start to report: ``aar run`` is a thin layer over this.

    campaign = Campaign.create(Path("campaigns/first"), config)     # or Campaign.resume(path)
    report = campaign.run(view)                                      # the report's index.html

``run`` starts the hub (or uses the configured one) — with an LLM gateway that holds the model
keys when researchers call models over HTTP (``aar.campaign.gateway``) — publishes the task,
enrolls the researchers with tokens, directions and model limits, runs the research phase
(``Supervisor``), then the end checks and the report. State is saved as it goes; an
interruption (Ctrl-C, SIGTERM) stops researchers and hub cleanly and raises
``CampaignInterruptedError``, and a killed campaign leaves a folder that ``Campaign.resume``
continues.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from aar.campaign.config import CampaignConfig, load_config, save_config
from aar.campaign.executors import make_executor
from aar.campaign.finish import EndResults, end_checks, results_path
from aar.campaign.gateway import check_agents, gateway_plan, key_variables, routes_on
from aar.campaign.hubproc import HubProcess
from aar.campaign.jobs import HubAccess
from aar.campaign.layout import CampaignLayout
from aar.campaign.live import View
from aar.campaign.publish import load_secrets, publish, secret_options
from aar.campaign.report_data import collect_summary
from aar.campaign.state import CampaignState, now
from aar.campaign.supervisor import Supervisor
from aar.core.errors import AarError, ConfigError
from aar.hub.client import HubClient


class CampaignInterruptedError(AarError):
    """The campaign was stopped before its end; ``aar run --resume DIR`` continues it."""

    exit_code = 130


@dataclass
class Hub:
    access: HubAccess
    operator: HubClient


class Campaign:
    def __init__(
        self, layout: CampaignLayout, config: CampaignConfig, state: CampaignState
    ) -> None:
        self.layout, self.config, self.state = layout, config, state

    @classmethod
    def create(cls, directory: Path, config: CampaignConfig) -> Campaign:
        layout = CampaignLayout(directory)
        config.researchers.sandbox_python()  # a package that is not there: refused up front
        if layout.state.exists():
            raise ConfigError(
                f"{directory} already holds a campaign; continue it with "
                f"aar run --resume {directory}"
            )
        if directory.exists() and any(directory.iterdir()):
            raise ConfigError(f"{directory} is not empty; give a new folder for the campaign")
        uses_socket = config.executor.kind == "local" and config.hub.url is None
        if uses_socket and not layout.socket_fits():
            raise ConfigError(
                f"{directory} is too deep for the hub's Unix socket; use a shorter path"
            )
        layout.create()
        save_config(config, layout.config)
        state = CampaignState()
        state.save(layout.state)
        return cls(layout, config, state)

    @classmethod
    def resume(cls, directory: Path, overrides: dict[str, object] | None = None) -> Campaign:
        """The campaign in ``directory``; ``overrides`` (e.g. a longer budget) are saved."""
        layout = CampaignLayout(directory)
        if not layout.state.exists():
            raise ConfigError(f"no campaign in {directory} (it has no state.json)")
        config = load_config(layout.config, overrides)
        save_config(config, layout.config)
        return cls(layout, config, CampaignState.load_or_new(layout.state))

    # --- running ---------------------------------------------------------------------------------

    def run(self, view: View) -> Path:
        """Run to the end (or on from where it stopped); returns the report's index.html."""
        self.config.researchers.sandbox_python()  # checked before the hub or anyone starts
        plan = gateway_plan(self.config)
        if plan is not None and self.state.status in ("created", "running", "stopped"):
            if not self.config.hub.url:
                plan.check_keys()  # the hub it starts inherits the keys from this process
            check_agents(self.config)
        try:
            with _interruptible(), self.hub() as hub:
                self._publish(hub.operator, view)
                self._enroll(hub.operator)
                if self.state.status in ("created", "running", "stopped"):
                    self._research(hub, view)
                return self._finish(hub, view)
        except KeyboardInterrupt:
            if self.state.status in ("created", "running"):
                self.state.status = "stopped"  # "researched" stays: resume goes to the end
            self.state.incident("operator", None, "interrupted")
            self.state.save(self.layout.state)
            raise CampaignInterruptedError(
                f"campaign stopped; continue it with aar run --resume {self.layout.root}"
            ) from None

    def report(self) -> Path:
        """Write the report from the campaign as it stands (its hub is started to read it)."""
        from aar.campaign.report import write_report

        with self.hub() as hub:
            results = EndResults.load(results_path(self.layout))
            summary = collect_summary(self.config, self.layout, self.state, hub.operator,
                                      results, hub.access.upstreams)  # fmt: skip
            return write_report(summary, self.layout.report)

    @contextmanager
    def hub(self) -> Iterator[Hub]:
        """The configured hub, or one started in the campaign folder (stopped on exit)."""
        if self.config.hub.url:
            token = os.environ.get(self.config.hub.operator_token_env)
            if not token:
                raise ConfigError(
                    f"hub.url needs the operator token in ${self.config.hub.operator_token_env}"
                )
            with HubClient(self.config.hub.url, token) as client:
                yield Hub(self._given_access(client), client)
            return
        local = self.config.executor.kind == "local"
        socket = self.layout.socket if local else None
        plan = gateway_plan(self.config)
        flags = self._hub_flags()
        if plan is not None:
            flags += ["--gateway", str(plan.write(self.layout.hub / "gateway.toml"))]
        with HubProcess.start(self.layout.hub, socket=socket, port=self.config.hub.port,
                              flags=flags) as process:  # fmt: skip
            access = HubAccess(
                process.url, str(socket) if socket else None,
                upstreams=plan.groups if plan else {},
                hidden_env=key_variables(self.config) if plan else (),
            )  # fmt: skip
            self.state.hub_url = process.url
            self.state.save(self.layout.state)
            with HubClient(process.url, process.operator_token) as client:
                yield Hub(access, client)

    def _given_access(self, operator: HubClient) -> HubAccess:
        """Researchers reach a given hub by URL, and call their models through its gateway."""
        url = str(self.config.hub.url)
        if gateway_plan(self.config) is None:
            return HubAccess(url)
        routes = routes_on(self.config, operator.model_upstreams(), url)
        return HubAccess(url, upstreams=routes, hidden_env=key_variables(self.config))

    def _hub_flags(self) -> list[str]:
        b, h = self.config.budget, self.config.hub
        flags = ["--per-hour", str(b.submissions_per_hour), "--total", str(b.submissions)]
        flags += ["--transcripts-dir", str(self.layout.transcripts)]
        if h.database_url:
            flags += ["--database-url", h.database_url]
        if h.artifact_url:
            flags += ["--artifact-url", h.artifact_url]
        return flags

    def _publish(self, operator: HubClient, view: View) -> None:
        c = self.config
        if self.state.published:
            return
        if c.task_secrets is not None and c.task not in self.state.secret_options:
            self.state.secret_options[c.task] = load_secrets(c.task_secrets, c.task)
        if c.task not in {t.name for t in operator.tasks()}:
            view.message(
                f"publishing {c.task} ({c.seeds} seeds; the first run embeds its data) ..."
            )
            # The secrets are saved before the hub has the task, so a crash in between
            # never leaves a registered task whose sealed set cannot be rebuilt.
            secret = self.state.secret_options.setdefault(c.task, secret_options(c.task))
            self.state.save(self.layout.state)
            publish(operator, c.task, c.task_options, seeds=range(c.seeds),
                    split_seed=c.split_seed, bundle_dir=self.layout.bundle(c.task),
                    secret=secret)  # fmt: skip
        self.state.published = True
        self.state.save(self.layout.state)

    def _enroll(self, operator: HubClient) -> None:
        from aar.campaign.enroll import enroll

        enroll(self.config, self.state, operator)
        self.state.save(self.layout.state)

    def _research(self, hub: Hub, view: View) -> None:
        c = self.config
        options: dict[str, object] = {}
        if c.executor.kind == "ray":
            options = {"address": c.executor.ray_address, "hidden_env": hub.access.hidden_env}
        with make_executor(c.executor.kind, **options) as executor:
            supervisor = Supervisor(
                c, self.layout, self.state, executor, hub.operator, hub.access, view
            )
            reason = supervisor.run()
        view.message(f"research phase over: {reason}")
        self.state.status = "researched"
        self.state.save(self.layout.state)

    def _finish(self, hub: Hub, view: View) -> Path:
        from aar.campaign.report import write_report

        operator = hub.operator
        results = end_checks(self.config, self.layout, self.state, operator, say=view.message)
        if self.state.status != "finished":
            self.state.status, self.state.ended_at = "finished", now()
            self.state.save(self.layout.state)
        summary = collect_summary(self.config, self.layout, self.state, operator, results,
                                  hub.access.upstreams)  # fmt: skip
        return write_report(summary, self.layout.report)


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM stops the campaign the way Ctrl-C does: cleanly, resumable."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
