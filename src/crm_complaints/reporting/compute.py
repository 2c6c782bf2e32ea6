"""The numbers of the monthly compliance and recurrence report, from local data only.

No CRM is read: deadlines come from the policy (the same plan the sync writes), "done" from the
complaint's own timestamps. The definitions, which the README's Reports section repeats:

- **Period**: complaints whose ``received_at`` falls on ``date_from``..``date_to`` (inclusive)
  in their clinic's time zone; the *previous period* is the same number of days just before.
- **Deadlines kept**: for each task of a complaint received in the period, *done at* is
  ``acknowledged_at`` (both reports and the first response), else the first status change
  into the task's done-status or later (``coordinating`` investigation, ``resolution_proposed``
  plan, ``closed`` incident report and follow-up; ``closed_at`` counts for the last two). On
  time: done at or before the due date. Late: done after it, or not done and due before
  ``now``. A task not yet due, or done by status without any time, is left out of the share
  (counted as ``open`` / ``undated``). Share = on time / (on time + late).
- **Delay** (business-day tasks only: investigation, plan, incident report, follow-up): the
  clinic's opening hours between the due date and done-at (0 when on time), over done tasks;
  median and 90th percentile by nearest rank (the ⌈p·n⌉-th smallest).
- **Recurrence**: a complaint of the period *recurs* on a key (treatment, product, lot number,
  practitioner, customer) when an earlier complaint with the same value was received at most
  ``window_days`` before it (the earlier one may predate the period). Customers are matched by
  ``external_id``, else e-mail, else phone digits, through a keyed hash whose random key lives
  only for the run: never shown, never stored.
- **Open work**: every complaint in the source (not only the period): plan tasks not done;
  overdue when due before ``now`` and not paused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..calendar import BusinessCalendar
from ..errors import RecordError
from ..policy import Plan, Policy, TaskKind
from ..schema import Complaint, Status

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
RECURRENCE_KEYS = ("treatment", "product", "lot_number", "practitioner", "customer")


@dataclass(frozen=True)
class ReportOptions:
    date_from: date
    date_to: date
    now: datetime
    clinics: frozenset[str] = frozenset()
    """Only these clinics (empty: all)."""
    window_days: int = 90

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


def _customer_key(complaint: Complaint) -> str | None:
    customer = complaint.customer
    if customer is None:
        return None
    if customer.external_id:
        return f"id:{customer.external_id}"
    if customer.email:
        return f"email:{customer.email.strip().casefold()}"
    if customer.phone:
        digits = re.sub(r"\D", "", customer.phone)
        return f"phone:{digits}" if digits else None
    return None


def _recurrence_value(complaint: Complaint, key: str) -> str | None:
    if key == "customer":
        return _customer_key(complaint)
    related = complaint.related
    value = getattr(related, key) if related is not None else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def compute_report(
    complaints: Iterable[Complaint], policy: Policy, options: ReportOptions
) -> dict[str, Any]:
    """The report as plain data (JSON-ready); every renderer formats these numbers only."""
    zones: dict[str, Any] = {}
    chosen: list[tuple[Complaint, date]] = []
    for complaint in complaints:
        if options.clinics and complaint.clinic not in options.clinics:
            continue
        zone = zones.get(complaint.clinic)
        if zone is None:
            zone = zones[complaint.clinic] = policy.calendar_for(complaint.clinic).zone
        chosen.append((complaint, complaint.received_at.astimezone(zone).date()))
    previous_from, previous_to = options.previous
    current = [c for c, day in chosen if options.date_from <= day <= options.date_to]
    previous = [c for c, day in chosen if previous_from <= day <= previous_to]
    unplannable: list[str] = []
    plans = _Plans(policy, unplannable)  # one plan per complaint, shared by both sections
    return {
        "period": {
            "from": options.date_from.isoformat(),
            "to": options.date_to.isoformat(),
            "previous_from": previous_from.isoformat(),
            "previous_to": previous_to.isoformat(),
            "now": options.now.isoformat(),
            "window_days": options.window_days,
            "clinics": sorted({c.clinic for c, _ in chosen}),
        },
        "totals": {"current": len(current), "previous": len(previous)},
        "deadlines": _deadlines(current, plans, options.now),
        "volume": _volume(current, previous, policy, zones),
        "recurrence": _recurrence(chosen, options),
        "open_work": _open_work([c for c, _ in chosen], plans, options.now),
        "unplannable": sorted(set(unplannable)),
    }


class _Plans:
    """Plans by complaint id, made once; a complaint no deadline can be computed for is
    listed in ``unplannable`` (by id) and left out."""

    def __init__(self, policy: Policy, unplannable: list[str]) -> None:
        self.policy = policy
        self.unplannable = unplannable
        self._made: dict[str, Plan | None] = {}

    def of(self, complaint: Complaint) -> Plan | None:
        if complaint.id not in self._made:
            try:
                self._made[complaint.id] = self.policy.plan(complaint)
            except RecordError:
                self.unplannable.append(complaint.id)
                self._made[complaint.id] = None
        return self._made[complaint.id]


def _deadlines(
    complaints: Sequence[Complaint], plans: _Plans, now: datetime
) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str, str], _DeadlineCell] = defaultdict(_DeadlineCell)
    for complaint in complaints:
        plan = plans.of(complaint)
        if plan is None:
            continue
        calendar = plans.policy.calendar_for(complaint.clinic)
        for task in plan.tasks:
            cell = cells[(complaint.clinic, task.department.value, task.kind.value)]
            finished = done_at(complaint, task.kind)
            if finished is None:
                if task.completed:
                    cell.undated += 1
                elif task.due_at < now and task.paused_since is None:
                    cell.late += 1
                else:
                    cell.open += 1
                continue
            if finished <= task.due_at:
                cell.on_time += 1
            else:
                cell.late += 1
            if task.kind in BUSINESS_DAY_TASKS:
                cell.delays.append(business_hours_between(calendar, task.due_at, finished))
    order = {kind.value: index for index, kind in enumerate(TaskKind)}
    return [
        {
            "clinic": clinic,
            "department": department,
            "task": kind,
            **cells[(clinic, department, kind)].as_dict(TaskKind(kind) in BUSINESS_DAY_TASKS),
        }
        for clinic, department, kind in sorted(cells, key=lambda k: (k[0], k[1], order[k[2]]))
    ]


def _volume(
    current: Sequence[Complaint],
    previous: Sequence[Complaint],
    policy: Policy,
    zones: dict[str, Any],
) -> dict[str, Any]:
    def tally(complaints: Sequence[Complaint]) -> dict[str, Counter[tuple[str, str]]]:
        counts: dict[str, Counter[tuple[str, str]]] = {
            name: Counter() for name in ("category", "channel", "severity", "risk_flag", "month")
        }
        for c in complaints:
            severity = policy.severity(c).value
            local = c.received_at.astimezone(zones[c.clinic])
            month = f"{local.year}-{local.month:02d}"
            for clinic in (c.clinic, "*"):
                counts["category"][(clinic, c.category.value)] += 1
                counts["channel"][(clinic, c.channel.value)] += 1
                counts["severity"][(clinic, severity)] += 1
                for flag in c.risk_flags:
                    counts["risk_flag"][(clinic, flag.value)] += 1
                counts["month"][(clinic, month)] += 1
        return counts

    now_counts, before_counts = tally(current), tally(previous)
    by_category_month: Counter[tuple[str, str]] = Counter(
        (c.received_at.astimezone(zones[c.clinic]).strftime("%Y-%m"), c.category.value)
        for c in current
    )
    result: dict[str, Any] = {
        "category_month": [
            {"month": month, "key": key, "current": by_category_month[(month, key)]}
            for month, key in sorted(by_category_month)
        ]
    }
    for dimension in ("category", "channel", "severity", "risk_flag", "month"):
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


def _recurrence(chosen: Sequence[tuple[Complaint, date]], options: ReportOptions) -> dict[str, Any]:
    window = timedelta(days=options.window_days)
    salt = secrets.token_bytes(32)  # lives for this run only: the hashes mean nothing later
    ordered = sorted(chosen, key=lambda item: (item[0].received_at, item[0].id))
    last_seen: dict[tuple[str, str], datetime] = {}
    complaints: Counter[tuple[str, str]] = Counter()
    recurrences: Counter[tuple[str, str]] = Counter()
    clinics: dict[tuple[str, str], set[str]] = defaultdict(set)
    repeat_customers: set[str] = set()
    for complaint, day in ordered:
        in_period = options.date_from <= day <= options.date_to
        for key in RECURRENCE_KEYS:
            value = _recurrence_value(complaint, key)
            if value is None:
                continue
            if key == "customer":
                value = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()
            slot = (key, value)
            before = last_seen.get(slot)
            last_seen[slot] = complaint.received_at
            if not in_period:
                continue
            complaints[slot] += 1
            clinics[slot].add(complaint.clinic)
            if before is not None and complaint.received_at - before <= window:
                recurrences[slot] += 1
                if key == "customer":
                    repeat_customers.add(value)
    listed = sorted(
        (slot for slot in recurrences if slot[0] != "customer"),
        key=lambda s: (-recurrences[s], -complaints[s], s[0], s[1]),
    )
    customer_slots = [s for s in recurrences if s[0] == "customer"]
    return {
        "items": [
            {
                "rank": rank,
                "key": key,
                "value": value,
                "complaints": complaints[(key, value)],
                "recurrences": recurrences[(key, value)],
                "clinics": len(clinics[(key, value)]),
            }
            for rank, (key, value) in enumerate(listed, start=1)
        ],
        "by_key": {
            key: sum(n for (k, _), n in recurrences.items() if k == key) for key in RECURRENCE_KEYS
        },
        "repeat_complainants": len(repeat_customers),
        "repeat_complaints": sum(recurrences[s] for s in customer_slots),
    }


def _open_work(
    complaints: Sequence[Complaint], plans: _Plans, now: datetime
) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for complaint in complaints:
        if complaint.status is Status.CLOSED or complaint.received_at > now:
            continue
        plan = plans.of(complaint)
        if plan is None:
            continue
        for task in plan.tasks:
            if task.completed:
                continue
            cell = cells[(complaint.clinic, task.department.value)]
            cell["open"] += 1
            cell["overdue"] += 0
            if task.due_at < now and task.paused_since is None:
                cell["overdue"] += 1
                cell[f"overdue_{task.kind.value}"] += 1
    return [
        {
            "clinic": clinic,
            "department": department,
            **dict(sorted(cells[(clinic, department)].items())),
        }
        for clinic, department in sorted(cells)
    ]
