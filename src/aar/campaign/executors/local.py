"""Researchers as child processes of the campaign on this machine (the default executor).

Each job runs in its own session (process group), so stopping it also stops what it started
(its sandboxes). Output goes to the job's log file, appended across restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress

from aar.campaign.executors.base import Executor, ResearcherJob, job_environment


class LocalExecutor(Executor):
    def __init__(self) -> None:
        self._jobs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, job: ResearcherJob) -> None:
        running = self._jobs.get(job.name)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"researcher {job.name} is already running")
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with job.log_path.open("ab") as log:
            self._jobs[job.name] = subprocess.Popen(
                job.argv,
                env=job_environment(os.environ, job.env, job.unset),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def poll(self) -> dict[str, int | None]:
        return {name: process.poll() for name, process in self._jobs.items()}

    def pid(self, name: str) -> int | None:
        process = self._jobs.get(name)
        return process.pid if process is not None and process.poll() is None else None

    def stop(self, name: str, grace: float = 10.0) -> None:
        process = self._jobs.get(name)
        if process is None or process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def kill(self, name: str) -> None:
        process = self._jobs.get(name)
        if process is None:
            return
        _signal_group(process, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def shutdown(self, grace: float = 10.0) -> None:
        running = [p for p in self._jobs.values() if p.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
