"""The state store's tables and their migrations: named, versioned, recorded.

Each migration runs in its own transaction and is recorded in ``schema_migrations``; a store
whose recorded version is newer than this code knows is refused, since an older release writing
to it could corrupt it. Many jobs may open one database at the same moment (one per portal on
Kubernetes): the caller holds a lock around :func:`apply_migrations` (an advisory lock on
PostgreSQL, a file lock on SQLite) and :func:`pending_migrations` is checked again under it, so
each migration runs exactly once.

Every row belongs to a *namespace* (a tenant or portal key, ``state.namespace``): jobs of
different portals share the tables without seeing each other's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .errors import StateError

__all__ = [
    "DEFAULT_NAMESPACE",
    "MIGRATIONS",
    "apply_migrations",
    "insert_skipping_existing",
    "metadata",
    "migrations_table",
    "pending_migrations",
    "quarantine",
    "records",
    "runs",
]

DEFAULT_NAMESPACE = "default"
"""The namespace of a store opened without one, and of every row written before namespaces."""

metadata = sa.MetaData()

records = sa.Table(
    "records",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("complaint_id", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("synced_hash", sa.String(64)),
    sa.Column("pending_hash", sa.String(64)),
    sa.Column("refs", sa.Text, nullable=False, default="{}"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True)),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("sent", sa.Text),
)
records_state_index = sa.Index(
    "ix_records_state", records.c.namespace, records.c.adapter, records.c.state
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(64), nullable=False, server_default=DEFAULT_NAMESPACE),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("adapter", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(32)),
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
)
runs_namespace_index = sa.Index("ix_runs_namespace", runs.c.namespace, runs.c.adapter, runs.c.id)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("complaint_id", sa.String(128)),
    sa.Column("problems", sa.Text, nullable=False),
)

migrations_table = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


def _m1_initial(conn: Connection) -> None:
    for table in (records, runs, quarantine):
        table.create(conn, checkfirst=True)


def _m2_revision_and_fingerprint(conn: Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("records")}
    if "revision" not in have:  # a store made by migration 1 of an older release
        conn.execute(sa.text("ALTER TABLE records ADD COLUMN revision INTEGER NOT NULL DEFAULT 0"))
    if "fingerprint" not in have:
        conn.execute(sa.text("ALTER TABLE records ADD COLUMN fingerprint VARCHAR(64)"))


def _m3_namespaces(conn: Connection) -> None:
    """Rows of a store made before namespaces belong to the default namespace. The records'
    primary key gains the namespace: PostgreSQL alters it in place; SQLite cannot change a
    primary key, so the table is rebuilt (rows copied, then the old table dropped, in this
    migration's one transaction)."""
    inspector = sa.inspect(conn)
    if "namespace" not in {c["name"] for c in inspector.get_columns("records")}:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_records_state"))
        if conn.dialect.name == "postgresql":
            key = inspector.get_pk_constraint("records")["name"] or "records_pkey"
            conn.execute(
                sa.text(
                    "ALTER TABLE records ADD COLUMN namespace VARCHAR(64) NOT NULL "
                    f"DEFAULT '{DEFAULT_NAMESPACE}'"
                )
            )
            conn.execute(sa.text(f'ALTER TABLE records DROP CONSTRAINT "{key}"'))
            conn.execute(
                sa.text("ALTER TABLE records ADD PRIMARY KEY (namespace, adapter, complaint_id)")
            )
            records_state_index.create(conn)
        else:
            conn.execute(sa.text("ALTER TABLE records RENAME TO records_before_namespaces"))
            old = {c["name"] for c in sa.inspect(conn).get_columns("records_before_namespaces")}
            records.create(conn)  # with its index (and the columns of later migrations)
            kept = ", ".join(c.name for c in records.columns if c.name in old)
            conn.execute(
                sa.text(
                    f"INSERT INTO records (namespace, {kept}) "
                    f"SELECT '{DEFAULT_NAMESPACE}', {kept} FROM records_before_namespaces"
                )
            )
            conn.execute(sa.text("DROP TABLE records_before_namespaces"))
    if "namespace" not in {c["name"] for c in sa.inspect(conn).get_columns("runs")}:
        conn.execute(
            sa.text(
                "ALTER TABLE runs ADD COLUMN namespace VARCHAR(64) NOT NULL "
                f"DEFAULT '{DEFAULT_NAMESPACE}'"
            )
        )
    runs_namespace_index.create(conn, checkfirst=True)


def _m4_alerts_and_history(conn: Connection) -> None:
    """The alerts' ledger (:mod:`crm_complaints.alerts.ledger`) and the cut-off of an imported
    history (:mod:`crm_complaints.history`); both tables are defined in their own modules."""
    from .alerts.ledger import notifications
    from .history import history_cutoffs

    notifications.create(conn, checkfirst=True)
    history_cutoffs.create(conn, checkfirst=True)


def _m5_audit_trail(conn: Connection) -> None:
    """The audit trail of remote writes and its chain heads (:mod:`crm_complaints.audit`)."""
    from .audit import audit_chains, audit_log

    audit_log.create(conn, checkfirst=True)  # with its indexes
    audit_chains.create(conn, checkfirst=True)


def _m6_sent_fields(conn: Connection) -> None:
    """``records.sent``: per remote object and field, a hash of the value we last sent (see
    :mod:`crm_complaints.fields`); ``NULL`` for records synced before, which then send every
    field once."""
    if "sent" not in {c["name"] for c in sa.inspect(conn).get_columns("records")}:
        conn.execute(sa.text("ALTER TABLE records ADD COLUMN sent TEXT"))


def _m7_crm_changes(conn: Connection) -> None:
    """What the CRM says staff did: tasks completed there (:mod:`crm_complaints.crm_changes`),
    acknowledged status moves (:mod:`crm_complaints.acks`) and where the last ``pull``
    started (:mod:`crm_complaints.pull`); each table is defined in its module."""
    from .acks import status_acks
    from .crm_changes import crm_task_completions
    from .pull import pull_marks

    for table in (crm_task_completions, status_acks, pull_marks):
        table.create(conn, checkfirst=True)


def _m8_audit_objects(conn: Connection) -> None:
    """``audit_log.object``: what each remote write wrote (a ticket, a task, a link…; see
    :mod:`crm_complaints.audit`). ``NULL`` in the rows written before, whose hashes do not
    cover it, so the chain they form still verifies."""
    if "object" not in {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}:
        conn.execute(sa.text("ALTER TABLE audit_log ADD COLUMN object VARCHAR(64)"))


def _m9_pull_reported(conn: Connection) -> None:
    """What ``pull`` last reported as changed in the CRM, per complaint and part (stage,
    owner, a task's completion or due date; no values), so that the CRM going back to our
    value is reported too (:mod:`crm_complaints.pull`)."""
    from .pull import pull_reported

    pull_reported.create(conn, checkfirst=True)


Migration = tuple[int, str, Callable[[Connection], None]]
MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial: records, runs, quarantine", _m1_initial),
    (2, "records.revision and records.fingerprint", _m2_revision_and_fingerprint),
    (3, "namespaces: records and runs belong to a tenant or portal", _m3_namespaces),
    (4, "alert notifications sent and history cut-offs", _m4_alerts_and_history),
    (5, "audit trail of remote writes, hash-chained", _m5_audit_trail),
    (6, "records.sent: hashes of the field values last sent", _m6_sent_fields),
    (7, "tasks completed in the CRM, acknowledged status moves, pull marks", _m7_crm_changes),
    (8, "audit_log.object: which remote object each write wrote", _m8_audit_objects),
    (9, "what pull last reported as changed in the CRM", _m9_pull_reported),
)


def pending_migrations(conn: Connection, where: str) -> list[int]:
    """The versions still to apply (read-only: safe to ask without the migration lock).
    ``where`` names the store in messages."""
    if not sa.inspect(conn).has_table(migrations_table.name):
        return [version for version, _, _ in MIGRATIONS]
    done = set(conn.scalars(sa.select(migrations_table.c.version)))
    known = max(version for version, _, _ in MIGRATIONS)
    if done and max(done) > known:
        raise StateError(
            f"the state store {where} has schema version {max(done)}, newer than the "
            f"{known} this crm-complaints knows: a newer release wrote it; upgrade "
            "crm-complaints (running an older one could corrupt it)"
        )
    return [version for version, _, _ in MIGRATIONS if version not in done]


def apply_migrations(conn: Connection, where: str) -> list[int]:
    """Apply pending migrations on ``conn``, each in its own transaction; returns the versions
    applied. The caller holds the migration lock (see the module's docstring)."""
    if conn.in_transaction():
        conn.commit()
    with conn.begin():
        migrations_table.create(conn, checkfirst=True)
    with conn.begin():
        pending = pending_migrations(conn, where)
    applied: list[int] = []
    for version, name, step in MIGRATIONS:
        if version not in pending:
            continue
        with conn.begin():
            step(conn)
            conn.execute(
                migrations_table.insert().values(
                    version=version, name=name, applied_at=datetime.now(UTC)
                )
            )
        applied.append(version)
    return applied


def insert_skipping_existing(conn: Connection, table: sa.Table) -> sa.Insert:
    """An insert that skips rows whose key is already there: two jobs (a reconcile and a pull
    from cron) may record the same fact at once, and the second must not fail its run."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return table.insert()
