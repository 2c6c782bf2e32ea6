"""The numbers of the monthly compliance and recurrence report, from local data only.

No CRM is read: deadlines come from the policy (the due dates of the plan the sync writes,
computed alone by :class:`~crm_complaints.deadlines.DeadlinePlanner`), "done" from the
complaint's own timestamps. The definitions, which the README's Reports section repeats:

- **Period**: complaints whose ``received_at`` falls on ``date_from``..``date_to`` (inclusive)
  in their clinic's time zone; the *previous period* is the same number of days just before.
- **Deadlines kept**: for each task of a complaint received in the period, *done at* is
  ``acknowledged_at`` (both reports and the first response), else the first status change
  into the task's done-status or later (``coordinating`` investigation, ``resolution_proposed``
  plan, ``closed`` incident report and follow-up; ``closed_at`` counts for the last two), else
  when a CRM reported the task completed (``pull`` and ``reconcile`` keep that in the state
  store: the CRM's last change of the completed task, so at the latest). On
  time: done at or before the due date. Late: done after it, or not done and due before
  ``now``. A task not yet due, or done by status without any time, is left out of the share
  (counted as ``open`` / ``undated``). Share = on time / (on time + late).
- **Delay** (business-day tasks only: investigation, plan, incident report, follow-up): the
  clinic's opening hours between the due date and done-at (0 when on time), over done tasks;
  median and 90th percentile by nearest rank (the ⌈p·n⌉-th smallest).
- **Recurrence**: a complaint of the period *recurs* on a key (treatment, product, lot number,
  practitioner, customer) when an earlier complaint with the same value was received at most
  ``window_days`` before it (the earlier one may predate the period). Customers are the same
  when they share an ``external_id``, or, when one has none, an e-mail or phone digits
  (:mod:`.recurrence`), matched through a keyed hash whose random key lives only for the run:
  never shown, never stored.
- **Open work**: every complaint in the source (not only the period): plan tasks not done (in
  the complaint's data or in a CRM, as ``plan`` shows them); overdue when due before ``now``
  and not paused.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..calendar import BusinessCalendar
from ..deadlines import Deadline, DeadlinePlanner
from ..errors import RecordError
from ..policy import Policy, TaskKind
from ..schema import Complaint, Severity, Status
from .recurrence import RECURRENCE_KEYS, Recurrence

__all__ = [
    "BUSINESS_DAY_TASKS",
    "RECURRENCE_KEYS",
    "ReportOptions",
    "business_hours_between",
    "compute_report",
    "done_at",
    "nearest_rank",
]

BUSINESS_DAY_TASKS = frozenset(
    {
        TaskKind.INVESTIGATION,
        TaskKind.RESOLUTION_PLAN,
        TaskKind.INCIDENT_REPORT,
        TaskKind.FOLLOW_UP,
    }
)
_ACKNOWLEDGED_TASKS = frozenset(
    {TaskKind.REPORT_SUPERVISOR, TaskKind.REPORT_EXECUTIVE, TaskKind.INITIAL_RESPONSE}
)
_DONE_STATUS = {
    TaskKind.INVESTIGATION: Status.COORDINATING,
    TaskKind.RESOLUTION_PLAN: Status.RESOLUTION_PROPOSED,
    TaskKind.INCIDENT_REPORT: Status.CLOSED,
    TaskKind.FOLLOW_UP: Status.CLOSED,
}


@dataclass(frozen=True)
class ReportOptions:
    date_from: date
    date_to: date
    now: datetime
    clinics: frozenset[str] = frozenset()
    """Only these clinics (empty: all)."""
    window_days: int = 90
    done_in_crm: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    """(complaint id, task kind) → when a CRM reported the task completed (the state store's
    completions, :func:`crm_complaints.crm_changes.completed_in_crm`)."""

    @property
    def previous(self) -> tuple[date, date]:
        days = (self.date_to - self.date_from).days + 1
        return self.date_from - timedelta(days=days), self.date_from - timedelta(days=1)


def done_at(complaint: Complaint, kind: TaskKind) -> datetime | None:
    """When the complaint shows this task done (see the module docstring), if it says."""
    if kind in _ACKNOWLEDGED_TASKS:
        return complaint.acknowledged_at
    rank = _DONE_STATUS[kind].rank
    times = [change.at for change in complaint.status_changes if change.status.rank >= rank]
    if kind in (TaskKind.INCIDENT_REPORT, TaskKind.FOLLOW_UP) and complaint.closed_at:
        times.append(complaint.closed_at)
    return min(times) if times else None


def business_hours_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Opening hours of the clinic between two instants (0 when ``end`` is not after)."""
    if end <= start:
        return 0.0
    zone = calendar.zone
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    seconds = 0.0
    day = local_start.date()
    while day <= local_end.date():
        for interval in calendar.intervals_on(day):
            opens = datetime.combine(day, interval.start, tzinfo=zone)
            closes = datetime.combine(day, interval.end, tzinfo=zone)
            overlap = (min(closes, local_end) - max(opens, local_start)).total_seconds()
            seconds += max(0.0, overlap)
        day += timedelta(days=1)
    return seconds / 3600


def nearest_rank(values: Sequence[float], percentile: float) -> float | None:
    """The ⌈p·n⌉-th smallest value (nearest-rank percentile); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1]


@dataclass
class _DeadlineCell:
    on_time: int = 0
    late: int = 0
    open: int = 0
    undated: int = 0
    delays: list[float] = field(default_factory=list)

    def as_dict(self, business_days: bool) -> dict[str, Any]:
        judged = self.on_time + self.late
        data: dict[str, Any] = {
            "on_time": self.on_time,
            "late": self.late,
            "open": self.open,
            "undated": self.undated,
            "on_time_share": round(self.on_time / judged, 4) if judged else None,
        }
        if business_days:
            median, p90 = nearest_rank(self.delays, 50), nearest_rank(self.delays, 90)
            data["delay_business_hours_median"] = None if median is None else round(median, 2)
            data["delay_business_hours_p90"] = None if p90 is None else round(p90, 2)
        return data


def compute_report(
    complaints: Iterable[Complaint], policy: Policy, options: ReportOptions
) -> dict[str, Any]:
    """The report as plain data (JSON-ready); every renderer formats these numbers only.

    One pass over the complaints, which may be a stream: each is planned once (due dates only),
    feeds the deadline, volume and open-work tallies, leaves what recurrence needs (a few
    strings and times) and is let go. A year of complaints is never held at once (on 100,000:
    400 MiB less, and a second less of the time spent making and freeing it)."""
    zones: dict[str, Any] = {}
    previous_from, previous_to = options.previous
    tally = _Tally(
        policy,
        options.now,
        (options.date_from, options.date_to),
        (previous_from, previous_to),
        options.done_in_crm,
    )
    recurring = Recurrence(options.date_from, options.date_to, window_days=options.window_days)
    for complaint in complaints:
        if options.clinics and complaint.clinic not in options.clinics:
            continue
        zone = zones.get(complaint.clinic)
        if zone is None:
            zone = zones[complaint.clinic] = policy.calendar_for(complaint.clinic).zone
        # The clinic-local day received and the moment in UTC: times are compared in UTC
        # throughout, where a comparison needs no zone's offset (see DeadlinePlanner).
        received = complaint.received_at.astimezone(UTC)
        day = received.astimezone(zone).date()
        tally.add(complaint, day, received)
        recurring.add(complaint, day, received)
    return {
        "period": {
            "from": options.date_from.isoformat(),
            "to": options.date_to.isoformat(),
            "previous_from": previous_from.isoformat(),
            "previous_to": previous_to.isoformat(),
            "now": options.now.isoformat(),
            # "Now" on each clinic's clock: open work is counted as of this moment.
            "now_local": {
                clinic: options.now.astimezone(zone).isoformat()
                for clinic, zone in sorted(zones.items())
            },
            "window_days": options.window_days,
            "clinics": sorted(zones),
        },
        "totals": {"current": tally.current, "previous": tally.previous},
        "deadlines": tally.deadline_rows(),
        "volume": tally.volume_rows(),
        "recurrence": recurring.result(),
        "open_work": tally.open_work_rows(),
        "unplannable": sorted(set(tally.unplannable)),
    }


class _OpeningClock:
    """:func:`business_hours_between` with each day's opening intervals looked up once (the
    same sums in the same order, so the same floats)."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.zone = calendar.zone
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        found = self._days.get(day)
        if found is None:
            zone = self.zone
            found = self._days[day] = tuple(
                (
                    datetime.combine(day, interval.start, tzinfo=zone),
                    datetime.combine(day, interval.end, tzinfo=zone),
                )
                for interval in self.calendar.intervals_on(day)
            )
        return found

    def hours(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        seconds = 0.0
        day, last = local_start.date(), local_end.date()
        while day <= last:
            for opens, closes in self._intervals(day):
                overlap = (min(closes, local_end) - max(opens, local_start)).total_seconds()
                seconds += max(0.0, overlap)
            day += _ONE_DAY
        return seconds / 3600


_ONE_DAY = timedelta(days=1)
_NOT_DONE: dict[TaskKind, datetime | None] = dict.fromkeys(TaskKind)
_DIMENSIONS = ("category", "channel", "severity", "risk_flag", "month")
_CLOSED = Status.CLOSED


def _done_times(complaint: Complaint) -> dict[TaskKind, datetime | None]:
    """:func:`done_at` of every task kind in UTC (to compare with the planner's UTC due
    dates), read once per complaint (most have no status changes and no ``closed_at``: only
    ``acknowledged_at`` then counts)."""
    if complaint.status_changes or complaint.closed_at is not None:
        times = {kind: done_at(complaint, kind) for kind in TaskKind}
        return {kind: None if at is None else at.astimezone(UTC) for kind, at in times.items()}
    acknowledged = complaint.acknowledged_at
    if acknowledged is None:
        return _NOT_DONE
    return {**_NOT_DONE, **dict.fromkeys(_ACKNOWLEDGED_TASKS, acknowledged.astimezone(UTC))}


class _Tally:
    """The deadline, volume and open-work counts, filled in one pass. Keys hold the enum
    members as they come (they are strings); the rows hold their values."""

    def __init__(
        self,
        policy: Policy,
        now: datetime,
        period: tuple[date, date],
        previous: tuple[date, date],
        done_in_crm: Mapping[tuple[str, str], datetime],
    ) -> None:
        self.policy = policy
        self.done_in_crm = {key: at.astimezone(UTC) for key, at in done_in_crm.items()}
        self.period, self.previous_period = period, previous
        self.now = now.astimezone(UTC)  # like the planner's due dates (see DeadlinePlanner)
        self.planner = DeadlinePlanner(policy, utc=True)
        self.unplannable: list[str] = []
        self.current = self.previous = 0
        self.cells: dict[tuple[str, str, str], _DeadlineCell] = {}
        # (clinic, department, the kind when overdue else None) → open tasks
        self.open: Counter[tuple[str, str, str | None]] = Counter()
        # per period, per dimension: (clinic, key) → complaints
        # per period: (clinic, category, channel, severity, month) → complaints, and
        # (clinic, risk flags) → complaints; spread to dimensions at the end
        self.volume: tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]] = (
            Counter(),
            Counter(),
        )
        self.flags: tuple[Counter[tuple[str, frozenset[str]]], ...] = (Counter(), Counter())
        self.category_month: Counter[tuple[str, str]] = Counter()
        self._months: dict[tuple[int, int], str] = {}
        self._clocks: dict[str, _OpeningClock] = {}

    def add(self, complaint: Complaint, day: date, received: datetime) -> None:
        """Count one complaint (``day``: clinic-local day received; ``received``: in UTC)."""
        date_from, date_to = self.period
        in_period = date_from <= day <= date_to
        severity = None
        if in_period or self.previous_period[0] <= day <= self.previous_period[1]:
            severity = self.policy.severity(complaint)
            self._count_volume(complaint, day, severity, in_period)
        is_open = complaint.status is not _CLOSED and received <= self.now
        if not (in_period or is_open):
            return
        try:
            tasks = self.planner.deadlines(
                complaint, severity=severity, received_day=day, received_utc=received
            )
        except RecordError:
            self.unplannable.append(complaint.id)
            return
        self._count_tasks(complaint, tasks, in_period, is_open)

    def _month(self, day: date) -> str:
        found = self._months.get((day.year, day.month))
        if found is None:
            found = self._months[(day.year, day.month)] = f"{day.year}-{day.month:02d}"
        return found

    def _count_volume(
        self, complaint: Complaint, day: date, severity: Severity, in_period: bool
    ) -> None:
        which = 0 if in_period else 1
        clinic, month = complaint.clinic, self._month(day)
        self.volume[which][(clinic, complaint.category, complaint.channel, severity, month)] += 1
        if complaint.risk_flags:
            self.flags[which][(clinic, complaint.risk_flags)] += 1
        if in_period:
            self.current += 1
            self.category_month[(month, complaint.category)] += 1
        else:
            self.previous += 1

    def _clock(self, clinic: str) -> _OpeningClock:
        found = self._clocks.get(clinic)
        if found is None:
            found = self._clocks[clinic] = _OpeningClock(self.policy.calendar_for(clinic))
        return found

    def _count_tasks(
        self, complaint: Complaint, tasks: list[Deadline], in_period: bool, is_open: bool
    ) -> None:
        """Open work (``is_open``: not completed, overdue or not) and, for a complaint of the
        period, deadlines kept: each task on time, late, open or undated (module docstring)."""
        cells, counts, now, clinic = self.cells, self.open, self.now, complaint.clinic
        finished_by = _done_times(complaint) if in_period else _NOT_DONE
        in_crm = self.done_in_crm
        clock = None
        for kind, department, due_at, completed, paused_since in tasks:
            crm_done = in_crm.get((complaint.id, kind)) if in_crm else None
            if crm_done is not None:
                completed = True
            overdue = due_at < now and paused_since is None
            if is_open and not completed:
                counts[(clinic, department, kind if overdue else None)] += 1
            if not in_period:
                continue
            key = (clinic, department, kind)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = _DeadlineCell()
            finished = finished_by[kind] or crm_done
            if finished is None:
                if completed:
                    cell.undated += 1
                elif overdue:
                    cell.late += 1
                else:
                    cell.open += 1
                continue
            if finished <= due_at:
                cell.on_time += 1
            else:
                cell.late += 1
            if kind in BUSINESS_DAY_TASKS:
                clock = clock or self._clock(clinic)
                cell.delays.append(clock.hours(due_at, finished))

    def deadline_rows(self) -> list[dict[str, Any]]:
        order = {kind.value: index for index, kind in enumerate(TaskKind)}
        cells = {(c, str(d), str(k)): cell for (c, d, k), cell in self.cells.items()}
        return [
            {
                "clinic": clinic,
                "department": department,
                "task": kind,
                **cells[(clinic, department, kind)].as_dict(TaskKind(kind) in BUSINESS_DAY_TASKS),
            }
            for clinic, department, kind in sorted(cells, key=lambda k: (k[0], k[1], order[k[2]]))
        ]

    def volume_rows(self) -> dict[str, Any]:
        now_counts, before_counts = (
            _by_dimension(self.volume[which], self.flags[which]) for which in (0, 1)
        )
        result: dict[str, Any] = {
            "category_month": [
                {"month": month, "key": str(key), "current": n}
                for (month, key), n in sorted(self.category_month.items())
            ]
        }
        for dimension in _DIMENSIONS:
            keys = sorted(set(now_counts[dimension]) | set(before_counts[dimension]))
            result[dimension] = [
                {
                    "clinic": clinic,
                    "key": key,
                    "current": now_counts[dimension][(clinic, key)],
                    "previous": before_counts[dimension][(clinic, key)],
                }
                for clinic, key in keys
            ]
        return result

    def open_work_rows(self) -> list[dict[str, Any]]:
        cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for (clinic, department, late_kind), n in self.open.items():
            cell = cells[(clinic, str(department))]
            cell["open"] += n
            cell["overdue"] += 0
            if late_kind is not None:
                cell["overdue"] += n
                cell[f"overdue_{late_kind}"] += n
        return [
            {
                "clinic": clinic,
                "department": department,
                **dict(sorted(cells[(clinic, department)].items())),
            }
            for clinic, department in sorted(cells)
        ]


def _by_dimension(
    combined: Counter[tuple[str, ...]], flags: Counter[tuple[str, frozenset[str]]]
) -> dict[str, Counter[tuple[str, str]]]:
    """Complaints per (clinic, key) of each dimension, keys as plain strings, and every
    clinic together under ``*``."""
    counts: dict[str, Counter[tuple[str, str]]] = {name: Counter() for name in _DIMENSIONS}
    dimensions = [counts[name] for name in ("category", "channel", "severity", "month")]
    for (clinic, *keys), n in combined.items():
        for counter, key in zip(dimensions, keys, strict=True):
            counter[(clinic, str(key))] += n
            counter[("*", str(key))] += n
    for (clinic, flag_set), n in flags.items():
        for flag in flag_set:
            counts["risk_flag"][(clinic, str(flag))] += n
            counts["risk_flag"][("*", str(flag))] += n
    return counts
