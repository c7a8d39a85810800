"""The baseline researcher: successive halving over the method library, without an LLM.

    researcher = BaselineResearcher(toolbox, transcript, BaselineBudget(minutes=10))
    stop = researcher.run()        # why it stopped: "search finished", "wall time", ...

It is the automated counterpart of the human baseline: it works only through the same tools
and hub as an LLM researcher, so the same budgets, audit log and probe flags apply.

1. It submits ``vanilla`` on seed 0 first: the reference its later results are judged by.
2. It reads the forum's result posts and puts configurations others report first in line.
   A post is read when its title has the form ``METHOD {JSON options} → public PGR X``,
   which is how this researcher titles its own results.
3. Successive halving: every candidate runs on one seed and is submitted; the best
   ``1/eta`` get one more seed each round; a candidate's score is its mean public PGR.
4. After each round it posts the results and an insight naming the leader.

It never submits predictions within ``min_distance`` flips of one it already submitted (it
reuses that score instead), so it does not trip the hub's probe detector.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aar.core.hashing import config_hash
from aar.core.transcripts import Transcript
from aar.hub.client import HubError
from aar.researchers.providers.base import ToolCall
from aar.researchers.tools import Toolbox
from aar.researchers.tools.library import prediction_file

RESULT_TITLE = re.compile(r"^(?P<method>\w+) (?P<options>\{.*\}) → public PGR (?P<pgr>-?[\d.]+)")
SCORED = re.compile(r"scoring #(?P<id>\d+): .* public PGR (?P<pgr>-?[\d.]+|nan)")


@dataclass(frozen=True)
class Candidate:
    method: str
    options: tuple[tuple[str, Any], ...] = ()
    source: str = "grid"

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def key(self) -> str:
        return config_hash({"method": self.method, "options": self.config})

    def title(self, pgr: float) -> str:
        return f"{self.method} {json.dumps(self.config, sort_keys=True)} → public PGR {pgr:.2f}"


def candidate(method: str, source: str = "grid", **options: Any) -> Candidate:
    return Candidate(method, tuple(sorted(options.items())), source)


DEFAULT_GRID = (
    candidate("soft"),
    candidate("confident", keep_fraction=0.3),
    candidate("confident", keep_fraction=0.6),
    candidate("aux_conf"),
    candidate("aux_conf", alpha=0.5),
    candidate("bootstrap"),
    candidate("probe"),
    candidate("early_stop"),
    candidate("ensemble", members=3),
)


@dataclass(frozen=True)
class BaselineBudget:
    minutes: float = 10.0
    submissions: int = 1_000_000
    """Its own cap; the hub's per-researcher budgets apply as well."""


@dataclass
class _Scores:
    by_key: dict[str, list[float]] = field(default_factory=dict)
    submitted: list[tuple[np.ndarray, float]] = field(default_factory=list)

    def mean(self, key: str) -> float:
        values = [v for v in self.by_key.get(key, []) if not math.isnan(v)]
        return float(np.mean(values)) if values else -math.inf


class SearchStoppedError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BaselineResearcher:
    def __init__(
        self,
        toolbox: Toolbox,
        transcript: Transcript,
        budget: BaselineBudget,
        grid: Sequence[Candidate] = DEFAULT_GRID,
        eta: int = 2,
        min_distance: int = 20,
    ) -> None:
        self.toolbox, self.transcript, self.budget = toolbox, transcript, budget
        self.grid, self.eta, self.min_distance = list(grid), eta, min_distance
        self.scores = _Scores()
        self.first_pgr: float | None = None
        self._deadline = time.monotonic() + budget.minutes * 60
        self._submissions = 0

    def run(self) -> str:
        """Search until done or out of budget; returns (and records) why it stopped."""
        self.transcript.append("event", event="start", brain="baseline")
        try:
            vanilla = candidate("vanilla")
            self._evaluate(vanilla, seed=0)
            self._halving([*self._adopted(), *self.grid])
            reason = "search finished"
        except SearchStoppedError as stop:
            reason = stop.reason
        except HubError as err:
            if err.status != 403:
                raise
            reason = f"stopped by the hub: {err.detail}"
        self.transcript.append("event", event="stop", reason=reason, best=self.best())
        return reason

    def best(self) -> dict[str, Any] | None:
        """The best public PGR so far and the first one, for the record."""
        if not self.scores.by_key:
            return None
        key = max(self.scores.by_key, key=self.scores.mean)
        return {"key": key, "public_pgr": self.scores.mean(key), "first": self.first_pgr}

    # --- the search ----------------------------------------------------------------------------

    def _halving(self, candidates: list[Candidate]) -> None:
        alive = list({c.key: c for c in candidates}.values())
        seed = 0
        while alive:
            if seed > 0:  # configurations others reported since the last round join in
                known = {c.key for c in alive} | set(self.scores.by_key)
                alive += [c for c in self._adopted() if c.key not in known]
            for c in alive:
                while len(self.scores.by_key.get(c.key, [])) <= seed:
                    self._evaluate(c, len(self.scores.by_key.get(c.key, [])))
            alive.sort(key=lambda c: self.scores.mean(c.key), reverse=True)
            self._summarise(alive, seed)
            if len(alive) == 1:
                return
            alive = alive[: max(1, math.ceil(len(alive) / self.eta))]
            seed += 1

    def _evaluate(self, chosen: Candidate, seed: int) -> None:
        self._check_budget()
        run = self._tool("run_method", method=chosen.method, options=chosen.config, seeds=[seed])
        if run is None:
            self.scores.by_key.setdefault(chosen.key, []).append(math.nan)
            return
        path = prediction_file(chosen.method, chosen.config, seed)
        pgr, scoring = self._submit(chosen, path, seed)
        self.scores.by_key.setdefault(chosen.key, []).append(pgr)
        if self.first_pgr is None:
            self.first_pgr = pgr
        if scoring is not None:
            self._tool(
                "forum_post", kind="result", title=chosen.title(pgr), tags=["baseline"],
                body=f"{chosen.method} with {chosen.config} on seed {seed} (from {chosen.source}).",
                scorings=[scoring],
            )  # fmt: skip

    def _submit(self, chosen: Candidate, path: str, seed: int) -> tuple[float, int | None]:
        predictions = self._predictions(path)
        for earlier, pgr in self.scores.submitted:
            if int((earlier != predictions).sum()) <= self.min_distance:
                return pgr, None  # a near-copy: its score is known, and resubmitting is probing
        if self._submissions >= self.budget.submissions:
            raise SearchStoppedError("submission budget used")
        answer = self._tool(
            "submit_predictions", path=path, method=chosen.method, seed=seed,
            description=f"baseline search: {chosen.method} {chosen.config}",
        )  # fmt: skip
        if answer is None or not (found := SCORED.search(answer)):
            raise SearchStoppedError(f"the hub refused a submission: {answer}")
        self._submissions += 1
        pgr = float(found["pgr"])
        self.scores.submitted.append((predictions, pgr))
        return pgr, int(found["id"])

    def _summarise(self, ranked: list[Candidate], seed: int) -> None:
        lines = [
            f"{c.method} {c.config}: mean public PGR {self.scores.mean(c.key):.3f} "
            f"over {len(self.scores.by_key.get(c.key, []))} seed(s)"
            for c in ranked
        ]
        self._tool(
            "forum_post", kind="insight", title=f"baseline search after round {seed + 1}",
            body="\n".join(lines), tags=["baseline"],
        )  # fmt: skip
        self._tool("notebook", append=f"round {seed + 1}:\n" + "\n".join(lines))

    def _adopted(self) -> list[Candidate]:
        """Configurations others reported, best first (those this researcher has not tried)."""
        listing = self._tool("forum_read", kind="result", limit=100) or ""
        found: dict[str, tuple[float, Candidate]] = {}
        for line in listing.splitlines():
            _, _, title = line.partition(": ")
            match = RESULT_TITLE.match(title)
            if match is None or " by " not in line:
                continue
            try:
                options = json.loads(match["options"])
            except json.JSONDecodeError:
                continue
            author = line.split(" by ", 1)[1].split(" (", 1)[0]
            c = candidate(match["method"], f"forum: {author}", **options)
            if float(match["pgr"]) > found.get(c.key, (-math.inf, c))[0]:
                found[c.key] = (float(match["pgr"]), c)
        return [c for _, c in sorted(found.values(), key=lambda pair: -pair[0])]

    # --- tools ---------------------------------------------------------------------------------

    def _tool(self, name: str, **arguments: Any) -> str | None:
        """Call a tool as a model would; None when the tool reported an error."""
        call = ToolCall(f"b{self.transcript.steps + 1}", name, arguments, json.dumps(arguments))
        outcome = self.toolbox.call(call)
        self.transcript.append(
            "tool", name=name, arguments=arguments, result=outcome.content[:4000],
            is_error=outcome.is_error, seconds=outcome.seconds,
        )  # fmt: skip
        return None if outcome.is_error else outcome.content

    def _predictions(self, path: str) -> np.ndarray:
        record = json.loads(self.toolbox.context.sandbox.read_file(path, max_bytes=50_000_000))
        return np.asarray(record["predictions"])

    def _check_budget(self) -> None:
        if time.monotonic() > self._deadline:
            raise SearchStoppedError("wall time")
