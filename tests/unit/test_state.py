from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_complaints.errors import LockHeldError
from crm_complaints.state import (
    MIGRATIONS,
    FailedWrite,
    RecordState,
    SqlStateStore,
    SyncedWrite,
    open_store,
)


def test_file_is_sqlite_in_wal_mode_with_recorded_migrations(tmp_path: Path) -> None:
    store = open_store(tmp_path / "nested" / "state.db")
    store.mark_pending("webhook", {"A": "v1"})
    raw = sqlite3.connect(tmp_path / "nested" / "state.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = raw.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert [v for v, _ in applied] == [m[0] for m in MIGRATIONS]
    assert store.schema_version() == MIGRATIONS[-1][0]
    store.close()
    # Reopening applies nothing twice.
    again = open_store(tmp_path / "nested" / "state.db")
    assert again.migrate() == []
    again.close()


def test_write_ahead_then_commit(store: SqlStateStore) -> None:
    store.mark_pending("webhook", {"A": "v1", "B": "v1"})
    pending = store.get_many("webhook", ["A", "B"])
    assert {r.state for r in pending.values()} == {RecordState.PENDING}
    assert pending["A"].pending_hash == "v1" and pending["A"].synced_hash is None
    store.record_results(
        "webhook",
        {"A": SyncedWrite("v1", {"event": "msg_1"})},
        {"B": FailedWrite("v1", "503 from receiver", quarantined=False)},
    )
    after = store.get_many("webhook", ["A", "B"])
    assert after["A"].state is RecordState.SYNCED and after["A"].synced_hash == "v1"
    assert after["A"].refs == {"event": "msg_1"} and after["A"].synced_at is not None
    assert after["A"].synced_at.tzinfo is not None
    assert after["B"].state is RecordState.FAILED and after["B"].attempts == 1
    assert (after["B"].pending_hash, after["B"].last_error) == ("v1", "503 from receiver")
    # A new version of A keeps the last synced hash and refs while it is in flight.
    store.mark_pending("webhook", {"A": "v2"})
    in_flight = store.get_many("webhook", ["A"])["A"]
    assert (in_flight.state, in_flight.synced_hash, in_flight.pending_hash) == (
        RecordState.PENDING,
        "v1",
        "v2",
    )
    assert in_flight.refs == {"event": "msg_1"}
    assert [r.complaint_id for r in store.problem_records()] == ["A", "B"]


def test_adapters_keep_separate_state(store: SqlStateStore) -> None:
    store.mark_pending("webhook", {"A": "v1"})
    store.mark_pending("hubspot", {"A": "v9"})
    assert store.get_many("webhook", ["A"])["A"].pending_hash == "v1"
    assert store.get_many("hubspot", ["A"])["A"].pending_hash == "v9"


def test_runs_are_recorded(store: SqlStateStore) -> None:
    run_id = store.start_run("sync", "webhook")
    assert store.recent_runs(1)[0].outcome is None
    store.finish_run(run_id, "ok", {"created": 3})
    [run] = store.recent_runs(1)
    assert (run.id, run.outcome, dict(run.counts)) == (run_id, "ok", {"created": 3})
    assert run.finished_at is not None and run.finished_at >= run.started_at


def test_lock_is_exclusive_and_waits(tmp_path: Path) -> None:
    first = open_store(tmp_path / "s.db")
    second = open_store(tmp_path / "s.db")
    with first.run_lock():
        with pytest.raises(LockHeldError):
            with second.run_lock(wait_seconds=0.3):
                pass
    with second.run_lock():
        pass
    first.close()
    second.close()


def test_large_id_lists_are_chunked(store: SqlStateStore) -> None:
    versions = {f"C-{i:05d}": "v" for i in range(1500)}
    store.mark_pending("webhook", versions)
    assert len(store.get_many("webhook", list(versions))) == 1500
    assert sum(1 for _ in store.all_records("webhook")) == 1500


def test_a_sqlite_url_gets_the_same_file_lock(tmp_path: Path) -> None:
    first = open_store(url=f"sqlite:///{tmp_path / 'u.db'}")
    second = open_store(tmp_path / "u.db")
    with first.run_lock(), pytest.raises(LockHeldError):
        with second.run_lock():
            pass
    first.close()
    second.close()


def test_a_store_without_a_lock_mechanism_refuses_to_run() -> None:
    from crm_complaints.errors import StateError

    memory = open_store(url="sqlite://")
    with pytest.raises(StateError, match="no run lock"):
        with memory.run_lock():
            pass
    memory.close()
