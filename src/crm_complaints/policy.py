"""The routing policy: complaint → plan (severity, priority, departments, tasks with due dates).

Pure and deterministic: the plan depends only on the complaint and the configuration, never on
the time it is computed, so re-planning an unchanged complaint gives the same plan (and the same
content hash, which is what keeps unchanged complaints free of remote calls).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict

from .calendar import BusinessCalendar
from .config import ClinicConfig, PolicyConfig, Settings
from .errors import RecordError
from .labels import task_title
from .pause import PAUSABLE, pause_intervals, paused_due
from .routing import OwnerRef, assignee_key, opening_time, reminder_at, task_owners
from .schema import Complaint, Department, Severity, Status, canonical_hash

__all__ = [
    "ClinicLookup",
    "Plan",
    "PlannedComplaint",
    "PlannedTask",
    "Policy",
    "TaskKind",
    "version_of",
]

ClinicLookup = Callable[[str], ClinicConfig]
"""A clinic id → its locale and calendar (``Settings.clinic``: unknown ids get the default)."""


class TaskKind(StrEnum):
    """The follow-up work of the standard flow, in the order it falls due."""

    REPORT_SUPERVISOR = "report_supervisor"
    REPORT_EXECUTIVE = "report_executive"
    INITIAL_RESPONSE = "initial_response"
    INVESTIGATION = "investigation"
    RESOLUTION_PLAN = "resolution_plan"
    INCIDENT_REPORT = "incident_report"
    FOLLOW_UP = "follow_up"


# Reports go up the line (supervisor, executive), never to a complaint's assignee.
_REPORTS = frozenset({TaskKind.REPORT_SUPERVISOR, TaskKind.REPORT_EXECUTIVE})

# The status from which a task counts as done (the complaint has passed that step).
_DONE_FROM: dict[TaskKind, Status] = {
    TaskKind.REPORT_SUPERVISOR: Status.ACKNOWLEDGED,
    TaskKind.REPORT_EXECUTIVE: Status.ACKNOWLEDGED,
    TaskKind.INITIAL_RESPONSE: Status.ACKNOWLEDGED,
    TaskKind.INVESTIGATION: Status.COORDINATING,
    TaskKind.RESOLUTION_PLAN: Status.RESOLUTION_PROPOSED,
    TaskKind.INCIDENT_REPORT: Status.CLOSED,
    TaskKind.FOLLOW_UP: Status.CLOSED,
}


class PlannedTask(BaseModel):
    """One piece of work someone must do by ``due_at`` (clinic-local offset)."""

    model_config = ConfigDict(frozen=True)

    kind: TaskKind
    department: Department
    title: str
    due_at: AwareDatetime
    completed: bool = False
    owners: tuple[OwnerRef, ...] = ()
    """The clinic's candidate owners, best first (see :mod:`crm_complaints.routing`); empty
    when the clinic names nobody for the department (the adapter's own mapping applies)."""
    management_owners: tuple[OwnerRef, ...] = ()
    """The clinic's management owners at the due time: the last resort for this task."""
    remind_at: AwareDatetime | None = None
    """When the CRM should remind the owner (``policy.reminders``); none for done tasks."""
    paused_since: AwareDatetime | None = None
    """Set while the complaint waits on the patient (``policy.pause_statuses``): the task's
    clock is stopped, so no reminder or alert; ``due_at`` moves when it resumes."""


class Plan(BaseModel):
    """Who must act on a complaint, how urgently, and by when."""

    model_config = ConfigDict(frozen=True)

    complaint_id: str
    severity: Severity
    priority: str
    primary_department: Department
    supporting_departments: list[Department]
    coordinator: Department
    escalated: bool
    language: str
    tasks: list[PlannedTask]
    owners: tuple[OwnerRef, ...] = ()
    """The clinic's candidate owners of the coordinating department (the ticket's owner),
    judged when the complaint was received."""
    management_owners: tuple[OwnerRef, ...] = ()

    def task(self, kind: TaskKind) -> PlannedTask | None:
        return next((t for t in self.tasks if t.kind == kind), None)

    def content_hash(self) -> str:
        """Routing and reminder fields are left out while unset, so a configuration without
        them keeps the versions it had before they existed."""
        data = self.model_dump(mode="json")
        _drop_unset(data)
        for task in data["tasks"]:
            _drop_unset(task)
        return canonical_hash(data)


_UNSET_WHEN_EMPTY = ("owners", "management_owners", "remind_at", "paused_since")


def _drop_unset(data: dict[str, Any]) -> None:
    for name in _UNSET_WHEN_EMPTY:
        if name in data and not data[name]:
            del data[name]


@dataclass(frozen=True)
class PlannedComplaint:
    """A complaint, its plan, and what the state store knows about its last sync."""

    complaint: Complaint
    plan: Plan
    version: str
    """Content hash of complaint + plan: equal versions need no remote write."""
    previous: Mapping[str, str] | None = None
    """Refs from the last successful push; ``None`` if this complaint was never synced."""
    attempt: int = 0
    """0 on the first push of this version in a run; the engine's retry number after that.
    An adapter may skip writes it already completed for this version in an earlier attempt."""
    redelivery: str = ""
    """Non-empty when the engine re-sends a version on purpose (reconciliation's repair). An
    adapter that de-duplicates deliveries by version must treat it as a new delivery; it is
    the same across retries within one run."""
    unconfirmed: bool = False
    """An earlier push of this complaint was never confirmed (a crash, a failed run, a refusal):
    parts of it may exist remotely without the state store holding their ids, so an adapter
    that cannot upsert must look before it creates."""
    revision: int = 0
    """The state store's count of distinct versions handed over for this complaint: the same
    for every retry of one version, one more for each new version, even one whose content
    equals an earlier one (A → B → A is three revisions). 0 outside the engine."""
    sent: Mapping[str, Mapping[str, str]] | None = None
    """Hashes of the field values last sent, per remote object (see
    :mod:`crm_complaints.fields`): an update sends only the fields whose value changed.
    ``None`` when not known (never synced, or synced by an older release): send everything."""
    repair: bool = False
    """Reconciliation's repair: put back the ``source`` fields someone changed in the CRM, even
    where our value did not change."""
    reassign: frozenset[str] = frozenset()
    """Remote objects (``ticket``, ``task:<kind>``) still with an owner the CRM reports
    inactive: repair gives them their fallback owner even though routing did not change."""

    @property
    def complaint_id(self) -> str:
        return self.complaint.id

    @property
    def is_new(self) -> bool:
        return self.previous is None


def version_of(complaint: Complaint, plan: Plan) -> str:
    """The content hash that decides whether a complaint needs a remote write."""
    return canonical_hash({"complaint": complaint.content_hash(), "plan": plan.content_hash()})


def _deadline(
    complaint: Complaint, kind: TaskKind, due: Callable[[], datetime], zone: tzinfo
) -> datetime:
    """One task's due date; a date no deadline can be computed from is this record's error
    (a placeholder such as ``9999-12-31`` for "still open"), never the run's."""
    try:
        return due().astimezone(zone)
    except (OverflowError, ValueError) as exc:
        field = "resolved_at" if kind is TaskKind.FOLLOW_UP else "received_at"
        moment = complaint.resolved_at if field == "resolved_at" else complaint.received_at
        year = moment.year if moment is not None else "?"
        advice = (
            "leave resolved_at empty while the complaint is open"
            if field == "resolved_at"
            else "write the date the complaint was received"
        )
        raise RecordError(
            f"year {year} is too far from today to compute the {kind.value} deadline from; "
            f"{advice}",
            record=complaint.id,
            field=field,
        ) from exc


def _paused(
    complaint: Complaint,
    calendar: BusinessCalendar,
    due_at: datetime,
    clock: datetime,
    pauses: list[tuple[datetime, datetime | None]],
) -> tuple[datetime, datetime | None]:
    """A task's due date moved by the complaint's pauses (see :mod:`crm_complaints.pause`)."""
    try:
        return paused_due(calendar, due_at, clock, pauses)
    except (OverflowError, ValueError) as exc:
        raise RecordError(
            "the pauses are too long to compute a due date from; check the dates",
            record=complaint.id,
            field="status_changes",
        ) from exc


class Policy:
    """Applies a :class:`PolicyConfig`, with each clinic's calendar and language.

    Takes only what planning needs (the policy section and a clinic lookup), so a caller can
    plan without a whole configuration; :meth:`from_settings` wires both from ``Settings``.
    """

    def __init__(
        self, config: PolicyConfig | None = None, clinics: ClinicLookup | None = None
    ) -> None:
        self.config = config or PolicyConfig()
        default = ClinicConfig()
        self._clinic: ClinicLookup = clinics or (lambda _clinic_id: default)
        self._calendars: dict[str, BusinessCalendar] = {}
        # Memo of (clinic, local date) → opening time, for "opening" reminders.
        self._openings: dict[tuple[str, date], datetime | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.policy, settings.clinic)

    def calendar_for(self, clinic_id: str) -> BusinessCalendar:
        calendar = self._calendars.get(clinic_id)
        if calendar is None:
            calendar = self._clinic(clinic_id).calendar()
            self._calendars[clinic_id] = calendar
        return calendar

    def planned(
        self,
        complaint: Complaint,
        previous: Mapping[str, str] | None = None,
        *,
        redelivery: str = "",
        unconfirmed: bool = False,
    ) -> PlannedComplaint:
        """The complaint with its plan and version, as the engine hands it to an adapter."""
        plan = self.plan(complaint)
        return PlannedComplaint(
            complaint,
            plan,
            version_of(complaint, plan),
            previous,
            redelivery=redelivery,
            unconfirmed=unconfirmed,
        )

    def opening_time(self, clinic_id: str, day: date) -> datetime | None:
        """When a clinic opens on a local date (``None``: closed), memoized."""
        key = (clinic_id, day)
        if key not in self._openings:
            if len(self._openings) > 100_000:
                self._openings.clear()
            self._openings[key] = opening_time(self.calendar_for(clinic_id), day)
        return self._openings[key]

    def follow_up_due(self, complaint: Complaint, resolved_at: datetime) -> datetime:
        """When the satisfaction follow-up falls due for a complaint resolved at that moment
        (``follow_up_business_days`` business days later, at closing time)."""
        calendar = self.calendar_for(complaint.clinic)
        return calendar.closing_time_after(resolved_at, self.config.follow_up_business_days)

    def severity(self, complaint: Complaint) -> Severity:
        """Severity by the rules, never lower than what the input said."""
        ruled = self._ruled_severity(complaint)
        given = complaint.severity
        return given if given is not None and given.rank > ruled.rank else ruled

    def _ruled_severity(self, complaint: Complaint) -> Severity:
        cfg = self.config
        flags = complaint.risk_flags
        if flags & cfg.critical_flags:
            return Severity.CRITICAL
        if (
            flags & cfg.high_flags
            or complaint.category in cfg.high_categories
            or self._large_monetary_demand(complaint)
        ):
            return Severity.HIGH
        demand = complaint.demand
        if complaint.category in cfg.medium_categories or (
            demand is not None and demand.kind in cfg.monetary_demand_kinds
        ):
            return Severity.MEDIUM
        return Severity.LOW

    def _large_monetary_demand(self, complaint: Complaint) -> bool:
        demand = complaint.demand
        if demand is None or demand.kind not in self.config.monetary_demand_kinds:
            return False
        if demand.amount is None or demand.currency is None:
            return False
        threshold: Decimal | None = self.config.amount_thresholds.get(demand.currency)
        # A currency we have no threshold for counts as over it: better a manager too many.
        return threshold is None or demand.amount >= threshold

    def departments(
        self, complaint: Complaint, severity: Severity
    ) -> tuple[Department, list[Department], Department, bool]:
        """(primary, sorted supporting, coordinator, escalated) for a complaint."""
        primary = self.config.primary_department[complaint.category]
        escalated = severity.rank >= self.config.escalate_at.rank
        supporting = {Department.FRONT_DESK}
        if primary is Department.PHYSICIAN:
            supporting.add(Department.CARE_STAFF)
        if primary is Department.CARE_STAFF:
            supporting.add(Department.PHYSICIAN)
        if escalated:
            supporting.add(Department.MANAGEMENT)
        supporting.discard(primary)
        coordinator = Department.MANAGEMENT if escalated else primary
        return primary, sorted(supporting), coordinator, escalated

    def plan(self, complaint: Complaint) -> Plan:
        """The full plan of a complaint; :class:`RecordError` (naming the field) when a date
        in it is too extreme to compute a deadline from."""
        cfg = self.config
        severity = self.severity(complaint)
        primary, supporting, coordinator, escalated = self.departments(complaint, severity)
        clinic = self._clinic(complaint.clinic)
        language = complaint.language or clinic.language
        calendar = self.calendar_for(complaint.clinic)
        zone = calendar.zone
        received = complaint.received_at
        reporter = complaint.reporter
        reporter_department = (
            reporter.department if reporter and reporter.department else Department.FRONT_DESK
        )
        report_due = received + timedelta(minutes=cfg.report_minutes)

        def business_due(days: int, start: datetime = received) -> datetime:
            return calendar.closing_time_after(start, days)

        schedule: list[tuple[TaskKind, Department, Callable[[], datetime]]] = [
            (TaskKind.REPORT_SUPERVISOR, reporter_department, lambda: report_due),
            (TaskKind.REPORT_EXECUTIVE, Department.MANAGEMENT, lambda: report_due),
            (
                TaskKind.INITIAL_RESPONSE,
                primary,
                lambda: received + timedelta(minutes=cfg.initial_response_minutes),
            ),
            (
                TaskKind.INVESTIGATION,
                primary,
                lambda: business_due(cfg.investigation_business_days),
            ),
            (
                TaskKind.RESOLUTION_PLAN,
                coordinator,
                lambda: business_due(cfg.resolution_plan_business_days),
            ),
            (
                TaskKind.INCIDENT_REPORT,
                Department.MANAGEMENT,
                lambda: business_due(cfg.incident_report_business_days),
            ),
        ]
        resolved_at = complaint.resolved_at
        if resolved_at is not None:
            schedule.append(
                (
                    TaskKind.FOLLOW_UP,
                    Department.FRONT_DESK,
                    lambda: self.follow_up_due(complaint, resolved_at),
                )
            )
        if reporter_department is Department.MANAGEMENT:
            # Supervisor and executive are the same person at the same minute: one report.
            schedule = [entry for entry in schedule if entry[0] is not TaskKind.REPORT_SUPERVISOR]
        assignee = assignee_key(clinic, complaint)

        def opening(day: date) -> datetime | None:
            return self.opening_time(complaint.clinic, day)

        pauses = pause_intervals(complaint, cfg.pause_statuses)
        cutoff = cfg.history_before
        tasks = []
        for kind, department, due in schedule:
            due_at = _deadline(complaint, kind, due, zone)
            completed = self._is_done(complaint, kind)
            paused_since = None
            if pauses and kind.value in PAUSABLE:
                clock = resolved_at if kind is TaskKind.FOLLOW_UP and resolved_at else received
                due_at, paused_since = _paused(complaint, calendar, due_at, clock, pauses)
            if cutoff is not None and not completed and received < cutoff and due_at < cutoff:
                completed = True  # importing history: a past step is recorded as done
            tasks.append(
                PlannedTask(
                    kind=kind,
                    department=department,
                    title=task_title(kind, language),
                    due_at=due_at,
                    completed=completed,
                    owners=task_owners(
                        clinic,
                        department,
                        due_at,
                        assignee if department is primary and kind not in _REPORTS else None,
                    ),
                    management_owners=task_owners(clinic, Department.MANAGEMENT, due_at),
                    remind_at=(
                        None
                        if completed or paused_since
                        else reminder_at(cfg.reminders, kind.value, due_at, opening)
                    ),
                    paused_since=None if completed else paused_since,
                )
            )
        received_local = received.astimezone(zone)
        return Plan(
            complaint_id=complaint.id,
            severity=severity,
            priority=cfg.priority[severity],
            primary_department=primary,
            supporting_departments=supporting,
            coordinator=coordinator,
            escalated=escalated,
            language=language,
            tasks=tasks,
            owners=task_owners(clinic, coordinator, received_local),
            management_owners=task_owners(clinic, Department.MANAGEMENT, received_local),
        )

    @staticmethod
    def _is_done(complaint: Complaint, kind: TaskKind) -> bool:
        if kind in (
            TaskKind.REPORT_SUPERVISOR,
            TaskKind.REPORT_EXECUTIVE,
            TaskKind.INITIAL_RESPONSE,
        ) and (complaint.acknowledged_at is not None):
            return True
        if kind in (TaskKind.INCIDENT_REPORT, TaskKind.FOLLOW_UP) and complaint.closed_at:
            return True
        return complaint.status.rank >= _DONE_FROM[kind].rank
