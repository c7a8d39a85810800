"""The bwrap sandbox: each test attacks one isolation property, then the plain functions.

Resource limits (bombs, timeouts, disk) are in test_sandbox_limits.py.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.sandbox import (
    BwrapSandbox,
    Limits,
    Mount,
    SandboxError,
    SandboxPathError,
    SandboxSpec,
    SandboxUnavailableError,
    make_sandbox,
)
from tests.sandboxkit import (
    SMALL,
    abstract_listener,
    require_bwrap,
    tcp_listener,
    unix_echo_server,
    workspace,
)

PY = sys.executable  # the venv's interpreter: the same path works inside the sandbox


@pytest.fixture
def public_data(tmp_path: Path) -> Path:
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "inputs.jsonl").write_text('{"x": 1}\n')
    return folder


@pytest.fixture
def box(tmp_path: Path, public_data: Path) -> Iterator[BwrapSandbox]:
    require_bwrap()
    spec = SandboxSpec(
        workspace=workspace(tmp_path),
        readonly=(Mount(public_data, "/data/public"),),
        env={"AAR_RESEARCHER": "r1"},
        limits=SMALL,
    )
    with BwrapSandbox(spec) as sandbox:
        yield sandbox


# --- what the sandbox must not read ----------------------------------------------------


def test_hub_database_and_labels_beside_the_workspace_are_not_found(
    tmp_path: Path, box: BwrapSandbox
) -> None:
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "hub.db").write_text("ground truth")
    (tmp_path / "test_labels.jsonl").write_text('{"label": 1}\n')
    for secret in (hub / "hub.db", tmp_path / "test_labels.jsonl", hub):
        result = box.exec(["cat", str(secret)])
        assert result.exit_code != 0
        assert "No such file or directory" in result.stderr
        assert "ground truth" not in result.stdout
    listing = box.exec(["ls", "-a", str(tmp_path)])
    assert listing.exit_code != 0


def test_files_under_root_home_are_not_found(box: BwrapSandbox) -> None:
    secret = Path("/root") / f".aar-sandbox-secret-{uuid.uuid4().hex}"
    try:
        secret.write_text("root's secret")
    except OSError:
        pytest.skip("cannot write under /root here")
    try:
        result = box.exec(f"cat {secret}; ls -a /root")
        assert "root's secret" not in result.stdout
        assert "No such file or directory" in result.stderr
        assert secret.name not in result.stdout
    finally:
        secret.unlink()


def test_host_environment_variables_are_absent_everywhere_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_bwrap()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    spec = SandboxSpec(workspace=workspace(tmp_path), limits=SMALL)
    with BwrapSandbox(spec) as sandbox:
        # Every process the command can see, bwrap's own init included.
        result = sandbox.exec("env; for f in /proc/[0-9]*/environ; do cat $f; done")
    assert result.exit_code == 0
    assert "PATH=" in result.stdout  # the reads did happen
    assert "sk-secret" not in result.stdout
    assert "ANTHROPIC_API_KEY" not in result.stdout


def test_environment_is_exactly_the_minimal_one_plus_the_spec(box: BwrapSandbox) -> None:
    result = box.exec([PY, "-c", "import json, os; print(json.dumps(dict(os.environ)))"])
    env = json.loads(result.stdout)
    # bwrap also sets PWD to the working folder: nothing from the host.
    assert set(env) == {"PATH", "HOME", "LANG", "PWD", "AAR_RESEARCHER"}
    assert env["PWD"] == "/workspace"
    assert env["HOME"] == "/home/researcher"
    assert env["AAR_RESEARCHER"] == "r1"


def test_host_processes_are_invisible(box: BwrapSandbox) -> None:
    result = box.exec("ls /proc | grep -E '^[0-9]+$'")
    pids = [int(pid) for pid in result.stdout.split()]
    # Its own PID namespace: bwrap's init, the shell, ls and grep, numbered from 1.
    assert sorted(pids) == list(range(1, len(pids) + 1))
    assert len(pids) <= 4


# --- the network ------------------------------------------------------------------------

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
    print("connected")
except OSError as error:
    print("failed:", error)
"""


def test_tcp_to_a_listening_port_on_the_host_loopback_fails(box: BwrapSandbox) -> None:
    with tcp_listener() as port:
        result = box.exec([PY, "-c", CONNECT, "127.0.0.1", str(port)])
    assert result.stdout.startswith("failed:"), result.stdout + result.stderr


@pytest.mark.parametrize("address", ["1.1.1.1", "10.0.0.1", "8.8.8.8"])
def test_tcp_to_an_external_address_fails(box: BwrapSandbox, address: str) -> None:
    result = box.exec([PY, "-c", CONNECT, address, "80"])
    assert result.stdout.startswith("failed:"), result.stdout + result.stderr
    assert "unreachable" in result.stdout


def test_hub_unix_socket_is_reachable(tmp_path: Path) -> None:
    require_bwrap()
    talk = (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect('/run/aar/hub.sock')\n"
        "s.sendall(b'ping')\n"
        "print(s.recv(100).decode())\n"
    )
    with unix_echo_server(tmp_path / "hub.sock") as sock:
        spec = SandboxSpec(workspace=workspace(tmp_path), hub_socket=sock, limits=SMALL)
        with BwrapSandbox(spec) as sandbox:
            result = sandbox.exec([PY, "-c", talk])
    assert result.stdout.strip() == "echo:ping", result.stderr


def test_host_abstract_unix_sockets_are_unreachable(box: BwrapSandbox) -> None:
    name = f"aar-test-{uuid.uuid4().hex}"
    talk = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect('\\0' + sys.argv[1]); print('connected')\n"
        "except OSError as error:\n"
        "    print('failed:', error)\n"
    )
    with abstract_listener(name):
        result = box.exec([PY, "-c", talk, name])
    assert result.stdout.startswith("failed:"), result.stdout + result.stderr


# --- writing outside the workspace ------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/escape",
        "/usr/escape",
        "/etc/escape",
        "/etc/passwd",
        "/data/public/escape",
        "/data/public/inputs.jsonl",
        f"{sys.prefix}/escape",
        "/proc/sys/kernel/hostname",
    ],
)
def test_writing_outside_the_workspace_fails(
    box: BwrapSandbox, public_data: Path, target: str
) -> None:
    result = box.exec(f"echo owned > {target}")
    assert result.exit_code != 0
    assert not Path(sys.prefix, "escape").exists()
    assert not (public_data / "escape").exists()
    assert (public_data / "inputs.jsonl").read_text() == '{"x": 1}\n'


def test_read_only_binds_cannot_be_remounted_writable(box: BwrapSandbox) -> None:
    result = box.exec("mount -o remount,rw /usr && touch /usr/escape")
    assert result.exit_code != 0
    assert not Path("/usr/escape").exists()


def test_nested_user_namespaces_cannot_be_created(box: BwrapSandbox) -> None:
    # A nested user namespace would give the command every capability inside it.
    result = box.exec("unshare --user --map-root-user true")
    assert result.exit_code != 0


def test_the_command_has_no_capabilities(box: BwrapSandbox) -> None:
    result = box.exec("grep -E '^Cap(Eff|Prm)' /proc/self/status")
    assert result.stdout.split() == ["CapPrm:", "0000000000000000", "CapEff:", "0000000000000000"]


# --- functions --------------------------------------------------------------------------


def test_exec_returns_output_and_exit_code(box: BwrapSandbox) -> None:
    result = box.exec("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert result.killed is None
    assert not result.truncated


def test_exec_feeds_stdin_and_runs_argv_without_a_shell(box: BwrapSandbox) -> None:
    assert box.exec(["cat"], stdin="from stdin").stdout == "from stdin"
    assert box.exec(["echo", "$HOME; ls"]).stdout == "$HOME; ls\n"


def test_exec_runs_in_cwd_below_the_workspace(box: BwrapSandbox) -> None:
    box.write_file("exp/a.txt", "A")
    result = box.exec("pwd; cat a.txt", cwd="exp")
    assert result.stdout == "/workspace/exp\nA"
    with pytest.raises(SandboxPathError):
        box.exec("pwd", cwd="../..")
    with pytest.raises(SandboxPathError):
        box.exec("pwd", cwd="missing")


def test_a_command_that_closes_its_output_still_runs_to_its_end(box: BwrapSandbox) -> None:
    result = box.exec("exec >&- 2>&-; sleep 1; touch done")
    assert result.exit_code == 0
    assert result.duration_s >= 1
    assert (box.workspace.root / "done").exists()


def test_long_output_keeps_its_head_and_tail(box: BwrapSandbox) -> None:
    result = box.exec("seq 100000")
    assert result.truncated
    assert result.stdout.startswith("1\n2\n3\n")
    assert result.stdout.rstrip().endswith("99999\n100000")
    assert "bytes cut" in result.stdout
    assert len(result.stdout) < SMALL.output_bytes + 200


def test_python_from_the_venv_imports_numpy_and_aar(box: BwrapSandbox) -> None:
    result = box.exec("python -c 'import numpy, aar.w2s; print(numpy.ones(3).sum())'")
    assert result.stdout == "3.0\n", result.stderr


def test_files_pass_between_host_and_sandbox_and_only_the_workspace_persists(
    box: BwrapSandbox,
) -> None:
    box.write_file("in.txt", "from host")
    result = box.exec("cat /workspace/in.txt > out.txt; echo tmp > /tmp/t; echo h > ~/h")
    assert result.exit_code == 0, result.stderr
    assert box.read_file("out.txt") == "from host"
    later = box.exec("ls /tmp ~")
    assert "t" not in later.stdout.split()
    assert "h" not in later.stdout.split()


def test_readonly_mount_is_readable_at_its_target(box: BwrapSandbox) -> None:
    assert box.exec("cat /data/public/inputs.jsonl").stdout == '{"x": 1}\n'


def test_missing_bwrap_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox = make_sandbox("bwrap", SandboxSpec(workspace=workspace(tmp_path)))
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        sandbox.start()


def test_close_kills_a_running_command_and_refuses_new_ones(box: BwrapSandbox) -> None:
    results = []
    thread = threading.Thread(target=lambda: results.append(box.exec("sleep 30")))
    thread.start()
    time.sleep(0.5)
    box.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert results[0].exit_code != 0
    assert results[0].duration_s < 5
    with pytest.raises(SandboxError, match="closed"):
        box.exec("true")


def test_default_limits_run_a_normal_command(tmp_path: Path) -> None:
    require_bwrap()
    with BwrapSandbox(SandboxSpec(workspace=workspace(tmp_path), limits=Limits())) as sandbox:
        assert sandbox.exec("python -c 'print(6 * 7)'").stdout == "42\n"
