"""Business calendars: opening hours, public holidays and closures per clinic, and due-date math.

Due dates beyond the first response are counted in the clinic's business days, not calendar
days: "the closing time of the Nth business day after the day received" is the end of the last
opening interval of that day, in the clinic's own time zone. Pure functions of their inputs; no
I/O but the ``holidays`` tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

__all__ = ["DEFAULT_HOURS", "WEEKDAYS", "BusinessCalendar", "OpeningInterval"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, order=True)
class OpeningInterval:
    """One opening interval on a weekday, in local wall-clock time."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> OpeningInterval:
        """Parse ``"08:00-12:00"``; raises ValueError with the text on a bad interval."""
        try:
            start_text, end_text = (p.strip() for p in text.split("-"))
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an interval like 08:00-12:00") from exc
        if end <= start:
            raise ValueError(f"{text!r} ends before it starts")
        return cls(start, end)


# Unless a clinic configures its own hours: a common clinic week in Japan (the default country
# and zone), morning and afternoon sessions with a lunch break, Monday to Saturday, Sunday closed.
_MORNING = OpeningInterval(time(8, 0), time(12, 0))
_AFTERNOON = OpeningInterval(time(13, 30), time(17, 0))
DEFAULT_HOURS: Mapping[str, tuple[OpeningInterval, ...]] = {
    **{day: (_MORNING, _AFTERNOON) for day in WEEKDAYS[:6]},
    "sun": (),
}


@dataclass(frozen=True)
class BusinessCalendar:
    """A clinic's working calendar.

    ``hours`` maps ``mon``..``sun`` to opening intervals (empty = closed that weekday);
    ``country``/``subdivision`` pick the public-holiday table of the ``holidays`` package;
    ``closures`` are extra closed dates and ``annual_closures`` closed month-days every year
    (e.g. ``"12-29"`` .. ``"01-03"`` for the Japanese year-end break).
    """

    time_zone: str = "Asia/Tokyo"
    country: str = "JP"
    subdivision: str | None = None
    hours: Mapping[str, tuple[OpeningInterval, ...]] = field(
        default_factory=lambda: dict(DEFAULT_HOURS)
    )
    closures: frozenset[date] = frozenset()
    annual_closures: frozenset[tuple[int, int]] = frozenset()
    # Memo of (local date, n) → due moment; planning a million complaints asks the same few
    # hundred questions over and over. Not part of equality or the repr.
    _due_memo: dict[tuple[date, int], datetime] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        unknown = set(self.hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        if not any(self.hours.get(day) for day in WEEKDAYS):
            raise ValueError("a calendar needs at least one opening interval in the week")
        ZoneInfo(self.time_zone)  # raises ZoneInfoNotFoundError (a KeyError) on a bad name
        _holiday_table(self.country, self.subdivision)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def intervals_on(self, day: date) -> Sequence[OpeningInterval]:
        """Opening intervals on a date; empty on closed weekdays, holidays and closures."""
        if not self.is_business_day(day):
            return ()
        return sorted(self.hours.get(WEEKDAYS[day.weekday()], ()))

    def is_business_day(self, day: date) -> bool:
        if not self.hours.get(WEEKDAYS[day.weekday()]):
            return False
        if day in self.closures or (day.month, day.day) in self.annual_closures:
            return False
        return day not in _holiday_table(self.country, self.subdivision)

    def local_date(self, moment: datetime) -> date:
        """The clinic-local calendar date of an aware datetime."""
        return moment.astimezone(self.zone).date()

    def nth_business_day_after(self, day: date, n: int) -> date:
        """The Nth business day strictly after ``day`` (n ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        found = 0
        current = day
        # A year without a business day is a broken calendar, not a reason to loop forever.
        for _ in range(366 + 31 * n):
            current += timedelta(days=1)
            if self.is_business_day(current):
                found += 1
                if found == n:
                    return current
        raise ValueError("no business day found within a year: check hours and closures")

    def closing_time(self, day: date) -> datetime:
        """The end of the last opening interval of a business day, aware, in the clinic's zone."""
        intervals = self.intervals_on(day)
        if not intervals:
            raise ValueError(f"{day.isoformat()} is not a business day")
        return datetime.combine(day, intervals[-1].end, tzinfo=self.zone)

    def closing_time_after(self, moment: datetime, n: int) -> datetime:
        """Closing time of the Nth business day after the (clinic-local) day of ``moment``."""
        if moment.tzinfo is None:
            raise ValueError("a naive datetime has no place on a calendar; give it an offset")
        key = (self.local_date(moment), n)
        due = self._due_memo.get(key)
        if due is None:
            due = self.closing_time(self.nth_business_day_after(key[0], n))
            if len(self._due_memo) < 100_000:
                self._due_memo[key] = due
        return due

    def is_open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return any(i.start <= local.time() < i.end for i in self.intervals_on(local.date()))

    @classmethod
    def from_strings(
        cls,
        *,
        time_zone: str = "Asia/Tokyo",
        country: str = "JP",
        subdivision: str | None = None,
        hours: Mapping[str, Iterable[str]] | None = None,
        closures: Iterable[date] = (),
        annual_closures: Iterable[str] = (),
    ) -> BusinessCalendar:
        """Build from config-style strings (``"08:00-12:00"``, ``"12-29"``)."""
        parsed_hours = dict(DEFAULT_HOURS)
        if hours is not None:
            parsed_hours = {day: () for day in WEEKDAYS}
            for day, texts in hours.items():
                parsed_hours[day.lower()[:3]] = tuple(OpeningInterval.parse(t) for t in texts)
        month_days = set()
        for text in annual_closures:
            month, _, day_of_month = text.partition("-")
            try:
                date(2000, int(month), int(day_of_month))  # 2000 is a leap year: 02-29 is fine
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a month-day like 12-29") from exc
            month_days.add((int(month), int(day_of_month)))
        return cls(
            time_zone=time_zone,
            country=country,
            subdivision=subdivision,
            hours=parsed_hours,
            closures=frozenset(closures),
            annual_closures=frozenset(month_days),
        )


@lru_cache(maxsize=64)
def _holiday_table(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """One lazily-filled holiday table per country; years populate on first lookup."""
    try:
        table: holidays.HolidayBase = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise ValueError(f"no public-holiday table for country {country!r}") from exc
    return table
