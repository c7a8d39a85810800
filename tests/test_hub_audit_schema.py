"""Audit log, the public schema's secrecy, and schema upgrades in place."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DatabaseError

from aar.hub.client import HubError
from aar.hub.db import current_revision, make_engine, upgrade
from tests.hubkit import noisy, running_hub, toy_task

SECRET_FIELDS = {
    "test_labels",
    "pool_labels",
    "labels",
    "public_mask",
    "private_accuracy",
    "private_pgr",
    "predictions",
}


def test_every_request_is_audited_and_the_log_is_append_only(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        alice.submit("toy", noisy(labels, 0.3, 1), method="m")
        hub.anonymous().get("/me")
        alice.record_tool_call(
            "shell", {"cmd": "ls"}, result_summary="3 files", tokens=12, wall_ms=4.5
        )
        entries = hub.operator.audit()
        requests = [(e.actor, e.action, e.status) for e in entries if e.kind == "request"]
        assert ("operator", "POST /tasks", 201) in requests
        assert ("alice", "POST /tasks/toy/submissions", 201) in requests
        assert ("anonymous", "GET /me", 401) in requests
        calls = hub.operator.audit(kind="tool_call")
        assert [(c.actor, c.action, c.detail["tokens"]) for c in calls] == [("alice", "shell", 12)]
        with pytest.raises(HubError, match="operator only"):
            alice.audit()
        exported = [json.loads(line) for line in hub.operator.export_audit()]
        assert [e["id"] for e in exported] == sorted(e["id"] for e in exported)
        assert len(exported) >= len(entries)
        engine = make_engine(hub.settings.resolved_database_url)
        for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        engine.dispose()


def _schema_fields(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        found.update(node.get("properties", {}))
        for value in node.values():
            _schema_fields(value, found)
    elif isinstance(node, list):
        for value in node:
            _schema_fields(value, found)


def test_no_researcher_response_schema_can_carry_labels(tmp_path: Path) -> None:
    with running_hub(tmp_path) as hub:
        spec = hub.anonymous().get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for response in operation.get("responses", {}).values():
                fields: set[str] = set()
                refs = json.dumps(response)
                for name in schemas:
                    if f'"#/components/schemas/{name}"' in refs:
                        _schema_fields(_expand(schemas, name, set()), fields)
                leaked = fields & {"test_labels", "pool_labels", "labels", "public_mask"}
                assert not leaked, f"{method.upper()} {path} can return {leaked}"
                if "Operator" not in refs:  # researcher-visible responses
                    assert not fields & SECRET_FIELDS, (
                        f"{method.upper()} {path}: {fields & SECRET_FIELDS}"
                    )


def _expand(schemas: dict[str, Any], name: str, seen: set[str]) -> Any:
    """A schema with every $ref it reaches inlined."""
    if name in seen:
        return {}
    seen = seen | {name}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return _expand(schemas, node["$ref"].rsplit("/", 1)[1], seen)
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schemas[name])


def test_an_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (name, role, token_hash, status, created_at) "
                "VALUES ('old', 'researcher', 'h', 'active', '2026-01-01 00:00:00')"
            )
        )
    assert "posts" not in inspect(engine).get_table_names()
    engine.dispose()
    with running_hub(tmp_path) as hub:  # start-up upgrades to the newest revision
        names = [a.name for a in hub.operator.accounts()]
    assert "old" in names
    check = create_engine(url)
    assert current_revision(check) == "0006"
    assert {"posts", "snapshots", "votes"} <= set(inspect(check).get_table_names())


def test_scorings_flagged_before_0005_are_quarantined_by_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine, "0003")
    rows = [
        "INSERT INTO accounts VALUES (1, 'old', 'researcher', 'h', 'active', NULL, NULL, '2026')",
        "INSERT INTO tasks VALUES (1, 't', '', 2, 2, 0, 1, '2026-01-01')",
    ]
    for flagged, reason in ((1, "'label probing? 1 flipped prediction(s)'"), (0, "NULL")):
        rows.append(
            "INSERT INTO scorings (task_id, account_id, method, description, seed, predictions, "
            "public_acc, private_acc, public_pgr, private_pgr, flagged, flag_reason, created_at) "
            f"VALUES (1, 1, 'm', '', 0, X'0001', 1, 1, 1, 1, {flagged}, {reason}, '2026-01-01')"
        )
    with engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))
    upgrade(engine)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT flagged, quarantined, released FROM scorings ORDER BY id")
        ).all()
        sealed = connection.execute(text("SELECT sealed FROM tasks")).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in found] == [(1, 1, 1), (0, 0, 1)]
    assert sealed == 0


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from aar.hub.models import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
