"""Issue 14: local date-times. A naive date-time is an error unless csv.local_time is on; then
it is read in the row's clinic's zone (else the default clinic's), across DST changes too."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_complaints.config import ClinicConfig, CsvConfig, Settings
from crm_complaints.readers import ClinicLocales, QuarantineEntry, ReadResult, read_csv
from crm_complaints.schema import Complaint

NEW_YORK = ZoneInfo("America/New_York")
LOCALES = ClinicLocales.from_settings(
    Settings(
        default_clinic=ClinicConfig(time_zone="Asia/Tokyo"),
        clinics={"new-york-soho": ClinicConfig(time_zone="America/New_York", country="US")},
    )
)


def read(rows: list[tuple[str, str]], *, local_time: bool = True) -> list[ReadResult]:
    text = "id,clinic,received_at,summary\n" + "".join(
        f"R-{n},{clinic},{when},ok\n" for n, (clinic, when) in enumerate(rows, start=1)
    )
    config = CsvConfig(local_time=local_time)
    return list(read_csv(io.BytesIO(text.encode()), config, "in.csv", locales=LOCALES))


def received(result: ReadResult) -> datetime:
    assert isinstance(result, Complaint), result
    return result.received_at


@pytest.mark.parametrize(
    "written",
    [
        "2026/11/20 10:15",
        "2026-11-20 10:15",
        "2026-11-20T10:15:00",
        "2026年11月20日 10時15分",
        "２０２６年１１月２０日　１０時１５分",  # full-width, as some Japanese tools write
        "2026年11月20日(金) 午前10時15分",
        "2026/11/20 10:15:00 AM",
        "46346.4270833333",  # an Excel serial date that lost its cell format
    ],
)
def test_common_written_forms_are_read_in_the_clinics_zone(written: str) -> None:
    [tokyo, new_york] = read([("tokyo-ginza", written), ("new-york-soho", written)])
    assert received(tokyo) == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)  # 10:15 JST
    assert received(new_york) == datetime(2026, 11, 20, 15, 15, tzinfo=UTC)  # 10:15 EST


def test_naive_date_time_stays_an_error_by_default() -> None:
    [entry] = read([("tokyo-ginza", "2026/11/20 10:15")], local_time=False)
    assert isinstance(entry, QuarantineEntry) and entry.field == "received_at"
    assert "csv.local_time" in entry.message and "2026/11/20" not in entry.message


def test_an_offset_in_the_cell_wins_over_the_clinics_zone() -> None:
    [result] = read([("new-york-soho", "2026/11/20 10:15 +09:00")])
    assert received(result) == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)


def test_new_york_across_the_dst_changes() -> None:
    # 2026: clocks go forward on 8 March at 02:00 and back on 1 November at 02:00.
    results = read(
        [
            ("new-york-soho", "2026-03-08 01:59"),  # EST, just before
            ("new-york-soho", "2026-03-08 02:30"),  # never happened on a New York clock
            ("new-york-soho", "2026-03-08 03:00"),  # EDT
            ("new-york-soho", "2026-11-01 01:30"),  # happened twice: the first (EDT) is taken
            ("new-york-soho", "2026-11-01 02:30"),  # EST
        ]
    )
    before, skipped, after, twice, later = results
    assert received(before) == datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    assert isinstance(skipped, QuarantineEntry) and skipped.field == "received_at"
    assert "does not exist in America/New_York" in skipped.message
    assert received(after) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    # One real minute apart, and arithmetic says so (a ZoneInfo datetime would say 61 minutes).
    assert (received(after) - received(before)).total_seconds() == 60
    assert received(twice) + timedelta(hours=2) == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert received(twice) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the earlier
    assert received(later) == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert received(before).utcoffset() is not None


def test_a_clinic_the_config_does_not_name_uses_the_default_clinics_zone() -> None:
    [result] = read([("osaka-umeda", "2026/11/20 10:15")])
    assert received(result) == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)


def test_a_bare_date_cannot_be_received_at_but_can_be_occurred_at() -> None:
    text = (
        "id,clinic,received_at,occurred_at,summary\n"
        "D-1,tokyo-ginza,2026年11月20日,2026年11月19日,ok\n"
        "D-2,tokyo-ginza,2026年11月20日 10時15分,2026年11月19日,ok\n"
    )
    config = CsvConfig(local_time=True)
    first, second = read_csv(io.BytesIO(text.encode()), config, "in.csv", locales=LOCALES)
    assert isinstance(first, QuarantineEntry) and first.field == "received_at"
    assert "no time" in first.message
    assert isinstance(second, Complaint) and second.occurred_at is not None
    assert second.occurred_at == datetime(2026, 11, 19, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert second.occurred_at.isoformat() == "2026-11-19T00:00:00+09:00"


@pytest.mark.parametrize("bad", ["2026/13/40 10:15", "2026/11/20 25:00", "明日の朝", "12345678"])
def test_impossible_dates_are_quarantined_without_quoting_them(bad: str) -> None:
    [entry] = read([("tokyo-ginza", bad)])
    assert isinstance(entry, QuarantineEntry) and entry.field == "received_at"
    assert bad not in entry.message
