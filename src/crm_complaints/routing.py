"""Per-clinic routing: whose name goes on a task, and when the CRM reminds them before it is due.

The policy asks these questions for every task; the answers go into the plan, so a webhook
receiver sees the same routing as HubSpot, and a changed routing or reminder setting changes the
plan's version (the next sync writes it). Pure functions of the clinic's config and the task's
due time: no I/O, no clock.

Owners are *keys* as configured (the e-mail a CRM knows the person by), best first: the
complaint's assignee (primary department only), the department's owner, its deputy. Away dates
are clinic-local and judged at the task's due time. What the CRM does with a key it does not
know, or knows as deactivated, is the adapter's business (HubSpot: the next candidate, then its
own mapping, then management; see ``crm_complaints.adapters.hubspot.owners``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .calendar import BusinessCalendar
from .config import ClinicConfig, ReminderConfig
from .schema import Complaint, Department

__all__ = [
    "OwnerRef",
    "OwnerRole",
    "assignee_key",
    "department_owners",
    "opening_time",
    "reminder_at",
    "task_owners",
]


class OwnerRole(StrEnum):
    """Why a key is a candidate: messages name the role, never the key (an e-mail)."""

    ASSIGNEE = "assignee"
    OWNER = "owner"
    DEPUTY = "deputy"


class OwnerRef(BaseModel):
    """One candidate owner of a task: a key as configured, and why it is a candidate."""

    model_config = ConfigDict(frozen=True)

    key: str
    role: OwnerRole


def department_owners(
    clinic: ClinicConfig, department: Department, due: datetime
) -> tuple[OwnerRef, ...]:
    """The clinic's candidates for a department's task due at ``due``: the deputy alone while
    the owner is away (clinic-local date of the due time), else the owner, then the deputy."""
    route = clinic.owners.get(department)
    if route is None:
        return ()
    day = due.date()  # ``due`` is already in the clinic's zone (the policy converts it)
    if route.deputy and route.away_on(day):
        return (OwnerRef(key=route.deputy, role=OwnerRole.DEPUTY),)
    refs = [OwnerRef(key=route.owner, role=OwnerRole.OWNER)]
    if route.deputy:
        refs.append(OwnerRef(key=route.deputy, role=OwnerRole.DEPUTY))
    return tuple(refs)


def assignee_key(clinic: ClinicConfig, complaint: Complaint) -> str | None:
    """The owner key the complaint's assignee maps to: a staff id through the clinic's
    ``staff`` table, or an e-mail as is; ``None`` when it maps to nobody."""
    named = complaint.assignee
    if not named:
        return None
    if named in clinic.staff:
        return clinic.staff[named]
    return named if "@" in named else None


def task_owners(
    clinic: ClinicConfig,
    department: Department,
    due: datetime,
    assignee: str | None = None,
) -> tuple[OwnerRef, ...]:
    """Candidates for one task: the assignee first (given only for the primary department's
    tasks; skipped when it is the department's owner and that owner is away), then the
    department's owners."""
    if assignee is None:
        return department_owners(clinic, department, due) if clinic.owners else ()
    owners = department_owners(clinic, department, due)
    route = clinic.owners.get(department)
    if route is not None and route.owner == assignee and route.away_on(due.date()):
        return owners
    first = OwnerRef(key=assignee, role=OwnerRole.ASSIGNEE)
    return (first, *_without(owners, assignee))


def _without(refs: Iterable[OwnerRef], key: str) -> tuple[OwnerRef, ...]:
    return tuple(r for r in refs if r.key != key)


def opening_time(calendar: BusinessCalendar, day: date) -> datetime | None:
    """When the clinic opens on a date (clinic-local), or ``None`` on a closed day."""
    intervals = calendar.intervals_on(day)
    if not intervals:
        return None
    return datetime.combine(day, intervals[0].start, tzinfo=calendar.zone)


def reminder_at(
    config: ReminderConfig,
    kind: str,
    due: datetime,
    opening: Callable[[date], datetime | None],
) -> datetime | None:
    """When the CRM should remind the owner of a task due at ``due`` (clinic-local), or
    ``None``: reminders off, this kind off, or an ``"opening"`` reminder that would not fall
    before the due time (a closed day, or due before opening). ``opening`` is
    :func:`opening_time` for the clinic's calendar (the policy memoizes it)."""
    if not config.enabled:
        return None
    setting = getattr(config, kind)
    if setting == "off":
        return None
    if setting == "opening":
        opens = opening(due.date())
        return opens if opens is not None and opens <= due else None
    return due - timedelta(minutes=int(setting))
