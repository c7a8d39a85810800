"""A real PostgreSQL server for tests: initdb + pg_ctl on 127.0.0.1, one database per test.

The server runs as the ``postgres`` user when the tests run as root (initdb refuses root).
When no PostgreSQL is installed the tests skip, unless ``AAR_REQUIRE_POSTGRES`` is set (CI).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy


def _binary(name: str) -> str | None:
    candidates = [shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))]
    return next((c for c in candidates if c), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_server() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        if os.environ.get("AAR_REQUIRE_POSTGRES"):
            pytest.fail("AAR_REQUIRE_POSTGRES is set but initdb/pg_ctl are not installed")
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    # Not under pytest's tmp folders: their parents are closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="aar-postgres-"))
    try:
        yield from _run(folder, initdb, pg_ctl)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, initdb: str, pg_ctl: str) -> Iterator[str]:
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "aar", "--auth=trust"]), **run)  # type: ignore[call-overload]
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        ),
        **run,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://aar@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
            timeout=60,
        )


def fresh_database(server: str) -> str:
    """A new empty database on ``server``; returns its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    engine = sqlalchemy.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{server}/{name}"
