"""Turn per-seed accuracies into an experiment record: means, PGR ± SE, paired deltas.

    record = summarize(task, methods, seeds, min_gap, weak, ceiling, transfers, timings)

``weak`` and ``ceiling`` map seed → accuracy; ``transfers`` maps (seed, method) → (accuracy,
seconds). A gap below ``min_gap`` leaves that method's PGR empty with the reason in
``pgr_error`` instead of failing the whole record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aar.core.errors import GapTooSmallError
from aar.core.hashing import config_hash
from aar.core.pgr import paired_difference, pgr
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
) -> ExperimentRecord:
    weak_e = EstimateRecord.of([weak[s] for s in seeds])
    ceiling_e = EstimateRecord.of([ceiling[s] for s in seeds])
    results = [method_result(m, seeds, weak_e, ceiling_e, transfers, min_gap) for m in methods]
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
        methods=with_paired_deltas(results),
        timings=timings,
        subsets=list(subsets),
    )


def method_result(
    method: Component,
    seeds: Sequence[int],
    weak: EstimateRecord,
    ceiling: EstimateRecord,
    transfers: Transfers,
    min_gap: float,
) -> MethodResult:
    accuracy = {s: transfers[(s, method.name)][0] for s in seeds}
    transfer = EstimateRecord.of(list(accuracy.values()))
    value, error = None, None
    try:
        value = PGRRecord.of(
            pgr(transfer.as_estimate(), weak.as_estimate(), ceiling.as_estimate(), min_gap)
        )
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
