"""Rendering experiment records as terminal tables (rich)."""

from __future__ import annotations

from rich.table import Table

from aar.core.pgr import format_estimate
from aar.core.records import EstimateRecord, ExperimentRecord


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
        pgr = format_estimate(result.pgr.value, result.pgr.se, 2) if result.pgr else "n/a"
        table.add_row(
            result.method.name,
            _acc(record.weak),
            _acc(record.ceiling),
            _acc(result.transfer),
            pgr,
            _delta(result.vs_vanilla) if result.method.name != "vanilla" else "-",
            str(result.transfer.n),
            f"{sum(result.seconds.values()):.1f}",
        )
    return table
