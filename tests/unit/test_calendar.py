from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from crm_complaints.calendar import BusinessCalendar, OpeningInterval

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)  # type: ignore[misc]


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar()


def test_default_hours_mon_to_sat_with_lunch_break(cal: BusinessCalendar) -> None:
    friday = tokyo(2026, 11, 20, 10, 0)
    assert cal.is_open_at(friday)
    assert not cal.is_open_at(tokyo(2026, 11, 20, 12, 30))  # lunch break
    assert cal.is_open_at(tokyo(2026, 11, 20, 13, 30))
    assert not cal.is_open_at(tokyo(2026, 11, 20, 17, 0))  # closed at 17:00 sharp
    assert cal.is_open_at(tokyo(2026, 11, 21, 9, 0))  # Saturday is open
    assert not cal.is_open_at(tokyo(2026, 11, 22, 9, 0))  # Sunday is closed


def test_closing_time_is_the_end_of_the_last_interval(cal: BusinessCalendar) -> None:
    assert cal.closing_time(date(2026, 11, 20)) == tokyo(2026, 11, 20, 17, 0)
    with pytest.raises(ValueError, match="not a business day"):
        cal.closing_time(date(2026, 11, 22))


def test_japanese_public_holiday_is_skipped(cal: BusinessCalendar) -> None:
    # 2026-11-23 is Labour Thanksgiving Day (Monday); the Sunday before is closed.
    assert not cal.is_business_day(date(2026, 11, 23))
    received_saturday_night = tokyo(2026, 11, 21, 23, 0)
    assert cal.closing_time_after(received_saturday_night, 1) == tokyo(2026, 11, 24, 17, 0)


def test_complaint_at_16_59_and_at_23_00_count_from_the_same_day(cal: BusinessCalendar) -> None:
    at_16_59 = tokyo(2026, 11, 18, 16, 59)
    at_23_00 = tokyo(2026, 11, 18, 23, 0)
    assert cal.closing_time_after(at_16_59, 1) == tokyo(2026, 11, 19, 17, 0)
    assert cal.closing_time_after(at_23_00, 1) == tokyo(2026, 11, 19, 17, 0)
    # 16:59 on a Saturday: next business day skips Sunday and the Monday holiday.
    assert cal.closing_time_after(tokyo(2026, 11, 21, 16, 59), 1) == tokyo(2026, 11, 24, 17, 0)


def test_day_is_the_clinic_local_day_not_the_input_offset(cal: BusinessCalendar) -> None:
    # 15:30 UTC on Wed 18 Nov is 00:30 on Thu 19 Nov in Tokyo.
    utc = datetime(2026, 11, 18, 15, 30, tzinfo=ZoneInfo("UTC"))
    assert cal.closing_time_after(utc, 1) == tokyo(2026, 11, 20, 17, 0)


def test_year_end_without_and_with_annual_closures() -> None:
    plain = BusinessCalendar()
    dec_28 = tokyo(2026, 12, 28, 14, 0)
    assert plain.closing_time_after(dec_28, 1) == tokyo(2026, 12, 29, 17, 0)
    # Jan 1 is a holiday and Jan 3 2027 is a Sunday.
    assert plain.nth_business_day_after(date(2026, 12, 31), 1) == date(2027, 1, 2)
    year_end = BusinessCalendar.from_strings(
        annual_closures=["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]
    )
    assert year_end.closing_time_after(dec_28, 1) == tokyo(2027, 1, 4, 17, 0)
    assert year_end.closing_time_after(dec_28, 3) == tokyo(2027, 1, 6, 17, 0)


def test_extra_closure_dates() -> None:
    cal = BusinessCalendar.from_strings(closures=[date(2026, 11, 19)])
    assert cal.closing_time_after(tokyo(2026, 11, 18, 10, 0), 1) == tokyo(2026, 11, 20, 17, 0)


def test_tenth_business_day_crosses_sundays_and_holidays(cal: BusinessCalendar) -> None:
    # From Mon 2 Nov 2026: Culture Day (3rd) and two Sundays are skipped.
    assert cal.nth_business_day_after(date(2026, 11, 2), 10) == date(2026, 11, 14)


def test_custom_hours_other_zone_and_country() -> None:
    shanghai = BusinessCalendar.from_strings(
        time_zone="Asia/Shanghai",
        country="CN",
        hours={"mon": ["08:00-12:00", "13:30-17:00"], "sat": ["10:30-19:00"]},
    )
    # National Day week: 1-7 October 2026 are holidays in China.
    start = datetime(2026, 9, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert shanghai.closing_time_after(start, 1) == datetime(
        2026, 10, 10, 19, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_daylight_saving_keeps_wall_clock_closing_time() -> None:
    ny = BusinessCalendar.from_strings(
        time_zone="America/New_York", country="US", hours={"fri": ["09:00-18:00"]}
    )
    # Clocks go back on Sunday 1 Nov 2026; both Fridays close at 18:00 local.
    before = ny.closing_time_after(datetime(2026, 10, 26, 9, tzinfo=ZoneInfo("UTC")), 1)
    after = ny.closing_time_after(datetime(2026, 11, 2, 9, tzinfo=ZoneInfo("UTC")), 1)
    assert before.utcoffset() != after.utcoffset()
    assert before.time() == after.time() == time(18, 0)


def test_naive_datetime_is_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.closing_time_after(datetime(2026, 11, 18, 10, 0), 1)


@pytest.mark.parametrize("text", ["8-12", "12:00-08:00", "08:00", "noon-17:00"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        OpeningInterval.parse(text)


def test_calendar_with_no_opening_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BusinessCalendar.from_strings(hours={})


def test_unknown_country_and_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="holiday"):
        BusinessCalendar(country="XX")
    with pytest.raises(KeyError):
        BusinessCalendar(time_zone="Mars/Olympus")
