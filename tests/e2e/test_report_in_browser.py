"""The HTML reconciliation report, opened in a real headless Chromium: it renders, the charts
are there, and the browser logs no console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm_complaints.emulator import DEMO_TOKEN, running_emulator
from crm_complaints.policy import Policy
from crm_complaints.reconcile import reconcile
from crm_complaints.report import render_html
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import make_adapter

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, (
        "Chromium is needed for this test: `make test` installs it (apt-get install chromium)"
    )
    return found


@pytest.fixture
def report_file(tmp_path: Path, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    now = datetime.now(UTC)
    complaints = [
        edited(
            c, received_at=(now - timedelta(hours=3 if i % 4 == 0 else 0, minutes=5)).isoformat()
        )
        for i, c in enumerate(realistic_complaints(24, prefix="HTML"))
    ]
    with running_emulator() as emulator:
        adapter = make_adapter(emulator)
        adapter.setup()
        sync(complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait())
        # Staff reassign one ticket: the page must name both owners as people.
        ticket = next(
            t
            for t in emulator.portal.live("tickets")
            if t.properties["crm_complaint_id"] == complaints[1].id
        )
        owner = "104" if ticket.properties.get("hubspot_owner_id") != "104" else "101"
        emulator.portal.update("tickets", ticket.id, {"hubspot_owner_id": owner})
        report = reconcile(complaints, adapter=adapter, store=store, now=now)
    assert report.overdue_by_department
    path = tmp_path / "report.html"
    path.write_text(render_html(report, "ja", time_zone="Asia/Tokyo"), encoding="utf-8")
    return path


def test_report_renders_with_charts_and_no_console_errors(
    report_file: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            report_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert page.count('<svg class="chart"') == 2
    assert page.count('class="late"') >= 2 and page.count('class="open"') >= 2
    assert "期限超過の業務" in page and "医師" in page  # the page's words and labels in Japanese
    assert "Overdue work" not in page and "<h2>Open" not in page
    assert "対応:" in page and "本日中に担当者へ連絡" in page  # what to do, per finding kind
    assert page.count('<g class="legend">') == 2  # open vs overdue on each chart
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:", page) is None  # no raw ISO dates
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\([月火水木金土日]\) \d{2}:\d{2}", page)
    assert len(re.findall(r"<td>[a-z]+@clinic\.example \(10[1-4]\)</td>", page)) == 2  # owners
    console_errors = [
        line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert console_errors == []

    shot = tmp_path / "report.png"
    screenshot = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1400",
            report_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert screenshot.returncode == 0, screenshot.stderr[-2000:]
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
