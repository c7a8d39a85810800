"""Benchmark: the hub under N concurrent simulated researchers on loopback.

    python benchmarks/bench_hub.py                    # 50 researchers, 500 scorings/s, 20 s
    python benchmarks/bench_hub.py --rate 0           # closed loop: the most the hub can take
    python benchmarks/bench_hub.py --database-url postgresql+psycopg://...
    python benchmarks/bench_hub.py --url http://127.0.0.1:8000 --dir HUBDIR   # a running hub
    python benchmarks/bench_hub.py --flood --seconds 20     # an honest researcher vs a flooder

Starts ``aar serve`` in a subprocess on a fresh folder, registers a 2,000-item task, creates
N researchers with unlimited budgets, then runs N concurrent clients (asyncio + aiohttp, which
leaves more of the shared CPUs to the hub than httpx would). Each submits a prediction
vector on a fixed schedule (``--rate`` scorings/s in all, an open load: latency counts from
the scheduled start) and every 5th step also posts to the forum and syncs it. It prints
throughput and p50/p99 latency per operation, then checks that every write the hub
acknowledged is stored (scorings and posts counted through the operator's API). The load
test means to exceed the per-account rate limits, so it starts the hub with them raised.

``--flood`` measures the hub under hostile load instead, with its default limits: one honest
researcher submits at a steady pace (``--honest-rate``, open load) for ``--quiet-seconds``
alone, then for ``--seconds`` while another researcher, in a process of its own, floods: plain
requests and requests with invented tokens as fast as it can, forum posts, and snapshot
uploads (in turn: a 1 MB gzip bomb, a 10 MB archive, and a 1 MB archive just under the
compression-ratio cap). It prints the honest researcher's
submission p50/p99 in both phases, what the flood's requests were answered, and how many
audit rows the flood cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from multiprocessing.synchronize import Event
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


RAISED_LIMITS = [  # the load test means to exceed the per-account limits
    "--set",
    "rate_limit_per_second=1e9",
    "--set",
    "rate_limit_burst=1000000000",
    "--set",
    "forum_posts_per_minute=1000000000",
]


def start_hub(
    folder: Path, port: int, database_url: str | None, extra: list[str]
) -> subprocess.Popen[bytes]:
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
    command += extra
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
    parser.add_argument("--flood", action="store_true", help="an honest researcher vs a flooder")
    parser.add_argument("--honest-rate", type=float, default=5.0, help="--flood: submissions/s")
    parser.add_argument("--quiet-seconds", type=float, default=10.0, help="--flood: before it")
    parser.add_argument(
        "--hub-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="--flood: a hub setting (aar serve --set), e.g. rate_limit_per_second=1e9",
    )
    args = parser.parse_args()
    if args.flood:
        flood_main(args)
        return
    if args.url:
        folder, server, base = args.dir, None, args.url
    else:
        folder = Path(tempfile.mkdtemp(prefix="aar-bench-hub-"))
        port = free_port()
        server = start_hub(folder, port, args.database_url, RAISED_LIMITS)
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


# --- the flood: one honest researcher while another floods ------------------------------------

FLOOD_LOOPS = {"request": 8, "invalid token": 2, "forum post": 2, "upload": 2}
BOMB_CHUNK = 1 << 24  # 16 MiB of zeros: one gzip member of about 16 KB


def flood_main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="aar-bench-flood-"))
    port = free_port()
    extra = [part for item in args.hub_set for part in ("--set", item)]
    server = start_hub(folder, port, args.database_url, extra)  # default limits unless --hub-set
    base = f"http://127.0.0.1:{port}"
    try:
        operator = (folder / "operator.token").read_text().strip()
        honest_token, flooder_token = setup(base, operator, 2)
        quiet = asyncio.run(honest(base, honest_token, args.honest_rate, args.quiet_seconds))
        before = hub_stats(base, operator)
        context = multiprocessing.get_context("spawn")
        ready, answers = context.Event(), context.SimpleQueue()
        flooder = context.Process(
            target=flood, args=(base, flooder_token, args.seconds, ready, answers)
        )
        flooder.start()
        ready.wait()
        loud = asyncio.run(honest(base, honest_token, args.honest_rate, args.seconds))
        counts: Counter[str] = answers.get()
        flooder.join()
        after = hub_stats(base, operator)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_flood(args, quiet, loud, counts, before, after)


async def honest(base: str, token: str, rate: float, seconds: float) -> list[float]:
    """Submit ``rate`` times a second for ``seconds`` (open load); each latency in ms, or
    NaN when the answer was not 201."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = np.random.default_rng(7)
    bodies = [make_submission(rng, step) for step in range(16)]
    latencies: list[float] = []

    async def one(client: aiohttp.ClientSession, body: bytes, due: float) -> None:
        async with client.post("/tasks/bench/submissions", data=body) as response:
            await response.read()
            ok = response.status == 201
        latencies.append((time.perf_counter() - due) * 1000 if ok else float("nan"))

    async with aiohttp.ClientSession(base, headers=headers) as client:
        started = time.perf_counter()
        pending = []
        for step in range(int(seconds * rate)):
            due = started + step / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            pending.append(asyncio.ensure_future(one(client, bodies[step % 16], due)))
        await asyncio.gather(*pending)
    return latencies


def flood(base: str, token: str, seconds: float, ready: Event, answers: Any) -> None:
    """The flooder's process: hammer the hub for ``seconds``; puts the answers' counts."""
    archives = flood_archives()
    ready.set()
    answers.put(asyncio.run(hammer_all(base, token, seconds, archives)))


def flood_archives() -> list[bytes]:
    """What the flooder uploads in turn: a gzip bomb (1008 MiB of zeros in about 1 MB, just
    under the hub's absolute cap of 1 GiB), a 10 MB archive of random bytes, and an archive
    just under the compression-ratio cap (96 MiB of zeros and 1 MB of noise)."""
    noise = os.urandom(1_000_000)
    return [
        tar_of_zeros(63) + end_of_tar(),
        tar_of_noise(os.urandom(10_000_000)),
        tar_of_zeros(6) + noise_member(noise) + end_of_tar(),
    ]


def tar_of_zeros(chunks: int) -> bytes:
    """A gzip stream (of repeated members: built in milliseconds) of one tar member of zeros."""
    info = tarfile.TarInfo("zeros.bin")
    info.size = chunks * BOMB_CHUNK
    zeros = gzip.compress(b"\0" * BOMB_CHUNK, mtime=0)
    return gzip.compress(info.tobuf(tarfile.USTAR_FORMAT), mtime=0) + zeros * chunks


def noise_member(noise: bytes) -> bytes:
    info = tarfile.TarInfo("noise.bin")
    info.size = len(noise)
    padding = b"\0" * (-len(noise) % tarfile.BLOCKSIZE)
    return gzip.compress(info.tobuf(tarfile.USTAR_FORMAT) + noise + padding, mtime=0)


def end_of_tar() -> bytes:
    return gzip.compress(b"\0" * 2 * tarfile.BLOCKSIZE, mtime=0)


def tar_of_noise(noise: bytes) -> bytes:
    return noise_member(noise) + end_of_tar()


async def hammer_all(base: str, token: str, seconds: float, archives: list[bytes]) -> Counter[str]:
    counts: Counter[str] = Counter()
    stop = time.perf_counter() + seconds
    auth = {"Authorization": f"Bearer {token}"}
    upload = {**auth, "Content-Type": "application/gzip"}
    post = {"kind": "result", "title": "spam", "body": "spam spam spam"}
    requests = {
        "request": lambda c, i: c.get("/tasks", headers=auth),
        "invalid token": lambda c, i: c.get(
            "/tasks", headers={"Authorization": f"Bearer {os.urandom(8).hex()}"}
        ),
        "forum post": lambda c, i: c.post("/forum/posts", json=post, headers=auth),
        "upload": lambda c, i: c.post("/snapshots", data=archives[i % 3], headers=upload),
    }
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        loops = [
            hammer(client, stop, counts, kind, requests[kind])
            for kind, n in FLOOD_LOOPS.items()
            for _ in range(n)
        ]
        await asyncio.gather(*loops)
    return counts


async def hammer(
    client: aiohttp.ClientSession, stop: float, counts: Counter[str], kind: str, request: Any
) -> None:
    """Send ``request`` back to back until ``stop``, counting the answers by status."""
    sent = 0
    while time.perf_counter() < stop:
        try:
            async with request(client, sent) as response:
                await response.read()
                counts[f"{kind}|{response.status}"] += 1
        except aiohttp.ClientError:
            counts[f"{kind}|error"] += 1
        sent += 1


def hub_stats(base: str, operator: str) -> dict[str, int]:
    auth = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
        limited = client.get("/audit", params={"kind": "rate_limited", "limit": 10_000})
        stats: dict[str, int] = client.get("/stats").json()  # after /audit wrote pending rows
        return stats | {"rate_limited_rows": len(limited.json())}


def print_flood(
    args: argparse.Namespace,
    quiet: list[float],
    loud: list[float],
    counts: Counter[str],
    before: dict[str, int],
    after: dict[str, int],
) -> None:
    loops = ", ".join(f"{n} {kind}" for kind, n in FLOOD_LOOPS.items())
    print(
        f"hub under a flood: honest researcher submits {args.honest_rate:g}/s (open load); "
        f"flooder loops: {loops}; SQLite, {os.cpu_count()} cores"
    )
    print(f"{'phase':<22} {'submits':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'failed':>6}")
    for name, values, seconds in [
        ("alone", quiet, args.quiet_seconds),
        ("during the flood", loud, args.seconds),
    ]:
        ok = np.array([v for v in values if v == v])
        p50, p99 = np.percentile(ok, [50, 99])
        label = f"{name} ({seconds:g} s)"
        failed = len(values) - len(ok)
        print(f"{label:<22} {len(values):>7} {p50:>8.1f} {p99:>8.1f} {ok.max():>8.1f} {failed:>6}")
    print(f"{'flood requests':<16} {'sent':>8} {'429':>8}  other answers")
    for kind in FLOOD_LOOPS:
        mine = {k.split("|")[1]: v for k, v in counts.items() if k.startswith(f"{kind}|")}
        other = ", ".join(f"{s}: {n}" for s, n in sorted(mine.items()) if s != "429") or "-"
        print(f"{kind:<16} {sum(mine.values()):>8} {mine.get('429', 0):>8}  {other}")
    rows = after["audit"] - before["audit"]
    refused = after.get("rate_limited", 0) - before.get("rate_limited", 0)  # 0: an older hub
    summaries = after["rate_limited_rows"] - before["rate_limited_rows"]
    print(f"requests refused by the rate limits: {refused}, audited in {summaries} row(s)")
    print(f"audit rows written during the flood, all kinds: {rows}")
    print(f"snapshots stored: {after['snapshots']}; settings: {args.hub_set or 'defaults'}")


if __name__ == "__main__":
    main()
