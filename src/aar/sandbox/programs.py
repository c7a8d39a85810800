"""Run many small untrusted Python programs in one sandbox and report which exited 0.

    passed = check_programs([source_a, source_b], backend="bwrap")   # [True, False]

Used to label code datasets by running their tests (``aar data convert humaneval``). The
programs run in a fresh sandbox (no network, read-only system, a throwaway workspace), each in
its own process with ``timeout_s``; one that hangs, crashes or exceeds a limit counts as
failed. Programs run ``workers`` at a time.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aar.sandbox.base import Limits, SandboxError, SandboxSpec
from aar.sandbox.registry import make_sandbox

HARNESS = """
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def run(path):
    try:
        done = subprocess.run([sys.executable, path.name], capture_output=True,
                              timeout=float(sys.argv[1]), cwd=path.parent)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0

paths = sorted(Path("programs").glob("*.py"))
with ThreadPoolExecutor(int(sys.argv[2])) as pool:
    results = list(pool.map(run, paths))
Path("results.json").write_text(json.dumps(results))
"""


def check_programs(
    programs: Sequence[str],
    backend: str = "bwrap",
    timeout_s: float = 5.0,
    workers: int | None = None,
    allow_unsafe: bool = False,
) -> list[bool]:
    """For each program, whether it exited 0 within ``timeout_s`` in the sandbox."""
    workers = workers or max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="aar-programs-") as tmp:
        workspace = Path(tmp)
        (workspace / "programs").mkdir()
        for index, source in enumerate(programs):
            (workspace / "programs" / f"p{index:06d}.py").write_text(source, encoding="utf-8")
        (workspace / "harness.py").write_text(HARNESS)
        budget = 60 + timeout_s * len(programs) / workers
        spec = SandboxSpec(workspace=workspace, limits=Limits(wall_seconds=budget))
        with make_sandbox(backend, spec, allow_unsafe=allow_unsafe) as box:
            result = box.exec(["python", "harness.py", str(timeout_s), str(workers)])
        if not result.ok:
            raise SandboxError(f"the test harness failed ({result.killed}): {result.stderr[-500:]}")
        passed = json.loads((workspace / "results.json").read_text())
    return [bool(ok) for ok in passed]
