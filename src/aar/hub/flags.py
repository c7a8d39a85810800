"""Flags that quarantine a scoring: pure rules over prediction vectors and accuracies.

    rules = Rules.of(settings)
    history = earlier.history(connection, account_id, task_id)     # aar.hub.probes
    nearest = history.nearest(predictions)                         # (row, flips), stored too
    reasons = flag_reasons(candidate, history, nearest, rules)     # [] when nothing is odd

Each rule gives a short reason for the operator, or None. The submission path runs them inside
the account's lock (``aar.hub.routers.submissions``). A scoring with any reason is flagged
*and quarantined*: it leaves the leaderboards and the ranking until the operator clears it
(``POST /scorings/{id}/clear``). The researcher's answer does not say so, since that would
teach a cheater the thresholds; an honest researcher sees the result missing from the
leaderboard until it is cleared.

The rules (n = test items; settings in ``HubSettings``):

- **label probing**: the researcher's nearest earlier vector on the task differs in at most
  max(``probe_distance``, ``probe_fraction`` · n) items (5 and 1 %: 20 items of 2,000).
- **hill-climbing**: the accept/reject climb keeps a best vector, submits it with a block of
  predictions flipped, keeps the block when the public score rises and goes back to the best
  vector otherwise. Each time it goes back, the new submission is a *retry*: its nearest
  earlier vector p is within ``climb_fraction`` · n items and scored (public accuracy) within
  ``climb_tolerance`` of the best before it, and an earlier edit of p (nearest p, as close)
  that did not score above p by ``climb_tolerance`` flipped items of p that this one mostly
  leaves alone (fewer than ``INDEPENDENT_EDITS`` of the smaller set of flips are shared):
  a dropped block, then a fresh one. Flagged: a retry when at least ``climb_steps`` of the
  last ``climb_window`` submissions (it included) are retries.

  What it spares: a sweep that edits its latest vector never goes back; seeds of one method
  differ from each other on independent items *and* on the items where p differs from their
  common centre, so two seeds share about half their flips from p. What escapes it: blocks
  larger than ``climb_fraction`` · n (a random block's expected change is negative once
  accuracy is above chance, so few are kept and the climb is slow), and blocks drawn from a
  small pool of items, which overlap by construction but can gain at most that pool. The
  private half, the ranking by public choice and the sealed verification stand behind it.
- **trivial prior**: at least ``trivial_fraction`` of the predictions are one label.
- **PGR above 1**: on either half, PGR > 1 + ``pgr_sigmas`` · SE (see ``pgr_se``).
- **public above private**: public PGR − private PGR > ``gap_sigmas`` · SE of the difference.
- **gold-only** (off unless ``gold_only_margin`` is set): whole-set accuracy at or above
  (within the margin of) the mean of a student trained on the labeled set's gold labels only,
  when the task registered one. Off by default because honest transfer beats that student on
  many tasks (a small toy, sst2); turn it on where the gold-only student is above every
  weak-to-strong method, so that reaching it suggests training on the labeled set.
- **flagged snapshot**: the submission names a snapshot the upload scan flagged.

The two rules that read the private half (PGR above 1 there, public above private) make a
scoring's presence on the leaderboard depend on it: at most one bit per submission, and only
for results far from honest ones (README, "What an answer gives away").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aar.hub.scoring import nearest_row, whole_accuracy
from aar.hub.settings import HubSettings

INDEPENDENT_EDITS = 0.25
"""Two edits of one vector share fewer than this share of their flips: a climb's fresh blocks
(random blocks of b among n items share about b/n), not seeds around one centre (about half)."""


@dataclass(frozen=True)
class Rules:
    """The thresholds of every rule (``Rules.of(settings)``)."""

    probe_distance: int = 5
    probe_fraction: float = 0.01
    climb_fraction: float = 0.03
    climb_window: int = 20
    climb_steps: int = 8
    climb_tolerance: float = 0.01
    """Public accuracy within which an earlier vector counts as the best (the shown score's
    resolution, plus the Ladder margin under that rule: what the researcher could not see)."""
    trivial_fraction: float = 0.98
    pgr_sigmas: float = 3.0
    gap_sigmas: float = 3.0
    gold_only_margin: float | None = None

    @classmethod
    def of(cls, settings: HubSettings) -> Rules:
        ladder = settings.ladder_margin if settings.feedback == "ladder" else 0.0
        return cls(
            probe_distance=settings.probe_distance,
            probe_fraction=settings.probe_fraction,
            climb_fraction=settings.climb_fraction,
            climb_window=settings.climb_window,
            climb_steps=settings.climb_steps,
            climb_tolerance=settings.score_resolution + ladder,
            trivial_fraction=settings.trivial_fraction,
            pgr_sigmas=settings.pgr_sigmas,
            gap_sigmas=settings.gap_sigmas,
            gold_only_margin=settings.gold_only_margin,
        )


@dataclass(frozen=True)
class History:
    """One researcher's earlier scorings on one task, oldest first.

    ``parent[r]`` is the row of scoring r's nearest earlier vector (-1 for the first, or when
    not recorded) and ``distance[r]`` how many predictions differ from it: what each rule
    saw back then (stored with the scoring, ``Scoring.nearest_id`` and ``nearest_flips``).
    """

    ids: np.ndarray
    vectors: np.ndarray
    public_acc: np.ndarray
    parent: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, predictions: np.ndarray) -> tuple[int, int]:
        """(row, flipped predictions) of the nearest earlier vector; (-1, n + 1) if none."""
        found = nearest_row(predictions.astype(np.uint8), self.vectors)
        return (-1, len(predictions) + 1) if found is None else found


@dataclass(frozen=True)
class Half:
    """A submission's score on one half of the test set."""

    accuracy: float
    pgr: float
    n: int
    gap: float
    """ceiling − weak accuracy on this half: what the PGR divides by."""


@dataclass(frozen=True)
class Candidate:
    """A new submission, scored, about to be stored."""

    predictions: np.ndarray
    public: Half
    private: Half
    gold_only: float | None = None
    """The gold-only student's mean whole-set accuracy (None: the task has none)."""
    snapshot_id: str | None = None
    snapshot_flag: str | None = None
    """Why the upload scan flagged the named snapshot (None: not flagged, or no snapshot)."""

    @property
    def accuracy(self) -> float:
        return whole_accuracy(
            self.public.accuracy, self.private.accuracy, self.public.n, self.private.n
        )


def flag_reasons(
    candidate: Candidate, history: History, nearest: tuple[int, int], rules: Rules
) -> list[str]:
    """Every rule's reason to quarantine ``candidate`` (empty: nothing is suspicious);
    ``nearest`` is ``history.nearest(candidate.predictions)``."""
    parent, distance = nearest
    n = len(candidate.predictions)
    found = [
        label_probing(history, parent, distance, n, rules),
        hill_climbing(history, candidate.predictions.astype(np.uint8), parent, distance, rules),
        trivial_prior(candidate.predictions, rules.trivial_fraction),
        pgr_above_one(candidate.public, candidate.private, rules.pgr_sigmas),
        public_above_private(candidate.public, candidate.private, rules.gap_sigmas),
        at_gold_only(candidate.accuracy, candidate.gold_only, rules.gold_only_margin),
        flagged_snapshot(candidate.snapshot_id, candidate.snapshot_flag),
    ]
    return [reason for reason in found if reason is not None]


def probe_limit(n: int, rules: Rules) -> int:
    """Flipped predictions at or below which a submission is a near-duplicate."""
    return max(rules.probe_distance, math.floor(rules.probe_fraction * n))


def label_probing(history: History, parent: int, distance: int, n: int, rules: Rules) -> str | None:
    if parent < 0 or distance > probe_limit(n, rules):
        return None
    return f"label probing? {distance} flipped prediction(s) from scoring #{history.ids[parent]}"


def is_retry(
    history: History, row: int, vector: np.ndarray, parent: int, distance: int, n: int, rules: Rules
) -> bool:
    """Does ``vector``, submission ``row`` (``len(history)``: the new one), go back to
    ``parent``, the best vector before it, after a dropped edit of it on other items?"""
    limit = rules.climb_fraction * n
    if parent < 0 or distance > limit:
        return False
    scores, tolerance = history.public_acc, rules.climb_tolerance
    if scores[parent] < scores[:row].max() - tolerance:
        return False
    earlier = np.arange(parent + 1, row)
    edits = (history.parent[earlier] == parent) & (history.distance[earlier] <= limit)
    dropped = earlier[edits & (scores[earlier] < scores[parent] + tolerance)]
    if not len(dropped):
        return False
    base = history.vectors[parent]
    mine = vector != base
    theirs = history.vectors[dropped] != base
    shared = (theirs & mine).sum(axis=1)
    smaller = np.maximum(np.minimum(theirs.sum(axis=1), mine.sum()), 1)
    return bool((shared < INDEPENDENT_EDITS * smaller).any())


def hill_climbing(
    history: History, vector: np.ndarray, parent: int, distance: int, rules: Rules
) -> str | None:
    """A retry of the best vector, with enough retries in the recent window."""
    k, n = len(history), len(vector)
    if not is_retry(history, k, vector, parent, distance, n, rules):
        return None
    window = range(max(1, k - (rules.climb_window - 1)), k)
    retries = 1 + sum(
        is_retry(
            history,
            r,
            history.vectors[r],
            int(history.parent[r]),
            int(history.distance[r]),
            n,
            rules,
        )
        for r in window
    )
    if retries < rules.climb_steps:
        return None
    return (
        f"hill-climbing? {retries} of the last {len(window) + 1} submissions go back to the "
        f"best earlier vector after an edit that did not improve it; this one flips "
        f"{distance} of scoring #{history.ids[parent]}"
    )


def trivial_prior(predictions: np.ndarray, fraction: float) -> str | None:
    counts = np.bincount(predictions)
    if counts.max() < fraction * len(predictions):
        return None
    share = counts.max() / len(predictions)
    return f"trivial prior? {share:.0%} of predictions are label {counts.argmax()}"


def pgr_se(half: Half) -> float:
    """The standard error of a half's PGR from the binomial noise of its accuracy alone:
    sqrt(a (1 − a) / n) / (ceiling − weak).

    It ignores the noise of the weak and ceiling accuracies (over their seeds and their own
    items) and the correlation of the submission's errors with theirs on the same items, so
    it understates the error of the PGR; the flags use several of it for that reason.
    """
    a = half.accuracy
    return math.sqrt(max(a * (1 - a), 0.0) / half.n) / half.gap


def pgr_above_one(public: Half, private: Half, sigmas: float) -> str | None:
    found = [
        f"{name} half {half.pgr:.3f} > 1 + {sigmas:g}·SE (SE {pgr_se(half):.3f})"
        for name, half in (("public", public), ("private", private))
        if half.gap > 0 and half.pgr > 1 + sigmas * pgr_se(half)
    ]
    return "PGR above 1? " + ", ".join(found) if found else None


def public_above_private(public: Half, private: Half, sigmas: float) -> str | None:
    """Public PGR above private PGR by more than ``sigmas`` SE of the difference (the halves
    are disjoint, so their errors add in quadrature)."""
    if public.gap <= 0 or private.gap <= 0:
        return None
    difference = public.pgr - private.pgr
    se = math.hypot(pgr_se(public), pgr_se(private))
    if difference <= sigmas * se:
        return None
    return (
        f"public above private? PGR {public.pgr:.3f} vs {private.pgr:.3f}: "
        f"{difference:.3f} > {sigmas:g}·SE (SE {se:.3f})"
    )


def at_gold_only(accuracy: float, gold_only: float | None, margin: float | None) -> str | None:
    if gold_only is None or margin is None or accuracy < gold_only - margin:
        return None
    return (
        f"at or above the gold-only student? accuracy {accuracy:.3f} vs {gold_only:.3f} "
        "(a student trained on the labeled set's gold labels only)"
    )


def flagged_snapshot(snapshot_id: str | None, reason: str | None) -> str | None:
    if snapshot_id is None or reason is None:
        return None
    return f"snapshot {snapshot_id} is flagged: {reason}"
