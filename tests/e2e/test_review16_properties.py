"""Hostile review of issue 16, parts 3 and 4: HubSpot properties a clinic reports on, and task
texts in the complaint's language, against the HubSpot emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.state import SqlStateStore
from tests.conftest import make_complaint
from tests.hubspot_support import api
from tests.staff_support import opened_adapter, run

LATIN = re.compile(r"[A-Za-z]")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
TICKET = {"subject": "x", "hs_pipeline": "0", "hs_pipeline_stage": "1"}


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator)


def ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text).timestamp() * 1000))


# -- finding (failing on purpose) ----------------------------------------------------------------


def test_review16_properties_the_emulator_refuses_a_date_that_is_not_midnight_utc(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter
) -> None:
    """A `date` property (HubSpot: "must be set to midnight UTC ... If you try to set a value that
    is not midnight UTC, you will receive an error", developers.hubspot.com/docs/faq/how-should-
    timestamps-be-formatted-for-hubspots-apis): expected 400 for 09:00 UTC; actual: the emulator
    stores any value, so a date property we add later would pass here and fail in HubSpot."""
    created = api(
        emulator,
        "POST",
        "/crm/v3/properties/tickets/batch/create",
        {
            "inputs": [
                {
                    "name": "crm_incident_date",
                    "label": "Incident date",
                    "type": "date",
                    "fieldType": "date",
                    "groupName": "crm_complaints",
                }
            ]
        },
    )
    assert created.status_code == 201, created.text
    answers = {
        value: api(
            emulator,
            "POST",
            "/crm/v3/objects/tickets",
            {"properties": {**TICKET, "crm_incident_date": value}, "associations": []},
        ).status_code
        for value in (
            ms("2026-11-18T00:00:00+00:00"),  # midnight UTC: a date
            ms("2026-11-18T09:00:00+00:00"),  # 09:00 UTC: not a date
            ms("2026-11-18T00:00:00+09:00"),  # midnight in Tokyo is 15:00 UTC the day before
        )
    }
    assert list(answers.values()) == [201, 400, 400], answers


# -- what holds (no other test covers these) -----------------------------------------------------


def test_review16_properties_task_texts_are_in_chinese_or_english_throughout(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Task subjects and bodies of zh-Hans, zh-Hant (also as zh-TW, zh-HK) and en complaints:
    no Latin letter in a Chinese one, no CJK character in an English one (the ja case is
    tests/adapters/test_hubspot_native_properties.py)."""
    languages = {"ZH-S": "zh-Hans", "ZH-T": "zh-Hant", "ZH-TW": "zh-TW", "ZH-HK": "zh-HK"}
    languages["EN"] = "en"
    complaints = [
        make_complaint(
            id=cid,
            language=language,
            category="side_effect",
            risk_flags=["social_media", "bodily_harm"],
        )
        for cid, language in languages.items()
    ]
    assert run(adapter, store, complaints).created == len(complaints)
    bodies: dict[str, set[str]] = {}
    for task in emulator.portal.live("tasks"):
        cid = task.properties["crm_task_key"].rsplit(":", 1)[0]
        subject = task.properties["hs_task_subject"].removeprefix(f"[{cid}] ")
        body = task.properties["hs_task_body"]
        bodies.setdefault(cid, set()).add(body)
        wrong = CJK if cid == "EN" else LATIN
        assert wrong.search(subject + body) is None, (cid, subject, body)
    assert any(b.startswith("术后副作用 · 紧急 · ") for b in bodies["ZH-S"]), bodies["ZH-S"]
    assert bodies["ZH-T"] == bodies["ZH-TW"] == bodies["ZH-HK"]
    assert any(b.startswith("術後副作用 · 緊急 · ") for b in bodies["ZH-T"]), bodies["ZH-T"]


def test_review16_properties_received_at_is_a_datetime_a_report_can_range_over(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """crm_received_at holds the instant in UTC (a Tokyo 08:30 complaint is the day before in
    UTC), and a report's range filter in epoch milliseconds finds exactly the complaints
    received in that window."""
    complaints = [
        make_complaint(id="RCV-1", received_at="2026-11-18T08:30:00+09:00"),
        make_complaint(id="RCV-2", received_at="2026-11-18T23:59:00+09:00"),
        make_complaint(id="RCV-3", received_at="2026-11-19T00:00:00+09:00"),
    ]
    run(adapter, store, complaints)
    held = {
        t.properties["crm_complaint_id"]: t.properties["crm_received_at"]
        for t in emulator.portal.live("tickets")
    }
    assert held["RCV-1"] == "2026-11-17T23:30:00.000Z"
    window = [
        {
            "propertyName": "crm_received_at",
            "operator": "GTE",
            "value": ms("2026-11-18T00:00+09:00"),
        },
        {
            "propertyName": "crm_received_at",
            "operator": "LT",
            "value": ms("2026-11-19T00:00+09:00"),
        },
    ]
    answer = api(
        emulator,
        "POST",
        "/crm/v3/objects/tickets/search",
        {"filterGroups": [{"filters": window}], "properties": ["crm_complaint_id"], "limit": 100},
    )
    assert answer.status_code == 200, answer.text
    found = {r["properties"]["crm_complaint_id"] for r in answer.json()["results"]}
    assert found == {"RCV-1", "RCV-2"}
