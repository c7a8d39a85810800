"""Rendering experiment records as terminal tables (rich)."""

from __future__ import annotations

from rich.table import Table

from aar.core.pgr import format_estimate
from aar.core.records import EstimateRecord, ExperimentRecord, MethodResult


def _acc(e: EstimateRecord) -> str:
    return format_estimate(e.mean, e.se)


def _delta(e: EstimateRecord | None) -> str:
    if e is None:
        return "-"
    return f"{e.mean:+.3f}" + (f" ± {e.se:.3f}" if e.se is not None else "")


def experiment_table(record: ExperimentRecord) -> Table:
    table = Table(title=f"{record.task.name} · {len(record.seeds)} seeds", title_justify="left")
    table.add_column("method", no_wrap=True)
    for column in ("weak", "ceiling", "transfer", "PGR", "Δ vs vanilla", "seeds", "time (s)"):
        table.add_column(column, justify="right", no_wrap=True)
    for result in record.methods:
        table.add_row(*_method_row(record, result, result.method.name))
    if record.gold_only:  # what the labeled gold labels alone give: a recipe should beat it
        table.add_section()
        table.add_row(*_method_row(record, record.gold_only, "gold-only (reference)"))
    return table


def _method_row(record: ExperimentRecord, result: MethodResult, name: str) -> list[str]:
    pgr = format_estimate(result.pgr.value, result.pgr.se, 2) if result.pgr else "n/a"
    return [
        name,
        _acc(record.weak),
        _acc(record.ceiling),
        _acc(result.transfer),
        pgr,
        _delta(result.vs_vanilla) if result.method.name != "vanilla" else "-",
        str(result.transfer.n),
        f"{sum(result.seconds.values()):.1f}",
    ]


def subset_table(record: ExperimentRecord) -> Table:
    """Test accuracy per subset (source dataset): weak, ceiling and each method."""
    table = Table(title="accuracy per subset of the test set", title_justify="left")
    table.add_column("subset", no_wrap=True)
    methods = [r.method.name for r in record.methods]
    for column in ("n", "weak", "ceiling", *methods):
        table.add_column(column, justify="right", no_wrap=True)
    for subset in record.subsets:
        table.add_row(
            subset.name,
            str(subset.n_test),
            _acc(subset.weak),
            _acc(subset.ceiling),
            *(_acc(subset.transfer[m]) for m in methods),
        )
    return table
