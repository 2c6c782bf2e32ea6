"""``crm-complaints pull``: what staff changed in the CRM since a moment, as JSON Lines.

For the clinic's own system or spreadsheet to take back: one line per complaint whose CRM
values differ from what we would send (see :func:`crm_complaints.crm_changes.crm_changes` for
the keys), read with two bulk searches (tickets and tasks changed since the moment; HubSpot:
``hs_lastmodifieddate``), never one request per complaint. Tasks the CRM reports completed
are stored, so alerts and the plan view treat those steps as done.

A line only for differences would say nothing when staff undo one (reopen a task or ticket
after a pulled completion or close), leaving the clinic's system with the old change: the
parts each pull reported are remembered (table ``pull_reported``, migration 9; part names, no
values), and a remembered part the CRM now holds as ours is reported once more, then
forgotten. Compared with what we last sent, not with the source's newer value: a change of
ours not yet synced is no staff change (see :func:`crm_complaints.crm_changes.compare`). A
ticket seen in another stage than an acknowledged one spends its ack
(:func:`crm_complaints.acks.release_acks`).

Without ``since``, a pull starts where the last one of this namespace and adapter started
(table ``pull_marks``, migration 7), less :data:`SEARCH_LAG`: a CRM's search index lags its
writes by seconds, and a change made just before the last pull may have been missing from it.
A line may therefore come twice; it is keyed by complaint id, so taking it twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .acks import release_acks
from .adapters.base import Adapter
from .crm_changes import CrmChange, compare, record_completions
from .errors import RecordError
from .migrations import DEFAULT_NAMESPACE, insert_skipping_existing, metadata
from .policy import PlannedComplaint, Policy
from .readers import QuarantineEntry, ReadResult
from .schema import Complaint
from .state import SqlStateStore

__all__ = [
    "SEARCH_LAG",
    "NoSinceError",
    "PullReport",
    "last_pull",
    "parse_since",
    "pull",
    "pull_marks",
    "pull_reported",
    "reported_parts",
]

_CHUNK = 500

SEARCH_LAG = timedelta(minutes=1)
"""How far back a pull without ``since`` reaches before the last pull's start."""

pull_marks = sa.Table(
    "pull_marks",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
)


pull_reported = sa.Table(
    "pull_reported",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("complaint_id", sa.String(128), primary_key=True),
    # ``stage``, ``owner``, ``<task kind>:completed``, ``<task kind>:due`` (no values).
    sa.Column("part", sa.String(64), primary_key=True),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
)


class NoSinceError(ValueError):
    """No ``since`` given and no earlier pull to continue from."""


@dataclass
class PullReport:
    adapter: str
    since: datetime
    started_at: datetime
    lines: list[dict[str, Any]] = field(default_factory=list)
    complaints: int = 0
    quarantined_input: int = 0
    tickets_changed: int = 0
    """Tickets of ours the CRM changed since (ours included: a sync changes them too)."""
    tasks_changed: int = 0
    not_in_source: int = 0
    """Changed tickets or tasks whose complaint the source no longer has."""
    completions_recorded: int = 0
    requests: int = 0


def parse_since(text: str) -> datetime:
    """``--since``: ISO 8601 with an offset; a naive time is refused (whose clock?)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"--since {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"--since {text!r} has no offset; write it like 2026-11-01T00:00+09:00")
    return moment


def pull(
    source: Iterable[ReadResult | Complaint],
    *,
    adapter: Adapter[Any],
    store: SqlStateStore,
    policy: Policy,
    since: datetime | None = None,
    now: datetime | None = None,
) -> PullReport:
    """What the CRM changed after ``since`` (default: where the last pull started), recorded
    as this pull's start for the next one. Raises :class:`NoSinceError` for a first pull
    without ``since`` and ``ValueError`` for a naive ``since``."""
    started = now or datetime.now(UTC)
    if since is None:
        previous = last_pull(store.engine, adapter.name, store.namespace)
        if previous is None:
            raise NoSinceError("no earlier pull to continue from: give --since")
        since = previous - SEARCH_LAG
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    report = PullReport(adapter=adapter.name, since=since, started_at=started)
    calls = adapter.calls
    records = list(adapter.list_changed(since))
    tasks = list(adapter.list_tasks(changed_since=since))
    report.requests = adapter.calls - calls
    report.tickets_changed = len(records)
    report.tasks_changed = len(tasks)
    changed = {r.complaint_id for r in records} | {t.complaint_id for t in tasks}
    items = _plan_changed(report, source, policy, changed)
    report.not_in_source = len(changed - set(items))
    ids = sorted(items)
    told = reported_parts(store.engine, adapter.name, ids, store.namespace)
    found = compare(
        items,
        records,
        tasks,
        adapter=adapter,
        policy=policy,
        states=store.get_many(adapter.name, ids),
        reported=told,
    )
    report.lines = [change.line for change in found]
    _remember(store.engine, adapter.name, store.namespace, found, told, started)
    release_acks(store, adapter.name, [r for r in records if r.complaint_id in items])
    known = [t for t in tasks if t.complaint_id in items]
    report.completions_recorded = record_completions(
        store.engine, adapter.name, known, store.namespace
    )
    _record_pull(store.engine, adapter.name, started, store.namespace)
    return report


def _plan_changed(
    report: PullReport,
    source: Iterable[ReadResult | Complaint],
    policy: Policy,
    changed: set[str],
) -> dict[str, PlannedComplaint]:
    """Plan only the complaints the CRM changed (the source is read whole, once): planning
    100,000 complaints to compare a few hundred would cost most of a pull."""
    items: dict[str, PlannedComplaint] = {}
    for entry in source:
        if isinstance(entry, QuarantineEntry):
            report.quarantined_input += 1
            continue
        report.complaints += 1
        if entry.id not in changed:
            continue
        try:
            items[entry.id] = policy.planned(entry)
        except RecordError:  # sync quarantines it too: nothing of ours to compare with
            report.quarantined_input += 1
            report.complaints -= 1
    return items


def last_pull(engine: Engine, adapter: str, namespace: str = DEFAULT_NAMESPACE) -> datetime | None:
    """When the last pull of this namespace and adapter started (aware, UTC)."""
    t = pull_marks.c
    with engine.connect() as conn:
        value = conn.scalar(
            sa.select(t.pulled_at).where(t.namespace == namespace, t.adapter == adapter)
        )
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the offset


def _record_pull(engine: Engine, adapter: str, moment: datetime, namespace: str) -> None:
    t = pull_marks.c
    when = moment.astimezone(UTC)
    with engine.begin() as conn:
        updated = conn.execute(
            pull_marks.update()
            .where(t.namespace == namespace, t.adapter == adapter)
            .values(pulled_at=when)
        )
        if updated.rowcount == 0:
            conn.execute(
                pull_marks.insert().values(namespace=namespace, adapter=adapter, pulled_at=when)
            )


def reported_parts(
    engine: Engine, adapter: str, complaint_ids: Sequence[str], namespace: str = DEFAULT_NAMESPACE
) -> dict[str, set[str]]:
    """Complaint id → the parts the last pulls reported as changed in the CRM and not yet
    reported back at our value."""
    t = pull_reported.c
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for start in range(0, len(complaint_ids), _CHUNK):
            rows = conn.execute(
                sa.select(t.complaint_id, t.part).where(
                    t.namespace == namespace,
                    t.adapter == adapter,
                    t.complaint_id.in_(complaint_ids[start : start + _CHUNK]),
                )
            )
            for cid, part in rows:
                found.setdefault(cid, set()).add(part)
    return found


def _remember(
    engine: Engine,
    adapter: str,
    namespace: str,
    found: Sequence[CrmChange],
    told: Mapping[str, set[str]],
    moment: datetime,
) -> None:
    """Remember the parts now reported as changed; forget the ones reported back at ours
    (seen by this pull and no longer differing)."""
    t = pull_reported.c
    when = moment.astimezone(UTC)
    with engine.begin() as conn:
        for change in found:
            cid = change.line["complaint_id"]
            before = told.get(cid, set())
            for part in sorted((before & change.seen) - change.differing):
                conn.execute(
                    pull_reported.delete().where(
                        t.namespace == namespace,
                        t.adapter == adapter,
                        t.complaint_id == cid,
                        t.part == part,
                    )
                )
            new = [
                {
                    "namespace": namespace,
                    "adapter": adapter,
                    "complaint_id": cid,
                    "part": part,
                    "reported_at": when,
                }
                for part in sorted(change.differing - before)
            ]
            if new:  # a pull running at the same moment may have remembered them first
                conn.execute(insert_skipping_existing(conn, pull_reported), new)
