"""Benchmark: the hub under N concurrent simulated researchers on loopback.

    python benchmarks/bench_hub.py                       # 50 researchers, 20 s, SQLite
    python benchmarks/bench_hub.py --researchers 10 --seconds 10
    python benchmarks/bench_hub.py --database-url postgresql+psycopg://...

Starts ``aar serve`` in a subprocess on a fresh folder, registers a 2,000-item task, creates
N researchers with unlimited budgets, then runs N concurrent clients (asyncio + httpx) that
loop: submit a prediction vector, every 5th step post to the forum, every 5th step sync the
forum. It prints throughput and p50/p99 latency per operation, then checks that every write
the hub acknowledged is stored (scorings and posts counted through the operator's API).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

N_TEST = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hub(folder: Path, port: int, database_url: str | None) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "aar",
        "serve",
        "--dir",
        str(folder),
        "--port",
        str(port),
        "--per-hour",
        "1000000000",
        "--total",
        "1000000000",
    ]
    if database_url:
        command += ["--database-url", database_url]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the hub did not start")


def setup(base: str, operator: str, researchers: int) -> list[str]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, N_TEST)

    def flip(rate, seed):
        return np.where(np.random.default_rng(seed).random(N_TEST) < rate, 1 - labels, labels)

    task = {
        "name": "bench",
        "test_labels": labels.tolist(),
        "pool_labels": [0, 1] * 100,
        "weak": {"0": flip(0.3, 1).tolist()},
        "ceiling": {"0": flip(0.1, 2).tolist()},
    }
    auth = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        client.post("/tasks", json=task).raise_for_status()
        return [
            client.post("/accounts", json={"name": f"r{i}"}).json()["token"]
            for i in range(researchers)
        ]


async def researcher(
    base: str,
    token: str,
    index: int,
    stop: float,
    latencies: dict[str, list[float]],
    acked: dict[str, int],
) -> None:
    rng = np.random.default_rng(index)
    cursor = 0
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        step = 0
        while time.perf_counter() < stop:
            body = {
                "predictions": rng.integers(0, 2, N_TEST).tolist(),
                "method": "bench",
                "seed": step,
            }
            await timed(
                client.post("/tasks/bench/submissions", json=body), "submit", 201, latencies, acked
            )
            if step % 5 == 0:
                post = {
                    "kind": "result",
                    "title": f"step {step}",
                    "body": f"researcher {index} note",
                }
                await timed(client.post("/forum/posts", json=post), "post", 201, latencies, acked)
                response = await timed(
                    client.get("/forum/sync", params={"since": cursor}),
                    "sync",
                    200,
                    latencies,
                    acked,
                )
                cursor = response.json().get("cursor", cursor)
            step += 1


async def timed(
    request,
    name: str,
    expected: int,
    latencies: dict[str, list[float]],  # type: ignore[no-untyped-def]
    acked: dict[str, int],
) -> httpx.Response:
    started = time.perf_counter()
    response = await request
    latencies[name].append((time.perf_counter() - started) * 1000)
    if response.status_code == expected:
        acked[name] += 1
    else:
        acked[f"{name} failed ({response.status_code})"] += 1
    return response


async def load(
    base: str, tokens: list[str], seconds: float
) -> tuple[dict[str, list[float]], dict[str, int], float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    acked: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(
        *(researcher(base, t, i, stop, latencies, acked) for i, t in enumerate(tokens))
    )
    return latencies, acked, time.perf_counter() - started


def stored_counts(base: str, operator: str) -> dict[str, int]:
    auth = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
        stats = client.get("/stats").json()
    return {"submit": stats["scorings"], "post": stats["posts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--researchers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aar-bench-hub-"))
    port = free_port()
    server = start_hub(folder, port, args.database_url)
    base = f"http://127.0.0.1:{port}"
    try:
        operator = (folder / "operator.token").read_text().strip()
        tokens = setup(base, operator, args.researchers)
        latencies, acked, elapsed = asyncio.run(load(base, tokens, args.seconds))
        stored = stored_counts(base, operator)
    finally:
        server.terminate()
        server.wait(timeout=30)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    cores = os.cpu_count()
    print(f"hub load: {args.researchers} researchers, {elapsed:.1f} s, {backend}, {cores} cores")
    print(f"{'operation':<10} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(latencies.items()):
        p50, p99 = np.percentile(values, [50, 99])
        print(f"{name:<10} {len(values):>7} {len(values) / elapsed:>8.1f} {p50:>8.1f} {p99:>8.1f}")
    failures = {k: v for k, v in acked.items() if "failed" in k}
    print(f"failed requests: {failures or 'none'}")
    for name in ("submit", "post"):
        ok = "ok" if stored[name] >= acked[name] else "MISSING WRITES"
        print(f"acknowledged {name}: {acked[name]}, stored: {stored[name]} ({ok})")


if __name__ == "__main__":
    main()
