"""Benchmark: what the end checks of a campaign cost, per verified snapshot.

    aar run --no-live --dir campaigns/c          # any campaign; its end checks time themselves
    python benchmarks/bench_verify.py campaigns/c [campaigns/d ...]

Reads each campaign's ``verify/results.json`` (written by ``aar.campaign.finish``) and prints
one row per re-run entry: its status, the wall seconds of the agreement re-runs on the public
bundle (one per distinct seed of its claim, at most ``end.agreement_reruns``) and of the sealed
re-runs (one per verification seed), and their sum, the cost of verifying that snapshot. Below
the rows: the one-time costs of a campaign's end checks, building the sealed bundles (a
teacher, a ceiling and a gold-only student per seed) and the vanilla reference on them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aar.campaign.finish import EndResults


def rows(name: str, results: EndResults) -> list[str]:
    lines = []
    for v in results.verifications:
        agreement, sealed = v.seconds.get("agreement"), v.seconds.get("sealed")
        total = None if agreement is None or sealed is None else agreement + sealed
        lines.append(
            f"| {name} | {v.researcher} | {v.method} | {v.status} | {len(v.seeds)} | "
            f"{_s(agreement)} | {_s(sealed)} | {_s(total)} |"
        )
    return lines


def once(name: str, results: EndResults) -> str:
    vanilla = next((r for r in results.references if r.name == "vanilla"), None)
    reference = None if vanilla is None else vanilla.seconds
    return (
        f"| {name} | {_s(results.sealed_bundles_seconds)} | {_s(reference)} | "
        f"{len(results.verifications)} |"
    )


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaigns", type=Path, nargs="+", help="campaign folders")
    args = parser.parse_args()
    found = {}
    for folder in args.campaigns:
        results = EndResults.load(folder / "verify" / "results.json")
        if results is None:
            raise SystemExit(f"{folder}: no end-check results of this version in verify/")
        found[folder.name] = results
    print("| campaign | researcher | method | status | sealed seeds | agreement (s) | sealed (s) "
          "| per snapshot (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, results in found.items():
        print("\n".join(rows(name, results)))
    print("\n| campaign | sealed bundles (s) | vanilla on them (s) | entries re-run |")
    print("|---|---|---|---|")
    for name, results in found.items():
        print(once(name, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
