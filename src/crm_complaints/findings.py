"""What reconciliation can find about one complaint, and the comparisons that find it: a
status moved in the CRM, fields drifted or changed there (by field owner, against what we
last sent), a stale version, work with a fallback owner, a task's due date moved, overdue
work. :mod:`crm_complaints.reconcile` reads the CRM and runs these per complaint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .adapters.base import Adapter, RemoteRecord, RemoteTask
from .fields import FieldOwner, same_value
from .policy import PlannedComplaint, PlannedTask, Policy
from .state import RecordState, StoredRecord

__all__ = [
    "INFORMATION",
    "Finding",
    "FindingKind",
    "drifted",
    "overdue",
    "owner_fallbacks",
    "stale",
    "status_moved",
    "task_drifted",
]


class FindingKind(StrEnum):
    MISSING = "missing"
    DRIFTED = "drifted"
    ORPHANED = "orphaned"
    STALE = "stale"
    OVERDUE = "overdue"
    STATUS_MOVED = "status_moved"
    OWNER_FALLBACK = "owner_fallback"
    CHANGED_IN_CRM = "changed_in_crm"
    DELETED_IN_CRM = "deleted_in_crm"


INFORMATION = frozenset({FindingKind.CHANGED_IN_CRM, FindingKind.DELETED_IN_CRM})
"""What staff did on purpose in the CRM: reported, and not a reason to fail the run."""


@dataclass(frozen=True)
class Finding:
    """One thing reconciliation found. Holds ids, field names and values we own; no PII."""

    kind: FindingKind
    complaint_id: str
    detail: str = ""
    field: str | None = None
    ours: str | None = None
    theirs: str | None = None
    department: str | None = None
    category: str | None = None
    due_at: datetime | None = None


def status_moved(
    item: PlannedComplaint, record: RemoteRecord, policy: Policy, now: datetime
) -> Finding | None:
    """Closed or reopened in the CRM while our complaint says otherwise. A close starts the
    satisfaction follow-up's clock, from when the CRM last changed the ticket."""
    complaint = item.complaint
    ours_closed = complaint.status.is_closed
    if record.closed is None or record.closed == ours_closed:
        return None
    moved = "closed" if record.closed else "reopened"
    due = policy.follow_up_due(complaint, record.modified_at or now) if record.closed else None
    return Finding(
        FindingKind.STATUS_MOVED,
        item.complaint_id,
        f"{moved} in the CRM (stage {record.stage})",
        field="stage",
        ours=complaint.status.value,
        theirs=str(record.stage),
        category=complaint.category.value,
        due_at=due,
    )


def drifted(
    item: PlannedComplaint,
    record: RemoteRecord,
    expected: Mapping[str, str],
    owned: set[str],
    status_move: Finding | None,
    adapter: Adapter[Any],
    in_step: bool,
    state: StoredRecord | None,
) -> list[Finding]:
    """Compared fields whose remote value differs (a stage already reported as moved is not):
    drift for ``source`` fields; "changed in the CRM" for the fields staff own after creation,
    once the CRM holds our current version (before that, the next sync moves them anyway), and
    only when the CRM's value is not the one we last sent: a ``crm`` field keeps our value from
    creation after the source changes, and nobody changed it in the CRM."""
    found = []
    as_sent: frozenset[str] | None = None  # asked once, and only when needed
    for name, ours in expected.items():
        if name == "version" or name not in owned or (name == "stage" and status_move):
            continue
        theirs = record.value(name)
        if not same_value(name, ours, theirs):  # departments in another order are the same
            ours_only = adapter.field_owners.of(name) is FieldOwner.SOURCE
            if not ours_only and not in_step:
                continue
            if not ours_only:
                if as_sent is None:
                    as_sent = _held_as_sent(item, record, state, adapter)
                if name in as_sent:
                    continue
            kind = FindingKind.DRIFTED if ours_only else FindingKind.CHANGED_IN_CRM
            found.append(
                Finding(
                    kind,
                    item.complaint_id,
                    f"{name} differs" if ours_only else f"{name} changed in the CRM",
                    field=name,
                    ours=str(ours),
                    theirs=theirs,
                    category=item.complaint.category.value,
                )
            )
    return found


def _held_as_sent(
    item: PlannedComplaint,
    record: RemoteRecord,
    state: StoredRecord | None,
    adapter: Adapter[Any],
) -> frozenset[str]:
    """Fields whose value the CRM holds as we last sent it (the field hashes the state store
    keeps, :meth:`Adapter.unsent_fields`) while ours has moved on. Nothing for a record synced
    before hashes were kept, or an adapter that keeps none: every difference is then the CRM's,
    as before."""
    if state is None or not state.sent:
        return frozenset()
    return adapter.unsent_fields(replace(item, sent=state.sent), record)


def stale(record: RemoteRecord, state: StoredRecord | None) -> list[Finding]:
    """The state says synced at one version; the CRM holds another."""
    if state is None or state.state is not RecordState.SYNCED:
        return []
    if record.version and record.version != state.synced_hash:
        detail = "the CRM holds another version than synced"
        return [Finding(FindingKind.STALE, record.complaint_id, detail)]
    return []


def owner_fallbacks(item: PlannedComplaint, adapter: Adapter[Any]) -> list[Finding]:
    """Work that went to a fallback owner because the configured one is deactivated or
    unknown in the CRM: one finding per configured owner passed over, naming its tasks."""
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for fallback in adapter.owner_fallbacks(item):
        key = (fallback.wanted, fallback.reason, fallback.used, fallback.department)
        grouped.setdefault(key, []).append(fallback.task)
    return [
        Finding(
            FindingKind.OWNER_FALLBACK,
            item.complaint_id,
            f"{', '.join(tasks)}: the owner of {wanted} is {reason}; went to {used}",
            field="owner",
            ours=wanted,
            theirs=used,
            department=department,
            category=item.complaint.category.value,
        )
        for (wanted, reason, used, department), tasks in grouped.items()
    ]


def task_drifted(
    item: PlannedComplaint,
    task: RemoteTask,
    owner: FieldOwner,
    adapter: Adapter[Any],
    state: StoredRecord | None,
) -> list[Finding]:
    """A task's due date moved in the CRM (to the second): drift when due dates are ours,
    otherwise "changed in the CRM", unless the CRM holds the due date we last sent (a ``crm``
    due date keeps our first one after the plan moved on: nobody changed it there)."""
    planned = _planned_task(item, task)
    if planned is None or task.due_at is None:
        return []
    if abs((task.due_at - planned.due_at).total_seconds()) < 1:
        return []
    ours_only = owner is FieldOwner.SOURCE
    if not ours_only and state is not None and state.sent:
        if "task_due" in adapter.task_held_as_sent(replace(item, sent=state.sent), task):
            return []
    return [
        Finding(
            FindingKind.DRIFTED if ours_only else FindingKind.CHANGED_IN_CRM,
            task.complaint_id,
            f"due date of {task.kind} differs"
            if ours_only
            else f"due date of {task.kind} changed in the CRM",
            field=f"task_due:{task.kind}",
            ours=planned.due_at.isoformat(),
            theirs=task.due_at.astimezone(planned.due_at.tzinfo).isoformat(),
            category=item.complaint.category.value,
        )
    ]


def overdue(
    item: PlannedComplaint, task: RemoteTask, now: datetime, *, by_plan: bool = False
) -> Finding | None:
    """An open task past due, by the CRM's due date (what staff see), or with ``by_plan`` by
    ours: ``--repair`` is putting a moved ``source`` due date back, so ours is the one that
    will hold (a paused step keeps the CRM's)."""
    if task.completed:
        return None
    planned = _planned_task(item, task)
    due = task.due_at
    if by_plan and planned is not None and planned.paused_since is None:
        due = planned.due_at
    if due is None or due >= now:
        return None
    return Finding(
        FindingKind.OVERDUE,
        task.complaint_id,
        f"{task.kind} overdue by {_late(now - due)}",
        field=task.kind,
        department=planned.department.value if planned else None,
        category=item.complaint.category.value,
        # In the clinic's zone, as the plan's (the CRM answers UTC).
        due_at=due.astimezone(planned.due_at.tzinfo) if planned else due,
    )


def _planned_task(item: PlannedComplaint, task: RemoteTask) -> PlannedTask | None:
    return next((t for t in item.plan.tasks if t.kind.value == task.kind), None)


def _late(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"
