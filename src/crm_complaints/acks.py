"""Acknowledged status moves: staff closed or reopened a ticket in the CRM on purpose.

Reconciliation reports a ticket whose CRM stage says closed (or open) while our complaint says
otherwise as **status moved**. Once someone has looked (``crm-complaints ack COMPLAINT_ID``),
the CRM's stage at that moment is stored (table ``status_acks``, migration 7, per namespace and
adapter) and the finding is not reported again while the CRM holds that stage. When reconcile or
``pull`` sees the ticket in another stage (reopened, moved on), the ack is forgotten
(:func:`release_acks`), so a later close is reported again even in the acknowledged stage.
``ack`` reads the stages with the adapter's bulk ``read`` (refs from the state store), never
one request per complaint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .adapters.base import Adapter, RemoteRecord
from .migrations import DEFAULT_NAMESPACE, metadata
from .state import SqlStateStore, StateStore

__all__ = [
    "Ack",
    "AckReport",
    "Acknowledgements",
    "acknowledge",
    "list_acks",
    "release_acks",
    "status_acks",
]

status_acks = sa.Table(
    "status_acks",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("complaint_id", sa.String(128), primary_key=True),
    sa.Column("stage", sa.String(255), nullable=False),
    sa.Column("closed", sa.Boolean),
    sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Ack:
    """One acknowledged status move: the CRM's stage (its label) when it was acknowledged."""

    complaint_id: str
    adapter: str
    stage: str
    closed: bool | None
    acked_at: datetime


@dataclass
class AckReport:
    acked: list[Ack] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Ids the state store has no synced record of."""
    not_in_crm: list[str] = field(default_factory=list)
    """Synced, but the CRM no longer holds them (deleted there)."""
    requests: int = 0


class Acknowledgements:
    """The acks of one adapter, loaded once (one query) for a reconciliation."""

    def __init__(self, acks: Mapping[str, Ack]) -> None:
        self.acks = acks

    @classmethod
    def load(cls, store: StateStore, adapter: str) -> Acknowledgements:
        """The acks stored for ``adapter`` (none for a store that is not SQL)."""
        if not isinstance(store, SqlStateStore):
            return cls({})
        return cls({a.complaint_id: a for a in list_acks(store.engine, store.namespace, adapter)})

    def covers(self, record: RemoteRecord) -> bool:
        """Whether the CRM still holds the stage that was acknowledged for this complaint."""
        ack = self.acks.get(record.complaint_id)
        return ack is not None and ack.stage == str(record.stage or "")


def release_acks(store: StateStore, adapter: str, records: Iterable[RemoteRecord]) -> int:
    """Forget the acks of tickets the CRM now holds in another stage than the acknowledged
    one (reopened, moved on): the CRM changed again, so its next status move is reported
    again. Returns how many were forgotten. ``reconcile`` and ``pull`` call it with the
    tickets they read; a stage left and taken again between two of their reads goes unseen."""
    if not isinstance(store, SqlStateStore):
        return 0
    acks = {a.complaint_id: a for a in list_acks(store.engine, store.namespace, adapter)}
    if not acks:
        return 0
    gone = sorted(
        r.complaint_id
        for r in records
        if r.complaint_id in acks and acks[r.complaint_id].stage != str(r.stage or "")
    )
    t = status_acks.c
    with store.engine.begin() as conn:
        for cid in gone:
            conn.execute(
                status_acks.delete().where(
                    t.namespace == store.namespace,
                    t.adapter == adapter,
                    t.complaint_id == cid,
                    t.stage == acks[cid].stage,  # not an ack made meanwhile of the new stage
                )
            )
    return len(gone)


def acknowledge(
    complaint_ids: Sequence[str],
    *,
    adapter: Adapter[Any],
    store: SqlStateStore,
    now: datetime | None = None,
) -> AckReport:
    """Store the CRM's current stage of each complaint as acknowledged (read in bulk)."""
    moment = now or datetime.now(UTC)
    report = AckReport()
    ids = list(dict.fromkeys(complaint_ids))
    stored = store.get_many(adapter.name, ids)
    refs = {cid: r.refs for cid, r in stored.items() if r.refs}
    report.unknown = [cid for cid in ids if cid not in refs]
    calls = adapter.calls
    remote = adapter.read(refs) if refs else {}
    report.requests = adapter.calls - calls
    report.not_in_crm = [cid for cid in refs if cid not in remote]
    report.acked = [
        Ack(cid, adapter.name, str(record.stage or ""), record.closed, moment)
        for cid, record in remote.items()
    ]
    _store(store.engine, store.namespace, report.acked)
    return report


def _store(engine: Engine, namespace: str, acks: Iterable[Ack]) -> None:
    t = status_acks.c
    with engine.begin() as conn:
        for ack in acks:
            key = (
                t.namespace == namespace,
                t.adapter == ack.adapter,
                t.complaint_id == ack.complaint_id,
            )
            values = {"stage": ack.stage, "closed": ack.closed, "acked_at": ack.acked_at}
            if conn.execute(status_acks.update().where(*key).values(**values)).rowcount == 0:
                conn.execute(
                    status_acks.insert().values(
                        namespace=namespace,
                        adapter=ack.adapter,
                        complaint_id=ack.complaint_id,
                        **values,
                    )
                )


def list_acks(
    engine: Engine, namespace: str = DEFAULT_NAMESPACE, adapter: str | None = None
) -> list[Ack]:
    """The acks of a namespace (of one adapter, or all), by adapter and complaint id."""
    t = status_acks.c
    query = sa.select(t.complaint_id, t.adapter, t.stage, t.closed, t.acked_at).where(
        t.namespace == namespace
    )
    if adapter is not None:
        query = query.where(t.adapter == adapter)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.adapter, t.complaint_id)).all()
    return [
        Ack(cid, name, stage, closed, when if when.tzinfo else when.replace(tzinfo=UTC))
        for cid, name, stage, closed, when in rows
    ]
