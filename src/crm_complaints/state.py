"""The state store: what was synced where, what is in flight, and a log of runs.

Write-ahead: the engine marks a complaint ``pending`` with the version it is about to write
*before* any remote call, and ``synced`` only after the adapter confirmed. A crash leaves
``pending`` rows; the next run pushes them again, and idempotent adapters make that harmless.

:class:`StateStore` is the interface the engine uses; :class:`SqlStateStore` implements it on
SQLAlchemy Core (SQLite with WAL by default; the same tables work on PostgreSQL). The tables
and their named, versioned migrations are in :mod:`crm_complaints.migrations`.

A store is opened for one *namespace* (``state.namespace``: a tenant or portal key), so many
jobs, one per portal, share one database without seeing each other's rows. The run lock is per
namespace and adapter: a session advisory lock on PostgreSQL, an OS file lock beside the file
on SQLite; both are released by the server or the kernel when the process dies, even on
SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine

from .errors import StateError
from .migrations import (
    DEFAULT_NAMESPACE,
    MIGRATIONS,
    apply_migrations,
    migrations_table,
    pending_migrations,
    quarantine,
    records,
    runs,
)
from .quarantine import QuarantineEntry
from .state_errors import raise_for
from .state_locks import advisory_lock, file_lock, file_safe
from .state_overview import NamespaceStatus, namespace_overview, run_record
from .state_records import (
    FailedWrite,
    RecordState,
    RunRecord,
    StateStore,
    StoredRecord,
    SyncedWrite,
    aware,
    utc_now,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "MIGRATIONS",
    "NAMESPACE_PATTERN",
    "FailedWrite",
    "NamespaceStatus",
    "RecordState",
    "RunRecord",
    "SqlStateStore",
    "StateStore",
    "StoredRecord",
    "SyncedWrite",
    "open_store",
]


NAMESPACE_PATTERN = r"[a-z0-9]([a-z0-9._-]{0,62})"
"""A namespace: 1-63 lowercase letters, digits, ``.``, ``_`` or ``-``, starting with a letter or
digit; it fits a Kubernetes label value and a file name."""


def check_namespace(namespace: str) -> str:
    """The namespace, or a :class:`StateError` naming the key and the rule."""
    if not re.fullmatch(NAMESPACE_PATTERN, namespace):
        raise StateError(
            f"state.namespace must be 1-63 lowercase letters, digits, '.', '_' or '-' starting "
            f"with a letter or digit ({len(namespace)} chars given)"
        )
    return namespace


class SqlStateStore(StateStore):
    """State in a SQL database through SQLAlchemy Core."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lock_path: Path | None = None,
        busy_timeout_seconds: float = 10.0,
        migration_wait_seconds: float = 300.0,
    ) -> None:
        """Open and migrate. Every database error from here on (opening, a locked, read-only,
        full or corrupt database, a store from a newer release) is a :class:`StateError` saying
        what to check, chained to the driver's error; ``busy_timeout_seconds`` is how long a
        SQLite write waits for another process's lock before :class:`LockHeldError`.
        ``lock_path`` (SQLite) is the file whose lock serializes migrations; run locks sit
        beside it. ``migration_wait_seconds`` bounds waiting for another job's migration."""
        self.url = url
        self.namespace = check_namespace(namespace)
        self.lock_path = lock_path
        self.migration_wait_seconds = migration_wait_seconds
        try:
            is_sqlite = sa.engine.make_url(url).get_backend_name() == "sqlite"
            # A pooled PostgreSQL connection may have been dropped while a long run waited.
            self.engine: Engine = sa.create_engine(url, pool_pre_ping=not is_sqlite)
        except (sa.exc.NoSuchModuleError, ImportError) as exc:
            driver = sa.engine.make_url(url).drivername
            raise StateError(
                f"no database driver for {driver!r} is installed ({exc.__class__.__name__}): "
                "install it (e.g. pip install 'psycopg[binary]' for postgresql+psycopg) or "
                "check the scheme of state.url"
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StateError(f"cannot use state.url: {exc.__class__.__name__}: {exc}") from exc
        self.where = (
            self.engine.url.database or ":memory:"
            if self.engine.dialect.name == "sqlite"
            else self.engine.url.render_as_string(hide_password=True)
        )
        sa.event.listen(self.engine, "handle_error", self._state_error)
        self.busy_timeout_seconds = busy_timeout_seconds
        if self.engine.dialect.name == "sqlite":
            busy_ms = max(0, round(busy_timeout_seconds * 1000))

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                _sqlite_pragmas(dbapi_connection, busy_timeout_ms=busy_ms)
                # Python's sqlite3 opens transactions only before DML, so DDL (a migration
                # rebuilding a table) would commit statement by statement; SQLAlchemy's
                # documented fix: the driver leaves transactions alone and we BEGIN ourselves.
                dbapi_connection.isolation_level = None

            def begin(conn: sa.Connection) -> None:
                conn.exec_driver_sql("BEGIN")

            sa.event.listen(self.engine, "connect", pragmas)
            sa.event.listen(self.engine, "begin", begin)
        try:
            self.migrate()
        except BaseException as exc:
            self.engine.dispose()
            if isinstance(exc, sa.exc.SQLAlchemyError):
                raise StateError(
                    f"cannot open the state store {self.where}: {exc.__class__.__name__}; "
                    "check state.path / state.url"
                ) from exc
            raise

    def _state_error(self, context: sa.engine.ExceptionContext) -> None:
        """SQLAlchemy's ``handle_error`` hook (see :func:`.state_errors.raise_for`)."""
        raise_for(context, self.where, self.busy_timeout_seconds)

    @classmethod
    def sqlite(
        cls,
        path: Path | str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        busy_timeout_seconds: float = 10.0,
    ) -> SqlStateStore:
        """A SQLite file, created owner-only (0600): it holds complaint ids and quarantine
        reasons. SQLite gives the -wal and -shm files the database file's mode. An existing
        file keeps the mode it has (an operator may have widened it on purpose)."""
        file = Path(path)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StateError(
                f"cannot create the state database {file}: {exc.strerror}; check that its "
                "directory is writable (state.path)"
            ) from exc
        return cls(
            f"sqlite:///{file}",
            namespace=namespace,
            lock_path=file.with_name(file.name + ".lock"),
            busy_timeout_seconds=busy_timeout_seconds,
        )

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; returns the versions applied.
        Jobs starting at the same moment each check, and the ones with work to do take the
        migration lock and check again under it: every migration runs once."""
        with self.engine.connect() as conn:
            pending = pending_migrations(conn, self.where)
            conn.rollback()
        if not pending:
            return []
        with self._migration_lock() as conn:
            return apply_migrations(conn, self.where)

    @contextmanager
    def _migration_lock(self) -> Iterator[sa.Connection]:
        """A connection holding the lock that serializes migrations of this database."""
        deadline = time.monotonic() + self.migration_wait_seconds
        waited = (
            f"another crm-complaints has been migrating the state store {self.where} for "
            f"{self.migration_wait_seconds:g} s"
        )
        if self.engine.dialect.name == "postgresql":
            with advisory_lock(self.engine, "migrate", deadline, waited) as conn:
                yield conn
            return
        if self.lock_path is None:  # an in-memory SQLite database: one process by definition
            with self.engine.connect() as conn:
                yield conn
            return
        with file_lock(self.lock_path, deadline, waited), self.engine.connect() as conn:
            yield conn

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.max(migrations_table.c.version))) or 0)

    def get_many(self, adapter: str, complaint_ids: Sequence[str]) -> dict[str, StoredRecord]:
        found: dict[str, StoredRecord] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(complaint_ids), 500):
                chunk = list(complaint_ids[start : start + 500])
                query = sa.select(records).where(
                    *self._mine(adapter), records.c.complaint_id.in_(chunk)
                )
                for row in conn.execute(query).mappings():
                    found[row["complaint_id"]] = _stored(row)
        return found

    def mark_pending(self, adapter: str, versions: Mapping[str, str]) -> dict[str, int]:
        if not versions:
            return {}
        now = utc_now()
        revisions: dict[str, int] = {}
        with self.engine.begin() as conn:
            existing = {
                row.complaint_id: (row.pending_hash, row.revision)
                for row in conn.execute(
                    sa.select(
                        records.c.complaint_id, records.c.pending_hash, records.c.revision
                    ).where(*self._mine(adapter), records.c.complaint_id.in_(list(versions)))
                )
            }
            for cid, version in versions.items():
                last_version, revision = existing.get(cid, (None, 0))
                revisions[cid] = revision if last_version == version else revision + 1
            new_rows = [
                {
                    "namespace": self.namespace,
                    "adapter": adapter,
                    "complaint_id": cid,
                    "state": RecordState.PENDING.value,
                    "pending_hash": version,
                    "refs": "{}",
                    "attempts": 0,
                    "revision": revisions[cid],
                    "created_at": now,
                    "updated_at": now,
                }
                for cid, version in versions.items()
                if cid not in existing
            ]
            if new_rows:
                conn.execute(records.insert(), new_rows)
            if existing:
                conn.execute(
                    records.update()
                    .where(*self._mine(adapter), records.c.complaint_id == bindparam("b_id"))
                    .values(
                        state=RecordState.PENDING.value,
                        pending_hash=bindparam("b_version"),
                        revision=bindparam("b_revision"),
                        updated_at=now,
                    ),
                    [
                        {"b_id": cid, "b_version": versions[cid], "b_revision": revisions[cid]}
                        for cid in existing
                    ],
                )
        return revisions

    def record_results(
        self,
        adapter: str,
        synced: Mapping[str, SyncedWrite],
        failed: Mapping[str, FailedWrite],
    ) -> None:
        now = utc_now()
        by_id = (*self._mine(adapter), records.c.complaint_id == bindparam("b_id"))
        with self.engine.begin() as conn:
            if synced:
                conn.execute(
                    records.update()
                    .where(*by_id)
                    .values(
                        state=RecordState.SYNCED.value,
                        synced_hash=bindparam("b_version"),
                        pending_hash=None,
                        refs=bindparam("b_refs"),
                        sent=sa.func.coalesce(bindparam("b_sent", type_=sa.Text), records.c.sent),
                        attempts=0,
                        last_error=None,
                        updated_at=now,
                        synced_at=now,
                    ),
                    [
                        {
                            "b_id": cid,
                            "b_version": write.version,
                            "b_refs": json.dumps(dict(write.refs), sort_keys=True),
                            "b_sent": _sent_json(write.sent),
                        }
                        for cid, write in synced.items()
                    ],
                )
            if failed:
                conn.execute(
                    records.update()
                    .where(*by_id)
                    .values(
                        state=bindparam("b_state"),
                        pending_hash=bindparam("b_version"),
                        attempts=records.c.attempts + 1,
                        last_error=bindparam("b_error"),
                        fingerprint=bindparam("b_fingerprint"),
                        sent=sa.func.coalesce(bindparam("b_sent", type_=sa.Text), records.c.sent),
                        refs=sa.func.coalesce(bindparam("b_refs", type_=sa.Text), records.c.refs),
                        updated_at=now,
                    ),
                    [
                        {
                            "b_id": cid,
                            "b_version": write.version,
                            "b_error": write.error,
                            "b_fingerprint": write.fingerprint,
                            "b_sent": _sent_json(write.sent),
                            "b_refs": _refs_json(write.refs),
                            "b_state": _failed_state(write).value,
                        }
                        for cid, write in failed.items()
                    ],
                )

    def start_run(self, kind: str, adapter: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                runs.insert().values(
                    namespace=self.namespace,
                    kind=kind,
                    adapter=adapter,
                    started_at=utc_now(),
                    counts="{}",
                )
            )
            key = result.inserted_primary_key
            if key is None:
                raise StateError("the database returned no id for a new run")
            return int(key[0])

    def finish_run(self, run_id: int, outcome: str, counts: Mapping[str, int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.namespace == self.namespace)
                .values(finished_at=utc_now(), outcome=outcome, counts=json.dumps(dict(counts)))
            )

    def add_quarantine(self, run_id: int, entries: Iterable[QuarantineEntry]) -> None:
        rows = [
            {
                "run_id": run_id,
                "source": e.source,
                "line": e.line,
                "complaint_id": e.complaint_id,
                "problems": json.dumps([p.model_dump() for p in e.problems], ensure_ascii=False),
            }
            for e in entries
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(quarantine.insert(), rows)

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        with self.engine.connect() as conn:
            query = sa.select(runs).where(runs.c.namespace == self.namespace)
            rows = conn.execute(query.order_by(runs.c.id.desc()).limit(limit)).mappings()
            return [run_record(row) for row in rows]

    def run_of(
        self, kind: str, adapter: str, *, first: bool = False, before: int | None = None
    ) -> RunRecord | None:
        """The last (or ``first``) run of ``kind`` for ``adapter`` in this namespace, before run
        id ``before`` if given: reconciliation's reading windows, however many runs between."""
        query = sa.select(runs).where(
            runs.c.namespace == self.namespace, runs.c.kind == kind, runs.c.adapter == adapter
        )
        if before is not None:
            query = query.where(runs.c.id < before)
        order = runs.c.id.asc() if first else runs.c.id.desc()
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(order).limit(1)).mappings().first()
        return run_record(row) if row is not None else None

    def mark_restored(self, adapter: str, complaint_ids: Iterable[str]) -> None:
        """Records taken for deleted whose ticket is back (restored from HubSpot's recycle bin):
        the next sync updates them again."""
        note = "restored in the CRM; the next sync updates it"
        self._set_state(adapter, complaint_ids, RecordState.FAILED, note, RecordState.DELETED)

    def problem_records(self, adapter: str | None = None) -> list[StoredRecord]:
        query = sa.select(records).where(
            records.c.namespace == self.namespace, records.c.state != RecordState.SYNCED.value
        )
        if adapter:
            query = query.where(records.c.adapter == adapter)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(records.c.complaint_id)).mappings()
            return [_stored(row) for row in rows]

    def quarantine_of_run(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            mine = sa.select(runs.c.id).where(
                runs.c.id == run_id, runs.c.namespace == self.namespace
            )
            rows = conn.execute(
                sa.select(quarantine).where(quarantine.c.run_id.in_(mine)).order_by(quarantine.c.id)
            ).mappings()
            return [
                {
                    "source": row["source"],
                    "line": row["line"],
                    "complaint_id": row["complaint_id"],
                    "problems": json.loads(row["problems"]),
                }
                for row in rows
            ]

    def all_records(self, adapter: str) -> Iterator[StoredRecord]:
        with self.engine.connect() as conn:
            query = sa.select(records).where(*self._mine(adapter))
            for row in conn.execution_options(yield_per=1000).execute(query).mappings():
                yield _stored(row)

    def mark_deleted(self, adapter: str, complaint_ids: Iterable[str]) -> None:
        self._set_state(adapter, complaint_ids, RecordState.DELETED, "deleted in the CRM")

    def _set_state(
        self,
        adapter: str,
        complaint_ids: Iterable[str],
        state: RecordState,
        note: str,
        only_from: RecordState | None = None,
    ) -> None:
        """Move records to ``state`` (those in ``only_from``, if given), saying why."""
        ids = list(complaint_ids)
        where = [] if only_from is None else [records.c.state == only_from.value]
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = records.c.complaint_id.in_(ids[start : start + 500])
                conn.execute(
                    records.update()
                    .where(*self._mine(adapter), chunk, *where)
                    .values(state=state.value, last_error=note, updated_at=utc_now())
                )

    def _mine(self, adapter: str) -> tuple[sa.ColumnElement[bool], ...]:
        """The rows of this namespace and adapter."""
        return (records.c.namespace == self.namespace, records.c.adapter == adapter)

    @contextmanager
    def run_lock(self, adapter: str, wait_seconds: float = 0.0) -> Iterator[None]:
        """One run at a time per namespace and adapter. SQLite: an OS file lock beside the
        file, released by the kernel even on SIGKILL. PostgreSQL: a session advisory lock keyed
        on schema, namespace and adapter, released when the connection dies."""
        deadline = time.monotonic() + wait_seconds
        held = (
            f"another crm-complaints run holds the lock of namespace {self.namespace!r} and "
            f"adapter {adapter!r} on {self.where}"
        )
        if self.engine.dialect.name == "postgresql":
            with advisory_lock(self.engine, f"run/{self.namespace}/{adapter}", deadline, held):
                yield
            return
        if self.lock_path is None:
            raise StateError(
                f"no run lock for a {self.engine.dialect.name} state store without a file: use "
                "SQLite (state.path) or PostgreSQL"
            )
        slug = f"{self.namespace}.{file_safe(adapter)}"
        with file_lock(self.lock_path.with_name(f"{self.lock_path.name}.{slug}"), deadline, held):
            yield

    def all_namespaces(self) -> list[NamespaceStatus]:
        """Every namespace and adapter in this database (not only this store's namespace):
        last run and outcome, records pending, failed and quarantined, and the last
        reconciliation (overdue work). For an integrator's ``status --all-namespaces``."""
        return namespace_overview(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, *, busy_timeout_ms: int = 10000) -> None:
    cursor = dbapi_connection.cursor()
    # First: switching a new file to WAL takes a lock another connection may briefly hold.
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across process crashes
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _stored(row: sa.RowMapping) -> StoredRecord:
    return StoredRecord(
        adapter=row["adapter"],
        complaint_id=row["complaint_id"],
        state=RecordState(row["state"]),
        synced_hash=row["synced_hash"],
        pending_hash=row["pending_hash"],
        refs=json.loads(row["refs"] or "{}"),
        attempts=row["attempts"],
        last_error=row["last_error"],
        updated_at=aware(row["updated_at"]) or utc_now(),
        synced_at=aware(row["synced_at"]),
        revision=row["revision"],
        fingerprint=row["fingerprint"],
        sent=json.loads(row["sent"]) if row["sent"] else None,
    )


def _refs_json(refs: Mapping[str, str] | None) -> str | None:
    return json.dumps(dict(refs), sort_keys=True) if refs else None


def _sent_json(sent: Mapping[str, Mapping[str, str]] | None) -> str | None:
    if sent is None:
        return None
    return json.dumps({key: dict(fields) for key, fields in sent.items()}, sort_keys=True)


def _failed_state(write: FailedWrite) -> RecordState:
    if write.deleted:
        return RecordState.DELETED
    return RecordState.QUARANTINED if write.quarantined else RecordState.FAILED


def open_store(
    path: Path | str | None = None,
    url: str | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    busy_timeout_seconds: float = 10.0,
) -> SqlStateStore:
    """Open (and migrate) the store of one ``namespace``: a SQLAlchemy ``url`` wins, else a
    SQLite file at ``path``. Raises :class:`StateError` (never a driver's error) saying what
    to check."""
    wait = busy_timeout_seconds
    check_namespace(namespace)
    if url:
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:  # its message does not repeat the URL (a password)
            raise StateError(
                "state.url is not a SQLAlchemy URL (dialect+driver://user:password@host/db)"
            ) from exc
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return SqlStateStore.sqlite(  # the same file locks as a path
                parsed.database, namespace=namespace, busy_timeout_seconds=wait
            )
        return SqlStateStore(url, namespace=namespace, busy_timeout_seconds=wait)
    return SqlStateStore.sqlite(
        path or "crm-complaints.db", namespace=namespace, busy_timeout_seconds=wait
    )
