"""``aar experiment``: compare weak-to-strong methods on a task over several seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aar.cli.options import parse_assignments, parse_method_assignments
from aar.cli.output import stderr_console, stdout_console
from aar.cli.tables import experiment_table, subset_table
from aar.core.errors import ConfigError, GapTooSmallError
from aar.core.pgr import DEFAULT_MIN_GAP

console = stdout_console()
err_console = stderr_console()


def experiment(
    task: Annotated[
        str, typer.Option("--task", "-t", help="Task name (aar tasks lists them).")
    ] = "geofacts",
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method", "-m", help="Method to run; repeat it, or 'all'. Default: vanilla."
        ),
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", "-s", min=1, help="Number of seeds.")] = 3,
    first_seed: Annotated[int, typer.Option(help="Seeds are first_seed, first_seed+1, ...")] = 0,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Task option KEY=VALUE (repeatable).")
    ] = None,
    method_option: Annotated[
        list[str] | None, typer.Option(help="Method option METHOD.KEY=VALUE (repeatable).")
    ] = None,
    min_gap: Annotated[
        float, typer.Option(help="Smallest ceiling - weak gap for a PGR.")
    ] = DEFAULT_MIN_GAP,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the record here.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: cores).")
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(help="GPUs to spread seeds over, one worker each: 0,1,2,3 or 'all'."),
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (worker processes) or ray (a Ray task per job).")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default $RAY_ADDRESS or local).")
    ] = None,
    ray_gpus: Annotated[
        float, typer.Option(min=0, help="GPUs each Ray task asks for (0 on CPU-only clusters).")
    ] = 1.0,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache folder (default $AAR_CACHE_DIR or ~/.cache/aar).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Recompute cached artifacts.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the weak teacher, the ceiling and each method on every seed; print PGR ± SE."""
    chosen = method or ["vanilla"]
    from aar.w2s.cache import default_cache_dir
    from aar.w2s.methods import METHODS
    from aar.w2s.runner import ExperimentSpec, run_experiment, validate

    methods = METHODS.names() if "all" in chosen else chosen
    spec = ExperimentSpec(
        task=task,
        task_options=parse_assignments(option or [], "--option"),
        methods=tuple(methods),
        method_options=parse_method_assignments(method_option or [], methods),
        seeds=tuple(range(first_seed, first_seed + seeds)),
        min_gap=min_gap,
        cache_dir=cache_dir or default_cache_dir(),
        refresh=no_cache,
        workers=workers,
        gpus=parse_gpus(gpus),
        executor=executor,
        ray_address=ray_address,
        ray_gpus=ray_gpus,
    )
    validate(spec)
    total = len(spec.seeds) * (1 + len(spec.methods))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet or not err_console.is_terminal,
        transient=True,
    ) as bar:
        job = bar.add_task(f"{task}: loading", total=total)
        record = run_experiment(
            spec, progress=lambda done: bar.update(job, advance=1, description=f"{task}: {done}")
        )
    console.print(experiment_table(record))
    if record.subsets:
        console.print(subset_table(record))
    console.print(
        f"wall time {record.timings['total_seconds']:.1f} s · record {record.config_hash}"
    )
    if json_path:
        record.save(json_path)
        console.print(f"wrote {json_path}")
    failed = [r for r in record.methods if r.pgr_error]
    if failed:
        raise GapTooSmallError(failed[0].pgr_error or "")


def parse_gpus(value: str | None) -> tuple[int, ...]:
    """``0,1,3`` → (0, 1, 3); ``all`` → every visible CUDA device."""
    if value is None:
        return ()
    if value == "all":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--gpus all: no CUDA device is visible")
        return tuple(range(torch.cuda.device_count()))
    try:
        gpus = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ConfigError(f"--gpus {value!r}: give GPU numbers such as 0,1 or 'all'") from None
    if any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise ConfigError(f"--gpus {value!r}: GPU numbers must be distinct and non-negative")
    return gpus
