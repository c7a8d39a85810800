"""Database engine, schema upgrades and sessions.

    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)                 # Alembic: creates or upgrades the schema in place
    Session = sessionmaker(engine)

SQLite runs in WAL mode with foreign keys on and a busy timeout, so concurrent requests wait
for the writer instead of failing; PostgreSQL is used as is (``postgresql+psycopg://...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, text

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping existing data."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


ACCOUNT_LOCK_SPACE = 0x6161_7273  # "aars": advisory locks per account (two-key form)


def lock_account(connection: Connection, account_id: int) -> None:
    """On PostgreSQL, hold the account's advisory lock until the transaction ends, so hub
    processes sharing the database cannot both pass a budget or quota check for the last
    submission or snapshot (in one process, the account's thread lock does this)."""
    if connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:space, :account)")
        connection.execute(lock, {"space": ACCOUNT_LOCK_SPACE, "account": account_id})
