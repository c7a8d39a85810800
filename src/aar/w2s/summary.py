"""Turn per-seed accuracies into an experiment record: means, PGR ± SE, paired deltas.

    record = summarize(task, methods, seeds, min_gap, weak, ceiling, transfers, timings)

``weak`` and ``ceiling`` map seed → accuracy; ``transfers`` maps (seed, method) → (accuracy,
seconds); ``gold_only``, when given, maps seed → (accuracy, seconds) of the student trained on
the labeled gold labels only, summarized like a method as the record's reference row. Every
run of a seed shares that seed's split and baselines, so PGR ± SE is ``paired_pgr`` of the
per-seed accuracies. A gap below ``min_gap`` leaves that method's PGR empty with the reason in
``pgr_error`` instead of failing the whole record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aar.core.errors import GapTooSmallError
from aar.core.hashing import config_hash
from aar.core.pgr import paired_difference, paired_pgr
from aar.core.records import (
    Component,
    EstimateRecord,
    ExperimentRecord,
    MethodResult,
    PGRRecord,
    SubsetResult,
)

Transfers = Mapping[tuple[int, str], tuple[float, float]]
REFERENCE_METHOD = "vanilla"
GOLD_ONLY = Component(
    name="gold_only",
    config={"trains_on": "the labeled set's gold labels only"},
    config_hash=config_hash({"reference": "gold_only"}),
)


def summarize(
    task: Component,
    methods: Sequence[Component],
    seeds: Sequence[int],
    min_gap: float,
    weak: Mapping[int, float],
    ceiling: Mapping[int, float],
    transfers: Transfers,
    timings: dict[str, float],
    subsets: Sequence[SubsetResult] = (),
    gold_only: Mapping[int, tuple[float, float]] | None = None,
) -> ExperimentRecord:
    weak_e = EstimateRecord.of([weak[s] for s in seeds])
    ceiling_e = EstimateRecord.of([ceiling[s] for s in seeds])
    results = [method_result(m, seeds, weak, ceiling, transfers, min_gap) for m in methods]
    reference = None
    if gold_only is not None:
        runs = {(s, GOLD_ONLY.name): gold_only[s] for s in seeds}
        reference = method_result(GOLD_ONLY, seeds, weak, ceiling, runs, min_gap)
    results = with_paired_deltas(results + ([reference] if reference else []))
    identity = {
        "task": task.config_hash,
        "methods": [m.config_hash for m in methods],
        "seeds": list(seeds),
        "min_gap": min_gap,
    }
    return ExperimentRecord(
        config_hash=config_hash(identity),
        task=task,
        seeds=list(seeds),
        min_gap=min_gap,
        weak_acc=dict(weak),
        ceiling_acc=dict(ceiling),
        weak=weak_e,
        ceiling=ceiling_e,
        methods=results[: len(methods)],
        timings=timings,
        subsets=list(subsets),
        gold_only=results[-1] if reference else None,
    )


def method_result(
    method: Component,
    seeds: Sequence[int],
    weak: Mapping[int, float],
    ceiling: Mapping[int, float],
    transfers: Transfers,
    min_gap: float,
) -> MethodResult:
    accuracy = {s: transfers[(s, method.name)][0] for s in seeds}
    transfer = EstimateRecord.of(list(accuracy.values()))
    paired = ([weak[s] for s in seeds], [ceiling[s] for s in seeds])
    value, error = None, None
    try:
        value = PGRRecord.of(paired_pgr(list(accuracy.values()), *paired, min_gap))
    except GapTooSmallError as err:
        error = str(err)
    return MethodResult(
        method=method,
        transfer_acc=accuracy,
        seconds={s: transfers[(s, method.name)][1] for s in seeds},
        transfer=transfer,
        pgr=value,
        pgr_error=error,
    )


def with_paired_deltas(results: list[MethodResult]) -> list[MethodResult]:
    """Each result with its per-seed paired difference to vanilla, when vanilla ran."""
    base = next((r for r in results if r.method.name == REFERENCE_METHOD), None)
    if base is None:
        return results
    seeds = sorted(base.transfer_acc)
    reference = [base.transfer_acc[s] for s in seeds]
    out = []
    for result in results:
        delta = paired_difference([result.transfer_acc[s] for s in seeds], reference)
        out.append(result.model_copy(update={"vs_vanilla": EstimateRecord.from_estimate(delta)}))
    return out
