"""Pause and resume: a complaint waiting on the patient stops the clock of the patient's tasks.

The rule (``policy.pause_statuses``, off by default): a pause runs from the moment the
complaint entered a pause status (``status_changes``) to the moment it entered any other
status. A business-day task (:data:`PAUSABLE`) whose clock was running at the start of a pause
gets its due date moved by the clinic's **opening time** inside the pause: at a clinic open
Monday to Friday 08:00-17:00, a pause from Friday 16:00 to Monday 09:00 costs two hours (Friday
16-17, Monday 8-9), not a weekend, and the two hours are added through opening hours (past the
lunch break, nights, holidays, year-end closures). A pause that starts after the due date moves
nothing: late stays late. While a complaint is still paused its tasks carry ``paused_since`` and
no alert or reminder fires.

Pure functions of the calendar and the complaint (no clock, no I/O), like the rest of the plan.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from .calendar import BusinessCalendar
from .schema import Complaint, Status

__all__ = ["PAUSABLE", "add_opening_time", "opening_time_between", "pause_intervals", "paused_due"]

PAUSABLE = frozenset({"investigation", "resolution_plan", "incident_report", "follow_up"})
"""The business-day tasks: while the patient is to answer, the facts, the plan, the incident
report (which records the outcome) and the satisfaction call all wait. The dual-path reports
and the two-hour first response run on the clock whatever happens."""

Interval = tuple[datetime, datetime | None]
_SEARCH_DAYS = 800


def pause_intervals(complaint: Complaint, statuses: Collection[Status]) -> list[Interval]:
    """(start, end) of each pause, oldest first; ``end`` is ``None`` while still paused."""
    if not statuses or not complaint.status_changes:
        return []
    found: list[Interval] = []
    start: datetime | None = None
    for change in sorted(complaint.status_changes, key=lambda c: c.at):
        if change.status in statuses:
            start = start or change.at
        elif start is not None:
            found.append((start, change.at))
            start = None
    if start is not None:
        found.append((start, None))
    return found


def paused_due(
    calendar: BusinessCalendar,
    due: datetime,
    clock_start: datetime,
    intervals: Sequence[Interval],
) -> tuple[datetime, datetime | None]:
    """(the due date moved by the pauses, when the still-running pause began or ``None``)."""
    for start, end in intervals:
        start = max(start, clock_start)
        if start >= due:
            break
        if end is None:
            return due, start
        if end > start:
            due = add_opening_time(calendar, due, opening_time_between(calendar, start, end))
    return due, None


def opening_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """How much of ``[start, end)`` the clinic is open."""
    total = timedelta()
    if end <= start:
        return total
    if end - start > timedelta(days=_SEARCH_DAYS):  # a typo'd year must not cost minutes
        raise ValueError("a pause longer than two years: check the status changes")
    zone = calendar.zone
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        for interval in calendar.intervals_on(day):
            begin = datetime.combine(day, interval.start, tzinfo=zone)
            finish = datetime.combine(day, interval.end, tzinfo=zone)
            lo, hi = max(begin, start), min(finish, end)
            if hi > lo:
                total += hi.astimezone(UTC) - lo.astimezone(UTC)
        day += timedelta(days=1)
    return total


def add_opening_time(calendar: BusinessCalendar, moment: datetime, amount: timedelta) -> datetime:
    """The moment ``amount`` of opening time after ``moment`` (in the clinic's zone)."""
    zone = calendar.zone
    if amount <= timedelta():
        return moment.astimezone(zone)
    day = moment.astimezone(zone).date()
    for _ in range(_SEARCH_DAYS):
        for interval in calendar.intervals_on(day):
            begin = datetime.combine(day, interval.start, tzinfo=zone)
            finish = datetime.combine(day, interval.end, tzinfo=zone)
            lo = max(begin, moment)
            if finish <= lo:
                continue
            available = finish.astimezone(UTC) - lo.astimezone(UTC)
            if amount <= available:
                return (lo.astimezone(UTC) + amount).astimezone(zone)
            amount -= available
        day += timedelta(days=1)
    raise ValueError("a pause longer than two years of opening time: check the status changes")
