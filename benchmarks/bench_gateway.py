"""Benchmark: the hub's LLM gateway: the latency it adds, and many streams beside scoring.

    python benchmarks/bench_gateway.py                       # 300 calls each way, 16 streams
    python benchmarks/bench_gateway.py --calls 1000 --streams 32 --seconds 30

Starts the project's fake vendor server (``FakeLLMServer``, in a process of its own) and
``aar serve --gateway`` (uvicorn, in another), then measures:

1. overhead: ``--calls`` sequential calls straight to the fake server and the same through
   the gateway (authentication, budget and tool checks, forwarding, metering, the stored
   bodies), plain and streamed, for Anthropic Messages and for OpenAI Responses (Codex CLI's
   API); p50 and p99 per way and the added latency;
2. load: ``--streams`` researchers each streaming replies through the gateway back to back
   (20 SSE events 50 ms apart: a one-second reply, about what a model sends) for
   ``--seconds``, while one more researcher submits predictions to be scored; the scoring
   latency is measured alone first, then under the streams.

Prints a table. The fake server answers at once, so the overhead is the gateway's own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import numpy as np

from aar import __version__
from aar.campaign.hubproc import HubProcess
from aar.core.usage import Usage
from aar.hub.client import HubClient
from aar.hub.schemas import TaskCreate
from aar.researchers.providers.wire import FakeLLMServer, FakeReply

MODEL = "claude-opus-4-6"
BODY = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": "hi " * 200}]}
APIS = {
    # label: (path at the vendor, path through the gateway, request body)
    "messages": ("/v1/messages", "/llm/bench/v1/messages", BODY),
    "responses": ("/v1/responses", "/llm/bench-openai/v1/responses",
                  {"model": MODEL, "max_output_tokens": 256, "input": "hi " * 200}),
}  # fmt: skip
KEY_ENV = "BENCH_UPSTREAM_KEY"
N_TEST = 2000


def _vendor(pipe: Connection, replies: int) -> None:
    """The fake vendor server in its own process, so its threads do not share our GIL."""
    quick = FakeReply(text="a short answer " * 10, usage=Usage(input_tokens=600, output_tokens=40))
    slow = FakeReply(text="word " * 100, usage=Usage(input_tokens=600, output_tokens=100),
                     chunks=18, chunk_delay_s=0.05)  # fmt: skip
    with FakeLLMServer([quick] * replies) as server:
        pipe.send(server.url)
        while (command := pipe.recv()) != "stop":
            server.add(*([slow] * int(command)))


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def timed_calls(client: httpx.Client, url: str, headers: dict[str, str], n: int,
                stream: bool, body: dict[str, object]) -> list[float]:  # fmt: skip
    times = []
    for _ in range(n):
        started = time.perf_counter()
        if stream:
            with client.stream("POST", url, headers=headers, json=body | {"stream": True}) as r:
                for _ in r.iter_bytes():
                    pass
        else:
            client.post(url, headers=headers, json=body).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def overhead(vendor: str, hub: str, token: str, calls: int) -> list[tuple[str, float, float]]:
    rows = []
    with httpx.Client(timeout=60) as client:
        for api, (direct_path, gated_path, body) in APIS.items():
            for stream in (False, True):
                kind = f"{api} {'streamed' if stream else 'plain'}"
                direct = timed_calls(client, vendor + direct_path, _keyed("k"), calls, stream,
                                     body)  # fmt: skip
                gated = timed_calls(client, hub + gated_path, _keyed(token), calls, stream, body)
                rows += [(f"{kind}, direct", *percentiles(direct)),
                         (f"{kind}, through the gateway", *percentiles(gated))]  # fmt: skip
    return rows


def _keyed(key: str) -> dict[str, str]:
    """Both vendors' key headers (each reads its own)."""
    return {"anthropic-version": "2023-06-01", "x-api-key": key, "authorization": f"Bearer {key}"}


def stream_forever(hub: str, token: str, stop: threading.Event, done: list[int]) -> None:
    headers = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            with client.stream("POST", f"{hub}/llm/bench/v1/messages", headers=headers,
                               json=BODY | {"stream": True}) as response:  # fmt: skip
                for _ in response.iter_bytes():
                    pass
            done.append(response.status_code)


def scoring_latency(researcher: HubClient, seconds: float) -> list[float]:
    rng = np.random.default_rng(0)
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        vector = rng.integers(0, 2, N_TEST).tolist()
        started = time.perf_counter()
        researcher.submit("bench", vector, method="bench", seed=0)
        times.append(time.perf_counter() - started)
        time.sleep(0.2)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_vendor, args=(theirs, 4 * len(APIS) * args.calls),
                                     daemon=True)  # fmt: skip
    server.start()
    vendor = ours.recv()
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder), vendor, ours, args)
    ours.send("stop")
    server.join(timeout=10)


def run(folder: Path, vendor: str, control: Connection, args: argparse.Namespace) -> None:
    gateway = folder / "gateway.toml"
    gateway.write_text(
        f'concurrency = 8\n[[upstreams]]\nname = "bench"\napi = "anthropic"\n'
        f'base_url = "{vendor}"\napi_key_env = "{KEY_ENV}"\n'
        f'[[upstreams]]\nname = "bench-openai"\napi = "openai"\n'
        f'base_url = "{vendor}/v1"\napi_key_env = "{KEY_ENV}"\n'
    )
    os.environ[KEY_ENV] = "k"
    flags = ["--gateway", str(gateway), "--per-hour", "100000", "--total", "100000",
             "--set", "rate_limit_per_second=1000", "--set", "rate_limit_burst=1000"]  # fmt: skip
    with HubProcess.start(folder / "hub", flags=flags) as hub:
        operator = HubClient(hub.url, hub.operator_token)
        labels = np.random.default_rng(1).integers(0, 2, N_TEST).tolist()
        weak = {0: labels[:1000] + [1 - v for v in labels[1000:]]}
        operator.register_task(TaskCreate(name="bench", test_labels=labels, split_seed=0,
                                          weak=weak, ceiling={0: labels}))  # fmt: skip
        tokens = [operator.create_researcher(f"s{i:02d}").token for i in range(args.streams + 2)]
        rows = overhead(vendor, hub.url, tokens[0], args.calls)
        scorer = HubClient(hub.url, tokens[1])
        alone = scoring_latency(scorer, args.seconds / 2)
        control.send(str(args.streams * int(args.seconds * 2)))
        stop, done = threading.Event(), []
        threads = [threading.Thread(target=stream_forever, args=(hub.url, t, stop, done))
                   for t in tokens[2:]]  # fmt: skip
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        loaded = scoring_latency(scorer, args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        rows += [("scoring alone", *percentiles(alone)),
                 (f"scoring beside {args.streams} streams", *percentiles(loaded))]  # fmt: skip
    report(rows, args, done)


def report(rows: list[tuple[str, float, float]], args: argparse.Namespace, done: list[int]) -> None:
    print(f"{'what':<46} {'p50 ms':>8} {'p99 ms':>8}")
    for name, p50, p99 in rows:
        print(f"{name:<46} {p50:>8.1f} {p99:>8.1f}")
    for kind in (f"{api} {way}" for api in APIS for way in ("plain", "streamed")):
        direct = next(r for r in rows if r[0] == f"{kind}, direct")
        gated = next(r for r in rows if r[0] == f"{kind}, through the gateway")
        print(f"added by the gateway, {kind}: p50 {gated[1] - direct[1]:.1f} ms, "
              f"p99 {gated[2] - direct[2]:.1f} ms")  # fmt: skip
    ok = sum(1 for status in done if status == 200)
    print(f"{len(done)} streams of ~1 s in {args.seconds:.0f} s by {args.streams} researchers "
          f"({ok} answered 200)")  # fmt: skip
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, aar {__version__}")


if __name__ == "__main__":
    main()
