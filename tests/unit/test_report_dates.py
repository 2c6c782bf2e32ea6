"""The compliance report's dates are each clinic's: the day and month a complaint belongs to,
and the moment open work is counted, on the clinic's own clock."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from crm_complaints.config import load_settings
from crm_complaints.reporting import ReportOptions, compute_report, render_text
from crm_complaints.reporting.command import deadline_policy
from crm_complaints.reporting.html import render_html
from crm_complaints.schema import Complaint
from tests.conftest import complaint_data

SETTINGS = load_settings(Path(__file__).resolve().parents[2] / "examples" / "config.toml")
NOW = datetime(2026, 2, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-01-31 19:30 in NY


def complaints() -> list[Complaint]:
    # The same instant: 1 February in Tokyo, still 31 January in New York.
    moment = "2026-01-31T23:30:00-05:00"
    return [
        Complaint.model_validate(
            complaint_data(id="NY-1", clinic="new-york-soho", received_at=moment)
        ),
        Complaint.model_validate(
            complaint_data(id="GNZ-1", clinic="tokyo-ginza", received_at=moment)
        ),
    ]


def test_months_and_now_on_each_clinics_clock() -> None:
    options = ReportOptions(date_from=date(2026, 1, 1), date_to=date(2026, 1, 31), now=NOW)
    report = compute_report(complaints(), deadline_policy(SETTINGS), options)
    assert report["totals"]["current"] == 1  # only New York's is in January
    months = {(r["clinic"], r["key"]): r["current"] for r in report["volume"]["month"]}
    assert months == {("new-york-soho", "2026-01"): 1, ("*", "2026-01"): 1}
    assert report["period"]["now_local"] == {
        "new-york-soho": "2026-01-31T19:30:00-05:00",
        "tokyo-ginza": "2026-02-01T09:30:00+09:00",
    }
    text = render_text(report, "en")
    assert "new-york-soho Sat 31 Jan 2026, 19:30 · tokyo-ginza Sun 1 Feb 2026, 09:30" in text
    page = render_html(report, "ja")
    assert "new-york-soho 2026年1月31日(土) 19:30 · tokyo-ginza 2026年2月1日(日) 09:30" in page
