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


def experiment_markdown(record: ExperimentRecord) -> str:
    """The record as a markdown section: its provenance, the baselines and the method table,
    best PGR first (what benchmarks/RESULTS.md shows)."""
    env = record.environment
    commit = env.get("commit", "unknown")[:12] + (" (dirty)" if env.get("dirty") == "true" else "")
    seeds = f"seeds {record.seeds[0]}–{record.seeds[-1]}" if record.seeds else "no seeds"
    lines = [
        f"**{record.task.name}** ({len(record.seeds)} {seeds}; commit {commit}; "
        f"torch {env.get('torch', '?')}; {record.created_at[:10]}): weak "
        f"{_acc(record.weak)}, ceiling {_acc(record.ceiling)} "
        f"(gap {record.ceiling.mean - record.weak.mean:.2f})",
        "",
        "| method | transfer | PGR | Δ vs vanilla (paired) | s/seed |",
        "|---|---|---|---|---|",
    ]
    ranked = sorted(record.methods, key=lambda m: -(m.pgr.value if m.pgr else -9))
    for m in ranked + ([record.gold_only] if record.gold_only else []):
        pgr = format_estimate(m.pgr.value, m.pgr.se, 2) if m.pgr else "n/a"
        paired = "-" if m.method.name == "vanilla" else _delta(m.vs_vanilla)
        per_seed = sum(m.seconds.values()) / max(len(m.seconds), 1)
        name = "gold-only (reference)" if m is record.gold_only else m.method.name
        lines.append(f"| {name} | {_acc(m.transfer)} | {pgr} | {paired} | {per_seed:.1f} |")
    return "\n".join(lines)
