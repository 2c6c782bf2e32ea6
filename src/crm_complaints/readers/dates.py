"""Date-times as clinics write them, made time-zone aware.

An offset in the cell wins. A date-time without one (``2026/11/20 10:15``,
``2026年11月20日 10時15分``, a spreadsheet's date cell, an Excel serial number) is an error
unless ``csv.local_time`` is on; then it is read in the clinic's time zone. Around a daylight
saving change: a wall time the clock skipped does not exist and is refused; a wall time that
happened twice is taken as the first (earlier) one, so deadlines come out early, never late.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

__all__ = ["NEEDS_TIME", "DateError", "to_aware"]

NEEDS_TIME = frozenset({"received_at", "acknowledged_at"})
"""Fields a bare date can't fill: the 2-hour first response is counted from them."""

_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's 1900 date system, as calamine and Excel count
_LAST_SERIAL = 2958465  # 9999-12-31
_WRITTEN = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号號]?"
    r"\s*(?:\([^)]{1,9}\))?"  # a weekday: (金), (星期五), (Fri)
    r"(?:\s*T?\s*(?P<ap1>午前|午後|上午|下午|am|pm)?\s*(?P<H>\d{1,2})\s*(?:[:時时點点]\s*"
    r"(?P<M>\d{1,2})?\s*分?)(?:\s*:?\s*(?P<S>\d{1,2}(?:\.\d{1,6})?)\s*秒?)?\s*(?P<ap2>am|pm)?)?"
    r"\s*(?P<tz>z|utc|[+-]\d{2}:?\d{2})?$"
)
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
_PM = {"午後", "下午", "pm"}
_AM = {"午前", "上午", "am"}


class DateError(ValueError):
    """A date cell that can't be made aware; the message says what to write, never the cell."""


_FORMS = "like 2026-11-20T10:15:00+09:00, 2026/11/20 10:15 or 2026年11月20日 10時15分"
_NAIVE = (
    "has no time-zone offset; write it like 2026-11-20T10:15:00+09:00, or set "
    "csv.local_time = true to read it in the clinic's time zone"
)


def to_aware(value: object, field: str, zone: ZoneInfo | None, *, local_time: bool) -> datetime:
    """The cell as an aware date-time; ``zone`` is the row's clinic's (used only when
    ``local_time`` is on)."""
    has_time = True
    if isinstance(value, datetime):
        naive = value
        if value.tzinfo is not None:
            return value
    elif isinstance(value, date):
        naive, has_time = datetime.combine(value, time()), False
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        naive = _serial(float(value))
    elif isinstance(value, str):
        parsed = _parse_text(value)
        if isinstance(parsed, tuple):
            naive, has_time = parsed
        elif parsed.tzinfo is not None:
            return parsed
        else:
            naive = parsed
    else:
        raise DateError(f"is not a date and time {_FORMS}")
    if not has_time and field in NEEDS_TIME:
        raise DateError("has a date but no time; the first response is counted from the minute")
    if not local_time or zone is None:
        raise DateError(_NAIVE)
    return _localize(naive, zone)


def _parse_text(text: str) -> datetime | tuple[datetime, bool]:
    cell = unicodedata.normalize("NFKC", text).strip()
    if len(cell) >= 16 and cell[10:11] in ("T", " "):
        try:  # the common case, ISO 8601, at the speed of the standard library
            return datetime.fromisoformat(cell)
        except ValueError:
            pass
    if _SERIAL.match(cell):
        return _serial(float(cell))
    match = _WRITTEN.match(cell.casefold())
    if not match:
        raise DateError(f"is not a date and time {_FORMS}")
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise DateError("is not a real calendar date") from exc
    if match["H"] is None:
        naive = datetime.combine(day, time())
        if match["tz"]:
            raise DateError(f"has an offset but no time; write it {_FORMS}")
        return naive, False
    hour, minute = int(match["H"]), int(match["M"] or 0)
    seconds = float(match["S"] or 0)
    marker = match["ap1"] or match["ap2"]
    if marker in _PM and hour < 12:
        hour += 12
    elif marker in _AM and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or seconds >= 60:
        raise DateError("is not a real time of day")
    naive = datetime.combine(day, time(hour, minute)) + timedelta(seconds=seconds)
    offset = match["tz"]
    if not offset:
        return naive
    if offset in ("z", "utc"):
        return naive.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{naive.isoformat()}{offset[:3]}:{offset[-2:]}")


def _serial(number: float) -> datetime:
    """An Excel serial date (days since 1899-12-30, the fraction is the time of day)."""
    if not 1 <= number <= _LAST_SERIAL:
        raise DateError(f"is a number but not an Excel date; write it {_FORMS}")
    moment = _EXCEL_EPOCH + timedelta(days=number)
    # Excel stores the time as a fraction of a day: round off the float's last microseconds.
    return (moment + timedelta(milliseconds=500)).replace(microsecond=0)


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    aware = naive.replace(tzinfo=zone, fold=0)  # fold=0: the first of a repeated wall time
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise DateError(
            f"is a wall time that does not exist in {zone.key} (the clocks moved forward); "
            "check the time"
        )
    # A fixed offset, as an ISO 8601 cell would give: arithmetic on a ZoneInfo datetime is wall
    # clock arithmetic (01:30 EST + 2 h would be 03:30 EDT, one real hour later).
    offset = aware.utcoffset()
    assert offset is not None
    return aware.astimezone(timezone(offset))
