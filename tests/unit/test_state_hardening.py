"""The state store's edge: a store from a newer release, a file that is not SQLite, a read-only
or full database, a database held by another process, a missing driver, a bad URL, and the
file's permissions. Each is a :class:`StateError` saying what to check, never a raw
SQLAlchemy or driver error, and never the statement's parameters (complaint ids, reasons)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_complaints.errors import LockHeldError, StateError
from crm_complaints.quarantine import QuarantineEntry
from crm_complaints.readers import FieldProblem
from crm_complaints.state import MIGRATIONS, SqlStateStore, open_store

NEWEST = max(version for version, _, _ in MIGRATIONS)


def _made_store(path: Path) -> None:
    store = open_store(path)
    store.mark_pending("webhook", {"GNZ-2026-0001": "v1"})
    store.close()


def test_a_store_written_by_a_newer_release_is_refused_naming_both_versions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    _made_store(path)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (NEWEST + 7, "from the future", "2027-01-01 00:00:00"),
        )
    raw.close()
    with pytest.raises(StateError) as refused:
        open_store(path)
    message = str(refused.value)
    assert str(NEWEST + 7) in message and str(NEWEST) in message
    assert "upgrade" in message


def test_a_file_that_is_not_sqlite_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"complaints exported by hand, not a database\n" * 100)
    with pytest.raises(StateError) as refused:
        open_store(path)
    message = str(refused.value)
    assert str(path) in message and "not a usable SQLite database" in message
    assert "state.path" in message
    assert isinstance(refused.value.__cause__, sqlite3.DatabaseError)


def test_a_read_only_database_fails_writes_with_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _made_store(path)
    read_only = SqlStateStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert read_only.get_many("webhook", ["GNZ-2026-0001"])  # reading still works
        with pytest.raises(StateError) as refused:
            read_only.mark_pending("webhook", {"GNZ-2026-0002": "v1"})
    finally:
        read_only.close()
    message = str(refused.value)
    assert "read-only" in message and "permissions" in message
    assert "GNZ-2026-0002" not in message  # the statement's parameters stay out
    assert isinstance(refused.value.__cause__, sqlite3.OperationalError)


def test_a_full_disk_fails_with_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    # SQLite's own "database or disk is full" (SQLITE_FULL), from a page limit on every
    # connection of this store.
    sa.event.listen(
        store.engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA max_page_count=12")
    )
    store.engine.dispose()
    problems = [FieldProblem(field="description", message="too long " * 50)]
    entries = [
        QuarantineEntry(source="in.jsonl", line=n, complaint_id=f"C-{n}", problems=problems)
        for n in range(400)
    ]
    run_id = store.start_run("sync", "webhook")
    with pytest.raises(StateError) as refused:
        store.add_quarantine(run_id, entries)
    store.close()
    assert "full" in str(refused.value) and "disk" in str(refused.value)


def test_a_database_held_by_another_process_is_a_held_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _made_store(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer that does not let go (a backup tool, a shell)
    store = open_store(path, busy_timeout_seconds=0.2)
    try:
        with pytest.raises(LockHeldError) as refused:
            store.start_run("sync", "webhook")
    finally:
        store.close()
        holder.rollback()
        holder.close()
    assert str(path) in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+nosuchdriver://crm:s3cret-pw@db.internal/crm",
        "postgresql+psycopg2://crm:s3cret-pw@127.0.0.1:9/crm",  # not installed (or no server)
    ],
)
def test_a_missing_database_driver_is_a_state_error(url: str) -> None:
    with pytest.raises(StateError) as refused:
        open_store(url=url)
    message = str(refused.value)
    assert "state.url" in message
    assert "s3cret-pw" not in message
    assert refused.value.__cause__ is not None


def test_a_url_that_is_not_a_url_is_a_state_error() -> None:
    with pytest.raises(StateError, match=r"state\.url"):
        open_store(url="crm complaints db")


def test_the_sqlite_file_and_its_companions_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    store.mark_pending("webhook", {"GNZ-2026-0001": "v1"})
    files = [path, path.with_name("state.db-wal"), path.with_name("state.db-shm")]
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
    store.close()
    assert len(modes) == 3, modes  # WAL mode: all three exist while the store is open
    assert modes == dict.fromkeys(modes, 0o600)


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _made_store(path)
    path.chmod(0o640)  # an operator's deliberate choice (a group that reads status)
    open_store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_postgresql_store_written_by_a_newer_release_is_refused(postgres_url: str) -> None:
    open_store(url=postgres_url).close()
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO schema_migrations (version, name, applied_at) "
                "VALUES (:v, 'from the future', now())"
            ),
            {"v": NEWEST + 2},
        )
    engine.dispose()
    with pytest.raises(StateError) as refused:
        open_store(url=postgres_url, namespace="osaka")
    assert str(NEWEST + 2) in str(refused.value) and "upgrade" in str(refused.value)


def test_an_unreachable_postgresql_is_a_state_error_without_the_password() -> None:
    with pytest.raises(StateError) as refused:
        open_store(url="postgresql+psycopg://crm:s3cret-pw@127.0.0.1:9/crm?connect_timeout=2")
    message = str(refused.value)
    assert "127.0.0.1:9" in message and "s3cret-pw" not in message
    assert refused.value.__cause__ is not None
