"""Due dates only: the part of a plan the compliance report reads, at report speed.

The report judges a year of complaints against their deadlines and needs, per task, only the
kind, department, due date and whether it is done or paused. :meth:`Policy.plan` also builds
titles, owners, reminders and a validated pydantic model for every task, which made the report
on 100,000 complaints take 16-21 s. :class:`DeadlinePlanner` computes the same due dates from the
same rules (the business-day deadlines cached per clinic and local day, since a year holds only
a few hundred distinct days) and hands any complaint it cannot plan the simple way (dates near
the ends of the calendar, or a failure on the way) to :meth:`Policy.plan`, so an unplannable
complaint raises the same :class:`~crm_complaints.errors.RecordError`. A property test holds it
equal to ``Policy.plan`` on random complaints.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .calendar import BusinessCalendar
from .pause import PAUSABLE, pause_intervals, paused_due
from .policy import Policy, TaskKind
from .schema import Complaint, Department, Severity, Status

__all__ = ["Deadline", "DeadlinePlanner"]


Deadline = tuple[TaskKind, Department, datetime, bool, datetime | None]
"""One task of a plan as the report sees it: (kind, department, due at, completed, paused
since), a :class:`~crm_complaints.policy.PlannedTask` without title, owners and reminder. A
plain tuple: a year of complaints makes 700,000 of them."""

# Years where adding minutes or converting zones cannot leave datetime's range: outside them
# Policy.plan decides (and names the field in its RecordError).
_SAFE_YEARS = range(3, 9998)

_REPORT_SUPERVISOR = TaskKind.REPORT_SUPERVISOR
_REPORT_EXECUTIVE = TaskKind.REPORT_EXECUTIVE
_INITIAL_RESPONSE = TaskKind.INITIAL_RESPONSE
_INVESTIGATION = TaskKind.INVESTIGATION
_RESOLUTION_PLAN = TaskKind.RESOLUTION_PLAN
_INCIDENT_REPORT = TaskKind.INCIDENT_REPORT
_FOLLOW_UP = TaskKind.FOLLOW_UP
_MANAGEMENT = Department.MANAGEMENT
_FRONT_DESK = Department.FRONT_DESK
# Status ranks from which a task counts as done (Policy._is_done).
_ACKNOWLEDGED_RANK = Status.ACKNOWLEDGED.rank
_COORDINATING_RANK = Status.COORDINATING.rank
_PROPOSED_RANK = Status.RESOLUTION_PROPOSED.rank
_CLOSED_RANK = Status.CLOSED.rank


class _Clinic:
    """A clinic's calendar, zone and business-day deadlines by local day received."""

    __slots__ = ("by_day", "calendar", "follow_up_by_day", "zone")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.zone: ZoneInfo = calendar.zone
        self.by_day: dict[date, tuple[datetime, datetime, datetime]] = {}
        self.follow_up_by_day: dict[date, datetime] = {}


class DeadlinePlanner:
    """Due dates of a policy's plans, fast; one instance per report run (it caches).

    ``utc``: due dates in UTC rather than the clinic's zone, the same instants. Comparing two
    datetimes of different zones asks each zone for its offset (about 2 µs here, a million
    times in a year's report); two in UTC compare as plain numbers, and UTC has no repeated
    hour, so every comparison gives the answer the clinic-zone one does."""

    def __init__(self, policy: Policy, *, utc: bool = False) -> None:
        self.policy = policy
        self.utc = utc
        cfg = policy.config
        self._report = timedelta(minutes=cfg.report_minutes)
        self._initial = timedelta(minutes=cfg.initial_response_minutes)
        self._days = (
            cfg.investigation_business_days,
            cfg.resolution_plan_business_days,
            cfg.incident_report_business_days,
        )
        self._escalate_rank = cfg.escalate_at.rank
        self._clinics: dict[str, _Clinic] = {}

    def deadlines(
        self,
        complaint: Complaint,
        *,
        severity: Severity | None = None,
        received_day: date | None = None,
        received_utc: datetime | None = None,
    ) -> list[Deadline]:
        """The plan's tasks in plan order; :class:`RecordError` exactly when ``Policy.plan``
        raises it. A caller that has them already passes ``Policy.severity(complaint)``, the
        clinic-local date received and the moment received in UTC."""
        received, resolved = complaint.received_at, complaint.resolved_at
        if received.year in _SAFE_YEARS and (resolved is None or resolved.year in _SAFE_YEARS):
            try:
                return self._fast(
                    complaint,
                    severity or self.policy.severity(complaint),
                    received_day,
                    received_utc,
                )
            except (OverflowError, ValueError):
                pass  # Policy.plan turns it into the record's error, naming the field
        plan = self.policy.plan(complaint)
        return [
            (t.kind, t.department, self._out(t.due_at), t.completed, t.paused_since)
            for t in plan.tasks
        ]

    def _out(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC) if self.utc else moment

    def _clinic(self, clinic_id: str) -> _Clinic:
        clinic = self._clinics.get(clinic_id)
        if clinic is None:
            clinic = self._clinics[clinic_id] = _Clinic(self.policy.calendar_for(clinic_id))
        return clinic

    def _fast(
        self,
        complaint: Complaint,
        severity: Severity,
        day: date | None,
        received_utc: datetime | None,
    ) -> list[Deadline]:
        policy = self.policy
        cfg = policy.config
        clinic = self._clinics.get(complaint.clinic) or self._clinic(complaint.clinic)
        zone = clinic.zone
        received, resolved = complaint.received_at, complaint.resolved_at
        # Policy.departments, for the two departments a task can fall to.
        primary = cfg.primary_department[complaint.category]
        escalated = severity.rank >= self._escalate_rank
        coordinator = _MANAGEMENT if escalated else primary
        reporter = complaint.reporter
        reporter_department = (
            reporter.department if reporter and reporter.department else _FRONT_DESK
        )
        utc = self.utc
        if utc:
            received_utc = received_utc or received.astimezone(UTC)
            report_due, initial_due = received_utc + self._report, received_utc + self._initial
        else:
            # In the clinic's zone like the plan's (equal instants compare unequal across
            # zones in a repeated hour, PEP 495).
            report_due = (received + self._report).astimezone(zone)
            initial_due = (received + self._initial).astimezone(zone)
        if day is None:
            day = received.astimezone(zone).date()
        business = clinic.by_day.get(day)
        if business is None:
            calendar, out = clinic.calendar, self._out
            business = clinic.by_day[day] = (
                out(calendar.closing_time_after(received, self._days[0])),
                out(calendar.closing_time_after(received, self._days[1])),
                out(calendar.closing_time_after(received, self._days[2])),
            )
        # Policy._is_done, with the complaint's facts read once.
        rank = complaint.status.rank
        acknowledged = complaint.acknowledged_at is not None or rank >= _ACKNOWLEDGED_RANK
        closed = bool(complaint.closed_at) or rank >= _CLOSED_RANK
        tasks: list[Deadline] = [
            (_REPORT_SUPERVISOR, reporter_department, report_due, acknowledged, None),
            (_REPORT_EXECUTIVE, _MANAGEMENT, report_due, acknowledged, None),
            (_INITIAL_RESPONSE, primary, initial_due, acknowledged, None),
            (_INVESTIGATION, primary, business[0], rank >= _COORDINATING_RANK, None),
            (_RESOLUTION_PLAN, coordinator, business[1], rank >= _PROPOSED_RANK, None),
            (_INCIDENT_REPORT, _MANAGEMENT, business[2], closed, None),
        ]
        if reporter_department is _MANAGEMENT:
            del tasks[0]  # supervisor and executive are the same person: one report
        if resolved is not None:
            resolved_day = resolved.astimezone(zone).date()
            follow_up = clinic.follow_up_by_day.get(resolved_day)
            if follow_up is None:
                follow_up = self._out(policy.follow_up_due(complaint, resolved).astimezone(zone))
                clinic.follow_up_by_day[resolved_day] = follow_up
            tasks.append((_FOLLOW_UP, _FRONT_DESK, follow_up, closed, None))
        if cfg.pause_statuses or cfg.history_before is not None:
            return self._adjusted(complaint, clinic.calendar, tasks)
        return tasks

    def _adjusted(
        self, complaint: Complaint, calendar: BusinessCalendar, tasks: list[Deadline]
    ) -> list[Deadline]:
        """Pauses move business-day deadlines; importing history marks past steps done (the
        rules of ``Policy.plan``, in its order)."""
        cfg = self.policy.config
        pauses = pause_intervals(complaint, cfg.pause_statuses)
        cutoff = cfg.history_before
        received, resolved = complaint.received_at, complaint.resolved_at
        adjusted: list[Deadline] = []
        for kind, department, due_at, completed, _ in tasks:
            paused_since = None
            if pauses and kind.value in PAUSABLE:
                clock = resolved if kind is _FOLLOW_UP and resolved else received
                due_at, paused_since = paused_due(calendar, due_at, clock, pauses)
            if cutoff is not None and not completed and received < cutoff and due_at < cutoff:
                completed = True
            adjusted.append(
                (
                    kind,
                    department,
                    self._out(due_at),
                    completed,
                    None if completed else paused_since,
                )
            )
        return adjusted
