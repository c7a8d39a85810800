"""The same failing tool call made again and again: a pointed note to the model, then a stop.

    repeats = RepeatedFailures(limit=3)
    note = repeats.observe(call, outcome.is_error)  # "" or a note to append to the result
    repeats.stop_reason                             # None, or why the research loop must stop

Small models sometimes resend a call that failed, unchanged, forever. A call is the same as
the one before when its tool and its arguments (keys sorted; the raw text when they did not
parse) are. Each failure of the same call in a row counts; a success or a different call
starts the count over. From the ``limit``-th identical failure in a row each result carries a
note saying it will fail again and what to do instead; at ``2 * limit`` identical failures
in a row ``stop_reason`` says the loop must stop. ``limit=None`` never notes nor stops.
"""

from __future__ import annotations

import json

from aar.researchers.providers.base import ToolCall

NOTE = (
    "\n\n[You have made this exact call {count} times in a row and it failed each time; it "
    "will fail again. Change the arguments, try another tool, or move on. Repeating it {left} "
    "more time(s) ends your run.]"
)


class RepeatedFailures:
    """Counts identical failing calls in a row; see the module docstring."""

    def __init__(self, limit: int | None = 3) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"the repeated-failure limit must be at least 1, got {limit}")
        self.limit = limit
        self.count = 0
        self.tool = ""
        self._last: tuple[str, str] | None = None

    def observe(self, call: ToolCall, failed: bool) -> str:
        """Count ``call``'s outcome; returns the note to append to its result, or ""."""
        if not failed:
            self.count, self._last = 0, None
            return ""
        key = (call.name, _canonical(call))
        self.count = self.count + 1 if key == self._last else 1
        self._last, self.tool = key, call.name
        if self.limit is None or self.count < self.limit:
            return ""
        return NOTE.format(count=self.count, left=max(0, 2 * self.limit - self.count))

    @property
    def stop_reason(self) -> str | None:
        """Why the loop must stop, once the same call failed ``2 * limit`` times in a row."""
        if self.limit is None or self.count < 2 * self.limit:
            return None
        return f"the model repeated a failing call (tool {self.tool}) {self.count} times"


def _canonical(call: ToolCall) -> str:
    if call.arguments is None:
        return "raw:" + call.raw_arguments.strip()
    return json.dumps(call.arguments, sort_keys=True, default=str)
