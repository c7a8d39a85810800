"""Benchmark: what a sandbox costs per start, per command and per file round trip.

    python benchmarks/bench_sandbox.py               # bwrap, 30 runs each, both Pythons
    python benchmarks/bench_sandbox.py --backend process --runs 100 --python full

Rows: sandbox start (a fresh sandbox: ``start()`` and its first ``exec("true")``, the
latency a researcher sees for its first command), exec round trips of ``true`` and of
``python -c pass`` (the venv's interpreter) on a started sandbox, and a host-side
write_file + read_file of 10 KB. The sandbox rows are measured for each ``--python``: the
curated environment (``curated_env()``, the default: each site-packages shown as a staged
folder with the package folders bound on top) and the full one (``PythonEnv.full()``, the
whole prefix bound as before). Each row gives mean, p50 and p95 in milliseconds over
``--runs`` runs; the first line says what computing and staging the curated environment
cost once in this process (both are cached after).
The target is under 300 ms per sandbox start.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aar.sandbox import PythonEnv, SandboxSpec, curated_env, make_sandbox
from aar.sandbox.staging import stage


def timed(runs: int, step: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return times


def fresh_start(backend: str, root: Path, python: PythonEnv) -> Callable[[], object]:
    count = 0

    def step() -> object:
        nonlocal count
        count += 1
        folder = root / f"fresh-{id(python)}-{count}"
        folder.mkdir()
        spec = SandboxSpec(workspace=folder, python=python)
        box = make_sandbox(backend, spec, allow_unsafe=True)
        try:
            box.start()
            result = box.exec("true")
            assert result.exit_code == 0, result
            return result
        finally:
            box.close()

    return step


def sandbox_rows(backend: str, runs: int, root: Path, python: PythonEnv) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    rows["sandbox start (start + exec true)"] = timed(runs, fresh_start(backend, root, python))
    (root / "ws").mkdir(exist_ok=True)
    spec = SandboxSpec(workspace=root / "ws", python=python)
    with make_sandbox(backend, spec, allow_unsafe=True) as box:
        box.exec("true")
        rows["exec true"] = timed(runs, lambda: box.exec("true"))
        rows["exec python -c pass"] = timed(runs, lambda: box.exec("python -c pass"))
        text = "x" * 10_000

        def round_trip() -> None:
            box.write_file("bench/file.txt", text)
            assert box.read_file("bench/file.txt") == text

        rows["write_file + read_file 10 KB"] = timed(runs, round_trip)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", choices=["both", "curated", "full"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the process backend warns on every start

    started = time.perf_counter()
    curated = curated_env()
    closure_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    staged = [stage(folder) for folder in curated.folders]
    staging_ms = (time.perf_counter() - started) * 1000
    pythons = {"curated": curated, "full": PythonEnv.full()}
    chosen = list(pythons) if args.python == "both" else [args.python]
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="aar-bench-sandbox-") as tmp:
        for label in chosen:
            folder = Path(tmp) / label
            folder.mkdir()
            measured = sandbox_rows(args.backend, args.runs, folder, pythons[label])
            rows.update({f"{name}, {label}": times for name, times in measured.items()})

    entries = sum(len(shown.binds) + len(shown.symlinks) for shown in curated.folders)
    mounts = sum(1 + len(folder.binds) for folder in staged)
    print(f"backend {args.backend}, {args.runs} runs each (ms)")
    print(
        f"once per process: curated_env() {closure_ms:.0f} ms ({len(curated.distributions)} "
        f"distributions, {len(curated.folders)} folders, {entries} entries), staging "
        f"{staging_ms:.0f} ms ({mounts} mounts)"
    )
    print(f"{'operation':<45} {'mean':>8} {'p50':>8} {'p95':>8}")
    for name, times in rows.items():
        p50, p95 = np.percentile(times, [50, 95])
        print(f"{name:<45} {statistics.fmean(times):8.1f} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
