"""The reconcile page for a clinic manager: owners by name, dates in the clinic's zone in a
human format, the page's words in the chosen language, a "what to do" line per finding kind."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from rich.console import Console

from crm_complaints.reconcile import Finding, FindingKind, ReconcileReport
from crm_complaints.report import render_html, render_text


def drifted_report() -> ReconcileReport:
    report = ReconcileReport(
        adapter="hubspot",
        started_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
        now=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
    )
    report.findings = [
        Finding(
            FindingKind.DRIFTED, "GNZ-1", "owner differs", field="owner", ours="104", theirs="103"
        ),
        Finding(
            FindingKind.DRIFTED,
            "GNZ-2",
            "due date of investigation differs",
            field="task_due:investigation",
            ours="2026-11-26T08:00:00+00:00",
            theirs="2026-11-27T08:00:00+00:00",
        ),
    ]
    return report


def test_owners_by_name_and_dates_in_the_clinic_zone() -> None:
    page = render_html(
        drifted_report(),
        "ja",
        time_zone="Asia/Tokyo",
        owners={"104": "dr.sato@chain.example", "103": "desk.ginza@chain.example"},
    )
    assert "dr.sato@chain.example (104)" in page and "desk.ginza@chain.example (103)" in page
    assert "2026年11月26日(木) 17:00" in page  # 08:00 UTC is 17:00 in Tokyo
    assert "2026-11-26T08:00" not in page
    assert "CRMで変更された項目" in page and "reconcile.ignore_fields" in page


def test_page_words_follow_the_language() -> None:
    page = render_html(drifted_report(), "zh-Hant", time_zone="Asia/Taipei")
    assert "CRM 核對報告" in page and "處理方法" in page and "Drifted fields" not in page
    assert "2026年11月26日(星期四) 16:00" in page
    english = render_html(drifted_report(), "en", time_zone="America/New_York")
    assert "What to do" in english and "Thu 26 Nov 2026, 03:00" in english


def test_every_finding_kind_has_a_title_and_what_to_do_in_every_language() -> None:
    """A finding kind added to reconcile without the page's words would crash the page."""
    report = ReconcileReport(
        adapter="hubspot",
        started_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
        now=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
    )
    report.findings = [Finding(kind, f"GNZ-{i}", "detail") for i, kind in enumerate(FindingKind)]
    for language in ("en", "ja", "zh-Hans", "zh-Hant"):
        page = render_html(report, language, time_zone="Asia/Tokyo")
        assert page.count('<p class="todo">') == len(FindingKind)
        assert all(f'<section id="{kind.value}">' in page for kind in FindingKind)


def test_dates_in_each_clinics_own_zone_on_a_page_for_several_clinics() -> None:
    """A plan's date keeps its clinic's zone (and says which when it is not the page's); a
    date read from the CRM in UTC shows in the page's zone."""
    report = drifted_report()
    report.findings = [
        Finding(
            FindingKind.DRIFTED,
            "NYC-1",
            "due date of investigation differs",
            field="task_due:investigation",
            ours="2026-11-26T17:00:00-05:00",  # as reconcile writes it: the plan's zone
            theirs="2026-11-27T17:00:00-05:00",
        ),
        Finding(
            FindingKind.STATUS_MOVED,
            "NYC-2",
            "closed in the CRM",
            due_at=datetime(2026, 12, 4, 18, 0, tzinfo=ZoneInfo("America/New_York")),
        ),
        Finding(
            FindingKind.OVERDUE,
            "GNZ-3",
            "initial_response overdue",
            due_at=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),  # read from the CRM
        ),
    ]
    page = render_html(report, "en", time_zone="Asia/Tokyo")
    assert "Thu 26 Nov 2026, 17:00 (UTC-05:00)" in page
    assert "Fri 4 Dec 2026, 18:00 (America/New_York)" in page
    assert "Wed 25 Nov 2026, 12:00<" in page  # 03:00 UTC in Tokyo, no zone named


def test_text_report_names_owners_from_the_reports_labels() -> None:
    report = drifted_report()
    report.owner_labels = {"104": "dr.sato@chain.example", "103": "desk.ginza@chain.example"}
    console = Console(record=True, width=200, file=io.StringIO())
    render_text(report, console)
    text = console.export_text()
    assert "dr.sato@chain.example (104)" in text and "desk.ginza@chain.example (103)" in text
    page = render_html(report, "en", time_zone="Asia/Tokyo")  # the page reads them too
    assert "dr.sato@chain.example (104)" in page
