"""Performance gap recovered (PGR) with an honest standard error.

    PGR = (transfer - weak) / (ceiling - weak)

Each of the three accuracies is a mean over its own seeds. The standard error propagates all
three variances to first order (the delta method), treating the three means as independent:

    Var(PGR) ≈ [Var(T̄) + (1 - PGR)² Var(W̄) + PGR² Var(C̄)] / (C̄ - W̄)²

where Var(X̄) = s²/n is the squared standard error of a mean. When the runs share seeds and
are positively correlated this overstates the error, which is the safe side. The gap
C̄ - W̄ must exceed ``min_gap``; below it the ratio is noise and ``pgr`` raises.

    >>> weak = estimate([0.62, 0.63, 0.64]); ceiling = estimate([0.72, 0.73, 0.74])
    >>> round(pgr(estimate([0.67, 0.68, 0.69]), weak, ceiling).value, 6)
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
    """PGR of ``transfer`` between ``weak`` and ``ceiling``; raises if the gap < ``min_gap``."""
    if min_gap <= 0:
        raise ValueError("min_gap must be positive")
    gap = ceiling.mean - weak.mean
    if gap < min_gap:
        raise GapTooSmallError(
            f"ceiling - weak = {ceiling.mean:.4f} - {weak.mean:.4f} = {gap:.4f} is below "
            f"min_gap {min_gap:g}: PGR would be noise (use a stronger student, a weaker "
            "teacher, or lower min_gap)"
        )
    value = (transfer.mean - weak.mean) / gap
    se = None
    if transfer.se is not None and weak.se is not None and ceiling.se is not None:
        variance = transfer.se**2 + (1 - value) ** 2 * weak.se**2 + value**2 * ceiling.se**2
        se = math.sqrt(variance) / gap
    return PGR(value, se, gap, transfer.n, weak.n, ceiling.n)


def format_estimate(mean: float, se: float | None, digits: int = 3) -> str:
    if se is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"
