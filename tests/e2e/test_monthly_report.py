"""``crm-complaints report`` on a generated year of three clinics. The data is built from a few
parameters (monthly counts, acknowledgement delays, investigation delays, recurring products,
lots, practitioners and customers), and the expected numbers are counted from those same
parameters here, not copied from the report's output. The HTML is opened in headless Chromium:
labels and charts are there, no personal data, and the screenshot is not blank."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.config import load_settings
from crm_complaints.policy import Policy, TaskKind
from crm_complaints.schema import Complaint
from tests.e2e.test_report_in_browser import CHROMIUM_FLAGS, chromium

CONFIG = """
[clinics.tokyo-ginza]
time_zone = "Asia/Tokyo"
country = "JP"
language = "ja"
[clinics.shanghai-jingan]
time_zone = "Asia/Shanghai"
country = "CN"
language = "zh-Hans"
[clinics.taipei-daan]
time_zone = "Asia/Taipei"
country = "TW"
language = "zh-Hant"
"""
ZONES = {
    "tokyo-ginza": "Asia/Tokyo",
    "shanghai-jingan": "Asia/Shanghai",
    "taipei-daan": "Asia/Taipei",
}
MONTHS = [(2025, 12)] + [(2026, m) for m in range(1, 12)]  # the report's year
NOW = "2027-01-20T09:00:00+09:00"  # every deadline of the year has passed
CATEGORIES = ["service_attitude", "wait_time", "price_billing", "facility"]
CHANNELS = ["phone", "email", "walk_in"]
NAMES = ["山田 花子", "李 娜", "林 美玲"]


def monthly_count(clinic: str, month_index: int) -> int:
    """The trend: Ginza grows by one a month, Shanghai too from a lower base, Taipei is flat."""
    return {"tokyo-ginza": 10, "shanghai-jingan": 5, "taipei-daan": 3}[clinic] + (
        month_index if clinic != "taipei-daan" else 0
    )


def ack_minutes(clinic: str, i: int) -> int | None:
    """Ginza: every 4th acknowledged after 3 h (all three early tasks late), the next after
    1 h (reports late, first response on time), the rest after 20 min; Shanghai after 10 min,
    every 5th at exactly 30; Taipei never."""
    if clinic == "tokyo-ginza":
        return 180 if i % 4 == 0 else 60 if i % 4 == 1 else 20
    if clinic == "shanghai-jingan":
        return 30 if i % 5 == 0 else 10  # on the minute of the deadline counts as on time
    return None


def investigation_delay_hours(i: int) -> int:
    """Ginza's investigations: even ones done an hour before the deadline, odd ones 1–3
    opening hours after it."""
    return 0 if i % 2 == 0 else 1 + i % 3


def related(clinic: str, month_index: int, i: int) -> dict[str, str]:
    if clinic == "tokyo-ginza" and i == 0:  # every month: 12 complaints, 11 recurrences
        return {"product": "Serum-A", "lot_number": "L-1"}
    if clinic == "tokyo-ginza" and i == 2 and month_index in (0, 1, 8):  # 3 complaints, 1
        return {"treatment": "HIFU"}
    if clinic == "shanghai-jingan" and i == 1 and month_index < 6:  # 6 complaints, 5
        return {"practitioner": "PR-3"}
    if clinic == "taipei-daan" and i == 0 and month_index in (0, 5):  # 150 days apart: none
        return {"lot_number": "L-7"}
    return {}


def customer_id(clinic: str, month_index: int, i: int, serial: int) -> str:
    if clinic == "tokyo-ginza" and i == 3 and month_index < 3:  # 2 recurrences
        return "P-RPT-1"
    if clinic == "shanghai-jingan" and i == 2 and month_index in (3, 4):  # 1 recurrence
        return "P-RPT-2"
    return f"P-{serial:05d}"


def generate(policy: Policy) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    serial = 0
    for clinic, zone_name in ZONES.items():
        zone = ZoneInfo(zone_name)
        calendar = policy.calendar_for(clinic)
        for month_index, (year, month) in enumerate(MONTHS):
            for i in range(monthly_count(clinic, month_index)):
                serial += 1
                received = datetime(year, month, 1 + i, 10, 0, tzinfo=zone)
                record: dict[str, Any] = {
                    "id": f"{clinic[:3].upper()}-{serial:05d}",
                    "clinic": clinic,
                    "received_at": received.isoformat(),
                    "channel": CHANNELS[i % 3],
                    "category": CATEGORIES[i % 4],
                    "summary": f"苦情 {serial}",
                    "description": f"{NAMES[serial % 3]} さんから。電話 090-0000-{serial:04d}",
                    "reporter": {
                        "staff_id": "FD-1",
                        "name": "佐藤 美咲",
                        "department": "front_desk",
                    },
                    "customer": {
                        "external_id": customer_id(clinic, month_index, i, serial),
                        "name": NAMES[serial % 3],
                        "email": f"patient{serial}@example.jp",
                        "phone": f"+81-90-0000-{serial:04d}",
                    },
                }
                if clinic == "tokyo-ginza" and i % 5 == 0:
                    record["risk_flags"] = ["social_media"]
                if found := related(clinic, month_index, i):
                    record["related"] = found
                minutes = ack_minutes(clinic, i)
                if minutes is not None:
                    acknowledged = received + timedelta(minutes=minutes)
                    record["acknowledged_at"] = acknowledged.isoformat()
                    record["status"] = "acknowledged"
                if clinic == "tokyo-ginza":
                    due = policy.plan(Complaint.model_validate(record)).task(TaskKind.INVESTIGATION)
                    assert due is not None
                    delay = investigation_delay_hours(i)
                    if delay == 0:
                        done = due.due_at - timedelta(hours=1)
                    else:  # the clinic opens at 08:00 on the next business day
                        day = calendar.nth_business_day_after(due.due_at.date(), 1)
                        done = datetime.combine(day, time(8), tzinfo=zone) + timedelta(hours=delay)
                    record["status"] = "coordinating"
                    record["status_changes"] = [
                        {"status": "acknowledged", "at": record["acknowledged_at"]},
                        {"status": "coordinating", "at": done.isoformat()},
                    ]
                records.append(record)
    for i in range(5):  # the previous period: five closed Ginza complaints in June 2025
        serial += 1
        received = datetime(2025, 6, 2 + i, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
        records.append(
            {
                "id": f"OLD-{i}",
                "clinic": "tokyo-ginza",
                "received_at": received.isoformat(),
                "channel": "letter",
                "category": "other",
                "summary": "過去の苦情",
                "status": "closed",
                "closed_at": (received + timedelta(days=20)).isoformat(),
                "customer": {"external_id": f"P-OLD-{i}", "name": "古川 一郎"},
            }
        )
    return records


def expected_deadlines() -> dict[tuple[str, str], tuple[int, int]]:
    """(clinic, task) → (on time, late), from the parameters."""
    counts: dict[tuple[str, str], list[int]] = {}

    def count(clinic: str, task: str, on_time: bool) -> None:
        cell = counts.setdefault((clinic, task), [0, 0])
        cell[0 if on_time else 1] += 1

    for clinic in ZONES:
        for month_index in range(12):
            for i in range(monthly_count(clinic, month_index)):
                minutes = ack_minutes(clinic, i)
                for task, limit in (
                    ("report_supervisor", 30),
                    ("report_executive", 30),
                    ("initial_response", 120),
                ):
                    count(clinic, task, minutes is not None and minutes <= limit)
                count(
                    clinic,
                    "investigation",
                    clinic == "tokyo-ginza" and investigation_delay_hours(i) == 0,
                )
                count(clinic, "resolution_plan", False)  # never done, long due
                count(clinic, "incident_report", False)
    return {key: (cell[0], cell[1]) for key, cell in counts.items()}


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("year")
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    policy = Policy.from_settings(load_settings(config))
    records = generate(policy)
    source = folder / "complaints.jsonl"
    source.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    outputs: dict[str, Any] = {"records": records, "folder": folder}
    runner = CliRunner()
    for fmt, language in (("json", "en"), ("csv", "en"), ("text", "ja"), ("html", "ja")):
        out = folder / f"report.{fmt}"
        result = runner.invoke(
            app,
            [
                "report",
                "--source", str(source),
                "--config", str(config),
                "--from", "2025-12-01",
                "--to", "2026-11-30",
                "--now", NOW,
                "--format", fmt,
                "--language", language,
                "--output", str(out),
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs[fmt] = out.read_text(encoding="utf-8")
    outputs["report"] = json.loads(outputs["json"])
    return outputs


def test_totals_and_monthly_trend(year: dict[str, Any]) -> None:
    report = year["report"]
    total = sum(monthly_count(c, m) for c in ZONES for m in range(12))
    assert report["totals"] == {"current": total, "previous": 5}
    months = {(r["clinic"], r["key"]): r["current"] for r in report["volume"]["month"]}
    for clinic in ZONES:
        for m, (y, month) in enumerate(MONTHS):
            assert months[(clinic, f"{y}-{month:02d}")] == monthly_count(clinic, m)
    assert months[("tokyo-ginza", "2026-11")] - months[("tokyo-ginza", "2025-12")] == 11


def test_mix_against_the_previous_period(year: dict[str, Any]) -> None:
    volume = year["report"]["volume"]
    want_category: Counter[str] = Counter()
    want_channel: Counter[str] = Counter()
    flags = 0
    for clinic in ZONES:
        for m in range(12):
            for i in range(monthly_count(clinic, m)):
                want_category[CATEGORIES[i % 4]] += 1
                want_channel[CHANNELS[i % 3]] += 1
                flags += clinic == "tokyo-ginza" and i % 5 == 0
    category = {
        r["key"]: (r["current"], r["previous"]) for r in volume["category"] if r["clinic"] == "*"
    }
    assert category == {**{k: (n, 0) for k, n in want_category.items()}, "other": (0, 5)}
    channel = {
        r["key"]: (r["current"], r["previous"]) for r in volume["channel"] if r["clinic"] == "*"
    }
    assert channel == {**{k: (n, 0) for k, n in want_channel.items()}, "letter": (0, 5)}
    flag_rows = {r["key"]: r["current"] for r in volume["risk_flag"] if r["clinic"] == "*"}
    assert flag_rows == {"social_media": flags}


def test_deadlines_kept_per_clinic_and_task(year: dict[str, Any]) -> None:
    got: dict[tuple[str, str], list[int]] = {}
    for row in year["report"]["deadlines"]:
        cell = got.setdefault((row["clinic"], row["task"]), [0, 0])
        cell[0] += row["on_time"]
        cell[1] += row["late"]
        assert row["open"] == 0 and row["undated"] == 0
    assert {k: tuple(v) for k, v in got.items()} == expected_deadlines()
    by_department = {
        (r["clinic"], r["department"], r["task"]): r for r in year["report"]["deadlines"]
    }
    ginza = sum(monthly_count("tokyo-ginza", m) for m in range(12))
    late_reports = sum(
        1 for m in range(12) for i in range(monthly_count("tokyo-ginza", m)) if i % 4 in (0, 1)
    )
    executive = by_department[("tokyo-ginza", "management", "report_executive")]
    assert executive["on_time_share"] == round((ginza - late_reports) / ginza, 4)
    assert (
        by_department[("shanghai-jingan", "front_desk", "report_supervisor")]["on_time_share"] == 1
    )
    assert by_department[("taipei-daan", "management", "report_executive")]["on_time_share"] == 0


def test_investigation_delay_in_business_hours(year: dict[str, Any]) -> None:
    delays = [
        investigation_delay_hours(i)
        for m in range(12)
        for i in range(monthly_count("tokyo-ginza", m))
    ]
    rows = [
        r
        for r in year["report"]["deadlines"]
        if r["clinic"] == "tokyo-ginza" and r["task"] == "investigation"
    ]
    assert len(rows) == 1  # front desk leads every category of this data set
    assert rows[0]["delay_business_hours_median"] == nearest_rank(delays, 50)
    assert rows[0]["delay_business_hours_p90"] == nearest_rank(delays, 90)
    assert nearest_rank(delays, 90) == 3 and nearest_rank(delays, 50) == 0


def test_recurrence_ranked_and_customers_only_counted(year: dict[str, Any]) -> None:
    recurrence = year["report"]["recurrence"]
    assert [
        (i["rank"], i["key"], i["value"], i["complaints"], i["recurrences"])
        for i in recurrence["items"]
    ] == [
        (1, "lot_number", "L-1", 12, 11),
        (2, "product", "Serum-A", 12, 11),
        (3, "practitioner", "PR-3", 6, 5),
        (4, "treatment", "HIFU", 3, 1),
    ]
    assert recurrence["repeat_complainants"] == 2
    assert recurrence["repeat_complaints"] == 3
    assert recurrence["by_key"]["customer"] == 3


def test_open_work_without_a_crm(year: dict[str, Any]) -> None:
    totals: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    for row in year["report"]["open_work"]:
        totals[row["clinic"]] += row["open"]
        overdue[row["clinic"]] += row["overdue"]
    per_complaint = {"tokyo-ginza": 2, "shanghai-jingan": 3, "taipei-daan": 6}
    want = {c: per_complaint[c] * sum(monthly_count(c, m) for m in range(12)) for c in ZONES}
    assert dict(totals) == want and dict(overdue) == want


def test_csv_carries_the_json_numbers(year: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(year["csv"])))
    report = year["report"]
    assert {"current": report["totals"]["current"]} == {
        r["metric"]: int(r["value"])
        for r in rows
        if r["section"] == "totals" and r["metric"] == "current"
    }
    for item in report["recurrence"]["items"]:
        match = [
            r
            for r in rows
            if r["section"] == "recurrence"
            and r["key"] == item["value"]
            and r["metric"] == "recurrences"
        ]
        assert [int(r["value"]) for r in match] == [item["recurrences"]]
    for row in report["deadlines"]:
        match = [
            r
            for r in rows
            if r["section"] == "deadlines"
            and (r["clinic"], r["group"], r["key"])
            == (row["clinic"], row["department"], row["task"])
            and r["metric"] == "on_time"
        ]
        assert [int(r["value"]) for r in match] == [row["on_time"]]


def personal_data(records: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for record in records:
        customer = record.get("customer", {})
        found.update(v for k, v in customer.items() if k != "external_id")
        found.add(customer["external_id"])
        found.update(v for k, v in record.get("reporter", {}).items() if k == "name")
        if record.get("description"):
            found.add(record["description"])
    return found


def test_no_personal_data_in_any_output(year: dict[str, Any]) -> None:
    secrets = personal_data(year["records"])
    assert "山田 花子" in secrets and "P-RPT-1" in secrets
    for fmt in ("json", "csv", "text", "html"):
        leaked = sorted(s for s in secrets if s in year[fmt])
        assert leaked == [], f"{fmt} shows {leaked[:3]}"


def test_html_in_chromium_labels_charts_and_a_screenshot(year: dict[str, Any]) -> None:
    folder: Path = year["folder"]
    page = folder / "report.html"
    assert "<script" not in year["html"] and "http" not in year["html"].replace(
        "http://www.w3.org", ""
    )
    dom = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={folder / 'p1'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for words in ("期限遵守", "再発", "月別件数", "部門別の期限内対応率", "受付", "接遇・態度"):
        assert words in html, words
    for chart in ('class="chart trend"', 'class="chart stacked"', 'class="chart share"'):
        assert chart in html
    assert html.count("<polyline") == 3 and html.count('class="bar"') > 12
    shot = folder / "report.png"
    taken = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={folder / 'p2'}",
            f"--screenshot={shot}",
            "--window-size=1000,1400",
            "--hide-scrollbars",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text and charts, not a blank page
    if os.environ.get("CRM_COMPLAINTS_UPDATE_DOCS"):  # refreshes the README's screenshot
        docs = Path(__file__).resolve().parents[2] / "docs" / "report.png"
        docs.parent.mkdir(exist_ok=True)
        docs.write_bytes(shot.read_bytes())
