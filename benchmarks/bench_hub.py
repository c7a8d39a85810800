"""Benchmark: the hub under N concurrent simulated researchers on loopback.

    python benchmarks/bench_hub.py                    # 50 researchers, 500 scorings/s, 20 s
    python benchmarks/bench_hub.py --rate 0           # closed loop: the most the hub can take
    python benchmarks/bench_hub.py --database-url postgresql+psycopg://...
    python benchmarks/bench_hub.py --url http://127.0.0.1:8000 --dir HUBDIR   # a running hub

Starts ``aar serve`` in a subprocess on a fresh folder, registers a 2,000-item task, creates
N researchers with unlimited budgets, then runs N concurrent clients (asyncio + aiohttp, which
leaves more of the shared CPUs to the hub than httpx would). Each submits a prediction
vector on a fixed schedule (``--rate`` scorings/s in all, an open load: latency counts from
the scheduled start) and every 5th step also posts to the forum and syncs it. It prints
throughput and p50/p99 latency per operation, then checks that every write the hub
acknowledged is stored (scorings and posts counted through the operator's API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
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
    """Register the task (kept if an earlier run did) and ``researchers`` new accounts."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, N_TEST)

    def flip(rate: float, seed: int) -> np.ndarray:
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
        registered = client.post("/tasks", json=task)
        if registered.status_code != 409:
            registered.raise_for_status()
        run = os.urandom(3).hex()
        return [
            client.post("/accounts", json={"name": f"r{i}-{run}"}).json()["token"]
            for i in range(researchers)
        ]


async def researcher(
    base: str, token: str, index: int, interval: float, stop: float, stats: Stats
) -> None:
    """Submit every ``interval`` seconds (0: back to back); every 5th step also post and sync.

    With an interval the load is open: each step starts on its schedule whether or not the
    hub has answered the last one, and latency counts from the scheduled start, so a slow
    hub cannot hide its queue by slowing the clients down (coordinated omission).
    """
    rng = np.random.default_rng(index)
    bodies = [make_submission(rng, step) for step in range(16)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as client:
        cursor = [0]
        started = time.perf_counter() + rng.random() * interval
        pending: set[asyncio.Task[None]] = set()
        step = 0
        while (due := started + step * interval) < stop:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            work = one_step(client, bodies[step % len(bodies)], step, index, cursor, stats, due)
            if interval:
                pending.add(task := asyncio.ensure_future(work))
                task.add_done_callback(pending.discard)
            else:
                await work
                started = time.perf_counter() - (step + 1) * interval
            step += 1
        await asyncio.gather(*pending)


def make_submission(rng: np.random.Generator, step: int) -> bytes:
    predictions = rng.integers(0, 2, N_TEST).tolist()
    return json.dumps({"predictions": predictions, "method": "bench", "seed": step}).encode()


async def one_step(
    client: aiohttp.ClientSession,
    body: bytes,
    step: int,
    index: int,
    cursor: list[int],
    stats: Stats,
    due: float,
) -> None:
    await stats.timed(client.post("/tasks/bench/submissions", data=body), "submit", 201, due)
    if step % 5 == 0:
        post = {"kind": "result", "title": f"step {step}", "body": f"researcher {index} note"}
        await stats.timed(client.post("/forum/posts", json=post), "post", 201)
        sync = client.get("/forum/sync", params={"since": cursor[0]})
        answer = await stats.timed(sync, "sync", 200)
        cursor[0] = max(cursor[0], answer.get("cursor", 0))


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.acked: dict[str, int] = defaultdict(int)

    async def timed(
        self,
        request: Any,
        name: str,
        expected: int,
        since: float = 0.0,
    ) -> dict[str, Any]:
        """Await ``request`` (an aiohttp request context) and record its latency and status."""
        started = since or time.perf_counter()
        async with request as response:
            answer = await response.json()
            status = response.status
        self.latencies[name].append((time.perf_counter() - started) * 1000)
        if status == expected:
            self.acked[name] += 1
        else:
            self.acked[f"{name} failed ({status})"] += 1
        return answer if isinstance(answer, dict) else {}


async def load(base: str, tokens: list[str], seconds: float, rate: float) -> tuple[Stats, float]:
    stats = Stats()
    interval = len(tokens) / rate if rate else 0.0
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(
        *(researcher(base, t, i, interval, stop, stats) for i, t in enumerate(tokens))
    )
    return stats, time.perf_counter() - started


def stored_counts(base: str, operator: str) -> dict[str, int]:
    auth = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
        stats = client.get("/stats").json()
    return {"submit": stats["scorings"], "post": stats["posts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--researchers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=500.0,
        help="scorings per second, all researchers together (0: each submits back to back)",
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--url", default=None, help="load a hub that is already running")
    parser.add_argument("--dir", type=Path, default=None, help="that hub's folder")
    args = parser.parse_args()
    if args.url:
        folder, server, base = args.dir, None, args.url
    else:
        folder = Path(tempfile.mkdtemp(prefix="aar-bench-hub-"))
        port = free_port()
        server = start_hub(folder, port, args.database_url)
        base = f"http://127.0.0.1:{port}"
    try:
        operator = (folder / "operator.token").read_text().strip()
        tokens = setup(base, operator, args.researchers)
        stats, elapsed = asyncio.run(load(base, tokens, args.seconds, args.rate))
        stored = stored_counts(base, operator)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    cores = os.cpu_count()
    offered = f"offered {args.rate:g} scorings/s" if args.rate else "closed loop"
    print(
        f"hub load: {args.researchers} researchers, {offered}, {elapsed:.1f} s, "
        f"{backend}, {cores} cores"
    )
    latencies, acked = stats.latencies, stats.acked
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
