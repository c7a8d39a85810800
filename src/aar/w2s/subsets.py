"""Accuracy per subset of the test set (the reference reports each source dataset apart).

per_seed = subset_accuracy(predicted, gold, subsets)       # {"hh-rlhf": 0.61, ...}
results = subset_results(sizes, weak, ceiling, transfers)  # records, means over seeds
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from aar.core.records import EstimateRecord, SubsetResult

PerSeed = Mapping[int, Mapping[str, float]]


def subset_accuracy(
    predicted: np.ndarray, gold: np.ndarray, subsets: np.ndarray | None
) -> dict[str, float]:
    """Accuracy within each subset; empty when there is no split into two or more subsets."""
    if subsets is None or len(np.unique(subsets)) < 2:
        return {}
    return {
        str(name): float(np.mean(predicted[subsets == name] == gold[subsets == name]))
        for name in np.unique(subsets)
    }


def subset_sizes(subsets: np.ndarray | None) -> dict[str, int]:
    if subsets is None or len(np.unique(subsets)) < 2:
        return {}
    names, counts = np.unique(subsets, return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def subset_results(
    sizes: Mapping[str, int],
    seeds: Sequence[int],
    weak: PerSeed,
    ceiling: PerSeed,
    transfers: Mapping[str, PerSeed],
) -> list[SubsetResult]:
    """One record per subset: weak, ceiling and each method's accuracy as mean ± SE."""

    def over_seeds(per_seed: PerSeed, name: str) -> EstimateRecord:
        return EstimateRecord.of([per_seed[s][name] for s in seeds])

    return [
        SubsetResult(
            name=name,
            n_test=n,
            weak=over_seeds(weak, name),
            ceiling=over_seeds(ceiling, name),
            transfer={method: over_seeds(acc, name) for method, acc in transfers.items()},
        )
        for name, n in sorted(sizes.items())
    ]
