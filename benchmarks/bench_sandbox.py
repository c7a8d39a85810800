"""Benchmark: what a sandbox costs per start, per command and per file round trip.

    python benchmarks/bench_sandbox.py               # bwrap, 30 runs each
    python benchmarks/bench_sandbox.py --backend process --runs 100

Rows: sandbox start (a fresh sandbox: ``start()`` and its first ``exec("true")``, the
latency a researcher sees for its first command), exec round trips of ``true`` and of
``python -c pass`` (the venv's interpreter) on a started sandbox, and a host-side
write_file + read_file of 10 KB. Each row gives mean, p50 and p95 in milliseconds over
``--runs`` runs. The target is under 300 ms per sandbox start.
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

from aar.sandbox import SandboxSpec, make_sandbox


def timed(runs: int, step: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return times


def fresh_start(backend: str, root: Path) -> Callable[[], object]:
    count = 0

    def step() -> object:
        nonlocal count
        count += 1
        folder = root / f"fresh{count}"
        folder.mkdir()
        box = make_sandbox(backend, SandboxSpec(workspace=folder), allow_unsafe=True)
        try:
            box.start()
            result = box.exec("true")
            assert result.exit_code == 0, result
            return result
        finally:
            box.close()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the process backend warns on every start

    with tempfile.TemporaryDirectory(prefix="aar-bench-sandbox-") as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        spec = SandboxSpec(workspace=root / "ws")
        rows: dict[str, list[float]] = {}
        rows["sandbox start (start + exec true)"] = timed(
            args.runs, fresh_start(args.backend, root)
        )
        with make_sandbox(args.backend, spec, allow_unsafe=True) as box:
            box.exec("true")
            rows["exec true"] = timed(args.runs, lambda: box.exec("true"))
            rows["exec python -c pass"] = timed(args.runs, lambda: box.exec("python -c pass"))
            text = "x" * 10_000

            def round_trip() -> None:
                box.write_file("bench/file.txt", text)
                assert box.read_file("bench/file.txt") == text

            rows["write_file + read_file 10 KB"] = timed(args.runs, round_trip)

    print(f"backend {args.backend}, {args.runs} runs each (ms)")
    print(f"{'operation':<36} {'mean':>8} {'p50':>8} {'p95':>8}")
    for name, times in rows.items():
        p50, p95 = np.percentile(times, [50, 95])
        print(f"{name:<36} {statistics.fmean(times):8.1f} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
