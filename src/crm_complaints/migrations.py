"""The state store's tables and their migrations: named, versioned, recorded.

Each migration runs in its own transaction and is recorded in ``schema_migrations``; a store
whose recorded version is newer than this code knows is refused, since an older release writing
to it could corrupt it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .errors import StateError

__all__ = [
    "MIGRATIONS",
    "apply_migrations",
    "metadata",
    "migrations_table",
    "quarantine",
    "records",
    "runs",
]

metadata = sa.MetaData()

records = sa.Table(
    "records",
    metadata,
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
)
sa.Index("ix_records_state", records.c.adapter, records.c.state)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("adapter", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(32)),
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
)

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


Migration = tuple[int, str, Callable[[Connection], None]]
MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial: records, runs, quarantine", _m1_initial),
    (2, "records.revision and records.fingerprint", _m2_revision_and_fingerprint),
)


def apply_migrations(engine: Engine, where: str) -> list[int]:
    """Apply pending migrations; returns the versions applied. ``where`` names the store in
    messages."""
    applied: list[int] = []
    with engine.begin() as conn:
        migrations_table.create(conn, checkfirst=True)
        done = set(conn.scalars(sa.select(migrations_table.c.version)))
    known = max(version for version, _, _ in MIGRATIONS)
    if done and max(done) > known:
        raise StateError(
            f"the state store {where} has schema version {max(done)}, newer than the "
            f"{known} this crm-complaints knows: a newer release wrote it; upgrade "
            "crm-complaints (running an older one could corrupt it)"
        )
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                migrations_table.insert().values(
                    version=version, name=name, applied_at=datetime.now(UTC)
                )
            )
        applied.append(version)
    return applied
