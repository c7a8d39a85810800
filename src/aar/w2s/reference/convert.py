"""Build reference-layout folders from public datasets (the small real sets in CI use these).

    aar data convert hh-rlhf   harmless-base-test.jsonl.gz  out/chat
    aar data convert gsm8k     example_model_solutions.jsonl out/math
    aar data convert humaneval HumanEval.jsonl.gz            out/code

- ``hh-rlhf``: ``{chosen, rejected}`` dialogues → chat rows. The prompt is the shared
  dialogue up to the last ``Assistant:`` turn both share; the two continuations go to
  ``first``/``second`` in a seeded random order, and ``label`` says where the chosen one went.
- ``gsm8k``: GSM8K's example model solutions (four per problem, each with ``is_correct``) →
  math rows, one per solution, with the generator as ``source``. The split keeps all
  solutions of a problem together so no problem is in two splits.
- ``humaneval``: each problem's canonical solution and mutants of it → code rows, labelled by
  running the tests in a sandbox (``humaneval``); a problem's candidates stay together.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aar.core.errors import DataError
from aar.w2s.data import make_splits
from aar.w2s.reference.humaneval import ProgramCheck, humaneval_rows
from aar.w2s.reference.jsonl import read_jsonl
from aar.w2s.reference.layout import SPLIT_FILES, write_rows

ASSISTANT = "\n\nAssistant:"
Rows = tuple[list[dict[str, Any]], np.ndarray]  # rows and a group id per row


def split_shared_prompt(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """(prompt, chosen continuation, rejected continuation), cut after the last shared
    ``Assistant:`` marker; None when the two share no assistant turn or are identical."""
    common = 0
    for a, b in zip(chosen, rejected, strict=False):
        if a != b:
            break
        common += 1
    cut = chosen.rfind(ASSISTANT, 0, common)
    if cut < 0 or chosen == rejected:
        return None
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def hh_rlhf_rows(source: Path, seed: int, check: ProgramCheck | None = None) -> Rows:
    rng = np.random.default_rng(seed)
    rows = []
    for number, raw in read_jsonl(source):
        _require(raw, ("chosen", "rejected"), source, number)
        parts = split_shared_prompt(raw["chosen"], raw["rejected"])
        if parts is None:
            continue
        prompt, good, bad = parts
        label = int(rng.random() < 0.5)
        first, second = (bad, good) if label else (good, bad)
        rows.append(
            {
                "id": f"hh-{number}",
                "source": "hh-rlhf",
                "prompt": prompt,
                "first": first,
                "second": second,
                "label": label,
            }
        )
    return rows, np.arange(len(rows))


def gsm8k_rows(source: Path, seed: int, check: ProgramCheck | None = None) -> Rows:
    del seed, check  # the rows themselves are not random
    rows, groups = [], []
    for number, raw in read_jsonl(source):
        _require(raw, ("question",), source, number)
        for generator in sorted(raw):
            answer = raw[generator]
            if isinstance(answer, dict) and "is_correct" in answer and "solution" in answer:
                rows.append(
                    {
                        "id": f"gsm8k-{number}-{generator}",
                        "source": generator,
                        "question": raw["question"],
                        "choice": answer["solution"],
                        "label": int(bool(answer["is_correct"])),
                    }
                )
                groups.append(number)
    return rows, np.asarray(groups)


CONVERTERS: dict[str, tuple[str, Callable[[Path, int, ProgramCheck | None], Rows]]] = {
    "hh-rlhf": ("chat", hh_rlhf_rows),
    "gsm8k": ("math", gsm8k_rows),
    "humaneval": ("code", humaneval_rows),
}


def convert(
    name: str,
    source: Path,
    out: Path,
    seed: int = 0,
    labeled_fraction: float = 0.2,
    test_fraction: float = 0.2,
    check: ProgramCheck | None = None,
) -> dict[str, int]:
    """Write the three reference files for dataset ``name``; returns rows per split.

    ``check`` runs candidate programs in isolation (only ``humaneval`` needs it)."""
    if name not in CONVERTERS:
        raise DataError(f"unknown converter {name!r}; valid: {', '.join(sorted(CONVERTERS))}")
    rows, groups = CONVERTERS[name][1](source, seed, check)
    if not rows:
        raise DataError(f"{source}: no usable rows")
    n = len(rows)
    splits = make_splits(
        n, max(1, int(labeled_fraction * n)), max(1, int(test_fraction * n)), seed, groups=groups
    )
    counts = {}
    for split, index in (("labeled", splits.labeled), ("pool", splits.pool), ("test", splits.test)):
        write_rows(out / SPLIT_FILES[split], [rows[i] for i in index])
        counts[split] = len(index)
    return counts


def _require(raw: Any, fields: tuple[str, ...], source: Path, number: int) -> None:
    if not isinstance(raw, dict):
        raise DataError(f"{source}:{number}: expected a JSON object")
    for field in fields:
        if not isinstance(raw.get(field), str):
            raise DataError(f"{source}:{number}: field {field!r}: missing or not a string")
