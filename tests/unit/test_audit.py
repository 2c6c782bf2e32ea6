"""The audit trail: what the engine records per remote write, and the hash chain catching a
deleted or edited row (the inspector's "show that this record was not altered")."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crm_complaints.adapters.base import RemoteWrite
from crm_complaints.audit import (
    GENESIS_HASH,
    AuditEntry,
    append,
    audit_chains,
    audit_log,
    history,
    prune,
    verify,
)
from crm_complaints.cli import app
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore, open_store
from crm_complaints.sync import sync
from tests.conftest import realistic_complaints
from tests.fakes import FakeAdapter, rejected

NO_WAIT = RetryPolicy.no_wait()


@pytest.fixture
def store(any_store: SqlStateStore) -> SqlStateStore:
    """Every chain test runs on SQLite and on PostgreSQL (``any_store`` in conftest)."""
    return any_store


def _entries(count: int, run_id: int = 1) -> list[AuditEntry]:
    return [
        AuditEntry(f"C-{i}", 1, "create", "synced", {"ticket": str(100 + i)}, run_id)
        for i in range(count)
    ]


def _ids(store: SqlStateStore) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.select(audit_log.c.id).order_by(audit_log.c.id)))


def test_sync_records_creates_updates_and_rejections_without_field_values(
    store: SqlStateStore,
) -> None:
    adapter = FakeAdapter()
    complaints = realistic_complaints(3)
    adapter.crm.script["E2E-0002"] = [rejected("E2E-0002")]
    first = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
    edited = [complaints[0].model_copy(update={"summary": "edited"}), *complaints[1:]]
    second = sync(edited, adapter=adapter, store=store, retry=NO_WAIT)

    rows = history(store.engine, "E2E-0000")
    assert [(r.operation, r.outcome, r.revision, r.run_id) for r in rows] == [
        ("create", "synced", 1, first.run_id),
        ("update", "synced", 2, second.run_id),
    ]
    ticket = adapter.crm.tickets["E2E-0000"]["id"]
    assert [r.remote_ids for r in rows] == [{"ticket": ticket}, {"ticket": ticket}]
    # The fake lists no writes: one row per push, for the complaint as a whole.
    assert {r.object for r in rows} == {"complaint"}
    refused = history(store.engine, "E2E-0002")
    assert [(r.operation, r.outcome) for r in refused] == [("create", "rejected")]
    assert history(store.engine, "E2E-0001")[0].trigger == "sync"

    with store.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.execute(sa.select(audit_log))], default=str)
    for complaint in complaints:
        assert complaint.summary not in dump
        assert complaint.customer is not None and complaint.customer.name not in dump
        assert complaint.customer.email not in dump
    assert all(r.ok for r in verify(store.engine))


def test_repair_writes_are_marked_as_repair(store: SqlStateStore) -> None:
    adapter = FakeAdapter()
    complaints = realistic_complaints(2)
    sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
    sync(complaints, adapter=adapter, store=store, retry=NO_WAIT, force=frozenset({"E2E-0001"}))
    assert [r.trigger for r in history(store.engine, "E2E-0001")] == ["sync", "repair"]
    assert len(history(store.engine, "E2E-0000")) == 1  # unchanged: no write, no row


def test_intact_chain_verifies(store: SqlStateStore) -> None:
    append(store.engine, "default", "fake", _entries(5))
    append(store.engine, "default", "fake", _entries(3, run_id=2))
    (report,) = verify(store.engine)
    assert report.ok and report.rows == 8


def test_a_deleted_row_is_named(store: SqlStateStore) -> None:
    append(store.engine, "default", "fake", _entries(6))
    ids = _ids(store)
    with store.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == ids[2]))
    (report,) = verify(store.engine)
    assert not report.ok
    assert report.broken is not None and report.broken.row_id == ids[3]
    assert f"row {ids[1]}" in report.broken.reason


def test_an_edited_row_is_named(store: SqlStateStore) -> None:
    append(store.engine, "default", "fake", _entries(6))
    ids = _ids(store)
    with store.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == ids[4]).values(outcome="rejected"))
    (report,) = verify(store.engine)
    assert report.broken is not None and report.broken.row_id == ids[4]
    assert "edited" in report.broken.reason


def test_deleting_the_first_or_the_last_row_is_detected(store: SqlStateStore) -> None:
    append(store.engine, "default", "fake", _entries(4))
    ids = _ids(store)
    with store.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == ids[-1]))
    (report,) = verify(store.engine)
    assert report.broken is not None and "last row" in report.broken.reason
    with store.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == ids[0]))
    (report,) = verify(store.engine)
    assert report.broken is not None and report.broken.row_id == ids[1]


def test_retention_prunes_old_rows_and_the_rest_still_verifies(store: SqlStateStore) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    append(store.engine, "default", "fake", _entries(3), now=now - timedelta(days=400))
    append(store.engine, "default", "fake", _entries(2, run_id=2), now=now - timedelta(days=10))
    assert prune(store.engine, 365, now=now) == 3
    (report,) = verify(store.engine)
    assert report.ok and report.rows == 2
    append(store.engine, "default", "fake", _entries(1, run_id=3), now=now)
    assert verify(store.engine)[0].ok


def test_chains_are_per_namespace(tmp_path: Path) -> None:
    first = open_store(tmp_path / "s.db", namespace="group-a")
    second = open_store(tmp_path / "s.db", namespace="group-b")
    try:
        append(first.engine, "group-a", "fake", _entries(2))
        append(second.engine, "group-b", "fake", _entries(2))
        append(first.engine, "group-a", "fake", _entries(2))
        assert [r.ok for r in verify(first.engine, "group-a")] == [True]
        assert [r.rows for r in verify(second.engine, "group-b")] == [2]
    finally:
        first.close()
        second.close()


def test_cli_history_and_audit_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(tmp_path / "cli.db"))
    opened = open_store(tmp_path / "cli.db")
    try:
        append(opened.engine, "default", "fake", _entries(4))
        ids = _ids(opened)
    finally:
        opened.close()
    runner = CliRunner()
    shown = runner.invoke(app, ["history", "C-1", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert [(w["operation"], w["outcome"], w["remote_ids"]) for w in data["writes"]] == [
        ("create", "synced", {"ticket": "101"})
    ]
    assert data["writes"][0]["object"] == "complaint"
    text = runner.invoke(app, ["history", "C-1"]).output
    assert "create complaint (sync)  synced  ticket=101" in text
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0

    opened = open_store(tmp_path / "cli.db")
    with opened.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == ids[1]))
    opened.close()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 5
    assert f"row {ids[2]}" in broken.output and "BROKEN" in broken.output


def test_a_write_names_a_known_operation() -> None:
    assert RemoteWrite("link", "association", {"task:follow_up": "9", "ticket": "1"}).object
    with pytest.raises(ValueError, match="delete"):
        RemoteWrite("delete", "ticket", {"ticket": "1"})  # type: ignore[arg-type]


_BEFORE_MIGRATION_8 = (
    "namespace", "adapter", "recorded_at", "run_id", "complaint_id", "revision", "operation",
    "trigger", "remote_ids", "outcome",
)  # fmt: skip


def _hash_as_before_migration_8(row: dict[str, object], prev_hash: str) -> str:
    """How rows were hashed before ``object`` existed (kept here as it was, so that a change
    to the hashing of old rows fails this test instead of every old chain in the field)."""
    body = json.dumps(
        [[name, row[name]] for name in _BEFORE_MIGRATION_8] + [["prev_hash", prev_hash]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _store_before_migration_8(url: str, rows: int) -> None:
    """A store as the release before migration 8 left it: no ``audit_log.object``, and a
    chain of ``rows`` rows hashed without it."""
    open_store(url=url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DROP COLUMN object"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version = 8"))
        prev = GENESIS_HASH
        for i in range(rows):
            row: dict[str, object] = {
                "namespace": "default",
                "adapter": "hubspot",
                "recorded_at": f"2026-11-0{i + 1}T09:00:00.000000Z",
                "run_id": i + 1,
                "complaint_id": "GNZ-1",
                "revision": i + 1,
                "operation": "create" if i == 0 else "update",
                "trigger": "sync",
                "remote_ids": json.dumps({"ticket": "101"}),
                "outcome": "synced",
            }
            row_hash = _hash_as_before_migration_8(row, prev)
            names = [*_BEFORE_MIGRATION_8, "prev_hash", "row_hash"]
            conn.execute(
                sa.text(
                    f"INSERT INTO audit_log ({', '.join(names)}) "
                    f"VALUES ({', '.join(':' + n for n in names)})"
                ),
                {**row, "prev_hash": prev, "row_hash": row_hash},
            )
            prev = row_hash
        head = conn.scalar(sa.text("SELECT max(id) FROM audit_log"))
        conn.execute(
            audit_chains.insert().values(
                namespace="default",
                adapter="hubspot",
                head_id=head,
                head_hash=prev,
                rows=rows,
                anchor_hash=GENESIS_HASH,
                pruned_rows=0,
            )
        )
    engine.dispose()


def test_a_chain_from_before_migration_8_goes_on_and_still_catches_edits(
    state_url: str,
) -> None:
    """Old rows (no object, hashed without it), the migration, then new rows that name their
    object: the chain verifies; an old row edited, or given an object, is caught; so is a new
    row whose object is cleared to look old."""
    _store_before_migration_8(state_url, rows=3)
    store = open_store(url=state_url)  # migration 8 runs
    try:
        new = AuditEntry("GNZ-1", 4, "update", "synced", {"ticket": "101"}, 4, object="ticket")
        append(store.engine, "default", "hubspot", [new])
        rows = history(store.engine, "GNZ-1")
        assert [r.object for r in rows] == [None, None, None, "ticket"]
        (report,) = verify(store.engine)
        assert report.ok and report.rows == 4

        for row, change in (
            (rows[1], {"outcome": "rejected"}),
            (rows[1], {"object": "ticket"}),
            (rows[3], {"object": None}),
        ):
            with store.engine.begin() as conn:
                conn.execute(audit_log.update().where(audit_log.c.id == row.id).values(**change))
            (report,) = verify(store.engine)
            assert report.broken is not None and report.broken.row_id == row.id, change
            assert "edited" in report.broken.reason
            with store.engine.begin() as conn:  # put it back
                conn.execute(
                    audit_log.update()
                    .where(audit_log.c.id == row.id)
                    .values(outcome=row.outcome, object=row.object)
                )
            assert verify(store.engine)[0].ok
    finally:
        store.close()
