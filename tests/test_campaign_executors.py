"""The executor contract, run against every executor: real commands, real signals.

The Ray executor runs on one local Ray instance for the whole module (2 CPUs), started and
stopped by a ``RayExecutor`` that owns it; each test's executor reuses it.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import pytest

from aar.campaign.executors import Executor, ResearcherJob, make_executor

NAMESPACE = "aar-tests"
# Generous: a loaded 2-core CI machine starts Ray workers slowly, and a pass returns early.
DEADLINE = 30.0

SLEEPER = """
print("ready", flush=True)
time.sleep(60)
"""
STUBBORN = """
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""
PARENT = """
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
pathlib.Path(os.environ["PID_FILE"]).write_text(str(child.pid))
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    from aar.campaign.executors.ray import RayExecutor

    owner = RayExecutor(num_cpus=2, namespace=NAMESPACE)
    yield
    owner.shutdown()
    assert not ray.is_initialized(), "the executor that started Ray must stop it"


@pytest.fixture(params=["local", "ray"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        built = make_executor("ray", namespace=NAMESPACE)
    else:
        built = make_executor("local")
    yield built
    built.shutdown(grace=1.0)


@pytest.fixture
def ray_executor(ray_cluster: None) -> Iterator[Executor]:
    built = make_executor("ray", namespace=NAMESPACE)
    yield built
    built.shutdown(grace=1.0)


def python(code: str) -> tuple[str, ...]:
    """A command line that runs ``code`` with the modules the jobs here use."""
    prelude = "import os, pathlib, signal, subprocess, sys, time\n"
    return (sys.executable, "-c", prelude + textwrap.dedent(code))


def job(
    tmp_path: Path,
    name: str,
    code: str,
    env: dict[str, str] | None = None,
    resources: dict[str, float] | None = None,
) -> ResearcherJob:
    return ResearcherJob(
        name=name,
        argv=python(code),
        env=env or {},
        log_path=tmp_path / "logs" / f"{name}.log",
        resources=resources or {},
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def exit_code(executor: Executor, name: str) -> int:
    deadline = time.monotonic() + DEADLINE
    while (code := executor.poll()[name]) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {name} to end")
        time.sleep(0.05)
    return code


def log_text(job: ResearcherJob) -> str:
    return job.log_path.read_text() if job.log_path.exists() else ""


def wait_ready(job: ResearcherJob) -> None:
    wait_for(lambda: "ready" in log_text(job), f"{job.name} to be ready")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie is dead (no init may be there to reap it)."""
    if not Path("/proc").is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_output_and_environment_reach_the_log(
    executor: Executor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-held-by-the-campaign")
    echo = job(
        tmp_path,
        "echo",
        'print("value:", os.environ["AAR_TEST_VALUE"]); print("oops", file=sys.stderr); '
        'print("key:", os.environ.get("ANTHROPIC_API_KEY"), os.environ.get("AAR_TEST_KEY"))',
        env={"AAR_TEST_VALUE": "forty-two", "AAR_TEST_KEY": "given-then-taken"},
    )
    # variables a job unsets never reach it, whether inherited or given (model keys)
    executor.start(replace(echo, unset=("ANTHROPIC_API_KEY", "AAR_TEST_KEY")))
    assert exit_code(executor, "echo") == 0
    text = log_text(echo)
    assert "value: forty-two" in text
    assert "oops" in text
    assert "key: None None" in text


def test_poll_is_none_while_running_then_the_exit_code(executor: Executor, tmp_path: Path) -> None:
    executor.start(job(tmp_path, "slow", "time.sleep(0.5); sys.exit(3)"))
    assert executor.poll() == {"slow": None}
    assert exit_code(executor, "slow") == 3


def test_stop_sends_sigterm(executor: Executor, tmp_path: Path) -> None:
    sleeper = job(tmp_path, "sleeper", SLEEPER)
    executor.start(sleeper)
    wait_ready(sleeper)
    executor.stop("sleeper", grace=10.0)
    assert executor.poll()["sleeper"] == -signal.SIGTERM


def test_stop_escalates_to_sigkill_after_the_grace(executor: Executor, tmp_path: Path) -> None:
    stubborn = job(tmp_path, "stubborn", STUBBORN)
    executor.start(stubborn)
    wait_ready(stubborn)
    executor.stop("stubborn", grace=0.5)
    assert executor.poll()["stubborn"] == -signal.SIGKILL


def test_stop_ends_what_the_job_started(executor: Executor, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = job(tmp_path, "parent", PARENT, env={"PID_FILE": str(pid_file)})
    executor.start(parent)
    wait_ready(parent)
    child = int(pid_file.read_text())
    assert alive(child)
    executor.stop("parent", grace=10.0)
    assert executor.poll()["parent"] == -signal.SIGTERM
    wait_for(lambda: not alive(child), "the child to end")


def test_kill_is_sigkill_at_once(executor: Executor, tmp_path: Path) -> None:
    stubborn = job(tmp_path, "victim", STUBBORN)
    executor.start(stubborn)
    wait_ready(stubborn)
    executor.kill("victim")
    assert executor.poll()["victim"] == -signal.SIGKILL


def test_a_name_starts_again_after_its_job_ended(executor: Executor, tmp_path: Path) -> None:
    hello = job(tmp_path, "again", 'print("hello")')
    executor.start(hello)
    assert exit_code(executor, "again") == 0
    executor.start(hello)
    assert exit_code(executor, "again") == 0
    assert log_text(hello).count("hello") == 2, "the log is appended across restarts"


def test_starting_a_running_name_raises(executor: Executor, tmp_path: Path) -> None:
    sleeper = job(tmp_path, "busy", SLEEPER)
    executor.start(sleeper)
    with pytest.raises(RuntimeError, match="already running"):
        executor.start(sleeper)
    assert executor.poll() == {"busy": None}


def test_stop_and_kill_leave_unknown_and_ended_jobs_alone(
    executor: Executor, tmp_path: Path
) -> None:
    executor.stop("nobody", grace=0.1)
    executor.kill("nobody")
    executor.start(job(tmp_path, "done", "sys.exit(5)"))
    assert exit_code(executor, "done") == 5
    executor.stop("done", grace=0.1)
    executor.kill("done")
    assert executor.poll() == {"done": 5}


def test_shutdown_ends_every_job(executor: Executor, tmp_path: Path) -> None:
    sleeper = job(tmp_path, "gentle", SLEEPER)
    stubborn = job(tmp_path, "stubborn", STUBBORN)
    for each in (sleeper, stubborn):
        executor.start(each)
    for each in (sleeper, stubborn):
        wait_ready(each)
    executor.shutdown(grace=0.5)
    assert executor.poll() == {"gentle": -signal.SIGTERM, "stubborn": -signal.SIGKILL}


def test_ray_runs_no_more_jobs_than_the_cpus_allow(ray_executor: Executor, tmp_path: Path) -> None:
    release = tmp_path / "release"
    waiter = f"""
    pathlib.Path(os.environ["MARKER"]).touch()
    while not pathlib.Path({str(release)!r}).exists():
        time.sleep(0.05)
    """
    markers = [tmp_path / f"started-{i}" for i in range(3)]
    for i, marker in enumerate(markers):
        ray_executor.start(
            job(tmp_path, f"cpu{i}", waiter, env={"MARKER": str(marker)}, resources={"num_cpus": 1})
        )
    wait_for(lambda: sum(m.exists() for m in markers) == 2, "two jobs to start")
    time.sleep(1.0)  # room for a third to start, which the 2-CPU cluster must not allow
    assert sum(m.exists() for m in markers) == 2
    assert list(ray_executor.poll().values()).count(None) == 3
    release.touch()
    for i in range(3):
        assert exit_code(ray_executor, f"cpu{i}") == 0
    assert all(m.exists() for m in markers)


def test_ray_asks_for_custom_resources(ray_executor: Executor, tmp_path: Path) -> None:
    unplaceable = job(tmp_path, "nowhere", 'print("ran")', resources={"aar_no_such_thing": 1})
    ray_executor.start(unplaceable)
    time.sleep(1.0)  # no node has the resource, so the job waits for it
    assert ray_executor.poll() == {"nowhere": None}
    ray_executor.stop("nowhere", grace=0.1)
    assert ray_executor.poll() == {"nowhere": -signal.SIGKILL}
    assert "ran" not in log_text(unplaceable)


def test_ray_reports_a_lost_actor_as_killed(ray_executor: Executor, tmp_path: Path) -> None:
    import ray

    pid_file = tmp_path / "leader.pid"
    doomed = job(
        tmp_path,
        "doomed",
        'pathlib.Path(os.environ["PID_FILE"]).write_text(str(os.getpid()))\n' + SLEEPER,
        env={"PID_FILE": str(pid_file)},
    )
    ray_executor.start(doomed)
    wait_ready(doomed)
    (actor,) = [
        entry
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == NAMESPACE and "-doomed-" in entry["name"]
    ]
    try:
        # What a lost node looks like from the campaign: the actor is gone, not the job.
        ray.kill(ray.get_actor(actor["name"], namespace=NAMESPACE))
        assert exit_code(ray_executor, "doomed") == -signal.SIGKILL
    finally:
        # Ray may already have ended it along with its worker, or not yet.
        with suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
