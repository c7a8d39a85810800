"""Benchmark: wall time of whole experiments per task (cold and cached) and the method tables.

    python benchmarks/bench_experiments.py                      # every task, 5 seeds
    python benchmarks/bench_experiments.py --tasks toy --seeds 3
    python benchmarks/bench_experiments.py --markdown >> benchmarks/RESULTS.md

For each task it runs ``vanilla`` on a fresh cache folder (cold: dataset building and
embedding included), then again on the warm cache, then every method in the library on the
warm cache. It prints a timing table and, per task, the method table with PGR ± SE.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aar.cli.tables import experiment_table
from aar.core.records import ExperimentRecord
from aar.w2s.methods import METHODS
from aar.w2s.runner import ExperimentSpec, run_experiment

HEADER = ("task", "seeds", "vanilla cold (s)", "vanilla cached (s)", "all methods (s)")


def timed(spec: ExperimentSpec) -> tuple[float, ExperimentRecord]:
    started = time.perf_counter()
    record = run_experiment(spec)
    return time.perf_counter() - started, record


def bench_task(
    task: str, seeds: int, workers: int | None, root: Path
) -> tuple[list[str], ExperimentRecord]:
    base = ExperimentSpec(
        task=task, seeds=tuple(range(seeds)), cache_dir=root / task, workers=workers
    )
    cold, _ = timed(base)
    cached, _ = timed(base)
    every = ExperimentSpec(**{**base.__dict__, "methods": tuple(METHODS.names())})
    all_methods, record = timed(every)
    row = [task, str(seeds), f"{cold:.1f}", f"{cached:.1f}", f"{all_methods:.1f}"]
    return row, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["toy", "geofacts", "sst2"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args()
    rows, records = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            row, record = bench_task(task, args.seeds, args.workers, Path(tmp))
            rows.append(row)
            records.append(record)
    if args.markdown:
        print(markdown(rows, records))
        return
    console = Console(width=140)
    machine = f"{platform.machine()} · {os.cpu_count()} cores"
    timing = Table(*HEADER, title=f"experiment wall time · {machine}", title_justify="left")
    for row in rows:
        timing.add_row(*row)
    console.print(timing)
    for record in records:
        console.print(experiment_table(record))


def markdown(rows: list[list[str]], records: list[ExperimentRecord]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    for record in records:
        lines += [
            "",
            f"**{record.task.name}**, {len(record.seeds)} seeds: weak "
            f"{record.weak.mean:.3f} ± {record.weak.se or 0:.3f}, ceiling "
            f"{record.ceiling.mean:.3f} ± {record.ceiling.se or 0:.3f}",
            "",
            "| method | transfer | PGR | Δ vs vanilla (paired) | s/seed |",
            "|---|---|---|---|---|",
        ]
        ranked = sorted(record.methods, key=lambda m: -(m.pgr.value if m.pgr else -9))
        for m in ranked + ([record.gold_only] if record.gold_only else []):
            pgr = f"{m.pgr.value:.2f} ± {m.pgr.se or 0:.2f}" if m.pgr else "n/a"
            per_seed = sum(m.seconds.values()) / len(m.seconds)
            delta = m.vs_vanilla
            paired = (
                "-"
                if delta is None or m.method.name == "vanilla"
                else (f"{delta.mean:+.3f} ± {delta.se or 0:.3f}")
            )
            name = "gold-only (reference)" if m is record.gold_only else m.method.name
            lines.append(
                f"| {name} | {m.transfer.mean:.3f} ± {m.transfer.se or 0:.3f} "
                f"| {pgr} | {paired} | {per_seed:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
