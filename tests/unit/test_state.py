"""The state store on SQLite and on a real PostgreSQL: write-ahead, namespaces, run locks,
migrations (once, even when many jobs open one database at the same moment)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_complaints.errors import LockHeldError, StateError
from crm_complaints.quarantine import QuarantineEntry
from crm_complaints.readers import FieldProblem
from crm_complaints.state import (
    MIGRATIONS,
    FailedWrite,
    RecordState,
    SqlStateStore,
    SyncedWrite,
    open_store,
)


@pytest.fixture
def store(any_store: SqlStateStore) -> SqlStateStore:
    """Each test below runs on SQLite and on PostgreSQL (``any_store`` in conftest)."""
    return any_store


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


def test_migrations_are_recorded_once(state_url: str) -> None:
    first = open_store(url=state_url)
    assert first.schema_version() == MIGRATIONS[-1][0]
    assert first.migrate() == []
    first.close()
    again = open_store(url=state_url)
    with again.engine.connect() as conn:
        versions = list(conn.scalars(sa.text("SELECT version FROM schema_migrations")))
    again.close()
    assert sorted(versions) == [m[0] for m in MIGRATIONS]


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


def test_revisions_count_distinct_versions(store: SqlStateStore) -> None:
    assert store.mark_pending("webhook", {"A": "v1"}) == {"A": 1}
    assert store.mark_pending("webhook", {"A": "v1"}) == {"A": 1}  # a retry of the same version
    assert store.mark_pending("webhook", {"A": "v2"}) == {"A": 2}


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
    assert run.started_at.tzinfo is not None


def test_namespaces_share_a_database_without_seeing_each_other(state_url: str) -> None:
    osaka = open_store(url=state_url, namespace="osaka")
    kyoto = open_store(url=state_url, namespace="kyoto")
    try:
        osaka.mark_pending("hubspot", {"A": "osaka-v1", "B": "osaka-v1"})
        kyoto.mark_pending("hubspot", {"A": "kyoto-v1"})
        osaka.record_results("hubspot", {"A": SyncedWrite("osaka-v1", {"ticket": "1"})}, {})
        assert kyoto.get_many("hubspot", ["A", "B"])["A"].state is RecordState.PENDING
        assert set(kyoto.get_many("hubspot", ["A", "B"])) == {"A"}
        assert [r.complaint_id for r in kyoto.all_records("hubspot")] == ["A"]
        assert [r.complaint_id for r in osaka.problem_records()] == ["B"]
        # The same complaint id at the same revision in both: rows are keyed by namespace.
        assert osaka.mark_pending("hubspot", {"A": "osaka-v2"}) == {"A": 2}
        assert kyoto.get_many("hubspot", ["A"])["A"].pending_hash == "kyoto-v1"

        run_id = osaka.start_run("sync", "hubspot")
        entry = QuarantineEntry(
            source="in.jsonl",
            line=3,
            complaint_id="C",
            problems=[FieldProblem(field="received_at", message="has no offset")],
        )
        osaka.add_quarantine(run_id, [entry])
        kyoto.finish_run(run_id, "ok", {"created": 99})  # not kyoto's run: changes nothing
        assert kyoto.recent_runs() == [] and kyoto.quarantine_of_run(run_id) == []
        [osaka_run] = osaka.recent_runs()
        assert (osaka_run.namespace, osaka_run.outcome) == ("osaka", None)
        assert [q["complaint_id"] for q in osaka.quarantine_of_run(run_id)] == ["C"]
    finally:
        osaka.close()
        kyoto.close()


def test_overview_of_all_namespaces(state_url: str) -> None:
    osaka = open_store(url=state_url, namespace="osaka")
    kyoto = open_store(url=state_url, namespace="kyoto")
    try:
        osaka.mark_pending("hubspot", {"A": "v", "B": "v", "C": "v", "D": "v"})
        osaka.record_results(
            "hubspot",
            {"A": SyncedWrite("v", {})},
            {
                "B": FailedWrite("v", "refused", quarantined=True),
                "C": FailedWrite("v", "503", False),
            },
        )
        sync_run = osaka.start_run("sync", "hubspot")
        osaka.finish_run(sync_run, "partial", {"created": 1})
        check = osaka.start_run("reconcile", "hubspot")
        osaka.finish_run(check, "findings", {"overdue": 7, "drifted": 1})
        kyoto.finish_run(kyoto.start_run("sync", "webhook"), "ok", {"created": 0})
        rows = {(s.namespace, s.adapter): s for s in kyoto.all_namespaces()}
    finally:
        osaka.close()
        kyoto.close()
    assert set(rows) == {("osaka", "hubspot"), ("kyoto", "webhook")}
    portal = rows["osaka", "hubspot"]
    assert (portal.pending, portal.failed, portal.quarantined, portal.overdue) == (1, 1, 1, 7)
    assert portal.last_run is not None and portal.last_run.id == check
    assert rows["kyoto", "webhook"].overdue is None  # never reconciled
    assert rows["kyoto", "webhook"].last_run is not None
    assert rows["kyoto", "webhook"].last_run.outcome == "ok"


def test_a_namespace_that_is_no_key_is_refused(state_url: str) -> None:
    with pytest.raises(StateError, match=r"state\.namespace"):
        open_store(url=state_url, namespace="Osaka Clinic/1")


def test_lock_is_exclusive_and_waits(state_url: str) -> None:
    first = open_store(url=state_url)
    second = open_store(url=state_url)
    try:
        with first.run_lock("webhook"):
            with pytest.raises(LockHeldError, match="another crm-complaints run"):
                with second.run_lock("webhook", wait_seconds=0.3):
                    pass
        with second.run_lock("webhook"):
            pass
    finally:
        first.close()
        second.close()


def test_a_waiting_run_gets_the_lock_once_it_is_released(state_url: str) -> None:
    first = open_store(url=state_url)
    second = open_store(url=state_url)
    got: list[bool] = []
    try:
        with first.run_lock("hubspot"):

            def wait_for_it() -> None:
                with second.run_lock("hubspot", wait_seconds=10):
                    got.append(True)

            waiter = threading.Thread(target=wait_for_it)
            waiter.start()
            waiter.join(0.5)
            assert got == []  # still waiting while the first run holds it
        waiter.join(10)
        assert got == [True]
    finally:
        first.close()
        second.close()


def test_the_run_lock_is_per_namespace_and_adapter(state_url: str) -> None:
    osaka = open_store(url=state_url, namespace="osaka")
    osaka_again = open_store(url=state_url, namespace="osaka")
    kyoto = open_store(url=state_url, namespace="kyoto")
    try:
        with osaka.run_lock("hubspot"):
            with kyoto.run_lock("hubspot"), osaka_again.run_lock("webhook"):
                pass  # another portal, or another adapter of this one, runs at the same time
            with pytest.raises(LockHeldError, match=r"'osaka'.*'hubspot'"):
                with osaka_again.run_lock("hubspot"):
                    pass
    finally:
        for opened in (osaka, osaka_again, kyoto):
            opened.close()


def test_jobs_opening_one_new_database_at_once_migrate_it_once(state_url: str) -> None:
    """Eight jobs start at the same moment on an empty database (a CronJob per portal firing
    on the same minute): all open it, and each migration is applied and recorded once."""
    jobs = 8
    start = threading.Barrier(jobs)
    opened: list[SqlStateStore] = []
    errors: list[BaseException] = []

    def job(index: int) -> None:
        try:
            start.wait()
            opened.append(open_store(url=state_url, namespace=f"portal-{index}"))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert len(opened) == jobs
        with opened[0].engine.connect() as conn:
            versions = list(conn.scalars(sa.text("SELECT version FROM schema_migrations")))
        assert sorted(versions) == [m[0] for m in MIGRATIONS]
        for index, store in enumerate(opened):
            store.mark_pending("hubspot", {"A": f"v{index}"})
        assert {s.namespace for s in opened[0].all_namespaces()} == {
            f"portal-{n}" for n in range(jobs)
        }
    finally:
        for store in opened:
            store.close()


def _version_2_store(url: str) -> None:
    """A store as release 2 of the schema left it: no namespaces, one row and one run."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in (
            "CREATE TABLE records (adapter VARCHAR(64) NOT NULL, complaint_id VARCHAR(128) NOT "
            "NULL, state VARCHAR(16) NOT NULL, synced_hash VARCHAR(64), pending_hash VARCHAR(64),"
            " refs TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT, created_at "
            "TIMESTAMP WITH TIME ZONE NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL, "
            "synced_at TIMESTAMP WITH TIME ZONE, revision INTEGER DEFAULT '0' NOT NULL, "
            "fingerprint VARCHAR(64), PRIMARY KEY (adapter, complaint_id))",
            "CREATE INDEX ix_records_state ON records (adapter, state)",
            "CREATE TABLE runs (id INTEGER NOT NULL, kind VARCHAR(16) NOT NULL, adapter "
            "VARCHAR(64) NOT NULL, started_at TIMESTAMP WITH TIME ZONE NOT NULL, finished_at "
            "TIMESTAMP WITH TIME ZONE, outcome VARCHAR(32), counts TEXT NOT NULL, PRIMARY KEY "
            "(id))",
            "CREATE TABLE quarantine (id INTEGER NOT NULL, run_id INTEGER NOT NULL, source TEXT "
            "NOT NULL, line INTEGER NOT NULL, complaint_id VARCHAR(128), problems TEXT NOT NULL,"
            " PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES runs (id))",
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR(128) NOT "
            "NULL, applied_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (version))",
            "INSERT INTO schema_migrations VALUES (1, 'initial', '2026-11-01 00:00:00+00'), "
            "(2, 'revision', '2026-11-02 00:00:00+00')",
            "INSERT INTO records VALUES ('hubspot', 'GNZ-1', 'synced', 'h1', NULL, "
            "'{\"ticket\": \"101\"}', 0, NULL, '2026-11-01 00:00:00+00', "
            "'2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00', 3, NULL)",
            "INSERT INTO runs VALUES (1, 'sync', 'hubspot', '2026-11-01 00:00:00+00', "
            "'2026-11-01 00:01:00+00', 'ok', '{}')",
        ):
            conn.execute(sa.text(statement))
    engine.dispose()


def test_a_store_from_before_namespaces_keeps_its_rows_in_the_default_namespace(
    state_url: str,
) -> None:
    _version_2_store(state_url)
    store = open_store(url=state_url)
    other = open_store(url=state_url, namespace="kyoto")
    try:
        assert store.schema_version() == MIGRATIONS[-1][0]
        kept = store.get_many("hubspot", ["GNZ-1"])["GNZ-1"]
        assert (kept.state, kept.synced_hash, kept.refs, kept.revision) == (
            RecordState.SYNCED,
            "h1",
            {"ticket": "101"},
            3,
        )
        assert [r.id for r in store.recent_runs()] == [1]
        # The primary key now includes the namespace: another portal may hold the same id.
        assert other.mark_pending("hubspot", {"GNZ-1": "k1"}) == {"GNZ-1": 1}
        assert store.get_many("hubspot", ["GNZ-1"])["GNZ-1"].synced_hash == "h1"
        assert other.recent_runs() == []
    finally:
        store.close()
        other.close()


def test_large_id_lists_are_chunked(store: SqlStateStore) -> None:
    versions = {f"C-{i:05d}": "v" for i in range(1500)}
    store.mark_pending("webhook", versions)
    assert len(store.get_many("webhook", list(versions))) == 1500
    assert sum(1 for _ in store.all_records("webhook")) == 1500


def test_a_sqlite_url_gets_the_same_file_lock(tmp_path: Path) -> None:
    first = open_store(url=f"sqlite:///{tmp_path / 'u.db'}")
    second = open_store(tmp_path / "u.db")
    with first.run_lock("webhook"), pytest.raises(LockHeldError):
        with second.run_lock("webhook"):
            pass
    first.close()
    second.close()


def test_a_store_without_a_lock_mechanism_refuses_to_run() -> None:
    memory = open_store(url="sqlite://")
    with pytest.raises(StateError, match="no run lock"):
        with memory.run_lock("webhook"):
            pass
    memory.close()
