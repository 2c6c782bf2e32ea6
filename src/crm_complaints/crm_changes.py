"""What staff changed in the CRM, as the clinic's own system can take it back.

Two things live here, both read from the CRM and never written to it:

- **the differences**, per complaint, between what the CRM holds and what we would send for it
  (:func:`crm_changes`): the stage (closed or reopened there), the owner, and each task's
  completion and due date. ``crm-complaints pull`` writes them as JSON Lines and reconcile's
  JSON carries them under ``crm_changes``. A value equal to ours is no change, so our own
  writes never show up; owners are shown by their e-mail in the CRM's user directory when the
  adapter knows it (staff e-mails, not patient data), else by the CRM's id.
- **tasks the CRM reports completed** (table ``crm_task_completions``, migration 7), stored
  whenever ``pull`` or ``reconcile`` sees them: the step is done, so ``alerts`` sends nothing
  for it and the ``plan`` view shows it done (:func:`with_crm_completions`). A task the CRM
  reports open again is forgotten, so the step is alerted on again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .adapters.base import Adapter, RemoteRecord, RemoteTask
from .config import Settings
from .errors import StateError
from .migrations import DEFAULT_NAMESPACE, insert_skipping_existing, metadata, pending_migrations
from .policy import Plan, PlannedComplaint, Policy
from .state import SqlStateStore, StateStore
from .state_records import RunRecord, StoredRecord

__all__ = [
    "CHANGES_LAG",
    "CrmChange",
    "changes_window",
    "compare",
    "completed_in_crm",
    "crm_changes",
    "crm_task_completions",
    "last_finished",
    "last_reconciliation",
    "record_completions",
    "record_seen_completions",
    "stored_completions",
    "with_crm_completions",
]

crm_task_completions = sa.Table(
    "crm_task_completions",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("adapter", sa.String(64), primary_key=True),
    sa.Column("complaint_id", sa.String(128), primary_key=True),
    sa.Column("task", sa.String(32), primary_key=True),
    # When the CRM last changed the completed task (read as the completion time).
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

_CHUNK = 500


def record_completions(
    engine: Engine,
    adapter: str,
    tasks: Iterable[RemoteTask],
    namespace: str = DEFAULT_NAMESPACE,
) -> int:
    """Store the tasks the CRM reports completed and forget the ones it reports open (staff
    reopened them); returns how many completions are new. Tasks without a complaint id (not
    ours) are ignored."""
    completed: dict[tuple[str, str], datetime] = {}
    reopened: set[tuple[str, str]] = set()
    now = datetime.now(UTC)
    for task in tasks:
        if not task.complaint_id or not task.kind:
            continue
        key = (task.complaint_id, task.kind)
        if task.completed:
            completed[key] = (task.modified_at or now).astimezone(UTC)
            reopened.discard(key)
        else:
            reopened.add(key)
            completed.pop(key, None)
    if not completed and not reopened:
        return 0
    t = crm_task_completions.c
    mine = (t.namespace == namespace, t.adapter == adapter)
    with engine.begin() as conn:
        ids = sorted({cid for cid, _ in completed} | {cid for cid, _ in reopened})
        known: set[tuple[str, str]] = set()
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                sa.select(t.complaint_id, t.task).where(
                    *mine, t.complaint_id.in_(ids[start : start + _CHUNK])
                )
            )
            known.update((row[0], row[1]) for row in rows)
        for cid, kind in sorted(reopened & known):
            conn.execute(
                crm_task_completions.delete().where(*mine, t.complaint_id == cid, t.task == kind)
            )
        new = [
            {
                "namespace": namespace,
                "adapter": adapter,
                "complaint_id": cid,
                "task": kind,
                "completed_at": moment,
                "recorded_at": now,
            }
            for (cid, kind), moment in sorted(completed.items())
            if (cid, kind) not in known
        ]
        if new:
            conn.execute(insert_skipping_existing(conn, crm_task_completions), new)
    return len(new)


def record_seen_completions(store: StateStore, adapter: str, tasks: Iterable[RemoteTask]) -> int:
    """:func:`record_completions` in the state store's database (nothing for a store that is
    not SQL)."""
    if not isinstance(store, SqlStateStore):
        return 0
    return record_completions(store.engine, adapter, tasks, store.namespace)


def completed_in_crm(
    engine: Engine,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    adapter: str | None = None,
    complaint_ids: Iterable[str] | None = None,
) -> dict[tuple[str, str], datetime]:
    """(complaint id, task kind) → when, for tasks a CRM reports completed; of one adapter, or
    of any (a step done in one CRM is done), for some complaints or all."""
    t = crm_task_completions.c
    where: list[sa.ColumnElement[bool]] = [t.namespace == namespace]
    if adapter is not None:
        where.append(t.adapter == adapter)
    query = sa.select(t.complaint_id, t.task, t.completed_at)
    found: dict[tuple[str, str], datetime] = {}
    with engine.connect() as conn:
        if complaint_ids is None:
            batches = [conn.execute(query.where(*where))]
        else:
            ids = sorted(set(complaint_ids))
            batches = [
                conn.execute(query.where(*where, t.complaint_id.in_(ids[start : start + _CHUNK])))
                for start in range(0, len(ids), _CHUNK)
            ]
        for rows in batches:
            for cid, kind, moment in rows:
                aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite
                earlier = found.get((cid, kind))
                found[(cid, kind)] = aware if earlier is None else min(earlier, aware)
    return found


def stored_completions(settings: Settings) -> dict[tuple[str, str], datetime]:
    """The completions in the configured state store, for ``plan`` and ``report``, read only:
    no store is created when none exists, and none is migrated (a sync of an older release may
    still be writing to it, and would refuse a store we had moved on). A store of a newer
    release raises :class:`StateError`; one from before completions were kept has none."""
    state = settings.state
    url = _existing_store(state.url, state.path)
    if url is None:
        return {}
    where = "state.url" if state.url else str(state.path)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            pending_migrations(conn, where)  # raises for a newer release's store
            if not sa.inspect(conn).has_table(crm_task_completions.name):
                return {}
        return completed_in_crm(engine, state.namespace)
    except sa.exc.SQLAlchemyError as exc:  # its message could repeat the URL (a password)
        raise StateError(
            f"the state store {where} could not be read ({type(exc).__name__})"
        ) from exc
    finally:
        engine.dispose()


def _existing_store(url: str | None, path: Path | str) -> str | None:
    """The URL of the configured store if it exists: a SQLite file that is there, or any
    other database (connecting to a server creates nothing); ``None`` otherwise."""
    if url:
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StateError("state.url is not a SQLAlchemy URL") from exc
        if parsed.get_backend_name() != "sqlite":
            return url
        database = parsed.database
        return url if database and database != ":memory:" and Path(database).is_file() else None
    return f"sqlite:///{path}" if Path(path).is_file() else None


def with_crm_completions(plan: Plan, done: Mapping[tuple[str, str], datetime]) -> Plan:
    """The plan with the steps the CRM reports completed marked done (no reminder, no pause),
    for views of open work."""
    if not done:
        return plan
    tasks = [
        task.model_copy(update={"completed": True, "remind_at": None, "paused_since": None})
        if not task.completed and (plan.complaint_id, task.kind.value) in done
        else task
        for task in plan.tasks
    ]
    return plan.model_copy(update={"tasks": tasks})


@dataclass(frozen=True)
class CrmChange:
    """One line of :func:`crm_changes` and the parts of it where the CRM differs from us now
    (``stage``, ``owner``, ``<task kind>:completed``, ``<task kind>:due``), which ``pull``
    remembers to report the CRM's return to our value (see :mod:`crm_complaints.pull`)."""

    line: dict[str, Any]
    differing: frozenset[str]
    seen: frozenset[str]
    """The parts this comparison could see (the ticket's when it read the ticket, a task's
    when it read that task): a remembered part not seen stays remembered."""


CHANGES_LAG = timedelta(minutes=1)
"""How far before the previous reconciliation's start its successor compares tickets again: a
CRM's search index lags its writes by seconds, so the previous one may have read a ticket as it
was just before a change."""
_LOOK_BACK = 20


def changes_window(store: StateStore, adapter: str, this_run: int | None) -> datetime | None:
    """Since when reconciliation's ``crm_changes`` compares tickets: the start of the last
    reconciliation that finished (less :data:`CHANGES_LAG`), which compared everything before
    it; ``None`` (every ticket) for the first one, or when the last ones all failed. Not the
    last sync: a staff close followed by a sync with nothing to send would fall before it."""
    finished = last_reconciliation(store, adapter, this_run)
    return finished.started_at - CHANGES_LAG if finished is not None else None


def last_reconciliation(store: StateStore, adapter: str, this_run: int | None) -> RunRecord | None:
    """The last reconciliation before ``this_run`` that finished and read everything (``ok``
    or ``findings``; one killed or failed part-way may not have), among the last 20."""
    return last_finished(store, "reconcile", adapter, this_run, outcomes=("ok", "findings"))


def last_finished(
    store: StateStore,
    kind: str,
    adapter: str,
    this_run: int | None,
    *,
    outcomes: Collection[str] | None = None,
) -> RunRecord | None:
    """The last run of ``kind`` before ``this_run`` that finished (with one of ``outcomes``,
    when given), among the last 20: a run killed mid-way has a start and no end."""
    before = this_run
    for _ in range(_LOOK_BACK):
        run = store.run_of(kind, adapter, before=before)
        if run is None:
            return None
        if run.finished_at is not None and (outcomes is None or run.outcome in outcomes):
            return run
        before = run.id
    return None


def crm_changes(
    items: Mapping[str, PlannedComplaint],
    records: Iterable[RemoteRecord],
    tasks: Iterable[RemoteTask],
    *,
    adapter: Adapter[Any],
    policy: Policy,
    since: datetime | None = None,
    states: Mapping[str, StoredRecord] | None = None,
) -> list[dict[str, Any]]:
    """One entry per complaint of ``items`` whose CRM values differ from ours, in complaint id
    order. ``records`` and ``tasks`` are what the CRM holds (typically only the recently
    changed ones); records and tasks of complaints not in ``items`` are left out.

    Keys, always present and in this order: ``complaint_id``, ``clinic``, ``changed_at`` (when
    the CRM last changed the ticket or one of its tasks), ``stage`` (``null`` or ``ours``,
    ``theirs``, ``closed``: whether the CRM counts it closed, ``moved``: ``closed``,
    ``reopened`` or ``null``), ``owner`` (``null`` or ``ours``, ``theirs``) and ``tasks``
    (by kind, sorted: ``completed``: ``true``/``false`` when the CRM's completion differs
    from our plan, else ``null``; ``completed_at``: when the CRM last changed the completed
    task, its completion or a later edit, since the CRM's own completion time is not read;
    ``due``: ``null`` or ``ours``, ``theirs``). Times are ISO 8601 in the clinic's zone.

    ``since`` leaves out records the CRM has not changed after it (one that does not say when
    counts as changed): comparing a ticket costs the adapter's ``expected_fields`` (HubSpot:
    0.025 ms, 0.1 ms with :meth:`Adapter.unsent_fields` for a complaint changed since the last
    sync), seconds a run for 100,000 unchanged tickets (reconciliation's window:
    :func:`changes_window`).

    ``states`` (the state store's records by complaint id) keeps our own unsent changes out:
    a field whose value changed in the source after the last sync, and which the CRM still
    holds as we last sent it (:meth:`Adapter.unsent_fields`), is no change of staff's.
    """
    found = compare(
        items, records, tasks, adapter=adapter, policy=policy, since=since, states=states
    )
    return [change.line for change in found]


def compare(
    items: Mapping[str, PlannedComplaint],
    records: Iterable[RemoteRecord],
    tasks: Iterable[RemoteTask],
    *,
    adapter: Adapter[Any],
    policy: Policy,
    since: datetime | None = None,
    states: Mapping[str, StoredRecord] | None = None,
    reported: Mapping[str, Collection[str]] | None = None,
) -> list[CrmChange]:
    """:func:`crm_changes` with each line's parts. ``reported``: parts a consumer was last told
    differ, per complaint id; such a part the CRM now holds as ours is in the line too (the
    CRM went back: ``stage`` with ``theirs`` equal to ``ours``, ``completed`` the CRM's own
    ``true``/``false``, ``owner`` or ``due`` with both sides equal), since a line only for
    differences would otherwise say nothing and leave that consumer with the old change."""
    by_id: dict[str, RemoteRecord] = {
        r.complaint_id: r
        for r in records
        if r.complaint_id in items
        and (since is None or r.modified_at is None or r.modified_at > since)
    }
    tasks_of: dict[str, list[RemoteTask]] = {}
    for task in tasks:
        if task.complaint_id in items:
            tasks_of.setdefault(task.complaint_id, []).append(task)
    found = []
    for cid in sorted(set(by_id) | set(tasks_of)):
        item = items[cid]
        zone = policy.calendar_for(item.complaint.clinic).zone
        told = frozenset(reported.get(cid, ())) if reported else frozenset()
        record = by_id.get(cid)
        stage = owner = None
        differing: set[str] = set()
        seen: set[str] = set()
        if record is not None:
            expected = adapter.expected_fields(item)
            unsent = _unsent(item, record, adapter, (states or {}).get(cid))
            seen.update(part for part in ("stage", "owner") if part not in unsent)
            stage = None if "stage" in unsent else _stage(item, record, expected)
            owner = None if "owner" in unsent else _owner(record, expected, adapter)
            differing.update(n for n, v in (("stage", stage), ("owner", owner)) if v is not None)
            if stage is None and "stage" in told and "stage" not in unsent:
                stage = _stage(item, record, expected, back=True)
            if owner is None and "owner" in told and "owner" not in unsent:
                owner = _owner(record, expected, adapter, back=True)
        changed_tasks = {}
        for task in sorted(tasks_of.get(cid, []), key=lambda t: t.kind):
            seen.update((f"{task.kind}:completed", f"{task.kind}:due"))
            change, parts = _task(item, task, zone, told)
            differing.update(parts)
            if change is not None:
                changed_tasks[task.kind] = change
        if stage is None and owner is None and not changed_tasks:
            continue
        moments = [record.modified_at] if record is not None else []
        moments += [t.modified_at for t in tasks_of.get(cid, []) if t.kind in changed_tasks]
        known = [m for m in moments if m is not None]
        line = {
            "complaint_id": cid,
            "clinic": item.complaint.clinic,
            "changed_at": _iso(max(known), zone) if known else None,
            "stage": stage,
            "owner": owner,
            "tasks": changed_tasks,
        }
        found.append(CrmChange(line, frozenset(differing), frozenset(seen)))
    return found


def _unsent(
    item: PlannedComplaint,
    record: RemoteRecord,
    adapter: Adapter[Any],
    state: StoredRecord | None,
) -> frozenset[str]:
    """Fields the source changed since the last sync that the CRM still holds as last sent
    (nothing to ask the adapter when the last sync sent this very version)."""
    if state is None or state.sent is None or state.synced_hash == item.version:
        return frozenset()
    return adapter.unsent_fields(replace(item, sent=state.sent), record)


def _stage(
    item: PlannedComplaint, record: RemoteRecord, expected: Mapping[str, str], back: bool = False
) -> dict[str, Any] | None:
    """The CRM's stage when it is not the one we would send, or its closedness not ours;
    ``back``: the CRM's stage whatever it is (it went back to ours)."""
    ours_closed = item.complaint.status.is_closed
    moved = None
    if record.closed is not None and record.closed != ours_closed:
        moved = "closed" if record.closed else "reopened"
    ours = expected.get("stage")
    differs = ours is not None and str(record.stage or "") != str(ours)
    if moved is None and not differs and not back:
        return None
    return {
        "ours": ours if ours is not None else item.complaint.status.value,
        "theirs": record.stage,
        "closed": record.closed,
        "moved": moved,
    }


def _owner(
    record: RemoteRecord, expected: Mapping[str, str], adapter: Adapter[Any], back: bool = False
) -> dict[str, Any] | None:
    if "owner" not in expected:
        return None
    ours, theirs = expected["owner"] or None, record.owner or None
    if ours == theirs and not back:
        return None
    return {"ours": _owner_name(adapter, ours), "theirs": _owner_name(adapter, theirs)}


def _task(
    item: PlannedComplaint, task: RemoteTask, zone: tzinfo, told: Collection[str]
) -> tuple[dict[str, Any] | None, set[str]]:
    """The task's entry (``None``: nothing to say) and its parts that differ from our plan."""
    planned = next((t for t in item.plan.tasks if t.kind.value == task.kind), None)
    if planned is None:
        return None, set()
    parts = set()
    completed: bool | None = None
    if task.completed != planned.completed:
        completed = task.completed
        parts.add(f"{task.kind}:completed")
    elif f"{task.kind}:completed" in told:
        completed = task.completed  # back as in our plan (reopened, or completed again)
    due: dict[str, str | None] | None = None
    theirs_due = task.due_at
    if theirs_due is not None and abs((theirs_due - planned.due_at).total_seconds()) >= 1:
        due = {"ours": _iso(planned.due_at, zone), "theirs": _iso(theirs_due, zone)}
        parts.add(f"{task.kind}:due")
    elif f"{task.kind}:due" in told:
        theirs_iso = _iso(theirs_due, zone) if theirs_due is not None else None
        due = {"ours": _iso(planned.due_at, zone), "theirs": theirs_iso}
    if completed is None and due is None:
        return None, parts
    done_at = task.modified_at if task.completed else None
    entry = {
        "completed": completed,
        "completed_at": _iso(done_at, zone) if done_at is not None else None,
        "due": due,
    }
    return entry, parts


def _owner_name(adapter: Adapter[Any], owner_id: str | None) -> str | None:
    """An owner as staff read it: the CRM user's e-mail when the adapter knows it, else id."""
    if owner_id is None:
        return None
    return adapter.owner_email(owner_id) or owner_id


def _iso(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()
