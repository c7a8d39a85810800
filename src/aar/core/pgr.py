"""Performance gap recovered (PGR) with an honest standard error.

    PGR = (transfer - weak) / (ceiling - weak)

computed from the means over seeds of the three accuracies (T̄, W̄, C̄), with its standard
error by the delta method: to first order, PGR moves with the three means along its gradient

    ∇PGR = (∂/∂T̄, ∂/∂W̄, ∂/∂C̄) = (1/g, −(1 − PGR)/g, −PGR/g),   g = C̄ − W̄.

``paired_pgr`` is for runs that share their seeds (the runner's: a seed fixes the split, the
teacher and the ceiling, and every method of that seed runs on them). Seed effects then move
the three accuracies together, so the variance needs the covariances: with Σ the sample
covariance matrix of the per-seed triples (Tᵢ, Wᵢ, Cᵢ) over n seeds,

    Var(PGR) ≈ ∇ᵀ Σ ∇ / n = Var(uᵢ) / (n g²),   uᵢ = Tᵢ − (1 − PGR) Wᵢ − PGR · Cᵢ,

the second form because ∇ᵀ Σ ∇ is the variance of the same linear combination of each seed's
triple. So the standard error is that of the mean of the per-seed residuals uᵢ, divided by g.
It keeps the ratio of means as the estimate (a mean of per-seed PGRs would blow up on a seed
whose own gap is small) and needs only n ≥ 2.

``pgr`` is for means over *unpaired* runs (different seeds, or only their summaries known) and
treats them as independent:

    Var(PGR) ≈ [Var(T̄) + (1 - PGR)² Var(W̄) + PGR² Var(C̄)] / (C̄ - W̄)²

where Var(X̄) = s²/n is the squared standard error of a mean. On paired runs this is off in
either direction: a seed effect shared by all three cancels in PGR (independence overstates
the error), while transfer moving against weak, as on ``toy``, makes it understate. The gap
C̄ - W̄ must exceed ``min_gap``; below it the ratio is noise and both functions raise.

    >>> weak = estimate([0.62, 0.63, 0.64]); ceiling = estimate([0.72, 0.73, 0.74])
    >>> round(pgr(estimate([0.67, 0.68, 0.69]), weak, ceiling).value, 6)
    0.5
    >>> round(paired_pgr([0.67, 0.69, 0.68], [0.62, 0.63, 0.64], [0.72, 0.73, 0.74]).value, 6)
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aar.core.errors import GapTooSmallError

DEFAULT_MIN_GAP = 0.02


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error over ``n`` independent runs (se is None when n < 2)."""

    mean: float
    se: float | None
    n: int

    def __str__(self) -> str:
        return format_estimate(self.mean, self.se)


@dataclass(frozen=True)
class PGR:
    """PGR, its standard error and the seed counts of the three inputs."""

    value: float
    se: float | None
    gap: float
    n_transfer: int
    n_weak: int
    n_ceiling: int

    def __str__(self) -> str:
        return format_estimate(self.value, self.se, digits=2)


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and standard error of the mean (sample standard deviation / sqrt(n))."""
    n = len(values)
    if n == 0:
        raise ValueError("cannot estimate a mean from no values")
    mean = math.fsum(values) / n
    if n < 2:
        return Estimate(mean, None, n)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Estimate(mean, math.sqrt(variance / n), n)


def paired_difference(values: Sequence[float], reference: Sequence[float]) -> Estimate:
    """Mean and standard error of per-seed differences ``values[i] - reference[i]``.

    Runs that share a seed share their split and baselines, so comparing two methods seed by
    seed removes that shared noise; the result is much tighter than comparing two means.
    """
    if len(values) != len(reference):
        raise ValueError("paired values need the same seeds")
    return estimate([v - r for v, r in zip(values, reference, strict=True)])


def pgr(
    transfer: Estimate,
    weak: Estimate,
    ceiling: Estimate,
    min_gap: float = DEFAULT_MIN_GAP,
) -> PGR:
    """PGR of ``transfer`` between ``weak`` and ``ceiling``, means of unpaired runs (their
    standard errors combined as if independent); raises if the gap < ``min_gap``."""
    gap = _checked_gap(weak.mean, ceiling.mean, min_gap)
    value = (transfer.mean - weak.mean) / gap
    se = None
    if transfer.se is not None and weak.se is not None and ceiling.se is not None:
        variance = transfer.se**2 + (1 - value) ** 2 * weak.se**2 + value**2 * ceiling.se**2
        se = math.sqrt(variance) / gap
    return PGR(value, se, gap, transfer.n, weak.n, ceiling.n)


def paired_pgr(
    transfer: Sequence[float],
    weak: Sequence[float],
    ceiling: Sequence[float],
    min_gap: float = DEFAULT_MIN_GAP,
) -> PGR:
    """PGR of per-seed accuracies that share their seeds (``transfer[i]``, ``weak[i]`` and
    ``ceiling[i]`` come from seed i), with the covariance-aware delta-method standard error of
    the module docstring; raises if the gap of the means < ``min_gap``."""
    n = len(transfer)
    if n == 0 or len(weak) != n or len(ceiling) != n:
        raise ValueError(
            f"paired PGR needs one transfer, weak and ceiling accuracy per seed; got "
            f"{len(transfer)}, {len(weak)} and {len(ceiling)}"
        )
    t_mean, w_mean, c_mean = (math.fsum(v) / n for v in (transfer, weak, ceiling))
    gap = _checked_gap(w_mean, c_mean, min_gap)
    value = (t_mean - w_mean) / gap
    se = None
    if n >= 2:
        residuals = [
            t - (1 - value) * w - value * c for t, w, c in zip(transfer, weak, ceiling, strict=True)
        ]
        spread = estimate(residuals).se
        assert spread is not None
        se = spread / gap
    return PGR(value, se, gap, n, n, n)


def _checked_gap(weak_mean: float, ceiling_mean: float, min_gap: float) -> float:
    if min_gap <= 0:
        raise ValueError("min_gap must be positive")
    gap = ceiling_mean - weak_mean
    if gap < min_gap:
        raise GapTooSmallError(
            f"ceiling - weak = {ceiling_mean:.4f} - {weak_mean:.4f} = {gap:.4f} is below "
            f"min_gap {min_gap:g}: PGR would be noise (use a stronger student, a weaker "
            "teacher, or lower min_gap)"
        )
    return gap


def format_estimate(mean: float, se: float | None, digits: int = 3) -> str:
    if se is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"
