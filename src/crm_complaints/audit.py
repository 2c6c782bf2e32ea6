"""The audit trail: one row per remote write, hash-chained so a deleted or edited row shows.

An inspector asks "show that this record was not altered". Every write the sync engine hands
to an adapter (sync runs and reconciliation's repair alike) leaves rows: when, which run,
complaint id and revision, adapter, operation, object, what triggered it (``sync`` /
``repair``), the remote ids and the outcome. Never a field value: the trail is as free of
personal data as the state store.

An adapter that lists its writes (``PushResult.writes``) gets one row per write: ``create``,
``update``, ``link`` or ``archive`` of one ``object`` (``ticket``, ``task:<kind>``,
``contact``, ``association``, ``event``) with that object's ids. Otherwise one row of object
``complaint`` says ``create`` or ``update`` with the refs answered. A push that did not
succeed also gets that ``complaint`` row with its outcome (what reached the remote is not
fully known), after rows for the writes its adapter says did reach it.

Each row's ``row_hash`` is SHA-256 over its content and the previous row's hash (one chain per
namespace and adapter: the run lock makes its writer single). ``audit_chains`` keeps the head
(last id and hash, row count) and, after retention pruned old rows, the anchor the first kept
row must chain to; so :func:`verify` detects a row deleted anywhere (first, middle or last)
and a row edited, and names the first broken row. An attacker who can rewrite the whole table
*and* recompute every hash is out of reach of any in-database chain: keep the head hash
``audit verify`` prints somewhere else (a ticket, an e-mail) to close that gap.

``object`` came with migration 8: rows written before it hold ``NULL`` there and are hashed
without it, exactly as they were written; every later row names its object, and its hash
covers it (so setting it, or clearing it, breaks the row's hash either way).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .adapters.base import RemoteWrite
from .migrations import DEFAULT_NAMESPACE, metadata

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditRow",
    "ChainBreak",
    "ChainReport",
    "append",
    "audit_chains",
    "audit_log",
    "entries_for",
    "entries_json",
    "history",
    "prune",
    "record_writes",
    "verify",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a chain's first row."""

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(64), nullable=False, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), nullable=False),
    # ISO 8601 UTC text, not a DateTime: the hash must see the same bytes on every database
    # (SQLite drops offsets), and fixed-width UTC text sorts like time for retention.
    sa.Column("recorded_at", sa.String(32), nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("complaint_id", sa.String(128), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("remote_ids", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
    # Since migration 8; NULL in the rows written before it (see the module's docstring).
    sa.Column("object", sa.String(64)),
)
audit_complaint_index = sa.Index(
    "ix_audit_log_complaint", audit_log.c.namespace, audit_log.c.complaint_id
)
audit_chain_index = sa.Index(
    "ix_audit_log_chain", audit_log.c.namespace, audit_log.c.adapter, audit_log.c.id
)

audit_chains = sa.Table(
    "audit_chains",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("head_id", sa.Integer),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    # The prev_hash the first kept row must carry: the genesis, or after pruning the hash of
    # the last row pruned.
    sa.Column("anchor_hash", sa.String(64), nullable=False),
    sa.Column("pruned_rows", sa.Integer, nullable=False, server_default="0"),
)

_CONTENT = (
    "namespace",
    "adapter",
    "recorded_at",
    "run_id",
    "complaint_id",
    "revision",
    "operation",
    "trigger",
    "remote_ids",
    "outcome",
)
_OBJECT = "object"
"""Hashed after ``_CONTENT`` when not NULL: rows from before migration 8 keep their hashes."""


@dataclass(frozen=True)
class AuditEntry:
    """One remote write to record (no field values: ids, revision and outcome only)."""

    complaint_id: str
    revision: int
    operation: str  # create | update | link | archive
    outcome: str  # synced | rejected | retry | rate_limited | failed | no_result | deleted
    remote_ids: Mapping[str, str]
    run_id: int | None = None
    trigger: str = "sync"  # sync | repair
    object: str = "complaint"  # ticket | task:<kind> | contact | association | event | …


@dataclass(frozen=True)
class AuditRow:
    """One stored row, as ``history`` shows it."""

    id: int
    namespace: str
    adapter: str
    recorded_at: datetime
    run_id: int | None
    complaint_id: str
    revision: int
    operation: str
    trigger: str
    remote_ids: dict[str, str]
    outcome: str
    row_hash: str
    object: str | None = None
    """``None`` in rows written before migration 8."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recorded_at": self.recorded_at.isoformat(),
            "run_id": self.run_id,
            "adapter": self.adapter,
            "complaint_id": self.complaint_id,
            "revision": self.revision,
            "operation": self.operation,
            "object": self.object,
            "trigger": self.trigger,
            "remote_ids": self.remote_ids,
            "outcome": self.outcome,
            "row_hash": self.row_hash,
        }


@dataclass(frozen=True)
class ChainBreak:
    """The first row where a chain stops being what was written."""

    row_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    namespace: str
    adapter: str
    rows: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def line(self) -> str:
        where = f"namespace {self.namespace!r}, adapter {self.adapter!r}"
        if self.broken is None:
            return f"ok: {where}: {self.rows} row(s), head {self.head_hash}"
        row = f"row {self.broken.row_id}" if self.broken.row_id is not None else "the chain"
        return f"BROKEN: {where}: {row}: {self.broken.reason}"


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# What json.dumps(..., ensure_ascii=False, separators=(",", ":")) and json.dumps(...,
# sort_keys=True) write, made once: json.dumps builds a new encoder for every call that passes
# options, a third of a row's cost when a first sync writes seven rows a complaint.
_HASHED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_IDS_JSON = json.JSONEncoder(sort_keys=True)


def _hash(content: Mapping[str, Any] | sa.RowMapping, prev_hash: str) -> str:
    fields = [[name, content[name]] for name in _CONTENT]
    if content.get(_OBJECT) is not None:
        fields.append([_OBJECT, content[_OBJECT]])
    body = _HASHED_JSON.encode([*fields, ["prev_hash", prev_hash]])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _write_first(conn: Connection, namespace: str) -> None:
    """SQLite: take the write lock before reading. A transaction that reads and then writes
    while another connection (the engine's main thread marking the next batch pending) writes
    fails at once with "database is locked" instead of waiting out the busy timeout."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            audit_chains.update()
            .where(audit_chains.c.namespace == namespace)
            .values(rows=audit_chains.c.rows)
        )


def _chain_row(conn: Connection, namespace: str, adapter: str) -> sa.RowMapping | None:
    query = sa.select(audit_chains).where(
        audit_chains.c.namespace == namespace, audit_chains.c.adapter == adapter
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def append(
    engine: Engine,
    namespace: str,
    adapter: str,
    entries: Sequence[AuditEntry],
    *,
    now: datetime | None = None,
) -> None:
    """Append ``entries`` to the chain of ``namespace`` and ``adapter``, in one transaction
    with the chain's head (so a crash leaves both or neither)."""
    if not entries:
        return
    stamp = _stamp(now or datetime.now(UTC))
    with engine.begin() as conn:
        _write_first(conn, namespace)
        chain = _chain_row(conn, namespace, adapter)
        prev = chain["head_hash"] if chain is not None else GENESIS_HASH
        rows: list[dict[str, Any]] = []
        for entry in entries:
            content: dict[str, Any] = {
                "namespace": namespace,
                "adapter": adapter,
                "recorded_at": stamp,
                "run_id": entry.run_id,
                "complaint_id": entry.complaint_id,
                "revision": entry.revision,
                "operation": entry.operation,
                "trigger": entry.trigger,
                "remote_ids": _IDS_JSON.encode(dict(entry.remote_ids)),
                "outcome": entry.outcome,
                "object": entry.object,
            }
            row_hash = _hash(content, prev)
            rows.append({**content, "prev_hash": prev, "row_hash": row_hash})
            prev = row_hash
        conn.execute(audit_log.insert(), rows)
        head_id = conn.scalar(
            sa.select(sa.func.max(audit_log.c.id)).where(
                audit_log.c.namespace == namespace, audit_log.c.adapter == adapter
            )
        )
        if chain is None:
            conn.execute(
                audit_chains.insert().values(
                    namespace=namespace,
                    adapter=adapter,
                    head_id=head_id,
                    head_hash=prev,
                    rows=len(rows),
                    anchor_hash=GENESIS_HASH,
                    pruned_rows=0,
                )
            )
        else:
            conn.execute(
                audit_chains.update()
                .where(audit_chains.c.namespace == namespace, audit_chains.c.adapter == adapter)
                .values(head_id=head_id, head_hash=prev, rows=audit_chains.c.rows + len(rows))
            )


def _row(row: sa.RowMapping) -> AuditRow:
    return AuditRow(
        id=row["id"],
        namespace=row["namespace"],
        adapter=row["adapter"],
        recorded_at=datetime.strptime(row["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC
        ),
        run_id=row["run_id"],
        complaint_id=row["complaint_id"],
        revision=row["revision"],
        operation=row["operation"],
        trigger=row["trigger"],
        remote_ids=json.loads(row["remote_ids"]),
        outcome=row["outcome"],
        row_hash=row["row_hash"],
        object=row["object"],
    )


def history(
    engine: Engine, complaint_id: str, namespace: str = DEFAULT_NAMESPACE
) -> list[AuditRow]:
    """Every recorded write of one complaint in this namespace (all adapters), oldest first."""
    query = (
        sa.select(audit_log)
        .where(audit_log.c.namespace == namespace, audit_log.c.complaint_id == complaint_id)
        .order_by(audit_log.c.id)
    )
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query).mappings()]


def verify(engine: Engine, namespace: str = DEFAULT_NAMESPACE) -> list[ChainReport]:
    """Walk every chain of ``namespace``: each row's hash over its content, each row's link to
    the one before, the first row's link to the anchor, and the head and row count kept in
    ``audit_chains``. One report per adapter; a chain's report names its first broken row."""
    with engine.connect() as conn:
        chains = list(
            conn.execute(
                sa.select(audit_chains)
                .where(audit_chains.c.namespace == namespace)
                .order_by(audit_chains.c.adapter)
            ).mappings()
        )
        known = {c["adapter"] for c in chains}
        stray = conn.scalars(
            sa.select(audit_log.c.adapter).where(audit_log.c.namespace == namespace).distinct()
        ).all()
        reports = [_verify_chain(conn, namespace, chain) for chain in chains]
        for adapter in sorted(set(stray) - known):
            reports.append(
                ChainReport(
                    namespace,
                    adapter,
                    0,
                    "",
                    ChainBreak(None, "rows without a chain head: the head row was deleted"),
                )
            )
    return reports


def _verify_chain(conn: Connection, namespace: str, chain: sa.RowMapping) -> ChainReport:
    adapter = chain["adapter"]
    query = (
        sa.select(audit_log)
        .where(audit_log.c.namespace == namespace, audit_log.c.adapter == adapter)
        .order_by(audit_log.c.id)
    )
    expected_prev = chain["anchor_hash"]
    previous_id: int | None = None
    count = 0
    last_id: int | None = None
    broken: ChainBreak | None = None
    for row in conn.execution_options(yield_per=2000).execute(query).mappings():
        count += 1
        if broken is not None:
            continue
        if row["prev_hash"] != expected_prev:
            before = f"row {previous_id}" if previous_id is not None else "the chain's start"
            broken = ChainBreak(
                row["id"],
                f"does not follow {before} (a row between them was deleted, or {before} "
                "was edited)",
            )
        elif _hash(row, row["prev_hash"]) != row["row_hash"]:
            broken = ChainBreak(row["id"], "its content does not match its hash (edited)")
        expected_prev = row["row_hash"]
        previous_id = last_id = row["id"]
    if broken is None and (last_id != chain["head_id"] or expected_prev != chain["head_hash"]):
        broken = ChainBreak(
            chain["head_id"], f"the chain ends at row {last_id}: its last row(s) were deleted"
        )
    if broken is None and count != chain["rows"]:
        broken = ChainBreak(None, f"{count} row(s) where {chain['rows']} were written")
    return ChainReport(namespace, adapter, count, chain["head_hash"], broken)


def prune(
    engine: Engine,
    retention_days: int,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    now: datetime | None = None,
) -> int:
    """Delete rows older than ``retention_days`` and move each chain's anchor to the hash of
    the last row deleted, so the rest still verifies. Returns the rows deleted."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = _stamp((now or datetime.now(UTC)) - timedelta(days=retention_days))
    deleted = 0
    with engine.begin() as conn:
        _write_first(conn, namespace)
        adapters = conn.scalars(
            sa.select(audit_chains.c.adapter).where(audit_chains.c.namespace == namespace)
        ).all()
        for adapter in adapters:
            chain = _chain_row(conn, namespace, adapter)
            mine = (audit_log.c.namespace == namespace, audit_log.c.adapter == adapter)
            last_old = conn.execute(
                sa.select(audit_log.c.id, audit_log.c.row_hash)
                .where(*mine, audit_log.c.recorded_at < cutoff)
                .order_by(audit_log.c.id.desc())
                .limit(1)
            ).first()
            if chain is None or last_old is None:
                continue
            gone = conn.execute(audit_log.delete().where(*mine, audit_log.c.id <= last_old.id))
            deleted += gone.rowcount
            conn.execute(
                audit_chains.update()
                .where(audit_chains.c.namespace == namespace, audit_chains.c.adapter == adapter)
                .values(
                    anchor_hash=last_old.row_hash,
                    rows=audit_chains.c.rows - gone.rowcount,
                    pruned_rows=audit_chains.c.pruned_rows + gone.rowcount,
                )
            )
    return deleted


def entries_json(rows: Iterable[AuditRow]) -> list[dict[str, Any]]:
    """``history --format json``."""
    return [row.to_json() for row in rows]


def record_writes(store: object, adapter: str, entries: Sequence[AuditEntry]) -> None:
    """Append to the audit trail of a SQL state store (the engine's entry point); a store
    without a database (a test double) keeps no trail."""
    engine = getattr(store, "engine", None)
    if isinstance(engine, Engine) and entries:
        append(engine, getattr(store, "namespace", DEFAULT_NAMESPACE), adapter, entries)


def entries_for(
    complaint_id: str,
    revision: int,
    *,
    is_new: bool,
    outcome: str,
    remote_ids: Mapping[str, str],
    run_id: int | None,
    repair: bool,
    writes: Sequence[RemoteWrite] = (),
) -> list[AuditEntry]:
    """The rows for one pushed complaint: one per write its adapter listed; the push's own
    ``complaint`` row when the adapter listed none or the push did not succeed."""

    def entry(operation: str, what: str, ids: Mapping[str, str]) -> AuditEntry:
        trigger = "repair" if repair else "sync"
        return AuditEntry(
            complaint_id, revision, operation, outcome, dict(ids), run_id, trigger, what
        )

    rows = [entry(w.operation, w.object, w.remote_ids) for w in writes]
    if not rows or outcome != "synced":
        rows.append(entry("create" if is_new else "update", "complaint", remote_ids))
    return rows
