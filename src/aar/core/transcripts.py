"""Transcripts: every step of a researcher, appended as one JSON line each (researchers write
them; the dashboard and the report read them).

    with Transcript(Path("campaign/transcripts/r1.jsonl")) as log:
        log.append("tool", name="submit", arguments={...}, result="...", seconds=0.4)
    steps = read_transcript(Path("campaign/transcripts/r1.jsonl"))

A line is ``{"step": n, "at": ISO time, "kind": ..., ...}``; kinds used by the researchers
are ``model`` (a completion with usage and cost), ``tool`` (a call and its result),
``event`` (start, compaction, stop with its reason). Lines are flushed as they are written,
so the dashboard and the report can read a transcript while the researcher runs, and a
crash loses at most the line being written: ``read_transcript`` skips a torn last line, and
reopening the transcript (a restarted researcher) cuts it off before appending, so it never
ends up in the middle of the file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            repair_tail(path)
        self.steps = len(read_transcript(path)) if path.exists() else 0
        self._file: TextIO = path.open("a", encoding="utf-8")

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.steps += 1
        line = {"step": self.steps, "at": datetime.now(UTC).isoformat(), "kind": kind, **fields}
        self._file.write(json.dumps(line, default=str) + "\n")
        self._file.flush()
        return line

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Transcript:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def repair_tail(path: Path) -> None:
    """End the file on a complete line: cut a torn last line (a process killed mid-write), or
    terminate a last line that is whole but lacks its newline, so appends start cleanly."""
    with path.open("rb+") as handle:
        data = handle.read()
        if not data or data.endswith(b"\n"):
            return
        start = data.rfind(b"\n") + 1
        try:
            whole = isinstance(json.loads(data[start:]), dict)
        except ValueError:  # JSONDecodeError, or UnicodeDecodeError from a cut character
            whole = False
        if whole:
            handle.write(b"\n")  # read_transcript already counts it as a step: keep it
        else:
            handle.truncate(start)


def read_transcript(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a transcript (a torn last line from a crash is skipped)."""
    steps = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                steps.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise
    return steps
