"""Benchmark: a whole campaign of baseline researchers, measured from the outside.

    python benchmarks/bench_campaign.py                         # 16 researchers, 10 min, geofacts
    python benchmarks/bench_campaign.py --researchers 4 --minutes 2 --task toy

Runs ``aar run`` (end checks off) and samples, every few seconds, the CPU time and memory of
the campaign process, the hub and every other process (researchers and their sandboxes).
Afterwards it reads the transcripts (researcher steps and method runs per minute), the hub's
audit log (latency per route while the fleet ran) and the supervisor's own record of its
polls. One table; what each row means is in its name.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from aar.campaign.run import Campaign
from aar.campaign.state import CampaignState

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children + [d for c in children for d in descendants(c)]


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096
        except OSError:
            continue
    return total


def config(folder: Path, args: argparse.Namespace) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'task = "{args.task}"\n[researchers]\ncount = {args.researchers}\n'
        f"[fleet]\nminutes = {args.minutes}\n[end]\nverify_top_k = 0\nheldout_tasks = []\n"
    )
    return path


def sample(
    process: subprocess.Popen[bytes], campaign: Path, every: float
) -> dict[str, list[float]]:
    """CPU seconds of the campaign process, its hub and the rest, and total memory, over time."""
    samples: dict[str, list[float]] = defaultdict(list)
    while process.poll() is None:
        tree = descendants(process.pid)
        hub_pid = _hub_pid(campaign)
        others = [p for p in tree if p != hub_pid]
        samples["at"].append(time.monotonic())
        samples["campaign_cpu"].append(cpu_seconds(process.pid))
        samples["hub_cpu"].append(cpu_seconds(hub_pid) if hub_pid else 0.0)
        samples["rss"].append(rss_bytes([process.pid, *tree]))
        samples["researchers"].append(len(others))
        time.sleep(every)
    return samples


def _hub_pid(campaign: Path) -> int | None:
    try:
        return int((campaign / "hub" / "hub.pid").read_text())
    except (OSError, ValueError):
        return None


def transcript_rates(campaign: Path, minutes: float) -> dict[str, float]:
    steps, runs, run_seconds = 0, 0, []
    for transcript in (campaign / "transcripts").glob("*.jsonl"):
        for line in transcript.read_text().splitlines():
            step = json.loads(line)
            if step["kind"] != "tool":
                continue
            steps += 1
            if step["name"] == "run_method" and not step["is_error"]:
                runs += 1
                run_seconds.append(step["seconds"])
    return {
        "researcher steps per minute (fleet)": steps / minutes,
        "method runs per minute (fleet)": runs / minutes,
        "method run wall time, mean (s)": float(np.mean(run_seconds)) if run_seconds else 0.0,
    }


def hub_latency(campaign: Path) -> dict[str, str]:
    with Campaign.resume(campaign).hub() as hub:
        entries = [json.loads(line) for line in hub.operator.export_audit()]
    by_route: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        if entry["actor"] != "operator" and entry["kind"] == "request":
            route = entry["action"].split("?")[0]
            kind = "submit" if route.endswith("/submissions") else "all researcher requests"
            by_route[kind].append(entry["duration_ms"])
    rows = {}
    for route, values in by_route.items():
        p50, p99 = np.percentile(values, [50, 99])
        rows[f"hub latency, {route}: n / p50 / p99 (ms)"] = f"{len(values)} / {p50:.1f} / {p99:.1f}"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--researchers", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--task", default="geofacts")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aar-bench-campaign-"))
    campaign = folder / "campaign"
    command = [sys.executable, "-m", "aar", "run", "--no-live", "--dir", str(campaign),
               "--config", str(config(folder, args))]  # fmt: skip
    started = time.monotonic()
    with (folder / "run.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        samples = sample(process, campaign, args.every)
    wall = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"aar run failed; see {folder / 'run.log'}")
    state = CampaignState.load_or_new(campaign / "state.json")
    minutes = state.research_seconds / 60
    rows: dict[str, object] = {
        "researchers": args.researchers,
        "research phase (min)": round(minutes, 2),
        "whole run, publish to report (min)": round(wall / 60, 2),
        **{k: round(v, 2) for k, v in transcript_rates(campaign, minutes).items()},
        **hub_latency(campaign),
        "supervisor poll, mean / p99 (ms)": " / ".join(
            f"{state.overhead.get(key, 0.0):.1f}" for key in ("poll_ms_mean", "poll_ms_p99")
        ),
        "campaign process CPU (s)": round(max(samples["campaign_cpu"], default=0.0), 1),
        "hub process CPU (s)": round(max(samples["hub_cpu"], default=0.0), 1),
        "peak memory of the whole tree (GiB)": round(max(samples["rss"], default=0) / 2**30, 2),
    }
    overhead = rows["campaign process CPU (s)"]
    rows["orchestration share of 2 cores (%)"] = round(100 * float(overhead) / (wall * 2), 2)  # type: ignore[arg-type]
    print(f"campaign benchmark: {args.researchers} baseline researchers on {args.task}, "
          f"{args.minutes} min; folder {folder}")  # fmt: skip
    for name, value in rows.items():
        print(f"{name:<48} {value}")


if __name__ == "__main__":
    main()
