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

It never submits predictions within the hub's near-duplicate distance of one it already
submitted (it reuses that score instead), so it does not trip the hub's probe flag: for n test
items, max(``probe_distance``, ``probe_fraction`` · n) flipped predictions (``aar.hub.flags``;
``rules`` holds the hub's settings, by default the hub's defaults: 5 items and 1 %).

When it stops (its search done, or a budget spent) it declares its best configuration final
(``declare_final``): the configuration with the best mean public PGR over its seeds among
those it submitted, so the final ranking takes what the search judged best rather than the
group the hub would pick by public PGR (which counts only the scorings it sent, not the
near-copies whose scores it reused).

The first time it submits a configuration it writes ``reproduce.json`` (``aar.core.reproduce``)
at its workspace's root and shares a snapshot, which that configuration's submissions name:
the campaign can re-run it on fresh seeds and held-out tasks.

Restarted on the same workspace and transcript (a campaign restarts a researcher that died),
it rebuilds what it knew from the transcript (``aar.researchers.baseline_state``), records a
``resume`` event, and goes on without repeating a run, a submission or a snapshot. Its
submission budget counts the earlier submissions too; its wall time is per process.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aar.core.hashing import config_hash
from aar.core.reproduce import RECIPE_FILE, Recipe
from aar.core.transcripts import Transcript, read_transcript
from aar.hub.client import HubError
from aar.hub.flags import Rules, probe_limit
from aar.researchers.baseline_state import (
    SCORED,
    SHARED,
    Scored,
    SearchState,
    Status,
    Submitted,
)
from aar.researchers.providers.base import ToolCall
from aar.researchers.tools import Toolbox
from aar.researchers.tools.library import prediction_file
from aar.sandbox.base import SandboxPathError

RESULT_TITLE = re.compile(r"^(?P<method>\w+) (?P<options>\{.*\}) → public PGR (?P<pgr>-?[\d.]+)")


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


DIRECTION_METHODS = {
    "confidence-reweighting": ("confident", "aux_conf"),
    "data-selection": ("confident", "bootstrap"),
    "distillation": ("soft", "early_stop"),
    "ensembles-cotraining": ("ensemble", "bootstrap"),
    "evolutionary-search": ("aux_conf", "ensemble"),
    "noisy-channel": ("soft", "aux_conf"),
    "representation-probes": ("probe",),
    "simplicity-bias": ("early_stop", "probe"),
    "teacher-error-analysis": ("confident", "aux_conf"),
    "unsupervised-elicitation": ("probe", "aux_conf"),
}
"""The library methods closest to each shipped research direction."""


def grid_for(direction: str | None, grid: Sequence[Candidate] = DEFAULT_GRID) -> list[Candidate]:
    """``grid`` with the methods of ``direction`` first, so researchers given different
    directions start on different parts of the grid (unknown directions keep the order)."""
    preferred = DIRECTION_METHODS.get(direction or "", ())
    rank = {method: i for i, method in enumerate(preferred)}
    return sorted(grid, key=lambda c: rank.get(c.method, len(preferred)))


@dataclass(frozen=True)
class BaselineBudget:
    minutes: float = 10.0
    submissions: int = 1_000_000
    """Its own cap; the hub's per-researcher budgets apply as well."""


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
        rules: Rules | None = None,
    ) -> None:
        self.toolbox, self.transcript, self.budget = toolbox, transcript, budget
        self.grid, self.eta = list(grid), eta
        self.rules = rules or Rules()  # the hub's flag settings: its near-duplicate distance
        self.state = SearchState()
        self._deadline = time.monotonic() + budget.minutes * 60

    def run(self) -> str:
        """Search until done or out of budget; returns (and records) why it stopped."""
        earlier = read_transcript(self.transcript.path)
        self.transcript.append("event", event="start", brain="baseline")
        self._resume(earlier)
        try:
            self._ensure(candidate("vanilla"), seed=0)
            self._halving([*self._adopted(), *self.grid])
            reason = "search finished"
        except SearchStoppedError as stop:
            reason = stop.reason
        except HubError as err:
            if err.status != 403:
                raise
            reason = f"stopped by the hub: {err.detail}"
        final = None if reason.startswith("stopped by the hub") else self._declare_final()
        self.transcript.append("event", event="stop", reason=reason, best=self.best(), final=final)
        return reason

    def best(self) -> dict[str, Any] | None:
        """The best public PGR so far and the first one, for the record."""
        if not self.state.by_key:
            return None
        key = max(self.state.by_key, key=self.state.mean)
        return {"key": key, "public_pgr": self.state.mean(key), "first": self.state.first_pgr}

    def _resume(self, earlier: list[dict[str, Any]]) -> None:
        """Take up what the transcript's earlier steps (a run before a restart) found."""
        self.state = SearchState.restore(earlier, self._reread)
        if not (self.state.evaluations or self.state.submissions or self.state.ran):
            return
        if self.toolbox.context.last_snapshot is None:  # the next snapshot's parent
            self.toolbox.context.last_snapshot = self.state.last_snapshot
        self.transcript.append("event", **self.state.resume_event())

    # --- the search ----------------------------------------------------------------------------

    def _halving(self, candidates: list[Candidate]) -> None:
        alive = list({c.key: c for c in candidates}.values())
        seed = 0
        while alive:
            if seed > 0:  # configurations others reported since the last round join in
                known = {c.key for c in alive} | set(self.state.by_key)
                alive += [c for c in self._adopted() if c.key not in known]
            fresh = [self._ensure(c, seed) for c in alive]
            alive.sort(key=lambda c: self.state.mean(c.key), reverse=True)
            if any(fresh):  # a round finished before a restart was summarised then
                self._summarise(alive, seed)
            if len(alive) == 1:
                return
            alive = alive[: max(1, math.ceil(len(alive) / self.eta))]
            seed += 1

    def _ensure(self, chosen: Candidate, seed: int) -> bool:
        """Evaluate ``chosen`` on each seed up to ``seed`` it lacks; whether there was one."""
        done = len(self.state.by_key.get(chosen.key, []))
        for lacking in range(done, seed + 1):
            self._evaluate(chosen, lacking)
        return done <= seed

    def _evaluate(self, chosen: Candidate, seed: int) -> None:
        self._check_budget()
        path = prediction_file(chosen.method, chosen.config, seed)
        predictions = self._run(chosen, seed, path)
        if predictions is None:
            self._record(_scored(chosen, seed, path, "failed", math.nan))
            return
        scored = self._submit(chosen, seed, path, predictions)
        self._record(scored)
        if scored.scoring is not None:
            self._tool(
                "forum_post", kind="result", title=chosen.title(scored.pgr), tags=["baseline"],
                body=f"{chosen.method} with {chosen.config} on seed {seed} (from {chosen.source}).",
                scorings=[scored.scoring], snapshots=[scored.snapshot] if scored.snapshot else [],
            )  # fmt: skip

    def _run(self, chosen: Candidate, seed: int, path: str) -> np.ndarray | None:
        """The seed's predictions (None if the run failed); a run from before a restart is
        reused while its file is still in the workspace."""
        if path in self.state.ran and (kept := self._reread(path)) is not None:
            return kept
        if self._tool("run_method", method=chosen.method, options=chosen.config, seeds=[seed]):
            self.state.ran.add(path)
            return self._predictions(path)
        return None

    def _submit(self, chosen: Candidate, seed: int, path: str, predictions: np.ndarray) -> Scored:
        near = probe_limit(len(predictions), self.rules)
        for earlier in self.state.submitted:
            if int((earlier.predictions != predictions).sum()) <= near:
                # a near-copy: its score is known, and resubmitting it would be probing
                pgr, copy_of = earlier.pgr, earlier.scoring
                return _scored(chosen, seed, path, "near-copy", pgr, copy_of=copy_of)
        if self.state.submissions >= self.budget.submissions:
            raise SearchStoppedError("submission budget used")
        snapshot = self._snapshot(chosen)
        answer = self._tool(
            "submit_predictions", path=path, method=chosen.method, seed=seed,
            description=f"baseline search: {chosen.method} {chosen.config}", snapshot_id=snapshot,
        )  # fmt: skip
        if answer is None or not (found := SCORED.search(answer)):
            raise SearchStoppedError(f"the hub refused a submission: {answer}")
        pgr, scoring = float(found["pgr"]), int(found["id"])
        self.state.submissions += 1
        self.state.submitted.append(Submitted(predictions, pgr, scoring))
        return _scored(chosen, seed, path, "submitted", pgr, scoring=scoring, snapshot=snapshot)

    def _snapshot(self, chosen: Candidate) -> str | None:
        """The snapshot whose reproduce.json re-creates ``chosen``: shared once per
        configuration, before its first submission (None if sharing failed)."""
        if chosen.key in self.state.snapshots:
            return self.state.snapshots[chosen.key]
        recipe = Recipe.library(chosen.method, chosen.config).to_json() + "\n"
        if self._tool("write_file", path=RECIPE_FILE, content=recipe) is None:
            return None
        note = f"baseline: {chosen.method} {json.dumps(chosen.config, sort_keys=True)}"
        shared = SHARED.search(self._tool("share_snapshot", note=note) or "")
        if shared is None:
            return None  # submitted without one: a result, just not a verifiable one
        self.state.snapshots[chosen.key] = shared["id"]
        return shared["id"]

    def _declare_final(self) -> int | None:
        """Declare the latest scoring of the best submitted configuration final; its id (None
        when nothing was submitted or the hub refused)."""
        chosen = self.state.best_submitted()
        if chosen is None or self._tool("declare_final", scoring_id=chosen) is None:
            return None
        return chosen

    def _record(self, scored: Scored) -> None:
        self.state.add(scored)
        self.transcript.append("event", **scored.event())

    def _summarise(self, ranked: list[Candidate], seed: int) -> None:
        lines = [
            f"{c.method} {c.config}: mean public PGR {self.state.mean(c.key):.3f} "
            f"over {len(self.state.by_key.get(c.key, []))} seed(s)"
            for c in ranked
        ]
        self._tool(
            "forum_post", kind="insight", title=f"baseline search after round {seed + 1}",
            body="\n".join(lines), tags=["baseline"],
        )  # fmt: skip
        self._tool("notebook", append=f"round {seed + 1}:\n" + "\n".join(lines))

    def _adopted(self) -> list[Candidate]:
        """Configurations others reported, best first (its own posts are known already)."""
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
            if author == self.toolbox.context.researcher:
                continue
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

    def _reread(self, path: str) -> np.ndarray | None:
        """A prediction file from before a restart; None if it is gone or not readable."""
        try:
            return self._predictions(path)
        except (SandboxPathError, ValueError, KeyError, TypeError):
            return None

    def _check_budget(self) -> None:
        if time.monotonic() > self._deadline:
            raise SearchStoppedError("wall time")


def _scored(
    chosen: Candidate, seed: int, path: str, status: Status, pgr: float, **found: Any
) -> Scored:
    return Scored(
        key=chosen.key, method=chosen.method, options=chosen.config, seed=seed,
        source=chosen.source, status=status, pgr=pgr, path=path, **found,
    )  # fmt: skip
