"""PGR and its standard error, checked by hand and against a Monte Carlo simulation."""

import math

import numpy as np
import pytest

from aar.core.errors import GapTooSmallError
from aar.core.pgr import Estimate, estimate, paired_difference, paired_pgr, pgr


def test_estimate_matches_numpy() -> None:
    values = [0.61, 0.64, 0.66, 0.70]
    e = estimate(values)
    assert e.mean == pytest.approx(np.mean(values))
    assert e.se == pytest.approx(np.std(values, ddof=1) / math.sqrt(4))
    assert e.n == 4


def test_single_value_has_no_standard_error() -> None:
    assert estimate([0.5]).se is None
    with pytest.raises(ValueError, match="no values"):
        estimate([])


def test_pgr_by_hand() -> None:
    weak, ceiling, transfer = Estimate(0.6, 0.01, 5), Estimate(0.8, 0.02, 5), Estimate(0.7, 0.03, 4)
    result = pgr(transfer, weak, ceiling)
    assert result.value == pytest.approx(0.5)
    # [0.03² + (1-0.5)²·0.01² + 0.5²·0.02²] / 0.2² = (9e-4 + 2.5e-5 + 1e-4) / 0.04
    assert result.se == pytest.approx(math.sqrt(1.025e-3 / 0.04))
    assert (result.n_transfer, result.n_weak, result.n_ceiling) == (4, 5, 5)
    assert result.gap == pytest.approx(0.2)


def test_baseline_variance_counts() -> None:
    certain = Estimate(0.6, 0.0, 5), Estimate(0.8, 0.0, 5)
    noisy = Estimate(0.6, 0.02, 5), Estimate(0.8, 0.02, 5)
    transfer = Estimate(0.75, 0.01, 5)
    assert pgr(transfer, *noisy).se > pgr(transfer, *certain).se  # type: ignore[operator]


def test_missing_standard_error_propagates_as_unknown() -> None:
    result = pgr(Estimate(0.7, None, 1), Estimate(0.6, 0.01, 3), Estimate(0.8, 0.01, 3))
    assert result.se is None


def test_small_gap_is_a_clear_error_with_configurable_threshold() -> None:
    weak, ceiling = Estimate(0.70, 0.01, 3), Estimate(0.71, 0.01, 3)
    with pytest.raises(GapTooSmallError, match=r"below min_gap 0\.02"):
        pgr(Estimate(0.705, 0.01, 3), weak, ceiling)
    assert pgr(Estimate(0.705, 0.01, 3), weak, ceiling, min_gap=0.005).value == pytest.approx(0.5)


def test_standard_error_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    means, sds, n = (0.70, 0.60, 0.80), (0.02, 0.015, 0.01), 5
    values, ses = [], []
    for _ in range(4000):
        draws = [estimate(list(rng.normal(m, s, n))) for m, s in zip(means, sds, strict=True)]
        result = pgr(*draws)
        values.append(result.value)
        ses.append(result.se)
    empirical = np.std(values)
    assert np.median(ses) == pytest.approx(empirical, rel=0.15)


def test_paired_difference_by_hand() -> None:
    diff = paired_difference([0.70, 0.74, 0.72], [0.68, 0.70, 0.71])
    assert diff.mean == pytest.approx((0.02 + 0.04 + 0.01) / 3)
    assert diff.se == pytest.approx(np.std([0.02, 0.04, 0.01], ddof=1) / math.sqrt(3))
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([0.1], [0.1, 0.2])


def test_paired_pgr_is_the_delta_method_with_the_seed_covariance_matrix() -> None:
    rng = np.random.default_rng(3)
    t, w, c = rng.normal((0.70, 0.60, 0.80), (0.02, 0.015, 0.01), size=(6, 3)).T
    result = paired_pgr(list(t), list(w), list(c))
    gap = c.mean() - w.mean()
    value = (t.mean() - w.mean()) / gap
    gradient = np.array([1 / gap, -(1 - value) / gap, -value / gap])
    reference = math.sqrt(gradient @ np.cov(np.stack([t, w, c])) @ gradient / 6)
    assert result.value == pytest.approx(value)
    assert result.value == pytest.approx(pgr(estimate(t), estimate(w), estimate(c)).value)
    assert result.se == pytest.approx(reference)
    assert (result.gap, result.n_transfer, result.n_weak, result.n_ceiling) == (
        pytest.approx(gap),
        6,
        6,
        6,
    )


def test_paired_pgr_needs_one_triple_per_seed() -> None:
    assert paired_pgr([0.7], [0.6], [0.8]).se is None
    with pytest.raises(ValueError, match="one transfer, weak and ceiling accuracy per seed"):
        paired_pgr([0.7, 0.7], [0.6], [0.8, 0.8])
    with pytest.raises(ValueError, match="per seed"):
        paired_pgr([], [], [])
    with pytest.raises(GapTooSmallError, match="below min_gap"):
        paired_pgr([0.7, 0.71], [0.70, 0.71], [0.71, 0.72])


# Seed effects (sd, correlation of transfer, weak, ceiling across seeds).
# "toy": measured on toy's vanilla over 20 seeds (transfer moves against weak, with the
# ceiling), the correlation sharpened; "shared": one split difficulty moves all three.
SEED_EFFECTS = {
    "toy": ((0.0135, 0.0115, 0.005), ((1, -0.5, 0.4), (-0.5, 1, 0.1), (0.4, 0.1, 1))),
    "shared": ((0.012, 0.012, 0.010), ((1, 0.8, 0.8), (0.8, 1, 0.8), (0.8, 0.8, 1))),
}


@pytest.mark.parametrize(("effects", "independent_is"), [("toy", "low"), ("shared", "high")])
def test_paired_standard_error_matches_correlated_seed_effects(
    effects: str, independent_is: str
) -> None:
    """Many simulated experiments of 8 paired seeds: the paired SE is the spread of the PGR
    estimates; the independent-means formula understates it on toy and overstates it when
    one effect moves all three."""
    sds, correlation = (np.array(v) for v in SEED_EFFECTS[effects])
    covariance = correlation * np.outer(sds, sds)
    rng = np.random.default_rng(7)
    values, paired, independent = [], [], []
    for _ in range(4000):
        t, w, c = rng.multivariate_normal((0.83, 0.79, 0.947), covariance, size=8).T
        result = paired_pgr(list(t), list(w), list(c))
        values.append(result.value)
        paired.append(result.se)
        independent.append(pgr(estimate(t), estimate(w), estimate(c)).se)
    empirical = float(np.std(values))
    rms = {  # the root mean square of the SEs: the mean of the squares is the variance
        "paired": math.sqrt(np.mean(np.square(paired))),
        "independent": math.sqrt(np.mean(np.square(independent))),
    }
    assert rms["paired"] == pytest.approx(empirical, rel=0.08)
    if independent_is == "low":
        assert rms["independent"] < 0.9 * empirical
    else:
        assert rms["independent"] > 1.5 * empirical
